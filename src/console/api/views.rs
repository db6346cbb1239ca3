//! What the console's pages receive: plain data, the same on the server and in the
//! browser. No server types here.

use serde::{Deserialize, Serialize};

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct OrgSummary {
    pub login: String,
    pub name: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct SessionView {
    /// No org exists yet: the console offers the first-run page.
    pub needs_setup: bool,
    pub admin_email: Option<String>,
    pub orgs: Vec<OrgSummary>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct DashboardView {
    pub org: OrgSummary,
    pub scim_base_url: String,
    pub users_active: i64,
    pub users_deactivated: i64,
    pub teams_managed: i64,
    pub teams_console: i64,
    /// The last 24 hours, one entry per hour with requests.
    pub hourly: Vec<HourView>,
    pub clients: Vec<ClientView>,
    /// Set when the most recent requests failed (e.g. a revoked token still in use).
    pub warning: Option<String>,
    /// Webhook endpoints turned off after failing for too long (the page warns).
    pub webhooks_disabled: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ClientView {
    pub client: String,
    /// The product behind the client ("Okta"), for people.
    pub provider: String,
    pub last_at: i64,
    pub last_status: i64,
    pub token_label: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct HourView {
    pub hour: i64,
    pub total: i64,
    pub errors: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectView {
    pub org: OrgSummary,
    pub scim_base_url: String,
    pub unique_identifier: String,
    pub user_name_immutable: bool,
    pub allowed_roles: Vec<String>,
}

/// The Connect page's live status: waiting for the identity provider's first request, or
/// connected and what it did.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ConnectionView {
    /// The first request accepted with one of the org's tokens.
    pub first_request_at: Option<i64>,
    /// "Okta", "Microsoft Entra ID", … (the client of that first request).
    pub provider: Option<String>,
    pub last_request_at: Option<i64>,
    /// Users and groups the identity provider pushed, in the directory now.
    pub users: i64,
    pub groups: i64,
    /// Its newest requests, newest first.
    pub recent: Vec<EventRowView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TokenView {
    pub id: String,
    pub label: String,
    pub hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    pub expires_at: Option<i64>,
    /// active, replaced (regenerated, works until `expires_at`), expired or revoked
    pub state: String,
}

/// A token just created: the secret is in this one response and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewTokenView {
    pub token: TokenView,
    pub secret: String,
    /// After a regeneration: when the replaced token stops working (now, or the end of
    /// the overlap).
    pub old_stops_at: Option<i64>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct Page<T> {
    pub items: Vec<T>,
    pub total: i64,
    /// Cursor for the next page, if any.
    pub next: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserRowView {
    pub id: String,
    pub user_name: String,
    pub display_name: Option<String>,
    pub email: Option<String>,
    pub active: bool,
    /// "Okta", "Microsoft Entra ID", … for provisioned users; None for console-made ones.
    pub managed_by: Option<String>,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EmailView {
    pub value: String,
    pub kind: Option<String>,
    pub primary: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRef {
    pub id: String,
    pub name: String,
}

/// One entry of a person's story (a change event about the user).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TimelineEntryView {
    pub seq: i64,
    pub occurred_at: i64,
    /// The wire name (`team.member_added`), for styling and tests.
    pub event_type: String,
    /// What happened, in words: "Created", "Joined team", "Deactivated", …
    pub title: String,
    /// Who did it: "Okta (SCIM)" or "admin@example.com (console)".
    pub origin: String,
    /// The team joined or left.
    pub team: Option<TeamRef>,
    /// Attribute (or role) changes, before and after.
    pub changes: Vec<FieldChangeView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct FieldChangeView {
    pub field: String,
    pub before: String,
    pub after: String,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct UserDetailView {
    pub org: OrgSummary,
    pub user: UserRowView,
    pub external_id: Option<String>,
    pub role: Option<String>,
    pub emails: Vec<EmailView>,
    pub attributes_json: String,
    pub teams: Vec<TeamRef>,
    pub history: Vec<EventRowView>,
    /// The user's story, newest first.
    pub timeline: Vec<TimelineEntryView>,
    /// Set when older entries exist: the `before` cursor of the next page.
    pub timeline_older: Option<i64>,
    pub created_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamRowView {
    pub id: String,
    pub name: String,
    pub managed_by: Option<String>,
    pub member_count: i64,
    pub updated_at: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct MemberView {
    pub user_id: String,
    pub user_name: String,
    pub display_name: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct TeamDetailView {
    pub org: OrgSummary,
    pub team: TeamRowView,
    pub external_id: Option<String>,
    pub members: Vec<MemberView>,
    pub next_members: Option<String>,
    pub history: Vec<EventRowView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeView {
    pub kind: String,
    pub resource_type: String,
    pub resource_id: String,
    pub resource_name: Option<String>,
    pub detail_json: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventRowView {
    pub id: String,
    pub occurred_at: i64,
    pub method: String,
    pub path: String,
    pub status: i64,
    pub scim_type: Option<String>,
    pub client: String,
    pub token_label: Option<String>,
    pub duration_us: i64,
    pub summary: Option<String>,
    pub changes: Vec<ChangeView>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct EventDetailView {
    pub org: OrgSummary,
    pub event: EventRowView,
    pub query: Option<String>,
    pub request_body: Option<String>,
    /// (id, userName) of the members the request added or removed that still exist.
    pub member_names: Vec<(String, String)>,
}

/// Filters of the provisioning-log page, as they appear in its URL.
#[derive(Clone, Debug, Default, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogQuery {
    pub status: Option<String>,
    pub kind: Option<String>,
    pub client: Option<String>,
    pub token: Option<String>,
    pub resource: Option<String>,
    pub text: Option<String>,
    /// Hours back from now (time range).
    pub hours: Option<i64>,
    pub before: Option<String>,
    pub after: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct LogPageView {
    pub org: OrgSummary,
    pub events: Vec<EventRowView>,
    pub next: Option<String>,
    pub newer: Option<String>,
    pub tokens: Vec<TokenView>,
    /// Successful reads, counted per minute (see `serve --log-reads`).
    pub reads: Vec<ReadTrafficView>,
}

/// One minute of one client's successful reads of one route.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ReadTrafficView {
    pub minute: i64,
    pub client: String,
    pub token_label: Option<String>,
    pub route: String,
    pub remote_addr: String,
    pub requests: i64,
    pub total_us: i64,
    pub max_us: i64,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminView {
    pub id: String,
    pub email: String,
    pub created_at: i64,
    pub is_you: bool,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AuditView {
    pub occurred_at: i64,
    pub admin_email: String,
    pub action: String,
    pub target: Option<String>,
    pub detail: Option<String>,
}

#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AdminsPageView {
    pub org: OrgSummary,
    pub admins: Vec<AdminView>,
    pub invited: Vec<InvitedView>,
    pub audit: Vec<AuditView>,
}

/// An invitation just created: the code is shown once. The same answer whether or not the
/// email already has an account.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitationView {
    pub email: String,
    pub code: String,
    pub expires_at: i64,
}

/// An invitation waiting for the signed-in admin's answer.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct PendingInvitationView {
    pub id: String,
    pub org: OrgSummary,
    pub invited_by: String,
    pub expires_at: i64,
}

/// An invitation of this org nobody has answered yet.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct InvitedView {
    pub email: String,
    pub invited_by: String,
    pub expires_at: i64,
}

/// An application key as the Integrations page lists it: never its secret.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct AppKeyView {
    pub id: String,
    pub label: String,
    pub hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    pub last_used_at: Option<i64>,
    /// active or revoked
    pub state: String,
}

/// An application key just created: the secret is in this one response and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewAppKeyView {
    pub key: AppKeyView,
    pub secret: String,
}

/// One entry of the change-event feed, as the Integrations page shows it.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct ChangeEventView {
    pub seq: i64,
    /// `user.created`, `team.member_added`, …
    pub event_type: String,
    pub occurred_at: i64,
    /// `scim:<client>` or `console:<admin email>`.
    pub origin: String,
    /// One line for people: "alice@example.com added to Engineering".
    pub summary: String,
    pub resource_id: String,
}

/// A webhook endpoint as the Integrations page shows it, with its newest delivery attempts.
/// Its signing secret is never in here (only its hint).
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookEndpointView {
    pub id: String,
    pub url: String,
    pub description: String,
    /// The event types it receives; empty: all of them.
    pub event_types: Vec<String>,
    /// The secret's start (`whsec_…`), to tell endpoints apart.
    pub secret_hint: String,
    pub created_by: Option<String>,
    pub created_at: i64,
    /// active, failing or disabled
    pub state: String,
    pub failing_since: Option<i64>,
    pub disabled_at: Option<i64>,
    pub disabled_reason: Option<String>,
    pub last_success_at: Option<i64>,
    /// Newest first.
    pub recent: Vec<WebhookAttemptView>,
}

/// One delivery attempt of one event to one endpoint.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct WebhookAttemptView {
    pub id: String,
    pub event_id: String,
    pub seq: i64,
    pub event_type: String,
    pub attempted_at: i64,
    /// delivered, retrying, gave_up or resent
    pub outcome: String,
    pub status_code: Option<i64>,
    pub latency_ms: i64,
    pub error: Option<String>,
    /// The start of the receiver's answer.
    pub response_excerpt: Option<String>,
}

/// An endpoint just added: its signing secret is in this one response and nowhere else.
#[derive(Clone, Debug, PartialEq, Eq, Serialize, Deserialize)]
pub struct NewWebhookEndpointView {
    pub endpoint: WebhookEndpointView,
    pub secret: String,
}
