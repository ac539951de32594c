//! TC3-HMAC-SHA256 request signing. The emulator verifies with an implementation of its own, so
//! that one mistake cannot hide in both; the official SDK's vectors check each.
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
pub const SIGNED_HEADERS: &str = "content-type;host";

/// What a signature covers. Only `content-type` and `host` are signed; the action,
/// version and region headers are not.
#[derive(Debug, Clone, Copy)]
pub struct SigningInput<'a> {
    pub method: &'a str,
    /// The canonical query string: empty for POST, the sent query for GET.
    pub query: &'a str,
    pub content_type: &'a str,
    pub host: &'a str,
    pub payload: &'a [u8],
    /// The service part of the host, e.g. `clb` or `vpc`.
    pub service: &'a str,
    /// Unix seconds, as sent in `X-TC-Timestamp`.
    pub timestamp: i64,
}

fn sha256_hex(data: &[u8]) -> String {
    hex::encode(Sha256::digest(data))
}

fn hmac_sha256(key: &[u8], data: &str) -> Vec<u8> {
    let mut mac = Hmac::<Sha256>::new_from_slice(key).expect("HMAC accepts keys of any length");
    mac.update(data.as_bytes());
    mac.finalize().into_bytes().to_vec()
}

impl SigningInput<'_> {
    /// `YYYY-MM-DD` of the timestamp in UTC.
    pub fn date(&self) -> String {
        chrono::DateTime::from_timestamp(self.timestamp, 0)
            .unwrap_or_default()
            .format("%Y-%m-%d")
            .to_string()
    }

    pub fn credential_scope(&self) -> String {
        format!("{}/{}/tc3_request", self.date(), self.service)
    }

    pub fn canonical_request(&self) -> String {
        format!(
            "{}\n/\n{}\ncontent-type:{}\nhost:{}\n\n{}\n{}",
            self.method,
            self.query,
            self.content_type,
            self.host,
            SIGNED_HEADERS,
            sha256_hex(self.payload)
        )
    }

    pub fn string_to_sign(&self) -> String {
        format!(
            "{ALGORITHM}\n{}\n{}\n{}",
            self.timestamp,
            self.credential_scope(),
            sha256_hex(self.canonical_request().as_bytes())
        )
    }

    /// The hex signature for `secret_key`.
    pub fn signature(&self, secret_key: &str) -> String {
        let k_date = hmac_sha256(format!("TC3{secret_key}").as_bytes(), &self.date());
        let k_service = hmac_sha256(&k_date, self.service);
        let k_signing = hmac_sha256(&k_service, "tc3_request");
        hex::encode(hmac_sha256(&k_signing, &self.string_to_sign()))
    }

    /// The full `Authorization` header value.
    pub fn authorization(&self, secret_id: &str, secret_key: &str) -> String {
        format!(
            "{ALGORITHM} Credential={secret_id}/{}, SignedHeaders={SIGNED_HEADERS}, Signature={}",
            self.credential_scope(),
            self.signature(secret_key)
        )
    }
}

/// The unsigned call metadata that travels in headers next to the signature.
#[derive(Debug, Clone, Copy)]
pub struct CallMetadata<'a> {
    /// e.g. `CreateListener`.
    pub action: &'a str,
    /// e.g. `2018-03-17`.
    pub version: &'a str,
    /// Empty for region-less actions: the header is then left out, as the SDK does.
    pub region: &'a str,
    /// Temporary credentials' token: sent as `X-TC-Token`, never signed.
    pub token: Option<&'a str>,
    /// `X-TC-Language` (`zh-CN` or `en-US`) for the language of error messages.
    pub language: Option<&'a str>,
}

impl SigningInput<'_> {
    /// Every header of a signed request, in the order the official SDK sets them. The HTTP
    /// client must send `Host` and `Content-Type` exactly as given here, since both are signed.
    pub fn headers(
        &self,
        meta: &CallMetadata<'_>,
        secret_id: &str,
        secret_key: &str,
    ) -> Vec<(&'static str, String)> {
        let mut headers = vec![
            ("Content-Type", self.content_type.to_string()),
            ("Host", self.host.to_string()),
            ("X-TC-Action", meta.action.to_string()),
            ("X-TC-Timestamp", self.timestamp.to_string()),
            ("X-TC-Version", meta.version.to_string()),
        ];
        if !meta.region.is_empty() {
            headers.push(("X-TC-Region", meta.region.to_string()));
        }
        if let Some(token) = meta.token {
            headers.push(("X-TC-Token", token.to_string()));
        }
        if let Some(language) = meta.language {
            headers.push(("X-TC-Language", language.to_string()));
        }
        headers.push(("Authorization", self.authorization(secret_id, secret_key)));
        headers
    }
}

/// The query string of a GET call: `params` flattened the way the official SDK does it
/// (`Filters.0.Values.1=...`, lists by index, nulls left out, booleans as `True`/`False`), then
/// form-encoded like Python's `urlencode` (unreserved `A-Za-z0-9_.-~` kept, space as `+`,
/// everything else `%XX` of its UTF-8 bytes).
///
/// Keys come out in the order of the JSON object. The server checks the signature against the
/// query as sent, so any order verifies; only reproducing the SDK's bytes needs the same order.
pub fn canonical_query(params: &serde_json::Value) -> String {
    let mut pairs = Vec::new();
    flatten(None, params, &mut pairs);
    pairs
        .iter()
        .map(|(k, v)| format!("{}={}", form_encode(k), form_encode(v)))
        .collect::<Vec<_>>()
        .join("&")
}

fn flatten(prefix: Option<&str>, value: &serde_json::Value, out: &mut Vec<(String, String)>) {
    use serde_json::Value;
    let key = |k: &str| match prefix {
        Some(p) => format!("{p}.{k}"),
        None => k.to_string(),
    };
    match value {
        Value::Null => {}
        Value::Object(map) => map.iter().for_each(|(k, v)| flatten(Some(&key(k)), v, out)),
        Value::Array(items) => items
            .iter()
            .enumerate()
            .for_each(|(i, v)| flatten(Some(&key(&i.to_string())), v, out)),
        scalar => {
            let text = match scalar {
                // Python's str() of a bool, which is what the SDK sends.
                Value::Bool(true) => "True".to_string(),
                Value::Bool(false) => "False".to_string(),
                Value::String(s) => s.clone(),
                other => other.to_string(),
            };
            out.push((prefix.unwrap_or_default().to_string(), text));
        }
    }
}

fn form_encode(text: &str) -> String {
    let mut out = String::with_capacity(text.len());
    for byte in text.bytes() {
        match byte {
            b'A'..=b'Z' | b'a'..=b'z' | b'0'..=b'9' | b'_' | b'.' | b'-' | b'~' => {
                out.push(byte as char)
            }
            b' ' => out.push('+'),
            _ => out.push_str(&format!("%{byte:02X}")),
        }
    }
    out
}

/// The parts of a received `Authorization` header.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Authorization {
    pub secret_id: String,
    pub date: String,
    pub service: String,
    pub signed_headers: String,
    pub signature: String,
}

impl Authorization {
    /// Parses `TC3-HMAC-SHA256 Credential=ID/DATE/SERVICE/tc3_request, SignedHeaders=..., Signature=...`.
    pub fn parse(header: &str) -> Option<Self> {
        let rest = header.strip_prefix(ALGORITHM)?.trim_start();
        let mut credential = None;
        let mut signed_headers = None;
        let mut signature = None;
        for part in rest.split(',') {
            let (key, value) = part.trim().split_once('=')?;
            match key {
                "Credential" => credential = Some(value),
                "SignedHeaders" => signed_headers = Some(value),
                "Signature" => signature = Some(value),
                _ => return None,
            }
        }
        let mut scope = credential?.split('/');
        let parsed = Self {
            secret_id: scope.next()?.to_string(),
            date: scope.next()?.to_string(),
            service: scope.next()?.to_string(),
            signed_headers: signed_headers?.to_string(),
            signature: signature?.to_string(),
        };
        (scope.next()? == "tc3_request" && scope.next().is_none()).then_some(parsed)
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example from Tencent Cloud's signing documentation.
    #[test]
    fn documented_cvm_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let input = SigningInput {
            method: "POST",
            query: "",
            content_type: "application/json; charset=utf-8",
            host: "cvm.tencentcloudapi.com",
            payload: payload.as_bytes(),
            service: "cvm",
            timestamp: 1551113065,
        };
        assert_eq!(
            input.signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
        let header = input.authorization(
            "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE",
            "Gu5t9xGARNpq86cd98joQYCN3EXAMPLE",
        );
        let parsed = Authorization::parse(&header).expect("own header parses");
        assert_eq!(parsed.secret_id, "AKIDz8krbsJ5yKBZQpn74WFkmLPx3EXAMPLE");
        assert_eq!(parsed.date, "2019-02-25");
        assert_eq!(parsed.service, "cvm");
    }

    #[test]
    fn rejects_malformed_authorization() {
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "Basic abc",
            "TC3-HMAC-SHA256 Credential=a/b/c/x, SignedHeaders=h, Signature=s",
        ] {
            assert!(
                Authorization::parse(bad).is_none(),
                "{bad:?} should not parse"
            );
        }
    }

    #[test]
    fn canonical_query_flattens_like_the_sdk() {
        let params = serde_json::json!({
            "Filters": [{"Name": "tag:a b", "Values": ["x/y", "未"]}],
            "Limit": 20,
            "WithRs": true,
            "Skipped": null,
        });
        assert_eq!(
            canonical_query(&params),
            "Filters.0.Name=tag%3Aa+b&Filters.0.Values.0=x%2Fy&Filters.0.Values.1=%E6%9C%AA&Limit=20&WithRs=True"
        );
    }

    #[test]
    fn headers_leave_out_empty_region_and_absent_token() {
        let input = SigningInput {
            method: "POST",
            query: "",
            content_type: "application/json",
            host: "clb.tencentcloudapi.com",
            payload: b"{}",
            service: "clb",
            timestamp: 1_700_000_000,
        };
        let meta = CallMetadata {
            action: "DescribeQuota",
            version: "2018-03-17",
            region: "",
            token: None,
            language: None,
        };
        let names: Vec<_> = input
            .headers(&meta, "id", "key")
            .into_iter()
            .map(|(n, _)| n)
            .collect();
        assert_eq!(
            names,
            [
                "Content-Type",
                "Host",
                "X-TC-Action",
                "X-TC-Timestamp",
                "X-TC-Version",
                "Authorization"
            ]
        );
    }
}
