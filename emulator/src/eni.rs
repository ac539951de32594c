//! Elastic network interfaces: one per VPC IP, with a deterministic id.
//!
//! A test cluster hands out Pod IPs the emulator never hears about, yet the cloud only accepts
//! IPs that sit on an ENI (CLB `EniIp` targets, DNAT private IPs, EIP association). So every IP of
//! a configured VPC is treated as the primary IP of its own ENI, `eni-` + a stable hash of the IP,
//! attached to a CVM `ins-` + a stable hash of the IP's /24 (one "node" per /24, as Pod CIDRs
//! usually are). An ENI is recorded in the state the first time it is looked at, so that it can
//! later be found by id and shows up in the state dump.
use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};
use sha2::{Digest, Sha256};

use crate::config::VpcConfig;
use crate::dispatch::Ctx;
use crate::eip::AddressStatus;
use crate::error::{ApiError, ApiResult};
use crate::filters::Filter;
use crate::util::{page, vpc_time};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NetworkInterface {
    pub network_interface_id: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub zone: String,
    pub private_ip_address: String,
    /// The CVM the ENI is attached to.
    pub instance_id: String,
    pub mac_address: String,
    pub created_ms: i64,
}

fn stable_hex(kind: &str, input: &str) -> String {
    let digest = Sha256::digest(format!("{kind}:{input}").as_bytes());
    hex::encode(&digest[..4])
}

/// The ENI id of a VPC IP: the same on every run and every machine.
pub fn eni_id_for(ip: Ipv4Addr) -> String {
    format!("eni-{}", stable_hex("eni", &ip.to_string()))
}

/// The CVM an IP's ENI is attached to: one per /24.
pub fn instance_id_for(ip: Ipv4Addr) -> String {
    let [a, b, c, _] = ip.octets();
    format!("ins-{}", stable_hex("ins", &format!("{a}.{b}.{c}.0/24")))
}

fn mac_for(ip: Ipv4Addr) -> String {
    let h = stable_hex("mac", &ip.to_string()).to_uppercase();
    format!("20:90:6F:{}:{}:{}", &h[0..2], &h[2..4], &h[4..6])
}

impl Ctx<'_> {
    /// The configured VPC whose block holds `ip`.
    pub fn vpc_containing(&self, ip: Ipv4Addr) -> Option<&VpcConfig> {
        self.region_config.vpcs.iter().find(|v| v.cidr.contains(ip))
    }

    /// The ENI of a VPC IP, recorded in the state; `None` if no VPC holds the IP.
    pub fn eni_for_ip(&mut self, ip: Ipv4Addr) -> Option<NetworkInterface> {
        let vpc = self.vpc_containing(ip)?.clone();
        let id = eni_id_for(ip);
        let now = self.now_ms;
        let eni = self
            .region
            .network_interfaces
            .entry(id.clone())
            .or_insert_with(|| NetworkInterface {
                network_interface_id: id,
                vpc_id: vpc.id.clone(),
                subnet_id: vpc.subnet_id.clone(),
                zone: vpc.zone.clone(),
                private_ip_address: ip.to_string(),
                instance_id: instance_id_for(ip),
                mac_address: mac_for(ip),
                created_ms: now,
            });
        Some(eni.clone())
    }
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNetworkInterfacesRequest {
    network_interface_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<Filter>,
    offset: Option<i64>,
    limit: Option<i64>,
}

const FILTERS: [&str; 6] = [
    "vpc-id",
    "subnet-id",
    "network-interface-id",
    "attachment.instance-id",
    "address-ip",
    "ip-exact-match",
];

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeNetworkInterfacesRequest) -> ApiResult<Value> {
    if req.network_interface_ids.is_some() && !req.filters.is_empty() {
        return Err(ApiError::new(
            "InvalidParameter.Coexist",
            "`NetworkInterfaceIds` and `Filters` cannot be given together.",
        ));
    }
    Filter::check_names(&req.filters, &FILTERS, "InvalidParameter.FilterInvalidKey")?;
    if let Some(ids) = &req.network_interface_ids {
        if ids.len() > 100 {
            return Err(ApiError::too_many("NetworkInterfaceIds", 100));
        }
        if let Some(bad) = ids.iter().find(|id| !id.starts_with("eni-")) {
            return Err(ApiError::new(
                "InvalidParameterValue.NetworkInterfaceIdMalformed",
                format!("Network interface id {bad} is malformed."),
            ));
        }
    }
    let exact = Filter::values(&req.filters, "ip-exact-match")
        .and_then(|v| v.first())
        .is_some_and(|v| v.eq_ignore_ascii_case("true"));
    let address_ips = Filter::values(&req.filters, "address-ip").map(<[String]>::to_vec);
    // Looking an IP up is what brings its ENI into being.
    if let Some(ips) = &address_ips {
        for ip in ips.iter().filter_map(|ip| ip.parse().ok()) {
            ctx.eni_for_ip(ip);
        }
    }
    let ip_matches = |eni: &NetworkInterface| match &address_ips {
        None => true,
        // One IP without ip-exact-match is a suffix match; several IPs match exactly.
        Some(ips) if ips.len() == 1 && !exact => eni.private_ip_address.ends_with(&ips[0]),
        Some(ips) => ips.contains(&eni.private_ip_address),
    };
    let matching: Vec<&NetworkInterface> = ctx
        .region
        .network_interfaces
        .values()
        .filter(|e| {
            req.network_interface_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&e.network_interface_id))
        })
        .filter(|e| ip_matches(e))
        .filter(|e| Filter::matches(&req.filters, "vpc-id", Some(&e.vpc_id)))
        .filter(|e| Filter::matches(&req.filters, "subnet-id", Some(&e.subnet_id)))
        .filter(|e| {
            Filter::matches(
                &req.filters,
                "network-interface-id",
                Some(&e.network_interface_id),
            )
        })
        .filter(|e| Filter::matches(&req.filters, "attachment.instance-id", Some(&e.instance_id)))
        .collect();
    let total = matching.len();
    let set: Vec<Value> = page(matching, req.offset, req.limit, 100)?
        .into_iter()
        .map(|e| eni_view(ctx, e))
        .collect();
    Ok(json!({ "TotalCount": total, "NetworkInterfaceSet": set }))
}

/// An ENI as the SDK's `NetworkInterface` model has it, with the EIP bound to its IP if any.
fn eni_view(ctx: &Ctx<'_>, e: &NetworkInterface) -> Value {
    let eip = ctx.region.addresses.values().find(|a| {
        a.network_interface_id.as_deref() == Some(&e.network_interface_id)
            && a.private_address_ip.as_deref() == Some(&e.private_ip_address)
            && a.address_status == AddressStatus::Bind
    });
    json!({
        "NetworkInterfaceId": e.network_interface_id,
        "NetworkInterfaceName": format!("eni-{}", e.private_ip_address),
        "NetworkInterfaceDescription": "",
        "SubnetId": e.subnet_id,
        "VpcId": e.vpc_id,
        "GroupSet": [],
        "Primary": false,
        "MacAddress": e.mac_address,
        "State": "AVAILABLE",
        "NetworkInterfaceState": "INUSE",
        "PrivateIpAddressSet": [{
            "PrivateIpAddress": e.private_ip_address,
            "Primary": true,
            "PublicIpAddress": eip.map(|a| a.address_ip.clone()).unwrap_or_default(),
            "AddressId": eip.map(|a| a.address_id.clone()).unwrap_or_default(),
            "Description": "",
            "IsWanIpBlocked": false,
            "State": "AVAILABLE",
        }],
        "Attachment": {
            "DeviceIndex": 1,
            "InstanceAccountId": "",
            "AttachTime": vpc_time(e.created_ms),
            "InstanceId": e.instance_id,
        },
        "Zone": e.zone,
        "CreatedTime": vpc_time(e.created_ms),
        "Ipv6AddressSet": [],
        "TagSet": [],
        "EniType": 0,
        "Business": "cvm",
        "AttachType": 0,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ids_are_stable_and_distinct() {
        let a = eni_id_for(Ipv4Addr::new(10, 0, 0, 1));
        assert_eq!(a, eni_id_for(Ipv4Addr::new(10, 0, 0, 1)));
        assert_ne!(a, eni_id_for(Ipv4Addr::new(10, 0, 0, 2)));
        assert_eq!(a.len(), 12);
        assert_eq!(
            instance_id_for(Ipv4Addr::new(10, 0, 0, 1)),
            instance_id_for(Ipv4Addr::new(10, 0, 0, 200))
        );
    }
}
