//! The `CLBPortPool` controller: which frontends a pool has and how full they are (its status,
//! as tke-extend-network-controller reports it), CLBs created when its bindings run short
//! (`autoCreate`), and, when the pool goes, the deletion of the CLBs it created once nothing of
//! ours is left on them.
//!
//! A frontend the cloud calls gone becomes `NotFound` only when two reads some seconds apart
//! agree; bindings then move their slots off it.
use super::Context;
use super::labels::{MANAGER, POOL, POOL_FINALIZER};
use crate::crd::condition::{ConditionStatus, NewCondition, set_condition, types};
use crate::crd::{
    BindingState, CLBPodBinding, CLBPortPool, CLBPortPoolStatus, LoadBalancerState,
    PoolLoadBalancerStatus, PoolState,
};
use crate::frontends::{CONFIRM_GONE_AFTER, TAG_CLUSTER, TAG_POOL};
use crate::registry::ProviderOps;
use crate::{Error, Result};
use dac_provider_api::{Frontend, FrontendRequest, Scope};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, ResourceExt};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use serde_json::json;
use std::collections::BTreeMap;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "CLBPortPool";
/// Pools are cluster-scoped, but a controller may serve one namespace (`--namespace`): such a
/// controller manages (status, auto-created CLBs, deletion) only the pools labelled with its
/// namespace, and a cluster-wide controller only the pools without the label, so two never
/// manage one pool. Any controller's bindings may use any pool.
pub const MANAGED_BY_NAMESPACE: &str = "networking.cloud.tencent.com/controller-namespace";

/// Whether this controller manages `pool` (see [`MANAGED_BY_NAMESPACE`]).
pub fn manages(pool: &CLBPortPool, namespace: Option<&str>) -> bool {
    pool.labels().get(MANAGED_BY_NAMESPACE).map(String::as_str) == namespace
}
/// Frontends change in the cloud without an event (a CLB deleted in the console).
const RESYNC: Duration = Duration::from_secs(60);

pub async fn reconcile(pool: Arc<CLBPortPool>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let api: Api<CLBPortPool> = Api::all(ctx.client.clone());
    let result = finalizer(&api, POOL_FINALIZER, pool, |event| async {
        match event {
            Finalizer::Apply(pool) => apply(&pool, &ctx).await,
            Finalizer::Cleanup(pool) => cleanup(&pool, &ctx).await,
        }
    })
    .await
    .map_err(|error| Error::Finalizer(Box::new(error)));
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

fn scope(pool: &CLBPortPool, ctx: &Context, frontend_ids: Vec<String>) -> Scope {
    Scope {
        cluster: ctx.cluster.id.clone(),
        region: pool.spec.region().map(str::to_string),
        frontend_ids,
        namespace: None,
    }
}

fn auto_created(pool: &CLBPortPool) -> Vec<String> {
    pool.status
        .iter()
        .flat_map(|s| &s.loadbalancer_statuses)
        .filter(|lb| lb.auto_created == Some(true))
        .map(|lb| lb.loadbalancer_id.clone())
        .collect()
}

async fn apply(pool: &CLBPortPool, ctx: &Context) -> Result<Action> {
    let name = pool.name_any();
    let spec = &pool.spec;
    let provider = match ctx.registry.get(&spec.provider) {
        Ok(provider) => provider,
        Err(not_enabled) => {
            let message = not_enabled.to_string();
            return report(pool, ctx, "ProviderNotEnabled", &message).await;
        }
    };
    if spec.segment_length() > 1 || spec.listener_precreate_enabled() {
        let message =
            "segmentLength and listenerPrecreate are not supported by this controller yet";
        return report(pool, ctx, "Unsupported", message).await;
    }

    // Its frontends: the ones it names, and the ones it created (recorded, or found by tag).
    let mut created = auto_created(pool);
    let mut ids: Vec<String> = spec
        .exsisted_load_balancer_ids
        .clone()
        .or_else(|| spec.nat_gateway_ids.clone())
        .unwrap_or_default();
    if spec.auto_create_enabled() {
        let tags = created_tags(pool, ctx);
        match provider
            .find_frontends(&scope(pool, ctx, Vec::new()), &tags)
            .await
        {
            Ok(found) => {
                for frontend in found {
                    if !created.contains(&frontend.id) {
                        created.push(frontend.id);
                    }
                }
            }
            Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
            Err(error) => {
                tracing::warn!(pool = %name, %error, "cannot look for the CLBs this pool created")
            }
        }
    }
    for id in &created {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let frontends = if ids.is_empty() && spec.provider != crate::config::NATGW {
        Vec::new()
    } else {
        match provider.frontends(&scope(pool, ctx, ids)).await {
            Ok(frontends) => frontends,
            Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
            Err(error) => return report(pool, ctx, error.reason(), error.message()).await,
        }
    };

    // Grow when a binding found no port, no CLB has room for a pair of slots (TCPUDP), and
    // the pool may create one more.
    let mut statuses = lb_statuses(pool, ctx, &frontends, &created);
    let quota = spec.listener_quota.map(u32::from).or_else(|| {
        frontends
            .iter()
            .filter(|f| f.problem.is_none())
            .map(|f| f.capacity + f.taken.len() as u32)
            .max()
    });
    let room = statuses
        .iter()
        .filter(|lb| {
            lb.state == LoadBalancerState::Running && !spec.is_blacklisted(&lb.loadbalancer_id)
        })
        .map(|lb| quota.unwrap_or(0).saturating_sub(lb.allocated))
        .max()
        .unwrap_or(0);
    // A CLB it made that is not running yet is room on its way: growing again would make a
    // second one for the same shortage (as after a restart mid-creation).
    let creating = frontends.iter().any(|f| {
        created.contains(&f.id) && f.problem.as_ref().is_some_and(|problem| !problem.gone)
    });
    let mut grew = false;
    if room < 2
        && !creating
        && wants_more(pool, ctx, created.len())
        && let Some(id) = create_frontend(pool, ctx, provider, created.len()).await?
    {
        grew = true;
        statuses.push(PoolLoadBalancerStatus {
            auto_created: Some(true),
            state: LoadBalancerState::Running,
            loadbalancer_id: id,
            loadbalancer_name: String::new(),
            ips: Vec::new(),
            hostname: None,
            allocated: 0,
            address_ip_version: None,
        });
    }
    let confirming = frontends
        .iter()
        .any(|f| f.problem.as_ref().is_some_and(|p| p.gone))
        && statuses.iter().any(|s| {
            s.state == LoadBalancerState::Running
                && frontends
                    .iter()
                    .any(|f| f.id == s.loadbalancer_id && f.problem.is_some())
        });
    let status = CLBPortPoolStatus {
        state: PoolState::Active,
        message: None,
        quota,
        loadbalancer_statuses: statuses,
        conditions: pool.status.clone().unwrap_or_default().conditions,
        observed_generation: pool.metadata.generation,
    };
    write_status(
        pool,
        ctx,
        status,
        ConditionStatus::True,
        "Active",
        "the pool allocates ports",
    )
    .await?;
    // After growing, look again soon: if the bindings still find no port, grow again.
    Ok(Action::requeue(if grew || confirming || creating {
        CONFIRM_GONE_AFTER
    } else {
        RESYNC
    }))
}

/// Per frontend: running or (confirmed) gone, how it is reached, how many slots we hold on it.
fn lb_statuses(
    pool: &CLBPortPool,
    ctx: &Context,
    frontends: &[Frontend],
    created: &[String],
) -> Vec<PoolLoadBalancerStatus> {
    let name = pool.name_any();
    let listeners = ctx.stores.listeners.state();
    let mut sightings = ctx.gone_sightings();
    frontends
        .iter()
        .map(|frontend| {
            let key = (
                format!("pool/{}", pool.spec.provider),
                pool.spec.region().map(str::to_string),
                frontend.id.clone(),
            );
            let gone = sightings.observe(key, frontend, std::time::Instant::now());
            let allocated = listeners
                .iter()
                .filter(|child| child.labels().get(POOL) == Some(&name))
                .filter(|child| child.spec.lb_id.as_deref() == Some(frontend.id.as_str()))
                .count();
            // A frontend that could not be read this time keeps what the status last showed.
            let previous = pool
                .status
                .iter()
                .flat_map(|s| &s.loadbalancer_statuses)
                .find(|lb| lb.loadbalancer_id == frontend.id);
            let mut display = frontend.display.clone();
            if frontend.problem.is_some()
                && let Some(previous) = previous
            {
                display.name = Some(previous.loadbalancer_name.clone()).filter(|n| !n.is_empty());
                display.ips = previous.ips.clone();
                display.hostname = previous.hostname.clone();
                display.ip_version = previous.address_ip_version.clone();
            }
            let display = &display;
            // natgw: the gateway's EIPs are its addresses.
            let ips = if display.ips.is_empty() {
                frontend.public_ips.clone()
            } else {
                display.ips.clone()
            };
            PoolLoadBalancerStatus {
                auto_created: created.contains(&frontend.id).then_some(true),
                state: if gone {
                    LoadBalancerState::NotFound
                } else {
                    LoadBalancerState::Running
                },
                loadbalancer_id: frontend.id.clone(),
                loadbalancer_name: display.name.clone().unwrap_or_default(),
                ips,
                hostname: display.hostname.clone(),
                allocated: u32::try_from(allocated).unwrap_or(u32::MAX),
                address_ip_version: display.ip_version.clone(),
            }
        })
        .collect()
}

fn created_tags(pool: &CLBPortPool, ctx: &Context) -> BTreeMap<String, String> {
    BTreeMap::from([
        (TAG_CLUSTER.to_string(), ctx.cluster.id.clone()),
        (TAG_POOL.to_string(), pool.name_any()),
    ])
}

/// A binding of this pool found no free port, and the pool may create one more CLB.
/// `created` counts what the cloud's tags show as well as what the status recorded: the status
/// this reconcile read may predate the last CLB it made.
fn wants_more(pool: &CLBPortPool, ctx: &Context, created: usize) -> bool {
    let Some(auto) = pool.spec.auto_create.as_ref().filter(|a| a.enabled) else {
        return false;
    };
    if auto
        .max_load_balancers
        .is_some_and(|max| created >= usize::from(max))
    {
        return false;
    }
    let name = pool.name_any();
    let mut held: BTreeMap<String, usize> = BTreeMap::new();
    for child in ctx.stores.listeners.state() {
        if child.labels().get(POOL) == Some(&name) {
            for owner in child.owner_references() {
                *held.entry(owner.uid.clone()).or_default() += 1;
            }
        }
    }
    ctx.stores.bindings.state().iter().any(|binding| {
        let held = binding
            .uid()
            .and_then(|uid| held.get(&uid).copied())
            .unwrap_or(0);
        short_of(binding, &name, held)
    })
}

/// Whether `binding` still lacks a slot in pool `name` while holding `held` there. Its
/// `NoPortAvailable` alone is not enough: the status is written after the listeners it created,
/// so a pool that just filled would see it still short and make a CLB nobody needs.
fn short_of(binding: &CLBPodBinding, name: &str, held: usize) -> bool {
    let exhausted = binding
        .status
        .as_ref()
        .is_some_and(|s| s.state == BindingState::NoPortAvailable);
    let wanted: usize = binding
        .spec
        .ports
        .iter()
        .filter(|p| p.pools.iter().any(|pool| pool == name))
        .map(|p| p.protocol.split().len())
        .sum();
    exhausted && held < wanted
}

/// Creates the pool's next CLB; the token (the pool's uid and how many it made before) makes
/// a repeated attempt return the same CLB instead of a second one.
async fn create_frontend(
    pool: &CLBPortPool,
    ctx: &Context,
    provider: &crate::registry::Provider,
    made_before: usize,
) -> Result<Option<String>> {
    let uid = pool.uid().unwrap_or_default();
    let mut tags = created_tags(pool, ctx);
    let parameters = pool
        .spec
        .auto_create
        .as_ref()
        .and_then(|a| a.parameters.as_ref());
    for tag in parameters
        .and_then(|p| p.tags.as_ref())
        .into_iter()
        .flatten()
    {
        tags.insert(tag.tag_key.clone(), tag.tag_value.clone());
    }
    let request = FrontendRequest {
        region: pool.spec.region().map(str::to_string),
        parameters: serde_json::to_value(parameters).map_err(Error::Serialize)?,
        tags,
        client_token: format!("dac-{}-{made_before}", uid.replace('-', "")),
    };
    match provider.create_frontend(&request).await {
        Ok(id) => {
            tracing::info!(pool = %pool.name_any(), %id, "created a CLB for the pool");
            Ok(Some(id))
        }
        Err(error) if error.is_retryable() => Err(Error::Provider(error)),
        Err(error) => {
            tracing::warn!(pool = %pool.name_any(), %error, "cannot create a CLB for the pool");
            Ok(None)
        }
    }
}

/// The pool is being deleted: its bindings give its slots up (a deleted pool serves nobody),
/// then the CLBs it created are deleted once nothing of ours is left on them.
async fn cleanup(pool: &CLBPortPool, ctx: &Context) -> Result<Action> {
    let name = pool.name_any();
    let created = auto_created(pool);
    let holding = ctx
        .stores
        .listeners
        .state()
        .iter()
        .filter(|child| child.labels().get(POOL) == Some(&name))
        .count();
    if holding > 0 {
        let mut status = pool.status.clone().unwrap_or_default();
        status.state = PoolState::Deleting;
        write_status(
            pool,
            ctx,
            status,
            ConditionStatus::False,
            "Deleting",
            &format!("waiting for {holding} slot(s) to be released"),
        )
        .await?;
        return Err(Error::CleanupWaiting {
            why: format!("{holding} slot(s) of pool {name} still held"),
            retry: Duration::from_secs(5),
        });
    }
    if let Ok(provider) = ctx.registry.get(&pool.spec.provider) {
        for id in created {
            match provider
                .delete_frontend(&scope(pool, ctx, vec![id.clone()]), &id)
                .await
            {
                Ok(()) => tracing::info!(pool = %name, %id, "deleted a CLB the pool created"),
                Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
                Err(error) => {
                    tracing::warn!(pool = %name, %id, %error, "cannot delete a CLB the pool created")
                }
            }
        }
    }
    Ok(Action::await_change())
}

/// A problem that keeps the whole pool from allocating.
async fn report(pool: &CLBPortPool, ctx: &Context, reason: &str, message: &str) -> Result<Action> {
    let mut status = pool.status.clone().unwrap_or_default();
    status.state = PoolState::Pending;
    status.message = Some(message.to_string());
    write_status(pool, ctx, status, ConditionStatus::False, reason, message).await?;
    Ok(Action::requeue(Duration::from_secs(60)))
}

async fn write_status(
    pool: &CLBPortPool,
    ctx: &Context,
    mut status: CLBPortPoolStatus,
    ready: ConditionStatus,
    reason: &str,
    message: &str,
) -> Result<()> {
    status.observed_generation = pool.metadata.generation;
    set_condition(
        &mut status.conditions,
        NewCondition {
            type_: types::READY,
            status: ready,
            reason,
            message: message.to_string(),
            observed_generation: pool.metadata.generation,
        },
        Timestamp::now(),
    );
    if pool.status.as_ref() == Some(&status) {
        return Ok(());
    }
    let api: Api<CLBPortPool> = Api::all(ctx.client.clone());
    let patch = json!({ "status": {
        "state": status.state,
        "message": status.message,
        "quota": status.quota,
        "loadbalancerStatuses": status.loadbalancer_statuses,
        "conditions": status.conditions,
        "observedGeneration": status.observed_generation,
    }});
    api.patch_status(
        &pool.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::{BindingPort, BindingProtocol, CLBPodBindingSpec, CLBPodBindingStatus};

    fn binding(state: BindingState, ports: &[(BindingProtocol, &str)]) -> CLBPodBinding {
        let ports = ports
            .iter()
            .enumerate()
            .map(|(i, (protocol, pool))| BindingPort {
                port: 7000 + i as u16,
                protocol: *protocol,
                pools: vec![pool.to_string()],
                use_same_port_across_pools: None,
                cert_secret_name: None,
            })
            .collect();
        let mut binding = CLBPodBinding::new(
            "crowd-0",
            CLBPodBindingSpec {
                disabled: None,
                ports,
            },
        );
        binding.status = Some(CLBPodBindingStatus {
            state,
            ..Default::default()
        });
        binding
    }

    #[test]
    fn a_binding_is_short_only_of_the_pool_it_lacks_a_slot_in() {
        let exhausted = binding(
            BindingState::NoPortAvailable,
            &[(BindingProtocol::TcpUdp, "a"), (BindingProtocol::Udp, "b")],
        );
        assert!(short_of(&exhausted, "a", 1), "one of TCP and UDP held");
        assert!(
            !short_of(&exhausted, "a", 2),
            "both held: its status is older than its listeners"
        );
        assert!(!short_of(&exhausted, "b", 1), "its shortage is in pool a");
        assert!(!short_of(&exhausted, "c", 0), "it does not use pool c");
        let bound = binding(BindingState::Bound, &[(BindingProtocol::Udp, "a")]);
        assert!(!short_of(&bound, "a", 0));
    }
}
