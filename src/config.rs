//! Command line and environment settings (clap). Every flag has an environment variable so
//! containers and systemd units can configure scimgate without arguments.

use clap::{Args, Parser, Subcommand};
use std::net::SocketAddr;

pub const DEFAULT_DATABASE_URL: &str = "sqlite://data/scimgate.db";

#[derive(Debug, Parser)]
#[command(
    name = "scimgate",
    version,
    about = "SCIM 2.0 service provider and admin console for identity-provider provisioning"
)]
pub struct Cli {
    /// Database URL: sqlite://PATH (embedded default, created on first run) or postgres://USER@HOST/DB
    #[arg(long, global = true, env = "DATABASE_URL", default_value = DEFAULT_DATABASE_URL)]
    pub database_url: String,

    /// Log filter, e.g. info, debug, or scimgate=debug,tower_http=info
    #[arg(long, global = true, env = "SCIMGATE_LOG", default_value = "info")]
    pub log_level: String,

    /// Log format: text or json
    #[arg(
        long,
        global = true,
        env = "SCIMGATE_LOG_FORMAT",
        default_value = "text"
    )]
    pub log_format: String,

    #[command(subcommand)]
    pub command: Option<Command>,
}

#[derive(Debug, Subcommand)]
pub enum Command {
    /// Serve the SCIM API and the admin console (the default)
    Serve(ServeArgs),
    /// Apply database migrations and exit
    Migrate,
    /// Manage organizations
    #[command(subcommand)]
    Org(OrgCommand),
    /// Manage console admins
    #[command(subcommand)]
    Admin(AdminCommand),
    /// Manage SCIM bearer tokens
    #[command(subcommand)]
    Token(TokenCommand),
    /// Manage read-only application keys (the /v1 read API and the event feed)
    #[command(subcommand)]
    AppKey(AppKeyCommand),
    /// Manage webhook endpoints (signed deliveries of every change event)
    #[command(subcommand)]
    Webhook(WebhookCommand),
    /// Copy a SQLite database while the server runs (a consistent snapshot, checked); for
    /// PostgreSQL use pg_dump
    Backup(BackupArgs),
    /// Fill an organization with synthetic users, groups, memberships and log events (for
    /// benchmarks and large-directory checks); creates the org if it does not exist
    Seed(SeedArgs),
}

#[derive(Debug, Clone, Args)]
pub struct BackupArgs {
    /// The file to write the copy to (created owner-only, 0600)
    #[arg(long, value_name = "FILE")]
    pub to: std::path::PathBuf,
    /// Replace FILE if it exists (and remove a FILE-wal, -shm or -journal left beside it,
    /// which SQLite would otherwise apply to the copy); never a database a server is using
    #[arg(long)]
    pub force: bool,
}

#[derive(Debug, Clone, Args)]
pub struct SeedArgs {
    /// Login of the organization to fill
    #[arg(long)]
    pub org: String,
    /// Number of users (user{i}@{org}.example)
    #[arg(long, default_value_t = 1000)]
    pub users: u64,
    /// Number of groups (all provisioned, "Team {i}")
    #[arg(long, default_value_t = 10)]
    pub groups: u64,
    /// Total memberships, spread evenly over the groups
    #[arg(long, default_value_t = 1000)]
    pub memberships: u64,
    /// Provisioning-log events spread over the last 30 days
    #[arg(long, default_value_t = 0)]
    pub events: u64,
}

#[derive(Debug, Clone, Args)]
pub struct ServeArgs {
    /// Address to listen on
    #[arg(long, env = "SCIMGATE_ADDR", default_value = "127.0.0.1:3000")]
    pub addr: SocketAddr,

    /// Public base URL shown to admins and used in SCIM meta.location (e.g. https://scim.example.com); default: from the request's Host
    #[arg(long, env = "SCIMGATE_PUBLIC_URL")]
    pub public_url: Option<String>,

    /// Mark the session cookie Secure. On by default: browsers accept Secure cookies over
    /// https and on http://localhost and 127.0.0.1; turn off only for other plain-http set-ups
    #[arg(long, env = "SCIMGATE_SECURE_COOKIES", default_value_t = true, action = clap::ArgAction::Set)]
    pub secure_cookies: bool,

    /// Directory with the built site (pkg/ with the WASM, JS and CSS)
    #[arg(long, env = "LEPTOS_SITE_ROOT", default_value = "target/site")]
    pub site_root: String,

    /// Largest accepted SCIM request body, in bytes
    #[arg(long, env = "SCIMGATE_MAX_BODY_BYTES", default_value_t = 1 << 20)]
    pub max_body_bytes: usize,

    /// Largest page a SCIM list returns (count is capped to this)
    #[arg(long, env = "SCIMGATE_MAX_PAGE_SIZE", default_value_t = 1000)]
    pub max_page_size: u64,

    /// Days provisioning-log events are kept before pruning
    #[arg(long, env = "SCIMGATE_EVENT_RETENTION_DAYS", default_value_t = 90)]
    pub event_retention_days: u32,

    /// Days the application's change events (feed and webhooks) are kept
    #[arg(
        long,
        env = "SCIMGATE_CHANGE_EVENT_RETENTION_DAYS",
        default_value_t = 30
    )]
    pub change_event_retention_days: u32,

    /// Allow webhook destinations in private, loopback and link-local ranges (and plain
    /// http): for tests and closed networks only
    #[arg(long, env = "SCIMGATE_WEBHOOK_ALLOW_PRIVATE")]
    pub webhook_allow_private: bool,

    /// Whether this instance delivers webhooks (`--webhook-delivery=false` leaves them to
    /// the other instances sharing the database)
    #[arg(long, env = "SCIMGATE_WEBHOOK_DELIVERY", default_value_t = true, action = clap::ArgAction::Set)]
    pub webhook_delivery: bool,

    /// Delay before a failed webhook delivery's first retry, in milliseconds (each next
    /// retry waits 6 times longer, at most 8 hours; an event is retried for about a day)
    #[arg(
        long,
        env = "SCIMGATE_WEBHOOK_RETRY_INITIAL_MS",
        default_value_t = 5000
    )]
    pub webhook_retry_initial_ms: u64,

    /// Hours without a successful delivery after which a webhook endpoint is disabled
    #[arg(
        long,
        env = "SCIMGATE_WEBHOOK_DISABLE_AFTER_HOURS",
        default_value_t = 72
    )]
    pub webhook_disable_after_hours: u64,

    /// Key that seals webhook signing secrets at rest: base64 of 32 random bytes, the same
    /// on every instance (required with PostgreSQL to use webhooks; with SQLite, default: a
    /// key file beside the database)
    #[arg(long, env = "SCIMGATE_SECRETS_KEY", hide_env_values = true)]
    pub secrets_key: Option<String>,

    /// Database connections per instance
    #[arg(long, env = "SCIMGATE_DB_CONNECTIONS", default_value_t = 16)]
    pub db_connections: u32,

    /// Longest SCIM filter or PATCH path, in bytes (at most 65536)
    #[arg(long, env = "SCIMGATE_MAX_FILTER_BYTES", default_value_t = 16_384)]
    pub max_filter_bytes: usize,

    /// Most terms (attribute expressions) in one SCIM filter or PATCH path; bounds and/or
    /// chains too (at most 256)
    #[arg(long, env = "SCIMGATE_MAX_FILTER_TERMS", default_value_t = 100)]
    pub max_filter_terms: usize,

    /// Deepest nesting of parentheses, not (…) and […] in a SCIM filter (at most 64)
    #[arg(long, env = "SCIMGATE_MAX_FILTER_DEPTH", default_value_t = 16)]
    pub max_filter_depth: usize,

    /// Longest string literal in a SCIM filter, in bytes (at most 16384)
    #[arg(
        long,
        env = "SCIMGATE_MAX_FILTER_STRING_BYTES",
        default_value_t = 4_096
    )]
    pub max_filter_string_bytes: usize,

    /// SCIM requests with a missing or unknown token allowed per client address and minute
    /// (also the burst); beyond it they get 429 with Retry-After and are not logged
    #[arg(
        long,
        env = "SCIMGATE_UNAUTHENTICATED_PER_MINUTE",
        default_value_t = 30
    )]
    pub unauthenticated_per_minute: u32,

    /// How long a verified SCIM token is trusted without reading it again, in ms (0: read on
    /// every request). Default: 1000 on SQLite (one instance: revocations and setting
    /// changes made in the console apply at once), 0 on PostgreSQL (several instances: a
    /// revocation on one must hold on all at once). Set on PostgreSQL, a change made through
    /// another instance applies within this time
    #[arg(long, env = "SCIMGATE_TOKEN_CACHE_MS")]
    pub token_cache_ms: Option<u64>,

    /// Password verifications (argon2, ~19 MiB each) run at once; others wait up to 2 s,
    /// then get 429 (default: the number of CPUs)
    #[arg(long, env = "SCIMGATE_PASSWORD_CONCURRENCY")]
    pub password_concurrency: Option<usize>,

    /// Proxies (CIDR, repeatable or comma-separated) whose X-Forwarded-For is trusted for the
    /// client address; without one the socket address is the client's
    #[arg(long, env = "SCIMGATE_TRUSTED_PROXY", value_delimiter = ',')]
    pub trusted_proxy: Vec<String>,

    /// Seconds a client has to send a request's headers; also how long an idle keep-alive
    /// connection stays open
    #[arg(long, env = "SCIMGATE_HEADER_TIMEOUT_SECS", default_value_t = 10)]
    pub header_timeout_secs: u64,

    /// Seconds a client has to send a request's body
    #[arg(long, env = "SCIMGATE_BODY_TIMEOUT_SECS", default_value_t = 30)]
    pub body_timeout_secs: u64,

    /// Most open client connections; further connections wait until one closes
    #[arg(long, env = "SCIMGATE_MAX_CONNECTIONS", default_value_t = 1024)]
    pub max_connections: usize,

    /// Most operations in one SCIM PATCH request
    #[arg(long, env = "SCIMGATE_MAX_PATCH_OPERATIONS", default_value_t = 256)]
    pub max_patch_operations: usize,

    /// Largest stored SCIM resource (its JSON attributes) after a create, replace or PATCH, in bytes
    #[arg(long, env = "SCIMGATE_MAX_RESOURCE_BYTES", default_value_t = 256 * 1024)]
    pub max_resource_bytes: usize,

    /// Largest console request body (sign-in, forms, server-function calls), in bytes
    #[arg(long, env = "SCIMGATE_MAX_CONSOLE_BODY_BYTES", default_value_t = 64 * 1024)]
    pub max_console_body_bytes: usize,

    /// Turns on GET /metrics (Prometheus) for requests with `Authorization: Bearer <this>`
    /// (at least 16 characters); without it /metrics is 404 and no request is measured
    #[arg(long, env = "SCIMGATE_METRICS_TOKEN", hide_env_values = true)]
    pub metrics_token: Option<String>,

    /// How successful SCIM reads (GET, .search) go into the provisioning log: `minute`
    /// counts them per minute, client, token and route (the console's "Read traffic");
    /// `each` keeps a full row per read, as writes and failures always are
    #[arg(long, env = "SCIMGATE_LOG_READS", value_enum, default_value_t = LogReads::Minute)]
    pub log_reads: LogReads,
}

/// See [`ServeArgs::log_reads`].
#[derive(Debug, Clone, Copy, PartialEq, Eq, clap::ValueEnum)]
pub enum LogReads {
    Minute,
    Each,
}

impl ServeArgs {
    pub fn filter_limits(&self) -> crate::scim::filter::FilterLimits {
        crate::scim::filter::FilterLimits {
            max_len: self.max_filter_bytes,
            max_terms: self.max_filter_terms,
            max_depth: self.max_filter_depth,
            max_string: self.max_filter_string_bytes,
        }
        .clamped()
    }
}

impl Default for ServeArgs {
    fn default() -> Self {
        ServeArgs {
            addr: "127.0.0.1:3000".parse().expect("valid default address"),
            public_url: None,
            secure_cookies: true,
            site_root: "target/site".into(),
            max_body_bytes: 1 << 20,
            max_page_size: 1000,
            event_retention_days: 90,
            change_event_retention_days: 30,
            webhook_allow_private: false,
            webhook_delivery: true,
            webhook_retry_initial_ms: 5000,
            webhook_disable_after_hours: 72,
            secrets_key: None,
            db_connections: 16,
            max_filter_bytes: 16_384,
            max_filter_terms: 100,
            max_filter_depth: 16,
            max_filter_string_bytes: 4_096,
            unauthenticated_per_minute: 30,
            token_cache_ms: None,
            password_concurrency: None,
            trusted_proxy: Vec::new(),
            header_timeout_secs: 10,
            body_timeout_secs: 30,
            max_connections: 1024,
            max_console_body_bytes: 64 * 1024,
            max_patch_operations: 256,
            max_resource_bytes: 256 * 1024,
            metrics_token: None,
            log_reads: LogReads::Minute,
        }
    }
}

#[derive(Debug, Subcommand)]
pub enum OrgCommand {
    /// Create an organization; its SCIM base URL is /scim/v2/<login>
    Create {
        /// Login: 2–63 lowercase letters, digits and dashes
        login: String,
        /// Display name (default: the login)
        #[arg(long)]
        name: Option<String>,
    },
    /// List organizations
    List,
}

#[derive(Debug, Subcommand)]
pub enum AdminCommand {
    /// Create a console admin of an organization. The password is read from stdin (one
    /// line); when stdin is empty a password is generated and printed once.
    Create {
        /// Login of the organization
        #[arg(long)]
        org: String,
        /// The admin's email address (their sign-in name)
        #[arg(long)]
        email: String,
    },
}

#[derive(Debug, Subcommand)]
pub enum TokenCommand {
    /// Create a SCIM bearer token and print it once (only its hash is stored)
    Create {
        /// Login of the organization
        #[arg(long)]
        org: String,
        /// A label to recognise the token by, e.g. "Okta production"
        #[arg(long, default_value = "CLI")]
        label: String,
        /// Days until the token expires (default: never)
        #[arg(long)]
        expires_in_days: Option<u32>,
    },
    /// List an organization's tokens (never their secrets)
    List {
        #[arg(long)]
        org: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum AppKeyCommand {
    /// Create an application key and print it once (only its hash is stored)
    Create {
        /// Login of the organization
        #[arg(long)]
        org: String,
        /// A label to recognise the key by, e.g. "Production app"
        #[arg(long)]
        label: String,
    },
    /// List an organization's application keys (never their secrets)
    List {
        #[arg(long)]
        org: String,
    },
    /// Revoke an application key: it stops working at once
    Revoke {
        #[arg(long)]
        org: String,
        /// The key's id (from `app-key list`)
        #[arg(long)]
        id: String,
    },
}

#[derive(Debug, Clone, Subcommand)]
pub enum WebhookCommand {
    /// Add an endpoint and print its signing secret once
    Create {
        #[arg(long)]
        org: String,
        /// https URL the events are posted to
        #[arg(long)]
        url: String,
        /// Event types to send, comma-separated (default: all)
        #[arg(long, default_value = "")]
        types: String,
        #[arg(long, default_value = "")]
        description: String,
        /// Allow a private, loopback or link-local destination
        #[arg(long, env = "SCIMGATE_WEBHOOK_ALLOW_PRIVATE")]
        allow_private: bool,
        /// See `serve --secrets-key`
        #[arg(long, env = "SCIMGATE_SECRETS_KEY", hide_env_values = true)]
        secrets_key: Option<String>,
    },
    /// List an organization's endpoints and their state
    List {
        #[arg(long)]
        org: String,
    },
    /// Remove an endpoint
    Delete {
        #[arg(long)]
        org: String,
        #[arg(long)]
        id: String,
    },
}
