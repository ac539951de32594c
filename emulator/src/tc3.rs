//! TC3-HMAC-SHA256, written for the emulator from Tencent Cloud's signing documentation
//! (https://www.tencentcloud.com/document/api/214/30978), independently of the client crate,
//! so that a mistake in the client's signing cannot hide behind the same mistake here. Both are
//! checked against the same references: the documented CVM example and the vectors the
//! official Python SDK generated (`providers/tencentcloud/tests/vectors/signing.json`).
//!
//! The steps:
//! 1. CanonicalRequest = method, `/`, the query as sent, `content-type:<ct>`, `host:<host>`,
//!    an empty line, `content-type;host`, hex SHA-256 of the payload (joined by `\n`).
//! 2. StringToSign = `TC3-HMAC-SHA256`, the timestamp, `<UTC date>/<service>/tc3_request`,
//!    hex SHA-256 of the canonical request (joined by `\n`).
//! 3. The key: HMAC chain `"TC3" + SecretKey` -> date -> service -> `tc3_request`.
//! 4. Signature = hex HMAC-SHA256(key, StringToSign).
use hmac::{Hmac, Mac};
use sha2::{Digest, Sha256};

/// The only algorithm the API knows.
pub const ALGORITHM: &str = "TC3-HMAC-SHA256";
/// The headers every signature covers, in this order.
pub const SIGNED_HEADERS: &str = "content-type;host";

/// What a request's signature covers.
#[derive(Debug, Clone, Copy)]
pub struct Signed<'a> {
    pub method: &'a str,
    /// The raw query string of a GET; empty for a POST.
    pub query: &'a str,
    pub content_type: &'a str,
    pub host: &'a str,
    /// The body of a POST; empty for a GET.
    pub payload: &'a [u8],
    /// `clb`, `vpc`, ...: the service part of the credential scope.
    pub service: &'a str,
    /// `X-TC-Timestamp`, in Unix seconds.
    pub timestamp: i64,
}

fn hex_sha256(bytes: &[u8]) -> String {
    let digest = Sha256::digest(bytes);
    digest.iter().map(|b| format!("{b:02x}")).collect()
}

fn hmac(key: &[u8], message: &[u8]) -> Vec<u8> {
    let mut mac =
        Hmac::<Sha256>::new_from_slice(key).expect("HMAC-SHA256 takes keys of any length");
    mac.update(message);
    mac.finalize().into_bytes().to_vec()
}

impl Signed<'_> {
    /// The UTC calendar date of the timestamp, `YYYY-MM-DD`: the date the scope must name.
    pub fn date(&self) -> String {
        match chrono::DateTime::from_timestamp(self.timestamp, 0) {
            Some(t) => t.format("%Y-%m-%d").to_string(),
            None => String::new(),
        }
    }

    fn string_to_sign(&self) -> String {
        let canonical = [
            self.method,
            "/",
            self.query,
            &format!("content-type:{}", self.content_type),
            &format!("host:{}", self.host),
            "",
            SIGNED_HEADERS,
            &hex_sha256(self.payload),
        ]
        .join("\n");
        [
            ALGORITHM.to_string(),
            self.timestamp.to_string(),
            format!("{}/{}/tc3_request", self.date(), self.service),
            hex_sha256(canonical.as_bytes()),
        ]
        .join("\n")
    }

    /// The signature the holder of `secret_key` computes, in lower-case hex.
    pub fn signature(&self, secret_key: &str) -> String {
        let mut key = format!("TC3{secret_key}").into_bytes();
        for part in [self.date().as_str(), self.service, "tc3_request"] {
            key = hmac(&key, part.as_bytes());
        }
        hmac(&key, self.string_to_sign().as_bytes())
            .iter()
            .map(|b| format!("{b:02x}"))
            .collect()
    }

    /// A complete `Authorization` header, for clients of the emulator (its tests, the demo).
    pub fn authorization(&self, secret_id: &str, secret_key: &str) -> String {
        format!(
            "{ALGORITHM} Credential={secret_id}/{}/{}/tc3_request, SignedHeaders={SIGNED_HEADERS}, Signature={}",
            self.date(),
            self.service,
            self.signature(secret_key)
        )
    }
}

/// A received `Authorization` header, taken apart.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Credential {
    pub secret_id: String,
    pub date: String,
    pub service: String,
    pub signed_headers: String,
    pub signature: String,
}

impl Credential {
    /// Reads `TC3-HMAC-SHA256 Credential=<id>/<date>/<service>/tc3_request,
    /// SignedHeaders=<list>, Signature=<hex>`; `None` for anything else.
    pub fn parse(header: &str) -> Option<Self> {
        let fields = header.strip_prefix(ALGORITHM)?;
        if !fields.starts_with(' ') {
            return None;
        }
        let (mut credential, mut signed_headers, mut signature) = (None, None, None);
        for field in fields.split(',').map(str::trim) {
            let (name, value) = field.split_once('=')?;
            let slot = match name {
                "Credential" => &mut credential,
                "SignedHeaders" => &mut signed_headers,
                "Signature" => &mut signature,
                _ => return None,
            };
            if slot.replace(value).is_some() {
                return None;
            }
        }
        let scope: Vec<&str> = credential?.split('/').collect();
        let [secret_id, date, service, "tc3_request"] = scope.as_slice() else {
            return None;
        };
        Some(Self {
            secret_id: secret_id.to_string(),
            date: date.to_string(),
            service: service.to_string(),
            signed_headers: signed_headers?.to_string(),
            signature: signature?.to_string(),
        })
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    /// The worked example of Tencent Cloud's signing documentation (CVM DescribeInstances).
    #[test]
    fn the_documented_example() {
        let payload = r#"{"Limit": 1, "Filters": [{"Values": ["\u672a\u547d\u540d"], "Name": "instance-name"}]}"#;
        let signed = Signed {
            method: "POST",
            query: "",
            content_type: "application/json; charset=utf-8",
            host: "cvm.tencentcloudapi.com",
            payload: payload.as_bytes(),
            service: "cvm",
            timestamp: 1_551_113_065,
        };
        assert_eq!(
            signed.signature("Gu5t9xGARNpq86cd98joQYCN3EXAMPLE"),
            "72e494ea809ad7a8c8f7a4507b9bddcbaa8e581f516e8da2f66e2c5a96525168"
        );
    }

    /// Every request the official Python SDK signed for the client's tests verifies here too.
    #[test]
    fn the_official_sdks_vectors() {
        let fixture: serde_json::Value = serde_json::from_str(include_str!(
            "../../providers/tencentcloud/tests/vectors/signing.json"
        ))
        .unwrap();
        let vectors = fixture["vectors"].as_array().unwrap();
        assert!(!vectors.is_empty());
        for v in vectors {
            let text = |key: &str| v[key].as_str().unwrap_or_default().to_string();
            let header = text("authorization");
            let credential = Credential::parse(&header).expect("the SDK's header parses");
            let payload = text("payload");
            let signed = Signed {
                method: &text("method"),
                query: &text("query"),
                content_type: &text("content_type"),
                host: &text("host"),
                payload: payload.as_bytes(),
                service: &credential.service,
                timestamp: v["timestamp"].as_i64().unwrap(),
            };
            assert_eq!(credential.date, signed.date(), "{}", text("name"));
            assert_eq!(
                signed.signature(&text("secret_key")),
                credential.signature,
                "{}",
                text("name")
            );
            assert_eq!(
                signed.authorization(&text("secret_id"), &text("secret_key")),
                header,
                "{}",
                text("name")
            );
        }
    }

    #[test]
    fn malformed_headers_do_not_parse() {
        for bad in [
            "",
            "TC3-HMAC-SHA256",
            "TC3-HMAC-SHA256Credential=a/b/c/tc3_request, SignedHeaders=h, Signature=s",
            "Basic abc",
            "TC3-HMAC-SHA256 Credential=a/b/c/x, SignedHeaders=h, Signature=s",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, SignedHeaders=h",
            "TC3-HMAC-SHA256 Credential=a/b/c/tc3_request, Signature=s, Signature=t, SignedHeaders=h",
        ] {
            assert_eq!(Credential::parse(bad), None, "{bad:?}");
        }
        let good = Credential::parse(
            "TC3-HMAC-SHA256 Credential=AKID/2024-01-02/clb/tc3_request, SignedHeaders=content-type;host, Signature=ab",
        )
        .unwrap();
        assert_eq!(
            (
                good.secret_id.as_str(),
                good.date.as_str(),
                good.service.as_str()
            ),
            ("AKID", "2024-01-02", "clb")
        );
    }
}
