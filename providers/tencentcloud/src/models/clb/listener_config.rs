//! Listener settings shared by listener actions: health check, certificates, layer-7 rules.
use crate::models::null_default;
use serde::{Deserialize, Serialize};

/// Health-check settings of a layer-4 listener (both sent and returned).
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct HealthCheck {
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

/// Certificate settings for TCP_SSL and HTTPS listeners.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertificateInput {
    #[serde(rename = "SSLMode", default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
    #[serde(
        rename = "SSLVerifyClient",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_verify_client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_ca_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_key: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_ca_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_ca_content: Option<String>,
}

/// Several server certificates of different algorithms.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct MultiCertInfo {
    #[serde(rename = "SSLMode", default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_list: Option<Vec<CertInfo>>,
    #[serde(
        rename = "SSLVerifyClient",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_verify_client: Option<String>,
}

/// One certificate of a `MultiCertInfo`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_content: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_key: Option<String>,
}

/// Certificate settings as returned on a listener or rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct CertificateOutput {
    #[serde(rename = "SSLMode", default, skip_serializing_if = "Option::is_none")]
    pub ssl_mode: Option<String>,
    #[serde(
        rename = "SSLVerifyClient",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub ssl_verify_client: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cert_ca_id: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub ext_cert_ids: Vec<String>,
}

/// A layer-7 forwarding rule of a listener.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RuleOutput {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub domain: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub url: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub session_expire_time: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub health_check: Option<HealthCheck>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub certificate: Option<CertificateOutput>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub scheduler: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub listener_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite_target: Option<RewriteTarget>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http_gzip: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub be_auto_created: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub default_server: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub http2: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub forward_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub create_time: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_type: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group: Option<BasicTargetGroupInfo>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub waf_domain_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trpc_callee: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub trpc_func: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub quic_status: Option<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub domains: Vec<String>,
    #[serde(default, deserialize_with = "null_default")]
    pub target_group_list: Vec<BasicTargetGroupInfo>,
    #[serde(rename = "OAuth", default, skip_serializing_if = "Option::is_none")]
    pub oauth: Option<OAuth>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub cookie_name: Option<String>,
}

/// Redirect target of a layer-7 rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct RewriteTarget {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_listener_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_location_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite_code: Option<i64>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub take_url: Option<bool>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub rewrite_type: Option<String>,
}

/// OAuth settings of a layer-7 rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct OAuth {
    #[serde(
        rename = "OAuthEnable",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_enable: Option<bool>,
    #[serde(
        rename = "OAuthFailureStatus",
        default,
        skip_serializing_if = "Option::is_none"
    )]
    pub oauth_failure_status: Option<String>,
}

/// A target group bound to a listener or rule.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct BasicTargetGroupInfo {
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_id: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub target_group_name: Option<String>,
    #[serde(default, skip_serializing_if = "Option::is_none")]
    pub weight: Option<i64>,
}
