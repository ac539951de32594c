//! API errors, answered as the cloud does: HTTP 200 with `Response.Error.{Code,Message}`.
use std::fmt::Display;

/// One API error. Codes are the cloud's own strings (`InvalidParameter.PortCheckFailed`, ...).
#[derive(Debug, Clone, PartialEq, Eq, thiserror::Error)]
#[error("{code}: {message}")]
pub struct ApiError {
    pub code: String,
    pub message: String,
}

pub type ApiResult<T> = Result<T, ApiError>;

impl ApiError {
    pub fn new(code: impl Into<String>, message: impl Into<String>) -> Self {
        Self {
            code: code.into(),
            message: message.into(),
        }
    }

    pub fn missing_parameter(path: &str) -> Self {
        Self::new(
            "MissingParameter",
            format!("The request is missing a required parameter `{path}`."),
        )
    }

    pub fn unknown_parameter(path: &str) -> Self {
        Self::new(
            "UnknownParameter",
            format!("The parameter `{path}` is not recognized."),
        )
    }

    pub fn invalid_type(path: &str, expected: &str) -> Self {
        Self::new(
            "InvalidParameter",
            format!("The value type of parameter `{path}` is not valid, expected {expected}."),
        )
    }

    pub fn invalid_parameter(message: impl Display) -> Self {
        Self::new("InvalidParameter", message.to_string())
    }

    pub fn invalid_value(message: impl Display) -> Self {
        Self::new("InvalidParameterValue", message.to_string())
    }

    /// A list parameter longer than the action allows.
    pub fn too_many(path: &str, max: usize) -> Self {
        Self::new(
            "InvalidParameterValue.Length",
            format!("The parameter `{path}` accepts at most {max} items."),
        )
    }

    pub fn range(path: &str, value: impl Display, min: i64, max: i64) -> Self {
        Self::new(
            "InvalidParameterValue.Range",
            format!("The value `{value}` of parameter `{path}` is out of range [{min}, {max}]."),
        )
    }

    pub fn internal(message: impl Display) -> Self {
        Self::new("InternalError", message.to_string())
    }
}
