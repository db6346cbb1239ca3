//! Use cases: a SCIM request becomes a directory change. Each write runs in one store
//! transaction together with its provisioning-log entry, so the log never claims a change
//! that did not happen and no change goes unlogged. Membership changes are deltas. This
//! layer speaks [`ScimError`]; it knows nothing of HTTP.

pub mod filter;
pub mod groups;
pub mod log;
pub mod render;
pub mod schemas;
pub mod users;

use crate::directory::query::{Cond, ListQuery};
use crate::directory::{Org, ScimToken};
use crate::scim::ScimError;
use crate::store::StoreError;

/// Who is asking: the org of the URL, the token that authenticated, the client product.
#[derive(Clone, Debug)]
pub struct ScimContext {
    pub org: Org,
    pub token: Option<ScimToken>,
    /// okta, entra, onelogin, jumpcloud or other (from `User-Agent`).
    pub client: String,
    /// Absolute base URL of this org's SCIM API, for `meta.location`.
    pub base_url: String,
    /// The client's address, for the provisioning log.
    pub remote_addr: Option<String>,
}

/// Limits and defaults that shape list responses.
#[derive(Clone, Copy, Debug)]
pub struct Limits {
    pub default_count: u64,
    pub max_count: u64,
}

impl Default for Limits {
    fn default() -> Self {
        Limits {
            default_count: 100,
            max_count: 1000,
        }
    }
}

/// A write's change events (the application's feed), to be written with its log entry in
/// its transaction ([`log::RequestLog::write_in`]).
pub(crate) fn feed_of(
    tx: &crate::store::Tx,
    ctx: &ScimContext,
    events: &[crate::directory::feed::NewChange],
) -> crate::store::feed::Append {
    feed_for(crate::store::Backend::of(tx), ctx, events)
}

/// [`feed_of`] before the transaction is begun.
pub(crate) fn feed_for(
    backend: crate::store::Backend,
    ctx: &ScimContext,
    events: &[crate::directory::feed::NewChange],
) -> crate::store::feed::Append {
    #[cfg(feature = "bench")]
    let events = if without_change_events() { &[] } else { events };
    let origin = crate::directory::scim_source(&ctx.client);
    crate::store::feed::append_statements(backend, &ctx.org.id, &origin, events)
}

/// The B side of the benchmark's measure of what change events cost a SCIM write
/// (`scimgate-bench --without-change-events`): compiled into `bench` builds only.
#[cfg(feature = "bench")]
fn without_change_events() -> bool {
    static WITHOUT: std::sync::OnceLock<bool> = std::sync::OnceLock::new();
    *WITHOUT.get_or_init(|| std::env::var_os("SCIMGATE_BENCH_WITHOUT_CHANGE_EVENTS").is_some())
}

/// Store failures as SCIM errors. Conflicts and version mismatches are the client's;
/// anything else is logged here, once, and reported opaquely.
pub fn store_error(e: StoreError) -> ScimError {
    match e {
        StoreError::NotFound => ScimError::not_found("Resource not found"),
        StoreError::Conflict(what) => {
            ScimError::uniqueness(format!("A resource with this {what} already exists"))
        }
        StoreError::VersionMismatch => ScimError::precondition_failed(),
        StoreError::TooComplex(why) => {
            tracing::info!(error = %why, "database refused a request's content");
            ScimError::invalid_value(
                "The request is too large or complex for the directory to evaluate; simplify the filter or values",
            )
        }
        StoreError::Busy(why) => {
            tracing::warn!(error = %why, "SCIM request lost to a concurrent transaction");
            ScimError::busy()
        }
        other => {
            tracing::error!(error = %other, "store failure during SCIM request");
            ScimError::internal()
        }
    }
}

/// Parses an `If-Match` / `If-None-Match` value (`W/"3"`, `"3"` or `*`) to a version.
/// `Some(None)` is `*`.
pub fn parse_etag(header: &str) -> Option<Option<i64>> {
    let h = header.trim();
    if h == "*" {
        return Some(None);
    }
    let h = h.strip_prefix("W/").unwrap_or(h).trim_matches('"');
    h.parse::<i64>().ok().map(Some)
}

pub fn etag(version: i64) -> String {
    format!("W/\"{version}\"")
}

/// The store query of a SCIM list request: the filter and sort as a [`ListQuery`].
pub(crate) fn list_query(
    kind: crate::scim::schema::ResourceKind,
    p: &crate::scim::list::ListParams,
) -> Result<ListQuery, ScimError> {
    Ok(ListQuery {
        cond: match &p.filter {
            Some(f) => filter::to_cond(kind, f)?,
            None => Cond::All,
        },
        sort: filter::sort_key(kind, p.sort_by.as_deref())?,
        descending: p.descending,
        offset: p.start_index - 1,
        limit: p.count,
        after: None,
    })
}
