//! `ClientToken`: the answers of calls made with one, so that a resend gets the first answer
//! instead of creating again.
//!
//! The API docs only say that the token makes a request idempotent (AllocateAddresses,
//! CreateLoadBalancer: "unique between requests, at most 64 ASCII characters"). That a repeat
//! returns the first answer, and that a repeat while the first call's task still runs is
//! refused with `UnsupportedOperation.IdempotentProcessing` (a code of the VPC API, whose
//! errors.go describes it so, listed for other actions), are inferred; see the README.
use std::collections::BTreeMap;

use serde::{Deserialize, Serialize};
use serde_json::Value;

use crate::error::{ApiError, ApiResult};

/// How long a token's answer is kept.
const RETENTION_MS: i64 = 24 * 3_600_000;
/// The documented limit of a token's length.
pub const MAX_TOKEN_LEN: usize = 64;

/// The first answer to a call with a token.
#[derive(Debug, Clone, PartialEq, Serialize, Deserialize)]
#[serde(rename_all = "PascalCase")]
pub struct Answered {
    pub answer: Value,
    /// Until then the first call is still being processed (its task runs).
    pub processing_until_ms: i64,
    pub created_ms: i64,
}

/// Answers by `<action>/<token>`.
#[derive(Debug, Clone, Default, PartialEq, Serialize, Deserialize)]
#[serde(transparent)]
pub struct Tokens(BTreeMap<String, Answered>);

/// What to do with a call that carries a token.
pub enum Replay {
    /// A first call: run it, then [`Tokens::record`] its answer.
    First,
    /// A repeat: answer this.
    Answer(Value),
}

impl Tokens {
    /// Whether `token` was used by `action` before. A repeat while the first call is still
    /// processed fails if `refuse_while_processing`.
    pub fn check(
        &self,
        action: &str,
        token: &str,
        now_ms: i64,
        refuse_while_processing: bool,
    ) -> ApiResult<Replay> {
        if token.len() > MAX_TOKEN_LEN || !token.is_ascii() {
            return Err(ApiError::new(
                "InvalidParameterValue",
                format!("`ClientToken` must be at most {MAX_TOKEN_LEN} ASCII characters."),
            ));
        }
        let Some(first) = self.0.get(&format!("{action}/{token}")) else {
            return Ok(Replay::First);
        };
        if refuse_while_processing && now_ms < first.processing_until_ms {
            return Err(ApiError::new(
                "UnsupportedOperation.IdempotentProcessing",
                "The previous request with this ClientToken is still being processed; retry later.",
            ));
        }
        Ok(Replay::Answer(first.answer.clone()))
    }

    pub fn record(&mut self, action: &str, token: &str, answer: Value, until_ms: i64, now: i64) {
        self.0.insert(
            format!("{action}/{token}"),
            Answered {
                answer,
                processing_until_ms: until_ms,
                created_ms: now,
            },
        );
    }

    pub fn prune(&mut self, now_ms: i64) {
        self.0.retain(|_, a| now_ms - a.created_ms < RETENTION_MS);
    }
}
