//! Wire format of one call: encoding the request and reading the `{"Response": ...}` envelope.
//! Pure functions, kept apart from the HTTP client so they are tested without a network.
use serde::Serialize;
use serde::de::DeserializeOwned;

use crate::error::{Error, Result};
use crate::signing::canonical_query;

pub const JSON: &str = "application/json";
pub const FORM: &str = "application/x-www-form-urlencoded";

/// How requests travel. POST with a JSON body is what the official SDK does by default and
/// the only form every action accepts; GET (parameters flattened into the query) is there for
/// completeness and for testing servers against it.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Default)]
pub enum RequestMethod {
    #[default]
    Post,
    Get,
}

impl RequestMethod {
    pub fn as_str(self) -> &'static str {
        match self {
            Self::Post => "POST",
            Self::Get => "GET",
        }
    }
}

/// A request ready to sign: what goes into the query and the body.
#[derive(Debug, Clone, PartialEq, Eq)]
pub struct Encoded {
    pub method: RequestMethod,
    /// Empty for POST.
    pub query: String,
    /// Empty for GET.
    pub payload: Vec<u8>,
}

impl Encoded {
    pub fn content_type(&self) -> &'static str {
        match self.method {
            RequestMethod::Post => JSON,
            RequestMethod::Get => FORM,
        }
    }
}

pub fn encode<Req: Serialize + ?Sized>(method: RequestMethod, req: &Req) -> Result<Encoded> {
    let invalid = |e: serde_json::Error| Error::InvalidRequest(e.to_string());
    Ok(match method {
        RequestMethod::Post => Encoded {
            method,
            query: String::new(),
            payload: serde_json::to_vec(req).map_err(invalid)?,
        },
        RequestMethod::Get => Encoded {
            method,
            query: canonical_query(&serde_json::to_value(req).map_err(invalid)?),
            payload: Vec::new(),
        },
    })
}

/// Reads an answer. The cloud reports errors with HTTP 200 and an `Error` object inside
/// `Response`, so the envelope decides, not the status; a non-200 status without an envelope
/// comes from something in between (a proxy, a load balancer).
pub fn decode<Resp: DeserializeOwned>(action: &str, status: u16, body: &[u8]) -> Result<Resp> {
    let envelope: Option<serde_json::Value> = serde_json::from_slice(body).ok();
    let response = envelope.and_then(|mut v| match v.get_mut("Response") {
        Some(r) if r.is_object() => Some(r.take()),
        _ => None,
    });
    let Some(response) = response else {
        return Err(if status == 200 {
            Error::Decode {
                action: action.to_string(),
                message: format!("no Response object in {}", snippet(body)),
                request_id: None,
            }
        } else {
            Error::HttpStatus {
                action: action.to_string(),
                status,
                body: snippet(body),
            }
        });
    };
    let request_id = response
        .get("RequestId")
        .and_then(|v| v.as_str())
        .map(str::to_string);
    if let Some(error) = response.get("Error") {
        let text = |key: &str| {
            error
                .get(key)
                .and_then(|v| v.as_str())
                .unwrap_or_default()
                .to_string()
        };
        return Err(Error::api(
            action,
            text("Code"),
            text("Message"),
            request_id.unwrap_or_default(),
        ));
    }
    if status != 200 {
        return Err(Error::HttpStatus {
            action: action.to_string(),
            status,
            body: snippet(body),
        });
    }
    serde_json::from_value(response).map_err(|e| Error::Decode {
        action: action.to_string(),
        message: e.to_string(),
        request_id,
    })
}

/// The start of a body, for error messages: enough to recognise it, not enough to flood a log.
fn snippet(body: &[u8]) -> String {
    const MAX: usize = 256;
    let text = String::from_utf8_lossy(body);
    match text.char_indices().nth(MAX) {
        Some((cut, _)) => format!("{}...", &text[..cut]),
        None => text.into_owned(),
    }
}

#[cfg(test)]
mod tests {
    use super::*;
    use crate::ErrorKind;
    use crate::models::clb::{CreateListenerResponse, DescribeListenersRequest};

    #[test]
    fn post_is_compact_json_and_get_is_a_query() {
        let req = DescribeListenersRequest {
            load_balancer_id: "lb-1".into(),
            port: Some(8080),
            ..Default::default()
        };
        let post = encode(RequestMethod::Post, &req).unwrap();
        assert_eq!(post.payload, br#"{"LoadBalancerId":"lb-1","Port":8080}"#);
        assert_eq!(post.content_type(), JSON);
        assert!(post.query.is_empty());
        let get = encode(RequestMethod::Get, &req).unwrap();
        assert_eq!(get.query, "LoadBalancerId=lb-1&Port=8080");
        assert_eq!(get.content_type(), FORM);
        assert!(get.payload.is_empty());
    }

    #[test]
    fn success_envelope_decodes_and_ignores_unknown_fields() {
        let body = br#"{"Response":{"ListenerIds":["lbl-1"],"Future":1,"RequestId":"r-1"}}"#;
        let resp: CreateListenerResponse = decode("CreateListener", 200, body).unwrap();
        assert_eq!(resp.listener_ids, ["lbl-1"]);
        assert_eq!(resp.request_id, "r-1");
    }

    #[test]
    fn error_envelope_with_http_200_is_an_api_error() {
        let body = br#"{"Response":{"Error":{"Code":"FailedOperation.ResourceInOperating","Message":"locked"},"RequestId":"r-2"}}"#;
        let err = decode::<CreateListenerResponse>("CreateListener", 200, body).unwrap_err();
        assert_eq!(err.kind(), ErrorKind::Busy);
        assert_eq!(err.code(), Some("FailedOperation.ResourceInOperating"));
        assert_eq!(err.message(), Some("locked"));
        assert_eq!(err.request_id(), Some("r-2"));
    }

    #[test]
    fn non_json_answers() {
        let err =
            decode::<CreateListenerResponse>("X", 502, b"<html>bad gateway</html>").unwrap_err();
        assert!(
            matches!(err, Error::HttpStatus { status: 502, .. }),
            "{err:?}"
        );
        assert_eq!(err.kind(), ErrorKind::Transient);
        let err = decode::<CreateListenerResponse>("X", 200, b"{}").unwrap_err();
        assert!(matches!(err, Error::Decode { .. }), "{err:?}");
        let long = vec![b'x'; 10_000];
        let err = decode::<CreateListenerResponse>("X", 500, &long).unwrap_err();
        assert!(err.to_string().len() < 400);
    }

    #[test]
    fn wrong_types_are_decode_errors_with_the_request_id() {
        let body = br#"{"Response":{"ListenerIds":"not-a-list","RequestId":"r-3"}}"#;
        let err = decode::<CreateListenerResponse>("CreateListener", 200, body).unwrap_err();
        assert_eq!(err.request_id(), Some("r-3"));
        assert_eq!(err.kind(), ErrorKind::Other);
    }
}
