//! The service controller: keeps one `DedicatedCLBListener` child per selected Pod port, each
//! holding a slot that never moves while its Pod (by name) is wanted, and reports progress.
//!
//! Stages: dereference (provider, Pods, children) -> build (wanted Pod ports, allocation plan)
//! -> apply (create and delete children) -> update status.
use super::children::{self, ChildTemplate};
use super::labels::{MANAGER, POD_OWNER, SERVICE};
use super::{Context, events, pods, service_status};
use crate::allocation::{self, Allocation, AllocationInput, AllocationKey, PortSlot};
use crate::crd::condition::reasons;
use crate::crd::{DedicatedCLBListener, DedicatedCLBService};
use crate::registry::ProviderOps;
use crate::{Error, Result};
use dac_provider_api::{AllocationMode, PortRange, ProviderError, Scope};
use k8s_openapi::api::apps::v1::StatefulSet;
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::{Api, DeleteParams, ListParams, PostParams, ResourceExt};
use kube::runtime::controller::Action;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "DedicatedCLBService";
const RESYNC: Duration = Duration::from_secs(300);

pub async fn reconcile(service: Arc<DedicatedCLBService>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let result = reconcile_service(&service, &ctx).await;
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

/// The Pod ports a service asks for, with what each child needs besides its slot.
struct Wanted {
    keys: Vec<AllocationKey>,
    annotation: BTreeMap<AllocationKey, String>,
    pod_owner: BTreeMap<String, String>,
    /// Pod ports of Pods that exist now (what `status.totalPorts` counts).
    live: usize,
}

async fn reconcile_service(service: &DedicatedCLBService, ctx: &Context) -> Result<Action> {
    let namespace = service.namespace().unwrap_or_default();
    let name = service.name_any();

    // Dereference.
    let provider = match ctx.registry.get(&service.spec.provider) {
        Ok(provider) => provider,
        Err(not_enabled) => {
            let error =
                ProviderError::user_fixable(reasons::PROVIDER_NOT_ENABLED, not_enabled.to_string());
            return report_problem(service, ctx, &error).await;
        }
    };
    let listeners: Api<DedicatedCLBListener> = Api::namespaced(ctx.client.clone(), &namespace);
    let children = listeners
        .list(&ListParams::default().labels(&format!("{SERVICE}={name}")))
        .await?
        .items;
    let selected = select_pods(service, ctx).await?;

    // Build.
    let wanted = wanted_ports(service, ctx, &selected, &children).await?;
    // Children of another provider (the user switched) go first; their Pod ports get new
    // children once the old ones, and their cloud resources, are gone.
    let (current, stale): (Vec<_>, Vec<_>) = children
        .into_iter()
        .partition(|child| child.spec.provider == service.spec.provider);
    let mut to_delete: Vec<String> = stale.iter().map(ResourceExt::name_any).collect();
    let blocked: BTreeSet<AllocationKey> =
        stale.iter().filter_map(children::allocation_key).collect();

    let mut exhausted = Vec::new();
    let mut to_create = Vec::new();
    let _allocating = ctx.allocation_lock.lock().await;
    match provider.allocation_mode() {
        AllocationMode::PortPerSlot => {
            let scope = Scope {
                cluster: ctx.cluster.id.clone(),
                region: service.spec.lb_region.clone(),
                frontend_ids: frontend_ids(service),
            };
            let frontends = match provider.frontends(&scope).await {
                Ok(frontends) => frontends,
                Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
                Err(error) => return report_problem(service, ctx, &error).await,
            };
            let existing: Vec<Allocation> =
                current.iter().filter_map(children::allocation).collect();
            let occupied = occupied_elsewhere(ctx, &frontends, service).await?;
            let port_range = match (service.spec.min_port, service.spec.max_port) {
                (Some(min), Some(max)) => Some(PortRange { min, max }),
                _ => None,
            };
            let plan = allocation::plan(&AllocationInput {
                frontends: &frontends,
                port_range,
                existing: &existing,
                occupied: &occupied,
                wanted: &wanted.keys,
            });
            let by_key: BTreeMap<AllocationKey, String> = current
                .iter()
                .filter_map(|c| Some((children::allocation_key(c)?, c.name_any())))
                .collect();
            to_delete.extend(
                plan.release
                    .iter()
                    .filter_map(|release| by_key.get(&release.key).cloned()),
            );
            // Children that the plan neither keeps nor releases (no slot readable) are not ours to judge.
            to_create.extend(plan.assign.into_iter().map(|a| (a.key, Some(a.slot))));
            exhausted = plan.exhausted;
        }
        AllocationMode::AddressPerPod => {
            let have: BTreeSet<AllocationKey> = current
                .iter()
                .filter_map(children::allocation_key)
                .collect();
            let wanted_set: BTreeSet<&AllocationKey> = wanted.keys.iter().collect();
            to_delete.extend(
                current
                    .iter()
                    .filter(|c| {
                        children::allocation_key(c).is_none_or(|key| !wanted_set.contains(&key))
                    })
                    .map(ResourceExt::name_any),
            );
            to_create.extend(
                wanted
                    .keys
                    .iter()
                    .filter(|key| !have.contains(key))
                    .map(|key| (key.clone(), None)),
            );
        }
    }

    // Apply.
    let mut waiting = false;
    for (key, slot) in to_create {
        if blocked.contains(&key) {
            waiting = true;
            continue;
        }
        let template = ChildTemplate {
            key: &key,
            slot: slot.as_ref(),
            address_pod_annotation: wanted.annotation.get(&key).map(String::as_str),
            pod_owner: wanted.pod_owner.get(&key.pod_name).map(String::as_str),
        };
        let child = children::build_child(service, &template);
        match listeners
            .create(
                &PostParams {
                    field_manager: Some(MANAGER.into()),
                    ..Default::default()
                },
                &child,
            )
            .await
        {
            Ok(_) => {}
            // The old child of that name is still being deleted.
            Err(kube::Error::Api(status)) if status.code == 409 => waiting = true,
            Err(error) => return Err(error.into()),
        }
    }
    drop(_allocating);
    for name in &to_delete {
        match listeners.delete(name, &DeleteParams::background()).await {
            Ok(_) => {}
            Err(kube::Error::Api(status)) if status.code == 404 => {}
            Err(error) => return Err(error.into()),
        }
    }
    sync_child_annotations(service, &listeners, &current, &wanted).await?;

    // Update status.
    let children = listeners
        .list(&ListParams::default().labels(&format!("{SERVICE}={name}")))
        .await?
        .items;
    let summary = service_status::Summary::new(&children, wanted.live, &exhausted);
    if let Some((reason, message)) = service_status::patch(service, ctx, &summary).await? {
        events::warn(&ctx.recorder, &service.object_ref(&()), &reason, message).await;
    }
    Ok(if waiting || summary.bound < summary.total {
        Action::requeue(Duration::from_secs(5))
    } else {
        Action::requeue(RESYNC)
    })
}

/// Shows a problem that stops the whole service (e.g. its provider is not enabled) and looks
/// again later; its children are left as they are.
async fn report_problem(
    service: &DedicatedCLBService,
    ctx: &Context,
    error: &ProviderError,
) -> Result<Action> {
    ctx.metrics
        .reconcile_failed(KIND, error.reason().to_string());
    if service_status::patch_problem(service, ctx, error).await? {
        events::warn(
            &ctx.recorder,
            &service.object_ref(&()),
            error.reason(),
            error.message().to_string(),
        )
        .await;
    }
    Ok(Action::requeue(Duration::from_secs(60)))
}

/// `existedLbIds` (clb) or `natGatewayIds` (natgw): the frontends a resource names.
pub(super) fn frontend_ids(service: &DedicatedCLBService) -> Vec<String> {
    let spec = &service.spec;
    spec.existed_lb_ids
        .clone()
        .or_else(|| spec.nat_gateway_ids.clone())
        .unwrap_or_default()
}

async fn select_pods(service: &DedicatedCLBService, ctx: &Context) -> Result<Vec<Pod>> {
    let api: Api<Pod> =
        Api::namespaced(ctx.client.clone(), &service.namespace().unwrap_or_default());
    let selector = service
        .spec
        .selector
        .iter()
        .map(|(k, v)| format!("{k}={v}"))
        .collect::<Vec<_>>()
        .join(",");
    Ok(api
        .list(&ListParams::default().labels(&selector))
        .await?
        .items)
}

/// Every port of every selected Pod, plus the ports of StatefulSet Pods that are missing for a
/// moment (deleted, being recreated) but whose ordinal is still below the replica count: their
/// children stay, so the recreated Pod gets its old address back.
async fn wanted_ports(
    service: &DedicatedCLBService,
    ctx: &Context,
    selected: &[Pod],
    children: &[DedicatedCLBListener],
) -> Result<Wanted> {
    let mut pod_names: BTreeSet<String> = selected.iter().map(ResourceExt::name_any).collect();
    let live = pod_names.len() * service.spec.ports.len();
    let mut pod_owner: BTreeMap<String, String> = selected
        .iter()
        .filter_map(|pod| Some((pod.name_any(), pods::statefulset_owner(pod)?)))
        .collect();

    let mut replicas: BTreeMap<String, Option<i32>> = BTreeMap::new();
    let statefulsets: Api<StatefulSet> =
        Api::namespaced(ctx.client.clone(), &service.namespace().unwrap_or_default());
    for child in children {
        let Some(pod) = child.spec.backend_pod.as_ref().map(|b| b.pod_name.clone()) else {
            continue;
        };
        let Some(owner) = child.annotations().get(POD_OWNER) else {
            continue;
        };
        if pod_names.contains(&pod) {
            continue;
        }
        let Some(set_name) = owner.strip_prefix("StatefulSet/") else {
            continue;
        };
        if !replicas.contains_key(set_name) {
            let set = statefulsets.get_opt(set_name).await?;
            let count = set
                .filter(|s| s.metadata.deletion_timestamp.is_none())
                .map(|s| s.spec.and_then(|s| s.replicas).unwrap_or(1));
            replicas.insert(set_name.to_string(), count);
        }
        let still_wanted = matches!((replicas[set_name], pods::ordinal(&pod)), (Some(count), Some(ordinal)) if ordinal < count);
        if still_wanted {
            pod_owner.insert(pod.clone(), owner.clone());
            pod_names.insert(pod);
        }
    }

    let mut keys = Vec::new();
    let mut annotation = BTreeMap::new();
    for pod in &pod_names {
        for port in &service.spec.ports {
            let key = AllocationKey::new(pod.clone(), port.protocol.into(), port.target_port);
            if let Some(name) = &port.address_pod_annotation {
                annotation.insert(key.clone(), name.clone());
            }
            keys.push(key);
        }
    }
    Ok(Wanted {
        keys,
        annotation,
        pod_owner,
        live,
    })
}

/// Slots on these frontends that listeners of other services (or hand-made ones) hold.
async fn occupied_elsewhere(
    ctx: &Context,
    frontends: &[dac_provider_api::Frontend],
    service: &DedicatedCLBService,
) -> Result<Vec<PortSlot>> {
    let ids: BTreeSet<&str> = frontends.iter().map(|f| f.id.as_str()).collect();
    let all: Api<DedicatedCLBListener> = super::scoped(&ctx.client, ctx.namespace.as_deref());
    let uid = service.uid();
    Ok(all
        .list(&ListParams::default())
        .await?
        .items
        .iter()
        .filter(|child| {
            child
                .owner_references()
                .iter()
                .all(|owner| Some(&owner.uid) != uid.as_ref())
        })
        .filter_map(children::port_slot)
        .filter(|slot| ids.contains(slot.frontend_id.as_str()))
        .collect())
}

/// Keeps each child's spec-derived annotations (address annotation, provider options) in step
/// with the service.
async fn sync_child_annotations(
    service: &DedicatedCLBService,
    listeners: &Api<DedicatedCLBListener>,
    current: &[DedicatedCLBListener],
    wanted: &Wanted,
) -> Result<()> {
    for child in current {
        let Some(key) = children::allocation_key(child) else {
            continue;
        };
        let want =
            children::synced_annotations(service, wanted.annotation.get(&key).map(String::as_str));
        let stale: serde_json::Map<String, serde_json::Value> = want
            .into_iter()
            .filter(|(name, value)| child.annotations().get(*name) != value.as_ref())
            .map(|(name, value)| (name.to_string(), serde_json::json!(value)))
            .collect();
        if !stale.is_empty() {
            let patch = serde_json::json!({ "metadata": { "annotations": stale } });
            let params = kube::api::PatchParams::apply(MANAGER);
            listeners
                .patch(&child.name_any(), &params, &kube::api::Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}
