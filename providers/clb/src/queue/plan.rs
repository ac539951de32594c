//! Pure decisions of a round, from what DescribeListeners / DescribeTargets returned: which
//! listener a binding adopts or whether it needs one created, what a release deletes, and which
//! targets to deregister and register. No I/O here, so every rule has a unit test.
use std::time::Duration;

use dac_provider_api::{Backend, Protocol, ProviderError};
use dac_tencentcloud::models::clb;

use crate::errors::reason;
use crate::marker::{self, Ownership};
use crate::settings::ListenerSettings;

/// How long a binding whose port another of our listeners holds waits before asking again:
/// that listener's own release (or the controller's orphan sweep) frees it.
pub(crate) const HELD_BY_SIBLING_RETRY: Duration = Duration::from_secs(5);

/// The parts of a listener the decisions need.
#[derive(Clone, Debug, PartialEq, Eq)]
pub(crate) struct ListenerView {
    pub id: String,
    pub protocol: String,
    pub port: i64,
    /// Last port of a port-range listener; 0 for a single port.
    pub end_port: i64,
    pub name: String,
    /// Its settings, as far as DescribeListeners shows them.
    pub settings: ListenerSettings,
}

impl ListenerView {
    pub fn from_model(l: &clb::Listener) -> Option<Self> {
        Some(Self {
            id: l.listener_id.clone()?,
            protocol: l.protocol.clone().unwrap_or_default(),
            port: l.port?,
            end_port: l.end_port.unwrap_or(0),
            name: l.listener_name.clone().unwrap_or_default(),
            settings: ListenerSettings::of_listener(l),
        })
    }

    /// The slots it holds, as the allocator names them: its port(s) in the TCP or UDP space
    /// (TCP_SSL, HTTP and HTTPS share TCP's, QUIC shares UDP's).
    pub fn slots(&self) -> impl Iterator<Item = (u16, Protocol)> + '_ {
        let protocol = match family(&self.protocol) {
            "udp" => Protocol::Udp,
            _ => Protocol::Tcp,
        };
        let first = u16::try_from(self.port).ok();
        let last = u16::try_from(self.end_port.max(self.port)).ok();
        let ports = match (first, last) {
            (Some(first), Some(last)) => first..=last,
            #[allow(clippy::reversed_empty_ranges)]
            _ => 1..=0,
        };
        ports.map(move |port| (port, protocol))
    }

    fn covers(&self, port: u16) -> bool {
        let port = i64::from(port);
        (self.port..=self.end_port.max(self.port)).contains(&port)
    }

    fn is_exactly(&self, port: u16, protocol: Protocol) -> bool {
        self.port == i64::from(port)
            && self.end_port <= self.port
            && self.protocol == protocol.as_str()
    }
}

/// TCP-family and UDP-family listeners may share a port number; within a family they may not
/// (a TCP listener and an HTTP one on the same port conflict).
fn family(protocol: &str) -> &'static str {
    match protocol {
        "UDP" | "QUIC" => "udp",
        _ => "tcp",
    }
}

/// What an `ensure` does about its listener.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EnsurePlan {
    /// Our listener for this binding exists (perhaps made before a crash): use it.
    Adopt(String),
    /// Nothing is in the way: create it.
    Create,
    /// Something else holds the port.
    Fail(ProviderError),
}

/// `ownership` reads a listener name (with the hashed owners the provider knows); `served` is
/// the one namespace the controller serves, if any.
#[allow(clippy::too_many_arguments)]
pub(crate) fn plan_ensure(
    listeners: &[ListenerView],
    ownership: &dyn Fn(&str) -> Ownership,
    served: Option<&str>,
    lb_id: &str,
    marker_name: &str,
    port: u16,
    protocol: Protocol,
) -> EnsurePlan {
    if let Some(l) = listeners
        .iter()
        .find(|l| l.is_exactly(port, protocol) && l.name == marker_name)
    {
        return EnsurePlan::Adopt(l.id.clone());
    }
    let Some(holder) = listeners
        .iter()
        .find(|l| family(&l.protocol) == family(protocol.as_str()) && l.covers(port))
    else {
        return EnsurePlan::Create;
    };
    let what = format!(
        "port {port}/{protocol} of CLB {lb_id} is held by listener {} ({} {}, name {:?})",
        holder.id, holder.protocol, holder.port, holder.name
    );
    EnsurePlan::Fail(ownership(&holder.name).slot_held_error(
        &what,
        reason::PORT_CONFLICT,
        HELD_BY_SIBLING_RETRY,
        served,
    ))
}

/// The listeners a `release` deletes: the one at its slot carrying its marker, and the one named
/// by `resource_id` if that carries this cluster's marker (an orphan found by `list_owned`
/// whose owner could not be read). Anything else is left alone.
pub(crate) fn release_ids(
    listeners: &[ListenerView],
    cluster: &str,
    marker_name: &str,
    port: u16,
    protocol: Protocol,
    resource_id: Option<&str>,
) -> Vec<String> {
    listeners
        .iter()
        .filter(|l| {
            let by_slot = l.is_exactly(port, protocol) && l.name == marker_name;
            let by_id =
                resource_id == Some(l.id.as_str()) && marker::parse(cluster, &l.name).is_ours();
            by_slot || by_id
        })
        .map(|l| l.id.clone())
        .collect()
}

/// What to change on one listener's targets so that `desired` is its only one.
#[derive(Clone, Debug, Default, PartialEq)]
pub(crate) struct TargetChanges {
    pub deregister: Vec<clb::BatchTarget>,
    pub register: Option<clb::BatchTarget>,
}

impl TargetChanges {
    #[cfg(test)]
    pub fn is_empty(&self) -> bool {
        self.deregister.is_empty() && self.register.is_none()
    }
}

/// Whether a bound target was bound by ENI IP (as ours are) rather than by CVM instance. The
/// official DescribeTargets examples show an ENI target as the CVM holding the ENI, with both
/// `InstanceId` and `EniId` set and `Type` "CVM"; a CVM bound by `InstanceId` has no `EniId`
/// (and `Type` "cvm" in lower case). So the ENI id, not the instance id, tells them apart.
fn bound_by_eni_ip(target: &clb::Backend) -> bool {
    target.eni_id.as_deref().is_some_and(|id| !id.is_empty())
        || target
            .kind
            .as_deref()
            .is_some_and(|k| k.eq_ignore_ascii_case("ENI"))
        || target.instance_id.as_deref().unwrap_or("").is_empty()
}

/// A Pod's target: bound by ENI IP, at its IP and port.
fn is_desired(target: &clb::Backend, desired: &Backend) -> bool {
    target.port == Some(i64::from(desired.port))
        && bound_by_eni_ip(target)
        && target.private_ip_addresses.contains(&desired.pod_ip)
}

/// Exactly one target per listener: the binding's backend. Anything else bound there (a stale
/// IP left by an earlier Pod, a port that changed, a CVM someone added) is deregistered.
pub(crate) fn target_changes(
    listener_id: &str,
    current: &[clb::Backend],
    desired: Option<&Backend>,
) -> TargetChanges {
    let mut changes = TargetChanges::default();
    let mut satisfied = false;
    for target in current {
        if desired.is_some_and(|d| is_desired(target, d)) && !satisfied {
            satisfied = true;
            continue;
        }
        if let Some(stale) = as_batch_target(listener_id, target) {
            changes.deregister.push(stale);
        } else {
            tracing::warn!(
                listener_id,
                ?target,
                "a target without InstanceId or IP; cannot deregister it"
            );
        }
    }
    if let Some(d) = desired.filter(|_| !satisfied) {
        changes.register = Some(clb::BatchTarget {
            listener_id: listener_id.to_string(),
            port: i64::from(d.port),
            eni_ip: Some(d.pod_ip.clone()),
            ..Default::default()
        });
    }
    changes
}

/// A bound target as the batch actions name it: by IP for ENI targets (even though they carry
/// the CVM's instance id too), by instance for CVM ones.
fn as_batch_target(listener_id: &str, target: &clb::Backend) -> Option<clb::BatchTarget> {
    let base = clb::BatchTarget {
        listener_id: listener_id.to_string(),
        port: target.port?,
        ..Default::default()
    };
    if bound_by_eni_ip(target) {
        return Some(clb::BatchTarget {
            eni_ip: Some(target.private_ip_addresses.first()?.clone()),
            ..base
        });
    }
    Some(clb::BatchTarget {
        instance_id: target.instance_id.clone(),
        ..base
    })
}

/// Whether the bound target `bound` is the one `target` names (as a batch call names it).
pub(crate) fn names_target(bound: &clb::Backend, target: &clb::BatchTarget) -> bool {
    if bound.port != Some(target.port) {
        return false;
    }
    match (&target.eni_ip, &target.instance_id) {
        (Some(ip), _) => bound_by_eni_ip(bound) && bound.private_ip_addresses.contains(ip),
        (None, Some(id)) => !bound_by_eni_ip(bound) && bound.instance_id.as_ref() == Some(id),
        (None, None) => false,
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use dac_provider_api::BindingKey;

    const CLUSTER: &str = "cls-1";

    fn read(name: &str) -> Ownership {
        marker::parse(CLUSTER, name)
    }

    fn plan(
        listeners: &[ListenerView],
        served: Option<&str>,
        marker_name: &str,
        port: u16,
        protocol: Protocol,
    ) -> EnsurePlan {
        plan_ensure(
            listeners,
            &read,
            served,
            "lb-1",
            marker_name,
            port,
            protocol,
        )
    }

    fn ours(key: &str) -> String {
        marker::encode(CLUSTER, &BindingKey::new("ns", key))
    }

    fn listener(id: &str, protocol: &str, port: i64, name: &str) -> ListenerView {
        ListenerView {
            id: id.into(),
            protocol: protocol.into(),
            port,
            end_port: 0,
            name: name.into(),
            settings: ListenerSettings::default(),
        }
    }

    #[test]
    fn adopts_our_own_listener_and_creates_on_a_free_port() {
        let listeners = vec![listener("lbl-1", "TCP", 501, &ours("a"))];
        assert_eq!(
            plan(&listeners, None, &ours("a"), 501, Protocol::Tcp),
            EnsurePlan::Adopt("lbl-1".into())
        );
        assert_eq!(
            plan(&listeners, None, &ours("b"), 502, Protocol::Tcp),
            EnsurePlan::Create
        );
        // UDP on the same port number is a different slot.
        assert_eq!(
            plan(&listeners, None, &ours("c"), 501, Protocol::Udp),
            EnsurePlan::Create
        );
    }

    #[test]
    fn a_foreign_listener_is_a_conflict_for_the_user() {
        for holder in [
            listener("lbl-x", "TCP", 501, "console-made"),
            listener("lbl-x", "HTTP", 501, ""),
            ListenerView {
                end_port: 600,
                ..listener("lbl-x", "TCP", 400, "range")
            },
            listener(
                "lbl-x",
                "TCP",
                501,
                &marker::encode("other-cluster", &BindingKey::new("ns", "a")),
            ),
        ] {
            let planned = plan(
                std::slice::from_ref(&holder),
                None,
                &ours("a"),
                501,
                Protocol::Tcp,
            );
            let EnsurePlan::Fail(err) = planned else {
                panic!("{holder:?}: {planned:?}")
            };
            assert_eq!(err.reason(), reason::PORT_CONFLICT, "{holder:?}");
            assert!(err.message().contains("lbl-x"));
        }
    }

    #[test]
    fn our_listener_for_another_child_is_waited_for() {
        let listeners = vec![listener("lbl-1", "TCP", 501, &ours("old"))];
        let EnsurePlan::Fail(err) = plan(&listeners, None, &ours("new"), 501, Protocol::Tcp) else {
            panic!()
        };
        assert!(err.is_retryable());
        assert_eq!(err.retry_after_hint(), Some(HELD_BY_SIBLING_RETRY));
        assert!(err.message().contains("ns/old"), "{err}");
        // The same, for a controller serving that namespace.
        let EnsurePlan::Fail(err) = plan(&listeners, Some("ns"), &ours("new"), 501, Protocol::Tcp)
        else {
            panic!()
        };
        assert!(err.is_retryable());
    }

    #[test]
    fn another_namespaces_listener_is_a_conflict_when_serving_one_namespace() {
        let other = marker::encode(CLUSTER, &BindingKey::new("team-b", "old"));
        let listeners = vec![listener("lbl-1", "TCP", 501, &other)];
        let EnsurePlan::Fail(err) =
            plan(&listeners, Some("team-a"), &ours("new"), 501, Protocol::Tcp)
        else {
            panic!()
        };
        assert_eq!(err.reason(), reason::PORT_CONFLICT);
        assert!(!err.is_retryable());
        // Cluster-wide, the same listener is a sibling being released: wait.
        let EnsurePlan::Fail(err) = plan(&listeners, None, &ours("new"), 501, Protocol::Tcp) else {
            panic!()
        };
        assert!(err.is_retryable());
    }

    #[test]
    fn slots_of_a_listener_follow_its_family_and_range() {
        let http = listener("lbl-1", "HTTP", 80, "");
        assert_eq!(http.slots().collect::<Vec<_>>(), [(80, Protocol::Tcp)]);
        let quic = listener("lbl-2", "QUIC", 443, "");
        assert_eq!(quic.slots().collect::<Vec<_>>(), [(443, Protocol::Udp)]);
        let range = ListenerView {
            end_port: 602,
            ..listener("lbl-3", "UDP", 600, "")
        };
        assert_eq!(
            range.slots().collect::<Vec<_>>(),
            [
                (600, Protocol::Udp),
                (601, Protocol::Udp),
                (602, Protocol::Udp)
            ]
        );
    }

    #[test]
    fn release_deletes_only_what_carries_the_marker() {
        let listeners = vec![
            listener("lbl-1", "TCP", 501, &ours("a")),
            listener("lbl-2", "TCP", 502, "console-made"),
            listener(
                "lbl-3",
                "TCP",
                503,
                &format!("{}_0123456789abcdef", marker::cluster_prefix(CLUSTER)),
            ),
        ];
        let ids = |marker_name: &str, port, resource_id| {
            release_ids(
                &listeners,
                CLUSTER,
                marker_name,
                port,
                Protocol::Tcp,
                resource_id,
            )
        };
        assert_eq!(ids(&ours("a"), 501, None), ["lbl-1"]);
        // Another owner's marker, a foreign listener, or a missing one: nothing.
        assert!(ids(&ours("b"), 501, None).is_empty());
        assert!(ids(&ours("a"), 502, Some("lbl-2")).is_empty());
        assert!(ids(&ours("a"), 509, None).is_empty());
        // By id when the name is this cluster's, even with an unreadable owner (orphan sweep).
        assert_eq!(ids(&ours("zzz"), 503, Some("lbl-3")), ["lbl-3"]);
        assert_eq!(ids(&ours("a"), 501, Some("lbl-1")), ["lbl-1"]);
    }

    fn eni(ip: &str, port: i64) -> clb::Backend {
        clb::Backend {
            kind: Some("ENI".into()),
            port: Some(port),
            private_ip_addresses: vec![ip.into()],
            ..Default::default()
        }
    }

    fn backend(ip: &str, port: u16) -> Backend {
        Backend {
            pod_name: "gs-0".into(),
            pod_ip: ip.into(),
            port,
        }
    }

    #[test]
    fn the_backend_becomes_the_only_target() {
        let b = backend("10.0.0.5", 7000);
        let fresh = target_changes("lbl-1", &[], Some(&b));
        assert!(fresh.deregister.is_empty());
        let reg = fresh.register.unwrap();
        assert_eq!(
            (reg.listener_id.as_str(), reg.eni_ip.as_deref(), reg.port),
            ("lbl-1", Some("10.0.0.5"), 7000)
        );

        assert!(target_changes("lbl-1", &[eni("10.0.0.5", 7000)], Some(&b)).is_empty());

        // A stale IP from an earlier Pod goes; the new one comes.
        let moved = target_changes("lbl-1", &[eni("10.0.0.9", 7000)], Some(&b));
        assert_eq!(moved.deregister.len(), 1);
        assert_eq!(moved.deregister[0].eni_ip.as_deref(), Some("10.0.0.9"));
        assert!(moved.register.is_some());

        // Extra targets and a CVM go, the right one stays.
        let cvm = clb::Backend {
            kind: Some("CVM".into()),
            instance_id: Some("ins-1".into()),
            port: Some(80),
            private_ip_addresses: vec!["10.1.1.1".into()],
            ..Default::default()
        };
        let crowded = target_changes(
            "lbl-1",
            &[eni("10.0.0.5", 7001), eni("10.0.0.5", 7000), cvm],
            Some(&b),
        );
        assert_eq!(crowded.deregister.len(), 2);
        assert_eq!(crowded.deregister[1].instance_id.as_deref(), Some("ins-1"));
        assert_eq!(crowded.deregister[1].eni_ip, None);
        assert!(crowded.register.is_none());

        // Shaped as the official example shows an ENI target: the CVM holding the ENI, with
        // both ids. It is the Pod's target, and is deregistered by its IP.
        let example = clb::Backend {
            kind: Some("CVM".into()),
            instance_id: Some("ins-12345678".into()),
            eni_id: Some("eni-12345678".into()),
            port: Some(7000),
            private_ip_addresses: vec!["10.0.0.5".into()],
            ..Default::default()
        };
        assert!(target_changes("lbl-1", std::slice::from_ref(&example), Some(&b)).is_empty());
        let stale = clb::Backend {
            private_ip_addresses: vec!["10.0.0.9".into()],
            ..example
        };
        let moved = target_changes("lbl-1", &[stale], Some(&b));
        assert_eq!(moved.deregister[0].eni_ip.as_deref(), Some("10.0.0.9"));
        assert_eq!(moved.deregister[0].instance_id, None);
        // A CVM in lower case without an ENI id, at the Pod's IP by chance: not the Pod's.
        let cvm_lower = clb::Backend {
            kind: Some("cvm".into()),
            instance_id: Some("ins-19425y2y".into()),
            eni_id: Some(String::new()),
            port: Some(7000),
            private_ip_addresses: vec!["10.0.0.5".into()],
            ..Default::default()
        };
        let replaced = target_changes("lbl-1", &[cvm_lower], Some(&b));
        assert_eq!(
            replaced.deregister[0].instance_id.as_deref(),
            Some("ins-19425y2y")
        );
        assert!(replaced.register.is_some());

        // No backend: no target at all.
        let none = target_changes("lbl-1", &[eni("10.0.0.5", 7000)], None);
        assert_eq!(none.deregister.len(), 1);
        assert!(none.register.is_none());
    }
}
