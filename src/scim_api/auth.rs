//! Authentication and the provisioning-log middleware for every `/scim/v2/{org}` request.
//! The request body is read once here (bounded by the configured limit), redacted for the
//! log, and handed on; the token is checked against its SHA-256; the event is written by
//! the handler's transaction for changes, or here once the response is known.

use super::response::{error_response, ScimErrorDetail, ScimTypeTag};
use super::{client_from_user_agent, ScimState};
use crate::auth::token;
use crate::directory::{new_id, now_ms, Event};
use crate::net::{truncate, ClientAddr};
use crate::provisioning::log::RequestLog;
use crate::provisioning::ScimContext;
use crate::scim::ScimError;
use crate::store::events::{ClientSeen, ReadTraffic};
use crate::store::orgs;
use axum::body::Body;
use axum::extract::{OriginalUri, Request, State};
use axum::http::header;
use axum::middleware::Next;
use axum::response::Response;
use serde_json::Value;

/// Request bodies are kept in the log up to this size.
const LOGGED_BODY_MAX: usize = 16 * 1024;
/// Query strings are kept in the log up to this many characters.
const LOGGED_QUERY_MAX: usize = 4 * 1024;
/// Methods (hyper accepts any token as a method) and authenticated paths are kept up to
/// these lengths.
pub(crate) const METHOD_MAX: usize = 16;
pub(crate) const LOGGED_PATH_MAX: usize = 2048;
/// Paths and user agents of requests without a valid token are kept up to these lengths.
const UNAUTHENTICATED_PATH_MAX: usize = 200;
const USER_AGENT_MAX: usize = 200;

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
    let addr = ClientAddr::of(&parts.extensions);
    let user_agent = header_str(header::USER_AGENT).unwrap_or_default();
    let presented = header_str(header::AUTHORIZATION);
    let hash = presented
        .as_deref()
        .and_then(token::from_authorization)
        .map(token::hash);

    // An address that has used up its allowance of unauthenticated requests is turned away
    // before any work; one presenting a token still gets it checked (a valid token from a
    // shared address must keep working).
    if hash.is_none() {
        if let Some(wait) = st.unauthenticated.blocked(addr.0) {
            discard(body).await;
            return too_many(wait);
        }
    }
    // A token that verified a moment ago is not read again (see `auth::verified`); the
    // generation is taken before the read, so a change committed meanwhile spoils the entry.
    let generation = (st.store.credentials_generation(), std::time::Instant::now());
    let cached = hash
        .as_deref()
        .and_then(|h| st.verified.get(&org_login, h, generation.0));
    let from_cache = cached.is_some();
    let found = match (cached, &hash) {
        (Some((org, token)), Some(h)) => Ok(Some((org, Some((token, h.clone()))))),
        _ => match st.store.read().await {
            Ok(mut c) => {
                orgs::find_org_with_token(&mut c, &org_login, hash.as_deref().unwrap_or("")).await
            }
            Err(e) => Err(e),
        },
    };
    let (org, found) = match found {
        Ok(Some((org, token))) => (Some(org), token),
        Ok(None) => (None, None),
        Err(e) => {
            tracing::error!(error = %e, "store failure while authenticating a SCIM request");
            return error_response(&ScimError::internal());
        }
    };
    let now = now_ms();
    let known = match (found, &hash) {
        (Some((t, stored)), Some(hash)) if token::hashes_equal(&stored, hash) => Some(t),
        _ => None,
    };
    // Only tokens that work now are kept: a revoked or expired one is read every time.
    if let (false, Some(org), Some(t), Some(h)) = (from_cache, &org, &known, &hash) {
        if t.usable_at(now) {
            st.verified.put(&org_login, h, generation, org, t);
        }
    }
    let (Some(org), Some(token)) = (org.clone(), known.clone().filter(|t| t.usable_at(now))) else {
        // Same answer for an unknown org, a missing, wrong, expired or revoked token, and a
        // token of another org: nothing about this URL's org is revealed. The body is never
        // read and the log entry holds no content: an attacker cannot fill an org's log.
        if let Err(wait) = st.unauthenticated.spend(addr.0) {
            tracing::debug!(%addr, "unauthenticated SCIM requests over the limit");
            discard(body).await;
            return too_many(wait);
        }
        discard(body).await;
        let resp = error_response(&ScimError::unauthorized());
        if let Some(org) = org {
            // A known token that was revoked or has expired is the org's own identity
            // provider still calling: the dashboard warns about it. A token nobody issued
            // is attributed to no client and moves no client's "last request".
            let client = match &known {
                Some(_) => client_from_user_agent(&user_agent).to_string(),
                None => "unknown".to_string(),
            };
            let log = RequestLog::new(Event {
                path: truncate(&path, UNAUTHENTICATED_PATH_MAX),
                ..new_event(
                    &org.id,
                    now,
                    parts.method.as_str(),
                    client,
                    addr,
                    &user_agent,
                )
            });
            if let Some(t) = &known {
                log.set_token(&t.id, &t.label);
            }
            return finish(&st, &log, resp).await;
        }
        return resp;
    };

    let client = client_from_user_agent(&user_agent).to_string();
    let log = RequestLog::new(Event {
        path: truncate(&path, LOGGED_PATH_MAX),
        query: uri.query().map(|q| truncate(q, LOGGED_QUERY_MAX)),
        ..new_event(
            &org.id,
            now,
            parts.method.as_str(),
            client.clone(),
            addr,
            &user_agent,
        )
    });
    log.set_token(&token.id, &token.label);
    let read = axum::body::to_bytes(body, st.config.max_body_bytes);
    let bytes = match tokio::time::timeout(st.config.body_timeout, read).await {
        Ok(Ok(b)) => b,
        Err(_) => {
            let e = ScimError::new(408, None, "The request body did not arrive in time");
            return finish(&st, &log, error_response(&e)).await;
        }
        Ok(Err(e)) if !is_too_large(&e) => {
            let e = ScimError::invalid_syntax("The request body could not be read");
            return finish(&st, &log, error_response(&e)).await;
        }
        Ok(Err(_)) => {
            return finish(
                &st,
                &log,
                error_response(&ScimError::payload_too_large(st.config.max_body_bytes)),
            )
            .await
        }
    };
    if !bytes.is_empty() {
        log.set_request_body(redacted_body(&bytes));
    }
    if token.last_used_at.is_none_or(|t| t < now - 60_000) {
        st.log.touch_token(token.id.clone(), now).await;
        if let Some(h) = &hash {
            st.verified.touched(&org_login, h, now);
        }
    }

    let base = match &st.config.public_url {
        Some(u) => u.trim_end_matches('/').to_string(),
        None => crate::net::base_url_from_headers(&parts.headers),
    };
    let ctx = ScimContext {
        base_url: format!("{base}/scim/v2/{}", org.login),
        org,
        token: Some(token),
        client,
        remote_addr: Some(addr.to_string()),
    };
    parts.extensions.insert(ctx);
    parts.extensions.insert(log.clone());
    let resp = next
        .run(Request::from_parts(parts, Body::from(bytes)))
        .await;
    finish(&st, &log, resp).await
}

/// Reads and drops what a client that will not be served already sent, up to a small
/// bound: closing a socket with unread data makes the kernel reset the connection, and the
/// client may then never see its 401. Anything larger, or slower, is cut off.
async fn discard(body: Body) {
    use http_body_util::BodyExt;
    const DRAIN_MAX: usize = 64 * 1024;
    let mut body = body;
    let mut seen = 0usize;
    let drain = async {
        while let Some(Ok(frame)) = body.frame().await {
            seen += frame.data_ref().map_or(0, |d| d.len());
            if seen > DRAIN_MAX {
                break;
            }
        }
    };
    let _ = tokio::time::timeout(std::time::Duration::from_secs(1), drain).await;
}

/// Whether a body read failed on the size limit (rather than a broken or stalled client).
fn is_too_large(e: &axum::Error) -> bool {
    let mut source: Option<&(dyn std::error::Error + 'static)> = Some(e);
    while let Some(s) = source {
        if s.is::<http_body_util::LengthLimitError>() {
            return true;
        }
        source = s.source();
    }
    false
}

/// The log entry of a request to `org`, before its outcome is known: everything taken from
/// the client is clipped; path, query and body are the caller's to add.
fn new_event(
    org_id: &str,
    now: i64,
    method: &str,
    client: String,
    addr: ClientAddr,
    user_agent: &str,
) -> Event {
    Event {
        id: new_id(),
        org_id: Some(org_id.to_string()),
        occurred_at: now,
        token_id: None,
        token_label: None,
        method: truncate(method, METHOD_MAX),
        path: String::new(),
        query: None,
        client,
        status: 0,
        scim_type: None,
        duration_us: 0,
        request_body: None,
        response_summary: None,
        remote_addr: Some(addr.to_string()),
        user_agent: Some(truncate(user_agent, USER_AGENT_MAX)),
        changes: Vec::new(),
    }
}

/// 429 with `Retry-After` and the SCIM error body.
fn too_many(wait: std::time::Duration) -> Response {
    let mut resp = error_response(&ScimError::too_many_requests());
    resp.headers_mut()
        .insert(header::RETRY_AFTER, crate::net::retry_after(wait));
    resp
}

/// Sends the event of a request that did not write it in a transaction.
async fn finish(st: &ScimState, log: &RequestLog, resp: Response) -> Response {
    if !log.is_written() {
        let scim_type = resp
            .extensions()
            .get::<ScimTypeTag>()
            .and_then(|t| t.0)
            .map(str::to_string);
        // A failure's summary is the error detail the client was sent.
        let detail = resp
            .extensions()
            .get::<ScimErrorDetail>()
            .map(|d| d.0.clone());
        let event = log.finish(resp.status().as_u16(), scim_type, detail);
        let counted = st
            .config
            .reads_per_minute
            .then(|| ReadTraffic::of(&event))
            .flatten();
        if let Some(tally) = counted {
            st.log.read(tally, ClientSeen::of(&event)).await;
        } else if event.org_id.is_some() {
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
