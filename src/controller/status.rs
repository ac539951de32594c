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
use std::collections::HashMap;
use std::sync::Mutex;

/// Status writes the watch cache may not show yet. A listener reconciled again before the
/// cache caught up with its last write (its Pod terminating, then gone; or a new Pod) must
/// compare what it computes with what it wrote, not with the cached status: the same status
/// would be written again (in a fleet scaling down, 1,351 of 1,600 listeners were), and a
/// status back to the cached one would not be written at all (a recreated Pod's listener stayed
/// `Available` once listeners stopped being reconciled on their own status writes).
/// Keyed by `namespace/name`; an entry lives until the cache shows a newer version.
#[derive(Default)]
pub struct PendingWrites(Mutex<HashMap<String, (String, DedicatedCLBListenerStatus)>>);

impl PendingWrites {
    /// The status written on top of this very `version`, if one was; forgets an entry the cache
    /// has moved past (from then on the cache itself says what is written).
    pub fn written_on(&self, key: &str, version: &str) -> Option<DedicatedCLBListenerStatus> {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        match pending.get(key) {
            Some((written_on, written)) if written_on == version => Some(written.clone()),
            Some(_) => {
                pending.remove(key);
                None
            }
            None => None,
        }
    }

    pub fn record(&self, key: String, version: String, status: DedicatedCLBListenerStatus) {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        pending.insert(key, (version, status));
    }

    /// The listener is gone.
    pub fn forget(&self, key: &str) {
        let mut pending = self.0.lock().unwrap_or_else(|p| p.into_inner());
        pending.remove(key);
    }
}

/// A listener's key in [`PendingWrites`].
pub fn pending_key(listener: &DedicatedCLBListener) -> String {
    format!(
        "{}/{}",
        listener.namespace().unwrap_or_default(),
        listener.name_any()
    )
}

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
    let key = pending_key(listener);
    let version = listener.resource_version().unwrap_or_default();
    let old = ctx
        .listener_writes
        .written_on(&key, &version)
        .or_else(|| listener.status.clone())
        .unwrap_or_default();
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
    tracing::debug!(
        listener = %listener.name_any(),
        resource_version = %version,
        from = ?old.state,
        to = ?new.state,
        "listener status written"
    );
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
    ctx.listener_writes.record(key, version, new);

    let old_reason = find_condition(&old.conditions, types::READY).map(|c| c.reason.as_str());
    Ok(outcome
        .problem
        .map(|problem| problem.reason().to_string())
        .filter(|reason| old_reason != Some(reason.as_str())))
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::crd::condition::{NewCondition, set_condition};

    fn status(state: ListenerState, at: i64) -> DedicatedCLBListenerStatus {
        let mut status = DedicatedCLBListenerStatus {
            state: Some(state),
            ..Default::default()
        };
        let ready = NewCondition {
            type_: types::READY,
            status: ConditionStatus::True,
            reason: reasons::BOUND,
            message: String::new(),
            observed_generation: Some(1),
        };
        set_condition(
            &mut status.conditions,
            ready,
            Timestamp::from_second(at).unwrap(),
        );
        status
    }

    #[test]
    fn a_write_the_cache_does_not_show_yet_stands_for_the_cached_status() {
        let pending = PendingWrites::default();
        let available = status(ListenerState::Available, 10);
        assert_eq!(pending.written_on("ns/a", "7"), None);
        pending.record("ns/a".into(), "7".into(), available.clone());
        // Reconciled again on the same cached version: what was written is the status.
        assert_eq!(pending.written_on("ns/a", "7"), Some(available.clone()));
        // Once the cache moved on, the cache says it, and the entry goes.
        assert_eq!(pending.written_on("ns/a", "8"), None);
        assert_eq!(pending.written_on("ns/a", "7"), None);
        pending.record("ns/b".into(), "3".into(), available);
        pending.forget("ns/b");
        assert_eq!(pending.written_on("ns/b", "3"), None);
    }
}
