-- Read-only keys for the application that relies on scimgate (the /v1 read API and the
-- event feed). Distinct from SCIM tokens: another table, another prefix; a SCIM token is
-- refused on the application API and an application key on SCIM. Only the SHA-256 of the
-- secret is kept.
CREATE TABLE app_keys (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    label TEXT NOT NULL,
    key_hash TEXT NOT NULL UNIQUE,
    hint TEXT NOT NULL,
    created_by TEXT,
    created_at BIGINT NOT NULL,
    last_used_at BIGINT,
    revoked_at BIGINT
);
CREATE INDEX app_keys_org ON app_keys (org_id, created_at);
