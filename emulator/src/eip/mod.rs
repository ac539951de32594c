//! EIPs (VPC version 2017-03-12): addresses, their status transitions and the EIP tasks.
pub mod bind;
pub mod describe;
pub mod lifecycle;

use std::net::Ipv4Addr;

use serde::{Deserialize, Serialize};

use crate::clb::ms;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::state::RegionState;
use crate::tasks::{Task, TaskKind};
use crate::util::day_of;

#[derive(Debug, Clone, Copy, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "SCREAMING_SNAKE_CASE")]
pub enum AddressStatus {
    Creating,
    Binding,
    Bind,
    Unbinding,
    Unbind,
    Offlining,
}

impl AddressStatus {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Creating => "CREATING",
            Self::Binding => "BINDING",
            Self::Bind => "BIND",
            Self::Unbinding => "UNBINDING",
            Self::Unbind => "UNBIND",
            Self::Offlining => "OFFLINING",
        }
    }
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Address {
    pub address_id: String,
    pub address_name: String,
    pub address_ip: String,
    pub address_status: AddressStatus,
    /// `CVM` or `NAT` while bound.
    #[serde(default)]
    pub instance_type: Option<String>,
    #[serde(default)]
    pub instance_id: Option<String>,
    #[serde(default)]
    pub network_interface_id: Option<String>,
    #[serde(default)]
    pub private_address_ip: Option<String>,
    pub internet_charge_type: String,
    pub bandwidth: i64,
    #[serde(default)]
    pub tags: Vec<(String, String)>,
    pub created_ms: i64,
    /// The running task and the status it leads to (`None`: the address goes away).
    #[serde(default)]
    pub pending: Option<Pending>,
}

#[derive(Debug, Clone, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Pending {
    pub task_id: String,
    pub done_at_ms: i64,
    pub then: Option<AddressStatus>,
}

#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DailyCount {
    pub day: String,
    pub count: u32,
}

/// Finishes the EIP transitions whose task is over.
pub fn settle(region: &mut RegionState, now_ms: i64) {
    let mut gone = Vec::new();
    for address in region.addresses.values_mut() {
        let Some(p) = &address.pending else { continue };
        if now_ms < p.done_at_ms {
            continue;
        }
        match p.then {
            Some(status) => {
                address.address_status = status;
                if status == AddressStatus::Unbind {
                    address.instance_type = None;
                    address.instance_id = None;
                    address.network_interface_id = None;
                    address.private_address_ip = None;
                }
                address.pending = None;
            }
            None => gone.push(address.address_id.clone()),
        }
    }
    for id in gone {
        region.addresses.remove(&id);
    }
}

/// Public IPs come from TEST-NET-2 then TEST-NET-1 (RFC 5737): documentation addresses only.
pub fn free_public_ip(region: &RegionState) -> Option<Ipv4Addr> {
    let used = |ip: &Ipv4Addr| {
        let ip = ip.to_string();
        region.addresses.values().any(|a| a.address_ip == ip)
    };
    [[198, 51, 100], [192, 0, 2]]
        .iter()
        .flat_map(|[a, b, c]| (1..=254).map(move |d| Ipv4Addr::new(*a, *b, *c, d)))
        .find(|ip| !used(ip))
}

impl Ctx<'_> {
    /// Starts an EIP task on `addresses`, leading each to `then`; returns the TaskId.
    pub fn start_eip_task(
        &mut self,
        addresses: &[String],
        during: AddressStatus,
        then: Option<AddressStatus>,
    ) -> String {
        let done_at = self.now_ms + ms(self.settings.eip_task_ms());
        let task_id = self.tasks.add_eip(Task {
            kind: TaskKind::Eip,
            region: self.region_name.to_string(),
            resource_ids: addresses.to_vec(),
            deal_name: None,
            created_ms: self.now_ms,
            done_at_ms: done_at,
            failed: false,
        });
        for id in addresses {
            if let Some(a) = self.region.addresses.get_mut(id) {
                a.address_status = during;
                a.pending = Some(Pending {
                    task_id: task_id.clone(),
                    done_at_ms: done_at,
                    then,
                });
            }
        }
        task_id
    }

    /// The address, checked to be idle (no task running on it).
    pub fn idle_address(&mut self, id: &str) -> ApiResult<&mut Address> {
        if !id.starts_with("eip-") {
            return Err(ApiError::new(
                "InvalidParameterValue.AddressIdMalformed",
                format!("Address id {id} is malformed."),
            ));
        }
        let address = self.region.addresses.get_mut(id).ok_or_else(|| {
            ApiError::new(
                "InvalidAddressId.NotFound",
                format!("Address {id} does not exist."),
            )
        })?;
        if address.pending.is_some() {
            return Err(ApiError::new(
                "OperationDenied.MutexTaskRunning",
                format!("A task is running on address {id}; retry later."),
            ));
        }
        Ok(address)
    }

    pub fn allocations_today(&self) -> u32 {
        let d = &self.region.eip_allocations;
        if d.day == day_of(self.now_ms) {
            d.count
        } else {
            0
        }
    }
}

/// The codes the official Go SDK lists, per action, for an EIP whose status does not allow
/// the call (`client.go`, the error list above each action).
pub fn status_codes(action: &str) -> &'static [&'static str] {
    match action {
        "DisassociateAddress" => &[
            "InvalidAddressIdStatus.NotPermit",
            "UnsupportedOperation.AddressStatusNotPermit",
        ],
        "ReleaseAddresses" => &[
            "InvalidAddressState",
            "UnsupportedOperation.AddressStatusNotPermit",
        ],
        // AssociateAddress, ModifyAddressAttribute.
        _ => &["UnsupportedOperation.AddressStatusNotPermit"],
    }
}

impl Ctx<'_> {
    /// The error for EIP `id` in `status` when `action` needs it `wanted`. Where the SDK lists
    /// several codes for this, the answers go through them in turn, so that clients meet each.
    pub fn status_not_permitted(
        &mut self,
        action: &str,
        id: &str,
        status: AddressStatus,
        wanted: &str,
    ) -> ApiError {
        let codes = status_codes(action);
        let turn = self.region.status_conflicts;
        self.region.status_conflicts = turn.wrapping_add(1);
        let code = codes[usize::try_from(turn % codes.len() as u64).unwrap_or(0)];
        ApiError::new(
            code,
            format!(
                "Address {id} is {}; this needs it {wanted}.",
                status.as_str()
            ),
        )
    }
}
