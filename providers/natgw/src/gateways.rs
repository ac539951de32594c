//! The reads: NAT gateways (state and EIPs, cached) and a gateway's DNAT rules (paged).
use std::collections::HashMap;

use dac_provider_api::Result;
use dac_provider_support::ttl_cache::TtlCache;
use dac_tencentcloud::models::vpc;

use crate::config::NatgwProviderConfig;
use crate::errors::{self, Stage};
use crate::marker;
use crate::rule::RuleView;
use crate::stats::CountingVpc;

/// Gateway ids per DescribeNatGateways call (tccli: "每次请求的实例上限为100").
const MAX_GATEWAY_IDS: usize = 100;
/// The largest page of DescribeNatGatewayDestinationIpPortTranslationNatRules.
const RULES_PAGE: i64 = 100;

/// What the provider needs to know about a gateway.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct GatewayInfo {
    /// `AVAILABLE` when usable.
    pub state: String,
    /// Its EIPs' addresses, in the cloud's order.
    pub eips: Vec<String>,
}

impl GatewayInfo {
    pub fn is_available(&self) -> bool {
        self.state == "AVAILABLE"
    }
}

/// Keys are (region, gateway id).
pub(crate) type GatewayKey = (String, String);

/// The caches one provider shares with its workers.
#[derive(Debug)]
pub(crate) struct Caches {
    pub gateways: TtlCache<GatewayKey, GatewayInfo>,
    /// Rules on a gateway that are not this cluster's: the part of the rule limit we cannot use.
    pub foreign_rules: TtlCache<GatewayKey, u32>,
}

impl Caches {
    pub fn new(config: &NatgwProviderConfig) -> Self {
        Self {
            gateways: TtlCache::new(config.gateway_cache_ttl()),
            foreign_rules: TtlCache::new(config.rule_count_cache_ttl()),
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
            caches
                .gateways
                .insert((region.to_string(), id.clone()), info.clone());
            found.insert(id, info);
        }
    }
    Ok(found)
}

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

impl Rules {
    /// Rules that are not this cluster's.
    pub fn foreign(&self, cluster: &str) -> u32 {
        let ours = self
            .rules
            .iter()
            .filter(|r| marker::parse(cluster, &r.description).is_ours())
            .count();
        u32::try_from(self.total.saturating_sub(ours)).unwrap_or(u32::MAX)
    }
}

/// All rules of `gateway`, page by page; refreshes the foreign-rule count on the way, since it
/// is free here.
pub(crate) async fn rules(
    api: &CountingVpc,
    caches: &Caches,
    cluster: &str,
    region: &str,
    gateway: &str,
) -> Result<Rules> {
    let mut out = Rules::default();
    let mut offset = 0;
    loop {
        let req = vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest {
            nat_gateway_ids: Some(vec![gateway.to_string()]),
            offset: Some(offset),
            limit: Some(RULES_PAGE),
            ..Default::default()
        };
        let resp = api
            .describe_rules(region, &req)
            .await
            .map_err(|e| errors::map(&e, Stage::Read, gateway))?;
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
    caches.foreign_rules.insert(
        (region.to_string(), gateway.to_string()),
        out.foreign(cluster),
    );
    Ok(out)
}

/// Rules on `gateway` that are not ours, from the cache or a describe.
pub(crate) async fn foreign_rules(
    api: &CountingVpc,
    caches: &Caches,
    cluster: &str,
    region: &str,
    gateway: &str,
) -> Result<u32> {
    let key = (region.to_string(), gateway.to_string());
    if let Some(count) = caches.foreign_rules.get(&key) {
        return Ok(count);
    }
    Ok(rules(api, caches, cluster, region, gateway)
        .await?
        .foreign(cluster))
}
