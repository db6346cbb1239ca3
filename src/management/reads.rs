//! The reads behind the console's pages, each a fixed number of queries whatever the size
//! of the directory (a page of users, a team's members, a page of the log).

use super::{ManagementError, Result};
use crate::directory::feed::ChangeEvent;
use crate::directory::query::{Cond, ListQuery};
use crate::directory::{now_ms, Event, Group, Member, Org, ScimToken, User};
use crate::store::events::{self, ClientActivity, EventFilter};
use crate::store::{feed, groups, tokens, users, Store};

/// Rows per console page.
pub const PAGE: u64 = 50;

/// One page of a keyset listing: the rows, the total of matches, and the id to continue
/// after when there are more.
pub struct Page<T> {
    pub rows: Vec<T>,
    pub total: i64,
    pub next: Option<String>,
}

/// `PAGE` rows after `after`, fetching one more to know whether a next page exists.
fn keyset(cond: Cond, after: Option<String>) -> ListQuery {
    ListQuery {
        cond,
        limit: PAGE + 1,
        after,
        ..Default::default()
    }
}

fn page<T>(total: i64, mut rows: Vec<T>, id: impl Fn(&T) -> &str) -> Page<T> {
    let next = (rows.len() as u64 > PAGE).then(|| id(&rows[PAGE as usize - 1]).to_string());
    rows.truncate(PAGE as usize);
    Page { rows, total, next }
}

pub struct Dashboard {
    pub users_active: i64,
    pub users_deactivated: i64,
    pub teams_managed: i64,
    pub teams_console: i64,
    /// (hour, requests, errors) over the last 24 hours.
    pub hourly: Vec<(i64, i64, i64)>,
    pub clients: Vec<ClientActivity>,
    /// The newest requests made with one of the org's own tokens (a stranger's 401s say
    /// nothing about its identity provider).
    pub recent: Vec<Event>,
}

pub async fn dashboard(store: &Store, org: &Org) -> Result<Dashboard> {
    let mut c = store.read().await?;
    let (users_active, users_deactivated) = users::count_users(&mut c, &org.id).await?;
    let (teams_managed, teams_console) = groups::count_groups(&mut c, &org.id).await?;
    let since = now_ms() - 24 * 3_600_000;
    let hourly = events::hourly_counts(&mut c, &org.id, since).await?;
    let clients = events::client_activity(&mut c, &org.id).await?;
    let identified = EventFilter {
        identified: true,
        ..Default::default()
    };
    let recent = events::search_events(&mut c, &org.id, &identified, 5).await?;
    Ok(Dashboard {
        users_active,
        users_deactivated,
        teams_managed,
        teams_console,
        hourly,
        clients,
        recent,
    })
}

/// What the Connect page's live status shows: whether the identity provider got through
/// yet, and what it did since.
pub struct Connection {
    /// The first request accepted with one of the org's tokens: (time, client).
    pub first: Option<(i64, String)>,
    /// Users and groups the identity provider pushed that are in the directory now.
    pub users: i64,
    pub groups: i64,
    /// When the newest request with one of the org's tokens arrived (reads included).
    pub last_at: Option<i64>,
    /// The newest requests made with one of the org's tokens, kept in full (writes and
    /// failures; successful reads are counted per minute).
    pub recent: Vec<Event>,
}

/// Polled every few seconds while the Connect page is open: three indexed reads and two
/// counts of the org's provisioned records.
pub async fn connection(store: &Store, org: &Org) -> Result<Connection> {
    let mut c = store.read().await?;
    let first = events::first_accepted(&mut c, &org.id).await?;
    let (users, groups) = users::count_provisioned(&mut c, &org.id).await?;
    let identified = EventFilter {
        identified: true,
        ..Default::default()
    };
    let recent = if first.is_some() {
        events::search_events(&mut c, &org.id, &identified, 5).await?
    } else {
        Vec::new()
    };
    // Each client's newest request, successful reads included (they are counted, not
    // listed in `recent`).
    let last_at = if first.is_some() {
        events::client_activity(&mut c, &org.id)
            .await?
            .iter()
            .map(|a| a.last_at)
            .max()
    } else {
        None
    };
    Ok(Connection {
        first,
        last_at,
        users,
        groups,
        recent,
    })
}

pub async fn users_page(
    store: &Store,
    org: &Org,
    cond: Cond,
    after: Option<String>,
) -> Result<Page<User>> {
    let (total, rows) = store.page_users(&org.id, &keyset(cond, after)).await?;
    Ok(page(total, rows, |u| &u.id))
}

pub struct UserDetail {
    pub user: User,
    /// The product role (scimgate's SCIM extension), if set.
    pub role: Option<String>,
    /// (id, name) of the user's teams.
    pub teams: Vec<(String, String)>,
    pub history: Vec<Event>,
    /// The user's change events (their own, and team joins and leaves), newest first.
    pub timeline: Vec<ChangeEvent>,
    /// Set when older entries exist: where the next page starts.
    pub timeline_older: Option<i64>,
}

/// Entries of a person's story per page.
pub const TIMELINE_PAGE: i64 = 100;

/// A user's page: profile, teams, provisioning history, and one page of their story (the
/// newest, or the one older than sequence `before`).
pub async fn user_detail(
    store: &Store,
    org: &Org,
    id: &str,
    before: Option<i64>,
) -> Result<UserDetail> {
    let mut c = store.read().await?;
    let user = users::find_user(&mut c, &org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("User not found."))?;
    let teams = users::list_user_groups(&mut c, &user.id).await?;
    let history = events::events_for_resource(&mut c, &org.id, &user.id, 20).await?;
    let mut timeline =
        crate::store::feed::list_for_user(&mut c, &org.id, &user.id, before, TIMELINE_PAGE + 1)
            .await?;
    // Its sequence numbers are a cursor (`timeline_older`): see `Store::settled`.
    store.settled().await?;
    let timeline_older = if timeline.len() as i64 > TIMELINE_PAGE {
        timeline.truncate(TIMELINE_PAGE as usize);
        timeline.last().map(|e| e.seq)
    } else {
        None
    };
    Ok(UserDetail {
        role: crate::provisioning::schemas::role_of(&user.attributes).map(str::to_string),
        user,
        teams,
        history,
        timeline,
        timeline_older,
    })
}

pub async fn teams_page(
    store: &Store,
    org: &Org,
    cond: Cond,
    after: Option<String>,
) -> Result<Page<Group>> {
    let (total, rows, _) = store.page_groups(&org.id, &keyset(cond, after)).await?;
    Ok(page(total, rows, |g| &g.id))
}

pub struct TeamDetail {
    pub team: Group,
    pub members: Page<Member>,
    pub history: Vec<Event>,
}

pub async fn team_detail(
    store: &Store,
    org: &Org,
    id: &str,
    after: Option<String>,
) -> Result<TeamDetail> {
    let mut c = store.read().await?;
    let team = groups::find_group(&mut c, &org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("Team not found."))?;
    let members = groups::list_members(&mut c, &team.id, after.as_deref(), PAGE + 1).await?;
    let history = events::events_for_resource(&mut c, &org.id, &team.id, 20).await?;
    Ok(TeamDetail {
        members: page(team.member_count, members, |m| &m.user_id),
        team,
        history,
    })
}

pub struct LogPage {
    pub events: Vec<Event>,
    pub next: Option<String>,
    /// Cursor of the page of newer events ("Newer"), when this is not the newest page.
    pub newer: Option<String>,
    /// The org's tokens, for the filter by token.
    pub tokens: Vec<ScimToken>,
    /// Successful reads counted per minute (newest [`READ_ROWS`] rows matching the time,
    /// client and token filters), on the first page when the filters can match a read.
    pub reads: Vec<events::ReadTraffic>,
}

/// Rows of per-minute read counts the log page shows.
pub const READ_ROWS: i64 = 60;

/// What an admin searches the log for; empty fields do not filter.
#[derive(Clone, Debug, Default)]
pub struct LogSearch {
    /// Hours back from now.
    pub hours: Option<i64>,
    /// `success`, `client` (4xx) or `server` (5xx).
    pub status: Option<String>,
    /// A change kind, e.g. `created`.
    pub kind: Option<String>,
    pub resource: Option<String>,
    pub client: Option<String>,
    pub token: Option<String>,
    /// The start of a touched resource's name.
    pub text: Option<String>,
    /// Keyset cursor: events older than this id.
    pub before: Option<String>,
    /// Keyset cursor: the page of events just newer than this id.
    pub after: Option<String>,
}

impl LogSearch {
    fn filter(self) -> EventFilter {
        let clean = |v: Option<String>| v.map(|s| s.trim().to_string()).filter(|s| !s.is_empty());
        EventFilter {
            from: self
                .hours
                .filter(|h| *h > 0)
                // Any count of hours a URL carries: past the epoch is "everything".
                .map(|h| now_ms().saturating_sub(h.saturating_mul(3_600_000))),
            to: None,
            status_class: clean(self.status),
            kind: clean(self.kind),
            resource_id: clean(self.resource),
            client: clean(self.client),
            token_id: clean(self.token),
            identified: false,
            text: clean(self.text),
            before: clean(self.before),
            after: clean(self.after),
        }
    }
}

pub async fn log_page(store: &Store, org: &Org, search: LogSearch) -> Result<LogPage> {
    let mut c = store.read().await?;
    let filter = search.filter();
    let mut list = events::search_events(&mut c, &org.id, &filter, PAGE as i64 + 1).await?;
    let more = list.len() as u64 > PAGE;
    let (next, newer) = if filter.after.is_some() {
        // Listed newest first: the extra row, if any, is the newest, beyond this page.
        if more {
            list.remove(0);
        }
        (
            list.last().map(|e| e.id.clone()),
            more.then(|| list.first().map(|e| e.id.clone())).flatten(),
        )
    } else {
        list.truncate(PAGE as usize);
        (
            more.then(|| list.last().map(|e| e.id.clone())).flatten(),
            filter
                .before
                .is_some()
                .then(|| list.first().map(|e| e.id.clone()))
                .flatten(),
        )
    };
    let tokens = tokens::list_tokens(&mut c, &org.id).await?;
    // A counted read changed nothing and succeeded: filters on changes, names or failures
    // exclude them all; paging is the full rows'.
    let reads_match = matches!(filter.status_class.as_deref(), None | Some("success"))
        && filter.kind.is_none()
        && filter.resource_id.is_none()
        && filter.text.is_none()
        && filter.before.is_none()
        && filter.after.is_none();
    let reads = if reads_match {
        let f = events::ReadTrafficFilter {
            since: filter.from,
            client: filter.client.clone(),
            token_id: filter.token_id.clone(),
            before: None,
        };
        events::read_traffic(&mut c, &org.id, &f, READ_ROWS).await?
    } else {
        Vec::new()
    };
    Ok(LogPage {
        events: list,
        next,
        newer,
        tokens,
        reads,
    })
}

/// The most members of one request whose names an event page looks up.
pub const MEMBER_NAMES_MAX: usize = 500;

/// One request in full, and the userNames of the members it added or removed (those still
/// in the directory; at most [`MEMBER_NAMES_MAX`]), so that the page names people.
pub async fn event(store: &Store, org: &Org, id: &str) -> Result<(Event, Vec<(String, String)>)> {
    let mut c = store.read().await?;
    let e = events::find_event(&mut c, &org.id, id)
        .await?
        .ok_or(ManagementError::NotFound("Event not found."))?;
    let mut ids: Vec<String> = Vec::new();
    for ch in &e.changes {
        if matches!(
            ch.kind,
            crate::directory::ChangeKind::MemberAdded | crate::directory::ChangeKind::MemberRemoved
        ) {
            let listed = ch
                .detail
                .as_ref()
                .and_then(|d| d.get("members"))
                .and_then(|m| m.as_array());
            ids.extend(
                listed
                    .into_iter()
                    .flatten()
                    .filter_map(|v| v.as_str())
                    .map(str::to_string),
            );
        }
    }
    ids.truncate(MEMBER_NAMES_MAX);
    let names = users::user_names(&mut c, &org.id, &ids).await?;
    Ok((e, names))
}

/// The most change events [`change_events`] answers at once.
pub const CHANGE_EVENTS_MAX: i64 = 200;

/// The org's newest change events, newest first: at most `limit` (capped at
/// [`CHANGE_EVENTS_MAX`]), only those after sequence `after` when it is given.
pub async fn change_events(
    store: &Store,
    org: &Org,
    after: Option<i64>,
    limit: i64,
) -> Result<Vec<ChangeEvent>> {
    let limit = limit.clamp(1, CHANGE_EVENTS_MAX);
    let mut c = store.read().await?;
    let events = feed::list_newest(&mut c, &org.id, after.map(|a| a.max(0)), limit).await?;
    drop(c);
    // Its `after` is a feed cursor too (see `Store::settled`).
    store.settled().await?;
    Ok(events)
}
