//! The allocation step both front doors share (a `DedicatedCLBService` and a `CLBPodBinding`):
//! plan slots against every child on the same frontends, whichever API made it, so that a slot
//! taken through one is never handed out through the other.
use super::{Context, children};
use crate::allocation::{
    self, Allocation, AllocationInput, AllocationKey, AllocationPlan, PoolOffer, PortSlot,
};
use crate::crd::DedicatedCLBListener;
use dac_provider_api::Frontend;
use dac_provider_api::PortRange;
use kube::ResourceExt;
use kube::runtime::reflector::ObjectRef;
use std::collections::BTreeSet;
use std::sync::Arc;

/// What one resource asks of the allocator.
pub struct Request<'a> {
    /// The resource (service or binding) whose children these are.
    pub owner_uid: &'a str,
    pub namespace: &'a str,
    /// Its children, from the cache.
    pub current: &'a [Arc<DedicatedCLBListener>],
    /// Where slots may go, problems already applied ([`crate::frontends::offered`]).
    pub frontends: &'a [Frontend],
    pub port_range: Option<PortRange>,
    pub pools: &'a [PoolOffer<'a>],
    pub same_port: &'a [Vec<AllocationKey>],
    pub wanted: &'a [AllocationKey],
    /// The name the child for a key will have.
    pub child_name: &'a (dyn Fn(&AllocationKey) -> String + Sync),
}

/// Plans under the allocation lock. The caches may not show the newest children yet, so the
/// ledger of this process's recent creates fills the gap: the assigned children are recorded
/// before this returns, and the caller creates them without holding the lock.
pub async fn plan(ctx: &Context, request: Request<'_>) -> AllocationPlan {
    let mut ledger = ctx.allocation_lock.lock().await;
    let cached = &ctx.stores.listeners;
    ledger.prune(|namespace, name| {
        cached
            .get(&ObjectRef::new(name).within(namespace))
            .is_some()
    });
    let mut existing: Vec<Allocation> = request
        .current
        .iter()
        .filter_map(|child| children::allocation(child))
        .collect();
    existing.extend(ledger.pending_of(request.owner_uid));
    let mut occupied = occupied_elsewhere(ctx, request.frontends, request.owner_uid);
    occupied.extend(ledger.pending_slots_not_of(request.owner_uid));
    occupied.extend(request.frontends.iter().flat_map(|f| {
        f.taken.iter().map(|taken| PortSlot {
            frontend_id: f.id.clone(),
            public_ip: taken.public_ip.clone(),
            port: taken.port,
            protocol: taken.protocol,
        })
    }));
    let plan = allocation::plan(&AllocationInput {
        frontends: request.frontends,
        port_range: request.port_range,
        existing: &existing,
        occupied: &occupied,
        wanted: request.wanted,
        pools: request.pools,
        same_port: request.same_port,
    });
    for allocation in &plan.assign {
        let child = (request.child_name)(&allocation.key);
        ledger.record(
            request.namespace,
            &child,
            request.owner_uid,
            allocation.clone(),
        );
    }
    plan
}

/// Slots on these frontends that other resources' children (or hand-made listeners) hold,
/// from the cache.
fn occupied_elsewhere(ctx: &Context, frontends: &[Frontend], owner_uid: &str) -> Vec<PortSlot> {
    let ids: BTreeSet<&str> = frontends.iter().map(|f| f.id.as_str()).collect();
    ctx.stores
        .listeners
        .state()
        .iter()
        .filter(|child| {
            child
                .owner_references()
                .iter()
                .all(|owner| owner.uid != owner_uid)
        })
        .filter_map(|child| children::port_slot(child))
        .filter(|slot| ids.contains(slot.frontend_id.as_str()))
        .collect()
}
