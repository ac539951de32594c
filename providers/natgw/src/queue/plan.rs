//! Pure decisions of a round, from the gateway's rules as described: what an ensure does about
//! its slot, and which rules a release deletes. No I/O here, so every rule of ownership has a
//! unit test.
use std::time::Duration;

use dac_provider_api::{BindingState, ProviderError};

use super::{EnsureJob, ReleaseJob};
use crate::errors::reason;
use crate::marker::{self, Ownership};
use crate::rule::RuleView;
use dac_provider_support::marker::HashedOwners;

/// How a round reads descriptions: whose a marker is (with the hashed owners the provider
/// knows), and the one namespace the controller serves, if any.
pub(crate) struct Reader<'a> {
    pub cluster: &'a str,
    pub owners: &'a HashedOwners,
    pub served: Option<&'a str>,
}

impl Reader<'_> {
    pub fn ownership(&self, description: &str) -> Ownership {
        self.owners
            .resolve(description, marker::parse(self.cluster, description))
    }
}

/// How long a binding whose slot another of our rules holds waits before asking again: that
/// rule's own release (or the controller's orphan sweep) frees it.
pub(crate) const HELD_BY_SIBLING_RETRY: Duration = Duration::from_secs(5);

/// What an ensure does about its slot.
#[derive(Clone, Debug, PartialEq)]
pub(crate) enum EnsurePlan {
    /// Nothing to write: our rule forwards to the backend (`Bound`), or there is neither a
    /// backend nor a rule (`Available`).
    Done(BindingState),
    /// The slot is free: create this rule.
    Create(RuleView),
    /// Our rule forwards to an earlier Pod IP or port: point it at the backend, keeping the
    /// public side (the Pod's address) as it is.
    Move { from: RuleView, to: RuleView },
    /// No backend any more: a DNAT rule cannot exist without a private IP, so ours goes and the
    /// slot stays allocated (`Available`).
    Remove(RuleView),
    /// Someone else's rule holds the slot.
    Fail(ProviderError),
}

pub(crate) fn plan_ensure(
    rules: &[RuleView],
    reader: &Reader<'_>,
    gateway: &str,
    job: &EnsureJob,
) -> EnsurePlan {
    let cluster = reader.cluster;
    let wanted = job.backend.as_ref().map(|b| RuleView {
        public: job.public.clone(),
        private_ip: b.ip.clone(),
        private_port: i64::from(b.port),
        description: job.marker.clone(),
    });
    let Some(holder) = rules.iter().find(|r| r.public == job.public) else {
        return match wanted {
            Some(rule) => EnsurePlan::Create(rule),
            None => EnsurePlan::Done(BindingState::Available),
        };
    };
    if !marker::marks(cluster, &job.key, &holder.description) {
        return EnsurePlan::Fail(held_by_other(reader, gateway, holder));
    }
    match (wanted, &job.backend) {
        (Some(_), Some(b)) if holder.points_to(&b.ip, b.port) => {
            EnsurePlan::Done(BindingState::Bound)
        }
        (Some(rule), _) => EnsurePlan::Move {
            from: holder.clone(),
            to: rule,
        },
        (None, _) => EnsurePlan::Remove(holder.clone()),
    }
}

/// The error for a slot held by a rule that is not the binding's own.
fn held_by_other(reader: &Reader<'_>, gateway: &str, holder: &RuleView) -> ProviderError {
    let what = format!(
        "{} on NAT gateway {gateway} is held by a DNAT rule to {}:{} (description {:?})",
        holder.public, holder.private_ip, holder.private_port, holder.description
    );
    reader.ownership(&holder.description).slot_held_error(
        &what,
        reason::PORT_CONFLICT,
        HELD_BY_SIBLING_RETRY,
        reader.served,
    )
}

/// The rules a release deletes: the one at its slot carrying its marker, and the one at the
/// slot of its resource id if that carries this cluster's marker (an orphan found by
/// `list_owned` whose owner could not be read). Anything else is left alone. For the orphan
/// sweep: the rule at its slot, if it still carries the description the listing saw.
pub(crate) fn release_targets(
    rules: &[RuleView],
    cluster: &str,
    job: &ReleaseJob,
) -> Vec<RuleView> {
    if let Some(listing) = &job.orphan {
        return rules
            .iter()
            .filter(|r| r.public == job.public && r.description == listing.marker)
            .cloned()
            .collect();
    }
    rules
        .iter()
        .filter(|r| {
            let own_slot =
                r.public == job.public && marker::marks(cluster, &job.key, &r.description);
            let by_id = job.by_id.as_ref() == Some(&r.public)
                && marker::parse(cluster, &r.description).is_ours();
            own_slot || by_id
        })
        .cloned()
        .collect()
}

/// Whether another rule of this cluster already forwards to `to`'s private side: a Pod IP that
/// an earlier Pod's rule still holds while it is being released. The cloud may refuse a second
/// rule to the same private address (`UnsupportedOperation.NatGatewayRulePipExists`); then
/// waiting for that release is right, unlike when a stranger's rule holds it (or, for a
/// namespace-scoped controller, another namespace's, which it never releases).
pub(crate) fn private_side_held_by_sibling(
    rules: &[RuleView],
    reader: &Reader<'_>,
    to: &RuleView,
) -> bool {
    rules.iter().any(|r| {
        r.public != to.public
            && r.private_ip == to.private_ip
            && r.private_port == to.private_port
            && !reader
                .ownership(&r.description)
                .is_foreign_to(reader.served)
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::queue::PrivateSide;
    use crate::rule::PublicSide;
    use dac_provider_api::{BindingKey, Protocol};

    const CLUSTER: &str = "cls-1";
    const GW: &str = "nat-1";

    static OWNERS: std::sync::LazyLock<HashedOwners> = std::sync::LazyLock::new(Default::default);
    static READER: std::sync::LazyLock<Reader<'static>> = std::sync::LazyLock::new(|| Reader {
        cluster: CLUSTER,
        owners: &OWNERS,
        served: None,
    });

    fn plan_ensure(
        rules: &[RuleView],
        _cluster: &str,
        gateway: &str,
        job: &EnsureJob,
    ) -> EnsurePlan {
        super::plan_ensure(rules, &READER, gateway, job)
    }

    fn key(name: &str) -> BindingKey {
        BindingKey::new("ns", name)
    }

    fn ours(name: &str) -> String {
        marker::encode(CLUSTER, &key(name))
    }

    fn public(port: u16) -> PublicSide {
        PublicSide {
            protocol: Protocol::Tcp,
            ip: "198.51.100.1".into(),
            port,
        }
    }

    fn rule(port: u16, ip: &str, description: &str) -> RuleView {
        RuleView {
            public: public(port),
            private_ip: ip.into(),
            private_port: 7000,
            description: description.into(),
        }
    }

    fn job(name: &str, port: u16, ip: Option<&str>) -> EnsureJob {
        EnsureJob {
            key: key(name),
            marker: ours(name),
            public: public(port),
            backend: ip.map(|ip| PrivateSide {
                ip: ip.into(),
                port: 7000,
            }),
        }
    }

    #[test]
    fn creates_on_a_free_slot_and_adopts_its_own_rule() {
        let rules = vec![rule(501, "10.0.0.1", &ours("a"))];
        assert_eq!(
            plan_ensure(&rules, CLUSTER, GW, &job("a", 501, Some("10.0.0.1"))),
            EnsurePlan::Done(BindingState::Bound)
        );
        let EnsurePlan::Create(created) =
            plan_ensure(&rules, CLUSTER, GW, &job("b", 502, Some("10.0.0.2")))
        else {
            panic!()
        };
        assert_eq!(created, rule(502, "10.0.0.2", &ours("b")));
        // UDP on the same port number is another slot.
        let mut udp = job("c", 501, Some("10.0.0.3"));
        udp.public.protocol = Protocol::Udp;
        assert!(matches!(
            plan_ensure(&rules, CLUSTER, GW, &udp),
            EnsurePlan::Create(_)
        ));
        // No backend and no rule: nothing to do.
        assert_eq!(
            plan_ensure(&rules, CLUSTER, GW, &job("d", 503, None)),
            EnsurePlan::Done(BindingState::Available)
        );
    }

    #[test]
    fn a_new_pod_ip_moves_the_rule_and_no_backend_removes_it() {
        let rules = vec![rule(501, "10.0.0.1", &ours("a"))];
        assert_eq!(
            plan_ensure(&rules, CLUSTER, GW, &job("a", 501, Some("10.0.0.9"))),
            EnsurePlan::Move {
                from: rules[0].clone(),
                to: rule(501, "10.0.0.9", &ours("a")),
            }
        );
        assert_eq!(
            plan_ensure(&rules, CLUSTER, GW, &job("a", 501, None)),
            EnsurePlan::Remove(rules[0].clone())
        );
    }

    #[test]
    fn strangers_conflict_and_siblings_are_waited_for() {
        for description in [
            "",
            "made in the console",
            &marker::encode("other", &key("a")),
        ] {
            let rules = vec![rule(501, "10.0.0.1", description)];
            let EnsurePlan::Fail(err) =
                plan_ensure(&rules, CLUSTER, GW, &job("a", 501, Some("10.0.0.1")))
            else {
                panic!("{description:?}")
            };
            assert_eq!(err.reason(), reason::PORT_CONFLICT, "{description:?}");
            assert!(err.message().contains(GW), "{err}");
            // Without a backend the user must still learn that the slot is taken.
            assert!(matches!(
                plan_ensure(&rules, CLUSTER, GW, &job("a", 501, None)),
                EnsurePlan::Fail(_)
            ));
        }
        let rules = vec![rule(501, "10.0.0.1", &ours("old"))];
        let EnsurePlan::Fail(err) =
            plan_ensure(&rules, CLUSTER, GW, &job("new", 501, Some("10.0.0.2")))
        else {
            panic!()
        };
        assert_eq!(err.retry_after_hint(), Some(HELD_BY_SIBLING_RETRY));
        assert!(err.message().contains("ns/old"), "{err}");
    }

    #[test]
    fn releases_delete_only_what_carries_the_marker() {
        let unknown_owner = "dac_cls-1__0123456789abcdef";
        let rules = vec![
            rule(501, "10.0.0.1", &ours("a")),
            rule(502, "10.0.0.2", "console"),
            rule(503, "10.0.0.3", unknown_owner),
        ];
        let release = |name: &str, port, by_id: Option<u16>| {
            let job = ReleaseJob {
                key: key(name),
                public: public(port),
                by_id: by_id.map(public),
                orphan: None,
            };
            release_targets(&rules, CLUSTER, &job)
                .into_iter()
                .map(|r| r.public.port)
                .collect::<Vec<_>>()
        };
        assert_eq!(release("a", 501, None), [501]);
        assert_eq!(release("a", 501, Some(501)), [501]);
        assert!(release("b", 501, None).is_empty());
        assert!(release("a", 502, Some(502)).is_empty());
        assert!(release("a", 509, None).is_empty());
        assert_eq!(release("unknown", 503, Some(503)), [503]);
        // The sweep: only the rule at the slot still carrying the description it listed.
        let orphan = |port, description: &str| {
            let job = ReleaseJob {
                key: key(""),
                public: public(port),
                by_id: Some(public(port)),
                orphan: Some(dac_provider_support::sweep::Listing {
                    seq: 1,
                    marker: description.to_string(),
                }),
            };
            release_targets(&rules, CLUSTER, &job).len()
        };
        assert_eq!(orphan(501, &ours("a")), 1);
        assert_eq!(orphan(501, &ours("b")), 0);
        assert_eq!(orphan(509, &ours("a")), 0);
    }

    #[test]
    fn a_private_address_held_by_a_sibling() {
        let rules = vec![
            rule(501, "10.0.0.1", &ours("old")),
            rule(502, "10.0.0.2", "console"),
        ];
        let new = rule(503, "10.0.0.1", &ours("new"));
        assert!(private_side_held_by_sibling(&rules, &READER, &new));
        let stranger = rule(503, "10.0.0.2", &ours("new"));
        assert!(!private_side_held_by_sibling(&rules, &READER, &stranger));
        // Serving one namespace, another namespace's rule is no sibling to wait for.
        let team_a = Reader {
            served: Some("team-a"),
            ..*READER
        };
        assert!(!private_side_held_by_sibling(&rules, &team_a, &new));
    }

    #[test]
    fn another_namespaces_rule_is_a_conflict_when_serving_one_namespace() {
        let rules = vec![rule(501, "10.0.0.1", &ours("old"))];
        let team_a = Reader {
            served: Some("team-a"),
            ..*READER
        };
        let EnsurePlan::Fail(err) =
            super::plan_ensure(&rules, &team_a, GW, &job("new", 501, Some("10.0.0.2")))
        else {
            panic!()
        };
        assert_eq!(err.reason(), reason::PORT_CONFLICT);
        assert!(!err.is_retryable());
        let same = Reader {
            served: Some("ns"),
            ..*READER
        };
        let EnsurePlan::Fail(err) =
            super::plan_ensure(&rules, &same, GW, &job("new", 501, Some("10.0.0.2")))
        else {
            panic!()
        };
        assert!(err.is_retryable());
    }
}
