//! The ownership marker: the name every listener we create carries, so that a restarted
//! controller can adopt what it created before a crash, never touches listeners made by someone
//! else, and can find orphans.
//!
//! Format: `dac_<cluster>_<namespace>_<name>`, e.g. `dac_cls-a1b2_games_gs-0-tcp-7000`.
//! `_` separates the parts because Kubernetes namespaces and names cannot contain it (and the
//! cluster id may not either), so the name parses back without ambiguity.
//!
//! The cloud limits listener names to 80 characters (CreateListener `ListenerNames` in the
//! official SDK: "1-80 characters: letters, digits, `-`, `_` and other common characters").
//! A key that does not fit (a long namespace plus a long name) is written in a hashed form,
//! `dac_<cluster>__<16 hex digits>` (an empty namespace part marks it), which still says
//! "ours" but cannot be parsed back to its owner: [`parse`] reports such listeners as ours with
//! an unknown owner, and [`crate::ClbProvider`] resolves the hashes of keys it has seen since it
//! started.
use dac_provider_api::BindingKey;
use dac_provider_support::marker::{self as shared, Charset, Format};

pub use shared::{MAX_CLUSTER_ID_LEN, Ownership, PREFIX, cluster_prefix, valid_cluster_id};

/// The cloud's limit on a listener name.
pub const MAX_NAME_LEN: usize = 80;

/// Listener names: up to 80 characters, and the cloud takes the `.` of object names.
const LISTENER_NAME: Format = Format {
    max_len: MAX_NAME_LEN,
    charset: Charset::K8sName,
};

/// The listener name for the child object `key` of cluster `cluster`.
pub fn encode(cluster: &str, key: &BindingKey) -> String {
    LISTENER_NAME.encode(cluster, &key.namespace, &key.name)
}

/// The long-key form, `dac_<cluster>__<hash>`.
pub fn hashed(cluster: &str, key: &BindingKey) -> String {
    shared::hashed(cluster, &key.namespace, &key.name)
}

/// Reads a listener name as written by [`encode`] for `cluster`.
pub fn parse(cluster: &str, name: &str) -> Ownership {
    LISTENER_NAME.parse(cluster, name).into()
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn round_trips_ordinary_keys() {
        let key = BindingKey::new("games", "gs-0-tcp-7000");
        let name = encode("cls-a1b2", &key);
        assert_eq!(name, "dac_cls-a1b2_games_gs-0-tcp-7000");
        assert_eq!(parse("cls-a1b2", &name), Ownership::Owned(key));
        let dotted = BindingKey::new("ns", "a.b.c");
        assert_eq!(parse("c", &encode("c", &dotted)), Ownership::Owned(dotted));
    }

    #[test]
    fn other_clusters_and_strangers_are_foreign() {
        let name = encode("cls-a", &BindingKey::new("ns", "x"));
        assert_eq!(parse("cls-b", &name), Ownership::Foreign);
        // A cluster id that is a prefix of another must not match it.
        assert_eq!(parse("cls", &name), Ownership::Foreign);
        assert_eq!(parse("cls-a", "TKE-LISTENER"), Ownership::Foreign);
        assert_eq!(parse("cls-a", ""), Ownership::Foreign);
        assert!(!parse("cls-a", "console-made").is_ours());
    }

    #[test]
    fn long_keys_are_hashed_within_the_limit() {
        let key = BindingKey::new("a".repeat(63), format!("{}-tcp-7000", "b".repeat(60)));
        let name = encode("cls-abcdefghijklmnop", &key);
        assert!(name.len() <= MAX_NAME_LEN, "{} chars", name.len());
        assert!(name.starts_with("dac_cls-abcdefghijklmnop__"), "{name}");
        assert_eq!(name, hashed("cls-abcdefghijklmnop", &key));
        assert_eq!(
            parse("cls-abcdefghijklmnop", &name),
            Ownership::OwnedUnknown
        );
        // Deterministic, and different keys give different names.
        assert_eq!(name, encode("cls-abcdefghijklmnop", &key));
        let other = BindingKey::new("a".repeat(63), format!("{}-udp-7000", "b".repeat(60)));
        assert_ne!(name, encode("cls-abcdefghijklmnop", &other));
    }

    #[test]
    fn longest_cluster_id_still_fits_the_hashed_form() {
        let cluster = "c".repeat(MAX_CLUSTER_ID_LEN);
        assert!(valid_cluster_id(&cluster));
        let name = hashed(&cluster, &BindingKey::new("x", "y"));
        assert!(name.len() <= MAX_NAME_LEN);
    }

    #[test]
    fn cluster_ids_are_checked() {
        assert!(valid_cluster_id("cls-Abc123"));
        assert!(!valid_cluster_id(""));
        assert!(!valid_cluster_id("a_b"));
        assert!(!valid_cluster_id("a/b"));
        assert!(!valid_cluster_id(&"c".repeat(MAX_CLUSTER_ID_LEN + 1)));
    }

    #[test]
    fn damaged_names_with_our_prefix_are_ours_with_unknown_owner() {
        assert_eq!(parse("c", "dac_c_"), Ownership::OwnedUnknown);
        assert_eq!(parse("c", "dac_c_Upper_x"), Ownership::OwnedUnknown);
        assert_eq!(parse("c", "dac_c_ns_"), Ownership::OwnedUnknown);
    }
}
