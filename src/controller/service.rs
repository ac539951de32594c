//! The service controller: keeps one `DedicatedCLBListener` child per selected Pod port, each
//! holding a slot that never moves while its Pod (by name) is wanted, and reports progress.
//!
//! Stages: dereference (provider, Pods, children) -> build (wanted Pod ports, allocation plan)
//! -> apply (create and delete children) -> update status.
use super::cached_pod::CachedPod;
use super::children::{self, ChildTemplate};
use super::labels::{MANAGER, POD_OWNER};
use super::{Context, allocate, events, pods, service_status, sets};
use crate::allocation::{Allocation, AllocationKey};
use crate::crd::condition::reasons;
use crate::crd::{DedicatedCLBListener, DedicatedCLBService};
use crate::frontends::{self, CONFIRM_GONE_AFTER};
use crate::registry::ProviderOps;
use crate::{Error, Result};
use dac_provider_api::{AllocationMode, Frontend, PortRange, ProviderError, Scope};
use kube::Resource;
use kube::api::{Api, ResourceExt};
use kube::core::{Selector, SelectorExt};
use kube::runtime::controller::Action;
use std::collections::{BTreeMap, BTreeSet};
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "DedicatedCLBService";
/// Watches (its children, its Pods) bring every change in the cluster; this catches changes in
/// the cloud (a CLB deleted in the console), which no watch reports. A quiet resync reads
/// (cached) and writes nothing.
const RESYNC: Duration = Duration::from_secs(60);
/// A child of the same name is still being deleted; its deletion wakes the service anyway.
const WAIT_FOR_DELETION: Duration = Duration::from_secs(10);

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
    pod_owner: BTreeMap<String, pods::SetRef>,
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
    let children = children_of(service, ctx);
    let selected = select_pods(service, ctx);

    // Build.
    let wanted = wanted_ports(service, ctx, &selected, &children).await?;
    // Children of another provider (the user switched) go first; their Pod ports get new
    // children once the old ones, and their cloud resources, are gone.
    let (current, stale): (Vec<_>, Vec<_>) = children
        .into_iter()
        .partition(|child| child.spec.provider == service.spec.provider);
    let mut to_delete: Vec<Arc<DedicatedCLBListener>> = stale.clone();
    let blocked: BTreeSet<AllocationKey> = stale
        .iter()
        .filter_map(|c| children::allocation_key(c))
        .collect();

    let mut exhausted = Vec::new();
    let mut to_create = Vec::new();
    let mut waiting = false;
    let mut unhealthy: Vec<Frontend> = Vec::new();
    let mut confirming = false;
    let uid = service.uid().unwrap_or_default();
    match provider.allocation_mode() {
        AllocationMode::PortPerSlot => {
            let mut scope = Scope {
                cluster: ctx.cluster.id.clone(),
                region: service.spec.lb_region.clone(),
                frontend_ids: frontend_ids(service),
                namespace: ctx.namespace.clone(),
            };
            // The CLBs made for it (`extensiveParameters`) serve it too.
            let created = created_frontends(service, ctx, provider, &scope).await?;
            for id in &created {
                if !scope.frontend_ids.contains(id) {
                    scope.frontend_ids.push(id.clone());
                }
            }
            let frontends = match provider.frontends(&scope).await {
                Ok(frontends) => frontends,
                Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
                Err(error) => return report_problem(service, ctx, &error).await,
            };
            if let Some(denied) = frontends
                .iter()
                .filter(|f| f.problem.as_ref().is_none_or(|p| !p.gone))
                .find_map(|f| {
                    frontends::check_access(&ctx.access, &namespace, &f.id, &f.tags).err()
                })
            {
                let error =
                    ProviderError::user_fixable(reasons::FRONTEND_NOT_ALLOWED, denied.message);
                return report_problem(service, ctx, &error).await;
            }
            let confirmed_gone: Vec<bool> = {
                let mut sightings = ctx.gone_sightings();
                frontends
                    .iter()
                    .map(|f| {
                        let key = (
                            service.spec.provider.clone(),
                            scope.region.clone(),
                            f.id.clone(),
                        );
                        sightings.observe(key, f, std::time::Instant::now())
                    })
                    .collect()
            };
            unhealthy = frontends
                .iter()
                .filter(|f| f.problem.is_some())
                .cloned()
                .collect();
            confirming = frontends
                .iter()
                .zip(&confirmed_gone)
                .any(|(f, confirmed)| f.problem.as_ref().is_some_and(|p| p.gone) && !confirmed);
            let offered = frontends::offered(&frontends, &confirmed_gone);

            let port_range = match (service.spec.min_port, service.spec.max_port) {
                (Some(min), Some(max)) => Some(PortRange { min, max }),
                _ => None,
            };
            // Pod ports whose old child is still going are planned once it is gone.
            let plannable: Vec<AllocationKey> = wanted
                .keys
                .iter()
                .filter(|key| !blocked.contains(key))
                .cloned()
                .collect();
            waiting |= plannable.len() < wanted.keys.len();
            let plan = allocate::plan(
                ctx,
                allocate::Request {
                    owner_uid: &uid,
                    namespace: &namespace,
                    current: &current,
                    frontends: &offered,
                    port_range,
                    pools: &[],
                    same_port: &[],
                    wanted: &plannable,
                    child_name: &|key| children::child_name(&name, key),
                },
            )
            .await;
            tracing::debug!(
                service = %name,
                keep = plan.keep.len(),
                assign = plan.assign.len(),
                release = ?plan.release.iter().map(|r| (&r.key.pod_name, r.key.protocol, r.reason)).collect::<Vec<_>>(),
                exhausted = plan.exhausted.len(),
                "allocation planned"
            );
            to_delete.extend(plan.release.iter().filter_map(|release| {
                let allocation = Allocation {
                    key: release.key.clone(),
                    slot: release.slot.clone(),
                };
                children::holding(&current, &allocation).cloned()
            }));
            // Children that the plan neither keeps nor releases (no slot readable) are not ours to judge.
            to_create.extend(plan.assign.into_iter().map(|a| (a.key, Some(a.slot))));
            exhausted = plan.exhausted;
            if !exhausted.is_empty() && grow(service, ctx, provider, created.len()).await? {
                confirming = true; // look again soon, with the new CLB
            }
        }
        AllocationMode::AddressPerPod => {
            let have: BTreeSet<AllocationKey> = current
                .iter()
                .filter_map(|c| children::allocation_key(c))
                .collect();
            let wanted_set: BTreeSet<&AllocationKey> = wanted.keys.iter().collect();
            to_delete.extend(
                current
                    .iter()
                    .filter(|c| {
                        children::allocation_key(c).is_none_or(|key| !wanted_set.contains(&key))
                    })
                    .cloned(),
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
    let mut new_children = Vec::new();
    for (key, slot) in to_create {
        if blocked.contains(&key) {
            waiting = true;
            continue;
        }
        let template = ChildTemplate {
            key: &key,
            slot: slot.as_ref(),
            address_pod_annotation: wanted.annotation.get(&key).map(String::as_str),
            pod_owner: wanted.pod_owner.get(&key.pod_name),
        };
        new_children.push(children::build_child(service, &template));
    }
    waiting |= children::create_all(ctx, &listeners, new_children).await?;
    children::delete_all(&listeners, to_delete.iter().map(AsRef::as_ref)).await?;
    sync_children(service, &listeners, &current, &wanted).await?;

    // Update status, from the cache: what was just created shows there as it arrives, and
    // its arrival wakes this service again.
    let children = children_of(service, ctx);
    let summary = service_status::Summary::new(&children, wanted.live, &exhausted, &unhealthy);
    for (reason, message) in service_status::patch(service, ctx, &summary).await? {
        events::warn(&ctx.recorder, &service.object_ref(&()), &reason, message).await;
    }
    // Progress arrives through watches (children's status, Pods); timers only for what no
    // watch reports: a name still being freed, and the second read of a frontend seen gone.
    Ok(if confirming {
        Action::requeue(CONFIRM_GONE_AFTER)
    } else if waiting {
        Action::requeue(WAIT_FOR_DELETION)
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

/// The tags that mark the CLBs made for this service.
fn service_tags(service: &DedicatedCLBService, ctx: &Context) -> BTreeMap<String, String> {
    BTreeMap::from([
        (frontends::TAG_CLUSTER.to_string(), ctx.cluster.id.clone()),
        (
            frontends::TAG_SERVICE.to_string(),
            format!(
                "{}.{}",
                service.namespace().unwrap_or_default(),
                service.name_any()
            ),
        ),
    ])
}

/// The CLBs made for this service earlier (found by their tags), when it may make some.
async fn created_frontends(
    service: &DedicatedCLBService,
    ctx: &Context,
    provider: &crate::registry::Provider,
    scope: &Scope,
) -> Result<Vec<String>> {
    if service.spec.extensive_parameters.is_none() {
        return Ok(Vec::new());
    }
    let scope = Scope {
        frontend_ids: Vec::new(),
        ..scope.clone()
    };
    match provider
        .find_frontends(&scope, &service_tags(service, ctx))
        .await
    {
        Ok(found) => Ok(found.into_iter().map(|f| f.id).collect()),
        Err(error) if error.is_retryable() => Err(Error::Provider(error)),
        Err(error) => {
            tracing::warn!(service = %service.name_any(), %error, "cannot look for the CLBs made for the service");
            Ok(Vec::new())
        }
    }
}

/// Seed 000's `extensiveParameters`: a service whose CLBs are full gets one more, made with
/// those CreateLoadBalancer parameters (JSON), up to [`frontends::MAX_CREATED_PER_SERVICE`].
/// True when it made one.
async fn grow(
    service: &DedicatedCLBService,
    ctx: &Context,
    provider: &crate::registry::Provider,
    made_before: usize,
) -> Result<bool> {
    let Some(text) = &service.spec.extensive_parameters else {
        return Ok(false);
    };
    if made_before >= frontends::MAX_CREATED_PER_SERVICE {
        return Ok(false);
    }
    let parameters: serde_json::Value = match serde_json::from_str(text) {
        Ok(parameters) => parameters,
        Err(error) => {
            let error = ProviderError::user_fixable(
                "InvalidExtensiveParameters",
                format!(
                    "extensiveParameters is not a JSON object of CreateLoadBalancer parameters: {error}"
                ),
            );
            report_problem(service, ctx, &error).await?;
            return Ok(false);
        }
    };
    let request = dac_provider_api::FrontendRequest {
        region: service.spec.lb_region.clone(),
        parameters,
        tags: service_tags(service, ctx),
        client_token: format!(
            "dac-{}-{made_before}",
            service.uid().unwrap_or_default().replace('-', "")
        ),
    };
    match provider.create_frontend(&request).await {
        Ok(id) => {
            tracing::info!(service = %service.name_any(), %id, "created a CLB for the service");
            Ok(true)
        }
        Err(error) if error.is_retryable() => Err(Error::Provider(error)),
        Err(error) => {
            report_problem(service, ctx, &error).await?;
            Ok(false)
        }
    }
}

/// `existedLbIds` (clb) or `natGatewayIds` (natgw): the frontends a resource names.
pub(super) fn frontend_ids(service: &DedicatedCLBService) -> Vec<String> {
    let spec = &service.spec;
    spec.existed_lb_ids
        .clone()
        .or_else(|| spec.nat_gateway_ids.clone())
        .unwrap_or_default()
}

/// The Pods the selector picks, from the cache, but not finished ones (phase `Succeeded` or
/// `Failed`): they never serve again, so they hold no slot.
fn select_pods(service: &DedicatedCLBService, ctx: &Context) -> Vec<Arc<CachedPod>> {
    ctx.stores
        .pods
        .state()
        .into_iter()
        .filter(|pod| selects(service, pod))
        .filter(|pod| !pods::has_finished(pod))
        .collect()
}

/// Whether the service's selector takes this Pod (same namespace, labels matched).
pub(super) fn selects(service: &DedicatedCLBService, pod: &CachedPod) -> bool {
    // Matched against the labels, never joined into a selector string (the CRD also refuses
    // keys and values that are not label syntax).
    let selector: Selector = service
        .spec
        .selector
        .iter()
        .map(|(k, v)| (k.clone(), v.clone()))
        .collect();
    pod.namespace() == service.namespace() && selector.matches(pod.labels())
}

/// The service's children, from the cache.
fn children_of(service: &DedicatedCLBService, ctx: &Context) -> Vec<Arc<DedicatedCLBListener>> {
    let namespace = service.namespace();
    let uid = service.uid();
    ctx.stores
        .listeners
        .state()
        .into_iter()
        .filter(|child| child.namespace() == namespace)
        .filter(|child| {
            child
                .owner_references()
                .iter()
                .any(|o| Some(&o.uid) == uid.as_ref())
        })
        .collect()
}

/// Every port of every selected Pod, plus the ports of StatefulSet Pods (`apps/v1` or
/// OpenKruise's Advanced StatefulSet) that are missing for a moment (deleted, being recreated)
/// but whose ordinal the set still wants: their children stay, so the recreated Pod gets its
/// old address back.
async fn wanted_ports(
    service: &DedicatedCLBService,
    ctx: &Context,
    selected: &[Arc<CachedPod>],
    children: &[Arc<DedicatedCLBListener>],
) -> Result<Wanted> {
    let namespace = service.namespace().unwrap_or_default();
    let mut pod_names: BTreeSet<String> = selected.iter().map(|pod| pod.name_any()).collect();
    let mut pod_owner: BTreeMap<String, pods::SetRef> = selected
        .iter()
        .filter_map(|pod| Some((pod.name_any(), pods::statefulset_owner(pod)?)))
        .collect();
    let mut sets: BTreeMap<String, pods::WantedOrdinals> = BTreeMap::new();

    // A terminating Pod whose set no longer wants its ordinal (scaled below it) will not be
    // back: its ports are released while Kubernetes removes it, not after. (Its targets are
    // already off: a terminating Pod is no backend.) A terminating Pod that will be recreated
    // under its name keeps its ports for its successor.
    for pod in selected
        .iter()
        .filter(|pod| pod.metadata.deletion_timestamp.is_some())
    {
        let name = pod.name_any();
        let Some(owner) = pod_owner.get(&name) else {
            continue;
        };
        let wanted = ordinals_of(&mut sets, ctx, &namespace, owner).await?;
        if pods::ordinal(&name).is_some_and(|ordinal| !wanted.wants(ordinal)) {
            pod_names.remove(&name);
            pod_owner.remove(&name);
        }
    }
    let live = pod_names.len() * service.spec.ports.len();

    for child in children {
        let Some(pod) = child.spec.backend_pod.as_ref().map(|b| b.pod_name.clone()) else {
            continue;
        };
        if pod_names.contains(&pod) {
            continue;
        }
        let Some(owner) = child
            .annotations()
            .get(POD_OWNER)
            .and_then(|value| pods::SetRef::from_annotation(value))
        else {
            continue;
        };
        let wanted = ordinals_of(&mut sets, ctx, &namespace, &owner).await?;
        if pods::ordinal(&pod).is_some_and(|ordinal| wanted.wants(ordinal)) {
            pod_owner.insert(pod.clone(), owner);
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

/// [`sets::wanted_ordinals`] of `set`, read once per reconcile however many of its Pods ask.
async fn ordinals_of<'s>(
    sets: &'s mut BTreeMap<String, pods::WantedOrdinals>,
    ctx: &Context,
    namespace: &str,
    set: &pods::SetRef,
) -> Result<&'s pods::WantedOrdinals> {
    let annotation = set.to_annotation();
    if !sets.contains_key(&annotation) {
        let wanted = sets::wanted_ordinals(&ctx.client, namespace, set).await?;
        sets.insert(annotation.clone(), wanted);
    }
    Ok(&sets[&annotation])
}

/// Keeps each child in step with the service: its spec-derived annotations (address
/// annotation, provider options) and the `CLBListenerConfig` it names, so that a service moved to
/// another config re-applies its listeners' settings (the listener controller modifies them).
async fn sync_children(
    service: &DedicatedCLBService,
    listeners: &Api<DedicatedCLBListener>,
    current: &[Arc<DedicatedCLBListener>],
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
        let config = &service.spec.listener_config;
        let mut patch = serde_json::Map::new();
        if !stale.is_empty() {
            patch.insert(
                "metadata".into(),
                serde_json::json!({ "annotations": stale }),
            );
        }
        if child.spec.listener_config != *config {
            patch.insert(
                "spec".into(),
                serde_json::json!({ "listenerConfig": config }),
            );
        }
        if !patch.is_empty() {
            let params = kube::api::PatchParams::apply(MANAGER);
            listeners
                .patch(&child.name_any(), &params, &kube::api::Patch::Merge(&patch))
                .await?;
        }
    }
    Ok(())
}
