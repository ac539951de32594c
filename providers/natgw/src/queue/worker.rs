//! The worker of one gateway's queue: waits for a job, collects more for the batch window (or
//! until the size cap), takes one round's worth, runs it, and repeats.
use std::collections::{HashMap, VecDeque};
use std::sync::Arc;

use tokio::sync::mpsc;
use tokio::time::{Instant, timeout_at};
use tracing::Instrument;

use super::round::{self, Round};
use super::{Grouped, Job, WorkerEnv};
use crate::rule::PublicSide;

pub(crate) async fn run(
    env: Arc<WorkerEnv>,
    region: String,
    gateway: String,
    mut rx: mpsc::UnboundedReceiver<Job>,
) {
    let span = tracing::debug_span!("natgw-queue", %region, %gateway);
    async move {
        let mut backlog: VecDeque<Job> = VecDeque::new();
        loop {
            if backlog.is_empty() {
                // Idle: the first job opens the window.
                let Some(first) = rx.recv().await else {
                    return; // the provider is gone
                };
                backlog.push_back(first);
                let deadline = Instant::now() + env.batch_window;
                while backlog.len() < env.max_batch_jobs {
                    match timeout_at(deadline, rx.recv()).await {
                        Ok(Some(job)) => backlog.push_back(job),
                        Ok(None) | Err(_) => break,
                    }
                }
            } else {
                // Leftovers of the last round (later jobs on a slot it had): go on at once with
                // whatever else arrived meanwhile.
                while backlog.len() < env.max_batch_jobs {
                    let Ok(job) = rx.try_recv() else { break };
                    backlog.push_back(job);
                }
            }
            let round = take_round(&mut backlog, env.max_batch_jobs);
            if !round.is_empty() {
                env.api.count_round();
                round::run(&env, &region, &gateway, round).await;
            }
        }
    }
    .instrument(span)
    .await
}

/// Where a slot's job went in the round being built.
#[derive(Clone, Copy)]
enum Taken {
    Ensure(usize),
    Release(usize),
}

/// Takes one round's jobs out of `backlog`, in arrival order: at most one job per slot
/// (identical jobs share it and its answer) and at most `max` in all. A later, different job on
/// a slot already taken waits for the next round so that it sees the earlier one's effect (an
/// ensure after a release must create again). Abandoned jobs are dropped.
pub(crate) fn take_round(backlog: &mut VecDeque<Job>, max: usize) -> Round {
    let mut round = Round::default();
    let mut taken: HashMap<PublicSide, Taken> = HashMap::new();
    let mut later = VecDeque::new();
    for job in backlog.drain(..) {
        if job.abandoned() {
            continue;
        }
        match (taken.get(job.slot()).copied(), job) {
            (Some(Taken::Ensure(i)), Job::Ensure(j, tx)) if round.ensures[i].job == j => {
                round.ensures[i].waiters.push(tx);
            }
            (Some(Taken::Release(i)), Job::Release(j, tx)) if round.releases[i].job == j => {
                round.releases[i].waiters.push(tx);
            }
            (Some(_), job) => later.push_back(job),
            (None, job) if round.len() >= max => later.push_back(job),
            (None, Job::Ensure(j, tx)) => {
                taken.insert(j.public.clone(), Taken::Ensure(round.ensures.len()));
                round.ensures.push(Grouped::new(j, tx));
            }
            (None, Job::Release(j, tx)) => {
                taken.insert(j.public.clone(), Taken::Release(round.releases.len()));
                round.releases.push(Grouped::new(j, tx));
            }
        }
    }
    *backlog = later;
    round
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::{EnsureJob, PrivateSide, ReleaseJob};
    use dac_provider_api::{BindingKey, BindingState, Protocol, Result};
    use tokio::sync::oneshot;

    fn public(port: u16) -> PublicSide {
        PublicSide {
            protocol: Protocol::Tcp,
            ip: "198.51.100.1".into(),
            port,
        }
    }

    fn ensure(port: u16, ip: &str) -> (Job, oneshot::Receiver<Result<BindingState>>) {
        let (tx, rx) = oneshot::channel();
        let job = EnsureJob {
            key: BindingKey::new("ns", format!("b-{port}")),
            marker: format!("m-{port}"),
            public: public(port),
            backend: Some(PrivateSide {
                ip: ip.into(),
                port: 7000,
            }),
        };
        (Job::Ensure(job, tx), rx)
    }

    fn release(port: u16) -> (Job, oneshot::Receiver<Result<()>>) {
        let (tx, rx) = oneshot::channel();
        let job = ReleaseJob {
            key: BindingKey::new("ns", format!("b-{port}")),
            public: public(port),
            by_id: None,
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
        let mut backlog: VecDeque<Job> = [a, a_again, a_moved, b, c, rel_a].into();
        let round = take_round(&mut backlog, 100);
        assert_eq!(round.ensures.len(), 2);
        assert_eq!(round.ensures[0].waiters.len(), 2);
        assert_eq!(round.releases.len(), 1);
        // The moved ensure and the release of slot 1 wait, in order.
        assert_eq!(backlog.len(), 2);
        let next = take_round(&mut backlog, 100);
        assert_eq!(next.ensures.len(), 1);
        assert!(matches!(backlog[0], Job::Release(..)));
    }

    #[test]
    fn the_cap_and_abandoned_jobs() {
        let (a, _ra) = ensure(1, "10.0.0.1");
        let (b, rb) = ensure(2, "10.0.0.1");
        drop(rb);
        let (c, _rc) = ensure(3, "10.0.0.1");
        let (d, _rd) = ensure(4, "10.0.0.1");
        let mut backlog: VecDeque<Job> = [a, b, c, d].into();
        let round = take_round(&mut backlog, 2);
        let ports: Vec<u16> = round.ensures.iter().map(|g| g.job.public.port).collect();
        assert_eq!(ports, [1, 3]);
        assert_eq!(backlog.len(), 1);
    }
}
