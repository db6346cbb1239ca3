-- Change events are written with every directory change, so each index on them is paid by
-- every SCIM write. Readers only ever ask for an org's events in sequence order (the feed,
-- webhooks, the console's live view) or, rarely, for one event by id (a resend, which scans
-- the org's range). So the only index is the primary key (org_id, seq): the random-UUID
-- key, the time index (retention now walks each org's oldest events by sequence) and the
-- unused per-resource index are gone. One narrow index stays: each user's events (their
-- own and their team joins and leaves), for the console's story of a person.
ALTER TABLE change_events DROP CONSTRAINT change_events_pkey;
ALTER TABLE change_events DROP CONSTRAINT change_events_org_id_seq_key;
DROP INDEX change_events_time;
DROP INDEX change_events_resource;
ALTER TABLE change_events ADD PRIMARY KEY (org_id, seq);
-- The user the event is about: the resource of user events, the member of membership
-- events, NULL for team events.
ALTER TABLE change_events ADD COLUMN user_id TEXT;
UPDATE change_events SET user_id = CASE
    WHEN event_type LIKE 'user.%' THEN resource_id
    WHEN event_type LIKE 'team.member_%' THEN (data::jsonb) -> 'user' ->> 'id' END;
CREATE INDEX change_events_user ON change_events (org_id, user_id, seq) WHERE user_id IS NOT NULL;
