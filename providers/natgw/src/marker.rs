//! The ownership marker written into every DNAT rule's `Description`, so that a restarted
//! controller adopts what it created before a crash, never touches rules made by someone else,
//! and can find orphans.
//!
//! Format: `dac_<cluster>_<namespace>_<name>`, e.g. `dac_cls-a1b2_games_gs-0-tcp-7000`. `_`
//! separates the parts because neither Kubernetes names nor the cluster id may contain it, so
//! a description parses back without ambiguity.
//!
//! Length: neither the SDK's models nor tccli's `api.json` give a limit for the DNAT
//! `Description`, and the older API only had an error for "description too long" (29151)
//! without saying the limit. The tightest description limit the same VPC API documents is 60
//! characters (ENI and endpoint-service descriptions), so markers stay within 60. A key that
//! does not fit is written as `dac_<cluster>__<16 hex digits>` (a hash of the key; the empty
//! namespace part marks it): still recognisably ours, but its owner cannot be read back.
use dac_provider_api::BindingKey;
use dac_provider_support::marker::{self as shared, Charset, Format};

pub use shared::{MAX_CLUSTER_ID_LEN, Ownership, PREFIX, valid_cluster_id};

/// See the module documentation for where 60 comes from.
pub const MAX_DESCRIPTION_LEN: usize = 60;

/// Rule descriptions: up to 60 characters; the `.` of object names is kept.
const DESCRIPTION: Format = Format {
    max_len: MAX_DESCRIPTION_LEN,
    charset: Charset::K8sName,
};

/// The description for the rule of child object `key` in cluster `cluster`.
pub fn encode(cluster: &str, key: &BindingKey) -> String {
    DESCRIPTION.encode(cluster, &key.namespace, &key.name)
}

/// The long-key form.
fn hashed(cluster: &str, key: &BindingKey) -> String {
    shared::hashed(cluster, &key.namespace, &key.name)
}

/// Whether `description` marks the rule of `key`, in either form: a key's form only changes
/// if the length rule does, and a rule must not be orphaned by that.
pub fn marks(cluster: &str, key: &BindingKey, description: &str) -> bool {
    description == encode(cluster, key) || description == hashed(cluster, key)
}

/// Reads a description as written by [`encode`] for `cluster`.
pub fn parse(cluster: &str, description: &str) -> Ownership {
    DESCRIPTION.parse(cluster, description).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn short_keys_round_trip() {
        let key = BindingKey::new("games", "gs-0-tcp-7000");
        let d = encode("cls-a1b2", &key);
        assert_eq!(d, "dac_cls-a1b2_games_gs-0-tcp-7000");
        assert_eq!(parse("cls-a1b2", &d), Ownership::Owned(key.clone()));
        assert!(marks("cls-a1b2", &key, &d));
        assert!(!marks("cls-a1b2", &BindingKey::new("games", "gs-1"), &d));
    }

    #[test]
    fn long_keys_are_hashed_within_the_limit() {
        let cluster = "c".repeat(MAX_CLUSTER_ID_LEN);
        let key = BindingKey::new("a".repeat(63), "b".repeat(200));
        let d = encode(&cluster, &key);
        assert!(d.len() <= MAX_DESCRIPTION_LEN, "{} chars", d.len());
        assert_eq!(parse(&cluster, &d), Ownership::OwnedUnknown);
        assert!(marks(&cluster, &key, &d));
        // Deterministic, and distinct per key.
        assert_eq!(d, encode(&cluster, &key));
        let other = BindingKey::new("a".repeat(63), "c".repeat(200));
        assert_ne!(d, encode(&cluster, &other));
        // A short key's hashed form is still recognised as its own.
        let short = BindingKey::new("ns", "x");
        assert!(marks(&cluster, &short, &hashed(&cluster, &short)));
    }

    #[test]
    fn strangers_and_other_clusters_are_foreign() {
        let d = encode("cls-a", &BindingKey::new("ns", "x"));
        assert_eq!(parse("cls-b", &d), Ownership::Foreign);
        // A cluster id that is a prefix of another must not match it.
        assert_eq!(parse("cls", &d), Ownership::Foreign);
        assert_eq!(parse("cls-a", ""), Ownership::Foreign);
        assert_eq!(parse("cls-a", "test_dnapt"), Ownership::Foreign);
        assert!(!parse("cls-a", "made in the console").is_ours());
        assert_eq!(parse("cls-a", "dac_cls-a_Upper_x"), Ownership::OwnedUnknown);
    }

    #[test]
    fn cluster_ids_are_checked() {
        assert!(valid_cluster_id("cls-Abc123"));
        assert!(!valid_cluster_id(""));
        assert!(!valid_cluster_id("a_b"));
        assert!(!valid_cluster_id(&"c".repeat(MAX_CLUSTER_ID_LEN + 1)));
    }
}
