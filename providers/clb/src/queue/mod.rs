//! The write queues: one per CLB instance (region, load balancer id), each drained by one worker
//! task that batches the jobs it finds into rounds ([`worker`], [`round`]).
//!
//! Why a queue per instance: the cloud locks a CLB while one of its write tasks runs, so writes
//! to one CLB can only go one after another, and each one costs a task's latency. Funnelling them
//! through one worker turns N concurrent `ensure`s into a handful of batched calls instead of N
//! calls that mostly fail with `ResourceInOperating` and retry. Different CLBs have different
//! workers and proceed in parallel.
//!
//! The queueing, the grouping of jobs into rounds and the worker loop are shared with the natgw
//! provider ([`dac_provider_support::queue`]); the jobs, their slots and what a round does are
//! this provider's.
pub(crate) mod plan;
pub(crate) mod round;
pub(crate) mod worker;

use std::sync::Arc;
use std::time::Duration;

use dac_provider_api::{Backend, BindingState, Protocol};
use dac_provider_support::marker::HashedOwners;
use dac_provider_support::queue::{self, Slotted};
use dac_provider_support::sweep::{Listing, SweepGuard};

use crate::cache::Caches;
use crate::settings::ListenerSettings;
use crate::stats::CountingClbApi;

/// What an `ensure` asks of its CLB's worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnsureJob {
    /// The listener name: the ownership marker of the binding's child object.
    pub marker: String,
    pub port: u16,
    pub protocol: Protocol,
    pub settings: ListenerSettings,
    /// `None`: the listener should have no target at all.
    pub backend: Option<Backend>,
}

/// What a `release` asks of its CLB's worker.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ReleaseJob {
    pub marker: String,
    pub port: u16,
    pub protocol: Protocol,
    /// The listener id from the child's status or from `list_owned`; deleted when its name
    /// carries this cluster's marker, whoever the owner.
    pub resource_id: Option<String>,
    /// Set for the orphan sweep (`release_orphan`): what its listing saw of the listener
    /// `resource_id`, which is deleted only if it still carries that name and no ensure has
    /// adopted it since.
    pub orphan: Option<Listing>,
}

/// What the worker answers an `ensure` with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnsureOutcome {
    pub listener_id: String,
    pub state: BindingState,
    /// `VIP:port`, once the CLB has a VIP.
    pub address: Option<String>,
}

impl Slotted for EnsureJob {
    type Slot = (u16, Protocol);

    fn slot(&self) -> (u16, Protocol) {
        (self.port, self.protocol)
    }
}

impl Slotted for ReleaseJob {
    type Slot = (u16, Protocol);

    fn slot(&self) -> (u16, Protocol) {
        (self.port, self.protocol)
    }
}

/// A job with the channel its caller waits on.
pub(crate) type Job = queue::Job<EnsureJob, EnsureOutcome, ReleaseJob>;

/// What every worker needs: the API, the caches it refreshes, and its tuning.
pub(crate) struct WorkerEnv {
    pub api: Arc<CountingClbApi>,
    pub caches: Arc<Caches>,
    pub cluster: String,
    pub batch_window: Duration,
    pub max_batch_jobs: usize,
    pub max_ports_per_create: usize,
    pub task_deadline: Duration,
    pub listener_quota: Option<u32>,
    /// The one namespace the controller serves, if it serves one.
    pub namespace: Option<String>,
    /// Owners of hashed markers seen since start.
    pub owners: HashedOwners,
    /// Listings and adoptions of listeners, for `release_orphan`.
    pub sweep: SweepGuard,
}

impl WorkerEnv {
    /// Whose a listener named `name` is, with hashed owners named when known.
    pub fn ownership(&self, name: &str) -> crate::marker::Ownership {
        self.owners
            .resolve(name, crate::marker::parse(&self.cluster, name))
    }
}

/// The key of a listener in the [`SweepGuard`].
pub(crate) fn sweep_key(region: &str, lb_id: &str, listener_id: &str) -> String {
    format!("{region}/{lb_id}/{listener_id}")
}

/// The queues by (region, load balancer id); workers are started on first use.
pub(crate) type Queues = queue::Queues<EnsureJob, EnsureOutcome, ReleaseJob>;

/// The queues of one provider, each drained by a [`worker`].
pub(crate) fn queues(env: Arc<WorkerEnv>) -> Queues {
    Queues::new("CLB", move |(region, lb_id), rx| {
        tokio::spawn(worker::run(
            Arc::clone(&env),
            region.clone(),
            lb_id.clone(),
            rx,
        ));
    })
}
