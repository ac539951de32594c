//! Typed actions: one method per action on [`Client`], and the same methods as the traits
//! [`ClbApi`] and [`VpcApi`] that providers depend on, so their unit tests can use the mockall
//! mocks (`MockClbApi`, `MockVpcApi`; feature `mock`) instead of a server.
use async_trait::async_trait;
use tokio::time::Instant;

use crate::client::Client;
use crate::error::Result;
use crate::models::{clb, vpc};
use crate::service::Service;

/// CLB actions. Writes on one load balancer are async and lock it until their task ends:
/// wait with [`ClbApi::wait_clb_task`] before the next write, or expect `Busy` errors.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait ClbApi: Send + Sync {
    async fn create_listener(
        &self,
        region: &str,
        req: &clb::CreateListenerRequest,
    ) -> Result<clb::CreateListenerResponse>;
    async fn delete_listener(
        &self,
        region: &str,
        req: &clb::DeleteListenerRequest,
    ) -> Result<clb::DeleteListenerResponse>;
    async fn delete_load_balancer_listeners(
        &self,
        region: &str,
        req: &clb::DeleteLoadBalancerListenersRequest,
    ) -> Result<clb::DeleteLoadBalancerListenersResponse>;
    async fn describe_listeners(
        &self,
        region: &str,
        req: &clb::DescribeListenersRequest,
    ) -> Result<clb::DescribeListenersResponse>;
    async fn modify_listener(
        &self,
        region: &str,
        req: &clb::ModifyListenerRequest,
    ) -> Result<clb::ModifyListenerResponse>;
    async fn register_targets(
        &self,
        region: &str,
        req: &clb::RegisterTargetsRequest,
    ) -> Result<clb::RegisterTargetsResponse>;
    async fn deregister_targets(
        &self,
        region: &str,
        req: &clb::DeregisterTargetsRequest,
    ) -> Result<clb::DeregisterTargetsResponse>;
    async fn batch_register_targets(
        &self,
        region: &str,
        req: &clb::BatchRegisterTargetsRequest,
    ) -> Result<clb::BatchRegisterTargetsResponse>;
    async fn batch_deregister_targets(
        &self,
        region: &str,
        req: &clb::BatchDeregisterTargetsRequest,
    ) -> Result<clb::BatchDeregisterTargetsResponse>;
    async fn describe_targets(
        &self,
        region: &str,
        req: &clb::DescribeTargetsRequest,
    ) -> Result<clb::DescribeTargetsResponse>;
    async fn describe_load_balancers(
        &self,
        region: &str,
        req: &clb::DescribeLoadBalancersRequest,
    ) -> Result<clb::DescribeLoadBalancersResponse>;
    async fn create_load_balancer(
        &self,
        region: &str,
        req: &clb::CreateLoadBalancerRequest,
    ) -> Result<clb::CreateLoadBalancerResponse>;
    async fn delete_load_balancer(
        &self,
        region: &str,
        req: &clb::DeleteLoadBalancerRequest,
    ) -> Result<clb::DeleteLoadBalancerResponse>;
    async fn describe_quota(
        &self,
        region: &str,
        req: &clb::DescribeQuotaRequest,
    ) -> Result<clb::DescribeQuotaResponse>;
    async fn describe_task_status(
        &self,
        region: &str,
        req: &clb::DescribeTaskStatusRequest,
    ) -> Result<clb::DescribeTaskStatusResponse>;
    /// Polls DescribeTaskStatus until the task of the async call `request_id` ends.
    async fn wait_clb_task(
        &self,
        region: &str,
        request_id: &str,
        deadline: Instant,
    ) -> Result<clb::DescribeTaskStatusResponse>;
}

/// VPC actions: NAT-gateway DNAT rules, NAT gateways, EIPs, ENIs.
#[cfg_attr(any(test, feature = "mock"), mockall::automock)]
#[async_trait]
pub trait VpcApi: Send + Sync {
    async fn create_nat_gateway_destination_ip_port_translation_nat_rule(
        &self,
        region: &str,
        req: &vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleResponse>;
    async fn delete_nat_gateway_destination_ip_port_translation_nat_rule(
        &self,
        region: &str,
        req: &vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleResponse>;
    async fn modify_nat_gateway_destination_ip_port_translation_nat_rule(
        &self,
        region: &str,
        req: &vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest,
    ) -> Result<vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleResponse>;
    async fn describe_nat_gateway_destination_ip_port_translation_nat_rules(
        &self,
        region: &str,
        req: &vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest,
    ) -> Result<vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse>;
    async fn describe_nat_gateways(
        &self,
        region: &str,
        req: &vpc::DescribeNatGatewaysRequest,
    ) -> Result<vpc::DescribeNatGatewaysResponse>;
    async fn allocate_addresses(
        &self,
        region: &str,
        req: &vpc::AllocateAddressesRequest,
    ) -> Result<vpc::AllocateAddressesResponse>;
    async fn associate_address(
        &self,
        region: &str,
        req: &vpc::AssociateAddressRequest,
    ) -> Result<vpc::AssociateAddressResponse>;
    async fn disassociate_address(
        &self,
        region: &str,
        req: &vpc::DisassociateAddressRequest,
    ) -> Result<vpc::DisassociateAddressResponse>;
    async fn release_addresses(
        &self,
        region: &str,
        req: &vpc::ReleaseAddressesRequest,
    ) -> Result<vpc::ReleaseAddressesResponse>;
    async fn describe_addresses(
        &self,
        region: &str,
        req: &vpc::DescribeAddressesRequest,
    ) -> Result<vpc::DescribeAddressesResponse>;
    async fn modify_address_attribute(
        &self,
        region: &str,
        req: &vpc::ModifyAddressAttributeRequest,
    ) -> Result<vpc::ModifyAddressAttributeResponse>;
    async fn describe_address_quota(
        &self,
        region: &str,
        req: &vpc::DescribeAddressQuotaRequest,
    ) -> Result<vpc::DescribeAddressQuotaResponse>;
    async fn describe_task_result(
        &self,
        region: &str,
        req: &vpc::DescribeTaskResultRequest,
    ) -> Result<vpc::DescribeTaskResultResponse>;
    async fn describe_network_interfaces(
        &self,
        region: &str,
        req: &vpc::DescribeNetworkInterfacesRequest,
    ) -> Result<vpc::DescribeNetworkInterfacesResponse>;
    /// Polls DescribeTaskResult until the task `task_id` (as the EIP actions return it) ends.
    async fn wait_vpc_task(
        &self,
        region: &str,
        task_id: &str,
        deadline: Instant,
    ) -> Result<vpc::DescribeTaskResultResponse>;
}

/// Emits, for each action, an inherent method on `Client` (usable without importing a trait)
/// and the trait method that forwards to it.
macro_rules! actions {
    ($trait:ident, $service:expr, $wait:ident($id:ident) -> $wait_resp:ty;
     $( $method:ident => $action:literal, $req:ty, $resp:ty; )*) => {
        impl Client {
            $(
                #[doc = concat!("Calls `", $action, "`.")]
                pub async fn $method(&self, region: &str, req: &$req) -> Result<$resp> {
                    self.call($service, $action, region, req).await
                }
            )*
        }

        #[async_trait]
        impl $trait for Client {
            $(
                async fn $method(&self, region: &str, req: &$req) -> Result<$resp> {
                    Client::$method(self, region, req).await
                }
            )*

            async fn $wait(&self, region: &str, $id: &str, deadline: Instant) -> Result<$wait_resp> {
                Client::$wait(self, region, $id, deadline).await
            }
        }
    };
}

actions! {
    ClbApi, Service::Clb, wait_clb_task(request_id) -> clb::DescribeTaskStatusResponse;
    create_listener => "CreateListener", clb::CreateListenerRequest, clb::CreateListenerResponse;
    delete_listener => "DeleteListener", clb::DeleteListenerRequest, clb::DeleteListenerResponse;
    delete_load_balancer_listeners => "DeleteLoadBalancerListeners",
        clb::DeleteLoadBalancerListenersRequest, clb::DeleteLoadBalancerListenersResponse;
    describe_listeners => "DescribeListeners",
        clb::DescribeListenersRequest, clb::DescribeListenersResponse;
    modify_listener => "ModifyListener", clb::ModifyListenerRequest, clb::ModifyListenerResponse;
    register_targets => "RegisterTargets", clb::RegisterTargetsRequest, clb::RegisterTargetsResponse;
    deregister_targets => "DeregisterTargets",
        clb::DeregisterTargetsRequest, clb::DeregisterTargetsResponse;
    batch_register_targets => "BatchRegisterTargets",
        clb::BatchRegisterTargetsRequest, clb::BatchRegisterTargetsResponse;
    batch_deregister_targets => "BatchDeregisterTargets",
        clb::BatchDeregisterTargetsRequest, clb::BatchDeregisterTargetsResponse;
    describe_targets => "DescribeTargets", clb::DescribeTargetsRequest, clb::DescribeTargetsResponse;
    describe_load_balancers => "DescribeLoadBalancers",
        clb::DescribeLoadBalancersRequest, clb::DescribeLoadBalancersResponse;
    create_load_balancer => "CreateLoadBalancer",
        clb::CreateLoadBalancerRequest, clb::CreateLoadBalancerResponse;
    delete_load_balancer => "DeleteLoadBalancer",
        clb::DeleteLoadBalancerRequest, clb::DeleteLoadBalancerResponse;
    describe_quota => "DescribeQuota", clb::DescribeQuotaRequest, clb::DescribeQuotaResponse;
    describe_task_status => "DescribeTaskStatus",
        clb::DescribeTaskStatusRequest, clb::DescribeTaskStatusResponse;
}

actions! {
    VpcApi, Service::Vpc, wait_vpc_task(task_id) -> vpc::DescribeTaskResultResponse;
    create_nat_gateway_destination_ip_port_translation_nat_rule
        => "CreateNatGatewayDestinationIpPortTranslationNatRule",
        vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
        vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleResponse;
    delete_nat_gateway_destination_ip_port_translation_nat_rule
        => "DeleteNatGatewayDestinationIpPortTranslationNatRule",
        vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest,
        vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleResponse;
    modify_nat_gateway_destination_ip_port_translation_nat_rule
        => "ModifyNatGatewayDestinationIpPortTranslationNatRule",
        vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest,
        vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleResponse;
    describe_nat_gateway_destination_ip_port_translation_nat_rules
        => "DescribeNatGatewayDestinationIpPortTranslationNatRules",
        vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest,
        vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse;
    describe_nat_gateways => "DescribeNatGateways",
        vpc::DescribeNatGatewaysRequest, vpc::DescribeNatGatewaysResponse;
    allocate_addresses => "AllocateAddresses",
        vpc::AllocateAddressesRequest, vpc::AllocateAddressesResponse;
    associate_address => "AssociateAddress",
        vpc::AssociateAddressRequest, vpc::AssociateAddressResponse;
    disassociate_address => "DisassociateAddress",
        vpc::DisassociateAddressRequest, vpc::DisassociateAddressResponse;
    release_addresses => "ReleaseAddresses",
        vpc::ReleaseAddressesRequest, vpc::ReleaseAddressesResponse;
    describe_addresses => "DescribeAddresses",
        vpc::DescribeAddressesRequest, vpc::DescribeAddressesResponse;
    modify_address_attribute => "ModifyAddressAttribute",
        vpc::ModifyAddressAttributeRequest, vpc::ModifyAddressAttributeResponse;
    describe_address_quota => "DescribeAddressQuota",
        vpc::DescribeAddressQuotaRequest, vpc::DescribeAddressQuotaResponse;
    describe_task_result => "DescribeTaskResult",
        vpc::DescribeTaskResultRequest, vpc::DescribeTaskResultResponse;
    describe_network_interfaces => "DescribeNetworkInterfaces",
        vpc::DescribeNetworkInterfacesRequest, vpc::DescribeNetworkInterfacesResponse;
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::{Error, ErrorKind};

    /// What a provider's code looks like against the trait: it works with the real client and,
    /// in unit tests, with the mock.
    async fn ensure_listener(api: &dyn ClbApi, lb: &str, port: i64) -> Result<String> {
        let existing = api
            .describe_listeners(
                "ap-guangzhou",
                &clb::DescribeListenersRequest {
                    load_balancer_id: lb.into(),
                    port: Some(port),
                    protocol: Some("TCP".into()),
                    ..Default::default()
                },
            )
            .await?;
        if let Some(id) = existing.listeners.into_iter().find_map(|l| l.listener_id) {
            return Ok(id);
        }
        let created = api
            .create_listener(
                "ap-guangzhou",
                &clb::CreateListenerRequest {
                    load_balancer_id: lb.into(),
                    ports: vec![port],
                    protocol: "TCP".into(),
                    ..Default::default()
                },
            )
            .await?;
        Ok(created.listener_ids.into_iter().next().unwrap_or_default())
    }

    #[tokio::test]
    async fn providers_can_unit_test_against_the_mock() {
        let mut mock = MockClbApi::new();
        mock.expect_describe_listeners()
            .withf(|region, req| region == "ap-guangzhou" && req.port == Some(30001))
            .returning(|_, _| Ok(clb::DescribeListenersResponse::default()));
        mock.expect_create_listener().times(1).returning(|_, req| {
            Ok(clb::CreateListenerResponse {
                listener_ids: vec![format!("lbl-{}", req.ports[0])],
                ..Default::default()
            })
        });
        assert_eq!(
            ensure_listener(&mock, "lb-1", 30001).await.unwrap(),
            "lbl-30001"
        );

        let mut failing = MockClbApi::new();
        failing.expect_describe_listeners().returning(|_, _| {
            Err(Error::api(
                "DescribeListeners",
                "InvalidParameter.LBIdNotFound",
                "",
                "r",
            ))
        });
        let err = ensure_listener(&failing, "lb-x", 1).await.unwrap_err();
        assert_eq!(err.kind(), ErrorKind::NotFound);
    }

    #[tokio::test]
    async fn vpc_mock_covers_task_waiting() {
        let mut mock = MockVpcApi::new();
        mock.expect_wait_vpc_task()
            .withf(|_, id, _| id == "42")
            .returning(|_, _, _| {
                Ok(vpc::DescribeTaskResultResponse {
                    result: Some("SUCCESS".into()),
                    ..Default::default()
                })
            });
        let api: &dyn VpcApi = &mock;
        let deadline = Instant::now() + std::time::Duration::from_secs(1);
        let done = api
            .wait_vpc_task("ap-guangzhou", "42", deadline)
            .await
            .unwrap();
        assert_eq!(done.result.as_deref(), Some("SUCCESS"));
    }
}
