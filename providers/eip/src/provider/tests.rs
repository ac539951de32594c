//! The provider against `MockVpcApi`, whose answers come from a small in-memory cloud (`Fake`),
//! so that each test states a situation and checks the calls the provider made.
use std::collections::BTreeMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dac_provider_api::{
    AddressProvider, AllocationMode, Backend, Binding, BindingKey, BindingState, BindingStatus,
    Protocol, ProviderError, Scope, Slot,
};
use dac_tencentcloud::models::vpc;
use dac_tencentcloud::{Error, MockVpcApi};
use serde_json::json;
use tokio::task::JoinSet;

use crate::{EipProvider, EipProviderConfig, PoolLimits, Retention, reason};

const REGION: &str = "ap-guangzhou";
const CLUSTER: &str = "cls-test";

/// What the fake cloud holds and what it was asked.
#[derive(Default)]
struct Fake {
    addresses: BTreeMap<String, vpc::Address>,
    next: u32,
    quota: i64,
    daily_limit: i64,
    allocated_today: i64,
    /// Answers for the next AllocateAddresses calls: an error, and whether the call still
    /// created its EIPs (an answer lost after the cloud acted).
    allocate_faults: Vec<(Error, bool)>,
    /// ClientToken -> the ids that call created, as the cloud answers a resend.
    tokens: BTreeMap<String, Vec<String>>,
    allocate_requests: Vec<vpc::AllocateAddressesRequest>,
    associate_requests: Vec<vpc::AssociateAddressRequest>,
    /// An EIP the next full listing misses (its pages shifted under it).
    missed_by_next_listing: Option<String>,
}

fn api_error(action: &str, code: &str) -> Error {
    Error::api(action, code, "from the fake", "req-fake")
}

fn eni_of(ip: &str) -> Option<String> {
    ip.starts_with("10.")
        .then(|| format!("eni-{}", ip.replace('.', "")))
}

impl Fake {
    fn new() -> Self {
        Self {
            quota: 20,
            daily_limit: 40,
            ..Default::default()
        }
    }

    fn add(&mut self, id: &str, name: &str, bound_to: Option<&str>) {
        let n = self.addresses.len() + 100;
        self.addresses.insert(
            id.into(),
            vpc::Address {
                address_id: Some(id.into()),
                address_name: Some(name.into()),
                address_ip: Some(format!("192.0.2.{n}")),
                address_status: Some(if bound_to.is_some() { "BIND" } else { "UNBIND" }.into()),
                private_address_ip: bound_to.map(Into::into),
                network_interface_id: bound_to.and_then(eni_of),
                ..Default::default()
            },
        );
    }

    fn status(&self, id: &str) -> &str {
        self.addresses[id].address_status.as_deref().unwrap()
    }

    fn describe(&mut self, req: &vpc::DescribeAddressesRequest) -> vpc::DescribeAddressesResponse {
        let filters = req.filters.clone().unwrap_or_default();
        let full_listing = req.address_ids.is_none() && filters.is_empty();
        let missed = if full_listing {
            self.missed_by_next_listing.take()
        } else {
            None
        };
        let matches = |a: &vpc::Address| {
            filters.iter().all(|f| {
                let value = match f.name.as_str() {
                    "address-name" => a.address_name.as_deref(),
                    "private-ip-address" => a.private_address_ip.as_deref(),
                    other => panic!("unexpected filter {other}"),
                };
                value.is_some_and(|v| f.values.iter().any(|x| x == v))
            })
        };
        let all: Vec<vpc::Address> = self
            .addresses
            .values()
            .filter(|a| {
                req.address_ids
                    .as_ref()
                    .is_none_or(|ids| ids.contains(a.address_id.as_ref().unwrap()))
            })
            .filter(|a| matches(a))
            .filter(|a| missed.is_none() || a.address_id != missed)
            .cloned()
            .collect();
        let offset = req.offset.unwrap_or(0) as usize;
        let limit = req.limit.unwrap_or(20) as usize;
        vpc::DescribeAddressesResponse {
            total_count: Some(all.len() as i64),
            address_set: all.into_iter().skip(offset).take(limit).collect(),
            ..Default::default()
        }
    }

    fn allocate(
        &mut self,
        req: &vpc::AllocateAddressesRequest,
    ) -> Result<vpc::AllocateAddressesResponse, Error> {
        self.allocate_requests.push(req.clone());
        let token = req.client_token.clone().unwrap_or_default();
        let fault = (!self.allocate_faults.is_empty()).then(|| self.allocate_faults.remove(0));
        if let Some(ids) = self.tokens.get(&token) {
            // A repeated token: the first answer, unless the answer is lost again.
            return match fault {
                Some((error, _)) => Err(error),
                None => Ok(self.allocated(ids.clone())),
            };
        }
        if let Some((error, false)) = fault {
            return Err(error);
        }
        let count = req.address_count.unwrap_or(1);
        if self.addresses.len() as i64 + count > self.quota {
            return Err(api_error("AllocateAddresses", "AddressQuotaLimitExceeded"));
        }
        if self.allocated_today + count > self.daily_limit {
            return Err(api_error(
                "AllocateAddresses",
                "AddressQuotaLimitExceeded.DailyAllocate",
            ));
        }
        let mut ids = Vec::new();
        for _ in 0..count {
            self.next += 1;
            let id = format!("eip-{:04}", self.next);
            let name = req.address_name.clone().unwrap_or_default();
            self.add(&id, &name, None);
            ids.push(id);
        }
        self.allocated_today += count;
        self.tokens.insert(token, ids.clone());
        match fault {
            Some((error, true)) => Err(error),
            _ => Ok(self.allocated(ids)),
        }
    }

    fn allocated(&self, ids: Vec<String>) -> vpc::AllocateAddressesResponse {
        vpc::AllocateAddressesResponse {
            address_set: ids,
            task_id: Some("1".into()),
            ..Default::default()
        }
    }

    fn associate(&mut self, req: &vpc::AssociateAddressRequest) -> Result<String, Error> {
        self.associate_requests.push(req.clone());
        let ip = req.private_ip_address.clone().unwrap();
        if eni_of(&ip) != req.network_interface_id {
            return Err(api_error(
                "AssociateAddress",
                "InvalidNetworkInterfaceId.NotFound",
            ));
        }
        if self.status(&req.address_id) != "UNBIND" {
            return Err(api_error(
                "AssociateAddress",
                "InvalidAddressIdStatus.NotPermit",
            ));
        }
        if self
            .addresses
            .values()
            .any(|a| a.private_address_ip.as_deref() == Some(&ip))
        {
            return Err(api_error(
                "AssociateAddress",
                "InvalidPrivateIpAddress.AlreadyBindEip",
            ));
        }
        let a = self.addresses.get_mut(&req.address_id).unwrap();
        a.address_status = Some("BIND".into());
        a.private_address_ip = Some(ip);
        a.network_interface_id = req.network_interface_id.clone();
        Ok("2".into())
    }

    fn disassociate(&mut self, id: &str) -> Result<String, Error> {
        let Some(a) = self.addresses.get_mut(id) else {
            return Err(api_error(
                "DisassociateAddress",
                "InvalidAddressId.NotFound",
            ));
        };
        if a.address_status.as_deref() != Some("BIND") {
            return Err(api_error(
                "DisassociateAddress",
                "InvalidAddressIdStatus.NotPermit",
            ));
        }
        a.address_status = Some("UNBIND".into());
        a.private_address_ip = None;
        a.network_interface_id = None;
        Ok("3".into())
    }

    fn release(&mut self, ids: &[String]) -> Result<String, Error> {
        for id in ids {
            if !self.addresses.contains_key(id) {
                return Err(api_error("ReleaseAddresses", "InvalidAddressId.NotFound"));
            }
            if self.status(id) != "UNBIND" {
                return Err(api_error(
                    "ReleaseAddresses",
                    "InvalidAddressIdStatus.NotPermit",
                ));
            }
        }
        for id in ids {
            self.addresses.remove(id);
        }
        Ok("4".into())
    }
}

/// A mock whose every VPC answer comes from `fake`; tasks finish at once.
fn mock(fake: &Arc<Mutex<Fake>>) -> MockVpcApi {
    let mut mock = MockVpcApi::new();
    let f = Arc::clone(fake);
    mock.expect_describe_addresses()
        .returning(move |_, req| Ok(f.lock().unwrap().describe(req)));
    let f = Arc::clone(fake);
    mock.expect_describe_address_quota().returning(move |_, _| {
        let f = f.lock().unwrap();
        let quota = |id: &str, current, limit| vpc::Quota {
            quota_id: Some(id.into()),
            quota_current: Some(current),
            quota_limit: Some(limit),
            quota_group: None,
        };
        Ok(vpc::DescribeAddressQuotaResponse {
            quota_set: vec![
                quota("TOTAL_EIP_QUOTA", f.addresses.len() as i64, f.quota),
                quota("DAILY_EIP_APPLY", f.allocated_today, f.daily_limit),
            ],
            ..Default::default()
        })
    });
    let f = Arc::clone(fake);
    mock.expect_allocate_addresses()
        .returning(move |_, req| f.lock().unwrap().allocate(req));
    let f = Arc::clone(fake);
    mock.expect_associate_address().returning(move |_, req| {
        let task_id = f.lock().unwrap().associate(req)?;
        Ok(vpc::AssociateAddressResponse {
            task_id: Some(task_id),
            ..Default::default()
        })
    });
    let f = Arc::clone(fake);
    mock.expect_disassociate_address().returning(move |_, req| {
        let task_id = f.lock().unwrap().disassociate(&req.address_id)?;
        Ok(vpc::DisassociateAddressResponse {
            task_id: Some(task_id),
            ..Default::default()
        })
    });
    let f = Arc::clone(fake);
    mock.expect_modify_address_attribute()
        .returning(move |_, req| {
            let mut f = f.lock().unwrap();
            let Some(a) = f.addresses.get_mut(&req.address_id) else {
                return Err(api_error(
                    "ModifyAddressAttribute",
                    "InvalidAddressId.NotFound",
                ));
            };
            a.address_name = req.address_name.clone();
            Ok(Default::default())
        });
    let f = Arc::clone(fake);
    mock.expect_release_addresses().returning(move |_, req| {
        let task_id = f.lock().unwrap().release(&req.address_ids)?;
        Ok(vpc::ReleaseAddressesResponse {
            task_id: Some(task_id),
            ..Default::default()
        })
    });
    mock.expect_describe_network_interfaces()
        .returning(|_, req| {
            let filters = req.filters.clone().unwrap_or_default();
            let ip = filters
                .iter()
                .find(|f| f.name == "address-ip")
                .map(|f| f.values[0].clone())
                .unwrap();
            assert!(
                filters
                    .iter()
                    .any(|f| f.name == "ip-exact-match" && f.values == ["true"])
            );
            Ok(vpc::DescribeNetworkInterfacesResponse {
                network_interface_set: eni_of(&ip)
                    .map(|id| vpc::NetworkInterface {
                        network_interface_id: Some(id),
                        private_ip_address_set: vec![vpc::PrivateIpAddressSpecification {
                            private_ip_address: Some(ip.clone()),
                            primary: Some(true),
                            ..Default::default()
                        }],
                        ..Default::default()
                    })
                    .into_iter()
                    .collect(),
                ..Default::default()
            })
        });
    mock.expect_wait_vpc_task().returning(|_, _, _| {
        Ok(vpc::DescribeTaskResultResponse {
            result: Some("SUCCESS".into()),
            ..Default::default()
        })
    });
    mock
}

fn config() -> EipProviderConfig {
    EipProviderConfig {
        region: REGION.into(),
        cluster_id: CLUSTER.into(),
        // Every ensure reads the cloud again, so that the tests see the calls a resync makes.
        verify_ttl_ms: 0,
        ..Default::default()
    }
}

fn setup(config: EipProviderConfig) -> (Arc<Mutex<Fake>>, Arc<EipProvider>) {
    let fake = Arc::new(Mutex::new(Fake::new()));
    let provider = EipProvider::new(Arc::new(mock(&fake)), config).unwrap();
    (fake, Arc::new(provider))
}

fn binding(pod: &str, port: u16, ip: Option<&str>) -> Binding {
    Binding {
        key: BindingKey::new("games", format!("{pod}-{port}")),
        region: None,
        slot: Slot::PodAddress {
            pod_name: pod.into(),
            port,
            protocol: Protocol::Udp,
        },
        backend: ip.map(|ip| Backend {
            pod_name: pod.into(),
            pod_ip: ip.into(),
            port,
        }),
        resource_id: None,
        listener_settings: None,
        options: None,
        keep_pod_address: false,
    }
}

fn keep_for(mut b: Binding, duration: &str) -> Binding {
    b.options = Some(json!({"retention": {"policy": "KeepFor", "duration": duration}}));
    b
}

async fn ensure_all(
    provider: &Arc<EipProvider>,
    bindings: Vec<Binding>,
) -> Vec<dac_provider_api::Result<BindingStatus>> {
    let mut set = JoinSet::new();
    for (i, b) in bindings.into_iter().enumerate() {
        let p = Arc::clone(provider);
        set.spawn(async move { (i, p.ensure(&b).await) });
    }
    let mut out = set.join_all().await;
    out.sort_by_key(|(i, _)| *i);
    out.into_iter().map(|(_, r)| r).collect()
}

fn ip_of(status: &BindingStatus) -> &str {
    status
        .address
        .as_deref()
        .unwrap()
        .split(':')
        .next()
        .unwrap()
}

#[tokio::test]
async fn the_ports_of_a_pod_meet_on_one_eip_allocated_and_bound_once() {
    let (fake, provider) = setup(config());
    assert_eq!(provider.name(), "eip");
    assert_eq!(provider.allocation_mode(), AllocationMode::AddressPerPod);
    assert!(
        provider
            .frontends(&Scope::default())
            .await
            .unwrap()
            .is_empty()
    );

    let results = ensure_all(
        &provider,
        vec![
            binding("room-0", 7000, Some("10.0.0.5")),
            binding("room-0", 7001, Some("10.0.0.5")),
        ],
    )
    .await;
    let a = results[0].clone().unwrap();
    let b = results[1].clone().unwrap();
    assert_eq!(a.state, BindingState::Bound);
    assert_eq!(a.resource_id, b.resource_id);
    assert_eq!(ip_of(&a), ip_of(&b));
    assert!(a.address.as_deref().unwrap().ends_with(":7000"));
    assert!(b.address.as_deref().unwrap().ends_with(":7001"));

    let stats = provider.stats();
    assert_eq!(stats.writes_of("AllocateAddresses"), 1, "{stats}");
    assert_eq!(stats.writes_of("AssociateAddress"), 1, "{stats}");
    assert_eq!(stats.total_writes(), 2, "{stats}");
    let fake = fake.lock().unwrap();
    let allocate = &fake.allocate_requests[0];
    assert_eq!(allocate.address_count, Some(1));
    assert_eq!(
        allocate.address_name.as_deref(),
        Some("dac_cls-test_games_room-0")
    );
    let token = allocate.client_token.as_deref().unwrap();
    assert!(
        token.starts_with("dac-cls-test-") && token.len() <= 64,
        "{token}"
    );
    let associate = &fake.associate_requests[0];
    assert_eq!(associate.address_id, a.resource_id);
    assert_eq!(associate.network_interface_id.as_deref(), Some("eni-10005"));
    assert_eq!(associate.private_ip_address.as_deref(), Some("10.0.0.5"));
    assert_eq!(associate.instance_id, None);
}

#[tokio::test]
async fn ensuring_again_writes_nothing() {
    let (_fake, provider) = setup(config());
    let first = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    let before = provider.stats();
    for port in [7000, 7001, 7000] {
        let again = provider
            .ensure(&binding("room-0", port, Some("10.0.0.5")))
            .await
            .unwrap();
        assert_eq!(again.resource_id, first.resource_id);
        assert_eq!(again.state, BindingState::Bound);
    }
    let spent = provider.stats().since(&before);
    assert_eq!(spent.total_writes(), 0, "{spent}");
    // With the default trust window, the other ports of a Pod cost no reads either.
    let (_fake, quick) = setup(EipProviderConfig {
        verify_ttl_ms: 60_000,
        ..config()
    });
    quick
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    let before = quick.stats();
    quick
        .ensure(&binding("room-0", 7001, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(quick.stats().since(&before), Default::default());
}

#[tokio::test]
async fn a_pod_without_an_ip_gets_a_reserved_unbound_eip() {
    let (fake, provider) = setup(config());
    let status = provider
        .ensure(&binding("room-0", 7000, None))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Available);
    assert!(status.address.is_some(), "the address is known already");
    assert_eq!(fake.lock().unwrap().status(&status.resource_id), "UNBIND");
    assert_eq!(provider.stats().writes_of("AssociateAddress"), 0);

    // The Pod gets its IP: the same EIP is bound.
    let bound = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(bound.resource_id, status.resource_id);
    assert_eq!(bound.state, BindingState::Bound);
    // The Pod loses its IP (recreated under the same name): unbound, still reserved.
    let again = provider
        .ensure(&binding("room-0", 7000, None))
        .await
        .unwrap();
    assert_eq!(again.state, BindingState::Available);
    assert_eq!(fake.lock().unwrap().status(&status.resource_id), "UNBIND");
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 1);
}

#[tokio::test]
async fn a_new_pod_ip_moves_the_same_eip() {
    let (fake, provider) = setup(config());
    let first = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    let before = provider.stats();
    let moved = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.9")))
        .await
        .unwrap();
    assert_eq!(moved.resource_id, first.resource_id);
    assert_eq!(moved.address, first.address);
    let spent = provider.stats().since(&before);
    assert_eq!(spent.writes_of("DisassociateAddress"), 1, "{spent}");
    assert_eq!(spent.writes_of("AssociateAddress"), 1, "{spent}");
    assert_eq!(spent.total_writes(), 2, "{spent}");
    let fake = fake.lock().unwrap();
    assert_eq!(
        fake.addresses[&first.resource_id]
            .private_address_ip
            .as_deref(),
        Some("10.0.0.9")
    );
}

#[tokio::test]
async fn after_a_restart_the_binding_status_and_the_association_find_the_eip() {
    let (fake, provider) = setup(config());
    let first = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    let restarted = Arc::new(EipProvider::new(Arc::new(mock(&fake)), config()).unwrap());
    // By the association alone (no resource_id).
    let found = restarted
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(found.resource_id, first.resource_id);
    // By the resource_id, after the Pod's IP changed while the controller was down.
    let again = Arc::new(EipProvider::new(Arc::new(mock(&fake)), config()).unwrap());
    let mut b = binding("room-0", 7000, Some("10.0.0.8"));
    b.resource_id = Some(first.resource_id.clone());
    let moved = again.ensure(&b).await.unwrap();
    assert_eq!(moved.resource_id, first.resource_id);
    assert_eq!(moved.state, BindingState::Bound);
    assert_eq!(restarted.stats().total_writes(), 0);
    assert_eq!(again.stats().writes_of("AllocateAddresses"), 0);
}

#[tokio::test]
async fn quota_exhausted_is_user_fixable_and_costs_no_allocation() {
    let (fake, provider) = setup(config());
    fake.lock().unwrap().quota = 1;
    provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    for pod in ["room-1", "room-2", "room-1"] {
        let err = provider
            .ensure(&binding(pod, 7000, Some("10.0.0.6")))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), reason::EIP_QUOTA_EXCEEDED);
        assert!(
            err.message().contains("TOTAL_EIP_QUOTA"),
            "{}",
            err.message()
        );
        assert!(!err.is_retryable());
    }
    let stats = provider.stats();
    assert_eq!(stats.writes_of("AllocateAddresses"), 1, "{stats}");
    assert_eq!(stats.reads_of("DescribeAddressQuota"), 1, "{stats}");
}

#[tokio::test]
async fn the_clouds_daily_limit_refusal_maps_the_same_and_is_not_retried() {
    let (fake, provider) = setup(config());
    fake.lock().unwrap().allocate_faults.push((
        api_error(
            "AllocateAddresses",
            "AddressQuotaLimitExceeded.DailyAllocate",
        ),
        false,
    ));
    for _ in 0..3 {
        let err = provider
            .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
            .await
            .unwrap_err();
        assert_eq!(err.reason(), reason::EIP_QUOTA_EXCEEDED);
    }
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 1);
}

#[tokio::test]
async fn an_allocation_whose_answer_was_lost_is_resent_with_its_token_and_not_allocated_twice() {
    let (fake, provider) = setup(config());
    fake.lock()
        .unwrap()
        .allocate_faults
        .push((api_error("AllocateAddresses", "InternalError"), true));
    let status = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Bound);
    let f = fake.lock().unwrap();
    assert_eq!(f.addresses.len(), 1, "no second EIP");
    let tokens: Vec<_> = f
        .allocate_requests
        .iter()
        .map(|r| r.client_token.clone())
        .collect();
    assert_eq!(tokens.len(), 2, "the lost call and its resend");
    assert_eq!(tokens[0], tokens[1]);
}

#[tokio::test]
async fn an_allocation_whose_resend_is_lost_too_is_found_by_its_name() {
    let (fake, provider) = setup(config());
    {
        let mut f = fake.lock().unwrap();
        f.allocate_faults
            .push((api_error("AllocateAddresses", "InternalError"), true));
        f.allocate_faults
            .push((api_error("AllocateAddresses", "InternalError"), false));
    }
    let status = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(status.state, BindingState::Bound);
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 2);
    assert_eq!(fake.lock().unwrap().addresses.len(), 1, "no second EIP");
}

#[tokio::test]
async fn a_lost_allocation_is_resent_with_the_same_client_token() {
    let (fake, provider) = setup(config());
    for _ in 0..2 {
        fake.lock()
            .unwrap()
            .allocate_faults
            .push((api_error("AllocateAddresses", "InternalError"), false));
    }
    let err = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap_err();
    assert!(err.is_retryable(), "{err}");
    provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    // A later, unrelated allocation gets a token of its own.
    provider
        .ensure(&binding("room-1", 7000, Some("10.0.0.6")))
        .await
        .unwrap();
    let tokens: Vec<_> = fake
        .lock()
        .unwrap()
        .allocate_requests
        .iter()
        .map(|r| r.client_token.clone())
        .collect();
    assert_eq!(tokens.len(), 4);
    assert_eq!(tokens[0], tokens[1], "resent at once");
    assert_eq!(tokens[1], tokens[2], "and with the next ensure");
    assert_ne!(tokens[2], tokens[3]);
    assert_eq!(provider.stats().addresses_allocated, 2);
}

#[tokio::test]
async fn an_allocation_still_processing_keeps_its_token() {
    let (fake, provider) = setup(config());
    {
        let mut f = fake.lock().unwrap();
        // Lost after the cloud acted; the resend finds the first call still being processed
        // (what the client reports once its busy budget is spent).
        f.allocate_faults
            .push((api_error("AllocateAddresses", "InternalError"), true));
        f.allocate_faults.push((
            api_error(
                "AllocateAddresses",
                "UnsupportedOperation.IdempotentProcessing",
            ),
            true,
        ));
    }
    let b = binding("room-0", 7000, Some("10.0.0.5"));
    let first = provider.ensure(&b).await;
    // The lost call's EIP is found by its name or later through its token, never made twice.
    if first.is_err() {
        provider.ensure(&b).await.unwrap();
    }
    let f = fake.lock().unwrap();
    assert_eq!(f.addresses.len(), 1, "no second EIP");
    let tokens: BTreeMap<_, _> = f
        .allocate_requests
        .iter()
        .map(|r| (r.client_token.clone(), ()))
        .collect();
    assert_eq!(tokens.len(), 1, "one token for the one order: {tokens:?}");
}

#[tokio::test]
async fn a_definite_refusal_clears_the_token() {
    let (fake, provider) = setup(config());
    {
        let mut f = fake.lock().unwrap();
        // Lost, then refused on the resend: the order failed for good.
        f.allocate_faults
            .push((api_error("AllocateAddresses", "InternalError"), false));
        f.allocate_faults.push((
            api_error("AllocateAddresses", "InvalidParameterValue.Combination"),
            false,
        ));
    }
    let b = binding("room-0", 7000, Some("10.0.0.5"));
    let err = provider.ensure(&b).await.unwrap_err();
    assert!(!err.is_retryable(), "{err}");
    provider.ensure(&b).await.unwrap();
    let tokens: Vec<_> = fake
        .lock()
        .unwrap()
        .allocate_requests
        .iter()
        .map(|r| r.client_token.clone())
        .collect();
    assert_eq!(tokens.len(), 3);
    assert_eq!(tokens[0], tokens[1]);
    assert_ne!(tokens[1], tokens[2], "a new token after the refusal");
}

#[tokio::test]
async fn a_pod_ip_outside_the_vpc_is_user_fixable_and_keeps_the_eip_reserved() {
    let (_fake, provider) = setup(config());
    let err = provider
        .ensure(&binding("room-0", 7000, Some("172.16.0.5")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reason::POD_IP_NOT_IN_VPC);
    let v6 = provider
        .ensure(&binding("room-1", 7000, Some("fd00::1")))
        .await
        .unwrap_err();
    assert_eq!(v6.reason(), reason::POD_IP_NOT_IN_VPC);
    // Fixed: the Pod gets a VPC IP and the EIP it already had.
    provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 1);
}

#[tokio::test]
async fn eips_that_are_not_ours_are_never_taken_nor_touched() {
    let (fake, provider) = setup(config());
    {
        let mut fake = fake.lock().unwrap();
        fake.add("eip-nat1", "nat-demo0001-eip", None);
        fake.add("eip-other", "dac_cls-other_pool", None);
        fake.add("eip-user", "console", Some("10.0.0.7"));
    }
    let status = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert!(status.resource_id.starts_with("eip-0"), "allocated its own");
    // A Pod whose IP carries someone else's EIP is told so; that EIP stays bound.
    let err = provider
        .ensure(&binding("room-1", 7000, Some("10.0.0.7")))
        .await
        .unwrap_err();
    assert_eq!(err.reason(), reason::POD_IP_HAS_OTHER_EIP);
    assert!(err.message().contains("eip-user"), "{}", err.message());
    {
        let fake = fake.lock().unwrap();
        assert_eq!(fake.status("eip-user"), "BIND");
        assert_eq!(fake.status("eip-nat1"), "UNBIND");
    }
    assert_eq!(provider.stats().writes_of("DisassociateAddress"), 0);
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    assert!(
        owned.iter().all(|o| o.resource_id.starts_with("eip-0")),
        "{owned:?}"
    );
}

#[tokio::test]
async fn released_eips_go_to_the_pool_and_the_next_pod_takes_them() {
    let (fake, provider) = setup(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 1 },
        ..config()
    });
    let a = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    let b = provider
        .ensure(&binding("room-1", 7000, Some("10.0.0.6")))
        .await
        .unwrap();
    // Another port of room-0 goes: nothing changes.
    let mut port = binding("room-0", 7001, None);
    port.keep_pod_address = true;
    let before = provider.stats();
    provider.release(&port).await.unwrap();
    assert_eq!(provider.stats().since(&before), Default::default());

    provider
        .release(&binding("room-0", 7000, None))
        .await
        .unwrap();
    provider
        .release(&binding("room-1", 7000, None))
        .await
        .unwrap();
    {
        let fake = fake.lock().unwrap();
        assert_eq!(
            fake.status(&a.resource_id),
            "UNBIND",
            "room-0's EIP is in the pool"
        );
        assert!(
            !fake.addresses.contains_key(&b.resource_id),
            "the pool was full"
        );
    }
    let stats = provider.stats();
    assert_eq!(stats.writes_of("DisassociateAddress"), 2, "{stats}");
    assert_eq!(stats.addresses_released, 1, "{stats}");
    // Releasing again is a no-op.
    let before = provider.stats();
    provider
        .release(&binding("room-0", 7000, None))
        .await
        .unwrap();
    assert_eq!(provider.stats().since(&before).total_writes(), 0);

    let c = provider
        .ensure(&binding("room-2", 7000, Some("10.0.0.7")))
        .await
        .unwrap();
    assert_eq!(c.resource_id, a.resource_id, "taken from the pool");
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 2);
}

#[tokio::test]
async fn the_ports_of_a_pod_that_goes_give_its_eip_back_once() {
    let (fake, provider) = setup(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 1 },
        ..config()
    });
    let ports = [7000, 7001, 7002];
    let bound = ensure_all(
        &provider,
        ports
            .iter()
            .map(|&port| binding("room-0", port, Some("10.0.0.5")))
            .collect(),
    )
    .await;
    let eip = bound[0].clone().unwrap().resource_id;
    // Each port is released with the EIP its status names, none seeing another port that
    // stays (all of them are going).
    let before = provider.stats();
    let mut set = JoinSet::new();
    for port in ports {
        let provider = Arc::clone(&provider);
        let mut port = binding("room-0", port, None);
        port.resource_id = Some(eip.clone());
        set.spawn(async move { provider.release(&port).await });
    }
    for released in set.join_all().await {
        released.unwrap();
    }
    let spent = provider.stats().since(&before);
    assert_eq!(spent.writes_of("DisassociateAddress"), 1, "{spent}");
    assert_eq!(spent.writes_of("ModifyAddressAttribute"), 1, "{spent}");
    assert_eq!(spent.total_writes(), 2, "{spent}");
    let fake = fake.lock().unwrap();
    assert_eq!(fake.status(&eip), "UNBIND");
    assert_eq!(
        fake.addresses[&eip].address_name.as_deref(),
        Some(provider.pool_name().as_str())
    );
}

#[tokio::test(start_paused = true)]
async fn keep_for_holds_the_eip_for_the_pods_name_until_it_expires() {
    let (fake, provider) = setup(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 0 },
        maintenance_interval_ms: 1_000,
        ..config()
    });
    let first = provider
        .ensure(&keep_for(binding("db-0", 5432, Some("10.0.0.5")), "30s"))
        .await
        .unwrap();
    provider
        .release(&keep_for(binding("db-0", 5432, None), "30s"))
        .await
        .unwrap();
    assert_eq!(fake.lock().unwrap().status(&first.resource_id), "UNBIND");
    // Kept: another Pod does not get it.
    let other = provider
        .ensure(&binding("db-1", 5432, Some("10.0.0.6")))
        .await
        .unwrap();
    assert_ne!(other.resource_id, first.resource_id);
    // db-0 is recreated in time, with a new IP: its EIP comes back.
    tokio::time::sleep(Duration::from_secs(20)).await;
    let back = provider
        .ensure(&keep_for(binding("db-0", 5432, Some("10.0.0.9")), "30s"))
        .await
        .unwrap();
    assert_eq!(back.resource_id, first.resource_id);
    assert_eq!(back.address, first.address);

    // Gone again, and this time not back in time: released (the pool's maximum is 0).
    provider
        .release(&keep_for(binding("db-0", 5432, None), "30s"))
        .await
        .unwrap();
    tokio::time::sleep(Duration::from_secs(29)).await;
    assert!(
        fake.lock()
            .unwrap()
            .addresses
            .contains_key(&first.resource_id)
    );
    tokio::time::sleep(Duration::from_secs(3)).await;
    assert!(
        !fake
            .lock()
            .unwrap()
            .addresses
            .contains_key(&first.resource_id)
    );
    assert_eq!(provider.stats().addresses_released, 1);
}

#[tokio::test]
async fn the_pool_is_topped_up_in_one_call_and_trimmed_to_its_maximum() {
    let (fake, provider) = setup(EipProviderConfig {
        pool: PoolLimits { min: 3, max: 3 },
        ..config()
    });
    provider.maintain().await;
    {
        let fake = fake.lock().unwrap();
        assert_eq!(fake.allocate_requests.len(), 1);
        assert_eq!(fake.allocate_requests[0].address_count, Some(3));
        assert_eq!(
            fake.allocate_requests[0].address_name.as_deref(),
            Some("dac_cls-test_pool")
        );
    }
    let status = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    assert_eq!(
        provider.stats().writes_of("AllocateAddresses"),
        1,
        "from the pool"
    );
    provider.maintain().await;
    assert_eq!(provider.stats().addresses_allocated, 4, "topped up again");
    // Four free EIPs once room-0 goes, one more than the maximum.
    provider
        .release(&binding("room-0", 7000, None))
        .await
        .unwrap();
    assert!(
        !fake
            .lock()
            .unwrap()
            .addresses
            .contains_key(&status.resource_id)
    );
    assert_eq!(fake.lock().unwrap().addresses.len(), 3);
    // Two more made by hand with our pool marker are beyond the maximum: trimmed in one call.
    {
        let mut fake = fake.lock().unwrap();
        for id in ["eip-x1", "eip-x2"] {
            fake.add(id, "dac_cls-test_pool", None);
        }
    }
    let trimmed = EipProvider::new(
        Arc::new(mock(&fake)),
        EipProviderConfig {
            pool: PoolLimits { min: 0, max: 3 },
            ..config()
        },
    )
    .unwrap();
    trimmed.maintain().await;
    assert_eq!(fake.lock().unwrap().addresses.len(), 3);
    assert_eq!(trimmed.stats().writes_of("ReleaseAddresses"), 1, "one call");
}

#[tokio::test]
async fn a_warm_pool_fills_once_started_before_any_pod() {
    let (fake, provider) = setup(EipProviderConfig {
        pool: PoolLimits { min: 3, max: 3 },
        ..config()
    });
    provider.start();
    tokio::time::timeout(Duration::from_secs(5), async {
        while fake.lock().unwrap().addresses.len() < 3 {
            tokio::time::sleep(Duration::from_millis(10)).await;
        }
    })
    .await
    .expect("the pool filled without an ensure");
    assert_eq!(provider.stats().writes_of("AllocateAddresses"), 1);
}

#[tokio::test]
async fn the_orphan_sweep_sees_pods_and_releases_what_no_pod_holds() {
    let (fake, provider) = setup(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 5 },
        orphan_grace_ms: 0,
        ..config()
    });
    let a = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    fake.lock()
        .unwrap()
        .add("eip-left", "dac_cls-test_pool", Some("10.0.0.99"));
    fake.lock()
        .unwrap()
        .add("eip-pool", "dac_cls-test_pool", None);
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    let seen: Vec<(String, Slot, Option<BindingKey>)> = owned
        .into_iter()
        .map(|o| (o.resource_id, o.slot, o.owner))
        .collect();
    let slot = |pod: &str| Slot::PodAddress {
        pod_name: pod.into(),
        port: 0,
        protocol: Protocol::Tcp,
    };
    assert_eq!(
        seen,
        vec![
            (a.resource_id.clone(), slot("room-0"), None),
            ("eip-left".into(), slot(""), None),
        ]
    );
    // The sweep releases the one left bound: unbound, into the pool.
    let sweep = Binding {
        key: BindingKey::new("", "unknown"),
        slot: slot(""),
        resource_id: Some("eip-left".into()),
        ..binding("x", 0, None)
    };
    provider.release(&sweep).await.unwrap();
    assert_eq!(fake.lock().unwrap().status("eip-left"), "UNBIND");
    // A live Pod's EIP named by the sweep with another Pod name is left alone.
    let wrong = Binding {
        key: BindingKey::new("", "unknown"),
        slot: slot("room-9"),
        resource_id: Some(a.resource_id.clone()),
        ..binding("x", 0, None)
    };
    provider.release(&wrong).await.unwrap();
    assert_eq!(fake.lock().unwrap().status(&a.resource_id), "BIND");
    // Before the grace period, bound EIPs nobody holds are not offered to the sweep.
    let careful = EipProvider::new(Arc::new(mock(&fake)), config()).unwrap();
    assert!(
        careful
            .list_owned(&Scope::default())
            .await
            .unwrap()
            .is_empty()
    );
    let foreign = Scope {
        cluster: "cls-other".into(),
        ..Scope::default()
    };
    assert!(matches!(
        careful.list_owned(&foreign).await,
        Err(ProviderError::Permanent { .. })
    ));
}

#[tokio::test]
async fn bad_bindings_are_refused() {
    let (_fake, provider) = setup(config());
    let mut port_slot = binding("room-0", 7000, None);
    port_slot.slot = Slot::Port {
        frontend_id: "lb-1".into(),
        public_ip: None,
        port: 7000,
        protocol: Protocol::Tcp,
    };
    assert!(matches!(
        provider.ensure(&port_slot).await,
        Err(ProviderError::Permanent { .. })
    ));
    let mut bad_options = binding("room-0", 7000, None);
    bad_options.options = Some(json!({"retention": {"policy": "Forever"}}));
    let err = provider.ensure(&bad_options).await.unwrap_err();
    assert_eq!(err.reason(), reason::INVALID_EIP_OPTIONS);
    // Release still works, with the configured retention.
    provider.release(&bad_options).await.unwrap();
    assert_eq!(provider.config().retention, Retention::Release);
}

fn sweep_setup() -> (Arc<Mutex<Fake>>, Arc<EipProvider>) {
    setup(EipProviderConfig {
        pool: PoolLimits { min: 0, max: 5 },
        orphan_grace_ms: 0,
        ..config()
    })
}

#[tokio::test]
async fn the_sweep_releases_a_listed_eip_whose_pod_nothing_ensured_since() {
    let (fake, provider) = sweep_setup();
    let a = provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0].namespace.as_deref(), Some("games"));
    provider.release_orphan(&owned[0]).await.unwrap();
    // Unbound, and back in the pool (it has room).
    assert_eq!(fake.lock().unwrap().status(&a.resource_id), "UNBIND");
}

#[tokio::test]
async fn the_sweep_leaves_an_eip_whose_pod_was_ensured_after_the_listing() {
    let (fake, provider) = sweep_setup();
    let room = binding("room-0", 7000, Some("10.0.0.5"));
    let a = provider.ensure(&room).await.unwrap();
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    // The Pod's binding came back between the listing and the release.
    provider.ensure(&room).await.unwrap();
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(fake.lock().unwrap().status(&a.resource_id), "BIND");
    assert_eq!(provider.stats().writes_of("DisassociateAddress"), 0);
}

#[tokio::test]
async fn the_sweep_leaves_an_eip_the_cloud_shows_changed_or_never_listed() {
    let (fake, provider) = sweep_setup();
    fake.lock()
        .unwrap()
        .add("eip-left", "dac_cls-test_pool", Some("10.0.0.99"));
    let owned = provider.list_owned(&Scope::default()).await.unwrap();
    assert_eq!(owned.len(), 1);
    assert_eq!(owned[0].namespace, None);
    // Moved by hand to another IP after the listing: not what was judged an orphan.
    {
        let mut f = fake.lock().unwrap();
        let a = f.addresses.get_mut("eip-left").unwrap();
        a.private_address_ip = Some("10.0.0.98".into());
    }
    provider.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(fake.lock().unwrap().status("eip-left"), "BIND");
    // A provider that never listed it leaves it alone too.
    let fresh = EipProvider::new(
        Arc::new(mock(&fake)),
        EipProviderConfig {
            orphan_grace_ms: 0,
            ..config()
        },
    )
    .unwrap();
    fresh.release_orphan(&owned[0]).await.unwrap();
    assert_eq!(fake.lock().unwrap().status("eip-left"), "BIND");
    assert_eq!(fresh.stats().total_writes(), 0);
}

#[tokio::test]
async fn a_namespace_scoped_sweep_sees_only_its_namespaces_eips() {
    let (fake, provider) = sweep_setup();
    provider
        .ensure(&binding("room-0", 7000, Some("10.0.0.5")))
        .await
        .unwrap();
    fake.lock()
        .unwrap()
        .add("eip-other", "dac_cls-test_team-b_room-1", Some("10.0.0.77"));
    fake.lock()
        .unwrap()
        .add("eip-left", "dac_cls-test_pool", Some("10.0.0.99"));
    let all = provider.list_owned(&Scope::default()).await.unwrap();
    let namespaces: Vec<Option<&str>> = all.iter().map(|o| o.namespace.as_deref()).collect();
    assert_eq!(namespaces.len(), 3);
    assert!(namespaces.contains(&Some("team-b")) && namespaces.contains(&None));
    let games = Scope {
        namespace: Some("games".into()),
        ..Scope::default()
    };
    let mine = provider.list_owned(&games).await.unwrap();
    assert_eq!(mine.len(), 1);
    assert_eq!(mine[0].namespace.as_deref(), Some("games"));
}

#[tokio::test]
async fn a_listing_that_misses_a_held_eip_does_not_lose_it() {
    let (fake, provider) = sweep_setup();
    let room = binding("room-0", 7000, Some("10.0.0.5"));
    let first = provider.ensure(&room).await.unwrap();
    fake.lock().unwrap().missed_by_next_listing = Some(first.resource_id.clone());
    // A full listing (the sweep's) that misses it.
    provider.list_owned(&Scope::default()).await.unwrap();
    let again = provider.ensure(&room).await.unwrap();
    assert_eq!(again.resource_id, first.resource_id);
    assert_eq!(again.state, BindingState::Bound);
    assert_eq!(provider.stats().addresses_allocated, 1, "no second EIP");
    assert_eq!(fake.lock().unwrap().addresses.len(), 1);
}
