//! The emulator's configuration: credentials, knobs, rate limits, faults and the seeded cloud.
use std::collections::{BTreeMap, BTreeSet};
use std::net::Ipv4Addr;
use std::path::{Path, PathBuf};

use anyhow::{Context, bail, ensure};
use serde::{Deserialize, Serialize};

use crate::cidr::Ipv4Cidr;
use crate::faults::FaultRule;

/// The documented example configuration; [`EmulatorConfig::demo`] parses it, so the demo seeds
/// and the example file cannot drift apart.
const DEMO_TOML: &str = include_str!("../../examples/emulator.toml");

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EmulatorConfig {
    pub credentials: Vec<Credential>,
    #[serde(default)]
    pub settings: Settings,
    /// Requests per second per action (overrides of the built-in defaults; `*` for the rest).
    #[serde(default)]
    pub rate_limits: BTreeMap<String, f64>,
    #[serde(default)]
    pub faults: Vec<FaultRule>,
    pub regions: Vec<RegionConfig>,
    /// Where state is saved on change and loaded from at start; `None` keeps it in memory.
    #[serde(default)]
    pub state_file: Option<PathBuf>,
}

#[derive(Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct Credential {
    pub secret_id: String,
    pub secret_key: String,
}

impl std::fmt::Debug for Credential {
    // The key stays out of logs even for an emulator: configs get copied from real ones.
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        f.debug_struct("Credential")
            .field("secret_id", &self.secret_id)
            .finish_non_exhaustive()
    }
}

/// Knobs that can also be changed at run time through `POST /_emulator/settings`.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields, default)]
pub struct Settings {
    /// How long a CLB write's task runs (and locks the instance) ...
    pub task_latency_ms: u64,
    /// ... or, when set, a time drawn uniformly from `task_latency_ms` to this.
    pub task_latency_max_ms: Option<u64>,
    /// How long Batch(De)RegisterTargets lock the instance after they answer ...
    pub batch_lock_ms: u64,
    /// ... plus this much per target of the call ...
    pub batch_lock_per_target_ms: u64,
    /// ... but never longer than this.
    pub batch_lock_max_ms: Option<u64>,
    /// How long an EIP task runs ...
    pub eip_task_latency_ms: u64,
    /// ... or, when set, a time drawn uniformly from `eip_task_latency_ms` to this.
    pub eip_task_latency_max_ms: Option<u64>,
    /// How long a NAT gateway stays UPDATING after a DNAT write (0: it does not), during which
    /// DNAT writes get `UnsupportedOperation.NatGatewayIsBusy`.
    pub dnat_update_ms: u64,
    /// Whether CreateNatGatewayDestinationIpPortTranslationNatRule refuses a rule whose private
    /// IP, port and protocol another rule already has (`NatGatewayRulePipExists`). The SDK lists
    /// that code for Modify only, so whether Create refuses is not documented: both answers can
    /// be tried.
    pub dnat_create_checks_private_side: bool,
    /// How long CreateLoadBalancer's instances stay `Status` 0 (the cloud: about 10 s);
    /// `None`: as long as a CLB task.
    pub load_balancer_create_ms: Option<u64>,
    pub listener_quota: u32,
    pub open_clb_quota: u32,
    pub internal_clb_quota: u32,
    pub eip_quota: u32,
    /// Defaults to twice `eip_quota`, as in the cloud.
    pub eip_daily_allocate_limit: Option<u32>,
    pub dnat_rule_limit: u32,
    pub max_clock_skew_secs: i64,
}

impl Default for Settings {
    fn default() -> Self {
        Self {
            task_latency_ms: 200,
            task_latency_max_ms: None,
            batch_lock_ms: 200,
            batch_lock_per_target_ms: 0,
            batch_lock_max_ms: None,
            eip_task_latency_ms: 200,
            eip_task_latency_max_ms: None,
            load_balancer_create_ms: None,
            dnat_update_ms: 0,
            dnat_create_checks_private_side: false,
            listener_quota: 50,
            open_clb_quota: 100,
            internal_clb_quota: 100,
            eip_quota: 20,
            eip_daily_allocate_limit: None,
            dnat_rule_limit: 200,
            max_clock_skew_secs: 300,
        }
    }
}

/// A duration from `min` ms, or drawn uniformly from `min..=max` when a larger `max` is set.
pub fn drawn_ms(min: u64, max: Option<u64>) -> u64 {
    match max {
        Some(max) if max > min => rand::random_range(min..=max),
        _ => min,
    }
}

impl Settings {
    /// How long the task of one CLB write runs.
    pub fn clb_task_ms(&self) -> u64 {
        drawn_ms(self.task_latency_ms, self.task_latency_max_ms)
    }

    /// How long one EIP task runs.
    pub fn eip_task_ms(&self) -> u64 {
        drawn_ms(self.eip_task_latency_ms, self.eip_task_latency_max_ms)
    }

    /// How long a batch target call of `targets` targets locks the instance.
    pub fn batch_lock_for(&self, targets: usize) -> u64 {
        let per_target = self
            .batch_lock_per_target_ms
            .saturating_mul(u64::try_from(targets).unwrap_or(u64::MAX));
        let lock = self.batch_lock_ms.saturating_add(per_target);
        self.batch_lock_max_ms.map_or(lock, |max| lock.min(max))
    }

    pub fn daily_allocate_limit(&self) -> u32 {
        self.eip_daily_allocate_limit
            .unwrap_or(self.eip_quota.saturating_mul(2))
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct RegionConfig {
    pub name: String,
    #[serde(default)]
    pub vpcs: Vec<VpcConfig>,
    #[serde(default)]
    pub load_balancers: Vec<LoadBalancerSeed>,
    #[serde(default)]
    pub nat_gateways: Vec<NatGatewaySeed>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct VpcConfig {
    pub id: String,
    pub cidr: Ipv4Cidr,
    pub subnet_id: String,
    pub zone: String,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
pub enum LoadBalancerType {
    #[serde(rename = "OPEN")]
    Open,
    #[serde(rename = "INTERNAL")]
    Internal,
}

impl LoadBalancerType {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Open => "OPEN",
            Self::Internal => "INTERNAL",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct LoadBalancerSeed {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    #[serde(rename = "type")]
    pub lb_type: LoadBalancerType,
    /// Defaults to an address from the documentation ranges.
    #[serde(default)]
    pub vip: Option<Ipv4Addr>,
    /// A domain-based CLB: reached at this name; lists no VIP.
    #[serde(default)]
    pub domain: Option<String>,
    /// An IPv6 CLB: reached at this address; lists no VIP.
    #[serde(default)]
    pub ipv6: Option<std::net::Ipv6Addr>,
    pub vpc_id: String,
    #[serde(default)]
    pub tags: BTreeMap<String, String>,
}

#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct NatGatewaySeed {
    pub id: String,
    #[serde(default)]
    pub name: Option<String>,
    pub vpc_id: String,
    #[serde(default)]
    pub eips: Vec<EipSeed>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(deny_unknown_fields)]
pub struct EipSeed {
    pub id: String,
    pub ip: Ipv4Addr,
}

impl EmulatorConfig {
    /// Reads and checks a TOML file.
    pub fn from_file(path: impl AsRef<Path>) -> anyhow::Result<Self> {
        let path = path.as_ref();
        let text = std::fs::read_to_string(path)
            .with_context(|| format!("reading emulator config {}", path.display()))?;
        Self::from_toml(&text).with_context(|| format!("in {}", path.display()))
    }

    pub fn from_toml(text: &str) -> anyhow::Result<Self> {
        let config: Self = toml::from_str(text).context("parsing emulator config")?;
        config.check()?;
        Ok(config)
    }

    /// The seeds of `examples/emulator.toml`: `AKIDEMULATOR` / `emulator-secret-key`,
    /// `ap-guangzhou`, CLBs `lb-demo0001` and `lb-demo0002`, NAT gateway `nat-demo0001`.
    pub fn demo() -> Self {
        Self::from_toml(DEMO_TOML).expect("examples/emulator.toml is valid (checked by a test)")
    }

    pub fn region(&self, name: &str) -> Option<&RegionConfig> {
        self.regions.iter().find(|r| r.name == name)
    }

    /// Catches seeds that would make the emulator answer nonsense later.
    pub fn check(&self) -> anyhow::Result<()> {
        ensure!(!self.credentials.is_empty(), "no credentials configured");
        ensure!(!self.regions.is_empty(), "no regions configured");
        let mut ids = BTreeSet::new();
        let mut unique = |id: &str| -> anyhow::Result<()> {
            ensure!(ids.insert(id.to_string()), "duplicate id {id}");
            Ok(())
        };
        for cred in &self.credentials {
            unique(&cred.secret_id)?;
        }
        for region in &self.regions {
            unique(&region.name)?;
            for vpc in &region.vpcs {
                unique(&vpc.id)?;
            }
            let has_vpc = |id: &str| region.vpcs.iter().any(|v| v.id == id);
            for lb in &region.load_balancers {
                unique(&lb.id)?;
                let addresses = [lb.vip.is_some(), lb.domain.is_some(), lb.ipv6.is_some()];
                ensure!(
                    addresses.iter().filter(|a| **a).count() <= 1,
                    "load balancer {} has more than one of vip, domain and ipv6",
                    lb.id
                );
                if !has_vpc(&lb.vpc_id) {
                    bail!("load balancer {} names unknown VPC {}", lb.id, lb.vpc_id);
                }
            }
            for nat in &region.nat_gateways {
                unique(&nat.id)?;
                if !has_vpc(&nat.vpc_id) {
                    bail!("NAT gateway {} names unknown VPC {}", nat.id, nat.vpc_id);
                }
                for eip in &nat.eips {
                    unique(&eip.id)?;
                    unique(&eip.ip.to_string())?;
                }
            }
        }
        for (action, rate) in &self.rate_limits {
            ensure!(
                rate.is_finite() && *rate >= 0.0,
                "rate limit of {action} must be >= 0"
            );
        }
        Ok(())
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn demo_matches_the_documented_seeds() {
        let demo = EmulatorConfig::demo();
        assert_eq!(demo.credentials[0].secret_id, "AKIDEMULATOR");
        assert_eq!(demo.credentials[0].secret_key, "emulator-secret-key");
        let region = demo.region("ap-guangzhou").expect("region");
        let lbs: Vec<_> = region
            .load_balancers
            .iter()
            .map(|l| l.id.as_str())
            .collect();
        assert_eq!(
            lbs,
            ["lb-demo0001", "lb-demo0002", "lb-domain01", "lb-ipv6-01"]
        );
        assert_eq!(region.nat_gateways[0].eips.len(), 2);
        assert_eq!(region.vpcs[0].cidr.to_string(), "10.0.0.0/8");
        assert_eq!(demo.settings.eip_quota, 20);
        assert!(!format!("{:?}", demo.credentials[0]).contains("emulator-secret-key"));
    }

    #[test]
    fn the_realistic_profile_is_the_demo_with_slower_timings() {
        let realistic =
            EmulatorConfig::from_toml(include_str!("../../examples/emulator-realistic.toml"))
                .expect("examples/emulator-realistic.toml is valid");
        let demo = EmulatorConfig::demo();
        assert_eq!(realistic.regions, demo.regions, "same seeds as the demo");
        assert_eq!(realistic.credentials, demo.credentials);
        let s = &realistic.settings;
        assert_eq!(
            (s.task_latency_ms, s.task_latency_max_ms),
            (1000, Some(3000))
        );
        assert_eq!(s.batch_lock_for(500), 10_000);
        assert_eq!(s.batch_lock_for(10), 1_200);
        assert_eq!(
            (s.eip_task_latency_ms, s.eip_task_latency_max_ms),
            (1000, Some(2000))
        );
        for _ in 0..20 {
            assert!((1000..=3000).contains(&s.clb_task_ms()));
            assert!((1000..=2000).contains(&s.eip_task_ms()));
        }
    }

    #[test]
    fn domain_and_ipv6_seeds() {
        let demo = EmulatorConfig::demo();
        let lbs = &demo.region("ap-guangzhou").unwrap().load_balancers;
        let domain = lbs.iter().find(|l| l.id == "lb-domain01").unwrap();
        assert!(domain.domain.is_some() && domain.vip.is_none());
        let v6 = lbs.iter().find(|l| l.id == "lb-ipv6-01").unwrap();
        assert_eq!(v6.ipv6, Some("2001:db8::1".parse().unwrap()));
        let both = DEMO_TOML.replace(
            "ipv6 = \"2001:db8::1\"",
            "ipv6 = \"2001:db8::1\"\ndomain = \"x.example\"",
        );
        assert!(EmulatorConfig::from_toml(&both).is_err());
    }

    #[test]
    fn rejects_dangling_references() {
        let bad = DEMO_TOML.replace("vpc_id = \"vpc-demo0001\"", "vpc_id = \"vpc-nope\"");
        assert!(EmulatorConfig::from_toml(&bad).is_err());
    }
}
