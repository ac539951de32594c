//! NAT gateways (VPC version 2017-03-12) and their DNAT rules.
pub mod rules;

use serde::{Deserialize, Serialize};
use serde_json::{Value, json};

use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::filters::Filter;
use crate::util::{page, vpc_time};

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct NatGateway {
    pub nat_gateway_id: String,
    pub nat_gateway_name: String,
    pub vpc_id: String,
    pub subnet_id: String,
    pub zone: String,
    pub created_ms: i64,
    /// The gateway's EIPs (entries of the region's addresses).
    pub address_ids: Vec<String>,
    #[serde(default)]
    pub dnat_rules: Vec<DnatRule>,
    /// `State` while it is not AVAILABLE (set through the admin API, or `UPDATING` for
    /// `dnat_update_ms` after a DNAT write), and until when.
    #[serde(default)]
    pub busy: Option<GatewayState>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct GatewayState {
    /// PENDING, DELETING, UPDATING, PENDFAILURE, DELETEFAILURE or DENIED.
    pub state: String,
    /// `None`: until changed again.
    pub until_ms: Option<i64>,
}

impl NatGateway {
    /// `State` as DescribeNatGateways shows it.
    pub fn state(&self, now_ms: i64) -> &str {
        match &self.busy {
            Some(b) if b.until_ms.is_none_or(|t| now_ms < t) => &b.state,
            _ => "AVAILABLE",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DnatRule {
    pub ip_protocol: String,
    pub public_ip_address: String,
    pub public_port: u64,
    pub private_ip_address: String,
    pub private_port: u64,
    #[serde(default)]
    pub description: String,
    pub created_ms: i64,
}

impl DnatRule {
    /// The cloud's uniqueness key: one rule per EIP, public port and protocol.
    pub fn same_public_side(&self, other: &DnatRule) -> bool {
        self.ip_protocol == other.ip_protocol
            && self.public_ip_address == other.public_ip_address
            && self.public_port == other.public_port
    }

    /// Whether both forward to the same private IP and port with the same protocol.
    pub fn same_private_side(&self, other: &DnatRule) -> bool {
        self.ip_protocol == other.ip_protocol
            && self.private_ip_address == other.private_ip_address
            && self.private_port == other.private_port
    }

    /// The same rule, as Delete and Modify name it (the description does not count).
    pub fn same_rule(&self, other: &DnatRule) -> bool {
        self.same_public_side(other)
            && self.private_ip_address == other.private_ip_address
            && self.private_port == other.private_port
    }

    /// The rule as the SDK's `DestinationIpPortTranslationNatRule` model has it.
    pub fn view(&self) -> Value {
        json!({
            "IpProtocol": self.ip_protocol,
            "PublicIpAddress": self.public_ip_address,
            "PublicPort": self.public_port,
            "PrivateIpAddress": self.private_ip_address,
            "PrivatePort": self.private_port,
            "Description": self.description,
        })
    }
}

impl Ctx<'_> {
    /// The gateway, for a DNAT write: it must exist and be AVAILABLE. A gateway in another
    /// state answers `UnsupportedOperation.NatGatewayIsBusy` (what the cloud answers then is
    /// not documented; "busy" is inferred from the code's description). With
    /// `dnat_update_ms`, the write itself leaves the gateway UPDATING that long.
    pub fn nat_gateway_for_write(&mut self, id: &str) -> ApiResult<&mut NatGateway> {
        let now = self.now_ms;
        let nat = self
            .region
            .nat_gateways
            .get_mut(id)
            .ok_or_else(|| nat_not_found(id))?;
        let state = nat.state(now).to_string();
        if state != "AVAILABLE" {
            return Err(ApiError::new(
                "UnsupportedOperation.NatGatewayIsBusy",
                format!("NAT gateway {id} is {state}; retry later."),
            ));
        }
        Ok(nat)
    }

    /// A DNAT write on `id` succeeded: the gateway is UPDATING for `dnat_update_ms`.
    pub fn nat_gateway_updated(&mut self, id: &str) {
        let until = self.now_ms + crate::clb::ms(self.settings.dnat_update_ms);
        if self.settings.dnat_update_ms == 0 {
            return;
        }
        if let Some(nat) = self.region.nat_gateways.get_mut(id) {
            nat.busy = Some(GatewayState {
                state: "UPDATING".to_string(),
                until_ms: Some(until),
            });
        }
    }

    pub fn nat_gateway(&self, id: &str) -> ApiResult<&NatGateway> {
        self.region
            .nat_gateways
            .get(id)
            .ok_or_else(|| nat_not_found(id))
    }

    /// The gateway's public IPs, from its addresses.
    pub fn nat_public_ips(&self, nat: &NatGateway) -> Vec<(String, String)> {
        nat.address_ids
            .iter()
            .filter_map(|id| self.region.addresses.get(id))
            .map(|a| (a.address_id.clone(), a.address_ip.clone()))
            .collect()
    }
}

pub fn nat_not_found(id: &str) -> ApiError {
    ApiError::new(
        "ResourceNotFound",
        format!("NAT gateway {id} does not exist."),
    )
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeNatGatewaysRequest {
    nat_gateway_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<Filter>,
    offset: Option<i64>,
    limit: Option<i64>,
}

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeNatGatewaysRequest) -> ApiResult<Value> {
    if req.nat_gateway_ids.is_some() && !req.filters.is_empty() {
        return Err(ApiError::new(
            "InvalidParameter.Coexist",
            "`NatGatewayIds` and `Filters` cannot be given together.",
        ));
    }
    Filter::check_names(
        &req.filters,
        &["nat-gateway-id", "vpc-id", "nat-gateway-name", "nat-state"],
        "InvalidParameter.FilterInvalidKey",
    )?;
    let matching: Vec<&NatGateway> = ctx
        .region
        .nat_gateways
        .values()
        .filter(|n| {
            req.nat_gateway_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&n.nat_gateway_id))
        })
        .filter(|n| Filter::matches(&req.filters, "nat-gateway-id", Some(&n.nat_gateway_id)))
        .filter(|n| Filter::matches(&req.filters, "vpc-id", Some(&n.vpc_id)))
        .filter(|n| Filter::matches(&req.filters, "nat-gateway-name", Some(&n.nat_gateway_name)))
        .filter(|n| Filter::matches(&req.filters, "nat-state", Some(n.state(ctx.now_ms))))
        .collect();
    let total = matching.len();
    let set: Vec<Value> = page(matching, req.offset, req.limit, 100)?
        .into_iter()
        .map(|n| nat_view(ctx, n))
        .collect();
    Ok(json!({ "TotalCount": total, "NatGatewaySet": set }))
}

/// A gateway as the SDK's `NatGateway` model has it.
fn nat_view(ctx: &Ctx<'_>, n: &NatGateway) -> Value {
    let ips: Vec<Value> = ctx
        .nat_public_ips(n)
        .into_iter()
        .map(|(id, ip)| json!({"AddressId": id, "PublicIpAddress": ip, "IsBlocked": false}))
        .collect();
    let rules: Vec<Value> = n.dnat_rules.iter().map(DnatRule::view).collect();
    json!({
        "NatGatewayId": n.nat_gateway_id,
        "NatGatewayName": n.nat_gateway_name,
        "CreatedTime": vpc_time(n.created_ms),
        "State": n.state(ctx.now_ms),
        "NetworkState": "AVAILABLE",
        "InternetMaxBandwidthOut": 100,
        "MaxConcurrentConnection": 1_000_000,
        "PublicIpAddressSet": ips,
        "DestinationIpPortTranslationNatRuleSet": rules,
        "VpcId": n.vpc_id,
        "Zone": n.zone,
        "SubnetId": n.subnet_id,
        "TagSet": [],
        "SecurityGroupSet": [],
        "SourceIpTranslationNatRuleSet": [],
        "IsExclusive": false,
        "NatProductVersion": 1,
    })
}
