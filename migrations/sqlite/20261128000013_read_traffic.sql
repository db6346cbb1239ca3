-- Successful reads (GET, and POST .../.search) counted per minute instead of one
-- provisioning-log row each: the log is written at request rate, and an identity provider's
-- lookups and imports are most of its requests. Failures and every write keep their full
-- row in events. One row per (org, minute, client, token, route); the log writer adds each
-- batch's counts with an upsert. The client's address is part of the key (an on-call
-- engineer must be able to tell a leaked token's dump from the identity provider's import);
-- its User-Agent is the latest seen.
CREATE TABLE read_traffic (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    -- Unix ms of the minute's start.
    minute INTEGER NOT NULL,
    client TEXT NOT NULL,
    -- '' for none (a primary-key column cannot be NULL).
    token_id TEXT NOT NULL,
    token_label TEXT,
    -- Method and route with ids replaced, e.g. 'GET /Users?filter', 'GET /Users/{id}'.
    route TEXT NOT NULL,
    -- The client's address (see net::ClientAddr), '' if unknown.
    remote_addr TEXT NOT NULL,
    user_agent TEXT,
    requests INTEGER NOT NULL,
    total_us INTEGER NOT NULL,
    max_us INTEGER NOT NULL,
    PRIMARY KEY (org_id, minute, client, token_id, route, remote_addr)
);
-- Retention deletes by time across orgs.
CREATE INDEX read_traffic_by_minute ON read_traffic(minute);
