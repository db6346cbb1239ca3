-- The application's change feed (an outbox): every directory change, from SCIM or the
-- console, is recorded here in the same transaction as the change, under a per-org
-- sequence that strictly increases in commit order. change_event_seq holds each org's last
-- sequence number: allocating from its row locks it until commit, so a later number never
-- becomes visible before an earlier one.
CREATE TABLE change_event_seq (
    org_id TEXT PRIMARY KEY NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    last_seq BIGINT NOT NULL
);
CREATE TABLE change_events (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    -- scim:<client> or console:<admin email>
    origin TEXT NOT NULL,
    -- The user or team the event is about (the team, for membership events).
    resource_id TEXT NOT NULL,
    data TEXT NOT NULL,
    UNIQUE (org_id, seq)
);
CREATE INDEX change_events_time ON change_events (occurred_at);
CREATE INDEX change_events_resource ON change_events (org_id, resource_id, seq);
