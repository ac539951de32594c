//! The orphan sweep: releases cloud resources that carry this cluster's marker but that no
//! listener claims any more, e.g. because someone removed a finalizer by hand, or a child was
//! deleted and recreated on another slot while the controller was down. Runs once the caches
//! are synced and then every `sweep.interval`.
//!
//! It must never release what is in use, so a candidate passes three checks: the watch cache
//! (cheap, but may be behind), the API server right before its release (a Pod bound while the
//! slow cloud listing ran has a listener by then), and the provider's own serialisation
//! ([`release_orphan`](dac_provider_api::AddressProvider::release_orphan): nothing adopted it
//! since it was listed). A namespace-scoped controller releases only what its marker places in
//! its own namespace. `sweep.maxReleasesPerRun` and `sweep.dryRun` are the safety valves.
use super::Context;
use super::children;
use crate::crd::{DedicatedCLBListener, DedicatedCLBService};
use crate::registry::ProviderOps;
use dac_provider_api::{OwnedResource, Scope, Slot};
use kube::api::{Api, ListParams};
use kube::runtime::reflector::Store;
use std::collections::BTreeSet;

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
    // Port pools' frontends, as their status lists them (the ones they created included).
    for pool in ctx.stores.pools.state() {
        if !super::pool::manages(&pool, ctx.namespace.as_deref()) {
            continue;
        }
        let ids = pool
            .status
            .iter()
            .flat_map(|s| &s.loadbalancer_statuses)
            .map(|lb| lb.loadbalancer_id.clone())
            .collect();
        let region = pool.spec.region().map(str::to_string);
        scopes.insert((pool.spec.provider.clone(), region, ids));
    }
    let mut released = 0;
    // Every region used since start, and the cluster's: a deleted owner's region is not among
    // the scopes any more.
    let regions: BTreeSet<Option<String>> = {
        let mut seen = ctx.regions_seen();
        seen.extend(
            scopes
                .iter()
                .map(|(_, region, _)| region.clone())
                .chain([None]),
        );
        seen.clone()
    };
    for (provider_name, region, frontend_ids) in scopes {
        let Ok(provider) = ctx.registry.get(&provider_name) else {
            continue;
        };
        let scope = Scope {
            cluster: ctx.cluster.id.clone(),
            region,
            frontend_ids,
            namespace: ctx.namespace.clone(),
        };
        let owned = match provider.list_owned(&scope).await {
            Ok(owned) => owned,
            Err(error) => {
                tracing::warn!(provider = %provider_name, %error, "orphan sweep could not list owned resources");
                continue;
            }
        };
        for resource in owned {
            if !scope_may_release(&scope, &resource) {
                continue;
            }
            // The cache first: most of what a provider lists is claimed.
            if listeners
                .state()
                .iter()
                .any(|listener| holds(listener, &provider_name, &resource))
            {
                continue;
            }
            match claimed_now(ctx, &provider_name, &resource).await {
                Ok(false) => {}
                Ok(true) => {
                    ctx.metrics.orphan(&provider_name, "claimed");
                    continue;
                }
                Err(error) => {
                    tracing::warn!(resource = %resource.resource_id, %error, "orphan sweep could not re-check a candidate; leaving it");
                    continue;
                }
            }
            let owner = resource.owner.as_ref().map(ToString::to_string);
            if ctx.sweep.dry_run {
                ctx.metrics.orphan(&provider_name, "dry_run");
                tracing::info!(provider = %provider_name, resource = %resource.resource_id, ?owner, slot = ?resource.slot, "dry run: would release an orphan");
                continue;
            }
            if released >= ctx.sweep.max_releases_per_run {
                ctx.metrics.orphan(&provider_name, "over_cap");
                tracing::warn!(provider = %provider_name, resource = %resource.resource_id, cap = ctx.sweep.max_releases_per_run, "orphan left for the next sweep: this run reached sweep.maxReleasesPerRun");
                continue;
            }
            match provider.release_orphan(&resource).await {
                Ok(()) => {
                    released += 1;
                    ctx.metrics.orphan(&provider_name, "released");
                    tracing::info!(provider = %provider_name, resource = %resource.resource_id, ?owner, "released an orphan");
                }
                Err(error) => {
                    ctx.metrics.orphan(&provider_name, "failed");
                    tracing::warn!(resource = %resource.resource_id, %error, "could not release an orphan");
                }
            }
        }
    }
    sweep_created_frontends(ctx, &regions, &mut released).await;
}

/// Frontends (CLBs) this cluster created for a pool or a service that no longer exists: deleted,
/// under the same valves as the other orphans. The provider refuses one with listeners left.
async fn sweep_created_frontends(
    ctx: &Context,
    regions: &BTreeSet<Option<String>>,
    released: &mut u32,
) {
    let tags = std::collections::BTreeMap::from([(
        crate::frontends::TAG_CLUSTER.to_string(),
        ctx.cluster.id.clone(),
    )]);
    for name in ctx.registry.names() {
        let Ok(provider) = ctx.registry.get(name) else {
            continue;
        };
        for region in regions {
            let scope = Scope {
                cluster: ctx.cluster.id.clone(),
                region: region.clone(),
                frontend_ids: Vec::new(),
                namespace: ctx.namespace.clone(),
            };
            let found = match provider.find_frontends(&scope, &tags).await {
                Ok(found) => found,
                Err(error) => {
                    tracing::warn!(provider = %name, %error, "orphan sweep could not list created frontends");
                    continue;
                }
            };
            for frontend in found {
                match owner_exists(ctx, &frontend.tags).await {
                    Ok(true) => continue,
                    Ok(false) => {}
                    Err(error) => {
                        tracing::warn!(frontend = %frontend.id, %error, "orphan sweep could not check a created frontend's owner");
                        continue;
                    }
                }
                if ctx.sweep.dry_run {
                    ctx.metrics.orphan(name, "dry_run");
                    tracing::info!(provider = %name, frontend = %frontend.id, tags = ?frontend.tags, "dry run: would delete a frontend made for something gone");
                    continue;
                }
                if *released >= ctx.sweep.max_releases_per_run {
                    ctx.metrics.orphan(name, "over_cap");
                    continue;
                }
                match provider.delete_frontend(&scope, &frontend.id).await {
                    Ok(()) => {
                        *released += 1;
                        ctx.metrics.orphan(name, "released");
                        tracing::info!(provider = %name, frontend = %frontend.id, "deleted a frontend made for something gone");
                    }
                    Err(error) => {
                        ctx.metrics.orphan(name, "failed");
                        tracing::warn!(frontend = %frontend.id, %error, "could not delete a frontend made for something gone");
                    }
                }
            }
        }
    }
}

/// Whether the pool or service a created frontend was made for still exists (the API server's
/// answer). A namespace-scoped controller judges only its own namespace's services.
async fn owner_exists(
    ctx: &Context,
    tags: &std::collections::BTreeMap<String, String>,
) -> kube::Result<bool> {
    if let Some(pool) = tags.get(crate::frontends::TAG_POOL) {
        if ctx.namespace.is_some() {
            return Ok(true); // which controller managed a gone pool cannot be told
        }
        let pools: Api<crate::crd::CLBPortPool> = Api::all(ctx.client.clone());
        return Ok(pools.get_opt(pool).await?.is_some());
    }
    if let Some((namespace, name)) = tags
        .get(crate::frontends::TAG_SERVICE)
        .and_then(|owner| owner.split_once('.'))
    {
        if ctx.namespace.as_deref().is_some_and(|own| own != namespace) {
            return Ok(true);
        }
        let services: Api<DedicatedCLBService> = Api::namespaced(ctx.client.clone(), namespace);
        return Ok(services.get_opt(name).await?.is_some());
    }
    Ok(true)
}

/// Whether this controller may release `resource` at all: a namespace-scoped one only what
/// its marker places in its own namespace (another controller, possibly with the same cluster
/// id, judges the rest; what cannot be placed is left alone).
fn scope_may_release(scope: &Scope, resource: &OwnedResource) -> bool {
    let namespace = resource
        .owner
        .as_ref()
        .map(|owner| owner.namespace.as_str())
        .or(resource.namespace.as_deref());
    match (&scope.namespace, namespace) {
        (None, _) => true,
        (Some(own), Some(namespace)) => own == namespace,
        (Some(_), None) => false,
    }
}

/// Whether a listener claims `resource`: its owner (holding the same slot), or, for a resource
/// without one, any listener of the same provider holding its slot.
fn holds(listener: &DedicatedCLBListener, provider: &str, resource: &OwnedResource) -> bool {
    if listener.spec.provider != provider {
        return false;
    }
    if let Some(owner) = &resource.owner
        && (listener.namespace_name() != (owner.namespace.as_str(), owner.name.as_str()))
    {
        return false;
    }
    if let (Some(namespace), None) = (&resource.namespace, &resource.owner)
        && listener.metadata.namespace.as_deref() != Some(namespace.as_str())
    {
        return false;
    }
    slot_of(listener).is_some_and(|slot| same_slot(&slot, &resource.slot))
}

/// The API server's answer, not the cache's: is `resource` claimed right now?
async fn claimed_now(
    ctx: &Context,
    provider: &str,
    resource: &OwnedResource,
) -> kube::Result<bool> {
    let namespace = resource
        .owner
        .as_ref()
        .map(|owner| owner.namespace.clone())
        .or_else(|| resource.namespace.clone())
        .or_else(|| ctx.namespace.clone());
    let api: Api<DedicatedCLBListener> = match &namespace {
        Some(namespace) => Api::namespaced(ctx.client.clone(), namespace),
        None => Api::all(ctx.client.clone()),
    };
    if let Some(owner) = &resource.owner {
        return Ok(api
            .get_opt(&owner.name)
            .await?
            .is_some_and(|listener| holds(&listener, provider, resource)));
    }
    // Owner-less: a Pod's address is claimed by any listener of that Pod; other slots by any
    // listener holding them.
    let params = match &resource.slot {
        Slot::PodAddress { pod_name, .. } => {
            ListParams::default().labels(&children::pod_selector(pod_name))
        }
        Slot::Port { .. } => ListParams::default(),
    };
    Ok(api
        .list(&params)
        .await?
        .items
        .iter()
        .any(|listener| holds(listener, provider, resource)))
}

trait NamespaceName {
    fn namespace_name(&self) -> (&str, &str);
}

impl NamespaceName for DedicatedCLBListener {
    fn namespace_name(&self) -> (&str, &str) {
        (
            self.metadata.namespace.as_deref().unwrap_or_default(),
            self.metadata.name.as_deref().unwrap_or_default(),
        )
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

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::{BindingKey, Protocol};

    fn resource(owner: Option<(&str, &str)>, namespace: Option<&str>) -> OwnedResource {
        OwnedResource {
            resource_id: "lbl-1".into(),
            region: None,
            slot: Slot::Port {
                frontend_id: "lb-1".into(),
                public_ip: None,
                port: 501,
                protocol: Protocol::Tcp,
            },
            owner: owner.map(|(ns, name)| BindingKey::new(ns, name)),
            namespace: namespace.map(str::to_string),
        }
    }

    #[test]
    fn a_namespaced_controller_releases_only_its_own_namespace() {
        let mine = Scope {
            namespace: Some("a".into()),
            ..Default::default()
        };
        let everything = Scope::default();
        let theirs = resource(Some(("b", "x")), None);
        let ours = resource(Some(("a", "x")), None);
        let pod_address_of_b = resource(None, Some("b"));
        let unplaceable = resource(None, None);
        assert!(scope_may_release(&mine, &ours));
        assert!(!scope_may_release(&mine, &theirs));
        assert!(!scope_may_release(&mine, &pod_address_of_b));
        assert!(!scope_may_release(&mine, &unplaceable));
        for any in [&theirs, &ours, &pod_address_of_b, &unplaceable] {
            assert!(scope_may_release(&everything, any));
        }
    }
}
