//! One round of a CLB's worker: look once, then write in as few calls as the cloud allows.
//!
//! 1. DescribeListeners, once for the instance.
//! 2. Releases first (they free ports and quota for the creates that follow):
//!    DeleteLoadBalancerListeners, up to 20 ids per call, and wait for the task.
//! 3. Ensures: adopt our existing listeners, create the missing ones with CreateListener grouped
//!    by (protocol, settings), up to 49 ports per call, waiting for each task (the instance is
//!    locked until it ends).
//! 4. Targets: DescribeTargets for adopted listeners (20 per call; new ones have none), then
//!    BatchDeregisterTargets for whatever is not the binding's backend and BatchRegisterTargets
//!    for missing backends, up to 500 per call.
//!
//! Each waiter gets its own answer. A call the cloud refuses as a whole for one item's sake
//! (a port taken since we looked, the quota, an invalid target) is split in halves until the
//! item is alone, so the others still go through.
use std::collections::{HashMap, HashSet};
use std::future::Future;

use dac_provider_api::{BindingState, Protocol, ProviderError, Result};
use dac_provider_support::queue::{self, Grouped};
use dac_provider_support::split::{Refusals, split_calls};
use dac_tencentcloud::models::clb;
use dac_tencentcloud::{ClbApi, Error};
use tokio::time::Instant;

use super::plan::{self, EnsurePlan, ListenerView};
use super::{EnsureJob, EnsureOutcome, ReleaseJob, WorkerEnv};
use crate::cache;
use crate::errors::{self, Stage, reason};
use crate::settings::ListenerSettings;

/// Listener ids per DeleteLoadBalancerListeners call.
const MAX_DELETE_IDS: usize = 20;
/// Listener ids per DescribeTargets call.
const MAX_DESCRIBE_TARGETS_IDS: usize = 20;
/// Targets per BatchRegisterTargets / BatchDeregisterTargets call.
const MAX_BATCH_TARGETS: usize = 500;

/// The jobs one round does.
pub(crate) type Round = queue::Round<EnsureJob, EnsureOutcome, ReleaseJob>;

pub(crate) async fn run(env: &WorkerEnv, region: &str, lb_id: &str, round: Round) {
    let Round { ensures, releases } = round;
    tracing::debug!(ensures = ensures.len(), releases = releases.len(), "round");
    // The address host for the ensures: cached, so usually free; looked up once per round
    // rather than once per binding.
    let looked = async {
        let host = if ensures.is_empty() {
            None
        } else {
            let key = [lb_id.to_string()];
            let lookup = cache::load_balancers(env.api.as_ref(), &env.caches, region, &key).await?;
            match lookup.found.get(lb_id) {
                Some(info) => info.host.clone(),
                None => {
                    return Err(ProviderError::user_fixable(
                        reason::LOAD_BALANCER_NOT_FOUND,
                        format!("CLB {lb_id} does not exist in region {region}"),
                    ));
                }
            }
        };
        let listeners = describe_listeners(env, region, lb_id).await?;
        Ok::<_, ProviderError>((host, listeners))
    };
    let (host, mut listeners) = match looked.await {
        Ok(found) => found,
        Err(err) => {
            if err.reason() == reason::LOAD_BALANCER_NOT_FOUND {
                env.caches.forget(region, lb_id);
            }
            for g in ensures {
                g.reply(Err(err.clone()));
            }
            for g in releases {
                g.reply(Err(err.clone()));
            }
            return;
        }
    };
    if !releases.is_empty() {
        let deleted = run_releases(env, region, lb_id, &listeners, releases).await;
        listeners.retain(|l| !deleted.contains(&l.id));
    }
    if !ensures.is_empty() {
        run_ensures(env, region, lb_id, host.as_deref(), &listeners, ensures).await;
    }
}

/// All listeners of the instance, read afresh (the cache of them is refreshed on the way).
async fn describe_listeners(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
) -> Result<Vec<ListenerView>> {
    let listeners = cache::describe_listeners(env.api.as_ref(), &env.caches, region, lb_id)
        .await
        .map_err(|e| errors::map(&e, Stage::Read, lb_id))?;
    Ok(listeners.as_ref().clone())
}

/// What may concern one item of a batch: see [`errors::worth_splitting`]. Unlike natgw, a
/// refusal never answers the rest of a batch without a call: creates beyond the listener quota
/// are already trimmed off before the calls ([`trim_to_quota`]).
struct ClbRefusals;

impl Refusals<Error> for ClbRefusals {
    fn worth_splitting(&self, err: &Error) -> bool {
        errors::worth_splitting(err)
    }
}

/// Calls `call` on `items` in chunks of at most `max`; a chunk the cloud refuses for reasons
/// that may concern one item only ([`errors::worth_splitting`]) is split in halves and tried
/// again, down to single items ([`split_calls`]). Returns each final chunk with its outcome, in
/// order.
//
// The chunk is passed by value (a clone) rather than by reference so that the futures stay
// `Send` without higher-ranked lifetimes, which async closures cannot promise yet.
async fn call_split<T, R, F, Fut>(
    items: Vec<T>,
    max: usize,
    mut call: F,
) -> Vec<(Vec<T>, std::result::Result<R, Error>)>
where
    T: Clone,
    F: FnMut(Vec<T>) -> Fut,
    Fut: Future<Output = std::result::Result<R, Error>>,
{
    split_calls(items, max, &ClbRefusals, |chunk: &[T]| call(chunk.to_vec())).await
}

/// Deletes what the releases own; answers them; returns the ids that are gone.
async fn run_releases(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    listeners: &[ListenerView],
    releases: Vec<Grouped<ReleaseJob, ()>>,
) -> HashSet<String> {
    let per_job: Vec<Vec<String>> = releases
        .iter()
        .map(|g| {
            let j = &g.job;
            match (&j.orphan, &j.resource_id) {
                (Some(listing), Some(id)) => orphan_ids(env, region, lb_id, listeners, id, listing),
                (Some(_), None) => Vec::new(),
                (None, _) => plan::release_ids(
                    listeners,
                    &env.cluster,
                    &j.marker,
                    j.port,
                    j.protocol,
                    j.resource_id.as_deref(),
                ),
            }
        })
        .collect();
    let mut ids: Vec<String> = Vec::new();
    for id in per_job.iter().flatten() {
        if !ids.contains(id) {
            ids.push(id.clone());
        }
    }
    let outcome = delete_listeners(env, region, lb_id, ids).await;
    let deleted: HashSet<String> = outcome
        .iter()
        .filter(|(_, r)| r.is_ok())
        .map(|(id, _)| id.clone())
        .collect();
    for id in &deleted {
        env.sweep.forget(&super::sweep_key(region, lb_id, id));
    }
    for (g, ids) in releases.into_iter().zip(per_job) {
        let result = ids
            .iter()
            .filter_map(|id| outcome.get(id).cloned())
            .find(|r| r.is_err())
            .unwrap_or(Ok(()));
        g.reply(result);
    }
    deleted
}

/// How often a call is sent again after the cloud refused it because part of it was done by
/// someone else meanwhile (a listener deleted, a target deregistered): each time, what is left
/// was read afresh, so more than a couple of rounds means the cloud keeps changing under us.
const RESENDS: usize = 3;

/// Deletes listeners `ids`, at most 20 per DeleteLoadBalancerListeners, and waits for each
/// task; the outcome per id. An id already gone fails the whole call with plain
/// `InvalidParameter` ("some ListenerId ... not found"): the listeners are then described
/// again, the gone ones count as deleted and the rest is sent again. The call is never sent
/// with an empty `ListenerIds`, which would delete every listener of the CLB.
async fn delete_listeners(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    ids: Vec<String>,
) -> HashMap<String, Result<()>> {
    let mut outcome = HashMap::new();
    for chunk in ids.chunks(MAX_DELETE_IDS) {
        let mut pending = chunk.to_vec();
        for resend in 0..=RESENDS {
            if pending.is_empty() {
                break;
            }
            let req = clb::DeleteLoadBalancerListenersRequest {
                load_balancer_id: lb_id.to_string(),
                listener_ids: Some(pending.clone()),
            };
            let err = match env.api.delete_load_balancer_listeners(region, &req).await {
                Ok(resp) => {
                    let deadline = Instant::now() + env.task_deadline;
                    let result = env
                        .api
                        .wait_clb_task(region, &resp.request_id, deadline)
                        .await
                        .map(|_| ())
                        // Failed, or still running at the deadline: the next release looks
                        // again.
                        .map_err(|wait| errors::map(&wait, Stage::Delete, lb_id));
                    for id in pending.drain(..) {
                        outcome.insert(id, result.clone());
                    }
                    break;
                }
                Err(err) => err,
            };
            if !errors::is_listener_gone(&err) || resend == RESENDS {
                let mapped = errors::map(&err, Stage::Delete, lb_id);
                for id in pending.drain(..) {
                    outcome.insert(id, Err(mapped.clone()));
                }
                break;
            }
            tracing::debug!(error = %err, "listeners deleted meanwhile; looking again");
            match describe_listeners(env, region, lb_id).await {
                Ok(now) => pending.retain(|id| {
                    let exists = now.iter().any(|l| l.id == *id);
                    if !exists {
                        outcome.insert(id.clone(), Ok(()));
                    }
                    exists
                }),
                Err(err) => {
                    for id in pending.drain(..) {
                        outcome.insert(id, Err(err.clone()));
                    }
                }
            }
        }
    }
    outcome
}

/// What the orphan sweep may delete: the listener `id` its listing saw, if it still carries the
/// name it had then and no ensure has adopted it since (this runs on the CLB's queue, so no
/// ensure can adopt it between this check and the delete). Gone already: nothing to delete.
fn orphan_ids(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    listeners: &[ListenerView],
    id: &str,
    listing: &dac_provider_support::sweep::Listing,
) -> Vec<String> {
    let Some(listener) = listeners.iter().find(|l| l.id == id) else {
        return Vec::new();
    };
    let key = super::sweep_key(region, lb_id, id);
    match env.sweep.releasable(&key, listing, &listener.name) {
        Ok(()) => vec![id.to_string()],
        Err(why) => {
            tracing::info!(
                listener = id,
                name = %listener.name,
                "not releasing the listener as an orphan: {why}"
            );
            Vec::new()
        }
    }
}

/// Per-ensure progress through the round.
struct Progress {
    listener_id: Option<String>,
    /// Created in this round, so it has no targets yet (no DescribeTargets needed).
    fresh: bool,
    /// The final answer, once there is one.
    result: Option<Result<EnsureOutcome>>,
}

impl Progress {
    fn fail(&mut self, err: ProviderError) {
        if self.result.is_none() {
            self.result = Some(Err(err));
        }
    }

    /// Pending answers are made before the address is at hand; they get it here.
    fn with_address(mut self, host: Option<&str>, port: u16) -> Self {
        if let Some(Ok(outcome)) = &mut self.result {
            outcome.address = address(host, port);
        }
        self
    }

    /// Still going: has a listener and no answer yet.
    fn active(&self) -> Option<&str> {
        match self.result {
            None => self.listener_id.as_deref(),
            Some(_) => None,
        }
    }
}

async fn run_ensures(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    host: Option<&str>,
    listeners: &[ListenerView],
    ensures: Vec<Grouped<EnsureJob, EnsureOutcome>>,
) {
    let mut progress: Vec<Progress> = ensures
        .iter()
        .map(|_| Progress {
            listener_id: None,
            fresh: false,
            result: None,
        })
        .collect();
    let mut to_create = Vec::new();
    let mut to_modify = Vec::new();
    for (i, g) in ensures.iter().enumerate() {
        let j = &g.job;
        let ownership = |name: &str| env.ownership(name);
        match plan::plan_ensure(
            listeners,
            &ownership,
            env.namespace.as_deref(),
            lb_id,
            &j.marker,
            j.port,
            j.protocol,
        ) {
            EnsurePlan::Adopt(id) => {
                env.sweep.adopted(&super::sweep_key(region, lb_id, &id));
                let current = listeners.iter().find(|l| l.id == id);
                if current.is_some_and(|l| j.settings.differs_from(&l.settings)) {
                    to_modify.push(i);
                }
                progress[i].listener_id = Some(id);
            }
            EnsurePlan::Create => to_create.push(i),
            EnsurePlan::Fail(err) => progress[i].fail(err),
        }
    }
    trim_to_quota(
        env,
        region,
        lb_id,
        listeners.len(),
        &mut to_create,
        &mut progress,
    )
    .await;
    create_listeners(env, region, lb_id, &ensures, to_create, &mut progress).await;
    modify_listeners(env, region, lb_id, &ensures, to_modify, &mut progress).await;
    sync_targets(env, region, lb_id, &ensures, &mut progress).await;
    for (g, p) in ensures.into_iter().zip(progress) {
        let p = p.with_address(host, g.job.port);
        let result = p.result.unwrap_or_else(|| match p.listener_id {
            Some(listener_id) => Ok(EnsureOutcome {
                listener_id,
                state: if g.job.backend.is_some() {
                    BindingState::Bound
                } else {
                    BindingState::Available
                },
                address: address(host, g.job.port),
            }),
            None => Err(ProviderError::permanent(
                "internal: ensure finished without a listener",
            )),
        });
        g.reply(result);
    }
}

/// `host:port`; an IPv6 host is already bracketed ([`cache::address_host`]).
fn address(host: Option<&str>, port: u16) -> Option<String> {
    host.map(|host| format!("{host}:{port}"))
}

/// Creates beyond the listener quota fail at once with the user-facing reason instead of
/// costing refused calls (first come, first served). The quota is a cached read; if it cannot
/// be read, the cloud's own refusal (split down to the bindings beyond it) decides instead.
async fn trim_to_quota(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    existing: usize,
    to_create: &mut Vec<usize>,
    progress: &mut [Progress],
) {
    if to_create.is_empty() {
        return;
    }
    let quota = match cache::listener_quota(
        env.api.as_ref(),
        &env.caches,
        env.listener_quota,
        region,
    )
    .await
    {
        Ok(quota) => quota,
        Err(err) => {
            tracing::debug!(error = %err, "listener quota unknown; the cloud will enforce it");
            return;
        }
    };
    let room = usize::try_from(quota)
        .unwrap_or(usize::MAX)
        .saturating_sub(existing);
    if to_create.len() <= room {
        return;
    }
    for &i in &to_create[room..] {
        progress[i].fail(ProviderError::user_fixable(
            reason::LISTENER_QUOTA_EXCEEDED,
            format!("CLB {lb_id} has {existing} listeners and a listener quota of {quota}"),
        ));
    }
    to_create.truncate(room);
}

async fn create_listeners(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    ensures: &[Grouped<EnsureJob, EnsureOutcome>],
    to_create: Vec<usize>,
    progress: &mut [Progress],
) {
    // Listeners of one call share protocol and settings.
    let mut groups: Vec<(Protocol, &ListenerSettings, Vec<usize>)> = Vec::new();
    for i in to_create {
        let j = &ensures[i].job;
        match groups
            .iter_mut()
            .find(|(p, s, _)| *p == j.protocol && **s == j.settings)
        {
            Some((_, _, members)) => members.push(i),
            None => groups.push((j.protocol, &j.settings, vec![i])),
        }
    }
    for (protocol, settings, members) in groups {
        let calls = call_split(
            members,
            env.max_ports_per_create,
            |chunk: Vec<usize>| async move {
                let mut req = clb::CreateListenerRequest {
                    load_balancer_id: lb_id.to_string(),
                    ports: chunk
                        .iter()
                        .map(|&i| i64::from(ensures[i].job.port))
                        .collect(),
                    protocol: protocol.as_str().to_string(),
                    listener_names: Some(
                        chunk
                            .iter()
                            .map(|&i| ensures[i].job.marker.clone())
                            .collect(),
                    ),
                    ..Default::default()
                };
                settings.apply(&mut req);
                let resp = env.api.create_listener(region, &req).await?;
                let deadline = Instant::now() + env.task_deadline;
                let wait = env
                    .api
                    .wait_clb_task(region, &resp.request_id, deadline)
                    .await
                    .map(|_| ());
                Ok((resp.listener_ids, wait))
            },
        )
        .await;
        let stage = Stage::Create {
            custom_settings: !settings.is_default(),
        };
        for (chunk, result) in calls {
            match result {
                Ok((ids, wait)) if ids.len() == chunk.len() => {
                    for (&i, id) in chunk.iter().zip(ids) {
                        env.sweep.adopted(&super::sweep_key(region, lb_id, &id));
                        progress[i].listener_id = Some(id.clone());
                        progress[i].fresh = true;
                        match &wait {
                            Ok(()) => {}
                            Err(err @ Error::TaskFailed { .. }) => {
                                progress[i].fail(errors::map(err, stage, lb_id));
                            }
                            // Still running at the deadline, or the poll itself failed: the
                            // listener is on its way; the caller asks again.
                            Err(_) => {
                                progress[i].result = Some(Ok(EnsureOutcome {
                                    listener_id: id,
                                    state: BindingState::Pending,
                                    address: None,
                                }));
                            }
                        }
                    }
                }
                Ok((ids, _)) => {
                    let err = ProviderError::permanent(format!(
                        "CreateListener on CLB {lb_id} returned {} listener ids for {} ports",
                        ids.len(),
                        chunk.len()
                    ));
                    for &i in &chunk {
                        progress[i].fail(err.clone());
                    }
                }
                Err(err) => {
                    let mapped = errors::map(&err, stage, lb_id);
                    for &i in &chunk {
                        progress[i].fail(mapped.clone());
                    }
                }
            }
        }
    }
}

/// Gives adopted listeners whose settings differ from their binding's `CLBListenerConfig` the
/// binding's settings (it was edited since they were made): ModifyListener changes one
/// listener per call and locks the CLB until its task ends, so the round does them one after
/// the other, each waited for.
async fn modify_listeners(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    ensures: &[Grouped<EnsureJob, EnsureOutcome>],
    to_modify: Vec<usize>,
    progress: &mut [Progress],
) {
    for i in to_modify {
        let Some(listener_id) = progress[i].active().map(str::to_string) else {
            continue;
        };
        let settings = &ensures[i].job.settings;
        let mut req = clb::ModifyListenerRequest {
            load_balancer_id: lb_id.to_string(),
            listener_id: listener_id.clone(),
            ..Default::default()
        };
        settings.apply_modify(&mut req);
        tracing::info!(listener = %listener_id, "the listener config changed; modifying the listener");
        let stage = Stage::Create {
            custom_settings: true,
        };
        let resp = match env.api.modify_listener(region, &req).await {
            Ok(resp) => resp,
            Err(err) => {
                progress[i].fail(errors::map(&err, stage, lb_id));
                continue;
            }
        };
        let deadline = Instant::now() + env.task_deadline;
        match env
            .api
            .wait_clb_task(region, &resp.request_id, deadline)
            .await
        {
            Ok(_) => {}
            Err(err @ Error::TaskFailed { .. }) => {
                progress[i].fail(errors::map(&err, stage, lb_id))
            }
            // Still running: the listener works; the next ensure sees the new settings.
            Err(_) => {
                progress[i].result = Some(Ok(EnsureOutcome {
                    listener_id,
                    state: BindingState::Pending,
                    address: None,
                }));
            }
        }
    }
}

/// Makes each active binding's backend the only target of its listener.
async fn sync_targets(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    ensures: &[Grouped<EnsureJob, EnsureOutcome>],
    progress: &mut [Progress],
) {
    // What is bound now: nothing on listeners created this round; ask for the others.
    let adopted: Vec<usize> = (0..progress.len())
        .filter(|&i| progress[i].active().is_some() && !progress[i].fresh)
        .collect();
    let mut current: HashMap<String, Vec<clb::Backend>> = HashMap::new();
    for chunk in adopted.chunks(MAX_DESCRIBE_TARGETS_IDS) {
        let req = clb::DescribeTargetsRequest {
            load_balancer_id: lb_id.to_string(),
            listener_ids: Some(
                chunk
                    .iter()
                    .filter_map(|&i| progress[i].listener_id.clone())
                    .collect(),
            ),
            ..Default::default()
        };
        match env.api.describe_targets(region, &req).await {
            Ok(resp) => {
                for l in resp.listeners {
                    if let Some(id) = l.listener_id {
                        current.insert(id, l.targets);
                    }
                }
            }
            Err(err) => {
                let mapped = errors::map(&err, Stage::Targets, lb_id);
                for &i in chunk {
                    progress[i].fail(mapped.clone());
                }
            }
        }
    }

    let mut deregister: Vec<(usize, clb::BatchTarget)> = Vec::new();
    let mut register: Vec<(usize, clb::BatchTarget)> = Vec::new();
    for (i, p) in progress.iter().enumerate() {
        let Some(id) = p.active() else { continue };
        let existing = current.get(id).map(Vec::as_slice).unwrap_or_default();
        let changes = plan::target_changes(id, existing, ensures[i].job.backend.as_ref());
        deregister.extend(changes.deregister.into_iter().map(|t| (i, t)));
        register.extend(changes.register.map(|t| (i, t)));
    }

    if !deregister.is_empty() {
        batch_targets(env, region, lb_id, deregister, false, progress).await;
    }
    // A binding whose stale target could not be removed is not registered either: it keeps
    // its error and the next ensure starts over.
    register.retain(|(i, _)| progress[*i].result.is_none());
    if !register.is_empty() {
        batch_targets(env, region, lb_id, register, true, progress).await;
    }
}

/// BatchRegisterTargets or BatchDeregisterTargets for `targets` (job index, target).
async fn batch_targets(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    targets: Vec<(usize, clb::BatchTarget)>,
    register: bool,
    progress: &mut [Progress],
) {
    if !register {
        return deregister_targets(env, region, lb_id, targets, progress).await;
    }
    let calls = call_split(
        targets,
        MAX_BATCH_TARGETS,
        |chunk: Vec<(usize, clb::BatchTarget)>| async move {
            let req = clb::BatchRegisterTargetsRequest {
                load_balancer_id: lb_id.to_string(),
                targets: chunk.into_iter().map(|(_, t)| t).collect(),
            };
            env.api
                .batch_register_targets(region, &req)
                .await
                .map(|r| r.fail_listener_id_set)
        },
    )
    .await;
    for (chunk, result) in calls {
        match result {
            Ok(failed) => {
                for (i, t) in chunk {
                    if failed.contains(&t.listener_id) {
                        progress[i].fail(ProviderError::retryable(format!(
                            "CLB {lb_id} could not register a target of listener {}; will retry",
                            t.listener_id
                        )));
                    }
                }
            }
            Err(err) => {
                let mapped = errors::map(&err, Stage::Targets, lb_id);
                for (i, _) in chunk {
                    progress[i].fail(mapped.clone());
                }
            }
        }
    }
}

/// BatchDeregisterTargets for `targets` (job index, target). The cloud fails the whole call
/// when a target is no longer bound, so a target removed by someone else between our
/// DescribeTargets and this call would fail everyone's: after a refusal, the targets are
/// described again, the ones gone count as done, and the rest is sent again. A listener the
/// cloud reports in `FailListenerIdSet` no longer exists, and its targets with it: done too.
async fn deregister_targets(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    targets: Vec<(usize, clb::BatchTarget)>,
    progress: &mut [Progress],
) {
    for chunk in targets.chunks(MAX_BATCH_TARGETS) {
        let mut pending = chunk.to_vec();
        for resend in 0..=RESENDS {
            if pending.is_empty() {
                break;
            }
            let req = clb::BatchDeregisterTargetsRequest {
                load_balancer_id: lb_id.to_string(),
                targets: pending.iter().map(|(_, t)| t.clone()).collect(),
            };
            let err = match env.api.batch_deregister_targets(region, &req).await {
                Ok(resp) => {
                    if !resp.fail_listener_id_set.is_empty() {
                        tracing::debug!(
                            listeners = ?resp.fail_listener_id_set,
                            "listeners gone while their targets were deregistered"
                        );
                    }
                    break;
                }
                Err(err) => err,
            };
            let about_the_targets = matches!(
                err.kind(),
                dac_tencentcloud::ErrorKind::InvalidInput | dac_tencentcloud::ErrorKind::NotFound
            ) && !errors::is_load_balancer_gone(&err);
            let still = if about_the_targets && resend < RESENDS {
                still_bound(env, region, lb_id, &pending).await
            } else {
                Err(errors::map(&err, Stage::Targets, lb_id))
            };
            match still {
                Ok(bound) if bound.len() < pending.len() => {
                    tracing::debug!(error = %err, "targets deregistered meanwhile; sending the rest");
                    pending = bound;
                }
                // Nothing had gone: the refusal is about something else.
                Ok(_) => {
                    let mapped = errors::map(&err, Stage::Targets, lb_id);
                    for (i, _) in pending.drain(..) {
                        progress[i].fail(mapped.clone());
                    }
                }
                Err(mapped) => {
                    for (i, _) in pending.drain(..) {
                        progress[i].fail(mapped.clone());
                    }
                }
            }
        }
    }
}

/// Which of `targets` are still bound to their listeners, as DescribeTargets says now.
async fn still_bound(
    env: &WorkerEnv,
    region: &str,
    lb_id: &str,
    targets: &[(usize, clb::BatchTarget)],
) -> Result<Vec<(usize, clb::BatchTarget)>> {
    let mut listener_ids: Vec<String> =
        targets.iter().map(|(_, t)| t.listener_id.clone()).collect();
    listener_ids.sort();
    listener_ids.dedup();
    let mut bound: HashMap<String, Vec<clb::Backend>> = HashMap::new();
    for chunk in listener_ids.chunks(MAX_DESCRIBE_TARGETS_IDS) {
        let req = clb::DescribeTargetsRequest {
            load_balancer_id: lb_id.to_string(),
            listener_ids: Some(chunk.to_vec()),
            ..Default::default()
        };
        let resp = env
            .api
            .describe_targets(region, &req)
            .await
            .map_err(|e| errors::map(&e, Stage::Targets, lb_id))?;
        for l in resp.listeners {
            if let Some(id) = l.listener_id {
                bound.insert(id, l.targets);
            }
        }
    }
    Ok(targets
        .iter()
        .filter(|(_, t)| {
            bound
                .get(&t.listener_id)
                .is_some_and(|now| now.iter().any(|b| plan::names_target(b, t)))
        })
        .cloned()
        .collect())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[tokio::test]
    async fn call_split_isolates_the_item_the_cloud_refuses() {
        let calls = std::sync::Mutex::new(Vec::new());
        let out = call_split((1..=10).collect::<Vec<u32>>(), 4, |chunk: Vec<u32>| {
            calls.lock().unwrap().push(chunk.clone());
            async move {
                if chunk.contains(&6) {
                    Err(Error::api(
                        "CreateListener",
                        "InvalidParameter.PortCheckFailed",
                        "taken",
                        "r",
                    ))
                } else {
                    Ok(chunk.len())
                }
            }
        })
        .await;
        let calls = calls.into_inner().unwrap();
        let ok: Vec<u32> = out
            .iter()
            .filter(|(_, r)| r.is_ok())
            .flat_map(|(c, _)| c.clone())
            .collect();
        assert_eq!(ok, [1, 2, 3, 4, 5, 7, 8, 9, 10]);
        let failed: Vec<&Vec<u32>> = out
            .iter()
            .filter(|(_, r)| r.is_err())
            .map(|(c, _)| c)
            .collect();
        assert_eq!(failed, [&vec![6]]);
        // 3 chunks of at most 4, plus 2 + 2 splits of [5,6,7,8].
        assert_eq!(calls[0], [1, 2, 3, 4]);
        assert_eq!(calls.len(), 7, "{calls:?}");
    }

    #[tokio::test]
    async fn call_split_does_not_split_errors_that_concern_everyone() {
        let mut n = 0;
        let out = call_split((1..=10).collect::<Vec<u32>>(), 50, |_: Vec<u32>| {
            n += 1;
            async {
                Err::<(), _>(Error::api(
                    "CreateListener",
                    "RequestLimitExceeded",
                    "slow down",
                    "r",
                ))
            }
        })
        .await;
        assert_eq!(n, 1);
        assert_eq!(out.len(), 1);
        assert_eq!(out[0].0.len(), 10);
    }
}
