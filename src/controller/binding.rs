//! The `CLBPodBinding` controller, the pool API's front door to the engine: one
//! `DedicatedCLBListener` child per (Pod port, protocol, pool), each holding a slot from the
//! pool's frontends, planned by the same allocation step as a `DedicatedCLBService` (so a slot
//! taken through one API is never handed out through the other) and bound by the same listener
//! controller and providers. When every port is bound, the result is written onto the Pod as
//! tke-extend-network-controller writes it (`clb-port-mapping-result` and `-status: Ready`).
//!
//! Stages: dereference (Pod, pools, providers) -> validate (per port entry: a missing pool, an
//! unsupported protocol or feature fails that entry only) -> build (wanted slots, same-port
//! groups, the pools' offers) -> apply (create and delete children, isolation) -> update status
//! and the Pod's result annotations.
use super::cached_pod::CachedPod;
use super::children::{self, BindingChild};
use super::labels::{BINDING, ISOLATED, MANAGER, POOL};
use super::{Context, allocate, events, pods};
use crate::allocation::{Allocation, AllocationKey, LbPolicy, PoolOffer};
use crate::crd::condition::{ConditionStatus, NewCondition, find_condition, set_condition, types};
use crate::crd::{
    BindingPort, BindingProtocol, BindingState, CLBPodBinding, CLBPodBindingStatus, CLBPortPool,
    DedicatedCLBListener, ListenerState, PoolState, PortBinding, sort_port_bindings,
};
use crate::port_mapping::{self, FrontendAddresses};
use crate::registry::ProviderOps;
use crate::{Error, Result};
use dac_provider_api::{Frontend, PortRange, Scope};
use k8s_openapi::api::core::v1::Pod;
use k8s_openapi::jiff::Timestamp;
use kube::Resource;
use kube::api::{Api, Patch, PatchParams, ResourceExt};
use kube::runtime::controller::Action;
use kube::runtime::reflector::ObjectRef;
use serde_json::json;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "CLBPodBinding";
/// Watches (its children, its Pod, its pools) bring every change; this catches the rest.
const RESYNC: Duration = Duration::from_secs(300);
/// The annotation the Pod controller leaves on a binding for the lines of the Pod's
/// `clb-port-mapping` it could not read (JSON list of messages), so its status can name them.
pub const MAPPING_ERRORS: &str = "networking.cloud.tencent.com/port-mapping-errors";

pub async fn reconcile(binding: Arc<CLBPodBinding>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_binding(&binding, &ctx).await;
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

/// A port entry that cannot be served now, and why.
struct EntryProblem {
    state: BindingState,
    reason: &'static str,
    message: String,
}

/// A pool as the binding uses it.
struct ServingPool {
    pool: Arc<CLBPortPool>,
    /// The pool takes new slots (state `Active`); otherwise it keeps what it holds.
    allocatable: bool,
}

async fn reconcile_binding(binding: &CLBPodBinding, ctx: &Context) -> Result<Action> {
    let namespace = binding.namespace().unwrap_or_default();
    let name = binding.name_any();
    let uid = binding.uid().unwrap_or_default();

    // Dereference.
    let pod = ctx
        .stores
        .pods
        .get(&ObjectRef::new(&name).within(&namespace));
    // Owned by a Pod that was replaced (same name, new uid): it is the old Pod's binding, which
    // the garbage collector deletes; the Pod controller then makes the new one.
    let owner_pod = binding
        .owner_references()
        .iter()
        .find(|owner| owner.kind == "Pod")
        .map(|owner| owner.uid.clone());
    if let (Some(owner), Some(pod)) = (&owner_pod, &pod)
        && pod.uid().as_ref() != Some(owner)
    {
        return Ok(Action::requeue(Duration::from_secs(5)));
    }
    let current: Vec<Arc<DedicatedCLBListener>> = ctx
        .stores
        .listeners
        .state()
        .into_iter()
        .filter(|child| child.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|child| child.owner_references().iter().any(|o| o.uid == uid))
        .collect();

    // Validate, entry by entry.
    let mut problems: Vec<EntryProblem> = mapping_errors(binding);
    let mut pools: BTreeMap<String, ServingPool> = BTreeMap::new();
    let mut usable: Vec<&BindingPort> = Vec::new();
    for entry in &binding.spec.ports {
        match check_entry(entry, ctx, &mut pools) {
            Ok(()) => usable.push(entry),
            Err(problem) => problems.push(problem),
        }
    }

    // Build: the wanted slots and groups, and what each pool offers.
    let pod_name = name.as_str();
    let mut wanted: Vec<AllocationKey> = Vec::new();
    let mut same_port: Vec<Vec<AllocationKey>> = Vec::new();
    for entry in &usable {
        let key = |protocol: BindingProtocol, pool: &str| {
            let transport = protocol
                .transport()
                .expect("split protocols are TCP or UDP");
            AllocationKey::in_pool(pod_name, transport.into(), entry.port, pool)
        };
        let per_pool: Vec<Vec<AllocationKey>> = entry
            .pools
            .iter()
            .map(|pool| {
                entry
                    .protocol
                    .split()
                    .iter()
                    .map(|p| key(*p, pool))
                    .collect()
            })
            .collect();
        wanted.extend(per_pool.iter().flatten().cloned());
        if entry.same_port_across_pools() && entry.pools.len() > 1 {
            same_port.push(per_pool.into_iter().flatten().collect());
        } else {
            same_port.extend(per_pool.into_iter().filter(|group| group.len() > 1));
        }
    }
    let frontends = match pool_frontends(ctx, &pools).await {
        Ok(frontends) => frontends,
        Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
        Err(error) => {
            problems.push(EntryProblem {
                state: BindingState::Failed,
                reason: "ProviderFailed",
                message: error.to_string(),
            });
            Vec::new()
        }
    };
    let ids: BTreeMap<&str, Vec<String>> = pools
        .iter()
        .map(|(name, serving)| (name.as_str(), running_frontends(&serving.pool)))
        .collect();
    let closed: BTreeMap<&str, Vec<String>> = pools
        .iter()
        .map(|(name, serving)| {
            let ids = &ids[name.as_str()];
            let closed = ids
                .iter()
                .filter(|id| !serving.allocatable || serving.pool.spec.is_blacklisted(id))
                .cloned()
                .collect();
            (name.as_str(), closed)
        })
        .collect();
    let offers: Vec<PoolOffer<'_>> = pools
        .iter()
        .map(|(name, serving)| {
            let spec = &serving.pool.spec;
            PoolOffer {
                name,
                frontend_ids: &ids[name.as_str()],
                port_range: Some(PortRange {
                    min: spec.start_port,
                    max: spec.last_port(),
                }),
                policy: match spec.lb_policy {
                    Some(crate::crd::LbPolicy::Uniform) => LbPolicy::Uniform,
                    Some(crate::crd::LbPolicy::InOrder) => LbPolicy::InOrder,
                    Some(crate::crd::LbPolicy::Random) | None => LbPolicy::Random,
                },
                closed: &closed[name.as_str()],
            }
        })
        .collect();

    let plan = allocate::plan(
        ctx,
        allocate::Request {
            owner_uid: &uid,
            namespace: &namespace,
            current: &current,
            frontends: &frontends,
            port_range: None,
            pools: &offers,
            same_port: &same_port,
            wanted: &wanted,
            child_name: &children::binding_child_name,
        },
    )
    .await;
    if !plan.exhausted.is_empty() {
        let names: BTreeSet<&str> = plan.exhausted.iter().map(|k| k.pool.as_str()).collect();
        problems.push(EntryProblem {
            state: BindingState::NoPortAvailable,
            reason: "NoPortAvailable",
            message: format!(
                "{} port(s) got no free port in pool(s) {}",
                plan.exhausted.len(),
                names.into_iter().collect::<Vec<_>>().join(", ")
            ),
        });
    }

    // Apply.
    let listeners: Api<DedicatedCLBListener> = Api::namespaced(ctx.client.clone(), &namespace);
    let releasing: Vec<&DedicatedCLBListener> = plan
        .release
        .iter()
        .filter_map(|release| {
            let allocation = Allocation {
                key: release.key.clone(),
                slot: release.slot.clone(),
            };
            children::holding(&current, &allocation).map(AsRef::as_ref)
        })
        .collect();
    children::delete_all(&listeners, releasing).await?;
    let isolated = binding.spec.is_disabled();
    let new_children: Vec<DedicatedCLBListener> = plan
        .assign
        .iter()
        .filter_map(|assigned| {
            let serving = pools.get(&assigned.key.pool)?;
            Some(children::build_binding_child(
                binding,
                &BindingChild {
                    key: &assigned.key,
                    slot: &assigned.slot,
                    provider: &serving.pool.spec.provider,
                    region: serving.pool.spec.region(),
                    isolated,
                },
            ))
        })
        .collect();
    // A name still being freed (409) brings this binding back when its child is gone.
    children::create_all(ctx, &listeners, new_children).await?;
    sync_isolation(&listeners, &current, isolated).await?;

    // Update status and the Pod's result annotations.
    let children: Vec<Arc<DedicatedCLBListener>> = ctx
        .stores
        .listeners
        .state()
        .into_iter()
        .filter(|child| child.namespace().as_deref() == Some(namespace.as_str()))
        .filter(|child| child.owner_references().iter().any(|o| o.uid == uid))
        .collect();
    let port_bindings = port_bindings(&children, &pools, ctx);
    let all_bound = !children.is_empty()
        && children
            .iter()
            .all(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
        && children.len() == wanted.len();
    let state = binding_state(
        binding,
        pod.as_deref(),
        &problems,
        all_bound,
        !children.is_empty(),
    );
    let new_problem = patch_status(binding, ctx, &state, &problems, port_bindings.clone()).await?;
    if let Some((reason, message)) = new_problem {
        events::warn(
            &ctx.recorder,
            &binding.object_ref(&()),
            &reason,
            message.clone(),
        )
        .await;
        if let Some(pod) = &pod {
            events::warn(&ctx.recorder, &pod.object_ref(&()), &reason, message).await;
        }
    }
    if all_bound
        && !isolated
        && let Some(pod) = &pod
    {
        let serving: Vec<&CLBPortPool> = pools.values().map(|s| s.pool.as_ref()).collect();
        write_result(
            ctx,
            pod,
            &port_bindings,
            &FrontendAddresses::from_pools(serving),
        )
        .await?;
    }
    Ok(Action::requeue(RESYNC))
}

/// The lines of the Pod's annotation the Pod controller could not read.
fn mapping_errors(binding: &CLBPodBinding) -> Vec<EntryProblem> {
    binding
        .annotations()
        .get(MAPPING_ERRORS)
        .and_then(|json| serde_json::from_str::<Vec<String>>(json).ok())
        .unwrap_or_default()
        .into_iter()
        .map(|message| EntryProblem {
            state: BindingState::Failed,
            reason: "InvalidPortMapping",
            message,
        })
        .collect()
}

/// Whether an entry can be served: every pool exists with an enabled provider that can serve
/// its protocol. Records the pools it uses in `pools`.
fn check_entry(
    entry: &BindingPort,
    ctx: &Context,
    pools: &mut BTreeMap<String, ServingPool>,
) -> std::result::Result<(), EntryProblem> {
    let what = format!("port {} {}", entry.port, entry.protocol);
    if entry.protocol.needs_certificate() {
        return Err(EntryProblem {
            state: BindingState::Failed,
            reason: "Unsupported",
            message: format!("{what}: TLS listeners (TCP_SSL, QUIC) are not supported yet"),
        });
    }
    if entry.pools.is_empty() {
        return Err(EntryProblem {
            state: BindingState::PortPoolNotFound,
            reason: "PortPoolNotFound",
            message: format!("{what} names no pool"),
        });
    }
    let mut found = Vec::new();
    for pool_name in &entry.pools {
        // A pool being deleted serves nobody: its slots are given up so that it can go.
        let pool = ctx
            .stores
            .pools
            .get(&ObjectRef::new(pool_name))
            .filter(|pool| pool.metadata.deletion_timestamp.is_none());
        let Some(pool) = pool else {
            return Err(EntryProblem {
                state: BindingState::PortPoolNotFound,
                reason: "PortPoolNotFound",
                message: format!("{what}: CLBPortPool {pool_name} does not exist"),
            });
        };
        if let Err(not_enabled) = ctx.registry.get(&pool.spec.provider) {
            return Err(EntryProblem {
                state: BindingState::Failed,
                reason: "ProviderNotEnabled",
                message: format!("{what}: pool {pool_name}: {not_enabled}"),
            });
        }
        if pool.spec.segment_length() > 1 || pool.spec.listener_precreate_enabled() {
            return Err(EntryProblem {
                state: BindingState::PortPoolNotAllocatable,
                reason: "Unsupported",
                message: format!(
                    "{what}: pool {pool_name} uses segmentLength or listenerPrecreate, which this controller does not support yet"
                ),
            });
        }
        let state = pool.status.as_ref().map(|s| s.state).unwrap_or_default();
        found.push((
            pool_name.clone(),
            ServingPool {
                allocatable: state == PoolState::Active,
                pool,
            },
        ));
    }
    pools.extend(found);
    Ok(())
}

/// The frontends (running) a pool lists in its status, in its order.
fn running_frontends(pool: &CLBPortPool) -> Vec<String> {
    pool.status
        .iter()
        .flat_map(|s| &s.loadbalancer_statuses)
        .filter(|lb| lb.state == crate::crd::LoadBalancerState::Running)
        .map(|lb| lb.loadbalancer_id.clone())
        .collect()
}

/// Every pool's running frontends as its provider reports them, with the pool's
/// `listenerQuota` as their capacity where it sets one.
async fn pool_frontends(
    ctx: &Context,
    pools: &BTreeMap<String, ServingPool>,
) -> dac_provider_api::Result<Vec<Frontend>> {
    let mut frontends: Vec<Frontend> = Vec::new();
    for serving in pools.values() {
        let spec = &serving.pool.spec;
        let ids = running_frontends(&serving.pool);
        if ids.is_empty() {
            continue;
        }
        let Ok(provider) = ctx.registry.get(&spec.provider) else {
            continue;
        };
        let scope = Scope {
            cluster: ctx.cluster.id.clone(),
            region: spec.region().map(str::to_string),
            frontend_ids: ids,
            namespace: ctx.namespace.clone(),
        };
        for mut frontend in provider.frontends(&scope).await? {
            if frontend.problem.is_some() {
                // Kept, not grown: the pool controller decides when it is gone.
                frontend.capacity = 0;
            } else if let Some(quota) = spec.listener_quota {
                frontend.capacity = u32::from(quota).saturating_sub(frontend.taken.len() as u32);
            }
            match frontends.iter_mut().find(|f| f.id == frontend.id) {
                Some(known) => known.capacity = known.capacity.min(frontend.capacity),
                None => frontends.push(frontend),
            }
        }
    }
    Ok(frontends)
}

/// Marks every child isolated or not, as the binding says.
async fn sync_isolation(
    listeners: &Api<DedicatedCLBListener>,
    current: &[Arc<DedicatedCLBListener>],
    isolated: bool,
) -> Result<()> {
    for child in current {
        let marked = child.annotations().get(ISOLATED).map(String::as_str) == Some("true");
        if marked == isolated {
            continue;
        }
        let value = isolated.then_some("true");
        let patch = json!({ "metadata": { "annotations": { ISOLATED: value } } });
        listeners
            .patch(
                &child.name_any(),
                &PatchParams::apply(MANAGER),
                &Patch::Merge(&patch),
            )
            .await?;
    }
    Ok(())
}

/// `status.portBindings`, one per child, in upstream's order.
fn port_bindings(
    children: &[Arc<DedicatedCLBListener>],
    pools: &BTreeMap<String, ServingPool>,
    ctx: &Context,
) -> Vec<PortBinding> {
    let mut bindings: Vec<PortBinding> = children
        .iter()
        .filter_map(|child| {
            let spec = &child.spec;
            let backend = spec.backend_pod.as_ref()?;
            let pool = child.labels().get(POOL)?.clone();
            let region = spec
                .lb_region
                .clone()
                .or_else(|| {
                    pools
                        .get(&pool)
                        .and_then(|p| p.pool.spec.region().map(str::to_string))
                })
                .unwrap_or_else(|| ctx.cluster.region.clone());
            Some(PortBinding {
                port: backend.port,
                protocol: match spec.protocol {
                    crate::crd::Protocol::Tcp => BindingProtocol::Tcp,
                    crate::crd::Protocol::Udp => BindingProtocol::Udp,
                },
                cert_id: None,
                pool,
                region,
                loadbalancer_id: spec.lb_id.clone()?,
                loadbalancer_port: spec.lb_port?,
                loadbalancer_end_port: None,
                listener_id: child
                    .status
                    .as_ref()
                    .and_then(|s| s.listener_id.clone())
                    .unwrap_or_default(),
                address_ip_version: None,
                public_ip: spec.public_ip.clone(),
            })
        })
        .collect();
    sort_port_bindings(&mut bindings);
    bindings
}

/// Upstream's states, most telling first.
fn binding_state(
    binding: &CLBPodBinding,
    pod: Option<&CachedPod>,
    problems: &[EntryProblem],
    all_bound: bool,
    has_children: bool,
) -> BindingState {
    if binding.spec.is_disabled() {
        return BindingState::Disabled;
    }
    let Some(pod) = pod else {
        return BindingState::NoBackend;
    };
    if pods::live_ip(pod).is_none() {
        return BindingState::WaitBackend;
    }
    if let Some(problem) = problems.first()
        && !all_bound
    {
        return problem.state.clone();
    }
    match (all_bound, has_children) {
        (true, _) => BindingState::Bound,
        (false, true) => BindingState::Allocated,
        (false, false) => BindingState::Pending,
    }
}

/// Writes the status when it changed; returns the `Ready` reason and message when it newly
/// became a problem, for one Event.
async fn patch_status(
    binding: &CLBPodBinding,
    ctx: &Context,
    state: &BindingState,
    problems: &[EntryProblem],
    port_bindings: Vec<PortBinding>,
) -> Result<Option<(String, String)>> {
    let generation = binding.metadata.generation;
    let old = binding.status.clone().unwrap_or_default();
    let message = (!problems.is_empty()).then(|| {
        problems
            .iter()
            .map(|p| p.message.as_str())
            .collect::<Vec<_>>()
            .join("; ")
    });
    let (status, reason, condition_message) = match (problems.first(), state) {
        (Some(problem), _) => (
            ConditionStatus::False,
            problem.reason,
            message.clone().unwrap_or_default(),
        ),
        (None, BindingState::Bound) => (
            ConditionStatus::True,
            "Bound",
            "every port is bound".to_string(),
        ),
        (None, other) => (
            ConditionStatus::False,
            match other {
                BindingState::Disabled => "Disabled",
                BindingState::NoBackend => "NoBackend",
                BindingState::WaitBackend => "WaitBackend",
                _ => "Progressing",
            },
            format!("state {other}"),
        ),
    };
    let mut new = CLBPodBindingStatus {
        state: state.clone(),
        message,
        port_bindings,
        conditions: old.conditions.clone(),
        observed_generation: generation,
    };
    set_condition(
        &mut new.conditions,
        NewCondition {
            type_: types::READY,
            status,
            reason,
            message: condition_message.clone(),
            observed_generation: generation,
        },
        Timestamp::now(),
    );
    if new == old {
        return Ok(None);
    }
    let api: Api<CLBPodBinding> =
        Api::namespaced(ctx.client.clone(), &binding.namespace().unwrap_or_default());
    let patch = json!({ "status": {
        "state": new.state,
        "message": new.message,
        "portBindings": new.port_bindings,
        "conditions": new.conditions,
        "observedGeneration": new.observed_generation,
    }});
    api.patch_status(
        &binding.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    let old_reason = find_condition(&old.conditions, types::READY).map(|c| c.reason.as_str());
    let is_problem = status == ConditionStatus::False && !problems.is_empty();
    Ok((is_problem && old_reason != Some(reason)).then(|| (reason.to_string(), condition_message)))
}

/// The result annotations, as upstream writes them: once every port is bound, in one patch,
/// only when the value changed.
async fn write_result(
    ctx: &Context,
    pod: &CachedPod,
    port_bindings: &[PortBinding],
    addresses: &FrontendAddresses,
) -> Result<()> {
    let Ok(results) = port_mapping::mapping_results(port_bindings, addresses) else {
        // A frontend the pool's status does not list yet: its next status wakes us.
        return Ok(());
    };
    if results.iter().any(|r| r.address.is_empty()) {
        // Not Ready until every address is known (the pool's status fills them in).
        return Ok(());
    }
    let result = serde_json::to_string(&results).map_err(Error::Serialize)?;
    let annotations = pod.metadata.annotations.clone().unwrap_or_default();
    let current = (
        annotations
            .get(port_mapping::PORT_MAPPING_RESULT)
            .map(String::as_str),
        annotations
            .get(port_mapping::PORT_MAPPING_STATUS)
            .map(String::as_str),
    );
    if current == (Some(result.as_str()), Some(port_mapping::STATUS_READY)) {
        return Ok(());
    }
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &pod.namespace().unwrap_or_default());
    let patch = json!({ "metadata": { "annotations": {
        port_mapping::PORT_MAPPING_RESULT: result,
        port_mapping::PORT_MAPPING_STATUS: port_mapping::STATUS_READY,
    }}});
    match api
        .patch(
            &pod.name_any(),
            &PatchParams::apply(MANAGER),
            &Patch::Merge(&patch),
        )
        .await
    {
        Ok(_) => Ok(()),
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

/// The bindings that use `pool` (a pool's change concerns them).
pub fn bindings_using(
    bindings: &kube::runtime::reflector::Store<CLBPodBinding>,
    pool: &str,
) -> Vec<ObjectRef<CLBPodBinding>> {
    bindings
        .state()
        .iter()
        .filter(|b| {
            b.spec
                .ports
                .iter()
                .any(|p| p.pools.iter().any(|n| n == pool))
        })
        .map(|b| ObjectRef::from_obj(b.as_ref()))
        .collect()
}

/// The binding a child belongs to.
pub fn owning_binding(child: &DedicatedCLBListener) -> Option<ObjectRef<CLBPodBinding>> {
    let name = child.labels().get(BINDING)?;
    Some(ObjectRef::new(name).within(&child.namespace().unwrap_or_default()))
}
