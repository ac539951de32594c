//! The reads: NAT gateways (state and EIPs, cached) and a gateway's DNAT rules (paged).
//!
//! Only a gateway that exists and is AVAILABLE is cached: one the cloud does not list, or that
//! is busy (`UPDATING`) or broken, is asked about again at every read, because the controller
//! confirms that a gateway is gone by two reads some seconds apart and a busy one soon is not.
use std::collections::HashMap;
use std::sync::Arc;

use dac_provider_api::Result;
use dac_provider_support::ttl_cache::TtlCache;
use dac_tencentcloud::models::vpc;

use crate::config::NatgwProviderConfig;
use crate::errors::{self, Stage};
use crate::rule::RuleView;
use crate::stats::CountingVpc;

/// Gateway ids per DescribeNatGateways call (tccli: "每次请求的实例上限为100").
const MAX_GATEWAY_IDS: usize = 100;
/// The largest page of DescribeNatGatewayDestinationIpPortTranslationNatRules.
const RULES_PAGE: i64 = 100;

/// What the provider needs to know about a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GatewayInfo {
    /// `AVAILABLE` when usable; `UPDATING` for a while during changes (transient), `PENDING`
    /// while it is created, `DELETING`, `PENDFAILURE`, `DELETEFAILURE`, `DENIED` otherwise
    /// (tccli `api.json`, `NatGateway.State`).
    pub state: String,
    /// Its EIPs' addresses, in the cloud's order.
    pub eips: Vec<String>,
}

impl GatewayInfo {
    pub fn is_available(&self) -> bool {
        self.state == "AVAILABLE"
    }

    /// A state it leaves by itself soon.
    pub fn is_transient(&self) -> bool {
        is_transient(&self.state)
    }
}

/// Keys are (region, gateway id).
pub(crate) type GatewayKey = (String, String);

/// The caches one provider shares with its workers.
#[derive(Debug)]
pub(crate) struct Caches {
    pub gateways: TtlCache<GatewayKey, GatewayInfo>,
    /// A gateway's rules as last described: capacity and the slots others hold are read from
    /// them.
    pub rules: TtlCache<GatewayKey, Arc<Rules>>,
}

impl Caches {
    pub fn new(config: &NatgwProviderConfig) -> Self {
        Self {
            gateways: TtlCache::new(config.gateway_cache_ttl()),
            rules: TtlCache::new(config.rule_count_cache_ttl()),
        }
    }
}

/// The gateways `ids` of `region` that exist, from the cache or DescribeNatGateways. Missing
/// ones are simply absent from the answer; callers decide what that means.
pub(crate) async fn lookup(
    api: &CountingVpc,
    caches: &Caches,
    region: &str,
    ids: &[String],
) -> Result<HashMap<String, GatewayInfo>> {
    let mut found = HashMap::new();
    let mut missing: Vec<String> = Vec::new();
    for id in ids {
        match caches.gateways.get(&(region.to_string(), id.clone())) {
            Some(info) => {
                found.insert(id.clone(), info);
            }
            None if !missing.contains(id) => missing.push(id.clone()),
            None => {}
        }
    }
    for chunk in missing.chunks(MAX_GATEWAY_IDS) {
        let set = match describe(api, region, chunk).await {
            Ok(set) => set,
            // Should one unknown id fail the whole list (the emulator, and as far as documented
            // the cloud, just leave it out), ask for each id alone: the missing one is then
            // simply not found, the others are.
            Err(err) if errors::is_gateway_not_found(&err) => {
                let mut set = Vec::new();
                for id in chunk.iter().filter(|_| chunk.len() > 1) {
                    match describe(api, region, std::slice::from_ref(id)).await {
                        Ok(one) => set.extend(one),
                        Err(err) if errors::is_gateway_not_found(&err) => {}
                        Err(err) => return Err(errors::map(&err, Stage::Read, id)),
                    }
                }
                set
            }
            Err(err) => return Err(errors::map(&err, Stage::Read, &chunk.join(","))),
        };
        for g in set {
            let Some(id) = g.nat_gateway_id else { continue };
            let info = GatewayInfo {
                state: g.state.unwrap_or_default(),
                eips: g
                    .public_ip_address_set
                    .into_iter()
                    .filter_map(|a| a.public_ip_address)
                    .collect(),
            };
            if info.is_available() {
                caches
                    .gateways
                    .insert((region.to_string(), id.clone()), info.clone());
            }
            found.insert(id, info);
        }
    }
    Ok(found)
}

/// Reads the gateway (uncached) until it has left a transient state such as the `UPDATING` a
/// DNAT write leaves behind, for at most `at_most`: the next write would be answered
/// `NatGatewayIsBusy` and retried, costing a write where this costs reads. An unreadable
/// gateway ends the wait; the write then finds out.
pub(crate) async fn wait_while_transient(
    api: &CountingVpc,
    region: &str,
    id: &str,
    at_most: std::time::Duration,
) {
    let deadline = tokio::time::Instant::now() + at_most;
    loop {
        let transient = match describe(api, region, &[id.to_string()]).await {
            Ok(set) => set
                .first()
                .and_then(|g| g.state.as_deref())
                .is_some_and(is_transient),
            Err(_) => false,
        };
        if !transient || tokio::time::Instant::now() >= deadline {
            return;
        }
        tokio::time::sleep(SETTLE_POLL).await;
    }
}

fn is_transient(state: &str) -> bool {
    matches!(state, "UPDATING" | "PENDING")
}

/// How often [`wait_while_transient`] reads the gateway.
const SETTLE_POLL: std::time::Duration = std::time::Duration::from_millis(50);

async fn describe(
    api: &CountingVpc,
    region: &str,
    ids: &[String],
) -> dac_tencentcloud::Result<Vec<vpc::NatGateway>> {
    let req = vpc::DescribeNatGatewaysRequest {
        nat_gateway_ids: Some(ids.to_vec()),
        limit: Some(MAX_GATEWAY_IDS as i64),
        ..Default::default()
    };
    Ok(api.describe_gateways(region, &req).await?.nat_gateway_set)
}

/// Every DNAT rule of a gateway.
#[derive(Clone, Debug, Default)]
pub(crate) struct Rules {
    /// The rules this provider understands (TCP/UDP with a valid port).
    pub rules: Vec<RuleView>,
    /// All rules on the gateway, understood or not: what counts against the limit.
    pub total: usize,
}

/// All rules of `gateway`, page by page; refreshes the cache of them on the way.
pub(crate) async fn rules(
    api: &CountingVpc,
    caches: &Caches,
    region: &str,
    gateway: &str,
) -> Result<Arc<Rules>> {
    describe_rules(api, caches, region, gateway)
        .await
        .map_err(|e| errors::map(&e, Stage::Read, gateway))
}

/// The same, with the client's error as it is (so that a caller can tell what it is about).
pub(crate) async fn describe_rules(
    api: &CountingVpc,
    caches: &Caches,
    region: &str,
    gateway: &str,
) -> dac_tencentcloud::Result<Arc<Rules>> {
    let mut out = Rules::default();
    let mut offset = 0;
    loop {
        let req = vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest {
            nat_gateway_ids: Some(vec![gateway.to_string()]),
            offset: Some(offset),
            limit: Some(RULES_PAGE),
            ..Default::default()
        };
        let resp = api.describe_rules(region, &req).await?;
        let set = resp.nat_gateway_destination_ip_port_translation_nat_rule_set;
        let page = set.len() as i64;
        // NatGatewayIds narrows the answer to one gateway; the per-rule id is checked anyway
        // because counting another gateway's rules would shrink this one's capacity.
        for r in set
            .iter()
            .filter(|r| r.nat_gateway_id.as_deref().is_none_or(|id| id == gateway))
        {
            out.total += 1;
            out.rules.extend(RuleView::from_model(r));
        }
        offset += page;
        if page < RULES_PAGE || resp.total_count.is_some_and(|total| offset >= total) {
            break;
        }
    }
    let out = Arc::new(out);
    caches
        .rules
        .insert((region.to_string(), gateway.to_string()), Arc::clone(&out));
    Ok(out)
}

/// A gateway's rules, from the cache or a describe.
pub(crate) async fn cached_rules(
    api: &CountingVpc,
    caches: &Caches,
    region: &str,
    gateway: &str,
) -> dac_tencentcloud::Result<Arc<Rules>> {
    let key = (region.to_string(), gateway.to_string());
    if let Some(rules) = caches.rules.get(&key) {
        return Ok(rules);
    }
    describe_rules(api, caches, region, gateway).await
}
