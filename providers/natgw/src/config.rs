//! The provider's configuration: the pool of NAT gateways and the batching knobs, camelCase as
//! in the controller's config file.
use std::time::Duration;

use dac_provider_api::PortRange;
use dac_provider_support::config::{OutOfRange, within};
use dac_provider_support::marker::Charset;
use serde::{Deserialize, Serialize};

use crate::marker;

/// What the cloud documented as the DNAT rule limit per gateway (older docs: 200). DescribeQuota
/// has no entry for it, so it cannot be read; override it with `ruleLimit` where it differs.
pub const DEFAULT_RULE_LIMIT: u32 = 200;

/// Rules per Create/Delete call. The SDK metadata (tccli `api.json`) documents no cap for the
/// `DestinationIpPortTranslationNatRules` array; 100 matches the largest page the DNAT describe
/// action returns, and a gateway holds only ~200 rules anyway.
pub const DEFAULT_RULES_PER_CALL: usize = 100;

/// One NAT gateway of the pool: the same fields as the controller's `NatGatewayConfig`.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct GatewayConfig {
    /// `nat-xxxxxxxx`.
    pub id: String,
    /// `None`: the provider's `region` (the cluster's).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    /// The gateway EIPs rules may use; empty: all the gateway's EIPs (read from the cloud).
    #[serde(default)]
    pub eips: Vec<String>,
    /// The public ports rules may use on each EIP, inclusive.
    pub min_port: u16,
    pub max_port: u16,
}

impl GatewayConfig {
    pub fn port_range(&self) -> PortRange {
        PortRange {
            min: self.min_port,
            max: self.max_port,
        }
    }
}

/// Settings of the `natgw` provider. Every field has a default except `region`, `clusterId` and
/// `gateways`, which [`NatgwProvider::new`](crate::NatgwProvider::new) requires.
///
/// Build it from the controller's `NatgwConfig` with [`NatgwProviderConfig::new`] plus
/// `batch_window_ms`; everything else has a working default.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", default)]
pub struct NatgwProviderConfig {
    /// Region of gateways that name none (the cluster's region).
    pub region: String,
    /// Identifies this cluster in rule descriptions, so that two clusters sharing an account
    /// never take each other's rules for their own: 1-20 of `[A-Za-z0-9-]`.
    pub cluster_id: String,
    /// The one namespace the controller serves (`--namespace`); `None` when it serves all.
    /// Rules whose marker names another namespace are then never used or released, and a
    /// binding whose slot one of them holds is a `PortConflict` instead of a wait for a release
    /// that this controller would never make.
    pub namespace: Option<String>,
    /// The gateways slots may be placed on. Only these are written to: a binding naming another
    /// gateway is refused, so the config is the operator's allow-list.
    pub gateways: Vec<GatewayConfig>,
    /// How long a gateway's worker waits after the latest job for another before it writes (at
    /// most ten windows after the first job). The Create/Delete actions take
    /// arrays of rules and each call may meet the gateway's busy lock, so one call for many rules
    /// beats many calls; the window trades this much latency for that.
    pub batch_window_ms: u64,
    /// A round starts early once this many jobs are waiting.
    pub max_batch_jobs: usize,
    /// Rules per Create/Delete call.
    pub max_rules_per_call: usize,
    /// DNAT rules per gateway; default [`DEFAULT_RULE_LIMIT`].
    pub rule_limit: Option<u32>,
    /// A round moves at most this many rules to a new Pod IP with Modify (one call per rule,
    /// but the rule never disappears); beyond that it deletes and recreates them in batches
    /// (two calls for all of them), which is what a rollout recreating many Pods needs.
    pub max_modifies_per_round: usize,
    /// How long a gateway's state and EIPs (DescribeNatGateways) are reused.
    pub gateway_cache_ttl_ms: u64,
    /// How long a gateway's rules are reused for capacity and the slots others hold; rounds
    /// refresh them for free.
    pub rule_count_cache_ttl_ms: u64,
}

impl Default for NatgwProviderConfig {
    fn default() -> Self {
        Self {
            region: String::new(),
            cluster_id: String::new(),
            namespace: None,
            gateways: Vec::new(),
            batch_window_ms: 200,
            max_batch_jobs: 500,
            max_rules_per_call: DEFAULT_RULES_PER_CALL,
            rule_limit: None,
            max_modifies_per_round: 4,
            gateway_cache_ttl_ms: 30_000,
            rule_count_cache_ttl_ms: 10_000,
        }
    }
}

/// A configuration the provider cannot work with.
#[derive(Clone, Debug, PartialEq, Eq, thiserror::Error)]
pub enum ConfigError {
    #[error("providers.natgw: the cluster region must not be empty")]
    MissingRegion,
    #[error("providers.natgw: cluster id {0:?} must be 1-{max} of [A-Za-z0-9-]", max = marker::MAX_CLUSTER_ID_LEN)]
    InvalidClusterId(String),
    #[error("providers.natgw: namespace {0:?} is not a namespace name")]
    InvalidNamespace(String),
    #[error("providers.natgw lists no gateways")]
    NoGateways,
    #[error("providers.natgw.gateways: {0:?} is not a NAT gateway id (nat-...)")]
    InvalidGatewayId(String),
    #[error("providers.natgw.gateways: {0} is listed twice")]
    DuplicateGateway(String),
    #[error("providers.natgw.gateways[{id}]: port range {min}-{max} is empty or includes 0")]
    InvalidPortRange { id: String, min: u16, max: u16 },
    /// A numeric setting out of range; the message reads as before the check was shared:
    /// `providers.natgw.<field> is <value>; it must be within <min>..=<max>`.
    #[error("providers.natgw.{0}")]
    OutOfRange(#[from] OutOfRange),
}

impl NatgwProviderConfig {
    /// The settings that have no default: the cluster's id and region and the gateway pool.
    pub fn new(
        cluster_id: impl Into<String>,
        region: impl Into<String>,
        gateways: Vec<GatewayConfig>,
    ) -> Self {
        Self {
            cluster_id: cluster_id.into(),
            region: region.into(),
            gateways,
            ..Self::default()
        }
    }

    /// Checks what would otherwise fail at the first cloud call, or never work at all.
    pub fn validate(&self) -> Result<(), ConfigError> {
        if self.region.trim().is_empty() {
            return Err(ConfigError::MissingRegion);
        }
        if !marker::valid_cluster_id(&self.cluster_id) {
            return Err(ConfigError::InvalidClusterId(self.cluster_id.clone()));
        }
        if let Some(ns) = &self.namespace
            && !Charset::DnsLabel.accepts(ns)
        {
            return Err(ConfigError::InvalidNamespace(ns.clone()));
        }
        if self.gateways.is_empty() {
            return Err(ConfigError::NoGateways);
        }
        for (i, g) in self.gateways.iter().enumerate() {
            if !g.id.starts_with("nat-") || g.id.len() <= 4 {
                return Err(ConfigError::InvalidGatewayId(g.id.clone()));
            }
            if self.gateways[..i].iter().any(|other| other.id == g.id) {
                return Err(ConfigError::DuplicateGateway(g.id.clone()));
            }
            if g.min_port == 0 || g.min_port > g.max_port {
                return Err(ConfigError::InvalidPortRange {
                    id: g.id.clone(),
                    min: g.min_port,
                    max: g.max_port,
                });
            }
        }
        within("batchWindowMs", self.batch_window_ms, 0, 10_000)?;
        within("maxBatchJobs", self.max_batch_jobs as u64, 1, 100_000)?;
        within("maxRulesPerCall", self.max_rules_per_call as u64, 1, 200)?;
        within(
            "maxModifiesPerRound",
            self.max_modifies_per_round as u64,
            0,
            1_000,
        )?;
        if let Some(limit) = self.rule_limit {
            within("ruleLimit", u64::from(limit), 1, 100_000)?;
        }
        Ok(())
    }

    /// The configured gateway `id`, if any.
    pub fn gateway(&self, id: &str) -> Option<&GatewayConfig> {
        self.gateways.iter().find(|g| g.id == id)
    }

    /// The region of gateway `g`.
    pub fn region_of<'a>(&'a self, g: &'a GatewayConfig) -> &'a str {
        g.region
            .as_deref()
            .filter(|r| !r.is_empty())
            .unwrap_or(&self.region)
    }

    pub fn rule_limit(&self) -> u32 {
        self.rule_limit.unwrap_or(DEFAULT_RULE_LIMIT)
    }

    pub fn batch_window(&self) -> Duration {
        Duration::from_millis(self.batch_window_ms)
    }

    pub fn gateway_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.gateway_cache_ttl_ms)
    }

    pub fn rule_count_cache_ttl(&self) -> Duration {
        Duration::from_millis(self.rule_count_cache_ttl_ms)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    fn gateway(id: &str) -> GatewayConfig {
        GatewayConfig {
            id: id.into(),
            region: None,
            eips: Vec::new(),
            min_port: 10000,
            max_port: 19999,
        }
    }

    fn valid() -> NatgwProviderConfig {
        NatgwProviderConfig::new("cls-1", "ap-guangzhou", vec![gateway("nat-1")])
    }

    #[test]
    fn reads_camel_case_with_defaults() {
        let config: NatgwProviderConfig = serde_json::from_value(serde_json::json!({
            "region": "ap-guangzhou",
            "clusterId": "cls-abc",
            "gateways": [{"id": "nat-1", "region": "ap-shanghai", "eips": ["198.51.100.1"],
                          "minPort": 500, "maxPort": 600}],
            "ruleLimit": 100
        }))
        .unwrap();
        config.validate().unwrap();
        let g = config.gateway("nat-1").unwrap();
        assert_eq!(config.region_of(g), "ap-shanghai");
        assert_eq!(g.port_range(), PortRange { min: 500, max: 600 });
        assert_eq!(config.rule_limit(), 100);
        assert_eq!(config.batch_window(), Duration::from_millis(200));
        assert_eq!(config.max_rules_per_call, DEFAULT_RULES_PER_CALL);
        assert_eq!(valid().rule_limit(), DEFAULT_RULE_LIMIT);
    }

    #[test]
    fn refuses_what_cannot_work() {
        valid().validate().unwrap();
        let cases = [
            (
                NatgwProviderConfig {
                    region: String::new(),
                    ..valid()
                },
                "region",
            ),
            (
                NatgwProviderConfig {
                    cluster_id: "a_b".into(),
                    ..valid()
                },
                "cluster id",
            ),
            (
                NatgwProviderConfig {
                    gateways: Vec::new(),
                    ..valid()
                },
                "no gateways",
            ),
            (
                NatgwProviderConfig {
                    gateways: vec![gateway("lb-1")],
                    ..valid()
                },
                "not a NAT gateway id",
            ),
            (
                NatgwProviderConfig {
                    gateways: vec![gateway("nat-1"), gateway("nat-1")],
                    ..valid()
                },
                "twice",
            ),
            (
                NatgwProviderConfig {
                    gateways: vec![GatewayConfig {
                        min_port: 600,
                        max_port: 500,
                        ..gateway("nat-1")
                    }],
                    ..valid()
                },
                "port range",
            ),
            (
                NatgwProviderConfig {
                    max_rules_per_call: 0,
                    ..valid()
                },
                "maxRulesPerCall",
            ),
        ];
        for (config, want) in cases {
            let err = config.validate().unwrap_err().to_string();
            assert!(err.contains(want), "{err} should mention {want}");
        }
    }
}
