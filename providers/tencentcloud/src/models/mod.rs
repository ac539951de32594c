//! Typed requests and responses, field for field as the official SDK's `models.py`
//! (`tencentcloud.clb.v20180317.models`, `tencentcloud.vpc.v20170312.models`).
//!
//! Conventions, chosen so that one set of types serves the client, the emulator and tests:
//! - every struct is `#[serde(rename_all = "PascalCase")]`; names that serde's PascalCase cannot
//!   produce from a snake_case name (`SSLMode`, `AddressIPVersion`, ...) carry an explicit rename;
//! - in requests, fields the API requires are plain values and everything else is an `Option`
//!   left out of the JSON when `None`. Optional lists stay `Option<Vec<_>>` on purpose: for some
//!   actions an omitted list and an empty one mean different things (DeleteLoadBalancerListeners
//!   without `ListenerIds` deletes every listener);
//! - in responses, scalars are `Option` (the cloud documents most of them as "may be null") and
//!   lists are `Vec`s that read a missing or `null` list as empty; unknown fields are ignored, so
//!   a newer API version adding fields does not break us.
use serde::{Deserialize, Deserializer, Serialize};

pub mod clb;
pub mod vpc;

/// A `Name`/`Values` filter, as both CLB and VPC describe actions take it (`Filters.N`).
#[derive(Debug, Clone, Default, PartialEq, Eq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    #[serde(default, deserialize_with = "null_default")]
    pub name: String,
    #[serde(default, deserialize_with = "null_default")]
    pub values: Vec<String>,
}

impl Filter {
    pub fn new(
        name: impl Into<String>,
        values: impl IntoIterator<Item = impl Into<String>>,
    ) -> Self {
        Self {
            name: name.into(),
            values: values.into_iter().map(Into::into).collect(),
        }
    }
}

/// Reads `null` like a missing field: the cloud sends `null` for empty lists and unset values.
pub(crate) fn null_default<'de, D, T>(deserializer: D) -> Result<T, D::Error>
where
    D: Deserializer<'de>,
    T: Default + Deserialize<'de>,
{
    Ok(Option::<T>::deserialize(deserializer)?.unwrap_or_default())
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn null_and_missing_lists_read_as_empty() {
        let f: Filter = serde_json::from_str(r#"{"Name":"vpc-id","Values":null}"#).unwrap();
        assert!(f.values.is_empty());
        let f: Filter = serde_json::from_str(r#"{"Name":"vpc-id"}"#).unwrap();
        assert_eq!(f, Filter::new("vpc-id", Vec::<String>::new()));
    }

    #[test]
    fn filter_serializes_in_sdk_shape() {
        let f = Filter::new("address-ip", ["10.0.0.1"]);
        assert_eq!(
            serde_json::to_string(&f).unwrap(),
            r#"{"Name":"address-ip","Values":["10.0.0.1"]}"#
        );
    }
}
