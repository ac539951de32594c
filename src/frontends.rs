//! What the controller decides about frontends (CLBs, NAT gateways) before allocating on them,
//! in plain code that knows nothing of the API server:
//!
//! - [`GoneSightings`]: a frontend the cloud says is gone is believed only when a second read,
//!   some time later, says so too; one odd answer must not move every address on it.
//! - [`offered`]: what the allocator may use: healthy frontends as they are; a frontend with a
//!   problem with no room for new slots (its existing allocations stay); a confirmed-gone one
//!   not at all (its allocations move).
//! - [`check_access`]: the admin's allow-list (`access.frontends` in the config).
use crate::config::{AccessConfig, FrontendRule};
use dac_provider_api::Frontend;
use std::collections::HashMap;
use std::time::{Duration, Instant};

/// Tags on the frontends (CLBs) the controller creates, to find them again: this cluster's id,
/// and the pool or the service they were made for (`<namespace>.<name>`).
pub const TAG_CLUSTER: &str = "dac-cluster-id";
pub const TAG_POOL: &str = "dac-clbportpool";
pub const TAG_SERVICE: &str = "dac-dedicatedclbservice";
/// A service's `extensiveParameters` creates at most this many CLBs.
pub const MAX_CREATED_PER_SERVICE: usize = 10;

/// How far apart two "gone" answers must be before a frontend is believed gone.
pub const CONFIRM_GONE_AFTER: Duration = Duration::from_secs(10);

/// Identifies a frontend across reconciles: provider, region, id.
pub type FrontendKey = (String, Option<String>, String);

/// When each frontend was first seen gone, since it was last seen healthy.
#[derive(Debug, Default)]
pub struct GoneSightings {
    first_seen: HashMap<FrontendKey, Instant>,
}

impl GoneSightings {
    /// Records one read of `frontend`; true when it is now confirmed gone (also gone in a read
    /// at least [`CONFIRM_GONE_AFTER`] earlier, with no healthy read in between).
    pub fn observe(&mut self, key: FrontendKey, frontend: &Frontend, now: Instant) -> bool {
        let gone = frontend.problem.as_ref().is_some_and(|p| p.gone);
        if !gone {
            self.first_seen.remove(&key);
            return false;
        }
        let first = *self.first_seen.entry(key).or_insert(now);
        now.duration_since(first) >= CONFIRM_GONE_AFTER
    }
}

/// What the allocator may use, given which frontends are confirmed gone.
pub fn offered(frontends: &[Frontend], confirmed_gone: &[bool]) -> Vec<Frontend> {
    frontends
        .iter()
        .zip(confirmed_gone)
        .filter(|(_, gone)| !**gone)
        .map(|(frontend, _)| match &frontend.problem {
            None => frontend.clone(),
            Some(_) => Frontend {
                capacity: 0,
                ..frontend.clone()
            },
        })
        .collect()
}

/// A frontend the allow-list does not let `namespace` use.
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct Denied {
    pub frontend: String,
    pub message: String,
}

/// Whether `namespace` may use `frontend` (its id and cloud tags). No rules: anything goes.
pub fn check_access(
    access: &AccessConfig,
    namespace: &str,
    frontend: &str,
    tags: &std::collections::BTreeMap<String, String>,
) -> Result<(), Denied> {
    if access.frontends.is_empty() {
        return Ok(());
    }
    let applicable: Vec<(usize, &FrontendRule)> = access
        .frontends
        .iter()
        .enumerate()
        .filter(|(_, rule)| {
            rule.namespaces.is_empty() || rule.namespaces.iter().any(|n| n == namespace)
        })
        .collect();
    let allows = |rule: &FrontendRule| {
        rule.ids.iter().any(|id| id == frontend)
            || rule
                .tag
                .as_ref()
                .is_some_and(|tag| match (&tag.value, tags.get(&tag.key)) {
                    (_, None) => false,
                    (None, Some(_)) => true,
                    (Some(want), Some(have)) => want == have,
                })
    };
    if applicable.iter().any(|(_, rule)| allows(rule)) {
        return Ok(());
    }
    let names: Vec<String> = applicable
        .iter()
        .map(|(index, rule)| {
            rule.name
                .clone()
                .unwrap_or_else(|| format!("#{}", index + 1))
        })
        .collect();
    let message = if names.is_empty() {
        format!(
            "{frontend} is not allowed: no rule of the controller's access.frontends applies to namespace {namespace}"
        )
    } else {
        format!(
            "{frontend} is not allowed for namespace {namespace} by the controller's access.frontends rules ({}); ask the cluster admin to add it",
            names.join(", ")
        )
    };
    Err(Denied {
        frontend: frontend.to_string(),
        message,
    })
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::config::TagRule;
    use dac_provider_api::{FrontendProblem, reason};
    use std::collections::BTreeMap;

    fn healthy(id: &str) -> Frontend {
        Frontend {
            id: id.into(),
            public_ips: Vec::new(),
            capacity: 50,
            port_range: None,
            taken: Vec::new(),
            problem: None,
            tags: BTreeMap::new(),
            display: Default::default(),
        }
    }

    fn gone(id: &str) -> Frontend {
        Frontend::with_problem(
            id,
            FrontendProblem::gone(reason::LOAD_BALANCER_NOT_FOUND, "no such CLB"),
        )
    }

    fn key(id: &str) -> FrontendKey {
        ("clb".into(), None, id.into())
    }

    #[test]
    fn gone_is_believed_only_after_a_second_read_later() {
        let mut sightings = GoneSightings::default();
        let start = Instant::now();
        assert!(!sightings.observe(key("lb-1"), &gone("lb-1"), start));
        assert!(!sightings.observe(key("lb-1"), &gone("lb-1"), start + Duration::from_secs(3)));
        assert!(sightings.observe(key("lb-1"), &gone("lb-1"), start + CONFIRM_GONE_AFTER));
    }

    #[test]
    fn a_healthy_read_in_between_starts_over() {
        let mut sightings = GoneSightings::default();
        let start = Instant::now();
        sightings.observe(key("lb-1"), &gone("lb-1"), start);
        sightings.observe(
            key("lb-1"),
            &healthy("lb-1"),
            start + Duration::from_secs(5),
        );
        assert!(!sightings.observe(key("lb-1"), &gone("lb-1"), start + Duration::from_secs(11)));
    }

    #[test]
    fn problem_frontends_keep_what_they_have_and_take_nothing_new() {
        let unavailable = Frontend {
            problem: Some(FrontendProblem::unavailable(
                "NatGatewayNotAvailable",
                "UPDATING",
            )),
            ..healthy("nat-1")
        };
        let offered = offered(
            &[healthy("lb-1"), unavailable, gone("lb-2"), gone("lb-3")],
            &[false, false, false, true],
        );
        let ids: Vec<(&str, u32)> = offered
            .iter()
            .map(|f| (f.id.as_str(), f.capacity))
            .collect();
        assert_eq!(ids, [("lb-1", 50), ("nat-1", 0), ("lb-2", 0)]);
    }

    #[test]
    fn the_allow_list_matches_ids_and_tags_per_namespace() {
        let access = AccessConfig {
            frontends: vec![
                FrontendRule {
                    name: Some("games".into()),
                    namespaces: vec!["games".into()],
                    ids: vec!["lb-games".into()],
                    tag: None,
                },
                FrontendRule {
                    name: None,
                    namespaces: Vec::new(),
                    ids: Vec::new(),
                    tag: Some(TagRule {
                        key: "dac-allowed".into(),
                        value: Some("true".into()),
                    }),
                },
            ],
        };
        let none = BTreeMap::new();
        let tagged = BTreeMap::from([("dac-allowed".to_string(), "true".to_string())]);
        assert!(check_access(&access, "games", "lb-games", &none).is_ok());
        assert!(check_access(&access, "games", "lb-other", &tagged).is_ok());
        assert!(check_access(&access, "web", "lb-other", &tagged).is_ok());
        let denied = check_access(&access, "web", "lb-games", &none).unwrap_err();
        assert_eq!(denied.frontend, "lb-games");
        assert!(
            denied.message.contains("namespace web"),
            "{}",
            denied.message
        );
        assert!(denied.message.contains("#2"), "{}", denied.message);
        assert!(check_access(&AccessConfig::default(), "any", "lb-any", &none).is_ok());
    }
}
