//! Events for what a user must see. Published only when a condition's reason changes, so a
//! resource stuck on the same problem does not flood the namespace.
use k8s_openapi::api::core::v1::ObjectReference;
use kube::runtime::events::{Event, EventType, Recorder};

/// A warning about `reason` (CamelCase) on the object; failures to publish are logged, never
/// fatal: an Event is a courtesy, the condition is the record.
pub async fn warn(recorder: &Recorder, object: &ObjectReference, reason: &str, note: String) {
    publish(recorder, object, EventType::Warning, reason, note).await;
}

async fn publish(
    recorder: &Recorder,
    object: &ObjectReference,
    type_: EventType,
    reason: &str,
    note: String,
) {
    let event = Event {
        type_,
        reason: reason.to_string(),
        note: Some(note),
        action: "Reconcile".to_string(),
        secondary: None,
    };
    if let Err(error) = recorder.publish(&event, object).await {
        tracing::warn!(%error, reason, "could not publish an event");
    }
}
