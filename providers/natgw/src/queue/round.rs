//! One round of a gateway's worker: look once, then write in as few calls as the cloud allows.
//!
//! 1. The gateway itself (cached DescribeNatGateways), when there are ensures: it must exist, be
//!    AVAILABLE, and own the EIPs the ensures use.
//! 2. DescribeNatGatewayDestinationIpPortTranslationNatRules, once (paged) for the gateway.
//! 3. Deletes first, since they free slots and rule quota for the creates: released rules, rules
//!    of bindings that lost their backend, and rules moved by delete + create. One Delete call
//!    per chunk of rules.
//! 4. Moves to a new Pod IP: a few with Modify (atomic, one call each), many with the delete of
//!    step 3 and the create of step 5 (two calls for all of them).
//! 5. Creates, up to the rule limit, one Create call per chunk.
//! 6. Creates refused because the slot was taken meanwhile are looked at once more: adopted if
//!    the rule there is the binding's own, a conflict otherwise.
//!
//! Each waiter gets its own answer: a call refused for one rule's sake is split until that rule
//! is alone ([`split_calls`]), so the others still go through.
use std::collections::HashMap;
use std::sync::atomic::{AtomicBool, Ordering};

use dac_provider_api::{BindingState, ProviderError, Result};
use dac_provider_support::queue::{self, Grouped};
use dac_tencentcloud::Error;
use dac_tencentcloud::models::vpc;

use super::plan::{self, EnsurePlan, HELD_BY_SIBLING_RETRY};
use super::split::split_calls;
use super::{EnsureJob, ReleaseJob, WorkerEnv};
use crate::errors::{self, Stage, reason};
use crate::gateways::{self, Rules};
use crate::rule::{self, PublicSide, RuleView};

/// The jobs one round does.
pub(crate) type Round = queue::Round<EnsureJob, BindingState, ReleaseJob>;

/// Where the round is, and what it knows.
struct Ctx<'a> {
    env: &'a WorkerEnv,
    region: &'a str,
    gateway: &'a str,
    /// Whether this gateway's worker has written before (in this round or an earlier one).
    wrote: &'a AtomicBool,
}

/// The longest wait for a gateway to leave the `UPDATING` of the previous write.
const SETTLE_AT_MOST: std::time::Duration = std::time::Duration::from_secs(5);

impl Ctx<'_> {
    /// Before each write: a gateway is `UPDATING` for a while after a DNAT write, and a write
    /// then is answered busy. Waiting it out by reading made a 4,800-rule fleet's 101 writes
    /// (44 of them busy answers) into 57.
    async fn before_write(&self) {
        if self.wrote.swap(true, Ordering::Relaxed) {
            gateways::wait_while_transient(
                &self.env.api,
                self.region,
                self.gateway,
                SETTLE_AT_MOST,
            )
            .await;
        }
    }

    fn reader(&self) -> plan::Reader<'_> {
        plan::Reader {
            cluster: &self.env.cluster,
            owners: &self.env.owners,
            served: self.env.namespace.as_deref(),
        }
    }
}

/// Whether the orphan sweep may delete `rule`, which its listing saw as `listing`: not if an
/// ensure used the slot since (this runs on the gateway's queue, so none can in between).
fn orphan_releasable(
    cx: &Ctx<'_>,
    rule: &RuleView,
    listing: &dac_provider_support::sweep::Listing,
) -> bool {
    let id = rule::resource_id(cx.gateway, &rule.public);
    match cx.env.sweep.releasable(
        &super::sweep_key(cx.region, &id),
        listing,
        &rule.description,
    ) {
        Ok(()) => true,
        Err(why) => {
            tracing::info!(rule = %id, "not releasing the DNAT rule as an orphan: {why}");
            false
        }
    }
}

pub(crate) async fn run(
    env: &WorkerEnv,
    region: &str,
    gateway: &str,
    wrote: &AtomicBool,
    round: Round,
) {
    let Round { ensures, releases } = round;
    tracing::debug!(ensures = ensures.len(), releases = releases.len(), "round");
    let cx = Ctx {
        env,
        region,
        gateway,
        wrote,
    };
    let mut answers: Vec<Option<Result<BindingState>>> = vec![None; ensures.len()];
    if !ensures.is_empty() {
        check_gateway(&cx, &ensures, &mut answers).await;
    }
    if releases.is_empty() && answers.iter().all(Option::is_some) {
        return reply_ensures(ensures, answers);
    }
    let rules = match gateways::rules(&env.api, &env.caches, region, gateway).await {
        Ok(rules) => rules,
        Err(err) => {
            for g in releases {
                g.reply(Err(err.clone()));
            }
            for answer in answers.iter_mut().filter(|a| a.is_none()) {
                *answer = Some(Err(err.clone()));
            }
            return reply_ensures(ensures, answers);
        }
    };

    // Plan every job against what the gateway holds.
    let mut deletes: Vec<RuleView> = Vec::new();
    let mut add_delete = |rule: &RuleView| {
        if !deletes.iter().any(|d| d.public == rule.public) {
            deletes.push(rule.clone());
        }
    };
    let release_sides: Vec<Vec<PublicSide>> = releases
        .iter()
        .map(|g| {
            let mut targets = plan::release_targets(&rules.rules, &env.cluster, &g.job);
            if let Some(listing) = &g.job.orphan {
                targets.retain(|r| orphan_releasable(&cx, r, listing));
            }
            targets.iter().for_each(&mut add_delete);
            targets.into_iter().map(|r| r.public).collect()
        })
        .collect();
    let mut removes: Vec<(usize, PublicSide)> = Vec::new();
    let mut moves: Vec<(usize, RuleView, RuleView)> = Vec::new();
    let mut creates: Vec<(usize, RuleView)> = Vec::new();
    for (i, g) in ensures.iter().enumerate() {
        if answers[i].is_some() {
            continue;
        }
        let planned = plan::plan_ensure(&rules.rules, &cx.reader(), gateway, &g.job);
        if !matches!(planned, EnsurePlan::Fail(_)) {
            // The binding's own slot, used by its ensure: the sweep must leave it.
            let id = rule::resource_id(gateway, &g.job.public);
            env.sweep.adopted(&super::sweep_key(region, &id));
        }
        match planned {
            EnsurePlan::Done(state) => answers[i] = Some(Ok(state)),
            EnsurePlan::Create(rule) => creates.push((i, rule)),
            EnsurePlan::Move { from, to } => moves.push((i, from, to)),
            EnsurePlan::Remove(rule) => {
                add_delete(&rule);
                removes.push((i, rule.public));
            }
            EnsurePlan::Fail(err) => answers[i] = Some(Err(err)),
        }
    }
    let batch_moves = moves.len() > env.max_modifies_per_round;
    if batch_moves {
        moves.iter().for_each(|(_, from, _)| add_delete(from));
    }

    // Deletes.
    let deleted = delete_rules(&cx, deletes).await;
    for (side, result) in &deleted {
        if result.is_ok() {
            let id = rule::resource_id(gateway, side);
            env.sweep.forget(&super::sweep_key(region, &id));
        }
    }
    let gone = |side: &PublicSide| deleted.get(side).cloned().unwrap_or(Ok(()));
    for (g, sides) in releases.into_iter().zip(release_sides) {
        g.reply(
            sides
                .iter()
                .map(gone)
                .find(Result::is_err)
                .unwrap_or(Ok(())),
        );
    }
    for (i, side) in removes {
        answers[i] = Some(gone(&side).map(|()| BindingState::Available));
    }

    // Moves.
    if batch_moves {
        // Their creates go first: their slots were theirs already, so they must not lose
        // them to the rule limit.
        let mut moved = Vec::new();
        for (i, from, to) in moves {
            match gone(&from.public) {
                Ok(()) => moved.push((i, to)),
                Err(err) => answers[i] = Some(Err(err)),
            }
        }
        creates.splice(0..0, moved);
    } else {
        for (i, from, to) in moves {
            answers[i] = Some(modify_rule(&cx, &rules, &from, &to).await);
        }
    }

    // Creates.
    let deleted_count = deleted.values().filter(|r| r.is_ok()).count();
    let in_use = rules.total.saturating_sub(deleted_count);
    let taken = create_rules(&cx, &rules, in_use, creates, &mut answers).await;
    if !taken.is_empty() {
        recheck(&cx, &ensures, taken, &mut answers).await;
    }
    reply_ensures(ensures, answers);
}

fn reply_ensures(
    ensures: Vec<Grouped<EnsureJob, BindingState>>,
    answers: Vec<Option<Result<BindingState>>>,
) {
    for (g, answer) in ensures.into_iter().zip(answers) {
        g.reply(answer.unwrap_or_else(|| {
            Err(ProviderError::permanent(
                "internal: a NAT gateway round ended without an answer",
            ))
        }));
    }
}

/// The gateway must exist, be AVAILABLE and own the ensures' EIPs; bindings that fail this
/// get their answer here. If the gateway cannot be read, the checks are left to the cloud's
/// own refusals of the writes.
async fn check_gateway(
    cx: &Ctx<'_>,
    ensures: &[Grouped<EnsureJob, BindingState>],
    answers: &mut [Option<Result<BindingState>>],
) {
    let ids = [cx.gateway.to_string()];
    let found = match gateways::lookup(&cx.env.api, &cx.env.caches, cx.region, &ids).await {
        Ok(found) => found,
        Err(err) => {
            tracing::debug!(error = %err, "cannot read the NAT gateway; the cloud will check");
            return;
        }
    };
    let problem = |public: &PublicSide| match found.get(cx.gateway) {
        None => Some(ProviderError::user_fixable(
            reason::NAT_GATEWAY_NOT_FOUND,
            format!(
                "NAT gateway {} does not exist in region {}",
                cx.gateway, cx.region
            ),
        )),
        // Busy for a while (UPDATING during a change of the gateway): look again soon.
        Some(info) if info.is_transient() => Some(ProviderError::retry_after(
            format!(
                "NAT gateway {} is {}; waiting for it to be AVAILABLE again",
                cx.gateway, info.state
            ),
            errors::BUSY_RETRY_AFTER,
        )),
        Some(info) if !info.is_available() => Some(ProviderError::user_fixable(
            reason::NAT_GATEWAY_NOT_AVAILABLE,
            format!(
                "NAT gateway {} is {}, not AVAILABLE",
                cx.gateway, info.state
            ),
        )),
        Some(info) if !info.eips.contains(&public.ip) => Some(ProviderError::user_fixable(
            reason::EIP_NOT_ON_NAT_GATEWAY,
            format!(
                "{} is not an EIP of NAT gateway {} (it has {})",
                public.ip,
                cx.gateway,
                info.eips.join(", ")
            ),
        )),
        Some(_) => None,
    };
    for (g, answer) in ensures.iter().zip(answers.iter_mut()) {
        if let Some(err) = problem(&g.job.public) {
            *answer = Some(Err(err));
        }
    }
}

/// Deletes `rules`; the outcome per public side. A rule that is already gone is deleted.
async fn delete_rules(cx: &Ctx<'_>, rules: Vec<RuleView>) -> HashMap<PublicSide, Result<()>> {
    let mut outcome = HashMap::new();
    if rules.is_empty() {
        return outcome;
    }
    let calls = split_calls(rules, cx.env.max_rules_per_call, |chunk: &[RuleView]| {
        let req = vpc::DeleteNatGatewayDestinationIpPortTranslationNatRuleRequest {
            nat_gateway_id: cx.gateway.to_string(),
            destination_ip_port_translation_nat_rules: chunk
                .iter()
                .map(RuleView::to_model)
                .collect(),
        };
        async move {
            cx.before_write().await;
            cx.env.api.delete_rules(cx.region, &req).await
        }
    })
    .await;
    for (chunk, result) in calls {
        let result = match result {
            Ok(()) => Ok(()),
            // Gone since we looked (or the whole gateway is): what a delete wants.
            Err(err)
                if chunk.len() == 1
                    && (err.code() == Some(errors::RULE_NOT_EXISTS)
                        || errors::is_gateway_not_found(&err)) =>
            {
                Ok(())
            }
            Err(err) => Err(errors::map(&err, Stage::Write, cx.gateway)),
        };
        for rule in chunk {
            outcome.insert(rule.public, result.clone());
        }
    }
    outcome
}

/// Points our rule `from` at `to`'s private side in place.
async fn modify_rule(
    cx: &Ctx<'_>,
    rules: &Rules,
    from: &RuleView,
    to: &RuleView,
) -> Result<BindingState> {
    let req = vpc::ModifyNatGatewayDestinationIpPortTranslationNatRuleRequest {
        nat_gateway_id: cx.gateway.to_string(),
        source_nat_rule: from.to_model(),
        destination_nat_rule: to.to_model(),
    };
    cx.before_write().await;
    match cx.env.api.modify_rule(cx.region, &req).await {
        Ok(()) => Ok(BindingState::Bound),
        Err(err) => Err(refusal(cx, rules, to, &err)),
    }
}

/// The answer for a write of rule `to` that the cloud refused with `err`.
fn refusal(cx: &Ctx<'_>, rules: &Rules, to: &RuleView, err: &Error) -> ProviderError {
    if err.code() == Some(errors::PIP_EXISTS)
        && plan::private_side_held_by_sibling(&rules.rules, &cx.reader(), to)
    {
        return ProviderError::retry_after(
            format!(
                "{}:{} is still the target of another of this cluster's rules on NAT gateway {}; \
                 waiting for it to be released: {err}",
                to.private_ip, to.private_port, cx.gateway
            ),
            HELD_BY_SIBLING_RETRY,
        );
    }
    let mapped = errors::map(err, Stage::Write, cx.gateway);
    // The cached gateway said otherwise: read it afresh next time.
    if [
        reason::NAT_GATEWAY_NOT_FOUND,
        reason::NAT_GATEWAY_NOT_AVAILABLE,
        reason::EIP_NOT_ON_NAT_GATEWAY,
    ]
    .contains(&mapped.reason())
    {
        let key = (cx.region.to_string(), cx.gateway.to_string());
        cx.env.caches.gateways.remove(&key);
    }
    mapped
}

/// Creates `creates` (ensure index, rule) within the rule limit; answers each ensure, except
/// those whose slot was found taken: those are returned for a second look.
async fn create_rules(
    cx: &Ctx<'_>,
    rules: &Rules,
    in_use: usize,
    mut creates: Vec<(usize, RuleView)>,
    answers: &mut [Option<Result<BindingState>>],
) -> Vec<usize> {
    // Creates beyond the limit fail at once with the user-facing reason rather than costing
    // refused calls (first come, first served). If the cloud's limit is lower than the
    // configured one, its own refusal, split down to single rules, decides instead.
    let limit = cx.env.rule_limit;
    let room = usize::try_from(limit)
        .unwrap_or(usize::MAX)
        .saturating_sub(in_use);
    if creates.len() > room {
        for (i, _) in creates.drain(room..) {
            answers[i] = Some(Err(ProviderError::user_fixable(
                reason::RULE_LIMIT_EXCEEDED,
                format!(
                    "NAT gateway {} has {in_use} DNAT rules and a limit of {limit}",
                    cx.gateway
                ),
            )));
        }
    }
    let mut taken = Vec::new();
    if creates.is_empty() {
        return taken;
    }
    let calls = split_calls(
        creates,
        cx.env.max_rules_per_call,
        |chunk: &[(usize, RuleView)]| {
            let req = vpc::CreateNatGatewayDestinationIpPortTranslationNatRuleRequest {
                nat_gateway_id: cx.gateway.to_string(),
                destination_ip_port_translation_nat_rules: chunk
                    .iter()
                    .map(|(_, r)| r.to_model())
                    .collect(),
            };
            async move {
                cx.before_write().await;
                cx.env.api.create_rules(cx.region, &req).await
            }
        },
    )
    .await;
    for (chunk, result) in calls {
        match result {
            Ok(()) => {
                for (i, _) in chunk {
                    answers[i] = Some(Ok(BindingState::Bound));
                }
            }
            Err(err) if chunk.len() == 1 && errors::is_slot_taken(&err) => taken.push(chunk[0].0),
            Err(err) => {
                for (i, rule) in &chunk {
                    answers[*i] = Some(Err(refusal(cx, rules, rule, &err)));
                }
            }
        }
    }
    taken
}

/// A create found its slot taken although the describe at the start of the round showed it
/// free: a rule made meanwhile, possibly by an earlier controller that crashed mid-call. Look
/// again and adopt it if it is the binding's own.
async fn recheck(
    cx: &Ctx<'_>,
    ensures: &[Grouped<EnsureJob, BindingState>],
    taken: Vec<usize>,
    answers: &mut [Option<Result<BindingState>>],
) {
    let env = cx.env;
    let rules = gateways::rules(&env.api, &env.caches, cx.region, cx.gateway).await;
    for i in taken {
        answers[i] = Some(match &rules {
            Err(err) => Err(err.clone()),
            Ok(rules) => {
                match plan::plan_ensure(&rules.rules, &cx.reader(), cx.gateway, &ensures[i].job) {
                    EnsurePlan::Done(state) => Ok(state),
                    EnsurePlan::Fail(err) => Err(err),
                    // Ours but pointing elsewhere, or gone again: the next ensure sorts it out.
                    _ => Err(ProviderError::retryable(format!(
                        "{} on NAT gateway {} changed while rules were written; trying again",
                        ensures[i].job.public, cx.gateway
                    ))),
                }
            }
        });
    }
}
