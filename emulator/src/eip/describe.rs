//! DescribeAddresses.
use serde::Deserialize;
use serde_json::{Value, json};

use super::Address;
use crate::dispatch::Ctx;
use crate::error::{ApiError, ApiResult};
use crate::filters::Filter;
use crate::util::{iso_time, page};

const FILTERS: [&str; 10] = [
    "address-id",
    "address-name",
    "address-ip",
    "address-status",
    "instance-id",
    "private-ip-address",
    "network-interface-id",
    "instance-type",
    "tag-key",
    "tag:",
];

#[derive(Debug, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct DescribeAddressesRequest {
    address_ids: Option<Vec<String>>,
    #[serde(default)]
    filters: Vec<Filter>,
    offset: Option<i64>,
    limit: Option<i64>,
}

fn tag_filters_match(filters: &[Filter], tags: &[(String, String)]) -> bool {
    filters.iter().all(|f| {
        if f.name == "tag-key" {
            tags.iter().any(|(k, _)| f.values.contains(k))
        } else if let Some(key) = f.name.strip_prefix("tag:") {
            tags.iter().any(|(k, v)| k == key && f.values.contains(v))
        } else {
            true
        }
    })
}

fn matches(filters: &[Filter], a: &Address) -> bool {
    Filter::matches(filters, "address-id", Some(&a.address_id))
        && Filter::matches(filters, "address-name", Some(&a.address_name))
        && Filter::matches(filters, "address-ip", Some(&a.address_ip))
        && Filter::matches(filters, "address-status", Some(a.address_status.as_str()))
        && Filter::matches(filters, "instance-id", a.instance_id.as_deref())
        && Filter::matches(
            filters,
            "private-ip-address",
            a.private_address_ip.as_deref(),
        )
        && Filter::matches(
            filters,
            "network-interface-id",
            a.network_interface_id.as_deref(),
        )
        && Filter::matches(filters, "instance-type", a.instance_type.as_deref())
        && tag_filters_match(filters, &a.tags)
}

pub fn describe(ctx: &mut Ctx<'_>, req: DescribeAddressesRequest) -> ApiResult<Value> {
    if req.address_ids.is_some() && !req.filters.is_empty() {
        return Err(ApiError::new(
            "InvalidParameter.Coexist",
            "`AddressIds` and `Filters` cannot be given together.",
        ));
    }
    if req.address_ids.as_ref().is_some_and(|ids| ids.len() > 100) {
        return Err(ApiError::too_many("AddressIds", 100));
    }
    if req.filters.len() > 10 {
        return Err(ApiError::new(
            "LimitExceeded.NumberOfFilters",
            "At most 10 filters are accepted.",
        ));
    }
    Filter::check_names(&req.filters, &FILTERS, "InvalidParameter.FilterInvalidKey")?;
    let matching: Vec<&Address> = ctx
        .region
        .addresses
        .values()
        .filter(|a| {
            req.address_ids
                .as_ref()
                .is_none_or(|ids| ids.contains(&a.address_id))
        })
        .filter(|a| matches(&req.filters, a))
        .collect();
    let total = matching.len();
    let set: Vec<Value> = page(matching, req.offset, req.limit, 100)?
        .into_iter()
        .map(address_view)
        .collect();
    Ok(json!({ "TotalCount": total, "AddressSet": set }))
}

/// An address as the SDK's `Address` model has it.
fn address_view(a: &Address) -> Value {
    let tags: Vec<Value> = a
        .tags
        .iter()
        .map(|(k, v)| json!({"Key": k, "Value": v}))
        .collect();
    json!({
        "AddressId": a.address_id,
        "AddressName": a.address_name,
        "AddressStatus": a.address_status.as_str(),
        "AddressIp": a.address_ip,
        "InstanceId": a.instance_id,
        "CreatedTime": iso_time(a.created_ms),
        "NetworkInterfaceId": a.network_interface_id,
        "PrivateAddressIp": a.private_address_ip,
        "IsArrears": false,
        "IsBlocked": false,
        "IsEipDirectConnection": false,
        "AddressType": "EIP",
        "CascadeRelease": false,
        "InternetServiceProvider": "BGP",
        "LocalBgp": false,
        "Bandwidth": a.bandwidth,
        "InternetChargeType": a.internet_charge_type,
        "TagSet": tags,
        "InstanceType": a.instance_type,
    })
}
