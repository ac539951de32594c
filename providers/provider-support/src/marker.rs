//! The ownership marker every provider writes on what it creates in the cloud (a listener's
//! name, a DNAT rule's description, an EIP's name), so that a restarted controller adopts what
//! it created before a crash, never touches what someone else made, and can find orphans.
//!
//! Plain form: `dac_<cluster>_<namespace>_<name>`. `_` separates the parts because neither
//! Kubernetes names nor the cluster id may contain it, so a marker parses back without
//! ambiguity. An owner that does not fit the field's length limit, or whose name has characters
//! the field does not take, is written hashed: `dac_<cluster>__<16 hex digits>` (the empty
//! namespace part marks it). That is still recognisably this cluster's, but its owner cannot be
//! read back.
//!
//! These strings are stored in the cloud: a deployed controller must recognise what an earlier
//! version wrote, so nothing here may change the bytes a marker is made of.
use std::collections::HashMap;
use std::sync::Mutex;
use std::time::Duration;

use dac_provider_api::{BindingKey, ProviderError};

/// What every marker starts with.
pub const PREFIX: &str = "dac";
/// Keeps room within every provider's length limit for a namespace and name of useful length,
/// and is the same for all of them so that one cluster id works for every provider.
pub const MAX_CLUSTER_ID_LEN: usize = 20;

/// Whether `id` can be written in a marker: 1-20 of `[A-Za-z0-9-]`.
pub fn valid_cluster_id(id: &str) -> bool {
    (1..=MAX_CLUSTER_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// The prefix all of one cluster's markers share: `dac_<cluster>_`.
pub fn cluster_prefix(cluster: &str) -> String {
    format!("{PREFIX}_{cluster}_")
}

/// Which characters the plain form accepts in the owner's namespace and name; an owner with
/// others is written hashed.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Charset {
    /// Lower-case alphanumerics, `-` and `.`: what namespaces and object names are made of.
    K8sName,
    /// Lower-case alphanumerics and `-`: a DNS label, for fields that do not take `.`.
    DnsLabel,
}

impl Charset {
    /// Whether `part` is non-empty and made only of this set's characters.
    pub fn accepts(self, part: &str) -> bool {
        !part.is_empty()
            && part.bytes().all(|b| {
                b.is_ascii_lowercase()
                    || b.is_ascii_digit()
                    || b == b'-'
                    || (b == b'.' && self == Charset::K8sName)
            })
    }
}

/// How one cloud field holds markers: its length limit and the characters it takes.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub struct Format {
    /// The longest plain marker; longer ones are hashed.
    pub max_len: usize,
    pub charset: Charset,
}

/// What a marker says about its owner.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum Parsed<'a> {
    /// Not one of this cluster's markers.
    Foreign,
    /// This cluster's, for this owner.
    Owned { namespace: &'a str, name: &'a str },
    /// This cluster's (the prefix matches), but the owner cannot be read: the hashed form, or a
    /// marker damaged by hand.
    OwnedUnknown,
}

/// What a marker says about the child object that owns it, for providers whose owners are
/// bindings' child objects.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Ownership {
    /// Not one of this cluster's markers: someone else's.
    Foreign,
    /// Ours, created for this child object.
    Owned(BindingKey),
    /// Ours (the cluster prefix matches), but the owner cannot be read: the hashed form, or a
    /// marker damaged by hand.
    OwnedUnknown,
}

impl Ownership {
    pub fn is_ours(&self) -> bool {
        !matches!(self, Ownership::Foreign)
    }

    /// Whether a controller serving only namespace `served` (`None`: all of them) must treat
    /// what carries this marker as someone else's: never use, move or release it, and count it
    /// out of capacity. Another namespace's marker is, and so is one whose owner cannot be read
    /// (it may be another namespace's: a namespace-scoped controller cannot tell).
    pub fn is_foreign_to(&self, served: Option<&str>) -> bool {
        match (self, served) {
            (Ownership::Foreign, _) => true,
            (_, None) => false,
            (Ownership::Owned(owner), Some(ns)) => owner.namespace != ns,
            (Ownership::OwnedUnknown, Some(_)) => true,
        }
    }

    /// The error for a binding whose slot (a port, a public IP:port) is held by something
    /// carrying this marker and not its own; `what` says what holds it, where.
    /// `conflict_reason` is the provider's user-fixable reason for a taken port, and
    /// `sibling_retry` how soon to look again when the holder is being released. `served` is
    /// the one namespace the controller serves, if it serves one: a holder of another namespace
    /// is then never released by this controller, so waiting for it would never end.
    pub fn slot_held_error(
        self,
        what: &str,
        conflict_reason: &str,
        sibling_retry: Duration,
        served: Option<&str>,
    ) -> ProviderError {
        if self.is_ours() && self.is_foreign_to(served) {
            let holder = match &self {
                Ownership::Owned(owner) => format!("{owner}, of another namespace"),
                _ => "a binding of this cluster whose namespace cannot be read".to_string(),
            };
            return ProviderError::user_fixable(
                conflict_reason,
                format!(
                    "{what}, created for {holder}; this controller serves namespace {} only and \
                     never releases it",
                    served.unwrap_or_default()
                ),
            );
        }
        match self {
            // Someone else's: never touched. The user has to free the port or change the range.
            Ownership::Foreign => ProviderError::user_fixable(
                conflict_reason,
                format!("{what}, which this controller did not create"),
            ),
            // Ours, for another child object: an allocation that is being released (or an
            // orphan the sweep will release). Waiting is right; taking it over is not, because
            // its own release would then delete it from under this binding.
            Ownership::Owned(owner) => ProviderError::retry_after(
                format!("{what}, created for {owner}; waiting for it to be released"),
                sibling_retry,
            ),
            Ownership::OwnedUnknown => ProviderError::retry_after(
                format!(
                    "{what}, created by this cluster for another binding; waiting for it to be \
                     released"
                ),
                sibling_retry,
            ),
        }
    }
}

/// The owners of hashed markers (whose owner cannot be parsed back) that a provider has written
/// or looked for since it started, so that it can still name them.
#[derive(Debug, Default)]
pub struct HashedOwners(Mutex<HashMap<String, BindingKey>>);

impl HashedOwners {
    /// Notes `key` as the owner of `marker` if `marker` is the hashed form.
    pub fn remember(&self, marker: &str, parsed: &Ownership, key: &BindingKey) {
        if *parsed == Ownership::OwnedUnknown {
            let mut owners = self.0.lock().unwrap_or_else(|e| e.into_inner());
            owners.insert(marker.to_string(), key.clone());
        }
    }

    /// `parsed` (what `marker` parses to), with a hashed owner named when it is known.
    pub fn resolve(&self, marker: &str, parsed: Ownership) -> Ownership {
        if parsed != Ownership::OwnedUnknown {
            return parsed;
        }
        let owners = self.0.lock().unwrap_or_else(|e| e.into_inner());
        owners
            .get(marker)
            .map_or(Ownership::OwnedUnknown, |key| Ownership::Owned(key.clone()))
    }
}

impl From<Parsed<'_>> for Ownership {
    fn from(parsed: Parsed<'_>) -> Self {
        match parsed {
            Parsed::Foreign => Ownership::Foreign,
            Parsed::Owned { namespace, name } => Ownership::Owned(BindingKey::new(namespace, name)),
            Parsed::OwnedUnknown => Ownership::OwnedUnknown,
        }
    }
}

impl Format {
    /// The marker for the owner `namespace/name` of cluster `cluster`: plain when it fits,
    /// else [`hashed`].
    pub fn encode(&self, cluster: &str, namespace: &str, name: &str) -> String {
        let plain = format!("{}{namespace}_{name}", cluster_prefix(cluster));
        if plain.len() <= self.max_len
            && self.charset.accepts(namespace)
            && self.charset.accepts(name)
        {
            plain
        } else {
            hashed(cluster, namespace, name)
        }
    }

    /// Reads a marker as [`Format::encode`] writes it for `cluster`.
    pub fn parse<'a>(&self, cluster: &str, marker: &'a str) -> Parsed<'a> {
        let Some(rest) = marker.strip_prefix(&cluster_prefix(cluster)) else {
            return Parsed::Foreign;
        };
        match rest.split_once('_') {
            Some((namespace, name))
                if self.charset.accepts(namespace) && self.charset.accepts(name) =>
            {
                Parsed::Owned { namespace, name }
            }
            _ => Parsed::OwnedUnknown,
        }
    }
}

/// The hashed form, `dac_<cluster>__<16 hex digits>`. At most 4 + 20 + 2 + 16 = 42 characters,
/// so it fits every field the providers write markers into.
pub fn hashed(cluster: &str, namespace: &str, name: &str) -> String {
    format!(
        "{}_{:016x}",
        cluster_prefix(cluster),
        fnv1a(namespace, name)
    )
}

/// 64-bit FNV-1a of `namespace/name`. Stored in the cloud, so it must never change between
/// versions or platforms, which rules out std's randomly seeded `DefaultHasher`.
fn fnv1a(namespace: &str, name: &str) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = namespace.bytes().chain([b'/']).chain(name.bytes());
    bytes.fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
}

#[cfg(test)]
mod tests {
    use super::*;

    const SHORT: Format = Format {
        max_len: 40,
        charset: Charset::K8sName,
    };
    const LABELS: Format = Format {
        max_len: 128,
        charset: Charset::DnsLabel,
    };

    #[test]
    fn plain_markers_round_trip() {
        let m = SHORT.encode("cls-a1b2", "games", "gs-0.tcp");
        assert_eq!(m, "dac_cls-a1b2_games_gs-0.tcp");
        assert_eq!(
            SHORT.parse("cls-a1b2", &m),
            Parsed::Owned {
                namespace: "games",
                name: "gs-0.tcp"
            }
        );
    }

    #[test]
    fn the_hash_is_the_one_already_in_the_cloud() {
        // Pinned (computed independently): markers deployed controllers wrote must keep matching.
        assert_eq!(hashed("c", "ns", "x"), "dac_c__4a7c84ba48dd9a69");
    }

    #[test]
    fn too_long_or_odd_owners_are_hashed() {
        let long = SHORT.encode("c", "ns", &"x".repeat(40));
        assert!(long.len() <= SHORT.max_len);
        assert_eq!(long, hashed("c", "ns", &"x".repeat(40)));
        assert_eq!(SHORT.parse("c", &long), Parsed::OwnedUnknown);
        let dotted = LABELS.encode("c", "ns", "web.v2");
        assert_eq!(dotted, hashed("c", "ns", "web.v2"));
        assert_ne!(dotted, LABELS.encode("c", "ns", "web.v3"));
    }

    #[test]
    fn strangers_and_other_clusters_are_foreign() {
        let m = SHORT.encode("cls-a", "ns", "x");
        assert_eq!(SHORT.parse("cls-b", &m), Parsed::Foreign);
        // A cluster id that is a prefix of another must not match it.
        assert_eq!(SHORT.parse("cls", &m), Parsed::Foreign);
        assert_eq!(SHORT.parse("cls-a", ""), Parsed::Foreign);
        assert_eq!(SHORT.parse("cls-a", "dac_cls-a_"), Parsed::OwnedUnknown);
        assert_eq!(SHORT.parse("cls-a", "dac_cls-a_Up_x"), Parsed::OwnedUnknown);
    }

    #[test]
    fn a_slot_held_by_someone_else_is_for_the_user_and_by_a_sibling_is_a_wait() {
        let wait = Duration::from_secs(5);
        let err = Ownership::Foreign.slot_held_error("port 80", "PortConflict", wait, None);
        assert_eq!(err.reason(), "PortConflict");
        assert_eq!(err.retry_after_hint(), None);
        let sibling = Ownership::Owned(BindingKey::new("ns", "b"));
        let err = sibling
            .clone()
            .slot_held_error("port 80", "PortConflict", wait, None);
        assert_eq!(err.retry_after_hint(), Some(wait));
        assert!(
            err.to_string().contains("port 80, created for ns/b;"),
            "{err}"
        );
        // Serving that same namespace: still a sibling to wait for.
        let err = sibling.slot_held_error("port 80", "PortConflict", wait, Some("ns"));
        assert!(err.is_retryable());
        let err = Ownership::OwnedUnknown.slot_held_error("port 80", "PortConflict", wait, None);
        assert!(
            err.to_string().contains(
                "port 80, created by this cluster for another binding; waiting for it to be \
                 released"
            ),
            "{err}"
        );
    }

    #[test]
    fn another_namespaces_holder_is_a_conflict_for_a_namespace_scoped_controller() {
        let wait = Duration::from_secs(5);
        let other = Ownership::Owned(BindingKey::new("team-b", "x"));
        assert!(!other.is_foreign_to(None));
        assert!(other.is_foreign_to(Some("team-a")));
        assert!(!other.is_foreign_to(Some("team-b")));
        let err = other.slot_held_error("port 80", "PortConflict", wait, Some("team-a"));
        assert_eq!(err.reason(), "PortConflict");
        assert!(!err.is_retryable());
        assert!(
            err.message().contains("team-b/x, of another namespace"),
            "{err}"
        );
        assert!(Ownership::OwnedUnknown.is_foreign_to(Some("team-a")));
        assert!(!Ownership::OwnedUnknown.is_foreign_to(None));
        let err =
            Ownership::OwnedUnknown.slot_held_error("port 80", "PortConflict", wait, Some("a"));
        assert!(!err.is_retryable());
        assert!(Ownership::Foreign.is_foreign_to(None));
    }

    #[test]
    fn hashed_owners_are_named_once_seen() {
        let owners = HashedOwners::default();
        let key = BindingKey::new("ns", "x".repeat(80));
        let marker = SHORT.encode("c", &key.namespace, &key.name);
        let parsed: Ownership = SHORT.parse("c", &marker).into();
        assert_eq!(
            owners.resolve(&marker, parsed.clone()),
            Ownership::OwnedUnknown
        );
        owners.remember(&marker, &parsed, &key);
        assert_eq!(
            owners.resolve(&marker, parsed),
            Ownership::Owned(key.clone())
        );
        // Plain markers are not kept: they name their owner themselves.
        let plain = SHORT.encode("c", "ns", "y");
        let parsed: Ownership = SHORT.parse("c", &plain).into();
        owners.remember(&plain, &parsed, &key);
        assert_eq!(
            owners.resolve(&plain, parsed),
            Ownership::Owned(BindingKey::new("ns", "y"))
        );
    }

    #[test]
    fn cluster_ids_are_checked() {
        assert!(valid_cluster_id("cls-Abc123"));
        assert!(!valid_cluster_id(""));
        assert!(!valid_cluster_id("a_b"));
        assert!(!valid_cluster_id(&"c".repeat(MAX_CLUSTER_ID_LEN + 1)));
    }
}
