//! Writing service status: how many Pod ports are bound, and the `Ready` condition.
use super::Context;
use super::labels::MANAGER;
use crate::Result;
use crate::allocation::AllocationKey;
use crate::crd::condition::{
    ConditionStatus, NewCondition, find_condition, reasons, set_condition, types,
};
use crate::crd::{
    DedicatedCLBListener, DedicatedCLBService, DedicatedCLBServiceStatus, ListenerState,
};
use dac_provider_api::{Frontend, ProviderError};
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, ResourceExt};
use serde_json::json;

/// What the service's children add up to.
pub struct Summary {
    pub total: usize,
    pub bound: usize,
    pub exhausted: Vec<AllocationKey>,
    /// The first child's problem, if any child has one (e.g. `PodIPNotInVPC`).
    pub child_problem: Option<(String, String)>,
    /// Frontends the service names that cannot take slots now, and why.
    pub unhealthy_frontends: Vec<Frontend>,
}

impl Summary {
    pub fn new(
        children: &[std::sync::Arc<DedicatedCLBListener>],
        total: usize,
        exhausted: &[AllocationKey],
        unhealthy_frontends: &[Frontend],
    ) -> Self {
        let bound = children
            .iter()
            .filter(|c| c.status.as_ref().and_then(|s| s.state) == Some(ListenerState::Bound))
            .count();
        let child_problem = children.iter().find_map(|child| {
            let ready = find_condition(&child.status.as_ref()?.conditions, types::READY)?;
            let problem = ready.status == "False"
                && ![
                    reasons::PROGRESSING,
                    "NoBackend",
                    "Deleting",
                    reasons::CLOUD_RETRYING,
                ]
                .contains(&ready.reason.as_str());
            problem.then(|| {
                (
                    ready.reason.clone(),
                    format!("{}: {}", child.name_any(), ready.message),
                )
            })
        });
        Self {
            total,
            bound,
            exhausted: exhausted.to_vec(),
            child_problem,
            unhealthy_frontends: unhealthy_frontends.to_vec(),
        }
    }

    /// `FrontendsAvailable`: `False` naming every frontend that cannot take slots.
    fn frontends_condition(&self, generation: Option<i64>) -> NewCondition<'_> {
        let Some(first) = self.unhealthy_frontends.first() else {
            return NewCondition {
                type_: types::FRONTENDS_AVAILABLE,
                status: ConditionStatus::True,
                reason: reasons::AVAILABLE,
                message: "every frontend the service names can take new slots".into(),
                observed_generation: generation,
            };
        };
        let problems: Vec<String> = self
            .unhealthy_frontends
            .iter()
            .filter_map(|f| {
                let problem = f.problem.as_ref()?;
                Some(format!("{}: {}", f.id, problem.message))
            })
            .collect();
        NewCondition {
            type_: types::FRONTENDS_AVAILABLE,
            status: ConditionStatus::False,
            reason: first
                .problem
                .as_ref()
                .map_or(reasons::PROVIDER_FAILED, |p| p.reason.as_str()),
            message: format!(
                "{}; the service serves on the others, keeps its addresses on these until they are confirmed gone, then moves them",
                problems.join("; ")
            ),
            observed_generation: generation,
        }
    }

    fn ready_condition(&self, generation: Option<i64>) -> NewCondition<'_> {
        let frontend_problem = self
            .unhealthy_frontends
            .iter()
            .find_map(|f| Some((f.id.as_str(), f.problem.as_ref()?)));
        let (status, reason, message) = if let (false, Some((id, problem))) =
            (self.exhausted.is_empty(), frontend_problem)
        {
            // Ports left without a slot because a frontend cannot take them: that is the news.
            let message = format!(
                "{} Pod port(s) got no slot; {id}: {}",
                self.exhausted.len(),
                problem.message
            );
            (ConditionStatus::False, problem.reason.as_str(), message)
        } else if !self.exhausted.is_empty() {
            let names: Vec<String> = self
                .exhausted
                .iter()
                .take(5)
                .map(|k| format!("{}:{}/{}", k.pod_name, k.protocol, k.target_port))
                .collect();
            let message = format!(
                "{} Pod port(s) got no free port in the range on any load balancer, e.g. {}; widen minPort-maxPort or add frontends",
                self.exhausted.len(),
                names.join(", ")
            );
            (ConditionStatus::False, reasons::PORTS_EXHAUSTED, message)
        } else if let Some((reason, message)) = &self.child_problem {
            (ConditionStatus::False, reason.as_str(), message.clone())
        } else if self.bound >= self.total {
            (
                ConditionStatus::True,
                reasons::BOUND,
                format!("all {} Pod ports are bound", self.total),
            )
        } else {
            (
                ConditionStatus::False,
                reasons::PROGRESSING,
                format!("{} of {} Pod ports bound", self.bound, self.total),
            )
        };
        NewCondition {
            type_: types::READY,
            status,
            reason,
            message,
            observed_generation: generation,
        }
    }
}

/// Patches the status when it changed; returns each condition's reason and message that newly
/// became a problem, so the caller publishes one Event for each.
pub async fn patch(
    service: &DedicatedCLBService,
    ctx: &Context,
    summary: &Summary,
) -> Result<Vec<(String, String)>> {
    let generation = service.metadata.generation;
    let conditions = [
        summary.ready_condition(generation),
        summary.frontends_condition(generation),
    ];
    let old = service.status.clone().unwrap_or_default();
    let events = conditions
        .iter()
        .filter(|c| c.status == ConditionStatus::False && c.reason != reasons::PROGRESSING)
        .filter(|c| {
            find_condition(&old.conditions, c.type_).map(|o| o.reason.as_str()) != Some(c.reason)
        })
        .map(|c| (c.reason.to_string(), c.message.clone()))
        .collect();
    write(service, ctx, conditions, Some(summary)).await?;
    Ok(events)
}

/// Shows a problem that stops the whole service; true when the reason is new.
pub async fn patch_problem(
    service: &DedicatedCLBService,
    ctx: &Context,
    error: &ProviderError,
) -> Result<bool> {
    let condition = NewCondition {
        type_: types::READY,
        status: ConditionStatus::False,
        reason: error.reason(),
        message: error.message().to_string(),
        observed_generation: service.metadata.generation,
    };
    let old_reason = service
        .status
        .as_ref()
        .and_then(|s| find_condition(&s.conditions, types::READY))
        .map(|c| c.reason.clone());
    let new_reason = condition.reason.to_string();
    write(service, ctx, [condition], None).await?;
    Ok(old_reason.as_deref() != Some(new_reason.as_str()))
}

/// Writes the conditions (and counts) when anything changed.
async fn write<const N: usize>(
    service: &DedicatedCLBService,
    ctx: &Context,
    conditions: [NewCondition<'_>; N],
    summary: Option<&Summary>,
) -> Result<()> {
    let old = service.status.clone().unwrap_or_default();
    let mut new = DedicatedCLBServiceStatus {
        conditions: old.conditions.clone(),
        observed_generation: service.metadata.generation,
        bound_ports: summary.map(|s| s.bound as i32).or(old.bound_ports),
        total_ports: summary.map(|s| s.total as i32).or(old.total_ports),
    };
    let now = Timestamp::now();
    for condition in conditions {
        set_condition(&mut new.conditions, condition, now);
    }
    if new == old {
        return Ok(());
    }
    let api: Api<DedicatedCLBService> =
        Api::namespaced(ctx.client.clone(), &service.namespace().unwrap_or_default());
    let patch = json!({ "status": new });
    api.patch_status(
        &service.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}
