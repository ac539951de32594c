//! EIP actions: allocate, associate, disassociate, release, describe, rename, quota.
use super::Filter;
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// AllocateAddresses: allocates EIPs; counts against the account quota and the daily allocation limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateAddressesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_service_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    #[serde(
        rename = "IPChargeType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ip_charge_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_max_bandwidth_out: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_charge_prepaid: Option<AddressChargePrepaid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anycast_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_cluster: Option<Vec<String>>,
    #[serde(
        rename = "ApplicableForCLB",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub applicable_for_clb: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<Tag>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_dedicated_address_pool: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    #[serde(
        rename = "AntiDDoSPackageId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub anti_ddos_package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
}

/// The new EIP ids, and the task id (a numeric string) for DescribeTaskResult.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AllocateAddressesResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub address_set: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// AssociateAddress: binds an UNBIND EIP to an instance, or to `PrivateIpAddress` on `NetworkInterfaceId`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateAddressRequest {
    pub address_id: String,
    /// Bind to a CVM instance (its primary IP); or use `network_interface_id`.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    /// Bind to `private_ip_address` of this ENI (secondary IPs work).
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_ip_address: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_direct_connection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_region: Option<String>,
}

/// The task id for DescribeTaskResult.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateAddressResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// DisassociateAddress: unbinds a BIND or BIND_ENI EIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateAddressRequest {
    pub address_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reallocate_normal_public_ip: Option<bool>,
}

/// The task id for DescribeTaskResult.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateAddressResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// ReleaseAddresses: releases UNBIND EIPs.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseAddressesRequest {
    pub address_ids: Vec<String>,
}

/// The task id for DescribeTaskResult.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ReleaseAddressesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub task_id: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// DescribeAddresses: EIPs by ids or filters.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressesRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
}

/// The EIPs found, and their total count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressesResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub address_set: Vec<Address>,
    #[serde(default)]
    pub request_id: String,
}

/// DescribeAddressQuota: the EIP quotas of the region (no parameters).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressQuotaRequest {}

/// The quotas, e.g. `TOTAL_EIP_QUOTA` and `DAILY_EIP_APPLY`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressQuotaResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub quota_set: Vec<Quota>,
    #[serde(default)]
    pub request_id: String,
}

/// An EIP. `AddressStatus`: CREATING, BINDING, BIND, UNBINDING, UNBIND, OFFLINING, BIND_ENI.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_status: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub created_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_interface_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub private_address_ip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_arrears: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_blocked: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_eip_direct_connection: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cascade_release: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_alg_type: Option<AlgType>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_service_provider: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_bgp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tag_set: Vec<Tag>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deadline_date: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub instance_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    #[serde(
        rename = "AntiDDoSPackageId",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub anti_ddos_package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_flag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub un_vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dedicated_cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_visible_on_eni: Option<bool>,
}

/// ALG settings of an EIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AlgType {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ftp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sip: Option<bool>,
}

/// One quota: its id, current use and limit.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Quota {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_current: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quota_group: Option<String>,
}

/// Prepaid billing settings of an EIP.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AddressChargePrepaid {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub auto_renew_flag: Option<i64>,
}

/// A resource tag (VPC spelling: `Key`/`Value`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Tag {
    #[serde(default, deserialize_with = "null_default")]
    pub key: String,
    #[serde(default, deserialize_with = "null_default")]
    pub value: String,
}

/// ModifyAddressAttribute: renames an EIP (`AddressName`: at most 128 characters of letters,
/// digits, `-` and `_`); synchronous.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyAddressAttributeRequest {
    pub address_id: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub address_name: Option<String>,
    /// `"TRUE"` / `"FALSE"`: a string here, unlike AssociateAddress's boolean.
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_direct_connection: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_visible_on_eni: Option<bool>,
}

/// Only a RequestId.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ModifyAddressAttributeResponse {
    #[serde(default)]
    pub request_id: String,
}
