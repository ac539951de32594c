//! Every model field of the official SDK is in our types, spelled and typed as the SDK has it.
//!
//! `vectors/models.json` (written by `vectors/generate.py` from the SDK's models) holds, for
//! each model, a sample with all its fields set. Reading a sample into our type and writing it
//! back must give the sample again: a missing or misspelt field would be dropped, a wrong type
//! would fail to read.
use dac_tencentcloud::models::{clb, vpc};
use serde_json::Value;

fn round_trip<T>(name: &str, sample: &Value) -> Result<(), String>
where
    T: serde::de::DeserializeOwned + serde::Serialize,
{
    let typed: T =
        serde_json::from_value(sample.clone()).map_err(|e| format!("{name}: read: {e}"))?;
    let back = serde_json::to_value(&typed).map_err(|e| format!("{name}: write: {e}"))?;
    if &back != sample {
        let (Value::Object(want), Value::Object(got)) = (sample, &back) else {
            return Err(format!("{name}: not an object"));
        };
        let missing: Vec<_> = want
            .keys()
            .filter(|k| want.get(*k) != got.get(*k))
            .collect();
        let extra: Vec<_> = got.keys().filter(|k| !want.contains_key(*k)).collect();
        return Err(format!("{name}: differs in {missing:?}, extra {extra:?}"));
    }
    Ok(())
}

macro_rules! models {
    ($( $key:literal => $ty:ty, )*) => {
        const TYPED: &[&str] = &[$($key),*];

        fn check(name: &str, sample: &Value) -> Result<(), String> {
            match name {
                $( $key => round_trip::<$ty>(name, sample), )*
                other => Err(format!("{other}: no Rust type for this SDK model")),
            }
        }
    };
}

models! {
        "clb.AvailableZoneAffinityInfo" => clb::AvailableZoneAffinityInfo,
        "clb.Backend" => clb::Backend,
        "clb.BasicTargetGroupInfo" => clb::BasicTargetGroupInfo,
        "clb.BatchDeregisterTargetsRequest" => clb::BatchDeregisterTargetsRequest,
        "clb.BatchDeregisterTargetsResponse" => clb::BatchDeregisterTargetsResponse,
        "clb.BatchRegisterTargetsRequest" => clb::BatchRegisterTargetsRequest,
        "clb.BatchRegisterTargetsResponse" => clb::BatchRegisterTargetsResponse,
        "clb.BatchTarget" => clb::BatchTarget,
        "clb.CertInfo" => clb::CertInfo,
        "clb.CertificateInput" => clb::CertificateInput,
        "clb.CertificateOutput" => clb::CertificateOutput,
        "clb.ClusterItem" => clb::ClusterItem,
        "clb.CreateListenerRequest" => clb::CreateListenerRequest,
        "clb.CreateListenerResponse" => clb::CreateListenerResponse,
        "clb.CreateLoadBalancerRequest" => clb::CreateLoadBalancerRequest,
        "clb.CreateLoadBalancerResponse" => clb::CreateLoadBalancerResponse,
        "clb.DeleteListenerRequest" => clb::DeleteListenerRequest,
        "clb.DeleteListenerResponse" => clb::DeleteListenerResponse,
        "clb.DeleteLoadBalancerListenersRequest" => clb::DeleteLoadBalancerListenersRequest,
        "clb.DeleteLoadBalancerListenersResponse" => clb::DeleteLoadBalancerListenersResponse,
        "clb.DeleteLoadBalancerRequest" => clb::DeleteLoadBalancerRequest,
        "clb.DeleteLoadBalancerResponse" => clb::DeleteLoadBalancerResponse,
        "clb.DeregisterTargetsRequest" => clb::DeregisterTargetsRequest,
        "clb.DeregisterTargetsResponse" => clb::DeregisterTargetsResponse,
        "clb.DescribeListenersRequest" => clb::DescribeListenersRequest,
        "clb.DescribeListenersResponse" => clb::DescribeListenersResponse,
        "clb.DescribeLoadBalancersRequest" => clb::DescribeLoadBalancersRequest,
        "clb.DescribeLoadBalancersResponse" => clb::DescribeLoadBalancersResponse,
        "clb.DescribeQuotaRequest" => clb::DescribeQuotaRequest,
        "clb.DescribeQuotaResponse" => clb::DescribeQuotaResponse,
        "clb.DescribeTargetsRequest" => clb::DescribeTargetsRequest,
        "clb.DescribeTargetsResponse" => clb::DescribeTargetsResponse,
        "clb.DescribeTaskStatusRequest" => clb::DescribeTaskStatusRequest,
        "clb.DescribeTaskStatusResponse" => clb::DescribeTaskStatusResponse,
        "clb.ExclusiveCluster" => clb::ExclusiveCluster,
        "clb.ExtraInfo" => clb::ExtraInfo,
        "clb.Filter" => clb::Filter,
        "clb.FunctionInfo" => clb::FunctionInfo,
        "clb.FunctionTarget" => clb::FunctionTarget,
        "clb.HealthCheck" => clb::HealthCheck,
        "clb.InternetAccessible" => clb::InternetAccessible,
        "clb.LBChargePrepaid" => clb::LBChargePrepaid,
        "clb.Listener" => clb::Listener,
        "clb.ListenerBackend" => clb::ListenerBackend,
        "clb.LoadBalancer" => clb::LoadBalancer,
        "clb.ModifyListenerRequest" => clb::ModifyListenerRequest,
        "clb.ModifyListenerResponse" => clb::ModifyListenerResponse,
        "clb.MultiCertInfo" => clb::MultiCertInfo,
        "clb.OAuth" => clb::OAuth,
        "clb.Quota" => clb::Quota,
        "clb.RegisterTargetsRequest" => clb::RegisterTargetsRequest,
        "clb.RegisterTargetsResponse" => clb::RegisterTargetsResponse,
        "clb.RewriteTarget" => clb::RewriteTarget,
        "clb.RuleOutput" => clb::RuleOutput,
        "clb.RuleTargets" => clb::RuleTargets,
        "clb.SnatIp" => clb::SnatIp,
        "clb.TagInfo" => clb::TagInfo,
        "clb.Target" => clb::Target,
        "clb.TargetRegionInfo" => clb::TargetRegionInfo,
        "clb.ZoneInfo" => clb::ZoneInfo,
        "vpc.Address" => vpc::Address,
        "vpc.AddressChargePrepaid" => vpc::AddressChargePrepaid,
        "vpc.AlgType" => vpc::AlgType,
        "vpc.AllocateAddressesRequest" => vpc::AllocateAddressesRequest,
        "vpc.AllocateAddressesResponse" => vpc::AllocateAddressesResponse,
        "vpc.AssociateAddressRequest" => vpc::AssociateAddressRequest,
        "vpc.AssociateAddressResponse" => vpc::AssociateAddressResponse,
        "vpc.ConnectionStateTimeouts" => vpc::ConnectionStateTimeouts,
        "vpc.CreateNatGatewayDestinationIpPortTranslationNatRuleRequest" => vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest,
        "vpc.CreateNatGatewayDestinationIpPortTranslationNatRuleResponse" => vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleResponse,
        "vpc.DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest" => vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest,
        "vpc.DeleteNatGatewayDestinationIpPortTranslationNatRuleResponse" => vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleResponse,
        "vpc.DescribeAddressQuotaRequest" => vpc::DescribeAddressQuotaRequest,
        "vpc.DescribeAddressQuotaResponse" => vpc::DescribeAddressQuotaResponse,
        "vpc.DescribeAddressesRequest" => vpc::DescribeAddressesRequest,
        "vpc.DescribeAddressesResponse" => vpc::DescribeAddressesResponse,
        "vpc.DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest" => vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest,
        "vpc.DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse" => vpc::DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse,
        "vpc.DescribeNatGatewaysRequest" => vpc::DescribeNatGatewaysRequest,
        "vpc.DescribeNatGatewaysResponse" => vpc::DescribeNatGatewaysResponse,
        "vpc.DescribeNetworkInterfacesRequest" => vpc::DescribeNetworkInterfacesRequest,
        "vpc.DescribeNetworkInterfacesResponse" => vpc::DescribeNetworkInterfacesResponse,
        "vpc.DescribeTaskResultRequest" => vpc::DescribeTaskResultRequest,
        "vpc.DescribeTaskResultResponse" => vpc::DescribeTaskResultResponse,
        "vpc.DestinationIpPortTranslationNatRule" => vpc::DestinationIpPortTranslationNatRule,
        "vpc.DisassociateAddressRequest" => vpc::DisassociateAddressRequest,
        "vpc.DisassociateAddressResponse" => vpc::DisassociateAddressResponse,
        "vpc.Filter" => vpc::Filter,
        "vpc.Ipv6Address" => vpc::Ipv6Address,
        "vpc.ModifyAddressAttributeRequest" => vpc::ModifyAddressAttributeRequest,
        "vpc.ModifyAddressAttributeResponse" => vpc::ModifyAddressAttributeResponse,
        "vpc.ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest" => vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest,
        "vpc.ModifyNatGatewayDestinationIpPortTranslationNatRuleResponse" => vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleResponse,
        "vpc.NatGateway" => vpc::NatGateway,
        "vpc.NatGatewayAddress" => vpc::NatGatewayAddress,
        "vpc.NatGatewayDestinationIpPortTranslationNatRule" => vpc::NatGatewayDestinationIpPortTranslationNatRule,
        "vpc.NetworkInterface" => vpc::NetworkInterface,
        "vpc.NetworkInterfaceAttachment" => vpc::NetworkInterfaceAttachment,
        "vpc.PrivateIpAddressSpecification" => vpc::PrivateIpAddressSpecification,
        "vpc.Quota" => vpc::Quota,
        "vpc.ReleaseAddressesRequest" => vpc::ReleaseAddressesRequest,
        "vpc.ReleaseAddressesResponse" => vpc::ReleaseAddressesResponse,
        "vpc.SourceIpTranslationNatRule" => vpc::SourceIpTranslationNatRule,
        "vpc.Tag" => vpc::Tag,
}

#[test]
fn every_sdk_model_field_round_trips() {
    let fixture: Value = serde_json::from_str(include_str!("vectors/models.json")).unwrap();
    let samples = fixture["models"].as_object().expect("models object");
    let failures: Vec<String> = samples
        .iter()
        .filter_map(|(name, sample)| check(name, sample).err())
        .collect();
    assert!(failures.is_empty(), "{}", failures.join("\n"));

    let unlisted: Vec<_> = TYPED
        .iter()
        .filter(|n| !samples.contains_key(**n))
        .collect();
    assert!(
        unlisted.is_empty(),
        "typed but not in the fixture: {unlisted:?}"
    );
    assert_eq!(samples.len(), TYPED.len());
}
