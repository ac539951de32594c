//! Writing listener status: state, address, and the `Ready` condition with its reason.
use super::Context;
use super::labels::MANAGER;
use crate::Result;
use crate::crd::condition::{
    ConditionStatus, NewCondition, find_condition, reasons, set_condition, types,
};
use crate::crd::{DedicatedCLBListener, DedicatedCLBListenerStatus, ListenerState};
use dac_provider_api::ProviderError;
use k8s_openapi::jiff::Timestamp;
use kube::api::{Api, Patch, PatchParams, ResourceExt};
use serde_json::json;

/// What the last reconcile found for a listener.
pub struct ListenerOutcome<'a> {
    pub state: ListenerState,
    pub listener_id: Option<String>,
    pub address: Option<String>,
    /// Why it is not (fully) working, when the user must act.
    pub problem: Option<&'a ProviderError>,
}

impl<'a> ListenerOutcome<'a> {
    /// Keeps what the status already says, with a new state.
    fn keeping(
        listener: &DedicatedCLBListener,
        state: ListenerState,
        problem: Option<&'a ProviderError>,
    ) -> Self {
        let status = listener.status.clone().unwrap_or_default();
        Self {
            state,
            listener_id: status.listener_id,
            address: status.address,
            problem,
        }
    }

    pub fn deleting(listener: &DedicatedCLBListener) -> Self {
        Self::keeping(listener, ListenerState::Deleting, None)
    }

    pub fn failed(
        listener: &DedicatedCLBListener,
        state: ListenerState,
        error: &'a ProviderError,
    ) -> Self {
        Self::keeping(listener, state, Some(error))
    }

    /// Still being retried: the state stays (`Deleting` once the object is), `Ready` says why
    /// it is not there yet.
    pub fn retrying(listener: &DedicatedCLBListener, error: &'a ProviderError) -> Self {
        let state = if listener.metadata.deletion_timestamp.is_some() {
            ListenerState::Deleting
        } else {
            listener
                .status
                .as_ref()
                .and_then(|s| s.state)
                .unwrap_or(ListenerState::Pending)
        };
        Self::keeping(listener, state, Some(error))
    }

    fn ready_condition(&self, generation: Option<i64>) -> NewCondition<'_> {
        let (status, reason, message) = match (self.state, self.problem) {
            (_, Some(problem)) => (
                ConditionStatus::False,
                problem.reason(),
                problem.message().to_string(),
            ),
            (ListenerState::Bound, None) => (
                ConditionStatus::True,
                reasons::BOUND,
                "the address forwards to its Pod".into(),
            ),
            (ListenerState::Available, None) => (
                ConditionStatus::False,
                "NoBackend",
                "the address exists; its Pod is missing or has no IP yet".into(),
            ),
            (ListenerState::Pending, None) => (
                ConditionStatus::False,
                reasons::PROGRESSING,
                "the cloud is creating it".into(),
            ),
            (ListenerState::Deleting, None) => (
                ConditionStatus::False,
                "Deleting",
                "the address is being released".into(),
            ),
            (ListenerState::Failed, None) => (
                ConditionStatus::False,
                reasons::PROVIDER_FAILED,
                "failed".into(),
            ),
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

/// Patches the status when it changed. Returns the `Ready` reason when it newly became a
/// problem's reason, so the caller publishes one Event per new problem, not one per reconcile.
pub async fn patch_listener(
    listener: &DedicatedCLBListener,
    ctx: &Context,
    outcome: ListenerOutcome<'_>,
) -> Result<Option<String>> {
    let old = listener.status.clone().unwrap_or_default();
    let generation = listener.metadata.generation;
    let mut new = DedicatedCLBListenerStatus {
        listener_id: outcome.listener_id.clone(),
        state: Some(outcome.state),
        address: outcome.address.clone(),
        conditions: old.conditions.clone(),
        observed_generation: generation,
    };
    set_condition(
        &mut new.conditions,
        outcome.ready_condition(generation),
        Timestamp::now(),
    );
    if new == old {
        return Ok(None);
    }
    let api: Api<DedicatedCLBListener> = Api::namespaced(
        ctx.client.clone(),
        &listener.namespace().unwrap_or_default(),
    );
    // Explicit nulls: a merge patch leaves out-of-date fields alone when they are merely absent.
    let patch = json!({ "status": {
        "listenerId": new.listener_id,
        "state": new.state,
        "address": new.address,
        "conditions": new.conditions,
        "observedGeneration": new.observed_generation,
    }});
    api.patch_status(
        &listener.name_any(),
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;

    let old_reason = find_condition(&old.conditions, types::READY).map(|c| c.reason.as_str());
    Ok(outcome
        .problem
        .map(|problem| problem.reason().to_string())
        .filter(|reason| old_reason != Some(reason.as_str())))
}
