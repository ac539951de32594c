//! The write queues: one per CLB instance (region, load balancer id), each drained by one worker
//! task that batches the jobs it finds into rounds ([`worker`], [`round`]).
//!
//! Why a queue per instance: the cloud locks a CLB while one of its write tasks runs, so writes
//! to one CLB can only go one after another, and each one costs a task's latency. Funnelling them
//! through one worker turns N concurrent `ensure`s into a handful of batched calls instead of N
//! calls that mostly fail with `ResourceInOperating` and retry. Different CLBs have different
//! workers and proceed in parallel.
pub(crate) mod plan;
pub(crate) mod round;
pub(crate) mod worker;

use std::collections::HashMap;
use std::sync::{Arc, Mutex};
use std::time::Duration;

use dac_provider_api::{Backend, BindingState, Protocol, ProviderError, Result};
use tokio::sync::{mpsc, oneshot};

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
}

/// What the worker answers an `ensure` with.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct EnsureOutcome {
    pub listener_id: String,
    pub state: BindingState,
    /// `VIP:port`, once the CLB has a VIP.
    pub address: Option<String>,
}

/// A job with the channel its caller waits on.
pub(crate) enum Job {
    // Boxed: the settings make an ensure much larger than a release.
    Ensure(Box<EnsureJob>, oneshot::Sender<Result<EnsureOutcome>>),
    Release(ReleaseJob, oneshot::Sender<Result<()>>),
}

impl Job {
    /// Jobs on the same slot must not share a round unless they are the same job: the later
    /// one must see what the earlier one did.
    fn slot(&self) -> (u16, Protocol) {
        match self {
            Job::Ensure(j, _) => (j.port, j.protocol),
            Job::Release(j, _) => (j.port, j.protocol),
        }
    }

    /// Whether nobody waits for the answer any more (the reconcile was cancelled): then the
    /// work can be skipped; the next reconcile asks again.
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
            // A waiter that went away (its reconcile was cancelled) needs no answer.
            let _ = waiter.send(result.clone());
        }
    }
}

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
}

type QueueKey = (String, String);

/// The queues by (region, load balancer id); workers are started on first use.
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

    pub async fn ensure(&self, region: &str, lb_id: &str, job: EnsureJob) -> Result<EnsureOutcome> {
        let (tx, rx) = oneshot::channel();
        self.submit(region, lb_id, Job::Ensure(Box::new(job), tx));
        rx.await.unwrap_or_else(|_| Err(worker_gone(lb_id)))
    }

    pub async fn release(&self, region: &str, lb_id: &str, job: ReleaseJob) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(region, lb_id, Job::Release(job, tx));
        rx.await.unwrap_or_else(|_| Err(worker_gone(lb_id)))
    }

    /// Hands `job` to the worker of (region, lb), starting one if there is none or the last
    /// one stopped (it only stops by panicking; a new one must take over its queue).
    fn submit(&self, region: &str, lb_id: &str, mut job: Job) {
        let key = (region.to_string(), lb_id.to_string());
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
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
                    tracing::warn!(region, lb_id, "CLB worker stopped; starting a new one");
                    senders.remove(&key);
                    job = returned;
                }
            }
        }
        // Dropping the job drops its reply channel, which its caller reads as `worker_gone`.
    }
}

fn worker_gone(lb_id: &str) -> ProviderError {
    ProviderError::retryable(format!("the write queue of CLB {lb_id} stopped; try again"))
}
