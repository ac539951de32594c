//! DescribeNetworkInterfaces.
use super::{Filter, Tag};
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// DescribeNetworkInterfaces: ENIs by ids or filters (`address-ip` with `ip-exact-match`, `vpc-id`, ...); `Limit` at most 100.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkInterfacesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The ENIs found, and their total count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkInterfacesResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub network_interface_set: Vec<NetworkInterface>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default)]
    pub request_id: String,
}

/// An elastic network interface.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub group_set: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mac_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_state: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub private_ip_address_set: Vec<PrivateIpAddressSpecification>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attachment: Option<NetworkInterfaceAttachment>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub ipv6_address_set: Vec<Ipv6Address>,
    #[serde(default, deserialize_with = "null_default")]
    pub tag_set: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eni_type: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub business: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cdc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_type: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub resource_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_level: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub ipv6_addresses: Vec<Ipv6Address>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ipv6_address_count: Option<i64>,
}

/// A private IP of an ENI, with the EIP bound to it if any.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct PrivateIpAddressSpecification {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_wan_ip_blocked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub qos_level: Option<String>,
}

/// The instance an ENI is attached to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterfaceAttachment {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub device_index: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_account_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub attach_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
}

/// An IPv6 address of an ENI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Ipv6Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub primary: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub description: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_wan_ip_blocked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub state: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub public_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
}
