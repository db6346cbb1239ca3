-- Webhook endpoints and every delivery attempt. Each endpoint follows the org's change feed
-- with a cursor of its own (cursor_seq: the last event delivered or given up on), so
-- deliveries go out in sequence order per endpoint and at least once: the cursor moves only
-- after the receiver answered 2xx. One instance at a time works on an endpoint: it holds
-- the lease (lease_until) it claimed.
CREATE TABLE webhook_endpoints (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    url TEXT NOT NULL,
    description TEXT NOT NULL,
    -- Comma-separated event types; empty: every type.
    event_types TEXT NOT NULL,
    -- The Standard Webhooks signing secret (whsec_…), encrypted with the server's key.
    secret TEXT NOT NULL,
    secret_hint TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    disabled_at BIGINT,
    disabled_reason TEXT,
    cursor_seq BIGINT NOT NULL,
    -- Attempts so far at the event after the cursor, and when the next one is due.
    attempt BIGINT NOT NULL,
    next_attempt_at BIGINT NOT NULL,
    failing_since BIGINT,
    last_success_at BIGINT,
    lease_until BIGINT NOT NULL,
    leased_by TEXT
);
CREATE INDEX webhook_endpoints_org ON webhook_endpoints (org_id, created_at);
CREATE INDEX webhook_endpoints_due ON webhook_endpoints (next_attempt_at);
CREATE TABLE webhook_attempts (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    seq BIGINT NOT NULL,
    event_type TEXT NOT NULL,
    attempted_at BIGINT NOT NULL,
    -- delivered, retrying, gave_up (the retry schedule ran out) or resent
    outcome TEXT NOT NULL,
    status_code BIGINT,
    latency_ms BIGINT NOT NULL,
    error TEXT,
    response_excerpt TEXT
);
CREATE INDEX webhook_attempts_endpoint ON webhook_attempts (endpoint_id, attempted_at);
-- Resends an admin asked for, picked up by whichever instance delivers next.
CREATE TABLE webhook_resends (
    id TEXT PRIMARY KEY NOT NULL,
    endpoint_id TEXT NOT NULL REFERENCES webhook_endpoints(id) ON DELETE CASCADE,
    event_id TEXT NOT NULL,
    requested_at BIGINT NOT NULL,
    lease_until BIGINT NOT NULL
);
