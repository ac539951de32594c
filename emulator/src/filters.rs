//! The `Filters: [{Name, Values}]` parameter shared by the Describe actions.
use serde::Deserialize;

use crate::error::{ApiError, ApiResult};

#[derive(Debug, Clone, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Filter {
    pub name: String,
    pub values: Vec<String>,
}

impl Filter {
    /// Refuses filter names the action does not know (an entry ending in `:` allows a prefix,
    /// as in `tag:owner`), with the product's own error code.
    pub fn check_names(filters: &[Filter], allowed: &[&str], code: &str) -> ApiResult<()> {
        for f in filters {
            let known = allowed.iter().any(|a| {
                if a.ends_with(':') {
                    f.name.starts_with(a)
                } else {
                    f.name == *a
                }
            });
            if !known {
                return Err(ApiError::new(
                    code,
                    format!(
                        "Filter name `{}` is not supported; use one of {allowed:?}.",
                        f.name
                    ),
                ));
            }
        }
        Ok(())
    }

    /// Whether `value` passes every filter called `name` (it must equal one of its values).
    /// A resource without the attribute fails a filter on it.
    pub fn matches(filters: &[Filter], name: &str, value: Option<&str>) -> bool {
        filters
            .iter()
            .filter(|f| f.name == name)
            .all(|f| value.is_some_and(|v| f.values.iter().any(|x| x == v)))
    }

    /// The values of the first filter called `name`.
    pub fn values<'a>(filters: &'a [Filter], name: &str) -> Option<&'a [String]> {
        filters
            .iter()
            .find(|f| f.name == name)
            .map(|f| f.values.as_slice())
    }
}
