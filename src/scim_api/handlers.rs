//! One handler per SCIM operation: parse, delegate to [`crate::provisioning`], render.

use super::response::{ApiError, ApiResult, ScimResponse};
use super::ScimState;
use crate::provisioning::log::RequestLog;
use crate::provisioning::render::{group_json, user_json};
use crate::provisioning::schemas::REGISTRY;
use crate::provisioning::users::UserWrite;
use crate::provisioning::{etag, groups, parse_etag, users, ScimContext};
use crate::scim::discovery;
use crate::scim::list::ListParams;
use crate::scim::patch::parse_patch_request;
use crate::scim::resource::Projection;
use crate::scim::schema::{ResourceKind, LIST_RESPONSE_SCHEMA};
use crate::scim::ScimError;
use axum::extract::{Path, RawQuery, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::Extension;
use bytes::Bytes;
use serde_json::{json, Value};

pub fn parse_json(bytes: &[u8]) -> Result<Value, ScimError> {
    if bytes.iter().all(u8::is_ascii_whitespace) {
        return Err(ScimError::invalid_syntax(
            "The request body is empty; send a JSON object",
        ));
    }
    serde_json::from_slice(bytes)
        .map_err(|e| ScimError::invalid_syntax(format!("The request body is not valid JSON: {e}")))
}

fn pairs(raw: &Option<String>) -> Vec<(String, String)> {
    raw.as_deref()
        .map(|q| form_urlencoded::parse(q.as_bytes()).into_owned().collect())
        .unwrap_or_default()
}

fn params(st: &ScimState, raw: &Option<String>) -> Result<ListParams, ScimError> {
    let p = pairs(raw);
    ListParams::from_pairs(
        p.iter().map(|(k, v)| (k.as_str(), v.as_str())),
        st.config.default_count,
        st.config.max_count,
    )
}

fn projection(kind: ResourceKind, raw: &Option<String>) -> Projection {
    let p = pairs(raw);
    let get = |k: &str| {
        p.iter()
            .find(|(key, _)| key.eq_ignore_ascii_case(k))
            .map(|(_, v)| v.as_str())
    };
    Projection::parse(
        &REGISTRY,
        kind,
        get("attributes"),
        get("excludedAttributes"),
    )
}

/// A `POST …/.search` body: its listing parameters and the projection it asks for.
fn search_params(
    st: &ScimState,
    body: &[u8],
    kind: ResourceKind,
) -> Result<(ListParams, Projection), ScimError> {
    let body = parse_json(body)?;
    let p = ListParams::from_search_body(&body, st.config.default_count, st.config.max_count)?;
    let proj = Projection::parse(
        &REGISTRY,
        kind,
        p.attributes.as_deref(),
        p.excluded_attributes.as_deref(),
    );
    Ok((p, proj))
}

fn has_projection(raw: &Option<String>) -> bool {
    pairs(raw).iter().any(|(k, _)| {
        k.eq_ignore_ascii_case("attributes") || k.eq_ignore_ascii_case("excludedAttributes")
    })
}

/// `If-Match`: `None` when absent or `*`; an unreadable value can never match (412).
fn if_match(headers: &HeaderMap) -> Result<Option<i64>, ScimError> {
    match headers
        .get(header::IF_MATCH)
        .map(|v| v.to_str().ok().and_then(parse_etag))
    {
        None => Ok(None),
        Some(Some(v)) => Ok(v),
        Some(None) => Err(ScimError::precondition_failed()),
    }
}

fn not_modified(headers: &HeaderMap, version: i64) -> bool {
    headers
        .get(header::IF_NONE_MATCH)
        .and_then(|v| v.to_str().ok())
        .is_some_and(|v| {
            v.split(',')
                .filter_map(parse_etag)
                .any(|e| e.is_none_or(|e| e == version))
        })
}

fn list_response(total: i64, start: u64, resources: Vec<Value>) -> Value {
    json!({
        "schemas": [LIST_RESPONSE_SCHEMA],
        "totalResults": total,
        "itemsPerPage": resources.len(),
        "startIndex": start,
        "Resources": resources,
    })
}

fn render_user(u: &crate::directory::User, ctx: &ScimContext, proj: &Projection) -> Value {
    let mut m = user_json(u, &ctx.base_url);
    proj.apply(&mut m);
    Value::Object(m)
}

fn render_group(
    g: &crate::directory::Group,
    members: Option<&[crate::directory::Member]>,
    ctx: &ScimContext,
    proj: &Projection,
) -> Value {
    let mut m = group_json(g, members, &ctx.base_url);
    proj.apply(&mut m);
    Value::Object(m)
}

fn created(body: Value, version: i64, location: String) -> ScimResponse {
    ScimResponse {
        status: StatusCode::CREATED,
        body: Some(body),
        etag: Some(etag(version)),
        location: Some(location),
    }
}

fn with_etag(body: Value, version: i64) -> ScimResponse {
    ScimResponse {
        status: StatusCode::OK,
        body: Some(body),
        etag: Some(etag(version)),
        location: None,
    }
}

// ---- Users ----

async fn users_page(
    st: &ScimState,
    ctx: &ScimContext,
    p: ListParams,
    proj: Projection,
) -> ApiResult {
    let (total, list) = users::list_users(&st.store, ctx, &p).await?;
    let resources = list.iter().map(|u| render_user(u, ctx, &proj)).collect();
    Ok(ScimResponse::ok(list_response(
        total,
        p.start_index,
        resources,
    )))
}

pub async fn list_users(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&st, &q)?;
    users_page(&st, &ctx, p, projection(ResourceKind::User, &q)).await
}

pub async fn search_users(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    body: Bytes,
) -> ApiResult {
    let (p, proj) = search_params(&st, &body, ResourceKind::User)?;
    users_page(&st, &ctx, p, proj).await
}

pub async fn create_user(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let u = users::create_user(&st.store, &ctx, &log, &body).await?;
    let location = format!("{}/Users/{}", ctx.base_url, u.id);
    Ok(created(
        render_user(&u, &ctx, &projection(ResourceKind::User, &q)),
        u.version,
        location,
    ))
}

pub async fn get_user(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let u = users::get_user(&st.store, &ctx, &id).await?;
    if not_modified(&headers, u.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(with_etag(
        render_user(&u, &ctx, &projection(ResourceKind::User, &q)),
        u.version,
    )
    .into_response())
}

pub async fn replace_user(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let m = if_match(&headers)?;
    let u = users::write_user(&st.store, &ctx, &log, &id, UserWrite::Replace(&body), m).await?;
    Ok(with_etag(
        render_user(&u, &ctx, &projection(ResourceKind::User, &q)),
        u.version,
    ))
}

pub async fn patch_user(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let ops = parse_patch_request(&body)?;
    let m = if_match(&headers)?;
    let u = users::write_user(&st.store, &ctx, &log, &id, UserWrite::Patch(&ops), m).await?;
    Ok(with_etag(
        render_user(&u, &ctx, &projection(ResourceKind::User, &q)),
        u.version,
    ))
}

pub async fn delete_user(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    users::delete_user(&st.store, &ctx, &log, &id, if_match(&headers)?).await?;
    Ok(ScimResponse::no_content())
}

// ---- Groups ----

async fn groups_page(
    st: &ScimState,
    ctx: &ScimContext,
    p: ListParams,
    proj: Projection,
) -> ApiResult {
    let (total, list) = groups::list_groups(&st.store, ctx, &p, proj.includes("members")).await?;
    let resources = list
        .iter()
        .map(|(g, m)| render_group(g, m.as_deref(), ctx, &proj))
        .collect();
    Ok(ScimResponse::ok(list_response(
        total,
        p.start_index,
        resources,
    )))
}

pub async fn list_groups(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    RawQuery(q): RawQuery,
) -> ApiResult {
    let p = params(&st, &q)?;
    groups_page(&st, &ctx, p, projection(ResourceKind::Group, &q)).await
}

pub async fn search_groups(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    body: Bytes,
) -> ApiResult {
    let (p, proj) = search_params(&st, &body, ResourceKind::Group)?;
    groups_page(&st, &ctx, p, proj).await
}

pub async fn create_group(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    RawQuery(q): RawQuery,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let (g, members) = groups::create_group(&st.store, &ctx, &log, &body).await?;
    let location = format!("{}/Groups/{}", ctx.base_url, g.id);
    Ok(created(
        render_group(
            &g,
            Some(&members),
            &ctx,
            &projection(ResourceKind::Group, &q),
        ),
        g.version,
        location,
    ))
}

pub async fn get_group(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
) -> Result<Response, ApiError> {
    let proj = projection(ResourceKind::Group, &q);
    let (g, members) = groups::get_group(&st.store, &ctx, &id, proj.includes("members")).await?;
    if not_modified(&headers, g.version) {
        return Ok(StatusCode::NOT_MODIFIED.into_response());
    }
    Ok(with_etag(render_group(&g, members.as_deref(), &ctx, &proj), g.version).into_response())
}

async fn group_result(
    st: &ScimState,
    ctx: &ScimContext,
    g: crate::directory::Group,
    q: &Option<String>,
) -> ApiResult {
    let proj = projection(ResourceKind::Group, q);
    let members = if proj.includes("members") {
        groups::get_group(&st.store, ctx, &g.id, true).await?.1
    } else {
        None
    };
    Ok(with_etag(
        render_group(&g, members.as_deref(), ctx, &proj),
        g.version,
    ))
}

pub async fn replace_group(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let g = groups::replace_group(&st.store, &ctx, &log, &id, &body, if_match(&headers)?).await?;
    group_result(&st, &ctx, g, &q).await
}

/// 204 by default (what Okta and Entra expect); 200 with the group when the request asks
/// for attributes.
pub async fn patch_group(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    Path((_, id)): Path<(String, String)>,
    RawQuery(q): RawQuery,
    headers: HeaderMap,
    body: Bytes,
) -> ApiResult {
    let body = parse_json(&body)?;
    let ops = parse_patch_request(&body)?;
    let wants_body = has_projection(&q);
    let g = groups::patch_group(
        &st.store,
        &ctx,
        &log,
        &id,
        &ops,
        if_match(&headers)?,
        if wants_body { 200 } else { 204 },
    )
    .await?;
    if wants_body {
        group_result(&st, &ctx, g, &q).await
    } else {
        Ok(ScimResponse {
            status: StatusCode::NO_CONTENT,
            body: None,
            etag: Some(etag(g.version)),
            location: None,
        })
    }
}

pub async fn delete_group(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
    Extension(log): Extension<RequestLog>,
    Path((_, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult {
    groups::delete_group(&st.store, &ctx, &log, &id, if_match(&headers)?).await?;
    Ok(ScimResponse::no_content())
}

// ---- Discovery ----

fn limits(st: &ScimState) -> discovery::Limits {
    discovery::Limits {
        max_results: st.config.max_count,
        bulk_max_operations: st.config.bulk_max_operations as u64,
        bulk_max_payload: st.config.max_body_bytes as u64,
    }
}

pub async fn service_provider_config(
    State(st): State<ScimState>,
    Extension(ctx): Extension<ScimContext>,
) -> ApiResult {
    Ok(ScimResponse::ok(discovery::service_provider_config(
        &REGISTRY,
        &ctx.base_url,
        &limits(&st),
    )))
}

pub async fn schemas(Extension(ctx): Extension<ScimContext>) -> ApiResult {
    let all = discovery::schemas(&REGISTRY, &ctx.base_url);
    Ok(ScimResponse::ok(list_response(all.len() as i64, 1, all)))
}

pub async fn schema(
    Extension(ctx): Extension<ScimContext>,
    Path((_, urn)): Path<(String, String)>,
) -> ApiResult {
    discovery::find_schema(&REGISTRY, &ctx.base_url, &urn)
        .map(ScimResponse::ok)
        .ok_or_else(|| ScimError::not_found(format!("Schema {urn} not found")).into())
}

pub async fn resource_types(Extension(ctx): Extension<ScimContext>) -> ApiResult {
    let all = discovery::resource_types(&REGISTRY, &ctx.base_url);
    Ok(ScimResponse::ok(list_response(all.len() as i64, 1, all)))
}

pub async fn resource_type(
    Extension(ctx): Extension<ScimContext>,
    Path((_, name)): Path<(String, String)>,
) -> ApiResult {
    let kind = match name.to_ascii_lowercase().as_str() {
        "user" => ResourceKind::User,
        "group" => ResourceKind::Group,
        _ => return Err(ScimError::not_found(format!("Resource type {name} not found")).into()),
    };
    Ok(ScimResponse::ok(discovery::resource_type(
        &REGISTRY,
        &ctx.base_url,
        kind,
    )))
}

/// RFC 7644 §3.4.3 allows searching every resource type at once from the root; scimgate
/// searches one type at a time (`/Users/.search`, `/Groups/.search`).
pub async fn search_all() -> ApiError {
    ScimError::not_implemented(
        "Search one resource type at a time: POST /Users/.search or /Groups/.search",
    )
    .into()
}

pub async fn me() -> ApiError {
    ScimError::not_implemented(
        "/Me is not supported: scimgate tokens belong to an organization, not a user",
    )
    .into()
}

pub async fn not_found() -> ApiError {
    ScimError::not_found("No such SCIM endpoint; see /ServiceProviderConfig and /ResourceTypes")
        .into()
}

pub async fn method_not_allowed() -> ApiError {
    ScimError::new(405, None, "This method is not supported on this endpoint").into()
}
