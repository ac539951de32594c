//! The VPC calls the provider makes, each in the shape the provider wants: reads mapped to
//! [`ProviderError`]s and to [`EipRecord`]s of this cluster's EIPs only; writes returning the
//! client's error as it is, because what a failed write means depends on the step (an
//! ambiguous allocation, an IP that already has an EIP).
use std::sync::Arc;
use std::time::Duration;

use dac_provider_api::{ProviderError, Result};
use dac_tencentcloud::models::vpc::{self, Filter};
use dac_tencentcloud::{Error, ErrorKind, VpcApi};
use tokio::time::Instant;

use crate::errors::{self, Stage};
use crate::inventory::EipRecord;
use crate::stats::CountingVpcApi;

/// DescribeAddresses / DescribeNetworkInterfaces page size: the cloud's maximum.
const PAGE: i64 = 100;

/// How a wait for an EIP task ended.
#[derive(Debug)]
pub(crate) enum TaskEnd {
    Done,
    /// Still running at the deadline: the caller answers Pending and looks again later.
    Running,
    Failed(ProviderError),
}

pub(crate) struct Cloud {
    pub api: Arc<CountingVpcApi>,
    pub cluster: String,
    pub task_deadline: Duration,
}

impl Cloud {
    /// Every EIP of this cluster in `region` (all pages; the cloud's name filter is exact, so
    /// the prefix is matched here).
    pub async fn list_ours(&self, region: &str) -> Result<Vec<EipRecord>> {
        let mut ours = Vec::new();
        let mut offset = 0;
        loop {
            let req = vpc::DescribeAddressesRequest {
                offset: Some(offset),
                limit: Some(PAGE),
                ..Default::default()
            };
            let resp = self
                .api
                .describe_addresses(region, &req)
                .await
                .map_err(|e| errors::map(&e, Stage::Read))?;
            let page = resp.address_set.len() as i64;
            let seen = Instant::now();
            ours.extend(
                resp.address_set
                    .iter()
                    .filter_map(|a| EipRecord::from_model(&self.cluster, a, seen)),
            );
            offset += page;
            if page < PAGE || resp.total_count.is_some_and(|total| offset >= total) {
                return Ok(ours);
            }
        }
    }

    /// The EIP `id`: `Ok(None)` when it does not exist or is not this cluster's.
    pub async fn describe(&self, region: &str, id: &str) -> Result<Option<EipRecord>> {
        let req = vpc::DescribeAddressesRequest {
            address_ids: Some(vec![id.to_string()]),
            ..Default::default()
        };
        let resp = match self.api.describe_addresses(region, &req).await {
            Ok(resp) => resp,
            Err(e) if e.kind() == ErrorKind::NotFound => return Ok(None),
            Err(e) => return Err(errors::map(&e, Stage::Read)),
        };
        let seen = Instant::now();
        Ok(resp
            .address_set
            .iter()
            .filter(|a| a.address_id.as_deref() == Some(id))
            .find_map(|a| EipRecord::from_model(&self.cluster, a, seen)))
    }

    /// This cluster's EIPs named `name` (what an allocation under that name created).
    pub async fn find_named(&self, region: &str, name: &str) -> Result<Vec<EipRecord>> {
        self.find(region, "address-name", name).await.map(|found| {
            let seen = Instant::now();
            found
                .iter()
                .filter_map(|a| EipRecord::from_model(&self.cluster, a, seen))
                .collect()
        })
    }

    /// Every EIP (ours or not) bound to the private IP `ip`.
    pub async fn find_on_ip(&self, region: &str, ip: &str) -> Result<Vec<vpc::Address>> {
        self.find(region, "private-ip-address", ip).await
    }

    async fn find(&self, region: &str, filter: &str, value: &str) -> Result<Vec<vpc::Address>> {
        let req = vpc::DescribeAddressesRequest {
            filters: Some(vec![Filter::new(filter, [value])]),
            limit: Some(PAGE),
            ..Default::default()
        };
        self.api
            .describe_addresses(region, &req)
            .await
            .map(|resp| resp.address_set)
            .map_err(|e| errors::map(&e, Stage::Read))
    }

    /// The ENI that holds the private IP `ip`, if any. `address-ip` alone matches by suffix
    /// (`10.0.0.1` would also find `10.0.0.11`), hence `ip-exact-match`, and the answer is
    /// checked as well.
    pub async fn find_eni(&self, region: &str, ip: &str) -> Result<Option<String>> {
        let req = vpc::DescribeNetworkInterfacesRequest {
            filters: Some(vec![
                Filter::new("address-ip", [ip]),
                Filter::new("ip-exact-match", ["true"]),
            ]),
            limit: Some(PAGE),
            ..Default::default()
        };
        let resp = self
            .api
            .describe_network_interfaces(region, &req)
            .await
            .map_err(|e| errors::map(&e, Stage::Read))?;
        Ok(resp
            .network_interface_set
            .into_iter()
            .filter(|eni| {
                eni.private_ip_address_set
                    .iter()
                    .any(|p| p.private_ip_address.as_deref() == Some(ip))
            })
            .find_map(|eni| eni.network_interface_id))
    }

    pub async fn allocate(
        &self,
        region: &str,
        count: u32,
        name: &str,
        client_token: &str,
        charge: (Option<String>, Option<i64>),
    ) -> Result<vpc::AllocateAddressesResponse, Error> {
        let req = vpc::AllocateAddressesRequest {
            address_count: Some(i64::from(count)),
            address_name: Some(name.to_string()),
            client_token: Some(client_token.to_string()),
            internet_charge_type: charge.0,
            internet_max_bandwidth_out: charge.1,
            ..Default::default()
        };
        self.api.allocate_addresses(region, &req).await
    }

    pub async fn associate(
        &self,
        region: &str,
        id: &str,
        eni: &str,
        ip: &str,
    ) -> Result<Option<String>, Error> {
        let req = vpc::AssociateAddressRequest {
            address_id: id.to_string(),
            network_interface_id: Some(eni.to_string()),
            private_ip_address: Some(ip.to_string()),
            ..Default::default()
        };
        Ok(self.api.associate_address(region, &req).await?.task_id)
    }

    pub async fn disassociate(&self, region: &str, id: &str) -> Result<Option<String>, Error> {
        let req = vpc::DisassociateAddressRequest {
            address_id: id.to_string(),
            ..Default::default()
        };
        Ok(self.api.disassociate_address(region, &req).await?.task_id)
    }

    /// Renames EIP `id` (ModifyAddressAttribute; synchronous).
    pub async fn rename(&self, region: &str, id: &str, name: &str) -> Result<(), Error> {
        let req = vpc::ModifyAddressAttributeRequest {
            address_id: id.to_string(),
            address_name: Some(name.to_string()),
            ..Default::default()
        };
        self.api
            .modify_address_attribute(region, &req)
            .await
            .map(drop)
    }

    pub async fn release(&self, region: &str, ids: &[String]) -> Result<Option<String>, Error> {
        let req = vpc::ReleaseAddressesRequest {
            address_ids: ids.to_vec(),
        };
        Ok(self.api.release_addresses(region, &req).await?.task_id)
    }

    /// Waits for an EIP task until the configured deadline. A write that answered without a
    /// task id is taken as done; the next read shows its real state anyway.
    pub async fn wait(&self, region: &str, task_id: Option<&str>, stage: Stage) -> TaskEnd {
        let Some(task_id) = task_id.filter(|t| !t.is_empty()) else {
            return TaskEnd::Done;
        };
        let deadline = Instant::now() + self.task_deadline;
        match self.api.wait_vpc_task(region, task_id, deadline).await {
            Ok(_) => TaskEnd::Done,
            Err(Error::TaskTimeout { .. }) => TaskEnd::Running,
            Err(e) => TaskEnd::Failed(errors::map(&e, stage)),
        }
    }
}
