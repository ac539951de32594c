//! Counts of cloud calls by action, so that tests, benchmarks and metrics can say how many writes
//! a binding costs. Every call the provider makes goes through [`CountingVpc`] and is counted
//! once whatever its outcome (the client's own retries are below it and not counted).
use std::sync::Arc;

use dac_provider_support::stats::{BatchCounter, BatchStats, Kind};
use dac_tencentcloud::models::vpc;
use dac_tencentcloud::{Result, VpcApi};

/// The action names, for
/// [`NatgwStats::writes_of`](dac_provider_support::stats::CallStats::writes_of).
pub mod action {
    pub const CREATE: &str = "CreateNatGatewayDestinationIpPortTranslationNatRule";
    pub const DELETE: &str = "DeleteNatGatewayDestinationIpPortTranslationNatRule";
    pub const MODIFY: &str = "ModifyNatGatewayDestinationIpPortTranslationNatRule";
    pub const DESCRIBE_RULES: &str = "DescribeNatGatewayDestinationIpPortTranslationNatRules";
    pub const DESCRIBE_GATEWAYS: &str = "DescribeNatGateways";
}

/// A snapshot of the calls made so far, and of the rounds the per-gateway workers ran.
pub type NatgwStats = BatchStats;

/// The VPC actions the provider uses, counted. Only these five: the provider has no business
/// with the rest of [`VpcApi`].
pub(crate) struct CountingVpc {
    inner: Arc<dyn VpcApi>,
    counter: BatchCounter,
}

impl CountingVpc {
    pub fn new(inner: Arc<dyn VpcApi>) -> Self {
        Self {
            inner,
            counter: BatchCounter::new(),
        }
    }

    pub fn count_round(&self) {
        self.counter.count_round();
    }

    pub fn snapshot(&self) -> NatgwStats {
        self.counter.snapshot()
    }

    pub async fn create_rules(
        &self,
        region: &str,
        req: &vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<()> {
        self.counter.count(action::CREATE, Kind::Write);
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
        self.counter.count(action::DELETE, Kind::Write);
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
        self.counter.count(action::MODIFY, Kind::Write);
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
        self.counter.count(action::DESCRIBE_RULES, Kind::Read);
        self.inner
            .describe_nat_gateway_destination_ip_port_translation_nat_rules(region, req)
            .await
    }

    pub async fn describe_gateways(
        &self,
        region: &str,
        req: &vpc::DescribeNatGatewaysRequest,
    ) -> Result<vpc::DescribeNatGatewaysResponse> {
        self.counter.count(action::DESCRIBE_GATEWAYS, Kind::Read);
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
