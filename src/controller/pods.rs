//! What the controller reads from and writes to Pods.
use super::labels::MANAGER;
use crate::Result;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::net::IpAddr;

/// The Pod's IP once it has one and is not being deleted: a terminating Pod's target is
/// removed at once, so that no new player is sent to a server that is going away.
pub fn live_ip(pod: &Pod) -> Option<IpAddr> {
    if pod.metadata.deletion_timestamp.is_some() {
        return None;
    }
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

/// `StatefulSet/<name>` when the Pod is a StatefulSet's.
pub fn statefulset_owner(pod: &Pod) -> Option<String> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|owner| owner.controller == Some(true) && owner.kind == "StatefulSet")
        .map(|owner| format!("StatefulSet/{}", owner.name))
}

/// A StatefulSet Pod's ordinal: the number after the last dash of its name.
pub fn ordinal(pod_name: &str) -> Option<i32> {
    pod_name.rsplit_once('-')?.1.parse().ok()
}

/// Sets (`Some`) or removes (`None`) one annotation, only when it differs from what the Pod has.
/// Removes only the value this listener wrote (`written`, its last address): another listener of
/// the same Pod port (after a provider switch, say) may own the annotation by now.
/// A Pod that is gone needs nothing.
pub async fn set_annotation(
    api: &Api<Pod>,
    pod_name: &str,
    key: &str,
    value: Option<&str>,
    written: Option<&str>,
) -> Result<()> {
    let Some(pod) = api.get_opt(pod_name).await? else {
        return Ok(());
    };
    let current = pod
        .metadata
        .annotations
        .as_ref()
        .and_then(|a| a.get(key))
        .map(String::as_str);
    if current == value || (value.is_none() && current != written) {
        return Ok(());
    }
    let patch = json!({ "metadata": { "annotations": { key: value } } });
    api.patch(
        pod_name,
        &PatchParams::apply(MANAGER),
        &Patch::Merge(&patch),
    )
    .await?;
    Ok(())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn ordinals_come_from_the_name() {
        assert_eq!(ordinal("gameserver-12"), Some(12));
        assert_eq!(ordinal("game-server-0"), Some(0));
        assert_eq!(ordinal("gameserver"), None);
        assert_eq!(ordinal("gameserver-abcde"), None);
    }
}
