//! DescribeNatGateways.
use super::{DestinationIpPortTranslationNatRule, Filter, Tag};
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// DescribeNatGateways: NAT gateways by ids or filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGatewaysRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The NAT gateways found, and their total count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGatewaysResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub nat_gateway_set: Vec<NatGateway>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub verbose_level: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// A NAT gateway. `State`: AVAILABLE when usable.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_max_bandwidth_out: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_concurrent_connection: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_ip_address_set: Vec<NatGatewayAddress>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_state: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub destination_ip_port_translation_nat_rule_set: Vec<DestinationIpPortTranslationNatRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub direct_connect_gateway_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tag_set: Vec<Tag>,
    #[serde(default, deserialize_with = "null_default")]
    pub security_group_set: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub source_ip_translation_nat_rule_set: Vec<SourceIpTranslationNatRule>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_exclusive: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_gateway_bandwidth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub restrict_state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_product_version: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub strict_snat_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub smart_schedule_mode: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deletion_protection_enabled: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub connection_state_timeouts: Option<ConnectionStateTimeouts>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_scaling: Option<bool>,
    #[serde(rename = "ICMPProxy", default, skip_serializing_if = "Option::is_none")]
    pub icmp_proxy: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_address_affinity: Option<bool>,
}

/// An EIP bound to a NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGatewayAddress {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_blocked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub block_type: Option<String>,
}

/// A SNAT rule of a NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SourceIpTranslationNatRule {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub public_ip_addresses: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_snat_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nat_gateway_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
}

/// Connection tracking timeouts of a NAT gateway.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ConnectionStateTimeouts {
    #[serde(
        rename = "UDPMappingTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub udp_mapping_timeout: Option<i64>,
    #[serde(
        rename = "TCPEstablishedConnectionTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_established_connection_timeout: Option<i64>,
    #[serde(
        rename = "TCPTimeWaitTimeout",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub tcp_time_wait_timeout: Option<i64>,
}
