//! The one error type of the client, and the classification that tells callers whether to
//! retry, wait, or surface the problem to a user.
use std::fmt;

pub type Result<T, E = Error> = std::result::Result<T, E>;

/// What an error means for the caller.
#[derive(Debug, Clone, Copy, PartialEq, Eq, Hash)]
pub enum ErrorKind {
    /// The API's rate limit (`RequestLimitExceeded*`): retry after a pause.
    Throttled,
    /// The resource is locked by a running task (`FailedOperation.ResourceInOperating`,
    /// `OperationDenied.MutexTaskRunning`, `UnsupportedOperation.NatGatewayIsBusy`, ...): retry
    /// after a pause.
    Busy,
    /// The resource does not exist (`ResourceNotFound*`, `InvalidParameter.LBIdNotFound`,
    /// `...DnatRuleNotExists`, ...). For deletes this usually means "already done".
    NotFound,
    /// A quota or limit is reached (`LimitExceeded*`, `AddressQuotaLimitExceeded*`,
    /// `ResourceInsufficient*`): needs a user's action or capacity elsewhere.
    QuotaOrLimit,
    /// Bad, unknown or unauthorised credentials (`AuthFailure*`, `UnauthorizedOperation*`), or
    /// credentials that could not be loaded.
    Auth,
    /// The request itself is wrong (`InvalidParameter*`, `MissingParameter`, ...): retrying the
    /// same request cannot help.
    InvalidInput,
    /// The cloud or the network failed (`InternalError`, HTTP 5xx, timeouts, connection
    /// errors): retry.
    Transient,
    /// Anything else (`FailedOperation`, `ResourceInUse`, `UnsupportedOperation*`, ...).
    Other,
}

impl ErrorKind {
    /// Classifies an API error code. Order matters: `AuthFailure.SecretIdNotFound` is an auth
    /// problem, not a missing resource, and `RequestLimitExceeded` is throttling, not a quota.
    pub fn classify(code: &str) -> Self {
        let first = code.split('.').next().unwrap_or(code);
        let starts = |prefix: &str| first == prefix;
        let any_segment = |pred: &dyn Fn(&str) -> bool| code.split('.').any(pred);

        if starts("RequestLimitExceeded") || code == "FailedOperation.RateLimitExceeded" {
            return Self::Throttled;
        }
        if BUSY_CODES.contains(&code)
            || any_segment(&|s| s.ends_with("IsBusy") || s.ends_with("TaskRunning"))
        {
            return Self::Busy;
        }
        if starts("AuthFailure") || starts("UnauthorizedOperation") {
            return Self::Auth;
        }
        if starts("InternalError")
            || starts("InternalServerError")
            || starts("ServiceUnavailable")
            || code == "FailedOperation.RequestTimeout"
        {
            return Self::Transient;
        }
        if starts("ResourceNotFound")
            || any_segment(&|s| {
                s.ends_with("NotFound")
                    || s.ends_with("NotExist")
                    || s.ends_with("NotExists")
                    || s.ends_with("NotExisted")
            })
        {
            return Self::NotFound;
        }
        // Before the quotas: `InvalidParameterValue.LimitExceeded` (a list too long),
        // `LimitExceeded.NumberOfFilters` and `InvalidParameter.ClientTokenLimitExceeded` (an
        // expired token) are about the request, and no quota grows by waiting for them.
        if first.starts_with("Invalid")
            || starts("MissingParameter")
            || starts("UnknownParameter")
            || starts("UnsupportedRegion")
            || starts("UnsupportedProtocol")
            || REQUEST_CODES.contains(&code)
        {
            return Self::InvalidInput;
        }
        if starts("LimitExceeded")
            || starts("AddressQuotaLimitExceeded")
            || starts("ResourceInsufficient")
            || starts("ResourcesSoldOut")
            || starts("VpcLimitExceeded")
            || any_segment(&|s| s.ends_with("LimitExceeded") || s.ends_with("QuotaExceeded"))
        {
            return Self::QuotaOrLimit;
        }
        Self::Other
    }

    /// Whether waiting and sending the same request again may succeed.
    pub fn is_retryable(self) -> bool {
        matches!(self, Self::Throttled | Self::Busy | Self::Transient)
    }
}

/// Codes that mean "a task holds this resource", where the name alone does not say so.
const BUSY_CODES: &[&str] = &[
    "FailedOperation.ResourceInOperating",
    "UnsupportedOperation.ResourceProcessing",
    // A retried call with the same ClientToken whose first attempt is still being processed.
    "UnsupportedOperation.IdempotentProcessing",
];

/// Codes about the request whose names read like a quota's.
const REQUEST_CODES: &[&str] = &["LimitExceeded.NumberOfFilters"];

impl fmt::Display for ErrorKind {
    fn fmt(&self, f: &mut fmt::Formatter<'_>) -> fmt::Result {
        fmt::Debug::fmt(self, f)
    }
}

/// Everything a call can fail with.
#[derive(Debug, thiserror::Error)]
pub enum Error {
    /// The API answered with an error envelope.
    #[error("{action}: {code}: {message} (RequestId {request_id})")]
    Api {
        action: String,
        kind: ErrorKind,
        code: String,
        message: String,
        request_id: String,
    },
    /// A non-200 answer without an error envelope (a proxy or load balancer in the way).
    #[error("{action}: HTTP {status}: {body}")]
    HttpStatus {
        action: String,
        status: u16,
        body: String,
    },
    /// The request did not complete: connection refused or reset, timeout, TLS failure.
    #[error("{action}: {source}")]
    Transport {
        action: String,
        /// True when the request cannot have reached the server (the connection was never
        /// made), so even a non-idempotent write is safe to send again.
        not_sent: bool,
        #[source]
        source: reqwest::Error,
    },
    /// The answer was not the JSON the action should return.
    #[error("{action}: cannot decode the response: {message}")]
    Decode {
        action: String,
        message: String,
        request_id: Option<String>,
    },
    /// The request could not be encoded, or an argument was invalid before sending.
    #[error("invalid request: {0}")]
    InvalidRequest(String),
    /// Credentials could not be loaded.
    #[error("credentials: {0}")]
    Credentials(String),
    /// The client configuration is wrong (e.g. a malformed endpoint).
    #[error("configuration: {0}")]
    Config(String),
    /// An async task ended in failure.
    #[error("{service} task {task_id} failed: {message}")]
    TaskFailed {
        service: &'static str,
        task_id: String,
        message: String,
    },
    /// An async task was still running at the deadline.
    #[error("{service} task {task_id} still running at the deadline")]
    TaskTimeout {
        service: &'static str,
        task_id: String,
    },
}

impl Error {
    pub fn kind(&self) -> ErrorKind {
        match self {
            Self::Api { kind, .. } => *kind,
            Self::HttpStatus { status, .. } => match status {
                429 => ErrorKind::Throttled,
                500..=599 => ErrorKind::Transient,
                401 | 403 => ErrorKind::Auth,
                _ => ErrorKind::Other,
            },
            Self::Transport { .. } => ErrorKind::Transient,
            Self::Decode { .. } => ErrorKind::Other,
            Self::InvalidRequest(_) | Self::Config(_) => ErrorKind::InvalidInput,
            Self::Credentials(_) => ErrorKind::Auth,
            Self::TaskFailed { .. } => ErrorKind::Other,
            // The task may still finish: poll again later.
            Self::TaskTimeout { .. } => ErrorKind::Transient,
        }
    }

    pub fn is_retryable(&self) -> bool {
        self.kind().is_retryable()
    }

    /// True for a transient failure after which the server may or may not have carried out the
    /// request (a timeout after sending, a 5xx, `InternalError`). Sending a create again could
    /// then create twice, so the client retries these only for read-only actions unless told
    /// otherwise ([`crate::RetryConfig::retry_ambiguous_writes`]).
    pub fn is_ambiguous(&self) -> bool {
        match self {
            Self::Transport { not_sent, .. } => !not_sent,
            Self::HttpStatus { .. } | Self::Api { .. } => self.kind() == ErrorKind::Transient,
            _ => false,
        }
    }

    /// The API error code, e.g. `FailedOperation.ResourceInOperating`.
    pub fn code(&self) -> Option<&str> {
        match self {
            Self::Api { code, .. } => Some(code),
            _ => None,
        }
    }

    pub fn message(&self) -> Option<&str> {
        match self {
            Self::Api { message, .. } => Some(message),
            _ => None,
        }
    }

    pub fn request_id(&self) -> Option<&str> {
        match self {
            Self::Api { request_id, .. } => Some(request_id),
            Self::Decode { request_id, .. } => request_id.as_deref(),
            _ => None,
        }
    }

    /// Builds the error for an error envelope.
    pub fn api(
        action: impl Into<String>,
        code: impl Into<String>,
        message: impl Into<String>,
        request_id: impl Into<String>,
    ) -> Self {
        let code = code.into();
        Self::Api {
            action: action.into(),
            kind: ErrorKind::classify(&code),
            code,
            message: message.into(),
            request_id: request_id.into(),
        }
    }
}

#[cfg(test)]
mod tests {
    use super::ErrorKind::*;
    use super::*;

    #[test]
    fn classifies_the_codes_we_meet() {
        let cases = [
            ("RequestLimitExceeded", Throttled),
            ("RequestLimitExceeded.UinLimitExceeded", Throttled),
            ("FailedOperation.ResourceInOperating", Busy),
            ("OperationDenied.MutexTaskRunning", Busy),
            ("UnsupportedOperation.MutexOperationTaskRunning", Busy),
            ("UnsupportedOperation.NatGatewayIsBusy", Busy),
            ("ResourceNotFound", NotFound),
            ("InvalidParameter.LBIdNotFound", NotFound),
            ("InvalidParameter.ListenerIdNotFound", NotFound),
            ("InvalidAddressId.NotFound", NotFound),
            ("InvalidNetworkInterfaceId.NotFound", NotFound),
            (
                "InvalidParameterValue.NatGatewayDnatRuleNotExists",
                NotFound,
            ),
            ("UnsupportedOperation.NatGatewayEipNotExists", NotFound),
            ("LimitExceeded", QuotaOrLimit),
            // Request errors that read like quotas (the official Go SDK's descriptions).
            ("InvalidParameterValue.LimitExceeded", InvalidInput),
            ("LimitExceeded.NumberOfFilters", InvalidInput),
            ("InvalidParameter.ClientTokenLimitExceeded", InvalidInput),
            ("LimitExceeded.TagQuota", QuotaOrLimit),
            ("InvalidParameterValue.Length", InvalidInput),
            ("LimitExceeded.NatGatewayDnatLimitExceeded", QuotaOrLimit),
            ("AddressQuotaLimitExceeded", QuotaOrLimit),
            ("AddressQuotaLimitExceeded.DailyAllocate", QuotaOrLimit),
            ("ResourceInsufficient", QuotaOrLimit),
            ("AuthFailure.SignatureFailure", Auth),
            ("AuthFailure.SecretIdNotFound", Auth),
            ("AuthFailure.SignatureExpire", Auth),
            ("UnauthorizedOperation", Auth),
            ("InvalidParameter", InvalidInput),
            ("InvalidParameter.PortCheckFailed", InvalidInput),
            ("InvalidParameterValue.Duplicate", InvalidInput),
            (
                "InvalidParameterValue.NatGatewayDnatRuleExisted",
                InvalidInput,
            ),
            ("InvalidPrivateIpAddress.AlreadyBindEip", InvalidInput),
            ("MissingParameter", InvalidInput),
            ("UnknownParameter", InvalidInput),
            ("InvalidAction", InvalidInput),
            ("InternalError", Transient),
            ("InternalError.ModuleError", Transient),
            ("FailedOperation", Other),
            ("ResourceInUse", Other),
            ("UnsupportedOperation.NatGatewayRulePipExists", Other),
        ];
        for (code, want) in cases {
            assert_eq!(ErrorKind::classify(code), want, "{code}");
        }
    }

    #[test]
    fn retryable_kinds() {
        let retryable: Vec<_> = [
            Throttled,
            Busy,
            NotFound,
            QuotaOrLimit,
            Auth,
            InvalidInput,
            Transient,
            Other,
        ]
        .into_iter()
        .filter(|k| k.is_retryable())
        .collect();
        assert_eq!(retryable, [Throttled, Busy, Transient]);
    }

    #[test]
    fn api_error_keeps_code_message_and_request_id() {
        let err = Error::api("CreateListener", "LimitExceeded", "too many", "req-1");
        assert_eq!(err.kind(), QuotaOrLimit);
        assert_eq!(err.code(), Some("LimitExceeded"));
        assert_eq!(err.message(), Some("too many"));
        assert_eq!(err.request_id(), Some("req-1"));
        assert!(!err.is_retryable());
        assert_eq!(
            err.to_string(),
            "CreateListener: LimitExceeded: too many (RequestId req-1)"
        );
    }

    #[test]
    fn http_status_kinds_and_ambiguity() {
        let http = |status| Error::HttpStatus {
            action: "X".into(),
            status,
            body: String::new(),
        };
        assert_eq!(http(503).kind(), Transient);
        assert!(http(503).is_ambiguous());
        assert_eq!(http(429).kind(), Throttled);
        assert!(!http(429).is_ambiguous());
        assert!(Error::api("X", "InternalError", "", "").is_ambiguous());
        assert!(!Error::api("X", "RequestLimitExceeded", "", "").is_ambiguous());
    }
}
