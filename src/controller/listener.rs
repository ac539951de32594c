//! The listener controller: makes the cloud match one `DedicatedCLBListener` (one Pod port's
//! address) through its provider, and releases it before the object may go.
//!
//! Stages of `apply`: dereference (provider, Pod, listener config) -> validate (the Pod's IP
//! must be a VPC IP) -> build (the provider's `Binding`) -> apply (`ensure`) -> update status
//! and the Pod annotation.
use super::labels::{
    ADDRESS_POD_ANNOTATION, FINALIZER, ISOLATED, POD_OWNER, PROVIDER_OPTIONS, SERVICE,
};
use super::{Context, children, events, pods, status};
use crate::crd::condition::reasons;
use crate::crd::{DedicatedCLBListener, ListenerState};
use crate::registry::{ProviderNotEnabled, ProviderOps};
use crate::{Error, Result};
use dac_provider_api::{
    AllocationMode, Backend, Binding, BindingKey, BindingState, ProviderError, Slot,
};
use k8s_openapi::api::core::v1::Pod;
use kube::Resource;
use kube::api::{Api, ListParams, ResourceExt};
use kube::runtime::controller::Action;
use kube::runtime::finalizer::{Event as Finalizer, finalizer};
use kube::runtime::reflector::ObjectRef;
use std::sync::Arc;
use std::time::{Duration, Instant};

pub const KIND: &str = "DedicatedCLBListener";
/// A healthy listener is looked at again this often, to notice drift in the cloud.
const RESYNC: Duration = Duration::from_secs(600);
/// How soon a listener waiting on something the user must fix is looked at again.
const USER_FIX_RETRY: Duration = Duration::from_secs(60);
/// After this many failed attempts in a row the status says the cloud is being retried, so a
/// binding stuck for minutes does not look healthy.
const SHOW_RETRYING_AFTER: u32 = 3;

pub async fn reconcile(listener: Arc<DedicatedCLBListener>, ctx: Arc<Context>) -> Result<Action> {
    let started = Instant::now();
    let namespace = listener.namespace().unwrap_or_default();
    let api: Api<DedicatedCLBListener> = Api::namespaced(ctx.client.clone(), &namespace);
    let result = finalizer(&api, FINALIZER, listener, |event| async {
        match event {
            Finalizer::Apply(listener) => apply(&listener, &ctx).await,
            Finalizer::Cleanup(listener) => cleanup(&listener, &ctx).await,
        }
    })
    .await
    .map_err(|error| Error::Finalizer(Box::new(error)));
    ctx.metrics.reconciled(KIND, started.elapsed());
    result
}

/// Where the listener's traffic should go, as far as the controller can tell.
enum BackendState {
    /// Nothing to bind: no `backendPod`, the Pod is gone or terminating, or has no IP yet.
    None,
    Ready(Backend),
    /// The Pod exists but cannot be a cloud target; the user must change it.
    NotBindable(ProviderError),
}

async fn apply(listener: &DedicatedCLBListener, ctx: &Context) -> Result<Action> {
    // Dereference.
    let provider = match ctx.registry.get(&listener.spec.provider) {
        Ok(provider) => provider,
        Err(not_enabled) => {
            return report_failure(listener, ctx, &not_enabled_error(&not_enabled)).await;
        }
    };
    if let Some(denied) = denied_frontend(listener, provider, ctx).await? {
        return report_failure(listener, ctx, &denied).await;
    }
    if let Some(wait) = released_with_its_pod(listener, ctx).await? {
        return Ok(Action::requeue(wait));
    }
    let backend = resolve_backend(listener, ctx).await?;
    let settings = match resolve_listener_config(listener, ctx).await? {
        Ok(settings) => settings,
        Err(error) => return report_failure(listener, ctx, &error).await,
    };

    // Validate and build.
    let (backend, unbindable) = match backend {
        BackendState::None => (None, None),
        BackendState::Ready(backend) => (Some(backend), None),
        BackendState::NotBindable(error) => (None, Some(error)),
    };
    let binding = build_binding(listener, backend, settings, false)?;

    // Apply.
    tracing::debug!(listener = %listener.name_any(), backend = ?binding.backend, "ensuring");
    let bound = match provider.ensure(&binding).await {
        Ok(bound) => bound,
        Err(error) if error.is_retryable() => return retry_later(listener, ctx, error).await,
        Err(error) => return report_failure(listener, ctx, &error).await,
    };

    // Update status and the Pod annotation, unless the object was deleted while the cloud call
    // ran (a Pod scaled away takes its children with it): its cleanup comes next, and a status
    // written now would be one more write per port of a fleet scaling down, for nothing.
    if being_deleted(listener, ctx) {
        return Ok(Action::await_change());
    }
    let state = match bound.state {
        BindingState::Pending => ListenerState::Pending,
        BindingState::Available => ListenerState::Available,
        BindingState::Bound => ListenerState::Bound,
    };
    // The Pod's annotation follows from this status (one patch per Pod, in pod_address).
    let outcome = status::ListenerOutcome {
        state,
        listener_id: Some(bound.resource_id),
        address: bound.address,
        problem: unbindable.as_ref(),
    };
    let changed_reason = status::patch_listener(listener, ctx, outcome).await?;
    if let (Some(reason), Some(error)) = (changed_reason, unbindable.as_ref()) {
        events::warn(
            &ctx.recorder,
            &listener.object_ref(&()),
            &reason,
            error.message().to_string(),
        )
        .await;
    }
    Ok(match state {
        ListenerState::Pending => Action::requeue(Duration::from_secs(2)),
        _ if unbindable.is_some() => Action::requeue(USER_FIX_RETRY),
        _ => Action::requeue(RESYNC),
    })
}

/// How long a service's child whose Pod is being scaled away waits for the service to delete it
/// before taking its target off itself (the service may be failing). The service deletes at the
/// API server's pace: a fleet's 4,800 children took over 30 s, and a 15 s wait ran out for most.
const HANDOVER: Duration = Duration::from_secs(60);

/// A service's child whose Pod is terminating or gone for good (its StatefulSet no longer wants
/// the ordinal, so the service deletes the child) is left as it is for up to [`HANDOVER`]: the
/// cleanup removes the listener with its target. Taking the target off first would cost a
/// cloud write and a status write per port of a fleet scaling down, while the API server is
/// busiest. (A terminating Pod keeps its IP meanwhile, as a terminating endpoint does.)
/// Returns when to look again.
async fn released_with_its_pod(
    listener: &DedicatedCLBListener,
    ctx: &Context,
) -> Result<Option<Duration>> {
    let key = status::pending_key(listener);
    let (Some(_), Some(backend_pod), Some(set)) = (
        listener.labels().get(SERVICE),
        &listener.spec.backend_pod,
        listener
            .annotations()
            .get(POD_OWNER)
            .and_then(|value| pods::SetRef::from_annotation(value)),
    ) else {
        return Ok(None);
    };
    let namespace = listener.namespace().unwrap_or_default();
    let live = ctx
        .stores
        .pods
        .get(&ObjectRef::new(&backend_pod.pod_name).within(&namespace))
        .is_some_and(|pod| pod.metadata.deletion_timestamp.is_none());
    let scaled_away = !live
        && match pods::ordinal(&backend_pod.pod_name) {
            Some(ordinal) => {
                let wanted = ctx
                    .recent_ordinals
                    .get(&ctx.client, &namespace, &set)
                    .await?;
                !wanted.wants(ordinal)
            }
            None => false,
        };
    Ok(ctx.handovers.waiting(&key, scaled_away, HANDOVER))
}

/// Whether the cache shows the listener with a deletionTimestamp by now.
fn being_deleted(listener: &DedicatedCLBListener, ctx: &Context) -> bool {
    ctx.stores
        .listeners
        .get(&ObjectRef::from_obj(listener))
        .is_some_and(|cached| cached.metadata.deletion_timestamp.is_some())
}

async fn cleanup(listener: &DedicatedCLBListener, ctx: &Context) -> Result<Action> {
    let provider = match ctx.registry.get(&listener.spec.provider) {
        Ok(provider) => provider,
        // Without its provider nothing can release the address; keeping the finalizer keeps the
        // record of what to release until the provider is enabled again.
        Err(not_enabled) => {
            return cleanup_blocked(listener, ctx, &not_enabled_error(&not_enabled)).await;
        }
    };
    // Only an address per Pod can be shared by the Pod's other ports; asking the API server
    // for every port of a fleet scaling down would cost one LIST per port.
    let keep_pod_address = provider.allocation_mode() == AllocationMode::AddressPerPod
        && pod_has_other_listeners(listener, ctx).await?;
    let binding = build_binding(listener, None, None, keep_pod_address)?;
    match provider.release(&binding).await {
        Ok(()) => {}
        // The load balancer itself is gone, and its listeners with it.
        Err(error)
            if !error.is_retryable() && error.reason() == reasons::LOAD_BALANCER_NOT_FOUND => {}
        Err(error) => {
            // Only a release that takes more than one try shows `Deleting`: one that is done
            // at once needs no status write (a fleet scaling down would make thousands), its
            // object simply goes.
            if listener.status.as_ref().and_then(|s| s.state) != Some(ListenerState::Deleting) {
                let outcome = status::ListenerOutcome::deleting(listener);
                status::patch_listener(listener, ctx, outcome).await?;
            }
            return if error.is_retryable() {
                retry_later(listener, ctx, error).await
            } else {
                cleanup_blocked(listener, ctx, &error).await
            };
        }
    }
    write_pod_annotation(listener, ctx, None).await?;
    ctx.listener_writes.forget(&status::pending_key(listener));
    ctx.handovers.forget(&status::pending_key(listener));
    tracing::info!(listener = %listener.name_any(), "address released");
    Ok(Action::await_change())
}

/// A retryable failure: backed off by the error policy; after a few in a row the status says
/// so (`Ready=False`, reason `CloudRetrying`, the cloud's message).
async fn retry_later(
    listener: &DedicatedCLBListener,
    ctx: &Context,
    error: ProviderError,
) -> Result<Action> {
    if ctx.consecutive_failures(KIND, listener) + 1 >= SHOW_RETRYING_AFTER {
        status::patch_listener(
            listener,
            ctx,
            status::ListenerOutcome::retrying(listener, &error),
        )
        .await?;
    }
    Err(Error::Provider(error))
}

fn not_enabled_error(not_enabled: &ProviderNotEnabled) -> ProviderError {
    ProviderError::user_fixable(ProviderNotEnabled::REASON, not_enabled.to_string())
}

/// A release the user (or an operator) must unblock: reported like any such failure, and the
/// finalizer stays (an `Ok` would let the finalizer helper remove it and forget the address).
async fn cleanup_blocked(
    listener: &DedicatedCLBListener,
    ctx: &Context,
    error: &ProviderError,
) -> Result<Action> {
    report_failure(listener, ctx, error).await?;
    Err(Error::CleanupWaiting {
        why: error.message().to_string(),
        retry: USER_FIX_RETRY,
    })
}

/// Records a failure the user (or an operator) must fix: condition, state `Failed`, an Event
/// when the reason is new; then looks again later instead of hot-looping.
async fn report_failure(
    listener: &DedicatedCLBListener,
    ctx: &Context,
    error: &ProviderError,
) -> Result<Action> {
    ctx.metrics
        .reconcile_failed(KIND, error.reason().to_string());
    let state = if listener.metadata.deletion_timestamp.is_some() {
        ListenerState::Deleting
    } else {
        ListenerState::Failed
    };
    let outcome = status::ListenerOutcome::failed(listener, state, error);
    if let Some(reason) = status::patch_listener(listener, ctx, outcome).await? {
        events::warn(
            &ctx.recorder,
            &listener.object_ref(&()),
            &reason,
            error.message().to_string(),
        )
        .await;
    }
    Ok(Action::requeue(USER_FIX_RETRY))
}

/// A hand-made listener naming a frontend the admin's allow-list does not give its namespace
/// (a service's children were checked when the service allocated them).
async fn denied_frontend(
    listener: &DedicatedCLBListener,
    provider: &crate::registry::Provider,
    ctx: &Context,
) -> Result<Option<ProviderError>> {
    let Some(frontend_id) = &listener.spec.lb_id else {
        return Ok(None);
    };
    if ctx.access.frontends.is_empty() || !listener.owner_references().is_empty() {
        return Ok(None);
    }
    let namespace = listener.namespace().unwrap_or_default();
    let scope = dac_provider_api::Scope {
        cluster: ctx.cluster.id.clone(),
        region: listener.spec.lb_region.clone(),
        frontend_ids: vec![frontend_id.clone()],
        namespace: ctx.namespace.clone(),
    };
    // Tags only matter to tag rules; an unreadable frontend is judged by its id alone.
    let tags = match provider.frontends(&scope).await {
        Ok(frontends) => frontends
            .into_iter()
            .find(|f| &f.id == frontend_id)
            .map(|f| f.tags)
            .unwrap_or_default(),
        Err(error) if error.is_retryable() => return Err(Error::Provider(error)),
        Err(_) => Default::default(),
    };
    Ok(
        crate::frontends::check_access(&ctx.access, &namespace, frontend_id, &tags)
            .err()
            .map(|denied| {
                ProviderError::user_fixable(reasons::FRONTEND_NOT_ALLOWED, denied.message)
            }),
    )
}

async fn resolve_backend(listener: &DedicatedCLBListener, ctx: &Context) -> Result<BackendState> {
    let Some(backend_pod) = &listener.spec.backend_pod else {
        return Ok(BackendState::None);
    };
    // An isolated Pod (the pool API's `enable-clb-port-mapping: "false"`) keeps its address
    // but gets no traffic.
    if listener.annotations().get(ISOLATED).map(String::as_str) == Some("true") {
        return Ok(BackendState::None);
    }
    let namespace = listener.namespace().unwrap_or_default();
    let Some(pod) = ctx
        .stores
        .pods
        .get(&ObjectRef::new(&backend_pod.pod_name).within(&namespace))
    else {
        return Ok(BackendState::None);
    };
    let Some(ip) = pods::live_ip(&pod) else {
        return Ok(BackendState::None);
    };
    if !ctx.cluster.is_vpc_ip(ip) {
        return Ok(BackendState::NotBindable(ProviderError::user_fixable(
            reasons::POD_IP_NOT_IN_VPC,
            format!(
                "Pod {} has IP {ip}, which is not in the VPC, so no load balancer or NAT gateway can reach it; \
                 give it a VPC IP with the Pod annotation `tke.cloud.tencent.com/networks: tke-route-eni`",
                backend_pod.pod_name
            ),
        )));
    }
    Ok(BackendState::Ready(Backend {
        pod_name: backend_pod.pod_name.clone(),
        pod_ip: ip.to_string(),
        port: backend_pod.port,
    }))
}

/// The referenced `CLBListenerConfig`'s spec as JSON, or the user-fixable error of a missing one.
async fn resolve_listener_config(
    listener: &DedicatedCLBListener,
    ctx: &Context,
) -> Result<Result<Option<serde_json::Value>, ProviderError>> {
    let Some(name) = &listener.spec.listener_config else {
        return Ok(Ok(None));
    };
    let cached = ctx
        .stores
        .listener_configs
        .get(&ObjectRef::new(name).within(&listener.namespace().unwrap_or_default()));
    Ok(match cached {
        Some(config) => Ok(Some(
            serde_json::to_value(&config.spec).map_err(Error::Serialize)?,
        )),
        None => Err(ProviderError::user_fixable(
            reasons::INVALID_LISTENER_CONFIG,
            format!("CLBListenerConfig {name:?} does not exist in this namespace"),
        )),
    })
}

fn build_binding(
    listener: &DedicatedCLBListener,
    backend: Option<Backend>,
    listener_settings: Option<serde_json::Value>,
    keep_pod_address: bool,
) -> Result<Binding> {
    let spec = &listener.spec;
    let protocol = spec.protocol.into();
    let slot = match (&spec.lb_id, spec.lb_port, &spec.backend_pod) {
        (Some(frontend_id), Some(port), _) => Slot::Port {
            frontend_id: frontend_id.clone(),
            public_ip: spec.public_ip.clone(),
            port,
            protocol,
        },
        (None, None, Some(pod)) => Slot::PodAddress {
            pod_name: pod.pod_name.clone(),
            port: pod.port,
            protocol,
        },
        // The CRD's validation rules make this unreachable for objects the API server accepted.
        _ => return Err(Error::InvalidListener(listener.name_any())),
    };
    Ok(Binding {
        key: BindingKey::new(
            listener.namespace().unwrap_or_default(),
            listener.name_any(),
        ),
        region: spec.lb_region.clone(),
        slot,
        backend,
        resource_id: listener.status.as_ref().and_then(|s| s.listener_id.clone()),
        listener_settings,
        // Written by the service controller from valid JSON; anything else is treated as absent.
        options: listener
            .annotations()
            .get(PROVIDER_OPTIONS)
            .and_then(|json| serde_json::from_str(json).ok()),
        keep_pod_address,
    })
}

/// Whether other listeners of the same provider still serve this listener's Pod (an EIP per Pod
/// is shared by all of its ports and must outlive all but the last).
async fn pod_has_other_listeners(listener: &DedicatedCLBListener, ctx: &Context) -> Result<bool> {
    let Some(pod) = listener.spec.backend_pod.as_ref().map(|b| &b.pod_name) else {
        return Ok(false);
    };
    let namespace = listener.namespace().unwrap_or_default();
    let is_live_sibling = |other: &DedicatedCLBListener| {
        other.name_any() != listener.name_any()
            && other.namespace().as_deref() == Some(namespace.as_str())
            && other.spec.provider == listener.spec.provider
            && other.spec.backend_pod.as_ref().map(|b| &b.pod_name) == Some(pod)
            && other.metadata.deletion_timestamp.is_none()
    };
    // The cache first: the watch delivers deletions in order, so the last of a Pod's ports to
    // go sees the others going, and a fleet scaling down costs no LIST per port.
    if ctx
        .stores
        .listeners
        .find(|other| is_live_sibling(other))
        .is_some()
    {
        return Ok(true);
    }
    // Only a Pod that stays can get a new sibling, created a moment ago and not in the cache
    // yet: for it, the API server.
    let pod_stays = ctx
        .stores
        .pods
        .get(&ObjectRef::new(pod).within(&namespace))
        .is_some_and(|p| p.metadata.deletion_timestamp.is_none());
    if !pod_stays {
        return Ok(false);
    }
    let api: Api<DedicatedCLBListener> = Api::namespaced(ctx.client.clone(), &namespace);
    let siblings = api
        .list(&ListParams::default().labels(&children::pod_selector(pod)))
        .await?;
    Ok(siblings.items.iter().any(is_live_sibling))
}

async fn write_pod_annotation(
    listener: &DedicatedCLBListener,
    ctx: &Context,
    value: Option<&str>,
) -> Result<()> {
    let (Some(key), Some(pod)) = (
        listener.annotations().get(ADDRESS_POD_ANNOTATION),
        &listener.spec.backend_pod,
    ) else {
        return Ok(());
    };
    let namespace = listener.namespace().unwrap_or_default();
    let api: Api<Pod> = Api::namespaced(ctx.client.clone(), &namespace);
    let cached = ctx
        .stores
        .pods
        .get(&ObjectRef::new(&pod.pod_name).within(&namespace));
    // A Pod on its way out keeps what it has: taking an address off it helps no one, and a
    // fleet scaling down would pay one write per port.
    if value.is_none()
        && cached
            .as_ref()
            .is_some_and(|pod| pod.metadata.deletion_timestamp.is_some())
    {
        return Ok(());
    }
    let written = listener.status.as_ref().and_then(|s| s.address.as_deref());
    pods::set_annotation(&api, cached.as_deref(), key, value, written).await
}
