//! Counts of the cloud calls the provider makes, so that tests, benchmarks and metrics can say
//! what a Pod's address costs: writes by action, reads by action, and EIPs allocated and
//! released (the daily allocation limit counts EIPs, not calls). The counter wraps the
//! [`VpcApi`] the provider uses; the client's own retries inside one call are not visible here.
use std::ops::Deref;
use std::sync::Arc;
use std::sync::atomic::{AtomicU64, Ordering};

use async_trait::async_trait;
use dac_provider_support::stats::{CallCounter, CallStats, Kind};
use dac_tencentcloud::models::vpc;
use dac_tencentcloud::{Result, VpcApi};
use tokio::time::Instant;

/// A snapshot of the calls made so far.
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct EipStats {
    /// Calls by action, writes and reads apart (`WaitVpcTask` is one wait, however often it
    /// polled); also reachable through `Deref`, so that `stats.writes_of(..)` reads as before.
    pub calls: CallStats,
    /// EIPs that AllocateAddresses answered with.
    pub addresses_allocated: u64,
    /// EIPs that ReleaseAddresses accepted.
    pub addresses_released: u64,
}

impl Deref for EipStats {
    type Target = CallStats;

    fn deref(&self) -> &CallStats {
        &self.calls
    }
}

impl EipStats {
    /// What happened between `earlier` and `self`.
    pub fn since(&self, earlier: &EipStats) -> EipStats {
        EipStats {
            calls: self.calls.since(&earlier.calls),
            addresses_allocated: self.addresses_allocated - earlier.addresses_allocated,
            addresses_released: self.addresses_released - earlier.addresses_released,
        }
    }
}

impl std::fmt::Display for EipStats {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(
            f,
            "{}, {} EIPs allocated, {} released",
            self.calls, self.addresses_allocated, self.addresses_released
        )
    }
}

/// A [`VpcApi`] that counts what it passes on.
pub(crate) struct CountingVpcApi {
    inner: Arc<dyn VpcApi>,
    calls: CallCounter,
    allocated: AtomicU64,
    released: AtomicU64,
}

impl CountingVpcApi {
    pub fn new(inner: Arc<dyn VpcApi>) -> Self {
        Self {
            inner,
            calls: CallCounter::new(),
            allocated: AtomicU64::new(0),
            released: AtomicU64::new(0),
        }
    }

    fn count(&self, action: &'static str, kind: Kind) {
        self.calls.count(action, kind);
    }

    pub fn snapshot(&self) -> EipStats {
        EipStats {
            calls: self.calls.snapshot(),
            addresses_allocated: self.allocated.load(Ordering::Relaxed),
            addresses_released: self.released.load(Ordering::Relaxed),
        }
    }
}

/// Implements [`VpcApi`] for the counter: each plain action is forwarded after being counted
/// under its name and kind; the methods in `custom` are written out (they count more).
/// One macro for the whole impl, because `#[async_trait]` must see every method expanded.
macro_rules! counting_vpc_api {
    (
        forward { $( $method:ident => $action:literal, $kind:expr, $req:ty, $resp:ty; )* }
        custom { $($custom:tt)* }
    ) => {
        #[async_trait]
        impl VpcApi for CountingVpcApi {
            $(
                async fn $method(&self, region: &str, req: &$req) -> Result<$resp> {
                    self.count($action, $kind);
                    self.inner.$method(region, req).await
                }
            )*
            $($custom)*
        }
    };
}

counting_vpc_api! {
    forward {
        create_nat_gateway_destination_ip_port_translation_nat_rule
            => "CreateNatGatewayDestinationIpPortTranslationNatRule", Kind::Write,
            vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
            vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleResponse;
        delete_nat_gateway_destination_ip_port_translation_nat_rule
            => "DeleteNatGatewayDestinationIpPortTranslationNatRule", Kind::Write,
            vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest,
            vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleResponse;
        modify_nat_gateway_destination_ip_port_translation_nat_rule
            => "ModifyNatGatewayDestinationIpPortTranslationNatRule", Kind::Write,
            vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest,
            vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleResponse;
        describe_nat_gateway_destination_ip_port_translation_nat_rules
            => "DescribeNatGatewayDestinationIpPortTranslationNatRules", Kind::Read,
            vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest,
            vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse;
        describe_nat_gateways => "DescribeNatGateways", Kind::Read,
            vpc::DescribeNatGatewaysRequest, vpc::DescribeNatGatewaysResponse;
        associate_address => "AssociateAddress", Kind::Write,
            vpc::AssociateAddressRequest, vpc::AssociateAddressResponse;
        disassociate_address => "DisassociateAddress", Kind::Write,
            vpc::DisassociateAddressRequest, vpc::DisassociateAddressResponse;
        describe_addresses => "DescribeAddresses", Kind::Read,
            vpc::DescribeAddressesRequest, vpc::DescribeAddressesResponse;
        modify_address_attribute => "ModifyAddressAttribute", Kind::Write,
            vpc::ModifyAddressAttributeRequest, vpc::ModifyAddressAttributeResponse;
        describe_address_quota => "DescribeAddressQuota", Kind::Read,
            vpc::DescribeAddressQuotaRequest, vpc::DescribeAddressQuotaResponse;
        describe_task_result => "DescribeTaskResult", Kind::Read,
            vpc::DescribeTaskResultRequest, vpc::DescribeTaskResultResponse;
        describe_network_interfaces => "DescribeNetworkInterfaces", Kind::Read,
            vpc::DescribeNetworkInterfacesRequest, vpc::DescribeNetworkInterfacesResponse;
    }
    custom {
        async fn allocate_addresses(
            &self,
            region: &str,
            req: &vpc::AllocateAddressesRequest,
        ) -> Result<vpc::AllocateAddressesResponse> {
            self.count("AllocateAddresses", Kind::Write);
            let resp = self.inner.allocate_addresses(region, req).await?;
            self.allocated
                .fetch_add(resp.address_set.len() as u64, Ordering::Relaxed);
            Ok(resp)
        }

        async fn release_addresses(
            &self,
            region: &str,
            req: &vpc::ReleaseAddressesRequest,
        ) -> Result<vpc::ReleaseAddressesResponse> {
            self.count("ReleaseAddresses", Kind::Write);
            let resp = self.inner.release_addresses(region, req).await?;
            self.released
                .fetch_add(req.address_ids.len() as u64, Ordering::Relaxed);
            Ok(resp)
        }

        // One wait, however often it polls inside the client.
        async fn wait_vpc_task(
            &self,
            region: &str,
            task_id: &str,
            deadline: Instant,
        ) -> Result<vpc::DescribeTaskResultResponse> {
            self.count("WaitVpcTask", Kind::Read);
            self.inner.wait_vpc_task(region, task_id, deadline).await
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_tencentcloud::MockVpcApi;

    #[tokio::test]
    async fn counts_writes_reads_and_addresses() {
        let mut mock = MockVpcApi::new();
        mock.expect_allocate_addresses().returning(|_, req| {
            Ok(vpc::AllocateAddressesResponse {
                address_set: (0..req.address_count.unwrap_or(1))
                    .map(|i| format!("eip-{i}"))
                    .collect(),
                ..Default::default()
            })
        });
        mock.expect_describe_addresses()
            .returning(|_, _| Ok(vpc::DescribeAddressesResponse::default()));
        let api = CountingVpcApi::new(Arc::new(mock));
        let before = api.snapshot();
        let req = vpc::AllocateAddressesRequest {
            address_count: Some(3),
            ..Default::default()
        };
        api.allocate_addresses("r", &req).await.unwrap();
        api.describe_addresses("r", &Default::default())
            .await
            .unwrap();
        let stats = api.snapshot();
        assert_eq!(stats.writes_of("AllocateAddresses"), 1);
        assert_eq!(stats.addresses_allocated, 3);
        assert_eq!(stats.reads_of("DescribeAddresses"), 1);
        assert_eq!(stats.total_writes(), 1);
        assert_eq!(stats.since(&before), stats);
        assert_eq!(stats.since(&stats), EipStats::default());
        assert!(stats.to_string().starts_with("1 writes"), "{stats}");
    }
}
