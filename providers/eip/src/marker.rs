//! The ownership marker: the `AddressName` every EIP we allocate carries.
//!
//! - `dac_<cluster>_<namespace>_<pod>`: allocated for that Pod;
//! - `dac_<cluster>_pool`: allocated ahead of need for the warm pool;
//! - `dac_<cluster>__<16 hex digits>`: allocated for a Pod whose name does not fit (below).
//!
//! The name says "this cluster's" (the sweep and the pool never touch an EIP without it, such
//! as the NAT gateway's) and *who it was allocated for*. It is fixed at allocation: the client
//! and the emulator have no ModifyAddressAttribute, so a pool EIP handed to a Pod, or a Pod's
//! EIP returned to the pool, keeps its name. Who holds an EIP *now* is therefore not read from
//! the name but from the association (an EIP bound to a Pod's IP), the binding's `resource_id`
//! and the provider's memory; the name is used as a hint (a Pod recreated after a controller
//! restart prefers an unbound EIP that was allocated for it) and to find what an ambiguous
//! AllocateAddresses created.
//!
//! The cloud limits `AddressName` to 128 characters of letters, digits, `-` and `_`
//! (ModifyAddressAttribute in the official SDK's API description). Namespaces fit, but Pod
//! names may hold `.` and run to 253 characters, so such a key is written hashed; `_` separates
//! the parts because no Kubernetes name or cluster id can contain it.
use std::fmt;

/// What every marker starts with.
pub const PREFIX: &str = "dac";
/// The cloud's limit on an EIP name.
pub const MAX_NAME_LEN: usize = 128;
/// The same bound as the other providers' markers, so one cluster id works for all of them.
pub const MAX_CLUSTER_ID_LEN: usize = 20;
/// The last part of a pool EIP's name.
const POOL: &str = "pool";

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

/// Whether `id` can be written in a marker: 1-20 of `[A-Za-z0-9-]`.
pub fn valid_cluster_id(id: &str) -> bool {
    (1..=MAX_CLUSTER_ID_LEN).contains(&id.len())
        && id.bytes().all(|b| b.is_ascii_alphanumeric() || b == b'-')
}

/// `dac_<cluster>_`: what all of one cluster's EIP names start with.
pub fn cluster_prefix(cluster: &str) -> String {
    format!("{PREFIX}_{cluster}_")
}

/// The name of a pool EIP of `cluster`.
pub fn pool(cluster: &str) -> String {
    format!("{}{POOL}", cluster_prefix(cluster))
}

/// The name of an EIP allocated for `pod`.
pub fn for_pod(cluster: &str, pod: &PodKey) -> String {
    let plain = format!("{}{}_{}", cluster_prefix(cluster), pod.namespace, pod.name);
    if plain.len() <= MAX_NAME_LEN && fits(&pod.namespace) && fits(&pod.name) {
        plain
    } else {
        format!("{}_{:016x}", cluster_prefix(cluster), fnv1a(pod))
    }
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

/// Reads an EIP name as [`pool`] and [`for_pod`] write it for `cluster`.
pub fn parse(cluster: &str, name: &str) -> Origin {
    let Some(rest) = name.strip_prefix(&cluster_prefix(cluster)) else {
        return Origin::Foreign;
    };
    if rest == POOL {
        return Origin::Pool;
    }
    match rest.split_once('_') {
        Some((namespace, pod)) if fits(namespace) && fits(pod) => {
            Origin::Pod(PodKey::new(namespace, pod))
        }
        _ => Origin::Unknown,
    }
}

/// Lower-case letters, digits and `-`: a DNS label, and allowed in an EIP name.
fn fits(part: &str) -> bool {
    !part.is_empty()
        && part
            .bytes()
            .all(|b| b.is_ascii_lowercase() || b.is_ascii_digit() || b == b'-')
}

/// FNV-1a (64 bit) of `namespace/name`. Stored in the cloud, so it must not change between
/// versions or platforms, which rules out std's randomly seeded hasher.
fn fnv1a(pod: &PodKey) -> u64 {
    const OFFSET: u64 = 0xcbf2_9ce4_8422_2325;
    const PRIME: u64 = 0x0000_0100_0000_01b3;
    let bytes = pod.namespace.bytes().chain([b'/']).chain(pod.name.bytes());
    bytes.fold(OFFSET, |hash, b| (hash ^ u64::from(b)).wrapping_mul(PRIME))
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
    fn cluster_ids() {
        assert!(valid_cluster_id("cls-Abc123"));
        assert!(!valid_cluster_id(""));
        assert!(!valid_cluster_id("a_b"));
        assert!(!valid_cluster_id(&"c".repeat(MAX_CLUSTER_ID_LEN + 1)));
    }
}
