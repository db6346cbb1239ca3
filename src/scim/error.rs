//! SCIM errors as RFC 7644 §3.12 describes them. Pure data: the HTTP adapter turns a
//! [`ScimError`] into a response; nothing here knows about axum.

use serde::Serialize;

pub const ERROR_SCHEMA: &str = "urn:ietf:params:scim:api:messages:2.0:Error";

/// `scimType` values of RFC 7644 §3.12, table 9.
#[derive(Clone, Copy, Debug, PartialEq, Eq)]
pub enum ScimType {
    InvalidFilter,
    TooMany,
    Uniqueness,
    Mutability,
    InvalidSyntax,
    InvalidPath,
    NoTarget,
    InvalidValue,
    InvalidVers,
    Sensitive,
}

impl ScimType {
    pub fn as_str(self) -> &'static str {
        match self {
            ScimType::InvalidFilter => "invalidFilter",
            ScimType::TooMany => "tooMany",
            ScimType::Uniqueness => "uniqueness",
            ScimType::Mutability => "mutability",
            ScimType::InvalidSyntax => "invalidSyntax",
            ScimType::InvalidPath => "invalidPath",
            ScimType::NoTarget => "noTarget",
            ScimType::InvalidValue => "invalidValue",
            ScimType::InvalidVers => "invalidVers",
            ScimType::Sensitive => "sensitive",
        }
    }
}

/// One error as the SCIM API reports it: an HTTP status, an optional `scimType` and a
/// `detail` a human can act on. 5xx details are always generic (the cause is logged where
/// the error is converted, never sent to the client).
#[derive(Clone, Debug, PartialEq, Eq)]
pub struct ScimError {
    pub status: u16,
    pub scim_type: Option<ScimType>,
    pub detail: String,
}

impl std::fmt::Display for ScimError {
    fn fmt(&self, f: &mut std::fmt::Formatter<'_>) -> std::fmt::Result {
        write!(f, "{} {}", self.status, self.detail)
    }
}

impl std::error::Error for ScimError {}

impl ScimError {
    pub fn new(status: u16, scim_type: Option<ScimType>, detail: impl Into<String>) -> Self {
        ScimError {
            status,
            scim_type,
            detail: detail.into(),
        }
    }
    pub fn bad_request(scim_type: ScimType, detail: impl Into<String>) -> Self {
        Self::new(400, Some(scim_type), detail)
    }
    pub fn invalid_filter(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidFilter, detail)
    }
    pub fn invalid_value(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidValue, detail)
    }
    pub fn invalid_syntax(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidSyntax, detail)
    }
    pub fn invalid_path(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::InvalidPath, detail)
    }
    pub fn no_target(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::NoTarget, detail)
    }
    pub fn mutability(detail: impl Into<String>) -> Self {
        Self::bad_request(ScimType::Mutability, detail)
    }
    pub fn uniqueness(detail: impl Into<String>) -> Self {
        Self::new(409, Some(ScimType::Uniqueness), detail)
    }
    pub fn not_found(detail: impl Into<String>) -> Self {
        Self::new(404, None, detail)
    }
    pub fn unauthorized() -> Self {
        Self::new(
            401,
            None,
            "Authorization failed: send a valid SCIM bearer token for this organization",
        )
    }
    pub fn too_many_requests() -> Self {
        Self::new(
            429,
            None,
            "Too many requests without a valid token from this address; retry later",
        )
    }
    pub fn precondition_failed() -> Self {
        Self::new(
            412,
            None,
            "The resource version does not match If-Match; read it again and retry",
        )
    }
    pub fn payload_too_large(limit: usize) -> Self {
        Self::new(
            413,
            Some(ScimType::TooMany),
            format!("Request body exceeds the limit of {limit} bytes"),
        )
    }
    pub fn not_implemented(detail: impl Into<String>) -> Self {
        Self::new(501, None, detail)
    }
    /// The database gave up on the request for a concurrent one's sake; nothing was kept.
    /// Sent with `Retry-After`.
    pub fn busy() -> Self {
        Self::new(
            503,
            None,
            "The directory was busy with a conflicting change and kept nothing of this request; retry it",
        )
    }

    pub fn internal() -> Self {
        Self::new(
            500,
            None,
            "Internal server error; the cause has been logged",
        )
    }

    /// The RFC 7644 §3.12 body. `status` is a string, as the RFC's examples show and as
    /// Okta's and Entra's validators expect.
    pub fn body(&self) -> ErrorBody<'_> {
        ErrorBody {
            schemas: [ERROR_SCHEMA],
            status: self.status.to_string(),
            scim_type: self.scim_type.map(ScimType::as_str),
            detail: &self.detail,
        }
    }
}

#[derive(Serialize)]
pub struct ErrorBody<'a> {
    pub schemas: [&'static str; 1],
    pub status: String,
    #[serde(rename = "scimType", skip_serializing_if = "Option::is_none")]
    pub scim_type: Option<&'static str>,
    pub detail: &'a str,
}
