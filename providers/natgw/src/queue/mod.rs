//! The write queues: one per NAT gateway (region, gateway id), each drained by one worker task
//! that batches the jobs it finds into rounds ([`worker`], [`round`]).
//!
//! Why a queue per gateway: DNAT writes on one gateway contend for it (the cloud answers
//! `UnsupportedOperation.NatGatewayIsBusy` to overlapping writes), and Create/Delete take arrays
//! of rules. Funnelling a gateway's writes through one worker turns N concurrent `ensure`s into
//! one describe and a handful of batched calls instead of N calls that mostly collide. Different
//! gateways have different workers and proceed in parallel.
pub(crate) mod plan;
pub(crate) mod round;
pub(crate) mod split;
pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dac_provider_api::{BindingKey, BindingState, ProviderError, Result};
use tokio::sync::{mpsc, oneshot};

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
}

/// A job with the channel its caller waits on.
pub(crate) enum Job {
    Ensure(EnsureJob, oneshot::Sender<Result<BindingState>>),
    Release(ReleaseJob, oneshot::Sender<Result<()>>),
}

impl Job {
    /// Jobs on one slot must not share a round unless they are the same job: the later one must
    /// see what the earlier one did.
    fn slot(&self) -> &PublicSide {
        match self {
            Job::Ensure(j, _) => &j.public,
            Job::Release(j, _) => &j.public,
        }
    }

    /// Nobody waits for the answer any more (the reconcile was cancelled): skip the work, the
    /// next reconcile asks again.
    fn abandoned(&self) -> bool {
        match self {
            Job::Ensure(_, tx) => tx.is_closed(),
            Job::Release(_, tx) => tx.is_closed(),
        }
    }
}

/// One job and everyone waiting for its result (identical jobs are done once).
pub(crate) struct Grouped<J, T> {
    pub job: J,
    pub waiters: Vec<oneshot::Sender<Result<T>>>,
}

impl<J, T: Clone> Grouped<J, T> {
    pub fn new(job: J, waiter: oneshot::Sender<Result<T>>) -> Self {
        Self {
            job,
            waiters: vec![waiter],
        }
    }

    pub fn reply(self, result: Result<T>) {
        for waiter in self.waiters {
            // A waiter that went away needs no answer.
            let _ = waiter.send(result.clone());
        }
    }
}

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
}

type QueueKey = (String, String);

/// The queues by (region, gateway id); workers start on first use.
pub(crate) struct Queues {
    env: Arc<WorkerEnv>,
    senders: Mutex<HashMap<QueueKey, mpsc::UnboundedSender<Job>>>,
}

impl Queues {
    pub fn new(env: Arc<WorkerEnv>) -> Self {
        Self {
            env,
            senders: Mutex::new(HashMap::new()),
        }
    }

    pub async fn ensure(
        &self,
        region: &str,
        gateway: &str,
        job: EnsureJob,
    ) -> Result<BindingState> {
        let (tx, rx) = oneshot::channel();
        self.submit(region, gateway, Job::Ensure(job, tx));
        rx.await.unwrap_or_else(|_| Err(worker_gone(gateway)))
    }

    pub async fn release(&self, region: &str, gateway: &str, job: ReleaseJob) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(region, gateway, Job::Release(job, tx));
        rx.await.unwrap_or_else(|_| Err(worker_gone(gateway)))
    }

    /// Hands `job` to the worker of (region, gateway), starting one if there is none or the
    /// last one stopped (it only stops by panicking, and a new one must take over).
    fn submit(&self, region: &str, gateway: &str, job: Job) {
        let key = (region.to_string(), gateway.to_string());
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        let mut job = job;
        for _ in 0..2 {
            let sender = senders.entry(key.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                tokio::spawn(worker::run(
                    Arc::clone(&self.env),
                    key.0.clone(),
                    key.1.clone(),
                    rx,
                ));
                tx
            });
            match sender.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(returned)) => {
                    tracing::warn!(
                        region,
                        gateway,
                        "NAT gateway worker stopped; starting another"
                    );
                    senders.remove(&key);
                    job = returned;
                }
            }
        }
        // Dropping the job drops its reply channel: its caller reads that as `worker_gone`.
    }
}

fn worker_gone(gateway: &str) -> ProviderError {
    ProviderError::retryable(format!(
        "the write queue of NAT gateway {gateway} stopped; try again"
    ))
}
