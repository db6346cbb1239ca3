-- Console support: audit trail of admin actions, per-client activity for the dashboard,
-- and indexes for the console's searches and the log's time windows.

CREATE TABLE audit_log (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    admin_id TEXT,
    admin_email TEXT NOT NULL,
    action TEXT NOT NULL,
    target TEXT,
    detail TEXT,
    occurred_at BIGINT NOT NULL
);
CREATE INDEX audit_log_by_org ON audit_log(org_id, id);

-- Last request per (org, client): the dashboard's "last seen" without scanning the log.
CREATE TABLE client_activity (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    client TEXT NOT NULL,
    last_at BIGINT NOT NULL,
    last_status BIGINT NOT NULL,
    last_token_label TEXT,
    PRIMARY KEY (org_id, client)
);

CREATE INDEX events_by_org_time ON events(org_id, occurred_at);
CREATE INDEX users_display_name ON users(org_id, lower(display_name));
CREATE INDEX users_source ON users(org_id, source, id);
