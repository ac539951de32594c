//! Short-lived caches of slow-changing reads (CLB VIPs, the listener quota, how many listeners
//! others hold), so that every reconcile does not cost a DescribeLoadBalancers and a
//! DescribeQuota against the per-account rate limits the writes need.
use std::collections::HashMap;

use dac_provider_api::{ProviderError, Result, reason};
use dac_provider_support::ttl_cache::TtlCache;
use dac_tencentcloud::ClbApi;
use dac_tencentcloud::models::clb;

use crate::errors::{self, Stage};

/// What the cloud documents as the default when DescribeQuota does not say.
const DEFAULT_LISTENER_QUOTA: u32 = 50;
/// Load balancer ids per DescribeLoadBalancers call.
const MAX_DESCRIBE_LB_IDS: usize = 20;

/// What the provider needs to know about a CLB instance.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct LoadBalancerInfo {
    /// The first VIP: the address the bindings' `IP:port` uses. `None` while the cloud has not
    /// assigned one yet.
    pub vip: Option<String>,
}

/// The caches one provider shares with its workers. Keys are (region, load balancer id), or
/// the region for the quota (the listener quota is per instance but the same for all of them).
#[derive(Debug)]
pub(crate) struct Caches {
    pub load_balancers: TtlCache<(String, String), LoadBalancerInfo>,
    pub listener_quota: TtlCache<String, u32>,
    /// Listeners on an instance that are not this cluster's: the part of the quota we cannot use.
    pub foreign_listeners: TtlCache<(String, String), u32>,
}

impl Caches {
    pub fn new(config: &crate::ClbProviderConfig) -> Self {
        Self {
            load_balancers: TtlCache::new(config.load_balancer_cache_ttl()),
            listener_quota: TtlCache::new(config.quota_cache_ttl()),
            foreign_listeners: TtlCache::new(config.listener_count_cache_ttl()),
        }
    }
}

/// The CLB instances `ids` of `region`, from the cache or DescribeLoadBalancers (one call per
/// 20 that are not cached). An id the cloud does not know is the user's to fix.
pub(crate) async fn load_balancers(
    api: &dyn ClbApi,
    caches: &Caches,
    region: &str,
    ids: &[String],
) -> Result<HashMap<String, LoadBalancerInfo>> {
    let mut found = HashMap::new();
    let mut missing = Vec::new();
    for id in ids {
        match caches.load_balancers.get(&(region.to_string(), id.clone())) {
            Some(info) => {
                found.insert(id.clone(), info);
            }
            None if !missing.contains(id) => missing.push(id.clone()),
            None => {}
        }
    }
    for chunk in missing.chunks(MAX_DESCRIBE_LB_IDS) {
        let req = clb::DescribeLoadBalancersRequest {
            load_balancer_ids: Some(chunk.to_vec()),
            limit: Some(100),
            ..Default::default()
        };
        let resp = api
            .describe_load_balancers(region, &req)
            .await
            .map_err(|e| errors::map(&e, Stage::Read, &chunk.join(",")))?;
        for lb in resp.load_balancer_set {
            let Some(id) = lb.load_balancer_id else {
                continue;
            };
            let info = LoadBalancerInfo {
                vip: lb.load_balancer_vips.into_iter().next(),
            };
            caches
                .load_balancers
                .insert((region.to_string(), id.clone()), info.clone());
            found.insert(id, info);
        }
    }
    let absent: Vec<&str> = ids
        .iter()
        .filter(|id| !found.contains_key(*id))
        .map(String::as_str)
        .collect();
    if !absent.is_empty() {
        return Err(ProviderError::user_fixable(
            reason::LOAD_BALANCER_NOT_FOUND,
            format!(
                "CLB {} does not exist in region {region}",
                absent.join(", ")
            ),
        ));
    }
    Ok(found)
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
