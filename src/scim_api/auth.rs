//! Authentication and the provisioning-log middleware for every `/scim/v2/{org}` request.
//! The request body is read once here (bounded by the configured limit), redacted for the
//! log, and handed on; the token is checked against its SHA-256; the event is written by
//! the handler's transaction for changes, or here once the response is known.

use super::response::{error_response, ScimTypeTag};
use super::{client_from_user_agent, ScimState};
use crate::auth::token;
use crate::directory::{new_id, now_ms, Event};
use crate::provisioning::log::RequestLog;
use crate::provisioning::ScimContext;
use crate::scim::ScimError;
use crate::store::orgs;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

/// Request bodies are kept in the log up to this size.
const LOGGED_BODY_MAX: usize = 16 * 1024;

pub async fn authenticate(State(st): State<ScimState>, req: Request, next: Next) -> Response {
    let (mut parts, body) = req.into_parts();
    let uri = parts
        .extensions
        .get::<OriginalUri>()
        .map(|o| o.0.clone())
        .unwrap_or_else(|| parts.uri.clone());
    let path = uri.path().to_string();
    let org_login = path
        .trim_start_matches("/scim/v2/")
        .split('/')
        .next()
        .unwrap_or_default()
        .to_string();
    let header_str = |name: header::HeaderName| {
        parts
            .headers
            .get(name)
            .and_then(|v| v.to_str().ok())
            .map(str::to_string)
    };
    let client =
        client_from_user_agent(&header_str(header::USER_AGENT).unwrap_or_default()).to_string();

    let bytes = axum::body::to_bytes(body, st.config.max_body_bytes).await;
    let log = RequestLog::new(Event {
        id: new_id(),
        org_id: None,
        occurred_at: now_ms(),
        token_id: None,
        token_label: None,
        method: parts.method.to_string(),
        path: path.clone(),
        query: uri.query().map(str::to_string),
        client: client.clone(),
        status: 0,
        scim_type: None,
        duration_us: 0,
        request_body: bytes
            .as_ref()
            .ok()
            .filter(|b| !b.is_empty())
            .map(|b| redacted_body(b)),
        response_summary: None,
        changes: Vec::new(),
    });

    let presented = header_str(header::AUTHORIZATION);
    let hash = presented
        .as_deref()
        .and_then(token::from_authorization)
        .map(token::hash);
    let found = match st.store.read().await {
        Ok(mut c) => {
            orgs::find_org_with_token(&mut c, &org_login, hash.as_deref().unwrap_or("")).await
        }
        Err(e) => Err(e),
    };
    let (org, found) = match found {
        Ok(Some((org, token))) => (Some(org), token),
        Ok(None) => (None, None),
        Err(e) => {
            tracing::error!(error = %e, "store failure while authenticating a SCIM request");
            return finish(&st, &log, error_response(&ScimError::internal())).await;
        }
    };
    if let Some(o) = &org {
        log.set_org(&o.id);
    }
    let bytes = match bytes {
        Ok(b) => b,
        Err(_) => {
            return finish(
                &st,
                &log,
                error_response(&ScimError::payload_too_large(st.config.max_body_bytes)),
            )
            .await
        }
    };

    let now = now_ms();
    let mut authorized = None;
    if let (Some((t, stored)), Some(hash)) = (found, &hash) {
        if token::hashes_equal(&stored, hash) {
            log.set_token(&t.id, &t.label);
            if t.usable_at(now) {
                authorized = Some(t);
            }
        }
    }
    let (Some(org), Some(token)) = (org, authorized) else {
        // Same answer for an unknown org, a missing, wrong, expired or revoked token, and a
        // token of another org: nothing about this URL's org is revealed.
        return finish(&st, &log, error_response(&ScimError::unauthorized())).await;
    };
    if token.last_used_at.is_none_or(|t| t < now - 60_000) {
        st.log.touch_token(token.id.clone(), now).await;
    }

    let base = match &st.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => {
            let host = header_str(header::HOST).unwrap_or_else(|| "localhost".into());
            let proto = header_str(header::HeaderName::from_static("x-forwarded-proto"))
                .unwrap_or_else(|| "http".into());
            format!("{proto}://{host}")
        }
    };
    let ctx = ScimContext {
        base_url: format!("{base}/scim/v2/{}", org.login),
        org,
        token: Some(token),
        client,
    };
    parts.extensions.insert(ctx);
    parts.extensions.insert(log.clone());
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    finish(&st, &log, resp).await
}

/// Sends the event of a request that did not write it in a transaction.
async fn finish(st: &ScimState, log: &RequestLog, resp: Response) -> Response {
    if !log.is_written() {
        let scim_type = resp
            .extensions()
            .get::<ScimTypeTag>()
            .and_then(|t| t.0)
            .map(str::to_string);
        let event = log.finish(resp.status().as_u16(), scim_type, None);
        if event.org_id.is_some() {
            st.log.record(event).await;
        }
    } else if let Some(seen) = log.seen() {
        st.log.seen(seen).await;
    }
    resp
}

/// The body as logged: JSON with secret-looking values replaced, capped in size.
pub fn redacted_body(bytes: &[u8]) -> String {
    let text = match serde_json::from_slice::<Value>(bytes) {
        Ok(mut v) => {
            redact(&mut v);
            v.to_string()
        }
        Err(_) => format!("<{} bytes, not JSON>", bytes.len()),
    };
    if text.len() > LOGGED_BODY_MAX {
        let mut cut = LOGGED_BODY_MAX;
        while !text.is_char_boundary(cut) {
            cut -= 1;
        }
        format!("{}… [truncated, {} bytes in all]", &text[..cut], text.len())
    } else {
        text
    }
}

fn is_secret_key(k: &str) -> bool {
    let k = k.to_ascii_lowercase();
    k.contains("password") || k.contains("secret") || k.contains("token")
}

fn redact(v: &mut Value) {
    match v {
        Value::Object(o) => {
            // A PATCH operation `{"path": "password", "value": …}` hides its secret in `value`.
            let path_is_secret = o.iter().any(|(k, p)| {
                k.eq_ignore_ascii_case("path") && p.as_str().is_some_and(is_secret_key)
            });
            for (k, val) in o.iter_mut() {
                if is_secret_key(k) || (path_is_secret && k.eq_ignore_ascii_case("value")) {
                    *val = Value::String("[redacted]".into());
                } else {
                    redact(val);
                }
            }
        }
        Value::Array(a) => a.iter_mut().for_each(redact),
        _ => {}
    }
}

#[cfg(test)]
mod tests {
    use super::*;

    #[test]
    fn passwords_are_redacted_everywhere() {
        let body = br#"{"userName":"a","password":"hunter2","Operations":[{"op":"replace","path":"password","value":"p2"},{"op":"replace","value":{"Password":"p3"}}]}"#;
        let r = redacted_body(body);
        assert!(
            !r.contains("hunter2") && !r.contains("p2") && !r.contains("p3"),
            "{r}"
        );
        assert!(r.contains("\"userName\":\"a\""));
        assert!(redacted_body(b"not json").contains("not JSON"));
        let big = format!("{{\"x\":\"{}\"}}", "é".repeat(20_000));
        assert!(redacted_body(big.as_bytes()).contains("truncated"));
    }
}
