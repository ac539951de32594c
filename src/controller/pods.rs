//! What the controller reads from and writes to Pods.
use super::cached_pod::CachedPod;
use super::labels::MANAGER;
use crate::Result;
use k8s_openapi::api::core::v1::Pod;
use kube::api::{Api, Patch, PatchParams};
use serde_json::json;
use std::net::IpAddr;

/// The Pod's IP once it has one and is not being deleted or finished: a terminating Pod's
/// target is removed at once, so that no new player is sent to a server that is going away.
pub fn live_ip(pod: &CachedPod) -> Option<IpAddr> {
    if pod.metadata.deletion_timestamp.is_some() || has_finished(pod) {
        return None;
    }
    pod.status.as_ref()?.pod_ip.as_deref()?.parse().ok()
}

/// Phase `Succeeded` or `Failed` (e.g. evicted): it will never serve again, so it holds no
/// slot and is never bound.
pub fn has_finished(pod: &CachedPod) -> bool {
    matches!(
        pod.status.as_ref().and_then(|s| s.phase.as_deref()),
        Some("Succeeded" | "Failed")
    )
}

/// A StatefulSet that names its Pods by ordinal: `apps/v1`, or OpenKruise's Advanced
/// StatefulSet (`apps.kruise.io`, what OpenKruise Game's GameServerSets make).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct SetRef {
    pub api_version: String,
    pub name: String,
}

impl SetRef {
    /// How the child records it (`POD_OWNER`): `StatefulSet/<name>` for `apps/v1` (the form
    /// children have always carried), `<apiVersion>/StatefulSet/<name>` otherwise.
    pub fn to_annotation(&self) -> String {
        if self.api_version == "apps/v1" {
            format!("StatefulSet/{}", self.name)
        } else {
            format!("{}/StatefulSet/{}", self.api_version, self.name)
        }
    }

    pub fn from_annotation(value: &str) -> Option<Self> {
        let (api_version, name) = value.rsplit_once("/StatefulSet/").map_or_else(
            || ("apps/v1", value.strip_prefix("StatefulSet/")),
            |(api_version, name)| (api_version, Some(name)),
        );
        let name = name.filter(|n| !n.is_empty() && !n.contains('/'))?;
        Some(Self {
            api_version: api_version.to_string(),
            name: name.to_string(),
        })
    }
}

/// The StatefulSet (either kind) that controls the Pod, if any.
pub fn statefulset_owner(pod: &CachedPod) -> Option<SetRef> {
    pod.metadata
        .owner_references
        .as_ref()?
        .iter()
        .find(|owner| {
            owner.controller == Some(true)
                && owner.kind == "StatefulSet"
                && (owner.api_version == "apps/v1"
                    || owner.api_version.starts_with("apps.kruise.io/"))
        })
        .map(|owner| SetRef {
            api_version: owner.api_version.clone(),
            name: owner.name.clone(),
        })
}

/// A StatefulSet Pod's ordinal: the number after the last dash of its name.
pub fn ordinal(pod_name: &str) -> Option<i32> {
    pod_name.rsplit_once('-')?.1.parse().ok()
}

/// Which ordinals a StatefulSet wants Pods for: `replicas` of them from `start`
/// (`spec.ordinals.start`), skipping the reserved ones (an Advanced StatefulSet's
/// `reserveOrdinals`, which it never creates).
#[derive(Clone, Debug, Default, PartialEq, Eq)]
pub struct WantedOrdinals {
    pub start: i32,
    pub replicas: i32,
    pub reserved: std::collections::BTreeSet<i32>,
}

impl WantedOrdinals {
    /// Reads a StatefulSet of either kind (as JSON); a set being deleted wants nothing.
    pub fn of_set(set: &serde_json::Value) -> Self {
        if !set["metadata"]["deletionTimestamp"].is_null() {
            return Self::default();
        }
        let spec = &set["spec"];
        let int = |value: &serde_json::Value| value.as_i64().and_then(|v| i32::try_from(v).ok());
        let mut reserved = std::collections::BTreeSet::new();
        for item in spec["reserveOrdinals"].as_array().into_iter().flatten() {
            match (int(item), item.as_str()) {
                (Some(ordinal), _) => {
                    reserved.insert(ordinal);
                }
                // `"3-5"`: a range, inclusive.
                (None, Some(text)) => {
                    let bounds = text
                        .split_once('-')
                        .map_or((text, text), |(low, high)| (low, high));
                    if let (Ok(low), Ok(high)) = (
                        bounds.0.trim().parse::<i32>(),
                        bounds.1.trim().parse::<i32>(),
                    ) {
                        reserved.extend(low..=high.min(low.saturating_add(100_000)));
                    }
                }
                _ => {}
            }
        }
        Self {
            start: int(&spec["ordinals"]["start"]).unwrap_or(0),
            replicas: int(&spec["replicas"]).unwrap_or(1),
            reserved,
        }
    }

    pub fn wants(&self, ordinal: i32) -> bool {
        if ordinal < self.start || self.reserved.contains(&ordinal) {
            return false;
        }
        let reserved_below = self.reserved.range(self.start..ordinal).count();
        let position = i64::from(ordinal) - i64::from(self.start) - reserved_below as i64;
        position < i64::from(self.replicas)
    }
}

/// Sets (`Some`) or removes (`None`) one annotation of `pod` (as the cache shows it), only when
/// it differs. Removes only the value this listener wrote (`written`, its last address): another
/// listener of the same Pod port (after a provider switch, say) may own the annotation by now.
/// A Pod that is gone needs nothing.
pub async fn set_annotation(
    api: &Api<Pod>,
    pod: Option<&CachedPod>,
    key: &str,
    value: Option<&str>,
    written: Option<&str>,
) -> Result<()> {
    let Some(pod) = pod else {
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
    let name = pod.metadata.name.as_deref().unwrap_or_default();
    match api
        .patch(name, &PatchParams::apply(MANAGER), &Patch::Merge(&patch))
        .await
    {
        Ok(_) => Ok(()),
        // Gone since the cache saw it.
        Err(kube::Error::Api(status)) if status.code == 404 => Ok(()),
        Err(error) => Err(error.into()),
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn wanted_ordinals_follow_start_replicas_and_reserved() {
        let plain = WantedOrdinals::of_set(&serde_json::json!({"spec": {"replicas": 3}}));
        assert!((0..3).all(|o| plain.wants(o)) && !plain.wants(3) && !plain.wants(-1));
        let from_one = WantedOrdinals::of_set(
            &serde_json::json!({"spec": {"replicas": 2, "ordinals": {"start": 1}}}),
        );
        assert!(!from_one.wants(0) && from_one.wants(1) && from_one.wants(2) && !from_one.wants(3));
        // Kruise: replicas 3 with 1 and 3-4 reserved -> Pods 0, 2, 5.
        let kruise = WantedOrdinals::of_set(
            &serde_json::json!({"spec": {"replicas": 3, "reserveOrdinals": [1, "3-4"]}}),
        );
        let wanted: Vec<i32> = (0..8).filter(|o| kruise.wants(*o)).collect();
        assert_eq!(wanted, [0, 2, 5]);
        let deleting = WantedOrdinals::of_set(
            &serde_json::json!({"metadata": {"deletionTimestamp": "2026-01-01T00:00:00Z"}, "spec": {"replicas": 3}}),
        );
        assert!(!deleting.wants(0));
    }

    #[test]
    fn set_owners_round_trip_through_the_annotation() {
        let apps = SetRef {
            api_version: "apps/v1".into(),
            name: "gs".into(),
        };
        assert_eq!(apps.to_annotation(), "StatefulSet/gs");
        assert_eq!(SetRef::from_annotation("StatefulSet/gs"), Some(apps));
        let kruise = SetRef {
            api_version: "apps.kruise.io/v1beta1".into(),
            name: "gss".into(),
        };
        assert_eq!(
            kruise.to_annotation(),
            "apps.kruise.io/v1beta1/StatefulSet/gss"
        );
        assert_eq!(
            SetRef::from_annotation(&kruise.to_annotation()),
            Some(kruise)
        );
        assert_eq!(SetRef::from_annotation("Deployment/x"), None);
    }

    #[test]
    fn ordinals_come_from_the_name() {
        assert_eq!(ordinal("gameserver-12"), Some(12));
        assert_eq!(ordinal("game-server-0"), Some(0));
        assert_eq!(ordinal("gameserver"), None);
        assert_eq!(ordinal("gameserver-abcde"), None);
    }
}
