//! Per-resource options: the user-facing resource's `eip` section, as the controller hands it
//! over in [`Binding::options`](dac_provider_api::Binding::options), e.g.
//! `{"retention": {"policy": "KeepFor", "duration": "30m"}}`.
use serde::Deserialize;

use crate::config::Retention;

/// Unknown fields are ignored: the CRD may grow options that this version does not use, and the
/// API server has already validated the shape.
#[derive(Clone, Debug, Default, PartialEq, Eq, Deserialize)]
#[serde(rename_all = "camelCase")]
pub struct EipOptions {
    #[serde(default)]
    pub retention: Option<Retention>,
}

impl EipOptions {
    /// Reads the options; `None` (or JSON `null`) means none were given.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<Self, String> {
        match value {
            None | Some(serde_json::Value::Null) => Ok(Self::default()),
            Some(value) => {
                Self::deserialize(value).map_err(|e| format!("invalid eip options: {e}"))
            }
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;
    use std::time::Duration;

    #[test]
    fn reads_the_crd_shape() {
        let value = json!({"retention": {"policy": "KeepFor", "duration": "30m"}, "future": 1});
        let options = EipOptions::from_json(Some(&value)).unwrap();
        assert_eq!(
            options.retention,
            Some(Retention::KeepFor(Duration::from_secs(1800)))
        );
        assert_eq!(EipOptions::from_json(None).unwrap(), EipOptions::default());
        assert_eq!(
            EipOptions::from_json(Some(&json!(null))).unwrap(),
            EipOptions::default()
        );
        assert_eq!(
            EipOptions::from_json(Some(&json!({}))).unwrap().retention,
            None
        );
        let bad = json!({"retention": {"policy": "KeepFor"}});
        let err = EipOptions::from_json(Some(&bad)).unwrap_err();
        assert!(err.contains("duration"), "{err}");
    }
}
