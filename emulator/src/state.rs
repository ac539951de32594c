//! The emulated cloud: everything that `GET /_emulator/state` shows and the state file keeps.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};

use crate::clb::instances::free_vip;
use crate::clb::{LoadBalancer, TagInfo};
use crate::config::EmulatorConfig;
use crate::eip::{self, Address, AddressStatus, DailyCount};
use crate::eni::NetworkInterface;
use crate::idempotency::Tokens;
use crate::natgw::NatGateway;
use crate::tasks::Tasks;

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct CloudState {
    pub regions: BTreeMap<String, RegionState>,
    pub tasks: Tasks,
}

#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase", default)]
pub struct RegionState {
    pub load_balancers: BTreeMap<String, LoadBalancer>,
    pub nat_gateways: BTreeMap<String, NatGateway>,
    pub addresses: BTreeMap<String, Address>,
    pub network_interfaces: BTreeMap<String, NetworkInterface>,
    pub eip_allocations: DailyCount,
    /// Answers of calls made with a `ClientToken`.
    #[serde(default)]
    pub client_tokens: Tokens,
    /// How many EIP status conflicts were answered (which of the listed codes comes next).
    #[serde(default)]
    pub status_conflicts: u64,
    /// When instances were deleted (DeleteLoadBalancer's frequency check), newest last.
    #[serde(default)]
    pub load_balancer_deletions_ms: Vec<i64>,
}

impl CloudState {
    /// The cloud as the config describes it, with no listeners, rules or spare EIPs yet.
    pub fn seed(config: &EmulatorConfig, now_ms: i64) -> Self {
        let mut state = Self::default();
        for rc in &config.regions {
            let mut region = RegionState::default();
            for seed in &rc.load_balancers {
                let vpc = rc.vpcs.iter().find(|v| v.id == seed.vpc_id);
                // Domain and IPv6 CLBs list no VIP (see `clb::instances::load_balancer_view`).
                let addressed = seed.domain.is_some() || seed.ipv6.is_some();
                let vip = seed.vip.or_else(|| {
                    let used = region
                        .load_balancers
                        .values()
                        .flat_map(|lb: &LoadBalancer| lb.load_balancer_vips.iter());
                    free_vip(seed.lb_type, vpc, used).filter(|_| !addressed)
                });
                let lb = LoadBalancer {
                    load_balancer_id: seed.id.clone(),
                    load_balancer_name: seed.name.clone().unwrap_or_else(|| seed.id.clone()),
                    load_balancer_type: seed.lb_type,
                    load_balancer_vips: vip.iter().map(ToString::to_string).collect(),
                    load_balancer_domain: seed.domain.clone().unwrap_or_default(),
                    address_ipv6: seed.ipv6.map(|ip| ip.to_string()),
                    vpc_id: seed.vpc_id.clone(),
                    tags: seed
                        .tags
                        .iter()
                        .map(|(k, v)| TagInfo {
                            tag_key: k.clone(),
                            tag_value: v.clone(),
                        })
                        .collect(),
                    create_time_ms: now_ms,
                    ready_at_ms: now_ms,
                    busy_until_ms: 0,
                    listeners: Vec::new(),
                };
                region.load_balancers.insert(seed.id.clone(), lb);
            }
            for seed in &rc.nat_gateways {
                let vpc = rc.vpcs.iter().find(|v| v.id == seed.vpc_id);
                for eip in &seed.eips {
                    region.addresses.insert(
                        eip.id.clone(),
                        Address {
                            address_id: eip.id.clone(),
                            address_name: format!("{}-eip", seed.id),
                            address_ip: eip.ip.to_string(),
                            address_status: AddressStatus::Bind,
                            instance_type: Some("NAT".to_string()),
                            instance_id: Some(seed.id.clone()),
                            network_interface_id: None,
                            private_address_ip: None,
                            internet_charge_type: "TRAFFIC_POSTPAID_BY_HOUR".to_string(),
                            bandwidth: 100,
                            tags: Vec::new(),
                            created_ms: now_ms,
                            pending: None,
                        },
                    );
                }
                let nat = NatGateway {
                    nat_gateway_id: seed.id.clone(),
                    nat_gateway_name: seed.name.clone().unwrap_or_else(|| seed.id.clone()),
                    vpc_id: seed.vpc_id.clone(),
                    subnet_id: vpc.map(|v| v.subnet_id.clone()).unwrap_or_default(),
                    zone: vpc.map(|v| v.zone.clone()).unwrap_or_default(),
                    created_ms: now_ms,
                    address_ids: seed.eips.iter().map(|e| e.id.clone()).collect(),
                    dnat_rules: Vec::new(),
                    busy: None,
                };
                region.nat_gateways.insert(seed.id.clone(), nat);
            }
            state.regions.insert(rc.name.clone(), region);
        }
        state
    }

    /// Applies what finished tasks left behind; called before every request and state dump.
    pub fn settle(&mut self, now_ms: i64) {
        for region in self.regions.values_mut() {
            eip::settle(region, now_ms);
            region.client_tokens.prune(now_ms);
        }
        self.tasks.prune(now_ms);
    }
}
