//! The orphan sweep: releases cloud resources that carry this cluster's marker but that no
//! listener claims any more, e.g. because someone removed a finalizer by hand, or a child was
//! deleted and recreated on another slot while the controller was down. Runs once the caches
//! are synced and then periodically.
use super::Context;
use super::children;
use crate::crd::{DedicatedCLBListener, DedicatedCLBService};
use crate::registry::ProviderOps;
use dac_provider_api::{Binding, BindingKey, OwnedResource, Scope, Slot};
use kube::api::Api;
use kube::runtime::reflector::Store;
use std::collections::BTreeSet;
use std::sync::Arc;

/// Sweeps every (provider, region, frontends) scope that some service uses.
pub async fn sweep_once(
    ctx: &Context,
    services: &Store<DedicatedCLBService>,
    listeners: &Store<DedicatedCLBListener>,
) {
    let mut scopes: BTreeSet<(String, Option<String>, Vec<String>)> = BTreeSet::new();
    for service in services.state() {
        let spec = &service.spec;
        let ids = super::service::frontend_ids(&service);
        scopes.insert((spec.provider.clone(), spec.lb_region.clone(), ids));
    }
    let claimed = listeners.state();
    for (provider_name, region, frontend_ids) in scopes {
        let Ok(provider) = ctx.registry.get(&provider_name) else {
            continue;
        };
        let scope = Scope {
            cluster: ctx.cluster.id.clone(),
            region: region.clone(),
            frontend_ids,
        };
        let owned = match provider.list_owned(&scope).await {
            Ok(owned) => owned,
            Err(error) => {
                tracing::warn!(provider = %provider_name, %error, "orphan sweep could not list owned resources");
                continue;
            }
        };
        for resource in owned {
            if !is_orphan(ctx, &resource, &claimed, &provider_name).await {
                continue;
            }
            let key = resource
                .owner
                .clone()
                .unwrap_or_else(|| BindingKey::new("", "unknown"));
            let binding = Binding {
                key,
                region: resource.region.clone().or_else(|| region.clone()),
                slot: resource.slot.clone(),
                backend: None,
                resource_id: Some(resource.resource_id.clone()),
                listener_settings: None,
                options: None,
                keep_pod_address: false,
            };
            match provider.release(&binding).await {
                Ok(()) => {
                    ctx.metrics.orphans_released.inc();
                    tracing::info!(provider = %provider_name, resource = %resource.resource_id, owner = ?resource.owner, "released an orphan");
                }
                Err(error) => {
                    tracing::warn!(resource = %resource.resource_id, %error, "could not release an orphan")
                }
            }
        }
    }
}

/// An orphan: its owner listener is gone (checked against the API server, not only the cache)
/// or holds another slot now; an owner-less resource only when no listener holds its slot.
async fn is_orphan(
    ctx: &Context,
    resource: &OwnedResource,
    claimed: &[Arc<DedicatedCLBListener>],
    provider: &str,
) -> bool {
    let holds_slot = |listener: &DedicatedCLBListener| {
        listener.spec.provider == provider
            && slot_of(listener).is_some_and(|slot| same_slot(&slot, &resource.slot))
    };
    let Some(owner) = &resource.owner else {
        return !claimed.iter().any(|listener| holds_slot(listener));
    };
    if ctx
        .namespace
        .as_ref()
        .is_some_and(|namespace| &owner.namespace != namespace)
    {
        return false; // another controller's to judge
    }
    let api: Api<DedicatedCLBListener> = Api::namespaced(ctx.client.clone(), &owner.namespace);
    match api.get_opt(&owner.name).await {
        Ok(Some(listener)) => !holds_slot(&listener),
        Ok(None) => true,
        Err(error) => {
            tracing::warn!(%error, "orphan sweep could not read a listener; leaving its resource");
            false
        }
    }
}

fn slot_of(listener: &DedicatedCLBListener) -> Option<Slot> {
    match children::port_slot(listener) {
        Some(slot) => Some(Slot::Port {
            frontend_id: slot.frontend_id,
            public_ip: slot.public_ip,
            port: slot.port,
            protocol: slot.protocol,
        }),
        None => {
            let backend = listener.spec.backend_pod.as_ref()?;
            Some(Slot::PodAddress {
                pod_name: backend.pod_name.clone(),
                port: backend.port,
                protocol: listener.spec.protocol.into(),
            })
        }
    }
}

/// Per-Pod addresses are shared by a Pod's ports, so any port of the same Pod claims them.
fn same_slot(a: &Slot, b: &Slot) -> bool {
    match (a, b) {
        (Slot::PodAddress { pod_name: x, .. }, Slot::PodAddress { pod_name: y, .. }) => x == y,
        _ => a == b,
    }
}
