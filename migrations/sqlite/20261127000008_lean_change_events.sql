-- Change events are written with every directory change, so each index on them is paid by
-- every SCIM write. Readers only ever ask for an org's events in sequence order (the feed,
-- webhooks, the console's live view) or, rarely, for one event by id (a resend, which scans
-- the org's range). So the table is one B-tree keyed by (org_id, seq): the random-UUID
-- primary key, the time index (retention now walks each org's oldest events by sequence)
-- and the unused per-resource index are gone. One narrow index stays: each user's events
-- (their own and their team joins and leaves), for the console's story of a person.
CREATE TABLE change_events_lean (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    seq BIGINT NOT NULL,
    id TEXT NOT NULL,
    event_type TEXT NOT NULL,
    occurred_at BIGINT NOT NULL,
    origin TEXT NOT NULL,
    resource_id TEXT NOT NULL,
    -- The user the event is about: the resource of user events, the member of membership
    -- events, NULL for team events.
    user_id TEXT,
    data TEXT NOT NULL,
    PRIMARY KEY (org_id, seq)
) WITHOUT ROWID;
INSERT INTO change_events_lean (org_id, seq, id, event_type, occurred_at, origin, resource_id, user_id, data)
    SELECT org_id, seq, id, event_type, occurred_at, origin, resource_id,
        CASE WHEN event_type LIKE 'user.%' THEN resource_id
             WHEN event_type LIKE 'team.member_%' THEN json_extract(data, '$.user.id') END,
        data
    FROM change_events;
DROP TABLE change_events;
ALTER TABLE change_events_lean RENAME TO change_events;
CREATE INDEX change_events_user ON change_events (org_id, user_id, seq) WHERE user_id IS NOT NULL;
