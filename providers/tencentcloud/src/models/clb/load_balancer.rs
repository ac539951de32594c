//! CLB instance actions: DescribeLoadBalancers, CreateLoadBalancer, DeleteLoadBalancer.
use super::Filter;
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// DescribeLoadBalancers: CLB instances by ids (at most 20) or filters; `Limit` at most 100.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLoadBalancersRequest {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_vips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_public_ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub backend_private_ips: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub offset: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub limit: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_by: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub order_type: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub search_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub with_rs: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub security_group: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub filters: Option<Vec<Filter>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub additional_fields: Option<Vec<String>>,
}

/// The CLB instances found, and their total count.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeLoadBalancersResponse {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub total_count: Option<i64>,
    #[serde(default, deserialize_with = "null_default")]
    pub load_balancer_set: Vec<LoadBalancer>,
    #[serde(default)]
    pub request_id: String,
}

/// CreateLoadBalancer: creates `Number` CLB instances; async (about 10 s).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoadBalancerRequest {
    pub load_balancer_type: String,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    #[serde(
        rename = "AddressIPVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ip_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub number: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_accessible: Option<InternetAccessible>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_isp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tags: Option<Vec<TagInfo>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidth_package_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_cluster: Option<ExclusiveCluster>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_ids: Option<Vec<String>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub client_token: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_pro: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_ips: Option<Vec<SnatIp>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub slave_zone_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub eip_address_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_pass_to_target: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub dynamic_vip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    #[serde(
        rename = "LBChargePrepaid",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub lb_charge_prepaid: Option<LBChargePrepaid>,
    #[serde(
        rename = "LBChargeType",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub lb_charge_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub access_log_topic_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub advanced_route: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_zone_affinity_info: Option<AvailableZoneAffinityInfo>,
}

/// The new instance ids and the deal name that DescribeTaskStatus also accepts.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CreateLoadBalancerResponse {
    #[serde(default, deserialize_with = "null_default")]
    pub load_balancer_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deal_name: Option<String>,
    #[serde(default)]
    pub request_id: String,
}

/// DeleteLoadBalancer: deletes up to 20 CLB instances; async.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerRequest {
    pub load_balancer_ids: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub force_delete: Option<bool>,
}

/// Only a RequestId (the task id).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DeleteLoadBalancerResponse {
    #[serde(default)]
    pub request_id: String,
}

/// A CLB instance. `Status`: 0 creating, 1 running.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LoadBalancer {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub load_balancer_vips: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub status_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub project_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub open_bgp: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolation: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub tags: Vec<TagInfo>,
    #[serde(default, deserialize_with = "null_default")]
    pub secure_groups: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_region_info: Option<TargetRegionInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub anycast_zone: Option<String>,
    #[serde(
        rename = "AddressIPVersion",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ip_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical_vpc_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vip_isp: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub master_zone: Option<ZoneInfo>,
    #[serde(default, deserialize_with = "null_default")]
    pub backup_zone_set: Vec<ZoneInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub isolated_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub expire_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub charge_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub network_attributes: Option<InternetAccessible>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub prepaid_attributes: Option<LBChargePrepaid>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_set_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub log_topic_id: Option<String>,
    #[serde(
        rename = "AddressIPv6",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub address_ipv6: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extra_info: Option<ExtraInfo>,
    #[serde(rename = "IsDDos", default, skip_serializing_if = "Option::is_none")]
    pub is_ddos: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub config_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_pass_to_target: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive_cluster: Option<ExclusiveCluster>,
    #[serde(rename = "IPv6Mode", default, skip_serializing_if = "Option::is_none")]
    pub ipv6_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_pro: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub snat_ips: Vec<SnatIp>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub sla_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_block: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub is_block_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_bgp: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_tag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub mix_ip_target: Option<bool>,
    #[serde(default, deserialize_with = "null_default")]
    pub zones: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub nfv_info: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_log_set_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_log_topic_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub cluster_ids: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub attribute_flags: Vec<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub load_balancer_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub egress: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exclusive: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_count: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub associate_endpoint: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub available_zone_affinity_info: Option<AvailableZoneAffinityInfo>,
}

/// Region and VPC that a CLB forwards to.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TargetRegionInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub vpc_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub numerical_vpc_id: Option<i64>,
}

/// An availability zone.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ZoneInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_id: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone_region: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub local_zone: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub edge_zone: Option<bool>,
}

/// Extra attributes of a CLB instance.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExtraInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zhi_tong: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub tgw_group_name: Option<String>,
}

/// Public network billing and bandwidth settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct InternetAccessible {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_charge_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub internet_max_bandwidth_out: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub bandwidthpkg_sub_type: Option<String>,
}

/// Prepaid billing settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct LBChargePrepaid {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub renew_flag: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub period: Option<i64>,
}

/// Dedicated cluster placement.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ExclusiveCluster {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l4_clusters: Option<Vec<ClusterItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub l7_clusters: Option<Vec<ClusterItem>>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub classical_cluster: Option<ClusterItem>,
}

/// One dedicated cluster.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct ClusterItem {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cluster_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub zone: Option<String>,
}

/// A SNAT IP of a CLB.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct SnatIp {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub subnet_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub ip: Option<String>,
}

/// A resource tag (CLB spelling: `TagKey`/`TagValue`).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct TagInfo {
    #[serde(default, deserialize_with = "null_default")]
    pub tag_key: String,
    #[serde(default, deserialize_with = "null_default")]
    pub tag_value: String,
}

/// Zone-affinity forwarding settings.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AvailableZoneAffinityInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub enable: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub exit_ratio: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub reentry_ratio: Option<i64>,
}
