//! Short-lived caches of slow-changing reads (CLB addresses and tags, the listener quota, the
//! listeners of an instance), so that every reconcile does not cost a DescribeLoadBalancers and
//! a DescribeQuota against the per-account rate limits the writes need.
//!
//! Only what exists is cached: a CLB the cloud does not list is asked about again at every
//! read, because the controller confirms that a CLB is gone by two reads some seconds apart.
use std::collections::{BTreeMap, HashMap};
use std::sync::Arc;

use dac_provider_api::Result;
use dac_provider_support::ttl_cache::TtlCache;
use dac_tencentcloud::models::clb;
use dac_tencentcloud::{ClbApi, Error};

use crate::errors::{self, Stage};
use crate::queue::plan::ListenerView;

/// What the cloud documents as the default when DescribeQuota does not say.
const DEFAULT_LISTENER_QUOTA: u32 = 50;
/// Load balancer ids per DescribeLoadBalancers call.
const MAX_DESCRIBE_LB_IDS: usize = 20;

/// What the provider needs to know about a CLB instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoadBalancerInfo {
    /// The host part of the bindings' addresses (`host:port`): see [`address_host`]. `None`
    /// while the cloud has not assigned one yet.
    pub host: Option<String>,
    /// `Status`: 0 while the instance is being created, 1 once it runs.
    pub status: Option<i64>,
    /// Its cloud tags (`TagKey` -> `TagValue`).
    pub tags: BTreeMap<String, String>,
    /// Its name and addresses, for statuses (a port pool's `ips` / `hostname`).
    pub display: dac_provider_api::FrontendDisplay,
}

impl LoadBalancerInfo {
    pub fn from_model(lb: &clb::LoadBalancer) -> Self {
        Self {
            host: address_host(lb),
            status: lb.status,
            tags: lb
                .tags
                .iter()
                .map(|t| (t.tag_key.clone(), t.tag_value.clone()))
                .collect(),
            display: display(lb),
        }
    }

    /// Whether new listeners can be made on it.
    pub fn is_running(&self) -> bool {
        self.status.is_none_or(|s| s == 1)
    }
}

/// The host clients reach the instance at, as our address annotation writes it before
/// `:port`: its domain for a domain-based CLB (its VIPs may change behind the name), its IPv6
/// address in brackets for an IPv6 CLB (`[2001:db8::1]`, as in a URL, so that `host:port`
/// splits at the last colon unambiguously), else its first VIP.
pub(crate) fn address_host(lb: &clb::LoadBalancer) -> Option<String> {
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    if let Some(domain) = non_empty(&lb.load_balancer_domain).or_else(|| non_empty(&lb.domain)) {
        return Some(domain);
    }
    let ipv6 = lb.address_ip_version.as_deref().is_some_and(|v| {
        let v = v.to_ascii_lowercase();
        v == "ipv6" || v == "ipv6fullchain"
    });
    if let Some(v6) = non_empty(&lb.address_ipv6)
        && (ipv6 || v6.contains(':'))
    {
        return Some(format!(
            "[{}]",
            v6.trim_start_matches('[').trim_end_matches(']')
        ));
    }
    lb.load_balancer_vips
        .iter()
        .find(|vip| !vip.is_empty())
        .map(|vip| {
            if vip.contains(':') {
                format!("[{vip}]")
            } else {
                vip.clone()
            }
        })
}

/// What the port pool API shows of a CLB: its domain for a domain-based one (no `ips`, as
/// upstream), else its VIPs (the IPv6 address for an IPv6 CLB).
fn display(lb: &clb::LoadBalancer) -> dac_provider_api::FrontendDisplay {
    let non_empty = |s: &Option<String>| s.clone().filter(|s| !s.trim().is_empty());
    let hostname = non_empty(&lb.load_balancer_domain).or_else(|| non_empty(&lb.domain));
    let ips = if hostname.is_some() {
        Vec::new()
    } else if let Some(v6) = non_empty(&lb.address_ipv6) {
        vec![v6]
    } else {
        lb.load_balancer_vips
            .iter()
            .filter(|vip| !vip.is_empty())
            .cloned()
            .collect()
    };
    dac_provider_api::FrontendDisplay {
        name: non_empty(&lb.load_balancer_name),
        ips,
        hostname,
        ip_version: non_empty(&lb.address_ip_version),
    }
}

/// Keys are (region, load balancer id).
pub(crate) type LbKey = (String, String);

/// The caches one provider shares with its workers. Keys are (region, load balancer id), or
/// the region for the quota (the listener quota is per instance but the same for all of them).
#[derive(Debug)]
pub(crate) struct Caches {
    pub load_balancers: TtlCache<LbKey, LoadBalancerInfo>,
    pub listener_quota: TtlCache<String, u32>,
    /// The listeners of an instance, as the last DescribeListeners showed them: capacity and
    /// the slots others hold are read from it. Rounds refresh it for free.
    pub listeners: TtlCache<LbKey, Arc<Vec<ListenerView>>>,
}

impl Caches {
    pub fn new(config: &crate::ClbProviderConfig) -> Self {
        Self {
            load_balancers: TtlCache::new(config.load_balancer_cache_ttl()),
            listener_quota: TtlCache::new(config.quota_cache_ttl()),
            listeners: TtlCache::new(config.listener_count_cache_ttl()),
        }
    }

    /// Forgets everything about an instance the cloud says is gone.
    pub fn forget(&self, region: &str, lb_id: &str) {
        let key = (region.to_string(), lb_id.to_string());
        self.load_balancers.remove(&key);
        self.listeners.remove(&key);
    }
}

/// What DescribeLoadBalancers said about some ids.
#[derive(Debug, Default)]
pub(crate) struct Lookup {
    pub found: HashMap<String, LoadBalancerInfo>,
    /// Ids the cloud did not list: they do not exist in the region.
    pub absent: Vec<String>,
}

/// The CLB instances `ids` of `region`, from the cache or DescribeLoadBalancers (one call per
/// 20 that are not cached). `Err` only when the cloud could not be asked at all.
pub(crate) async fn load_balancers(
    api: &dyn ClbApi,
    caches: &Caches,
    region: &str,
    ids: &[String],
) -> Result<Lookup> {
    let mut lookup = Lookup::default();
    let mut missing = Vec::new();
    for id in ids {
        match caches.load_balancers.get(&(region.to_string(), id.clone())) {
            Some(info) => {
                lookup.found.insert(id.clone(), info);
            }
            None if !missing.contains(id) => missing.push(id.clone()),
            None => {}
        }
    }
    for chunk in missing.chunks(MAX_DESCRIBE_LB_IDS) {
        let set = match describe(api, region, chunk).await {
            Ok(set) => set,
            // One malformed id may refuse the whole call: ask for each alone, so that the
            // others are still found and only that one is missing.
            Err(err) if chunk.len() > 1 && errors::about_the_request(&err) => {
                let mut set = Vec::new();
                for id in chunk {
                    match describe(api, region, std::slice::from_ref(id)).await {
                        Ok(one) => set.extend(one),
                        Err(err) if errors::about_the_request(&err) => {}
                        Err(err) => return Err(errors::map(&err, Stage::Read, id)),
                    }
                }
                set
            }
            Err(err) if errors::about_the_request(&err) => Vec::new(),
            Err(err) => return Err(errors::map(&err, Stage::Read, &chunk.join(","))),
        };
        for lb in &set {
            let Some(id) = lb.load_balancer_id.clone() else {
                continue;
            };
            let info = LoadBalancerInfo::from_model(lb);
            caches
                .load_balancers
                .insert((region.to_string(), id.clone()), info.clone());
            lookup.found.insert(id, info);
        }
    }
    for id in ids {
        if !lookup.found.contains_key(id) && !lookup.absent.contains(id) {
            lookup.absent.push(id.clone());
        }
    }
    Ok(lookup)
}

async fn describe(
    api: &dyn ClbApi,
    region: &str,
    ids: &[String],
) -> std::result::Result<Vec<clb::LoadBalancer>, Error> {
    let req = clb::DescribeLoadBalancersRequest {
        load_balancer_ids: Some(ids.to_vec()),
        limit: Some(100),
        ..Default::default()
    };
    Ok(api
        .describe_load_balancers(region, &req)
        .await?
        .load_balancer_set)
}

/// Listeners allowed per CLB in `region`: the configured override, else DescribeQuota's
/// `TOTAL_LISTENER_QUOTA` (cached).
pub(crate) async fn listener_quota(
    api: &dyn ClbApi,
    caches: &Caches,
    configured: Option<u32>,
    region: &str,
) -> Result<u32> {
    if let Some(quota) = configured {
        return Ok(quota);
    }
    if let Some(quota) = caches.listener_quota.get(&region.to_string()) {
        return Ok(quota);
    }
    let resp = api
        .describe_quota(region, &clb::DescribeQuotaRequest {})
        .await
        .map_err(|e| errors::map(&e, Stage::Read, "-"))?;
    let quota = resp
        .quota_set
        .iter()
        .find(|q| q.quota_id.as_deref() == Some("TOTAL_LISTENER_QUOTA"))
        .and_then(|q| q.quota_limit)
        .and_then(|limit| u32::try_from(limit).ok())
        .unwrap_or(DEFAULT_LISTENER_QUOTA);
    caches.listener_quota.insert(region.to_string(), quota);
    Ok(quota)
}

/// The listeners of an instance, from the cache or DescribeListeners (which refreshes it).
pub(crate) async fn listeners(
    api: &dyn ClbApi,
    caches: &Caches,
    region: &str,
    lb_id: &str,
) -> std::result::Result<Arc<Vec<ListenerView>>, Error> {
    let key = (region.to_string(), lb_id.to_string());
    if let Some(listeners) = caches.listeners.get(&key) {
        return Ok(listeners);
    }
    describe_listeners(api, caches, region, lb_id).await
}

/// DescribeListeners of an instance, always asked; the answer refreshes the cache.
pub(crate) async fn describe_listeners(
    api: &dyn ClbApi,
    caches: &Caches,
    region: &str,
    lb_id: &str,
) -> std::result::Result<Arc<Vec<ListenerView>>, Error> {
    let req = clb::DescribeListenersRequest {
        load_balancer_id: lb_id.to_string(),
        ..Default::default()
    };
    let resp = api.describe_listeners(region, &req).await?;
    let listeners: Arc<Vec<ListenerView>> = Arc::new(
        resp.listeners
            .iter()
            .filter_map(ListenerView::from_model)
            .collect(),
    );
    caches.listeners.insert(
        (region.to_string(), lb_id.to_string()),
        Arc::clone(&listeners),
    );
    Ok(listeners)
}

#[cfg(test)]
mod tests {
    use super::*;

    fn lb() -> clb::LoadBalancer {
        clb::LoadBalancer {
            load_balancer_id: Some("lb-1".into()),
            load_balancer_vips: vec!["203.0.113.1".into()],
            address_ip_version: Some("ipv4".into()),
            ..Default::default()
        }
    }

    #[test]
    fn the_address_host_prefers_the_domain_then_ipv6_then_the_vip() {
        assert_eq!(address_host(&lb()).as_deref(), Some("203.0.113.1"));
        let domain = clb::LoadBalancer {
            load_balancer_domain: Some("lb-1-abc.clb.ap-guangzhou.tencentclb.com".into()),
            ..lb()
        };
        assert_eq!(
            address_host(&domain).as_deref(),
            Some("lb-1-abc.clb.ap-guangzhou.tencentclb.com")
        );
        // The deprecated `Domain` when `LoadBalancerDomain` is empty.
        let old = clb::LoadBalancer {
            load_balancer_domain: Some(String::new()),
            domain: Some("old.example".into()),
            ..lb()
        };
        assert_eq!(address_host(&old).as_deref(), Some("old.example"));
        let v6 = clb::LoadBalancer {
            load_balancer_vips: Vec::new(),
            address_ip_version: Some("IPv6FullChain".into()),
            address_ipv6: Some("2001:db8::1".into()),
            ..lb()
        };
        assert_eq!(address_host(&v6).as_deref(), Some("[2001:db8::1]"));
        // An IPv6 VIP in LoadBalancerVips is bracketed too.
        let v6_vip = clb::LoadBalancer {
            load_balancer_vips: vec!["2001:db8::2".into()],
            ..lb()
        };
        assert_eq!(address_host(&v6_vip).as_deref(), Some("[2001:db8::2]"));
        let none = clb::LoadBalancer {
            load_balancer_vips: Vec::new(),
            ..lb()
        };
        assert_eq!(address_host(&none), None);
    }
}
