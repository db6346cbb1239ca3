-- Adding an admin is an invitation: the person accepts it (at their next sign-in, or with
-- the one-time code when they have no account yet). An account is never pulled into an org
-- without its owner's consent, and the answer to the inviting admin does not tell whether
-- the email has an account. Only the SHA-256 of the code is kept.
CREATE TABLE admin_invitations (
    id TEXT PRIMARY KEY NOT NULL,
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    email_key TEXT NOT NULL,
    email TEXT NOT NULL,
    code_hash TEXT NOT NULL UNIQUE,
    invited_by_email TEXT NOT NULL,
    created_at BIGINT NOT NULL,
    expires_at BIGINT NOT NULL,
    answered_at BIGINT,
    accepted BOOLEAN
);
CREATE INDEX admin_invitations_email ON admin_invitations (email_key, expires_at);
CREATE INDEX admin_invitations_org ON admin_invitations (org_id, created_at);
