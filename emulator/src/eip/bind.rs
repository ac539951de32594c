//! AssociateAddress and DisassociateAddress.
use std::net::Ipv4Addr;

use serde::Deserialize;
use serde_json::{Value, json};

use super::AddressStatus;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct AssociateAddressRequest {
    address_id: String,
    instance_id: Option<String>,
    network_interface_id: Option<String>,
    private_ip_address: Option<String>,
}

/// Where an address gets bound.
struct Binding {
    instance_id: String,
    eni: Option<(String, String)>,
}

fn eni_not_found(id: &str, ip: &str) -> ApiError {
    ApiError::new(
        "InvalidNetworkInterfaceId.NotFound",
        format!("Network interface {id} with private IP {ip} does not exist."),
    )
}

fn binding(ctx: &mut Ctx<'_>, req: &AssociateAddressRequest) -> ApiResult<Binding> {
    match (&req.instance_id, &req.network_interface_id) {
        (Some(_), Some(_)) => Err(ApiError::new(
            "InvalidParameter.Coexist",
            "`InstanceId` and `NetworkInterfaceId` cannot be given together.",
        )),
        (None, None) => Err(ApiError::missing_parameter("InstanceId")),
        (Some(instance), None) => {
            if !instance.starts_with("ins-") {
                return Err(ApiError::new(
                    "InvalidInstanceId.NotFound",
                    format!("Instance {instance} does not exist."),
                ));
            }
            Ok(Binding {
                instance_id: instance.clone(),
                eni: None,
            })
        }
        (None, Some(eni_id)) => {
            if !eni_id.starts_with("eni-") {
                return Err(ApiError::new(
                    "InvalidParameterValue.NetworkInterfaceIdMalformed",
                    format!("Network interface id {eni_id} is malformed."),
                ));
            }
            let known = ctx.region.network_interfaces.get(eni_id).cloned();
            // Without PrivateIpAddress the ENI's primary IP is meant.
            let ip = match (&req.private_ip_address, &known) {
                (Some(ip), _) => ip.clone(),
                (None, Some(eni)) => eni.private_ip_address.clone(),
                (None, None) => return Err(eni_not_found(eni_id, "?")),
            };
            // The ENI of an IP is derived from it, so an id and an IP that do not belong
            // together name no ENI at all.
            let eni = ip
                .parse::<Ipv4Addr>()
                .ok()
                .and_then(|parsed| ctx.eni_for_ip(parsed))
                .filter(|eni| eni.network_interface_id == *eni_id)
                .ok_or_else(|| eni_not_found(eni_id, &ip))?;
            Ok(Binding {
                instance_id: eni.instance_id,
                eni: Some((eni.network_interface_id, ip)),
            })
        }
    }
}

pub fn associate(ctx: &mut Ctx<'_>, req: AssociateAddressRequest) -> ApiResult<Value> {
    let status = ctx.idle_address(&req.address_id)?.address_status;
    if status != AddressStatus::Unbind {
        return Err(ctx.status_not_permitted(
            "AssociateAddress",
            &req.address_id,
            status,
            "UNBIND",
        ));
    }
    let target = binding(ctx, &req)?;
    let taken = ctx.region.addresses.values().find(|a| {
        a.address_status != AddressStatus::Unbind
            && match &target.eni {
                Some((_, ip)) => a.private_address_ip.as_deref() == Some(ip.as_str()),
                None => {
                    a.instance_id.as_deref() == Some(&target.instance_id)
                        && a.network_interface_id.is_none()
                }
            }
    });
    if let Some(other) = taken {
        return Err(ApiError::new(
            "InvalidPrivateIpAddress.AlreadyBindEip",
            format!("The private IP already has EIP {} bound.", other.address_id),
        ));
    }
    let address = ctx.idle_address(&req.address_id)?;
    address.instance_type = Some("CVM".to_string());
    address.instance_id = Some(target.instance_id);
    if let Some((eni_id, ip)) = target.eni {
        address.network_interface_id = Some(eni_id);
        address.private_address_ip = Some(ip);
    }
    let task_id = ctx.start_eip_task(
        &[req.address_id],
        AddressStatus::Binding,
        Some(AddressStatus::Bind),
    );
    Ok(json!({ "TaskId": task_id }))
}

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DisassociateAddressRequest {
    address_id: String,
}

pub fn disassociate(ctx: &mut Ctx<'_>, req: DisassociateAddressRequest) -> ApiResult<Value> {
    let address = ctx.idle_address(&req.address_id)?;
    let status = address.address_status;
    if status != AddressStatus::Bind {
        return Err(ctx.status_not_permitted(
            "DisassociateAddress",
            &req.address_id,
            status,
            "BIND",
        ));
    }
    let address = ctx.idle_address(&req.address_id)?;
    if address.instance_type.as_deref() == Some("NAT") {
        return Err(ApiError::new(
            "UnsupportedOperation.IncorrectAddressResourceType",
            format!("Address {} belongs to a NAT gateway.", req.address_id),
        ));
    }
    let task_id = ctx.start_eip_task(
        &[req.address_id],
        AddressStatus::Unbinding,
        Some(AddressStatus::Unbind),
    );
    Ok(json!({ "TaskId": task_id }))
}
