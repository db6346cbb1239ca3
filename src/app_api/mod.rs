//! The application API, `/v1/orgs/{org}/…`: how the application that relies on scimgate
//! reads the directory (users, teams, members) and follows its changes (the event feed,
//! with long polling). JSON, a bearer application key, one error shape. The OpenAPI 3.1
//! document at `/v1/openapi.json` is generated from these handlers and types.
//!
//! Thin handlers: each authenticates the key for the org in the path and delegates to
//! [`crate::management::app_reads`].

use crate::directory::feed::{EmailRecord, MemberRecord, TeamRecord, UserRecord, WireEvent};
use crate::directory::Org;
use crate::management::app_reads::{self, TeamRef, UserFilter};
use crate::management::{app_keys, ManagementError};
use crate::net::ClientAddr;
use crate::store::Store;
use axum::extract::rejection::QueryRejection;
use axum::extract::{Path, Query, State};
use axum::http::{header, HeaderMap, StatusCode};
use axum::response::{IntoResponse, Response};
use axum::routing::get;
use axum::{Json, Router};
use serde::{Deserialize, Serialize};
use std::time::Duration;
use utoipa::{IntoParams, OpenApi, ToSchema};

#[derive(Clone)]
pub struct AppApiState {
    pub store: Store,
    /// Requests with a missing or wrong key, per client address.
    pub refused: crate::net::AddrLimiter,
}

pub fn router(state: AppApiState) -> Router {
    let org_routes = Router::new()
        .route("/users", get(list_users))
        .route("/users/{id}", get(get_user))
        .route("/teams", get(list_teams))
        .route("/teams/{id}/members", get(list_members))
        .route("/events", get(list_events))
        .fallback(not_found)
        .with_state(state);
    Router::new()
        .route("/v1/openapi.json", get(openapi_json))
        .nest("/v1/orgs/{org}", org_routes)
}

/// Every error of this API: `{"error": {"code": …, "message": …}}`.
#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorBody {
    pub error: ErrorDetail,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct ErrorDetail {
    /// `invalid_request`, `unauthorized`, `not_found`, `gone`, `rate_limited` or `internal`.
    pub code: &'static str,
    pub message: String,
}

#[derive(Debug)]
pub struct ApiError {
    status: StatusCode,
    code: &'static str,
    message: String,
}

impl ApiError {
    fn new(status: StatusCode, code: &'static str, message: impl Into<String>) -> ApiError {
        ApiError {
            status,
            code,
            message: message.into(),
        }
    }

    fn unauthorized() -> ApiError {
        ApiError::new(
            StatusCode::UNAUTHORIZED,
            "unauthorized",
            "A valid application key of this organization is required (Authorization: Bearer sgapp_…).",
        )
    }
}

impl From<ManagementError> for ApiError {
    fn from(e: ManagementError) -> ApiError {
        use ManagementError as M;
        let (status, code) = match &e {
            M::Invalid(_) => (StatusCode::BAD_REQUEST, "invalid_request"),
            M::UnknownOrg(_) | M::NotFound(_) => (StatusCode::NOT_FOUND, "not_found"),
            M::Refused | M::Forbidden(_) => return ApiError::unauthorized(),
            M::Gone(_) => (StatusCode::GONE, "gone"),
            M::Busy(_) => (StatusCode::TOO_MANY_REQUESTS, "rate_limited"),
            M::Conflict(_) => (StatusCode::CONFLICT, "conflict"),
            M::Store(_) | M::Internal(_) => {
                tracing::error!(error = %e, "application API request failed");
                return ApiError::new(
                    StatusCode::INTERNAL_SERVER_ERROR,
                    "internal",
                    "The request failed on the server; it has been logged.",
                );
            }
        };
        ApiError::new(status, code, e.to_string())
    }
}

impl From<QueryRejection> for ApiError {
    fn from(e: QueryRejection) -> ApiError {
        ApiError::new(StatusCode::BAD_REQUEST, "invalid_request", e.body_text())
    }
}

impl IntoResponse for ApiError {
    fn into_response(self) -> Response {
        let mut r = (
            self.status,
            Json(ErrorBody {
                error: ErrorDetail {
                    code: self.code,
                    message: self.message,
                },
            }),
        )
            .into_response();
        if self.status == StatusCode::UNAUTHORIZED {
            r.headers_mut().insert(
                header::WWW_AUTHENTICATE,
                axum::http::HeaderValue::from_static("Bearer"),
            );
        }
        r
    }
}

type ApiResult<T> = Result<Json<T>, ApiError>;

/// The client's address (the socket's, or a trusted proxy's `X-Forwarded-For`).
pub struct Addr(ClientAddr);

impl<S: Send + Sync> axum::extract::FromRequestParts<S> for Addr {
    type Rejection = std::convert::Infallible;
    async fn from_request_parts(
        parts: &mut axum::http::request::Parts,
        _: &S,
    ) -> Result<Addr, Self::Rejection> {
        Ok(Addr(ClientAddr::of(&parts.extensions)))
    }
}

/// The org in the path, if the request carries one of its live application keys. Failures
/// count against the client's address; too many answer 429 before any lookup.
async fn authed(
    st: &AppApiState,
    headers: &HeaderMap,
    addr: ClientAddr,
    org: &str,
) -> Result<Org, ApiError> {
    let secret = headers
        .get(header::AUTHORIZATION)
        .and_then(|v| v.to_str().ok())
        .and_then(crate::auth::token::from_authorization);
    let limited = || {
        ApiError::new(
            StatusCode::TOO_MANY_REQUESTS,
            "rate_limited",
            "Too many requests without a valid key from this address; wait a minute.",
        )
    };
    if st.refused.blocked(addr.0).is_some() {
        return Err(limited());
    }
    let refused = || match st.refused.spend(addr.0) {
        Ok(()) => ApiError::unauthorized(),
        Err(_) => limited(),
    };
    let Some(secret) = secret else {
        return Err(refused());
    };
    match app_keys::authenticate(&st.store, org, secret).await {
        Ok((org, _)) => Ok(org),
        Err(ManagementError::Refused) => Err(refused()),
        Err(e) => Err(e.into()),
    }
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct UserQuery {
    /// `active` or `deactivated`.
    status: Option<String>,
    /// Users with this email (any of theirs, case-insensitive).
    email: Option<String>,
    /// Users changed after this time: RFC 3339 or Unix milliseconds.
    updated_after: Option<String>,
    /// The `next_cursor` of the previous page.
    after: Option<String>,
    /// 1 to 500 (default 100).
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserPage {
    data: Vec<UserRecord>,
    /// Pass as `after` for the next page; null on the last one.
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/users", tag = "directory",
    params(("org" = String, Path, description = "The organization's login"), UserQuery),
    responses((status = 200, body = UserPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("app_key" = [])))]
async fn list_users(
    State(st): State<AppApiState>,
    Addr(addr): Addr,
    Path(org): Path<String>,
    headers: HeaderMap,
    q: Result<Query<UserQuery>, QueryRejection>,
) -> ApiResult<UserPage> {
    let org = authed(&st, &headers, addr, &org).await?;
    let Query(q) = q?;
    let f = UserFilter {
        status: q.status,
        email: q.email,
        updated_after: q.updated_after,
    };
    let page = app_reads::users(&st.store, &org, f, q.after, q.limit).await?;
    Ok(Json(UserPage {
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Serialize, ToSchema)]
pub struct UserDetail {
    #[serde(flatten)]
    user: UserRecord,
    /// The teams the user belongs to.
    teams: Vec<TeamRef>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/users/{id}", tag = "directory",
    params(("org" = String, Path, description = "The organization's login"), ("id" = String, Path, description = "The user's id")),
    responses((status = 200, body = UserDetail), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("app_key" = [])))]
async fn get_user(
    State(st): State<AppApiState>,
    Addr(addr): Addr,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
) -> ApiResult<UserDetail> {
    let org = authed(&st, &headers, addr, &org).await?;
    let u = app_reads::user(&st.store, &org, &id).await?;
    Ok(Json(UserDetail {
        user: u.user,
        teams: u.teams,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct TeamQuery {
    /// true: only teams an identity provider manages; false: only console-made teams.
    managed: Option<bool>,
    after: Option<String>,
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct TeamPage {
    data: Vec<TeamRecord>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/teams", tag = "directory",
    params(("org" = String, Path, description = "The organization's login"), TeamQuery),
    responses((status = 200, body = TeamPage), (status = 400, body = ErrorBody), (status = 401, body = ErrorBody)),
    security(("app_key" = [])))]
async fn list_teams(
    State(st): State<AppApiState>,
    Addr(addr): Addr,
    Path(org): Path<String>,
    headers: HeaderMap,
    q: Result<Query<TeamQuery>, QueryRejection>,
) -> ApiResult<TeamPage> {
    let org = authed(&st, &headers, addr, &org).await?;
    let Query(q) = q?;
    let page = app_reads::teams(&st.store, &org, q.managed, q.after, q.limit).await?;
    Ok(Json(TeamPage {
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct PageQuery {
    after: Option<String>,
    limit: Option<u64>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct MemberPage {
    data: Vec<MemberRecord>,
    next_cursor: Option<String>,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/teams/{id}/members", tag = "directory",
    params(("org" = String, Path, description = "The organization's login"), ("id" = String, Path, description = "The team's id"), PageQuery),
    responses((status = 200, body = MemberPage), (status = 401, body = ErrorBody), (status = 404, body = ErrorBody)),
    security(("app_key" = [])))]
async fn list_members(
    State(st): State<AppApiState>,
    Addr(addr): Addr,
    Path((org, id)): Path<(String, String)>,
    headers: HeaderMap,
    q: Result<Query<PageQuery>, QueryRejection>,
) -> ApiResult<MemberPage> {
    let org = authed(&st, &headers, addr, &org).await?;
    let Query(q) = q?;
    let page = app_reads::members(&st.store, &org, &id, q.after, q.limit).await?;
    Ok(Json(MemberPage {
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

#[derive(Debug, Deserialize, IntoParams)]
#[into_params(parameter_in = Query)]
pub struct EventQuery {
    /// The sequence to continue after (0, or absent, for the oldest kept).
    after: Option<i64>,
    /// 1 to 500 (default 100).
    limit: Option<u64>,
    /// Seconds to hold an empty answer until an event commits (0 to 30).
    wait: Option<u64>,
    /// Comma-separated event types to return (default: all).
    types: Option<String>,
}

#[derive(Debug, Serialize, ToSchema)]
pub struct EventPage {
    data: Vec<WireEvent>,
    /// Pass as `after` to continue.
    next_cursor: i64,
}

#[utoipa::path(get, path = "/v1/orgs/{org}/events", tag = "events",
    params(("org" = String, Path, description = "The organization's login"), EventQuery),
    responses(
        (status = 200, body = EventPage),
        (status = 400, body = ErrorBody),
        (status = 401, body = ErrorBody),
        (status = 410, description = "The cursor expired: events after it were deleted by the retention policy", body = ErrorBody)),
    security(("app_key" = [])))]
async fn list_events(
    State(st): State<AppApiState>,
    Addr(addr): Addr,
    Path(org): Path<String>,
    headers: HeaderMap,
    q: Result<Query<EventQuery>, QueryRejection>,
) -> ApiResult<EventPage> {
    let org = authed(&st, &headers, addr, &org).await?;
    let Query(q) = q?;
    let wait = match q.wait {
        None => Duration::ZERO,
        Some(s) if s <= app_reads::MAX_WAIT.as_secs() => Duration::from_secs(s),
        Some(_) => {
            return Err(ApiError::new(
                StatusCode::BAD_REQUEST,
                "invalid_request",
                "wait is 0 to 30 seconds",
            ))
        }
    };
    let types: Vec<String> = q
        .types
        .as_deref()
        .unwrap_or("")
        .split(',')
        .map(str::trim)
        .filter(|t| !t.is_empty())
        .map(str::to_string)
        .collect();
    let page =
        app_reads::events(&st.store, &org, q.after.unwrap_or(0), &types, q.limit, wait).await?;
    Ok(Json(EventPage {
        data: page.data,
        next_cursor: page.next_cursor,
    }))
}

async fn not_found() -> ApiError {
    ApiError::new(StatusCode::NOT_FOUND, "not_found", "No such endpoint.")
}

struct AppKeyAuth;

impl utoipa::Modify for AppKeyAuth {
    fn modify(&self, openapi: &mut utoipa::openapi::OpenApi) {
        use utoipa::openapi::security::{Http, HttpAuthScheme, SecurityScheme};
        let components = openapi.components.get_or_insert_with(Default::default);
        components.add_security_scheme(
            "app_key",
            SecurityScheme::Http(Http::new(HttpAuthScheme::Bearer)),
        );
    }
}

#[derive(OpenApi)]
#[openapi(
    info(
        title = "scimgate application API",
        version = "1",
        description = "Read the directory an identity provider keeps in scimgate, and follow its changes. Authenticate with an application key (console: Integrations, or `scimgate app-key create`)."
    ),
    paths(list_users, get_user, list_teams, list_members, list_events),
    components(schemas(UserRecord, EmailRecord, TeamRecord, MemberRecord, TeamRef, WireEvent, UserPage, UserDetail, TeamPage, MemberPage, EventPage, ErrorBody, ErrorDetail)),
    modifiers(&AppKeyAuth)
)]
pub struct ApiDoc;

/// The OpenAPI document, generated from the handlers above.
pub fn openapi() -> utoipa::openapi::OpenApi {
    ApiDoc::openapi()
}

async fn openapi_json() -> Response {
    match openapi().to_json() {
        Ok(json) => ([(header::CONTENT_TYPE, "application/json")], json).into_response(),
        Err(e) => ApiError::from(ManagementError::Internal(e.to_string())).into_response(),
    }
}
