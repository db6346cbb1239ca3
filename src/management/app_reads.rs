//! The reads of the application API (`/v1`): the directory as the application sees it
//! (users, teams, members) and the change feed, with its long poll. Keyset pages: a cursor
//! is the last id (or sequence) of the previous page.

use super::{ManagementError, Result};
use crate::directory::feed::{self, MemberRecord, TeamRecord, UserRecord, WireEvent};
use crate::directory::query::{Collection, Cond, ListQuery, Op, Target, Val};
use crate::directory::Org;
use crate::provisioning::schemas::role_of;
use crate::store::{groups, users, Store};
use std::time::Duration;

/// Rows per page unless the caller asks for fewer; never more.
pub const MAX_LIMIT: u64 = 500;
pub const DEFAULT_LIMIT: u64 = 100;
/// The longest a feed request may wait for new events.
pub const MAX_WAIT: Duration = Duration::from_secs(30);

fn limit(l: Option<u64>) -> Result<u64> {
    match l {
        None => Ok(DEFAULT_LIMIT),
        Some(n) if (1..=MAX_LIMIT).contains(&n) => Ok(n),
        Some(_) => Err(ManagementError::Invalid(format!(
            "limit must be between 1 and {MAX_LIMIT}"
        ))),
    }
}

pub struct Page<T> {
    pub data: Vec<T>,
    pub next_cursor: Option<String>,
}

fn page<T, R>(
    mut rows: Vec<T>,
    limit: u64,
    id: impl Fn(&T) -> String,
    f: impl Fn(&T) -> R,
) -> Page<R> {
    let next_cursor = (rows.len() as u64 > limit).then(|| id(&rows[limit as usize - 1]));
    rows.truncate(limit as usize);
    Page {
        data: rows.iter().map(f).collect(),
        next_cursor,
    }
}

#[derive(Debug, Default)]
pub struct UserFilter {
    /// `active` or `deactivated`.
    pub status: Option<String>,
    /// Any of the user's emails, case-insensitive.
    pub email: Option<String>,
    /// Only users changed after this time (RFC 3339 or Unix milliseconds).
    pub updated_after: Option<String>,
}

/// RFC 3339 (`2026-11-27T10:00:00Z`, with optional fraction and offset) or Unix ms.
fn parse_time(s: &str) -> Option<i64> {
    if let Ok(ms) = s.parse::<i64>() {
        return Some(ms);
    }
    crate::provisioning::filter::parse_time(s).ok()
}

pub async fn users(
    store: &Store,
    org: &Org,
    f: UserFilter,
    after: Option<String>,
    limit_: Option<u64>,
) -> Result<Page<UserRecord>> {
    let limit = limit(limit_)?;
    let mut cond = Cond::All;
    let and = |a: Cond, b: Cond| Cond::And(Box::new(a), Box::new(b));
    match f.status.as_deref() {
        None | Some("") => {}
        Some("active") => cond = and(cond, Cond::Test(Target::Active, Op::Eq, Val::Bool(true))),
        Some("deactivated") => {
            cond = and(cond, Cond::Test(Target::Active, Op::Eq, Val::Bool(false)))
        }
        Some(_) => {
            return Err(ManagementError::Invalid(
                "status is active or deactivated".into(),
            ))
        }
    }
    if let Some(e) = f.email.as_deref().map(str::trim).filter(|e| !e.is_empty()) {
        cond = and(
            cond,
            Cond::Any(
                Collection::Emails,
                Box::new(Cond::Test(
                    Target::Elem {
                        sub: "value".into(),
                        case_exact: false,
                        boolean: false,
                    },
                    Op::Eq,
                    Val::Str(e.to_string()),
                )),
            ),
        );
    }
    if let Some(t) = f.updated_after.as_deref().filter(|t| !t.is_empty()) {
        let ms = parse_time(t).ok_or_else(|| {
            ManagementError::Invalid(
                "updated_after is an RFC 3339 time or Unix milliseconds".into(),
            )
        })?;
        cond = and(cond, Cond::Test(Target::Modified, Op::Gt, Val::Time(ms)));
    }
    let q = ListQuery {
        cond,
        limit: limit + 1,
        after,
        ..Default::default()
    };
    let (_, rows) = store.page_users(&org.id, &q).await?;
    // The application's copy of the directory: nothing in it a power cut could take back
    // (see `Store::settled`), as for the feed that follows it.
    store.settled().await?;
    Ok(page(
        rows,
        limit,
        |u| u.id.clone(),
        |u| feed::user_record(u, role_of(&u.attributes)),
    ))
}

pub struct UserWithTeams {
    pub user: UserRecord,
    pub teams: Vec<TeamRef>,
}

#[derive(Clone, Debug, serde::Serialize, utoipa::ToSchema)]
pub struct TeamRef {
    pub id: String,
    pub name: String,
}

pub async fn user(store: &Store, org: &Org, id: &str) -> Result<UserWithTeams> {
    let mut c = store.read().await?;
    let u = users::find_user(&mut c, &org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("No such user."))?;
    let teams = users::list_user_groups(&mut c, &u.id)
        .await?
        .into_iter()
        .map(|(id, name)| TeamRef { id, name })
        .collect();
    drop(c);
    store.settled().await?;
    Ok(UserWithTeams {
        user: feed::user_record(&u, role_of(&u.attributes)),
        teams,
    })
}

pub async fn teams(
    store: &Store,
    org: &Org,
    managed: Option<bool>,
    after: Option<String>,
    limit_: Option<u64>,
) -> Result<Page<TeamRecord>> {
    let limit = limit(limit_)?;
    let cond = match managed {
        None => Cond::All,
        Some(m) => {
            let console = Cond::Test(
                Target::Source,
                Op::Eq,
                Val::Str(crate::directory::SOURCE_CONSOLE.into()),
            );
            if m {
                Cond::Not(Box::new(console))
            } else {
                console
            }
        }
    };
    let q = ListQuery {
        cond,
        limit: limit + 1,
        after,
        ..Default::default()
    };
    let (_, rows, _) = store.page_groups(&org.id, &q).await?;
    store.settled().await?;
    Ok(page(rows, limit, |g| g.id.clone(), feed::team_record))
}

pub async fn members(
    store: &Store,
    org: &Org,
    team_id: &str,
    after: Option<String>,
    limit_: Option<u64>,
) -> Result<Page<MemberRecord>> {
    let limit = limit(limit_)?;
    let mut c = store.read().await?;
    let g = groups::find_group(&mut c, &org.id, team_id)
        .await?
        .ok_or(ManagementError::NotFound("No such team."))?;
    let rows = groups::list_members(&mut c, &g.id, after.as_deref(), limit + 1).await?;
    drop(c);
    store.settled().await?;
    Ok(page(
        rows,
        limit,
        |m| m.user_id.clone(),
        |m| MemberRecord::from(m),
    ))
}

/// A page of the change feed.
pub struct FeedPage {
    pub data: Vec<WireEvent>,
    /// Pass as `after` to continue: the last event's sequence, or the cursor given when
    /// there was nothing new.
    pub next_cursor: i64,
}

/// The org's events after sequence `after`, oldest first. With `wait`, an empty answer is
/// held until an event commits or `wait` (at most 30 s) passes. A cursor older than the
/// retention window is [`ManagementError::Gone`]: events were pruned in between.
pub async fn events(
    store: &Store,
    org: &Org,
    after: i64,
    types: &[String],
    limit_: Option<u64>,
    wait: Duration,
) -> Result<FeedPage> {
    let limit = limit(limit_)?;
    if after < 0 {
        return Err(ManagementError::Invalid(
            "after is a sequence number (0 or more)".into(),
        ));
    }
    for t in types {
        if feed::EventType::parse(t).is_none() {
            return Err(ManagementError::Invalid(format!(
                "unknown event type '{t}'"
            )));
        }
    }
    // Each type once: a list repeating one type thousands of times is one filter term.
    let mut types: Vec<&str> = types.iter().map(String::as_str).collect();
    types.sort_unstable();
    types.dedup();
    let deadline = tokio::time::Instant::now() + wait.min(MAX_WAIT);
    // Subscribed before the first look, so a commit between the look and the wait wakes it.
    let mut changes = store.feed_changes();
    loop {
        let (rows, last, oldest) = {
            let mut c = store.read().await?;
            let (last, oldest) = crate::store::feed::bounds(&mut c, &org.id).await?;
            let rows = crate::store::feed::list_after(&mut c, &org.id, after, &types, limit as i64)
                .await?;
            (rows, last, oldest)
        };
        // Nothing handed out that a power cut could take back (see `Store::settled`).
        store.settled().await?;
        if after > last {
            return Err(ManagementError::Invalid(format!(
                "after is beyond the newest event ({last})"
            )));
        }
        if after > 0 && oldest.is_some_and(|o| o > after + 1) {
            return Err(ManagementError::Gone(
                "This cursor has expired: events after it were deleted by the retention policy. Read the directory again (users, teams) and continue from the newest sequence.".into(),
            ));
        }
        if !rows.is_empty() || tokio::time::Instant::now() >= deadline {
            // A filtered page may skip events: continue after the newest sequence looked at.
            let next_cursor = match rows.last() {
                Some(e) if (rows.len() as u64) == limit => e.seq,
                _ if types.is_empty() => rows.last().map_or(after, |e| e.seq),
                _ => last.max(after).max(rows.last().map_or(0, |e| e.seq)),
            };
            return Ok(FeedPage {
                data: rows.iter().map(|e| e.to_wire()).collect(),
                next_cursor,
            });
        }
        tokio::select! {
            _ = changes.changed() => {}
            _ = tokio::time::sleep_until(deadline) => {}
        }
    }
}
