//! The write-queue skeleton of the batching providers (clb, natgw): one queue per frontend
//! (a CLB instance, a NAT gateway), each drained by one worker task that collects jobs for a
//! short window and does them in one *round* of batched calls.
//!
//! Why: the cloud serialises writes to one frontend (it locks a CLB while a task runs, a
//! gateway answers overlapping writes with "busy"), and its write calls take arrays. Funnelling
//! a frontend's writes through one worker turns N concurrent `ensure`s into one describe and a
//! handful of batched calls instead of N calls that mostly collide. Different frontends have
//! different workers and proceed in parallel.
//!
//! What a round does is each provider's own; this module only queues, groups and answers.
use std::collections::{HashMap, VecDeque};
use std::future::Future;
use std::hash::Hash;
use std::sync::Mutex;
use std::time::Duration;

use dac_provider_api::{ProviderError, Result};
use tokio::sync::{mpsc, oneshot};
use tokio::time::{Instant, timeout_at};

/// Where a caller waits for its job's answer.
pub type Reply<T> = oneshot::Sender<Result<T>>;

/// What a job acts on in the cloud (a port and protocol, a public IP:port). Jobs on one slot
/// must not share a round unless they are the same job: the later one must see what the
/// earlier one did.
pub trait Slotted {
    type Slot: Eq + Hash;

    fn slot(&self) -> Self::Slot;
}

/// A job with the channel its caller waits on: an ensure `E` answered with `O`, or a release
/// `R`.
pub enum Job<E, O, R> {
    // Boxed: an ensure can be much larger than a release (a CLB's listener settings).
    Ensure(Box<E>, Reply<O>),
    Release(R, Reply<()>),
}

impl<E, O, R> Job<E, O, R>
where
    E: Slotted,
    R: Slotted<Slot = E::Slot>,
{
    fn slot(&self) -> E::Slot {
        match self {
            Job::Ensure(j, _) => j.slot(),
            Job::Release(j, _) => j.slot(),
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
pub struct Grouped<J, T> {
    pub job: J,
    pub waiters: Vec<Reply<T>>,
}

impl<J, T: Clone> Grouped<J, T> {
    pub fn new(job: J, waiter: Reply<T>) -> Self {
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

/// The jobs one round does.
pub struct Round<E, O, R> {
    pub ensures: Vec<Grouped<E, O>>,
    pub releases: Vec<Grouped<R, ()>>,
}

// Not derived: that would ask for `E: Default` and so on.
impl<E, O, R> Default for Round<E, O, R> {
    fn default() -> Self {
        Self {
            ensures: Vec::new(),
            releases: Vec::new(),
        }
    }
}

impl<E, O, R> Round<E, O, R> {
    pub fn len(&self) -> usize {
        self.ensures.len() + self.releases.len()
    }

    pub fn is_empty(&self) -> bool {
        self.len() == 0
    }
}

/// Where a slot's job went in the round being built.
#[derive(Clone, Copy)]
enum Taken {
    Ensure(usize),
    Release(usize),
}

/// Takes the jobs of one round out of `backlog`, in arrival order: at most one job per slot
/// (identical jobs share it and its answer), at most `max` in all. A later, different job on a
/// slot already taken stays for the next round, so that it sees the earlier one's effect (an
/// ensure after a release must create again). Jobs nobody waits for any more are dropped.
pub fn take_round<E, O, R>(backlog: &mut VecDeque<Job<E, O, R>>, max: usize) -> Round<E, O, R>
where
    E: Slotted + PartialEq,
    R: Slotted<Slot = E::Slot> + PartialEq,
    O: Clone,
{
    let mut round = Round::default();
    let mut taken: HashMap<E::Slot, Taken> = HashMap::new();
    let mut later = VecDeque::new();
    for job in backlog.drain(..) {
        if job.abandoned() {
            continue;
        }
        let slot = job.slot();
        match (taken.get(&slot).copied(), job) {
            (Some(Taken::Ensure(i)), Job::Ensure(j, tx)) if round.ensures[i].job == *j => {
                round.ensures[i].waiters.push(tx);
            }
            (Some(Taken::Release(i)), Job::Release(j, tx)) if round.releases[i].job == j => {
                round.releases[i].waiters.push(tx);
            }
            (Some(_), job) => later.push_back(job),
            (None, job) if round.len() >= max => later.push_back(job),
            (None, Job::Ensure(j, tx)) => {
                taken.insert(slot, Taken::Ensure(round.ensures.len()));
                round.ensures.push(Grouped::new(*j, tx));
            }
            (None, Job::Release(j, tx)) => {
                taken.insert(slot, Taken::Release(round.releases.len()));
                round.releases.push(Grouped::new(j, tx));
            }
        }
    }
    *backlog = later;
    round
}

/// How a worker batches.
#[derive(Clone, Copy, Debug)]
pub struct Batching {
    /// How long a round waits after its latest job for another. A burst (a service creating a
    /// CLB's children one after another) keeps the round open until it ends, however long it
    /// takes, up to [`MAX_WINDOWS`] windows after the first job.
    pub window: Duration,
    /// The most jobs in one round.
    pub max_jobs: usize,
    /// The jobs one write call takes (1: no such unit). A round closed by a cap while jobs
    /// still arrive takes whole multiples of it and leaves the rest to open the next round: a
    /// round of 237 creates would make three calls, the third mostly empty.
    pub per_call: usize,
}

impl Batching {
    /// How many jobs a round of `waiting` takes.
    fn round_size(&self, waiting: usize, still_arriving: bool) -> usize {
        if !still_arriving || self.per_call <= 1 || waiting < self.per_call {
            return self.max_jobs;
        }
        (waiting / self.per_call * self.per_call).min(self.max_jobs)
    }
}

/// The longest a round's first job waits, in windows, while more keep arriving.
pub const MAX_WINDOWS: u32 = 10;

/// The worker of one frontend's queue: waits for a job, collects more until none came for a
/// batch window (or until the size cap or [`MAX_WINDOWS`]), takes one round's worth, hands it
/// to `run_round`, and repeats. Returns when the queue's senders are gone (the provider is).
pub async fn run_worker<E, O, R, F, Fut>(
    mut rx: mpsc::UnboundedReceiver<Job<E, O, R>>,
    batching: Batching,
    mut run_round: F,
) where
    E: Slotted + PartialEq,
    R: Slotted<Slot = E::Slot> + PartialEq,
    O: Clone,
    F: FnMut(Round<E, O, R>) -> Fut,
    Fut: Future<Output = ()>,
{
    let mut backlog: VecDeque<Job<E, O, R>> = VecDeque::new();
    // Whether the backlog is the rest of a round cut to whole calls: it collects like a new
    // round's first jobs.
    let mut cut = false;
    let mut last_full_round_end: Option<Instant> = None;
    loop {
        let still_arriving = if backlog.is_empty() || cut {
            if backlog.is_empty() {
                // Idle: the first job opens the window.
                let Some(first) = rx.recv().await else {
                    return; // the provider is gone
                };
                backlog.push_back(first);
            }
            // Jobs soon after a round of a call's worth or more: a burst goes on, and a pause in
            // it is no reason to make a call of a few jobs (a fleet's gateways made one call per
            // stray Pod, seconds apart while the API server was busy).
            let in_burst = last_full_round_end
                .is_some_and(|end| end.elapsed() < batching.window * MAX_WINDOWS);
            collect(&mut rx, &mut backlog, batching, in_burst).await
        } else {
            // Leftovers of the last round (later jobs on a slot it had): go on at once, with
            // whatever else arrived meanwhile.
            while backlog.len() < batching.max_jobs {
                let Ok(job) = rx.try_recv() else { break };
                backlog.push_back(job);
            }
            false
        };
        let size = batching.round_size(backlog.len(), still_arriving);
        let round = take_round(&mut backlog, size);
        cut = still_arriving && !backlog.is_empty();
        if !round.is_empty() {
            let full = round.len() >= batching.per_call;
            run_round(round).await;
            last_full_round_end = full.then(Instant::now);
        }
    }
}

/// Adds jobs to `backlog` until none came for a window, the size cap, or [`MAX_WINDOWS`].
/// `in_burst`: a window without jobs does not end a round of less than one call's worth; only
/// a full call or [`MAX_WINDOWS`] does. Returns whether jobs were still arriving when it
/// stopped (it stopped at a cap).
async fn collect<E, O, R>(
    rx: &mut mpsc::UnboundedReceiver<Job<E, O, R>>,
    backlog: &mut VecDeque<Job<E, O, R>>,
    batching: Batching,
    in_burst: bool,
) -> bool {
    let latest_start = Instant::now() + batching.window * MAX_WINDOWS;
    while backlog.len() < batching.max_jobs {
        let deadline = (Instant::now() + batching.window).min(latest_start);
        match timeout_at(deadline, rx.recv()).await {
            Ok(Some(job)) => backlog.push_back(job),
            Ok(None) => return false,
            Err(_) if in_burst && backlog.len() < batching.per_call && deadline < latest_start => {}
            Err(_) => return deadline == latest_start,
        }
    }
    true
}

/// A frontend's queue: (region, frontend id).
pub type QueueKey = (String, String);

/// The sending end of a frontend's queue.
type Sender<E, O, R> = mpsc::UnboundedSender<Job<E, O, R>>;
/// What starts a worker on the receiving end of a new queue.
type Start<E, O, R> = dyn Fn(&QueueKey, mpsc::UnboundedReceiver<Job<E, O, R>>) + Send + Sync;

/// The queues by (region, frontend id); workers are started on first use, by `start`, which
/// spawns a task draining the receiver it is given (usually with [`run_worker`]).
pub struct Queues<E, O, R> {
    /// What a frontend is called in messages: "CLB", "NAT gateway".
    frontend: &'static str,
    start: Box<Start<E, O, R>>,
    senders: Mutex<HashMap<QueueKey, Sender<E, O, R>>>,
}

impl<E, O, R> Queues<E, O, R> {
    pub fn new(
        frontend: &'static str,
        start: impl Fn(&QueueKey, mpsc::UnboundedReceiver<Job<E, O, R>>) + Send + Sync + 'static,
    ) -> Self {
        Self {
            frontend,
            start: Box::new(start),
            senders: Mutex::new(HashMap::new()),
        }
    }

    /// Queues an ensure on the worker of (region, frontend) and waits for its answer.
    pub async fn ensure(&self, region: &str, id: &str, job: E) -> Result<O> {
        let (tx, rx) = oneshot::channel();
        self.submit(region, id, Job::Ensure(Box::new(job), tx));
        rx.await.unwrap_or_else(|_| Err(self.worker_gone(id)))
    }

    /// Queues a release on the worker of (region, frontend) and waits for its answer.
    pub async fn release(&self, region: &str, id: &str, job: R) -> Result<()> {
        let (tx, rx) = oneshot::channel();
        self.submit(region, id, Job::Release(job, tx));
        rx.await.unwrap_or_else(|_| Err(self.worker_gone(id)))
    }

    /// Hands `job` to the worker of (region, id), starting one if there is none or the last
    /// one stopped (it only stops by panicking; a new one must take over its queue).
    fn submit(&self, region: &str, id: &str, mut job: Job<E, O, R>) {
        let key = (region.to_string(), id.to_string());
        let mut senders = self.senders.lock().unwrap_or_else(|e| e.into_inner());
        for _ in 0..2 {
            let sender = senders.entry(key.clone()).or_insert_with(|| {
                let (tx, rx) = mpsc::unbounded_channel();
                (self.start)(&key, rx);
                tx
            });
            match sender.send(job) {
                Ok(()) => return,
                Err(mpsc::error::SendError(returned)) => {
                    tracing::warn!(
                        region,
                        id,
                        "{} worker stopped; starting a new one",
                        self.frontend
                    );
                    senders.remove(&key);
                    job = returned;
                }
            }
        }
        // Dropping the job drops its reply channel, which its caller reads as `worker_gone`.
    }

    fn worker_gone(&self, id: &str) -> ProviderError {
        ProviderError::retryable(format!(
            "the write queue of {} {id} stopped; try again",
            self.frontend
        ))
    }
}

// These were the clb and natgw workers' tests before `take_round` was shared.
#[cfg(test)]
mod tests {
    use super::*;

    #[derive(Debug, PartialEq)]
    struct Ensure {
        port: u16,
        ip: &'static str,
    }

    #[derive(Debug, PartialEq)]
    struct Release {
        port: u16,
    }

    impl Slotted for Ensure {
        type Slot = u16;
        fn slot(&self) -> u16 {
            self.port
        }
    }

    impl Slotted for Release {
        type Slot = u16;
        fn slot(&self) -> u16 {
            self.port
        }
    }

    type TestJob = Job<Ensure, (), Release>;

    fn ensure(port: u16, ip: &'static str) -> (TestJob, oneshot::Receiver<Result<()>>) {
        let (tx, rx) = oneshot::channel();
        (Job::Ensure(Box::new(Ensure { port, ip }), tx), rx)
    }

    fn release(port: u16) -> (TestJob, oneshot::Receiver<Result<()>>) {
        let (tx, rx) = oneshot::channel();
        (Job::Release(Release { port }, tx), rx)
    }

    #[test]
    fn one_job_per_slot_per_round_and_duplicates_share() {
        let (a, _ra) = ensure(1, "10.0.0.1");
        let (a_again, _ra2) = ensure(1, "10.0.0.1");
        let (a_moved, _ra3) = ensure(1, "10.0.0.2");
        let (b, _rb) = ensure(2, "10.0.0.1");
        let (c, _rc) = release(3);
        let (rel_a, _rra) = release(1);
        let mut backlog: VecDeque<TestJob> = [a, a_again, a_moved, b, c, rel_a].into();
        let round = take_round(&mut backlog, 100);
        assert_eq!(round.ensures.len(), 2);
        assert_eq!(round.ensures[0].waiters.len(), 2);
        assert_eq!(round.releases.len(), 1);
        // The changed ensure and the release of slot 1 wait, in order.
        assert_eq!(backlog.len(), 2);
        let next = take_round(&mut backlog, 100);
        assert_eq!(next.ensures.len(), 1);
        assert_eq!(next.ensures[0].job.ip, "10.0.0.2");
        assert_eq!(backlog.len(), 1);
        assert!(matches!(backlog[0], Job::Release(..)));
    }

    #[test]
    fn the_cap_and_abandoned_jobs() {
        let (a, _ra) = ensure(1, "10.0.0.1");
        let (b, rb) = ensure(2, "10.0.0.1");
        drop(rb);
        let (c, _rc) = ensure(3, "10.0.0.1");
        let (d, _rd) = ensure(4, "10.0.0.1");
        let mut backlog: VecDeque<TestJob> = [a, b, c, d].into();
        let round = take_round(&mut backlog, 2);
        let ports: Vec<u16> = round.ensures.iter().map(|g| g.job.port).collect();
        assert_eq!(ports, [1, 3]);
        assert_eq!(backlog.len(), 1);
    }

    #[tokio::test(start_paused = true)]
    async fn a_worker_batches_a_window_and_answers_every_waiter() {
        let rounds = std::sync::Arc::new(Mutex::new(Vec::new()));
        let seen = rounds.clone();
        let queues: Queues<Ensure, (), Release> = Queues::new("test", move |_, rx| {
            let seen = seen.clone();
            let batching = Batching {
                window: Duration::from_millis(100),
                max_jobs: 10,
                per_call: 1,
            };
            tokio::spawn(run_worker(rx, batching, move |round| {
                seen.lock().unwrap().push(round.len());
                for g in round.ensures {
                    g.reply(Ok(()));
                }
                for g in round.releases {
                    g.reply(Ok(()));
                }
                async {}
            }));
        });
        let (a, b, c) = tokio::join!(
            queues.ensure("r", "fe-1", Ensure { port: 1, ip: "x" }),
            queues.ensure("r", "fe-1", Ensure { port: 1, ip: "x" }),
            queues.release("r", "fe-1", Release { port: 2 }),
        );
        assert!(a.is_ok() && b.is_ok() && c.is_ok());
        // The two identical ensures are one job.
        assert_eq!(*rounds.lock().unwrap(), [2]);
    }

    /// When each round started, and its size.
    type Rounds = std::sync::Arc<Mutex<Vec<(Duration, usize)>>>;

    /// A worker with a window of 100 ms, at most 100 jobs and `per_call`, whose rounds take
    /// `takes`, and the rounds it ran.
    fn recording_worker(
        per_call: usize,
        takes: Duration,
    ) -> (mpsc::UnboundedSender<TestJob>, Rounds) {
        let rounds = Rounds::default();
        let seen = rounds.clone();
        let (tx, rx) = mpsc::unbounded_channel::<TestJob>();
        let started = Instant::now();
        tokio::spawn(run_worker(
            rx,
            Batching {
                window: Duration::from_millis(100),
                max_jobs: 100,
                per_call,
            },
            move |round| {
                seen.lock().unwrap().push((started.elapsed(), round.len()));
                async move {
                    if !takes.is_zero() {
                        tokio::time::sleep(takes).await;
                    }
                }
            },
        ));
        (tx, rounds)
    }

    /// Runs a worker (window 100 ms, at most 100 jobs, `per_call`) through a burst of 30
    /// jobs, one every 60 ms (each within a window of the last: 1.8 s in all), and returns when
    /// each round started after the burst's start, and its size.
    async fn burst_rounds(per_call: usize) -> Vec<(Duration, usize)> {
        let (tx, rounds) = recording_worker(per_call, Duration::ZERO);
        let mut answers = Vec::new();
        for port in 0..30 {
            let (job, answer) = ensure(port, "10.0.0.1");
            tx.send(job).unwrap();
            answers.push(answer);
            tokio::time::sleep(Duration::from_millis(60)).await;
        }
        tokio::time::sleep(Duration::from_secs(1)).await;
        rounds.lock().unwrap().clone()
    }

    #[tokio::test(start_paused = true)]
    async fn a_burst_keeps_the_round_open_up_to_ten_windows() {
        let rounds = burst_rounds(1).await;
        let sizes: Vec<usize> = rounds.iter().map(|(_, n)| *n).collect();
        // The first round closed ten windows after its first job (17 jobs in), the second a
        // window after the burst's last job.
        assert_eq!(sizes, [17, 13]);
        assert_eq!(rounds[0].0, Duration::from_secs(1));
    }

    #[tokio::test(start_paused = true)]
    async fn a_round_cut_by_a_cap_takes_whole_calls_and_the_rest_waits_for_more() {
        let sizes: Vec<usize> = burst_rounds(5).await.iter().map(|(_, n)| *n).collect();
        // Ten windows in, 17 jobs wait: 15 go (three calls' worth), 2 open the next round,
        // which the burst's end closes whole. Without the cut: [17, 13], four partial calls.
        assert_eq!(sizes, [15, 15]);
    }

    #[tokio::test(start_paused = true)]
    async fn a_pause_in_a_burst_makes_no_small_call_but_a_lone_job_goes_at_once() {
        // A round's calls take a while.
        let (tx, rounds) = recording_worker(10, Duration::from_millis(300));
        let mut answers = Vec::new();
        let mut send = |port| {
            let (job, answer) = ensure(port, "10.0.0.1");
            tx.send(job).unwrap();
            answers.push(answer);
        };
        // A call's worth, then stragglers 300 ms apart, the first just after that round.
        for port in 0..10 {
            send(port);
        }
        tokio::time::sleep(Duration::from_millis(450)).await;
        for port in 10..14 {
            send(port);
            tokio::time::sleep(Duration::from_millis(300)).await;
        }
        // Long after: one job alone.
        tokio::time::sleep(Duration::from_millis(3450)).await;
        send(20);
        tokio::time::sleep(Duration::from_secs(1)).await;
        let rounds = rounds.lock().unwrap().clone();
        let sizes: Vec<usize> = rounds.iter().map(|(_, n)| *n).collect();
        // The stragglers wait together (ten windows after the first), not one call each.
        assert_eq!(sizes, [10, 4, 1]);
        assert_eq!(rounds[1].0, Duration::from_millis(1450));
        // Not in a burst: a window after it came (at 5.1 s).
        assert_eq!(rounds[2].0, Duration::from_millis(5200));
    }
}
