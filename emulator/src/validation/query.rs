//! GET requests: flattened query parameters (`Filters.0.Name=vpc-id`) back into JSON.
use serde_json::{Map, Value};

use super::{Field, Kind, action_fields, expected, list_member, object_fields};
use crate::error::{ApiError, ApiResult};

/// A GET list index above this is refused rather than allocated (`Ports.4000000000=1`).
const MAX_LIST_INDEX: usize = 1000;

/// Turns GET query pairs (`Filters.0.Name=vpc-id`) into the JSON object a POST would carry,
/// typing each value by the schema.
pub fn unflatten(action: &str, pairs: &[(String, String)]) -> ApiResult<Value> {
    let fields = action_fields(action)?;
    let mut root = Map::new();
    for (key, value) in pairs {
        let segments: Vec<&str> = key.split('.').collect();
        insert(fields, &mut root, &segments, value, key)?;
    }
    Ok(Value::Object(root))
}

fn insert(
    fields: &[Field],
    map: &mut Map<String, Value>,
    segments: &[&str],
    value: &str,
    key: &str,
) -> ApiResult<()> {
    let Some((name, rest)) = segments.split_first() else {
        return Err(ApiError::unknown_parameter(key));
    };
    let Some(Field(_, kind, member, _)) = fields.iter().find(|f| f.0 == *name) else {
        return Err(ApiError::unknown_parameter(key));
    };
    let slot = map.entry(name.to_string()).or_insert(Value::Null);
    place(*kind, member, slot, rest, value, key)
}

fn place(
    kind: Kind,
    member: &str,
    slot: &mut Value,
    rest: &[&str],
    value: &str,
    key: &str,
) -> ApiResult<()> {
    match kind {
        Kind::List => {
            let Some((index, rest)) = rest.split_first() else {
                return Err(ApiError::invalid_type(key, "an array (use `Name.0=...`)"));
            };
            let index: usize = index
                .parse()
                .ok()
                .filter(|i| *i <= MAX_LIST_INDEX)
                .ok_or_else(|| {
                    ApiError::invalid_parameter(format!("Bad list index in `{key}`."))
                })?;
            if !slot.is_array() {
                *slot = Value::Array(Vec::new());
            }
            let items = slot.as_array_mut().expect("just made an array");
            if items.len() <= index {
                items.resize(index + 1, Value::Null);
            }
            let (item_kind, item_member) = list_member(member);
            place(item_kind, item_member, &mut items[index], rest, value, key)
        }
        Kind::Object => {
            if !slot.is_object() {
                *slot = Value::Object(Map::new());
            }
            let map = slot.as_object_mut().expect("just made an object");
            insert(object_fields(member)?, map, rest, value, key)
        }
        scalar => {
            if !rest.is_empty() {
                return Err(ApiError::unknown_parameter(key));
            }
            *slot = coerce(scalar, value)
                .ok_or_else(|| ApiError::invalid_type(key, expected(scalar)))?;
            Ok(())
        }
    }
}

fn coerce(kind: Kind, text: &str) -> Option<Value> {
    Some(match kind {
        Kind::String => Value::String(text.to_string()),
        Kind::Int => Value::from(text.parse::<i64>().ok()?),
        Kind::Uint => Value::from(text.parse::<u64>().ok()?),
        // Python's urlencode writes booleans as `True`/`False`.
        Kind::Bool => match text.to_ascii_lowercase().as_str() {
            "true" | "1" => Value::Bool(true),
            "false" | "0" => Value::Bool(false),
            _ => return None,
        },
        Kind::Float => Value::from(text.parse::<f64>().ok().filter(|f| f.is_finite())?),
        Kind::List | Kind::Object => return None,
    })
}
