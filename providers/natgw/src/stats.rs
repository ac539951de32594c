//! Counts of cloud calls by action, so that tests, benchmarks and metrics can say how many writes
//! a binding costs. Every call the provider makes goes through [`CountingVpc`] and is counted
//! once whatever its outcome (the client's own retries are below it and not counted).
use std::collections::BTreeMap;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use dac_tencentcloud::models::vpc;
use dac_tencentcloud::{Result, VpcApi};

/// The actions the provider calls. The discriminant indexes the counters.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
enum Action {
    Create,
    Delete,
    Modify,
    DescribeRules,
    DescribeGateways,
}

impl Action {
    const ALL: [Action; 5] = [
        Action::Create,
        Action::Delete,
        Action::Modify,
        Action::DescribeRules,
        Action::DescribeGateways,
    ];

    fn name(self) -> &'static str {
        match self {
            Action::Create => action::CREATE,
            Action::Delete => action::DELETE,
            Action::Modify => action::MODIFY,
            Action::DescribeRules => action::DESCRIBE_RULES,
            Action::DescribeGateways => action::DESCRIBE_GATEWAYS,
        }
    }

    fn is_write(self) -> bool {
        matches!(self, Action::Create | Action::Delete | Action::Modify)
    }
}

/// The action names, for [`NatgwStats::writes_of`].
pub mod action {
    pub const CREATE: &str = "CreateNatGatewayDestinationIpPortTranslationNatRule";
    pub const DELETE: &str = "DeleteNatGatewayDestinationIpPortTranslationNatRule";
    pub const MODIFY: &str = "ModifyNatGatewayDestinationIpPortTranslationNatRule";
    pub const DESCRIBE_RULES: &str = "DescribeNatGatewayDestinationIpPortTranslationNatRules";
    pub const DESCRIBE_GATEWAYS: &str = "DescribeNatGateways";
}

/// A snapshot of the calls made so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct NatgwStats {
    /// Calls that change the cloud, by action (only actions called at least once).
    pub writes: BTreeMap<String, u64>,
    /// Calls that only read, by action (only actions called at least once).
    pub reads: BTreeMap<String, u64>,
    /// Batching rounds run by the per-gateway workers.
    pub rounds: u64,
}

impl NatgwStats {
    pub fn total_writes(&self) -> u64 {
        self.writes.values().sum()
    }

    pub fn total_reads(&self) -> u64 {
        self.reads.values().sum()
    }

    pub fn writes_of(&self, action: &str) -> u64 {
        self.writes.get(action).copied().unwrap_or(0)
    }

    pub fn reads_of(&self, action: &str) -> u64 {
        self.reads.get(action).copied().unwrap_or(0)
    }

    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &NatgwStats) -> NatgwStats {
        fn minus(
            now: &BTreeMap<String, u64>,
            then: &BTreeMap<String, u64>,
        ) -> BTreeMap<String, u64> {
            now.iter()
                .filter_map(|(k, v)| {
                    let d = v.saturating_sub(then.get(k).copied().unwrap_or(0));
                    (d > 0).then(|| (k.clone(), d))
                })
                .collect()
        }
        NatgwStats {
            writes: minus(&self.writes, &earlier.writes),
            reads: minus(&self.reads, &earlier.reads),
            rounds: self.rounds.saturating_sub(earlier.rounds),
        }
    }
}

impl std::fmt::Display for NatgwStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{} writes {:?}, {} reads {:?}, {} rounds",
            self.total_writes(),
            self.writes,
            self.total_reads(),
            self.reads,
            self.rounds
        )
    }
}

/// The VPC actions the provider uses, counted. Only these five: the provider has no business
/// with the rest of [`VpcApi`].
pub(crate) struct CountingVpc {
    inner: Arc<dyn VpcApi>,
    counts: [AtomicU64; Action::ALL.len()],
    rounds: AtomicU64,
}

impl CountingVpc {
    pub fn new(inner: Arc<dyn VpcApi>) -> Self {
        Self {
            inner,
            counts: Default::default(),
            rounds: AtomicU64::new(0),
        }
    }

    fn count(&self, action: Action) {
        self.counts[action as usize].fetch_add(1, Ordering::Relaxed);
    }

    pub fn count_round(&self) {
        self.rounds.fetch_add(1, Ordering::Relaxed);
    }

    pub fn snapshot(&self) -> NatgwStats {
        let mut stats = NatgwStats {
            rounds: self.rounds.load(Ordering::Relaxed),
            ..Default::default()
        };
        for action in Action::ALL {
            let n = self.counts[action as usize].load(Ordering::Relaxed);
            if n == 0 {
                continue;
            }
            let map = if action.is_write() {
                &mut stats.writes
            } else {
                &mut stats.reads
            };
            map.insert(action.name().to_string(), n);
        }
        stats
    }

    pub async fn create_rules(
        &self,
        region: &str,
        req: &vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<()> {
        self.count(Action::Create);
        self.inner
            .create_nat_gateway_destination_ip_port_translation_nat_rule(region, req)
            .await
            .map(drop)
    }

    pub async fn delete_rules(
        &self,
        region: &str,
        req: &vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<()> {
        self.count(Action::Delete);
        self.inner
            .delete_nat_gateway_destination_ip_port_translation_nat_rule(region, req)
            .await
            .map(drop)
    }

    pub async fn modify_rule(
        &self,
        region: &str,
        req: &vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<()> {
        self.count(Action::Modify);
        self.inner
            .modify_nat_gateway_destination_ip_port_translation_nat_rule(region, req)
            .await
            .map(drop)
    }

    pub async fn describe_rules(
        &self,
        region: &str,
        req: &vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest,
    ) -> Result<vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse> {
        self.count(Action::DescribeRules);
        self.inner
            .describe_nat_gateway_destination_ip_port_translation_nat_rules(region, req)
            .await
    }

    pub async fn describe_gateways(
        &self,
        region: &str,
        req: &vpc::DescribeNatGatewaysRequest,
    ) -> Result<vpc::DescribeNatGatewaysResponse> {
        self.count(Action::DescribeGateways);
        self.inner.describe_nat_gateways(region, req).await
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_tencentcloud::MockVpcApi;

    #[tokio::test]
    async fn counts_writes_and_reads_apart() {
        let mut mock = MockVpcApi::new();
        mock.expect_create_nat_gateway_destination_ip_port_translation_nat_rule()
            .returning(|_, _| Ok(Default::default()));
        mock.expect_describe_nat_gateways()
            .returning(|_, _| Ok(Default::default()));
        let api = CountingVpc::new(Arc::new(mock));
        let before = api.snapshot();
        for _ in 0..2 {
            api.create_rules("r", &Default::default()).await.unwrap();
        }
        api.describe_gateways("r", &Default::default())
            .await
            .unwrap();
        api.count_round();
        let stats = api.snapshot();
        assert_eq!(stats.writes_of(action::CREATE), 2);
        assert_eq!(stats.total_writes(), 2);
        assert_eq!(stats.reads_of(action::DESCRIBE_GATEWAYS), 1);
        assert_eq!(stats.rounds, 1);
        assert_eq!(stats.since(&before), stats);
        assert_eq!(stats.since(&stats), NatgwStats::default());
        assert!(stats.to_string().starts_with("2 writes"), "{stats}");
    }
}
