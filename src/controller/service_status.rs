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
use dac_provider_api::ProviderError;
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
}

impl Summary {
    pub fn new(
        children: &[DedicatedCLBListener],
        total: usize,
        exhausted: &[AllocationKey],
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
        }
    }

    fn ready_condition(&self, generation: Option<i64>) -> NewCondition<'_> {
        let (status, reason, message) = if !self.exhausted.is_empty() {
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

/// Patches the status when it changed; returns the new `Ready` reason and message when it newly
/// became a problem, so the caller publishes one Event for it.
pub async fn patch(
    service: &DedicatedCLBService,
    ctx: &Context,
    summary: &Summary,
) -> Result<Option<(String, String)>> {
    let condition = summary.ready_condition(service.metadata.generation);
    let problem =
        condition.status == ConditionStatus::False && condition.reason != reasons::PROGRESSING;
    let event = problem.then(|| (condition.reason.to_string(), condition.message.clone()));
    let changed = write(service, ctx, condition, Some(summary)).await?;
    Ok(event.filter(|_| changed))
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
    write(service, ctx, condition, None).await
}

/// Writes the condition (and counts); true when the `Ready` reason changed.
async fn write(
    service: &DedicatedCLBService,
    ctx: &Context,
    condition: NewCondition<'_>,
    summary: Option<&Summary>,
) -> Result<bool> {
    let old = service.status.clone().unwrap_or_default();
    let mut new = DedicatedCLBServiceStatus {
        conditions: old.conditions.clone(),
        observed_generation: service.metadata.generation,
        bound_ports: summary.map(|s| s.bound as i32).or(old.bound_ports),
        total_ports: summary.map(|s| s.total as i32).or(old.total_ports),
    };
    let new_reason = condition.reason.to_string();
    set_condition(&mut new.conditions, condition, Timestamp::now());
    if new == old {
        return Ok(false);
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
    let old_reason = find_condition(&old.conditions, types::READY).map(|c| c.reason.clone());
    Ok(old_reason.as_deref() != Some(new_reason.as_str()))
}
