//! Request validation against the cloud's own parameter schema.
//!
//! `schema.json` is generated from the official `tccli` package's `api.json` (see
//! `conformance/gen_schema.py`): every parameter the SDK may send, its type and whether it is
//! required. Checking a request against it gives the cloud's answers for unknown
//! (`UnknownParameter`), missing (`MissingParameter`) and mistyped (`InvalidParameter`)
//! parameters, and gives GET requests, whose flattened values are all strings, their types.
use std::collections::BTreeMap;
use std::sync::LazyLock;

use serde::Deserialize;
use serde_json::{Map, Value};

use crate::error::{ApiError, ApiResult};

mod query;
pub use query::unflatten;

#[derive(Debug, Deserialize)]
struct SchemaFile {
    services: BTreeMap<String, ServiceSpec>,
    actions: BTreeMap<String, Vec<Field>>,
    objects: BTreeMap<String, Vec<Field>>,
}

#[derive(Debug, Deserialize)]
pub struct ServiceSpec {
    pub version: String,
    pub actions: Vec<String>,
}

#[derive(Debug, Clone, Copy, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "lowercase")]
pub(crate) enum Kind {
    String,
    Int,
    Uint,
    Bool,
    Float,
    List,
    Object,
}

/// `[name, kind, member, required]`; `member` is the element kind of a list or an object's name.
#[derive(Debug, Deserialize)]
pub(crate) struct Field(pub String, pub Kind, pub String, pub bool);

static SCHEMA: LazyLock<SchemaFile> = LazyLock::new(|| {
    serde_json::from_str(include_str!("../schema.json"))
        .expect("the embedded schema.json is valid (checked by a test)")
});

/// The service an action belongs to and its API version, if the emulator serves the action.
pub fn service_of(action: &str) -> Option<(&'static str, &'static ServiceSpec)> {
    SCHEMA
        .services
        .iter()
        .find(|(_, spec)| spec.actions.iter().any(|a| a == action))
        .map(|(name, spec)| (name.as_str(), spec))
}

pub fn service(name: &str) -> Option<&'static ServiceSpec> {
    SCHEMA.services.get(name)
}

pub(crate) fn action_fields(action: &str) -> ApiResult<&'static [Field]> {
    SCHEMA
        .actions
        .get(action)
        .map(Vec::as_slice)
        .ok_or_else(|| {
            ApiError::new(
                "InvalidAction",
                format!("The action `{action}` is invalid."),
            )
        })
}

pub(crate) fn object_fields(name: &str) -> ApiResult<&'static [Field]> {
    SCHEMA
        .objects
        .get(name)
        .map(Vec::as_slice)
        .ok_or_else(|| ApiError::internal(format!("schema has no object {name}")))
}

fn join(path: &str, name: &str) -> String {
    if path.is_empty() {
        name.to_string()
    } else {
        format!("{path}.{name}")
    }
}

/// Checks a JSON request body of `action`.
pub fn validate(action: &str, params: &Value) -> ApiResult<()> {
    let Value::Object(map) = params else {
        return Err(ApiError::invalid_parameter(
            "The request body must be a JSON object.",
        ));
    };
    check_object(action_fields(action)?, map, "")
}

fn check_object(fields: &[Field], map: &Map<String, Value>, path: &str) -> ApiResult<()> {
    if let Some(unknown) = map.keys().find(|k| !fields.iter().any(|f| &f.0 == *k)) {
        return Err(ApiError::unknown_parameter(&join(path, unknown)));
    }
    for Field(name, kind, member, required) in fields {
        let here = join(path, name);
        match map.get(name) {
            None | Some(Value::Null) if *required => {
                return Err(ApiError::missing_parameter(&here));
            }
            None | Some(Value::Null) => {}
            Some(value) => check_value(*kind, member, value, &here)?,
        }
    }
    Ok(())
}

fn check_value(kind: Kind, member: &str, value: &Value, path: &str) -> ApiResult<()> {
    let ok = match kind {
        Kind::String => value.is_string(),
        Kind::Int => value.is_i64(),
        Kind::Uint => value.is_u64(),
        Kind::Bool => value.is_boolean(),
        Kind::Float => value.is_number(),
        Kind::Object => {
            let Value::Object(map) = value else {
                return Err(ApiError::invalid_type(path, "an object"));
            };
            return check_object(object_fields(member)?, map, path);
        }
        Kind::List => {
            let Value::Array(items) = value else {
                return Err(ApiError::invalid_type(path, "an array"));
            };
            let (item_kind, item_member) = list_member(member);
            for (i, item) in items.iter().enumerate() {
                check_value(item_kind, item_member, item, &join(path, &i.to_string()))?;
            }
            return Ok(());
        }
    };
    if ok {
        Ok(())
    } else {
        Err(ApiError::invalid_type(path, expected(kind)))
    }
}

pub(crate) fn list_member(member: &str) -> (Kind, &str) {
    match member {
        "string" => (Kind::String, ""),
        "int" => (Kind::Int, ""),
        "uint" => (Kind::Uint, ""),
        "bool" => (Kind::Bool, ""),
        "float" => (Kind::Float, ""),
        object => (Kind::Object, object),
    }
}

pub(crate) fn expected(kind: Kind) -> &'static str {
    match kind {
        Kind::String => "a string",
        Kind::Int => "an integer",
        Kind::Uint => "a non-negative integer",
        Kind::Bool => "a boolean",
        Kind::Float => "a number",
        Kind::List => "an array",
        Kind::Object => "an object",
    }
}

#[cfg(test)]
mod tests {
    use serde_json::json;

    use super::*;

    fn code(r: ApiResult<()>) -> String {
        r.err().map(|e| e.code).unwrap_or_default()
    }

    #[test]
    fn schema_loads_and_knows_the_services() {
        assert_eq!(service_of("CreateListener").unwrap().0, "clb");
        assert_eq!(
            service_of("AssociateAddress").unwrap().1.version,
            "2017-03-12"
        );
        assert!(service_of("RunInstances").is_none());
        for spec in SCHEMA.services.values() {
            for action in &spec.actions {
                assert!(SCHEMA.actions.contains_key(action), "{action}");
            }
        }
    }

    #[test]
    fn codes_for_bad_parameters() {
        let ok = json!({"LoadBalancerId": "lb-1", "Ports": [80], "Protocol": "TCP"});
        assert_eq!(code(validate("CreateListener", &ok)), "");
        let missing = json!({"LoadBalancerId": "lb-1", "Ports": [80]});
        assert_eq!(
            code(validate("CreateListener", &missing)),
            "MissingParameter"
        );
        let unknown = json!({"LoadBalancerId": "lb-1", "Ports": [80], "Protocol": "TCP", "X": 1});
        assert_eq!(
            code(validate("CreateListener", &unknown)),
            "UnknownParameter"
        );
        let typed = json!({"LoadBalancerId": "lb-1", "Ports": ["80"], "Protocol": "TCP"});
        assert_eq!(code(validate("CreateListener", &typed)), "InvalidParameter");
        let nested =
            json!({"LoadBalancerId": "lb-1", "ListenerId": "l", "Targets": [{"Weight": 1}]});
        let err = validate("RegisterTargets", &nested).unwrap_err();
        assert_eq!(err.code, "MissingParameter");
        assert!(err.message.contains("`Targets.0.Port`"), "{}", err.message);
    }

    #[test]
    fn unflattens_get_parameters() {
        let pairs: Vec<(String, String)> = [
            ("Filters.0.Name", "address-ip"),
            ("Filters.0.Values.0", "10.0.0.1"),
            ("Limit", "10"),
        ]
        .iter()
        .map(|(k, v)| (k.to_string(), v.to_string()))
        .collect();
        let value = unflatten("DescribeNetworkInterfaces", &pairs).unwrap();
        assert_eq!(
            value,
            json!({"Filters": [{"Name": "address-ip", "Values": ["10.0.0.1"]}], "Limit": 10})
        );
        let bad = [("Limit".to_string(), "ten".to_string())];
        assert_eq!(
            unflatten("DescribeNetworkInterfaces", &bad)
                .unwrap_err()
                .code,
            "InvalidParameter"
        );
        let huge = [("Ports.99999999999".to_string(), "1".to_string())];
        assert!(unflatten("CreateListener", &huge).is_err());
    }
}
