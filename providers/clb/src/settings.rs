//! Listener settings: the `CLBListenerConfig` spec (camelCase JSON, as the CRD has it), checked
//! here and mapped onto CreateListener's fields.
//!
//! Checking before the cloud sees them means one bad `CLBListenerConfig` gives its own bindings
//! a clear `InvalidListenerConfig` condition instead of failing a batched CreateListener that
//! carries other bindings' ports too.
use dac_provider_api::{ProviderError, reason};
use dac_tencentcloud::models::clb::{
    CreateListenerRequest, HealthCheck, Listener, ModifyListenerRequest,
};
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

    /// A listener's settings as DescribeListeners shows them. `snatEnable` is not among them
    /// (the SDK's `Listener` model has no such field), so it cannot be compared.
    pub fn of_listener(l: &Listener) -> Self {
        Self {
            health_check: l.health_check.as_ref().map(HealthCheckSettings::from_model),
            scheduler: l.scheduler.clone(),
            session_expire_time: l.session_expire_time,
            session_type: l.session_type.clone(),
            deregister_target_rst: l.deregister_target_rst,
            idle_connect_timeout: l.idle_connect_timeout,
            max_conn: l.max_conn,
            max_cps: l.max_cps,
            snat_enable: None,
        }
    }

    /// Whether a listener whose settings are `current` must be modified to have these: some
    /// setting given here has another value there. Settings not given are the cloud's to
    /// choose, and left as they are; `snatEnable` cannot be read back and is not compared.
    pub fn differs_from(&self, current: &ListenerSettings) -> bool {
        fn differs<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
            want.is_some() && want != have
        }
        let health_check = match (&self.health_check, &current.health_check) {
            (None, _) => false,
            (Some(want), None) => *want != HealthCheckSettings::default(),
            (Some(want), Some(have)) => want.differs_from(have),
        };
        health_check
            || differs(&self.scheduler, &current.scheduler)
            || differs(&self.session_expire_time, &current.session_expire_time)
            || differs(&self.session_type, &current.session_type)
            || differs(&self.deregister_target_rst, &current.deregister_target_rst)
            || differs(&self.idle_connect_timeout, &current.idle_connect_timeout)
            || differs(&self.max_conn, &current.max_conn)
            || differs(&self.max_cps, &current.max_cps)
    }

    /// Writes the settings into a ModifyListener request.
    pub fn apply_modify(&self, req: &mut ModifyListenerRequest) {
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

    fn from_model(hc: &HealthCheck) -> Self {
        Self {
            health_switch: hc.health_switch,
            time_out: hc.time_out,
            interval_time: hc.interval_time,
            health_num: hc.health_num,
            un_health_num: hc.un_health_num,
            http_code: hc.http_code,
            http_check_path: hc.http_check_path.clone(),
            http_check_domain: hc.http_check_domain.clone(),
            http_check_method: hc.http_check_method.clone(),
            check_port: hc.check_port,
            context_type: hc.context_type.clone(),
            send_context: hc.send_context.clone(),
            recv_context: hc.recv_context.clone(),
            check_type: hc.check_type.clone(),
            http_version: hc.http_version.clone(),
            source_ip_type: hc.source_ip_type,
            extended_code: hc.extended_code.clone(),
        }
    }

    /// Whether a field given here has another value in `have`.
    fn differs_from(&self, have: &HealthCheckSettings) -> bool {
        fn differs<T: PartialEq>(want: &Option<T>, have: &Option<T>) -> bool {
            want.is_some() && want != have
        }
        differs(&self.health_switch, &have.health_switch)
            || differs(&self.time_out, &have.time_out)
            || differs(&self.interval_time, &have.interval_time)
            || differs(&self.health_num, &have.health_num)
            || differs(&self.un_health_num, &have.un_health_num)
            || differs(&self.http_code, &have.http_code)
            || differs(&self.http_check_path, &have.http_check_path)
            || differs(&self.http_check_domain, &have.http_check_domain)
            || differs(&self.http_check_method, &have.http_check_method)
            || differs(&self.check_port, &have.check_port)
            || differs(&self.context_type, &have.context_type)
            || differs(&self.send_context, &have.send_context)
            || differs(&self.recv_context, &have.recv_context)
            || differs(&self.check_type, &have.check_type)
            || differs(&self.http_version, &have.http_version)
            || differs(&self.source_ip_type, &have.source_ip_type)
            || differs(&self.extended_code, &have.extended_code)
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
    fn only_settings_given_that_differ_call_for_a_modify() {
        let current = ListenerSettings::of_listener(&Listener {
            scheduler: Some("WRR".into()),
            session_expire_time: Some(0),
            health_check: Some(HealthCheck {
                health_switch: Some(1),
                time_out: Some(2),
                interval_time: Some(5),
                health_num: Some(3),
                ..Default::default()
            }),
            ..Default::default()
        });
        let want = |v| ListenerSettings::from_json(Some(&v)).unwrap();
        // Nothing given, or the same values: left alone (the cloud's defaults stay).
        assert!(!ListenerSettings::default().differs_from(&current));
        assert!(
            !want(json!({"scheduler": "WRR", "healthCheck": {"intervalTime": 5}}))
                .differs_from(&current)
        );
        for changed in [
            json!({"scheduler": "LEAST_CONN"}),
            json!({"sessionExpireTime": 30}),
            json!({"healthCheck": {"intervalTime": 10}}),
            json!({"healthCheck": {"unHealthNum": 3}}),
            json!({"idleConnectTimeout": 300}),
        ] {
            assert!(want(changed.clone()).differs_from(&current), "{changed}");
        }
        // snatEnable cannot be read back: never a reason to modify.
        assert!(!want(json!({"snatEnable": true})).differs_from(&current));
        let mut req = ModifyListenerRequest::default();
        want(json!({"scheduler": "LEAST_CONN", "healthCheck": {"intervalTime": 10}}))
            .apply_modify(&mut req);
        assert_eq!(req.scheduler.as_deref(), Some("LEAST_CONN"));
        assert_eq!(req.health_check.unwrap().interval_time, Some(10));
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
