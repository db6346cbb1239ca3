//! SCIM responses: `application/scim+json`, ETag and Location headers, and the RFC 7644
//! §3.12 error body for every [`ScimError`].

use crate::scim::ScimError;
use axum::http::{header, HeaderValue, StatusCode};
use axum::response::{IntoResponse, Response};
use serde_json::Value;

pub const SCIM_CONTENT_TYPE: &str = "application/scim+json";

/// The `scimType` of an error response, for the provisioning log.
#[derive(Clone, Debug)]
pub struct ScimTypeTag(pub Option<&'static str>);

/// The `detail` of an error response, for the provisioning log (an admin sees what the
/// identity provider was told).
#[derive(Clone, Debug)]
pub struct ScimErrorDetail(pub String);

/// An error's detail as the log keeps it: scimgate's own words, but they may quote the
/// client's input, so they are bounded.
pub fn logged_detail(detail: &str) -> String {
    const MAX_CHARS: usize = 500;
    match detail.char_indices().nth(MAX_CHARS) {
        Some((cut, _)) => format!("{}…", &detail[..cut]),
        None => detail.to_string(),
    }
}

pub struct ScimResponse {
    pub status: StatusCode,
    pub body: Option<Value>,
    pub etag: Option<String>,
    pub location: Option<String>,
}

impl ScimResponse {
    pub fn ok(body: Value) -> Self {
        ScimResponse {
            status: StatusCode::OK,
            body: Some(body),
            etag: None,
            location: None,
        }
    }
    pub fn no_content() -> Self {
        ScimResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: None,
            location: None,
        }
    }
}

fn json_response(status: StatusCode, body: &impl serde::Serialize) -> Response {
    let bytes = serde_json::to_vec(body).unwrap_or_default();
    let mut r = (status, bytes).into_response();
    r.headers_mut().insert(
        header::CONTENT_TYPE,
        HeaderValue::from_static(SCIM_CONTENT_TYPE),
    );
    r
}

impl IntoResponse for ScimResponse {
    fn into_response(self) -> Response {
        let mut r = match &self.body {
            Some(b) => json_response(self.status, b),
            None => self.status.into_response(),
        };
        if let Some(e) = self.etag.and_then(|e| HeaderValue::from_str(&e).ok()) {
            r.headers_mut().insert(header::ETAG, e);
        }
        if let Some(l) = self.location.and_then(|l| HeaderValue::from_str(&l).ok()) {
            r.headers_mut().insert(header::LOCATION, l);
        }
        r
    }
}

/// Newtype so the foreign [`ScimError`] can be an axum response.
pub struct ApiError(pub ScimError);

impl From<ScimError> for ApiError {
    fn from(e: ScimError) -> Self {
        ApiError(e)
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        error_response(&self.0)
    }
}

pub fn error_response(e: &ScimError) -> Response {
    let status = StatusCode::from_u16(e.status).unwrap_or(StatusCode::INTERNAL_SERVER_ERROR);
    let mut r = json_response(status, &e.body());
    if e.status == 503 {
        // A transaction lost to a concurrent one (see `ScimError::busy`): soon is fine.
        r.headers_mut()
            .insert(header::RETRY_AFTER, HeaderValue::from_static("1"));
    }
    if e.status == 401 {
        r.headers_mut().insert(
            header::WWW_AUTHENTICATE,
            HeaderValue::from_static("Bearer realm=\"scimgate\""),
        );
    }
    r.extensions_mut()
        .insert(ScimTypeTag(e.scim_type.map(|t| t.as_str())));
    r.extensions_mut()
        .insert(ScimErrorDetail(logged_detail(&e.detail)));
    r
}

pub type ApiResult = Result<ScimResponse, ApiError>;
