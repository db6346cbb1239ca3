-- When each client first got through with one of the org's tokens (a request that was not
-- refused with 401). The Connect page's live status asks "has the identity provider called
-- yet?" every few seconds; answered from the log it meant scanning the log from its oldest
-- entry, which at 1,000,000 entries with none accepted read all of them.
ALTER TABLE client_activity ADD COLUMN first_ok_at BIGINT;

UPDATE client_activity SET first_ok_at = (
    SELECT MIN(e.occurred_at) FROM events e
    WHERE e.org_id = client_activity.org_id AND e.client = client_activity.client
      AND e.token_id IS NOT NULL AND e.status <> 401
);
