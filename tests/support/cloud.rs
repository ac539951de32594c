//! Reads what the cloud emulator holds, through our own client, so end-to-end tests assert on
//! the cloud's state and not only on the controller's statuses.
use dac_tencentcloud::models::clb::{DescribeListenersRequest, DescribeTargetsRequest};
use dac_tencentcloud::{Client, Credentials, CredentialsProvider};
use serde::Deserialize;
use std::collections::BTreeMap;

/// One CLB listener and where it forwards.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct CloudListener {
    pub lb_id: String,
    pub listener_id: String,
    pub port: u16,
    pub protocol: String,
    pub name: String,
    /// `ip:port` of each target.
    pub targets: Vec<String>,
}

pub fn client(endpoint: &str) -> Client {
    Client::builder()
        .credentials(CredentialsProvider::fixed(Credentials::new(
            "AKIDEMULATOR",
            "emulator-secret-key",
        )))
        .endpoint_all(endpoint.to_string())
        .build()
        .expect("a client for the emulator")
}

/// Every listener on the given CLBs, with its targets.
pub async fn listeners(
    client: &Client,
    region: &str,
    lb_ids: &[&str],
) -> Result<Vec<CloudListener>, String> {
    let mut all = Vec::new();
    for lb_id in lb_ids {
        let request = DescribeListenersRequest {
            load_balancer_id: lb_id.to_string(),
            ..Default::default()
        };
        let listeners = client
            .describe_listeners(region, &request)
            .await
            .map_err(|e| e.to_string())?
            .listeners;
        let mut targets: BTreeMap<String, Vec<String>> = BTreeMap::new();
        let ids: Vec<String> = listeners
            .iter()
            .filter_map(|l| l.listener_id.clone())
            .collect();
        for chunk in ids.chunks(20) {
            let request = DescribeTargetsRequest {
                load_balancer_id: lb_id.to_string(),
                listener_ids: Some(chunk.to_vec()),
                ..Default::default()
            };
            for backend in client
                .describe_targets(region, &request)
                .await
                .map_err(|e| e.to_string())?
                .listeners
            {
                let found = backend
                    .targets
                    .iter()
                    .flat_map(|t| {
                        t.private_ip_addresses
                            .iter()
                            .map(move |ip| format!("{ip}:{}", t.port.unwrap_or_default()))
                    })
                    .collect();
                targets.insert(backend.listener_id.unwrap_or_default(), found);
            }
        }
        for listener in listeners {
            let listener_id = listener.listener_id.unwrap_or_default();
            all.push(CloudListener {
                lb_id: lb_id.to_string(),
                port: listener.port.unwrap_or_default() as u16,
                protocol: listener.protocol.unwrap_or_default(),
                name: listener.listener_name.unwrap_or_default(),
                targets: targets.remove(&listener_id).unwrap_or_default(),
                listener_id,
            });
        }
    }
    Ok(all)
}

/// One DNAT rule: `protocol public_ip:port -> private_ip:port`, and its description.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord)]
pub struct DnatRule {
    pub protocol: String,
    pub public: String,
    pub private: String,
    pub description: String,
}

/// Every DNAT rule on a NAT gateway.
pub async fn dnat_rules(
    client: &Client,
    region: &str,
    gateway: &str,
) -> Result<Vec<DnatRule>, String> {
    use dac_tencentcloud::models::vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest as Describe;
    every_page(|offset| async move {
        let request = Describe {
            nat_gateway_ids: Some(vec![gateway.to_string()]),
            offset: Some(offset),
            limit: Some(PAGE as i64),
            ..Default::default()
        };
        let page = client
            .describe_nat_gateway_destination_ip_port_translation_nat_rules(region, &request)
            .await
            .map_err(|e| e.to_string())?
            .nat_gateway_destination_ip_port_translation_nat_rule_set;
        Ok(page
            .into_iter()
            .map(|r| DnatRule {
                protocol: r.ip_protocol.unwrap_or_default(),
                public: format!(
                    "{}:{}",
                    r.public_ip_address.unwrap_or_default(),
                    r.public_port.unwrap_or_default()
                ),
                private: format!(
                    "{}:{}",
                    r.private_ip_address.unwrap_or_default(),
                    r.private_port.unwrap_or_default()
                ),
                description: r.description.unwrap_or_default(),
            })
            .collect())
    })
    .await
}

/// One EIP: `(ip, status, private IP it is bound to)`.
pub async fn eips(
    client: &Client,
    region: &str,
) -> Result<Vec<(String, String, Option<String>)>, String> {
    use dac_tencentcloud::models::vpc::DescribeAddressesRequest;
    every_page(|offset| async move {
        let request = DescribeAddressesRequest {
            offset: Some(offset),
            limit: Some(PAGE as i64),
            ..Default::default()
        };
        let page = client
            .describe_addresses(region, &request)
            .await
            .map_err(|e| e.to_string())?
            .address_set;
        Ok(page
            .into_iter()
            .map(|a| {
                (
                    a.address_ip.unwrap_or_default(),
                    a.address_status.unwrap_or_default(),
                    a.private_address_ip,
                )
            })
            .collect())
    })
    .await
}

/// The largest page the describe actions return.
const PAGE: usize = 100;

/// Every item of a describe action that pages by offset, a page of [`PAGE`] at a time.
async fn every_page<T, F, Fut>(mut page: F) -> Result<Vec<T>, String>
where
    F: FnMut(i64) -> Fut,
    Fut: std::future::Future<Output = Result<Vec<T>, String>>,
{
    let mut all = Vec::new();
    loop {
        let items = page(all.len() as i64).await?;
        let last = items.len() < PAGE;
        all.extend(items);
        if last {
            return Ok(all);
        }
    }
}

/// How many EIPs were allocated today (`DAILY_EIP_APPLY`).
pub async fn eips_allocated_today(client: &Client, region: &str) -> Result<i64, String> {
    use dac_tencentcloud::models::vpc::DescribeAddressQuotaRequest;
    let quotas = client
        .describe_address_quota(region, &DescribeAddressQuotaRequest {})
        .await
        .map_err(|e| e.to_string())?;
    quotas
        .quota_set
        .iter()
        .find(|q| q.quota_id.as_deref() == Some("DAILY_EIP_APPLY"))
        .and_then(|q| q.quota_current)
        .ok_or_else(|| "no DAILY_EIP_APPLY quota".to_string())
}

/// Deletes a CLB with its listeners, as someone in the console would, and waits for it to go.
pub async fn delete_load_balancer(client: &Client, region: &str, lb_id: &str) {
    use dac_tencentcloud::models::clb::DeleteLoadBalancerRequest;
    let request = DeleteLoadBalancerRequest {
        load_balancer_ids: vec![lb_id.to_string()],
        force_delete: Some(true),
    };
    let deleted = client
        .delete_load_balancer(region, &request)
        .await
        .expect("delete a CLB by hand");
    let deadline = tokio::time::Instant::now() + std::time::Duration::from_secs(10);
    client
        .wait_clb_task(region, &deleted.request_id, deadline)
        .await
        .expect("the deletion finishes");
}

/// A CLB as the official Python SDK reads it (`tests/sdk/load_balancers.py`), so that a
/// test's check does not go through our own client.
#[derive(Clone, Debug, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct SdkLoadBalancer {
    pub load_balancer_id: String,
    pub vips: Vec<String>,
    pub domain: String,
    pub listeners: Vec<SdkListener>,
}

#[derive(Clone, Debug, Deserialize, PartialEq, Eq)]
#[serde(rename_all = "camelCase")]
pub struct SdkListener {
    pub listener_id: String,
    pub name: String,
    pub port: u16,
    pub protocol: String,
    /// `ip:port` of each target.
    pub targets: Vec<String>,
}

/// The CLBs `lb_ids` of `region` and their listeners, read from the emulator at `endpoint`
/// through the official Tencent Cloud Python SDK (`$SDK_PYTHON`, the venv of hack/venv.sh).
pub async fn sdk_load_balancers(
    endpoint: &str,
    region: &str,
    lb_ids: &[&str],
) -> Result<Vec<SdkLoadBalancer>, String> {
    let python = super::frameworks::env_path(
        "SDK_PYTHON",
        "a Python with tencentcloud-sdk-python (hack/venv.sh's venv/bin/python)",
    );
    let script = super::controller::repo_path("tests/sdk/load_balancers.py");
    let output = tokio::process::Command::new(&python)
        .arg(&script)
        .args(["--endpoint", endpoint, "--region", region])
        .args(lb_ids)
        .output()
        .await
        .map_err(|e| format!("run {}: {e}", python.display()))?;
    if !output.status.success() {
        return Err(format!(
            "{} failed: {}",
            script.display(),
            String::from_utf8_lossy(&output.stderr)
        ));
    }
    serde_json::from_slice(&output.stdout).map_err(|e| {
        format!(
            "{e}: {}",
            String::from_utf8_lossy(&output.stdout)
                .chars()
                .take(500)
                .collect::<String>()
        )
    })
}

/// Every listener of the given CLBs as the official SDK reads them, flat, as JSON objects with
/// `loadbalancerId`, `listenerId`, `protocol`, `port`, `name` and `targets`.
pub async fn sdk_listeners(
    endpoint: &str,
    region: &str,
    lb_ids: &[&str],
) -> Vec<serde_json::Value> {
    let load_balancers = sdk_load_balancers(endpoint, region, lb_ids)
        .await
        .expect("the official SDK reads the CLBs");
    load_balancers
        .into_iter()
        .flat_map(|lb| {
            lb.listeners.into_iter().map(move |l| {
                serde_json::json!({
                    "loadbalancerId": lb.load_balancer_id, "listenerId": l.listener_id,
                    "protocol": l.protocol, "port": l.port, "name": l.name, "targets": l.targets,
                })
            })
        })
        .collect()
}
