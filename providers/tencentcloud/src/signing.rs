//! TC3-HMAC-SHA256 request signing, shared by the client (to sign) and the emulator (to verify).
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
}
