-- Creation-order pages (ids are UUIDv7) without sorting the org's rows for every page.
CREATE INDEX users_org_id ON users(org_id, id);
CREATE INDEX groups_org_id ON groups(org_id, id);
