//! TC3-HMAC-SHA256 verification: the emulator recomputes the signature with the configured key
//! ([`crate::tc3`], its own implementation).
use axum::http::HeaderMap;

use crate::tc3::{Credential as Authorization, SIGNED_HEADERS, Signed as SigningInput};

use crate::config::Credential;
use crate::error::{ApiError, ApiResult};

/// What a request carries for its signature.
pub struct SignedRequest<'a> {
    pub method: &'a str,
    /// The raw query string (GET), empty for POST.
    pub query: &'a str,
    pub headers: &'a HeaderMap,
    /// The body (POST); GET signs an empty payload.
    pub payload: &'a [u8],
}

/// Who signed and for which service (the credential scope names it).
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Verified {
    pub secret_id: String,
    pub service: String,
}

pub fn header<'h>(headers: &'h HeaderMap, name: &str) -> Option<&'h str> {
    headers.get(name).and_then(|v| v.to_str().ok())
}

fn signature_failure() -> ApiError {
    ApiError::new(
        "AuthFailure.SignatureFailure",
        "The provided credentials could not be validated. Please check your signature is correct.",
    )
}

pub fn verify(
    req: &SignedRequest<'_>,
    credentials: &[Credential],
    max_skew_secs: i64,
    now_secs: i64,
) -> ApiResult<Verified> {
    let raw = header(req.headers, "authorization").ok_or_else(|| {
        ApiError::new(
            "AuthFailure.InvalidAuthorization",
            "The request has no Authorization header.",
        )
    })?;
    let auth = Authorization::parse(raw).ok_or_else(|| {
        ApiError::new(
            "AuthFailure.InvalidAuthorization",
            "The Authorization header is not a TC3-HMAC-SHA256 authorization.",
        )
    })?;
    let timestamp = header(req.headers, "x-tc-timestamp")
        .ok_or_else(|| ApiError::missing_parameter("Timestamp"))?;
    let timestamp: i64 = timestamp.parse().map_err(|_| {
        ApiError::invalid_parameter(format!("X-TC-Timestamp `{timestamp}` is not a unix time."))
    })?;
    let credential = credentials
        .iter()
        .find(|c| c.secret_id == auth.secret_id)
        .ok_or_else(|| {
            ApiError::new(
                "AuthFailure.SecretIdNotFound",
                "The SecretId is not found, please ensure that your SecretId is correct.",
            )
        })?;
    if now_secs.abs_diff(timestamp) > max_skew_secs.unsigned_abs() {
        return Err(ApiError::new(
            "AuthFailure.SignatureExpire",
            format!(
                "Signature expired. Timestamp {timestamp} is more than {max_skew_secs} seconds from the server time {now_secs}."
            ),
        ));
    }
    if auth.signed_headers != SIGNED_HEADERS {
        return Err(signature_failure());
    }
    let input = SigningInput {
        method: req.method,
        query: req.query,
        content_type: header(req.headers, "content-type").unwrap_or(""),
        host: header(req.headers, "host").unwrap_or(""),
        payload: req.payload,
        service: &auth.service,
        timestamp,
    };
    // The date in the scope must be the timestamp's date; the recomputed signature covers it.
    if auth.date != input.date() || input.signature(&credential.secret_key) != auth.signature {
        return Err(signature_failure());
    }
    Ok(Verified {
        secret_id: auth.secret_id,
        service: auth.service,
    })
}

#[cfg(test)]
mod tests {
    use super::*;

    fn signed(secret_key: &str, timestamp: i64) -> HeaderMap {
        let input = SigningInput {
            method: "POST",
            query: "",
            content_type: "application/json",
            host: "127.0.0.1:1",
            payload: b"{}",
            service: "clb",
            timestamp,
        };
        let mut headers = HeaderMap::new();
        headers.insert("content-type", "application/json".parse().unwrap());
        headers.insert("host", "127.0.0.1:1".parse().unwrap());
        headers.insert("x-tc-timestamp", timestamp.to_string().parse().unwrap());
        let auth = input.authorization("AKID", secret_key);
        headers.insert("authorization", auth.parse().unwrap());
        headers
    }

    fn check(headers: &HeaderMap, now: i64) -> Result<Verified, String> {
        let creds = [Credential {
            secret_id: "AKID".into(),
            secret_key: "key".into(),
        }];
        let req = SignedRequest {
            method: "POST",
            query: "",
            headers,
            payload: b"{}",
        };
        verify(&req, &creds, 300, now).map_err(|e| e.code)
    }

    #[test]
    fn accepts_good_and_rejects_bad_signatures() {
        let now = 1_700_000_000;
        assert_eq!(check(&signed("key", now), now).unwrap().service, "clb");
        assert_eq!(
            check(&signed("nope", now), now).unwrap_err(),
            "AuthFailure.SignatureFailure"
        );
        assert_eq!(
            check(&signed("key", now - 301), now).unwrap_err(),
            "AuthFailure.SignatureExpire"
        );
        let mut tampered = signed("key", now);
        tampered.insert("host", "127.0.0.1:2".parse().unwrap());
        assert_eq!(
            check(&tampered, now).unwrap_err(),
            "AuthFailure.SignatureFailure"
        );
    }
}
