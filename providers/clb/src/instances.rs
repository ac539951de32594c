//! CLB instances the provider creates for a port pool that ran short (`autoCreate`), deletes
//! when the pool goes, and finds again by their tags.
//!
//! Creating is made safe to repeat twice over: the request's `ClientToken` (the cloud answers a
//! repeated token with the first instance), and a tag carrying the same token, so that a create
//! whose answer was lost, or a controller restarted meanwhile, finds its instance rather than
//! making a second one.
use std::collections::BTreeMap;
use std::time::Duration;

use dac_provider_api::{FrontendRequest, ProviderError, Result};
use dac_tencentcloud::ClbApi;
use dac_tencentcloud::models::Filter;
use dac_tencentcloud::models::clb;
use serde_json::Value;
use tokio::time::Instant;

use crate::errors::{self, Stage};
use crate::provider::ClbProvider;

/// The tag that carries a creation's client token.
pub const TOKEN_TAG: &str = "dac-create-token";
/// How often a new instance is looked at until it runs (creating one takes about 10 s).
const POLL: Duration = Duration::from_millis(500);
/// How long one call waits for a new instance to run; the caller asks again after that.
const CREATE_DEADLINE: Duration = Duration::from_secs(60);

impl ClbProvider {
    /// [`dac_provider_api::AddressProvider::create_frontend`] for CLBs.
    pub(crate) async fn create_instance(&self, request: &FrontendRequest) -> Result<String> {
        let region = self.region(request.region.as_deref()).to_string();
        let token = request.client_token.as_str();
        let mut tags = request.tags.clone();
        tags.insert(TOKEN_TAG.to_string(), token.to_string());
        let token_tag = BTreeMap::from([(TOKEN_TAG.to_string(), token.to_string())]);
        let id = match self
            .instances_tagged(&region, &token_tag)
            .await?
            .into_iter()
            .next()
        {
            Some((id, _, _)) => id,
            None => {
                let create = create_request(&request.parameters, &tags, token)?;
                let created = self
                    .api
                    .create_load_balancer(&region, &create)
                    .await
                    .map_err(|e| {
                        errors::map(
                            &e,
                            Stage::Create {
                                custom_settings: true,
                            },
                            "-",
                        )
                    })?;
                match created.load_balancer_ids.into_iter().next() {
                    Some(id) => id,
                    // Some answers carry only the deal; the tag finds the instance.
                    None => return Err(ProviderError::retryable("the new CLB has no id yet")),
                }
            }
        };
        let deadline = Instant::now() + CREATE_DEADLINE;
        loop {
            let running = self
                .instances_tagged(&region, &token_tag)
                .await?
                .into_iter()
                .any(|(found, status, _)| found == id && status == Some(1));
            if running {
                return Ok(id);
            }
            if Instant::now() >= deadline {
                return Err(ProviderError::retryable(format!(
                    "CLB {id} is still being created"
                )));
            }
            tokio::time::sleep(POLL).await;
        }
    }

    /// [`dac_provider_api::AddressProvider::delete_frontend`] for CLBs: only one with no
    /// listener left (ours are gone by then; someone else's keep it).
    pub(crate) async fn delete_instance(&self, region: Option<&str>, id: &str) -> Result<()> {
        let region = self.region(region).to_string();
        let listeners = clb::DescribeListenersRequest {
            load_balancer_id: id.to_string(),
            ..Default::default()
        };
        match self.api.describe_listeners(&region, &listeners).await {
            Ok(found) if !found.listeners.is_empty() => {
                return Err(ProviderError::user_fixable(
                    "LoadBalancerInUse",
                    format!(
                        "CLB {id} still has {} listener(s) this controller did not leave; delete them to let it go",
                        found.listeners.len()
                    ),
                ));
            }
            Ok(_) => {}
            Err(err) => match errors::map(&err, Stage::Read, id) {
                gone if gone.reason() == dac_provider_api::reason::LOAD_BALANCER_NOT_FOUND => {
                    return Ok(());
                }
                other => return Err(other),
            },
        }
        let request = clb::DeleteLoadBalancerRequest {
            load_balancer_ids: vec![id.to_string()],
            force_delete: None,
        };
        match self.api.delete_load_balancer(&region, &request).await {
            Ok(_) => Ok(()),
            Err(err) => match errors::map(&err, Stage::Delete, id) {
                gone if gone.reason() == dac_provider_api::reason::LOAD_BALANCER_NOT_FOUND => {
                    Ok(())
                }
                other => Err(other),
            },
        }
    }

    /// The instances of `region` carrying every one of `tags`, with their `Status`.
    pub(crate) async fn instances_tagged(
        &self,
        region: &str,
        tags: &BTreeMap<String, String>,
    ) -> Result<Vec<(String, Option<i64>, BTreeMap<String, String>)>> {
        let filters: Vec<Filter> = tags
            .iter()
            .map(|(key, value)| Filter {
                name: format!("tag:{key}"),
                values: vec![value.clone()],
            })
            .collect();
        let mut found = Vec::new();
        let mut offset = 0;
        loop {
            let request = clb::DescribeLoadBalancersRequest {
                filters: Some(filters.clone()),
                offset: Some(offset),
                limit: Some(100),
                ..Default::default()
            };
            let page = self
                .api
                .describe_load_balancers(region, &request)
                .await
                .map_err(|e| errors::map(&e, Stage::Read, "-"))?;
            let count = page.load_balancer_set.len() as i64;
            found.extend(page.load_balancer_set.into_iter().filter_map(|lb| {
                let tags = lb
                    .tags
                    .iter()
                    .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                    .collect();
                Some((lb.load_balancer_id?, lb.status, tags))
            }));
            offset += count;
            if count < 100 || page.total_count.is_some_and(|total| offset >= total) {
                return Ok(found);
            }
        }
    }
}

/// CreateLoadBalancer from a port pool's `autoCreate.parameters` (camelCase, as the CRD writes
/// them) with the defaults tke-extend-network-controller documents: an OPEN instance, traffic
/// passed to targets (but for IPv6), bandwidth-package billing for a single-ISP VIP.
fn create_request(
    parameters: &Value,
    tags: &BTreeMap<String, String>,
    token: &str,
) -> Result<clb::CreateLoadBalancerRequest> {
    let mut fields = pascal_case(parameters);
    // The one field the API requires; upstream's default is OPEN.
    if let Value::Object(map) = &mut fields {
        map.entry("LoadBalancerType")
            .or_insert_with(|| Value::from("OPEN"));
    }
    let mut request: clb::CreateLoadBalancerRequest =
        serde_json::from_value(fields).map_err(|e| {
            ProviderError::user_fixable(
                "InvalidParameters",
                format!("autoCreate.parameters cannot be sent to CreateLoadBalancer: {e}"),
            )
        })?;
    let ipv6 = request
        .address_ip_version
        .as_deref()
        .is_some_and(|v| v.to_ascii_lowercase().starts_with("ipv6"));
    if request.load_balancer_pass_to_target.is_none() && !ipv6 {
        request.load_balancer_pass_to_target = Some(true);
    }
    if request.vip_isp.is_some() {
        let accessible = request
            .internet_accessible
            .get_or_insert_with(Default::default);
        accessible.internet_charge_type = Some("BANDWIDTH_PACKAGE".to_string());
    }
    let mut all_tags = request.tags.take().unwrap_or_default();
    for (key, value) in tags {
        all_tags.retain(|t| &t.tag_key != key);
        all_tags.push(clb::TagInfo {
            tag_key: key.clone(),
            tag_value: value.clone(),
        });
    }
    request.tags = Some(all_tags);
    request.number = Some(1);
    request.client_token = Some(token.to_string());
    Ok(request)
}

/// camelCase keys to the API's PascalCase, at every level (`lbChargeType` is `LBChargeType`).
fn pascal_case(value: &Value) -> Value {
    match value {
        Value::Object(map) => Value::Object(
            map.iter()
                .map(|(key, value)| {
                    let key = match key.as_str() {
                        "lbChargeType" => "LBChargeType".to_string(),
                        other => {
                            let mut chars = other.chars();
                            chars
                                .next()
                                .map(|first| {
                                    first.to_ascii_uppercase().to_string() + chars.as_str()
                                })
                                .unwrap_or_default()
                        }
                    };
                    (key, pascal_case(value))
                })
                .collect(),
        ),
        Value::Array(items) => Value::Array(items.iter().map(pascal_case).collect()),
        Value::Null => Value::Object(Default::default()),
        other => other.clone(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn pool_parameters_become_a_create_request_with_upstreams_defaults() {
        let parameters = json!({
            "vipIsp": "CTCC", "bandwidthPackageId": "bwp-40ykow69",
            "lbChargeType": "POSTPAID_BY_HOUR",
            "internetAccessible": {"internetMaxBandwidthOut": 100, "bandwidthpkgSubType": "SINGLEISP"},
            "tags": [{"tagKey": "team", "tagValue": "games"}],
        });
        let tags = BTreeMap::from([("dac-clbportpool".to_string(), "pool-ctcc".to_string())]);
        let request = create_request(&parameters, &tags, "tok-1").unwrap();
        assert_eq!(request.load_balancer_type, "OPEN");
        assert_eq!(request.vip_isp.as_deref(), Some("CTCC"));
        assert_eq!(
            request.bandwidth_package_id.as_deref(),
            Some("bwp-40ykow69")
        );
        assert_eq!(request.lb_charge_type.as_deref(), Some("POSTPAID_BY_HOUR"));
        let accessible = request.internet_accessible.unwrap();
        assert_eq!(
            accessible.internet_charge_type.as_deref(),
            Some("BANDWIDTH_PACKAGE")
        );
        assert_eq!(accessible.internet_max_bandwidth_out, Some(100));
        assert_eq!(
            accessible.bandwidthpkg_sub_type.as_deref(),
            Some("SINGLEISP")
        );
        assert_eq!(request.load_balancer_pass_to_target, Some(true));
        assert_eq!(request.client_token.as_deref(), Some("tok-1"));
        assert_eq!(request.number, Some(1));
        let tags: Vec<(String, String)> = request
            .tags
            .unwrap()
            .into_iter()
            .map(|t| (t.tag_key, t.tag_value))
            .collect();
        assert!(tags.contains(&("team".into(), "games".into())));
        assert!(tags.contains(&("dac-clbportpool".into(), "pool-ctcc".into())));
    }

    #[test]
    fn ipv6_instances_do_not_pass_to_targets_by_default() {
        let request = create_request(
            &json!({"addressIPVersion": "IPv6FullChain", "loadBalancerType": "INTERNAL"}),
            &BTreeMap::new(),
            "t",
        )
        .unwrap();
        assert_eq!(request.address_ip_version.as_deref(), Some("IPv6FullChain"));
        assert_eq!(request.load_balancer_type, "INTERNAL");
        assert_eq!(request.load_balancer_pass_to_target, None);
        assert!(create_request(&Value::Null, &BTreeMap::new(), "t").is_ok());
    }
}
