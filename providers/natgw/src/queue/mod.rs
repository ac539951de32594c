//! The write queues: one per NAT gateway (region, gateway id), each drained by one worker task
//! that batches the jobs it finds into rounds ([`worker`], [`round`]).
//!
//! Why a queue per gateway: DNAT writes on one gateway contend for it (the cloud answers
//! `UnsupportedOperation.NatGatewayIsBusy` to overlapping writes), and Create/Delete take arrays
//! of rules. Funnelling a gateway's writes through one worker turns N concurrent `ensure`s into
//! one describe and a handful of batched calls instead of N calls that mostly collide. Different
//! gateways have different workers and proceed in parallel.
//!
//! The queueing, the grouping of jobs into rounds and the worker loop are shared with the clb
//! provider ([`dac_provider_support::queue`]); the jobs, their slots and what a round does are
//! this provider's.
pub(crate) mod plan;
pub(crate) mod round;
pub(crate) mod split;
pub(crate) mod worker;

use std::sync::Arc;
use std::time::Duration;

use dac_provider_api::{BindingKey, BindingState};
use dac_provider_support::marker::HashedOwners;
use dac_provider_support::queue::{self, Slotted};
use dac_provider_support::sweep::{Listing, SweepGuard};

use crate::gateways::Caches;
use crate::rule::PublicSide;
use crate::stats::CountingVpc;

/// Where a rule forwards to: the Pod's IP and target port.
#[derive(Clone, Debug, PartialEq, Eq, Hash)]
pub(crate) struct PrivateSide {
    pub ip: String,
    pub port: u16,
}

/// What an `ensure` asks of its gateway's worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnsureJob {
    /// The child object; rules marked for it (in either marker form) are its own.
    pub key: BindingKey,
    /// The description written on rules created or modified for it.
    pub marker: String,
    pub public: PublicSide,
    /// `None`: there must be no rule (a DNAT rule cannot exist without a private IP).
    pub backend: Option<PrivateSide>,
}

/// What a `release` asks of its gateway's worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReleaseJob {
    pub key: BindingKey,
    pub public: PublicSide,
    /// The slot named by the binding's resource id (from its status or from `list_owned`); its
    /// rule is deleted when it carries this cluster's marker, whoever the owner, so that the
    /// orphan sweep can remove rules whose owner could not be read.
    pub by_id: Option<PublicSide>,
    /// Set for the orphan sweep (`release_orphan`): what its listing saw of the rule at
    /// `public`, which is deleted only if it still carries that description and no ensure has
    /// used the slot since.
    pub orphan: Option<Listing>,
}

impl Slotted for EnsureJob {
    type Slot = PublicSide;

    fn slot(&self) -> PublicSide {
        self.public.clone()
    }
}

impl Slotted for ReleaseJob {
    type Slot = PublicSide;

    fn slot(&self) -> PublicSide {
        self.public.clone()
    }
}

/// A job with the channel its caller waits on.
pub(crate) type Job = queue::Job<EnsureJob, BindingState, ReleaseJob>;

/// What every worker needs: the API, the caches it refreshes, and its tuning.
pub(crate) struct WorkerEnv {
    pub api: Arc<CountingVpc>,
    pub caches: Arc<Caches>,
    pub cluster: String,
    pub batch_window: Duration,
    pub max_batch_jobs: usize,
    pub max_rules_per_call: usize,
    pub rule_limit: u32,
    pub max_modifies_per_round: usize,
    /// The one namespace the controller serves, if it serves one.
    pub namespace: Option<String>,
    /// Owners of hashed markers seen since start.
    pub owners: HashedOwners,
    /// Listings and adoptions of rules, for `release_orphan`.
    pub sweep: SweepGuard,
}

/// The key of a rule in the [`SweepGuard`]: its region and resource id.
pub(crate) fn sweep_key(region: &str, resource_id: &str) -> String {
    format!("{region}/{resource_id}")
}

/// The queues by (region, gateway id); workers start on first use.
pub(crate) type Queues = queue::Queues<EnsureJob, BindingState, ReleaseJob>;

/// The queues of one provider, each drained by a [`worker`].
pub(crate) fn queues(env: Arc<WorkerEnv>) -> Queues {
    Queues::new("NAT gateway", move |(region, gateway), rx| {
        tokio::spawn(worker::run(
            Arc::clone(&env),
            region.clone(),
            gateway.clone(),
            rx,
        ));
    })
}
