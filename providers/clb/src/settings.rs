//! Listener settings: the `CLBListenerConfig` spec (camelCase JSON, as the CRD has it), checked
//! here and mapped onto CreateListener's fields.
//!
//! Checking before the cloud sees them means one bad `CLBListenerConfig` gives its own bindings
//! a clear `InvalidListenerConfig` condition instead of failing a batched CreateListener that
//! carries other bindings' ports too.
use dac_provider_api::{ProviderError, reason};
use dac_tencentcloud::models::clb::{CreateListenerRequest, HealthCheck};
use serde::{Deserialize, Serialize};

/// CreateListener settings of a listener. Unknown fields are refused rather than ignored: a
/// setting the user wrote that silently does nothing is worse than an error.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct ListenerSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheckSettings>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expire_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub deregister_target_rst: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub idle_connect_timeout: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_conn: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub max_cps: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub snat_enable: Option<bool>,
}

/// CreateListener's `HealthCheck`, camelCase.
#[derive(Clone, Debug, Default, PartialEq, Eq, Hash, Serialize, Deserialize)]
#[serde(rename_all = "camelCase", deny_unknown_fields)]
pub struct HealthCheckSettings {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_switch: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub time_out: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub interval_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_num: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub un_health_num: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check_path: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check_domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_check_method: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_port: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub context_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub send_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub recv_context: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub check_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_version: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub source_ip_type: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub extended_code: Option<String>,
}

fn invalid(message: impl Into<String>) -> ProviderError {
    ProviderError::user_fixable(reason::INVALID_LISTENER_CONFIG, message)
}

fn check_range(field: &str, value: Option<i64>, min: i64, max: i64) -> Result<(), ProviderError> {
    match value {
        Some(v) if !(min..=max).contains(&v) => Err(invalid(format!(
            "{field} is {v}; it must be within {min}-{max}"
        ))),
        _ => Ok(()),
    }
}

fn check_one_of(field: &str, value: Option<&str>, allowed: &[&str]) -> Result<(), ProviderError> {
    match value {
        Some(v) if !allowed.contains(&v) => Err(invalid(format!(
            "{field} is {v:?}; it must be one of {allowed:?}"
        ))),
        _ => Ok(()),
    }
}

impl ListenerSettings {
    /// Reads and checks `binding.listener_settings`; `None` means the cloud's defaults.
    pub fn from_json(value: Option<&serde_json::Value>) -> Result<Self, ProviderError> {
        let settings = match value {
            None | Some(serde_json::Value::Null) => Self::default(),
            Some(v) => serde_json::from_value::<Self>(v.clone())
                .map_err(|e| invalid(format!("listener config: {e}")))?,
        };
        settings.check()?;
        Ok(settings)
    }

    /// The ranges the cloud documents for CreateListener, so that the cloud's refusal of one
    /// binding's settings cannot fail a batch.
    fn check(&self) -> Result<(), ProviderError> {
        check_one_of(
            "scheduler",
            self.scheduler.as_deref(),
            &["WRR", "LEAST_CONN"],
        )?;
        if let Some(t) = self.session_expire_time
            && t != 0
            && !(30..=3600).contains(&t)
        {
            return Err(invalid(format!(
                "sessionExpireTime is {t}; it must be 0 (off) or 30-3600"
            )));
        }
        check_one_of(
            "sessionType",
            self.session_type.as_deref(),
            &["NORMAL", "QUIC_CID"],
        )?;
        check_range("idleConnectTimeout", self.idle_connect_timeout, 10, 1980)?;
        check_range("maxConn", self.max_conn, -1, i64::MAX)?;
        check_range("maxCps", self.max_cps, -1, i64::MAX)?;
        if let Some(hc) = &self.health_check {
            hc.check()?;
        }
        Ok(())
    }

    /// A stable string for grouping bindings whose listeners can be created in one call.
    pub fn group_key(&self) -> String {
        serde_json::to_string(self).unwrap_or_default()
    }

    /// Whether these settings set nothing at all.
    pub fn is_default(&self) -> bool {
        *self == Self::default()
    }

    /// Writes the settings into a CreateListener request. (`sessionExpireTime` applies to TCP
    /// and UDP listeners only, which are the only ones this provider creates.)
    pub fn apply(&self, req: &mut CreateListenerRequest) {
        req.health_check = self
            .health_check
            .as_ref()
            .map(HealthCheckSettings::to_model);
        req.scheduler = self.scheduler.clone();
        req.session_expire_time = self.session_expire_time;
        req.session_type = self.session_type.clone();
        req.deregister_target_rst = self.deregister_target_rst;
        req.idle_connect_timeout = self.idle_connect_timeout;
        req.max_conn = self.max_conn;
        req.max_cps = self.max_cps;
        req.snat_enable = self.snat_enable;
    }
}

impl HealthCheckSettings {
    fn check(&self) -> Result<(), ProviderError> {
        check_range("healthCheck.healthSwitch", self.health_switch, 0, 1)?;
        check_range("healthCheck.timeOut", self.time_out, 2, 60)?;
        check_range("healthCheck.intervalTime", self.interval_time, 2, 300)?;
        check_range("healthCheck.healthNum", self.health_num, 2, 10)?;
        check_range("healthCheck.unHealthNum", self.un_health_num, 2, 10)?;
        check_range("healthCheck.httpCode", self.http_code, 1, 31)?;
        check_range("healthCheck.checkPort", self.check_port, -1, 65535)?;
        check_range("healthCheck.sourceIpType", self.source_ip_type, 0, 1)?;
        if let (Some(timeout), Some(interval)) = (self.time_out, self.interval_time)
            && timeout >= interval
        {
            return Err(invalid(format!(
                "healthCheck.timeOut ({timeout}) must be less than intervalTime ({interval})"
            )));
        }
        check_one_of(
            "healthCheck.checkType",
            self.check_type.as_deref(),
            &["TCP", "HTTP", "HTTPS", "GRPC", "PING", "CUSTOM"],
        )?;
        check_one_of(
            "healthCheck.httpCheckMethod",
            self.http_check_method.as_deref(),
            &["HEAD", "GET"],
        )?;
        check_one_of(
            "healthCheck.contextType",
            self.context_type.as_deref(),
            &["HEX", "TEXT"],
        )?;
        check_one_of(
            "healthCheck.httpVersion",
            self.http_version.as_deref(),
            &["HTTP/1.0", "HTTP/1.1"],
        )?;
        if self.check_type.as_deref() == Some("CUSTOM")
            && (self.context_type.is_none()
                || self.send_context.is_none()
                || self.recv_context.is_none())
        {
            return Err(invalid(
                "healthCheck.checkType CUSTOM needs contextType, sendContext and recvContext",
            ));
        }
        for (field, value) in [
            ("healthCheck.sendContext", &self.send_context),
            ("healthCheck.recvContext", &self.recv_context),
        ] {
            if value.as_ref().is_some_and(|v| v.len() > 500) {
                return Err(invalid(format!("{field} is longer than 500 characters")));
            }
        }
        Ok(())
    }

    fn to_model(&self) -> HealthCheck {
        HealthCheck {
            health_switch: self.health_switch,
            time_out: self.time_out,
            interval_time: self.interval_time,
            health_num: self.health_num,
            un_health_num: self.un_health_num,
            http_code: self.http_code,
            http_check_path: self.http_check_path.clone(),
            http_check_domain: self.http_check_domain.clone(),
            http_check_method: self.http_check_method.clone(),
            check_port: self.check_port,
            context_type: self.context_type.clone(),
            send_context: self.send_context.clone(),
            recv_context: self.recv_context.clone(),
            check_type: self.check_type.clone(),
            http_version: self.http_version.clone(),
            source_ip_type: self.source_ip_type,
            extended_code: self.extended_code.clone(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use serde_json::json;

    #[test]
    fn maps_the_crd_shape_onto_create_listener() {
        let settings = ListenerSettings::from_json(Some(&json!({
            "healthCheck": {"healthSwitch": 1, "timeOut": 2, "intervalTime": 5, "healthNum": 3, "unHealthNum": 3},
            "scheduler": "LEAST_CONN",
            "sessionExpireTime": 30
        })))
        .unwrap();
        let mut req = CreateListenerRequest::default();
        settings.apply(&mut req);
        let hc = req.health_check.unwrap();
        assert_eq!(hc.health_switch, Some(1));
        assert_eq!(hc.interval_time, Some(5));
        assert_eq!(hc.un_health_num, Some(3));
        assert_eq!(req.scheduler.as_deref(), Some("LEAST_CONN"));
        assert_eq!(req.session_expire_time, Some(30));
        // The request serializes in the SDK's spelling.
        let wire = serde_json::to_value(CreateListenerRequest {
            health_check: Some(hc),
            ..Default::default()
        })
        .unwrap();
        assert_eq!(wire["HealthCheck"]["UnHealthNum"], 3);
    }

    #[test]
    fn none_and_null_mean_defaults() {
        assert!(ListenerSettings::from_json(None).unwrap().is_default());
        assert!(
            ListenerSettings::from_json(Some(&json!(null)))
                .unwrap()
                .is_default()
        );
        assert!(
            ListenerSettings::from_json(Some(&json!({})))
                .unwrap()
                .is_default()
        );
    }

    #[test]
    fn invalid_settings_are_the_users_to_fix() {
        for bad in [
            json!({"scheduler": "RANDOM"}),
            json!({"sessionExpireTime": 10}),
            json!({"healthCheck": {"timeOut": 5, "intervalTime": 5}}),
            json!({"healthCheck": {"healthNum": 11}}),
            json!({"healthCheck": {"checkType": "CUSTOM"}}),
            json!({"unknownField": true}),
            json!({"healthCheck": "on"}),
        ] {
            let err = ListenerSettings::from_json(Some(&bad)).unwrap_err();
            assert_eq!(err.reason(), reason::INVALID_LISTENER_CONFIG, "{bad}");
        }
    }

    #[test]
    fn equal_settings_group_together() {
        let a =
            ListenerSettings::from_json(Some(&json!({"scheduler": "WRR", "sessionExpireTime": 0})))
                .unwrap();
        let b =
            ListenerSettings::from_json(Some(&json!({"sessionExpireTime": 0, "scheduler": "WRR"})))
                .unwrap();
        let c = ListenerSettings::from_json(Some(&json!({"scheduler": "LEAST_CONN"}))).unwrap();
        assert_eq!(a.group_key(), b.group_key());
        assert_ne!(a.group_key(), c.group_key());
    }
}
