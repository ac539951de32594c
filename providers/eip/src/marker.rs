//! The ownership marker: the `AddressName` every EIP we allocate carries.
//!
//! - `dac_<cluster>_<namespace>_<pod>`: allocated for that Pod;
//! - `dac_<cluster>_pool`: allocated ahead of need for the warm pool;
//! - `dac_<cluster>__<16 hex digits>`: allocated for a Pod whose name does not fit (below);
//! - either Pod form followed by `_kept-<unix seconds>`: kept for that Pod until then
//!   (retention `KeepFor`), so that a restarted provider still keeps it until the deadline.
//!
//! The name says "this cluster's" (the sweep and the pool never touch an EIP without it, such
//! as the NAT gateway's) and who holds it: the provider renames an EIP
//! (ModifyAddressAttribute) when it hands a pool EIP to a Pod, keeps one for a Pod that went,
//! and gives one back to the pool. Renaming is best effort where only a hint depends on it (a
//! Pod recreated after a restart prefers an unbound EIP named for it); who holds an EIP is
//! otherwise read from the association (an EIP bound to a Pod's IP), the binding's
//! `resource_id` and the provider's memory. The kept deadline is the one thing only the name
//! carries across a restart. Names written by earlier versions (without the suffix, or a pool
//! EIP still named for the Pod that had it) read as before.
//!
//! The cloud limits `AddressName` to 128 characters of letters, digits, `-` and `_`
//! (ModifyAddressAttribute in the official SDK's API description). Namespaces fit, but Pod
//! names may hold `.` and run to 253 characters, so such a key is written hashed; `_` separates
//! the parts because no Kubernetes name or cluster id can contain it.
use std::fmt;

use dac_provider_support::marker::{self as shared, Charset, Format, Parsed};

pub use shared::{MAX_CLUSTER_ID_LEN, PREFIX, cluster_prefix, valid_cluster_id};

/// The cloud's limit on an EIP name.
pub const MAX_NAME_LEN: usize = 128;
/// EIP names: up to 128 characters, and no `.` (Pod names with one are hashed).
const ADDRESS_NAME: Format = Format {
    max_len: MAX_NAME_LEN,
    charset: Charset::DnsLabel,
};
/// The last part of a pool EIP's name.
const POOL: &str = "pool";
/// What follows a Pod's name when its EIP is kept for it: `_kept-<unix seconds>`.
const KEPT: &str = "_kept-";

/// A Pod, by namespace and name: the unit an EIP is held by.
#[derive(Clone, Debug, PartialEq, Eq, PartialOrd, Ord, Hash)]
pub struct PodKey {
    pub namespace: String,
    pub name: String,
}

impl PodKey {
    pub fn new(namespace: impl Into<String>, name: impl Into<String>) -> Self {
        Self {
            namespace: namespace.into(),
            name: name.into(),
        }
    }
}

impl fmt::Display for PodKey {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        write!(f, "{}/{}", self.namespace, self.name)
    }
}

/// The name of a pool EIP of `cluster`.
pub fn pool(cluster: &str) -> String {
    format!("{}{POOL}", cluster_prefix(cluster))
}

/// The name of an EIP allocated for `pod`.
pub fn for_pod(cluster: &str, pod: &PodKey) -> String {
    ADDRESS_NAME.encode(cluster, &pod.namespace, &pod.name)
}

/// The name of an EIP kept for `pod` until `until` (Unix seconds). Within the length limit
/// always: when the plain form plus the deadline would not fit, the hashed form carries it.
pub fn kept(cluster: &str, pod: &PodKey, until: u64) -> String {
    let suffix = format!("{KEPT}{until}");
    let base = for_pod(cluster, pod);
    if base.len() + suffix.len() <= MAX_NAME_LEN {
        format!("{base}{suffix}")
    } else {
        format!(
            "{}{suffix}",
            shared::hashed(cluster, &pod.namespace, &pod.name)
        )
    }
}

/// A name without its kept deadline, and the deadline (Unix seconds), if it has one.
pub fn split_kept(name: &str) -> (&str, Option<u64>) {
    match name.rsplit_once(KEPT) {
        Some((base, digits))
            if !base.is_empty()
                && !digits.is_empty()
                && digits.bytes().all(|b| b.is_ascii_digit()) =>
        {
            (base, digits.parse().ok())
        }
        _ => (name, None),
    }
}

/// Whether `base` (a name without its kept deadline) names `pod`, in either Pod form.
pub fn names_pod(cluster: &str, pod: &PodKey, base: &str) -> bool {
    base == for_pod(cluster, pod) || base == shared::hashed(cluster, &pod.namespace, &pod.name)
}

/// What an EIP's name says.
#[derive(Clone, Debug, PartialEq, Eq)]
pub enum Origin {
    /// Not this cluster's.
    Foreign,
    /// This cluster's pool EIP.
    Pool,
    /// Allocated by this cluster for this Pod.
    Pod(PodKey),
    /// This cluster's, for a Pod the name does not spell out (the hashed form, or damaged).
    Unknown,
}

impl Origin {
    pub fn is_ours(&self) -> bool {
        !matches!(self, Origin::Foreign)
    }
}

/// Reads an EIP name as [`pool`], [`for_pod`] and [`kept`] write it for `cluster` (the kept
/// deadline aside: see [`split_kept`]).
pub fn parse(cluster: &str, name: &str) -> Origin {
    let (name, _) = split_kept(name);
    // Checked first: `dac_<cluster>_pool` has no second `_`, so it would read as damaged.
    if name == pool(cluster) {
        return Origin::Pool;
    }
    match ADDRESS_NAME.parse(cluster, name) {
        Parsed::Foreign => Origin::Foreign,
        Parsed::Owned { namespace, name } => Origin::Pod(PodKey::new(namespace, name)),
        Parsed::OwnedUnknown => Origin::Unknown,
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn pod_names_round_trip() {
        let pod = PodKey::new("games", "room-7");
        let name = for_pod("cls-a1", &pod);
        assert_eq!(name, "dac_cls-a1_games_room-7");
        assert_eq!(parse("cls-a1", &name), Origin::Pod(pod));
        assert_eq!(pool("cls-a1"), "dac_cls-a1_pool");
        assert_eq!(parse("cls-a1", "dac_cls-a1_pool"), Origin::Pool);
    }

    #[test]
    fn a_namespace_called_pool_is_not_the_pool() {
        let pod = PodKey::new("pool", "x");
        assert_eq!(parse("c", &for_pod("c", &pod)), Origin::Pod(pod));
    }

    #[test]
    fn strangers_and_other_clusters_are_foreign() {
        assert_eq!(parse("cls-a", "nat-eip-1"), Origin::Foreign);
        assert_eq!(parse("cls-a", ""), Origin::Foreign);
        // A cluster id that is a prefix of another must not match it.
        assert_eq!(parse("cls", "dac_cls-a_pool"), Origin::Foreign);
        assert_eq!(parse("cls-b", "dac_cls-a_ns_p"), Origin::Foreign);
        assert!(!parse("cls-b", "dac_cls-a_ns_p").is_ours());
    }

    #[test]
    fn dotted_or_long_pod_names_are_hashed_within_the_limit() {
        let dotted = PodKey::new("ns", "web.v2-0");
        let name = for_pod("cls-1", &dotted);
        assert!(name.starts_with("dac_cls-1__"), "{name}");
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
        assert_eq!(parse("cls-1", &name), Origin::Unknown);

        let long = PodKey::new("n".repeat(63), "p".repeat(200));
        let cluster = "c".repeat(MAX_CLUSTER_ID_LEN);
        let name = for_pod(&cluster, &long);
        assert!(name.len() <= MAX_NAME_LEN);
        assert_eq!(name, for_pod(&cluster, &long), "deterministic");
        assert_ne!(name, for_pod(&cluster, &PodKey::new("n".repeat(63), "q")));
        // The longest plain name that fits stays plain.
        let fits = PodKey::new("n".repeat(63), "p".repeat(MAX_NAME_LEN - 4 - 20 - 2 - 63));
        assert_eq!(
            parse(&cluster, &for_pod(&cluster, &fits)),
            Origin::Pod(fits)
        );
    }

    #[test]
    fn kept_names_carry_the_deadline_and_still_name_the_pod() {
        let pod = PodKey::new("games", "room-7");
        let name = kept("cls-a1", &pod, 1_700_000_000);
        assert_eq!(name, "dac_cls-a1_games_room-7_kept-1700000000");
        assert_eq!(parse("cls-a1", &name), Origin::Pod(pod.clone()));
        let (base, until) = split_kept(&name);
        assert_eq!(until, Some(1_700_000_000));
        assert!(names_pod("cls-a1", &pod, base));
        assert!(!names_pod("cls-a1", &PodKey::new("games", "room-8"), base));
        // Names without a deadline read as before.
        assert_eq!(
            split_kept("dac_cls-a1_games_room-7"),
            ("dac_cls-a1_games_room-7", None)
        );
        assert_eq!(split_kept("dac_cls-a1_pool"), ("dac_cls-a1_pool", None));
        assert_eq!(split_kept("x_kept-"), ("x_kept-", None));
        assert_eq!(split_kept("x_kept-12a"), ("x_kept-12a", None));
        // A Pod whose plain name leaves no room for the deadline: hashed, and still its own.
        let cluster = "c".repeat(MAX_CLUSTER_ID_LEN);
        let long = PodKey::new("n".repeat(63), "p".repeat(MAX_NAME_LEN - 4 - 20 - 2 - 63));
        let name = kept(&cluster, &long, u64::MAX);
        assert!(name.len() <= MAX_NAME_LEN, "{}", name.len());
        assert_eq!(parse(&cluster, &name), Origin::Unknown);
        let (base, until) = split_kept(&name);
        assert_eq!(until, Some(u64::MAX));
        assert!(names_pod(&cluster, &long, base));
        assert!(
            name.bytes()
                .all(|b| b.is_ascii_alphanumeric() || b == b'_' || b == b'-')
        );
    }

    #[test]
    fn cluster_ids() {
        assert!(valid_cluster_id("cls-Abc123"));
        assert!(!valid_cluster_id(""));
        assert!(!valid_cluster_id("a_b"));
        assert!(!valid_cluster_id(&"c".repeat(MAX_CLUSTER_ID_LEN + 1)));
    }
}
