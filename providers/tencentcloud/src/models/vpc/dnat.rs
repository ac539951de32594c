//! NAT-gateway DNAT (port forwarding) rule actions.
use super::Filter;
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// CreateNatGatewayDestinationIpPortTranslationNatRule: adds DNAT (port forwarding) rules to a NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNatGatewayDestinationIpPortTranslationNatRuleRequest {
    pub nat_gateway_id: String,
    pub destination_ip_port_translation_nat_rules: Vec<DestinationIpPortTranslationNatRule>,
}

/// Only a RequestId.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateNatGatewayDestinationIpPortTranslationNatRuleResponse {
    #[serde(default)]
    pub request_id: String,
}

/// DeleteNatGatewayDestinationIpPortTranslationNatRule: removes DNAT rules from a NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest {
    pub nat_gateway_id: String,
    pub destination_ip_port_translation_nat_rules: Vec<DestinationIpPortTranslationNatRule>,
}

/// Only a RequestId.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteNatGatewayDestinationIpPortTranslationNatRuleResponse {
    #[serde(default)]
    pub request_id: String,
}

/// ModifyNatGatewayDestinationIpPortTranslationNatRule: replaces `SourceNatRule` with `DestinationNatRule`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest {
    pub nat_gateway_id: String,
    pub source_nat_rule: DestinationIpPortTranslationNatRule,
    pub destination_nat_rule: DestinationIpPortTranslationNatRule,
}

/// Only a RequestId.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyNatGatewayDestinationIpPortTranslationNatRuleResponse {
    #[serde(default)]
    pub request_id: String,
}

/// DescribeNatGatewayDestinationIpPortTranslationNatRules: DNAT rules by gateway ids or filters; `Limit` at most 100.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGatewayDestinationIpPortTranslationNatRulesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The DNAT rules found, and their total count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGatewayDestinationIpPortTranslationNatRulesResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub nat_gateway_destination_ip_port_translation_nat_rule_set:
        Vec<NatGatewayDestinationIpPortTranslationNatRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default)]
    pub request_id: String,
}

/// A DNAT rule: `PublicIpAddress:PublicPort` (an EIP of the gateway) forwarded to `PrivateIpAddress:PrivatePort` over `IpProtocol` (TCP or UDP).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DestinationIpPortTranslationNatRule {
    #[serde(default, deserialize_with = "null_default")]
    pub ip_protocol: String,
    #[serde(default, deserialize_with = "null_default")]
    pub public_ip_address: String,
    #[serde(default, deserialize_with = "null_default")]
    pub public_port: i64,
    #[serde(default, deserialize_with = "null_default")]
    pub private_ip_address: String,
    #[serde(default, deserialize_with = "null_default")]
    pub private_port: i64,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
}

/// A DNAT rule as returned, with its gateway, VPC and creation time.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGatewayDestinationIpPortTranslationNatRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip_protocol: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
}
