//! `POST /Bulk` (RFC 7644 §3.7): operations run in order, each in its own transaction and
//! with its own provisioning-log entry; `bulkId:` references resolve to ids created earlier
//! in the same request; `failOnErrors` stops processing after that many errors.

use super::handlers::parse_json;
use super::response::{ApiResult, ScimResponse};
use super::ScimState;
use crate::directory::{new_id, now_ms, Event};
use crate::provisioning::log::RequestLog;
use crate::provisioning::users::UserWrite;
use crate::provisioning::{etag, groups, parse_etag, users, ScimContext};
use crate::scim::json::get_ci;
use crate::scim::patch::parse_patch_request;
use crate::scim::schema::{BULK_REQUEST_SCHEMA, BULK_RESPONSE_SCHEMA};
use crate::scim::ScimError;
use axum::extract::State;
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Map, Value};
use std::collections::HashMap;

pub async fn bulk(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let obj = body
        .as_object()
        .ok_or_else(|| ScimError::invalid_syntax("The bulk request must be a JSON object"))?;
    if let Some(s) = get_ci(obj, "schemas") {
        if !s.as_array().is_some_and(|a| {
            a.iter().any(|v| {
                v.as_str()
                    .is_some_and(|v| v.eq_ignore_ascii_case(BULK_REQUEST_SCHEMA))
            })
        }) {
            return Err(ScimError::invalid_syntax(format!(
                "The bulk request must declare {BULK_REQUEST_SCHEMA}"
            ))
            .into());
        }
    }
    let ops = get_ci(obj, "Operations")
        .and_then(Value::as_array)
        .ok_or_else(|| ScimError::invalid_syntax("The bulk request needs an 'Operations' array"))?;
    if ops.len() > st.config.bulk_max_operations {
        return Err(ScimError::new(
            413,
            Some(crate::scim::ScimType::TooMany),
            format!(
                "At most {} operations per bulk request",
                st.config.bulk_max_operations
            ),
        )
        .into());
    }
    let fail_on_errors = match get_ci(obj, "failOnErrors") {
        None | Some(Value::Null) => None,
        Some(v) => Some(v.as_u64().filter(|n| *n > 0).ok_or_else(|| {
            ScimError::invalid_value("'failOnErrors' must be a positive integer")
        })?),
    };
    let mut ids: HashMap<String, String> = HashMap::new();
    let mut results = Vec::with_capacity(ops.len());
    let mut errors = 0u64;
    for op in ops {
        if fail_on_errors.is_some_and(|n| errors >= n) {
            break;
        }
        let (result, failed) = run_op(&st, &ctx, op, &mut ids).await;
        if failed {
            errors += 1;
        }
        results.push(result);
    }
    Ok(ScimResponse::ok(
        json!({"schemas": [BULK_RESPONSE_SCHEMA], "Operations": results}),
    ))
}

fn child_log(ctx: &ScimContext, method: &str, path: &str, data: Option<&Value>) -> RequestLog {
    RequestLog::new(Event {
        id: new_id(),
        org_id: Some(ctx.org.id.clone()),
        occurred_at: now_ms(),
        token_id: ctx.token.as_ref().map(|t| t.id.clone()),
        token_label: ctx.token.as_ref().map(|t| t.label.clone()),
        method: crate::net::truncate(method, super::auth::METHOD_MAX),
        path: crate::net::truncate(
            &format!(
                "{}{path} (bulk)",
                ctx.base_url
                    .split_once("/scim/")
                    .map(|(_, p)| format!("/scim/{p}"))
                    .unwrap_or_default()
            ),
            super::auth::LOGGED_PATH_MAX,
        ),
        query: None,
        client: ctx.client.clone(),
        status: 0,
        scim_type: None,
        duration_us: 0,
        request_body: data.map(|d| super::auth::redacted_body(d.to_string().as_bytes())),
        response_summary: None,
        remote_addr: ctx.remote_addr.clone(),
        user_agent: None,
        changes: Vec::new(),
    })
}

/// Replaces every string `"bulkId:x"` with the id created for `x`.
fn resolve(v: &mut Value, ids: &HashMap<String, String>) -> Result<(), ScimError> {
    match v {
        Value::String(s) => {
            if let Some(b) = s.strip_prefix("bulkId:") {
                *s = ids.get(b).cloned().ok_or_else(|| {
                    ScimError::invalid_value(format!(
                        "bulkId '{b}' does not name an earlier successful POST in this request"
                    ))
                })?;
            }
        }
        Value::Array(a) => a.iter_mut().try_for_each(|x| resolve(x, ids))?,
        Value::Object(o) => o.values_mut().try_for_each(|x| resolve(x, ids))?,
        _ => {}
    }
    Ok(())
}

async fn run_op(
    st: &ScimState,
    ctx: &ScimContext,
    op: &Value,
    ids: &mut HashMap<String, String>,
) -> (Value, bool) {
    let o = op.as_object().cloned().unwrap_or_default();
    let method = get_ci(&o, "method")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_ascii_uppercase();
    let bulk_id = get_ci(&o, "bulkId")
        .and_then(Value::as_str)
        .map(str::to_string);
    let path = get_ci(&o, "path")
        .and_then(Value::as_str)
        .unwrap_or("")
        .to_string();
    let mut out = Map::new();
    out.insert("method".into(), Value::String(method.clone()));
    if let Some(b) = &bulk_id {
        out.insert("bulkId".into(), Value::String(b.clone()));
    }
    let log = child_log(ctx, &method, &path, get_ci(&o, "data"));
    let result = execute(st, ctx, &log, &o, &method, &path, bulk_id.as_deref(), ids).await;
    match result {
        Ok((status, location, version)) => {
            out.insert("status".into(), Value::String(status.to_string()));
            if let Some(l) = location {
                out.insert("location".into(), Value::String(l));
            }
            if let Some(v) = version {
                out.insert("version".into(), Value::String(etag(v)));
            }
            (Value::Object(out), false)
        }
        Err(e) => {
            if !log.is_written() {
                st.log
                    .record(log.finish(
                        e.status,
                        e.scim_type.map(|t| t.as_str().to_string()),
                        Some(super::response::logged_detail(&e.detail)),
                    ))
                    .await;
            }
            out.insert("status".into(), Value::String(e.status.to_string()));
            out.insert(
                "response".into(),
                serde_json::to_value(e.body()).unwrap_or(Value::Null),
            );
            (Value::Object(out), true)
        }
    }
}

#[allow(clippy::too_many_arguments)]
async fn execute(
    st: &ScimState,
    ctx: &ScimContext,
    log: &RequestLog,
    o: &Map<String, Value>,
    method: &str,
    path: &str,
    bulk_id: Option<&str>,
    ids: &mut HashMap<String, String>,
) -> Result<(u16, Option<String>, Option<i64>), ScimError> {
    let mut data = get_ci(o, "data").cloned().unwrap_or(Value::Null);
    resolve(&mut data, ids)?;
    let if_match = get_ci(o, "version")
        .and_then(Value::as_str)
        .and_then(parse_etag)
        .flatten();
    let segments: Vec<&str> = path.trim_matches('/').split('/').collect();
    let mut target_id = segments.get(1).map(|s| s.to_string());
    if let Some(t) = &mut target_id {
        let mut v = Value::String(t.clone());
        resolve(&mut v, ids)?;
        *t = v.as_str().unwrap_or_default().to_string();
    }
    let resource = segments.first().copied().unwrap_or("");
    let base = &ctx.base_url;
    match (method, resource, target_id) {
        ("POST", "Users", None) => {
            let bulk_id = bulk_id.ok_or_else(|| ScimError::invalid_value("A bulk POST needs a 'bulkId'"))?;
            let u = users::create_user(&st.store, ctx, log, &data).await?;
            ids.insert(bulk_id.to_string(), u.id.clone());
            Ok((201, Some(format!("{base}/Users/{}", u.id)), Some(u.version)))
        }
        ("POST", "Groups", None) => {
            let bulk_id = bulk_id.ok_or_else(|| ScimError::invalid_value("A bulk POST needs a 'bulkId'"))?;
            let (g, _) = groups::create_group(&st.store, ctx, log, &data).await?;
            ids.insert(bulk_id.to_string(), g.id.clone());
            Ok((201, Some(format!("{base}/Groups/{}", g.id)), Some(g.version)))
        }
        ("PUT", "Users", Some(id)) => {
            let u = users::write_user(&st.store, ctx, log, &id, UserWrite::Replace(&data), if_match).await?;
            Ok((200, Some(format!("{base}/Users/{id}")), Some(u.version)))
        }
        ("PATCH", "Users", Some(id)) => {
            let ops = parse_patch_request(&data)?;
            let u = users::write_user(&st.store, ctx, log, &id, UserWrite::Patch(&ops), if_match).await?;
            Ok((200, Some(format!("{base}/Users/{id}")), Some(u.version)))
        }
        ("DELETE", "Users", Some(id)) => {
            users::delete_user(&st.store, ctx, log, &id, if_match).await?;
            Ok((204, Some(format!("{base}/Users/{id}")), None))
        }
        ("PUT", "Groups", Some(id)) => {
            let g = groups::replace_group(&st.store, ctx, log, &id, &data, if_match).await?;
            Ok((200, Some(format!("{base}/Groups/{id}")), Some(g.version)))
        }
        ("PATCH", "Groups", Some(id)) => {
            let ops = parse_patch_request(&data)?;
            let g = groups::patch_group(&st.store, ctx, log, &id, &ops, if_match, 200).await?;
            Ok((200, Some(format!("{base}/Groups/{id}")), Some(g.version)))
        }
        ("DELETE", "Groups", Some(id)) => {
            groups::delete_group(&st.store, ctx, log, &id, if_match).await?;
            Ok((204, Some(format!("{base}/Groups/{id}")), None))
        }
        _ => Err(ScimError::invalid_value(format!("Unsupported bulk operation {method} {path}: use POST /Users, /Groups or PUT, PATCH, DELETE /Users/{{id}}, /Groups/{{id}}"))),
    }
}
