//! The worker of one CLB's queue: waits for a job, collects more for the batch window (or until
//! the size cap), takes one round's worth and runs it, and repeats.
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use dac_provider_api::Protocol;
use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use super::round::{self, Round};
use super::{Grouped, Job, WorkerEnv};

pub(crate) async fn run(
    env: Arc<WorkerEnv>,
    region: String,
    lb_id: String,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let span = tracing::debug_span!("clb-queue", %region, lb = %lb_id);
    async move {
        let mut pending: VecDeque<Job> = VecDeque::new();
        loop {
            if pending.is_empty() {
                // Idle: the first job opens the window.
                match rx.recv().await {
                    Some(job) => pending.push_back(job),
                    // The provider is gone.
                    None => return,
                }
                let deadline = Instant::now() + env.batch_window;
                while pending.len() < env.max_batch_jobs {
                    match timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => pending.push_back(job),
                        Ok(None) | Err(_) => break,
                    }
                }
            } else {
                // Leftovers of the last round (jobs on a slot it already had): go on at once,
                // with whatever else arrived meanwhile.
                while pending.len() < env.max_batch_jobs {
                    match rx.try_recv() {
                        Ok(job) => pending.push_back(job),
                        Err(_) => break,
                    }
                }
            }
            let round = take_round(&mut pending, env.max_batch_jobs);
            if !round.is_empty() {
                env.api.count_round();
                round::run(&env, &region, &lb_id, round).await;
            }
        }
    }
    .instrument(span)
    .await
}

/// Takes the jobs of one round out of `pending`, in arrival order: at most one job per slot
/// (identical jobs share it and its answer), at most `max` in all. A later, different job on a
/// slot already taken stays for the next round, so that it sees the earlier one's effect (an
/// ensure after a release must create again). Jobs nobody waits for any more are dropped.
pub(crate) fn take_round(pending: &mut VecDeque<Job>, max: usize) -> Round {
    let mut round = Round::default();
    let mut taken: HashMap<(u16, Protocol), Taken> = HashMap::new();
    let mut deferred = VecDeque::new();
    while let Some(job) = pending.pop_front() {
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
            (Some(_), job) => deferred.push_back(job),
            (None, job) if round.len() >= max => deferred.push_back(job),
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
    *pending = deferred;
    round
}

#[derive(Clone, Copy)]
enum Taken {
    Ensure(usize),
    Release(usize),
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{EnsureJob, ReleaseJob};
    use tokio::sync::oneshot;

    fn ensure(
        port: u16,
        ip: &str,
    ) -> (
        Job,
        oneshot::Receiver<dac_provider_api::Result<crate::queue::EnsureOutcome>>,
    ) {
        let (tx, rx) = oneshot::channel();
        let job = EnsureJob {
            marker: format!("m-{port}"),
            port,
            protocol: Protocol::Tcp,
            settings: Default::default(),
            backend: Some(dac_provider_api::Backend {
                pod_name: "p".into(),
                pod_ip: ip.into(),
                port: 80,
            }),
        };
        (Job::Ensure(Box::new(job), tx), rx)
    }

    fn release(port: u16) -> (Job, oneshot::Receiver<dac_provider_api::Result<()>>) {
        let (tx, rx) = oneshot::channel();
        let job = ReleaseJob {
            marker: format!("m-{port}"),
            port,
            protocol: Protocol::Tcp,
            resource_id: None,
        };
        (Job::Release(job, tx), rx)
    }

    #[test]
    fn one_job_per_slot_per_round_and_duplicates_share() {
        let (a, _ra) = ensure(1, "10.0.0.1");
        let (a_again, _ra2) = ensure(1, "10.0.0.1");
        let (a_moved, _ra3) = ensure(1, "10.0.0.2");
        let (b, _rb) = ensure(2, "10.0.0.1");
        let (c, _rc) = release(3);
        let (rel_a, _rra) = release(1);
        let mut pending: VecDeque<Job> = [a, a_again, a_moved, b, c, rel_a].into_iter().collect();
        let round = take_round(&mut pending, 100);
        assert_eq!(round.ensures.len(), 2);
        assert_eq!(round.ensures[0].waiters.len(), 2);
        assert_eq!(round.releases.len(), 1);
        // The changed ensure and the release of slot 1 wait, in order.
        assert_eq!(pending.len(), 2);
        let next = take_round(&mut pending, 100);
        assert_eq!(next.ensures.len(), 1);
        assert_eq!(pending.len(), 1);
        assert!(matches!(pending[0], Job::Release(..)));
    }

    #[test]
    fn the_cap_and_abandoned_jobs() {
        let (a, _ra) = ensure(1, "10.0.0.1");
        let (b, rb) = ensure(2, "10.0.0.1");
        drop(rb);
        let (c, _rc) = ensure(3, "10.0.0.1");
        let (d, _rd) = ensure(4, "10.0.0.1");
        let mut pending: VecDeque<Job> = [a, b, c, d].into_iter().collect();
        let round = take_round(&mut pending, 2);
        let ports: Vec<u16> = round.ensures.iter().map(|g| g.job.port).collect();
        assert_eq!(ports, [1, 3]);
        assert_eq!(pending.len(), 1);
    }
}
