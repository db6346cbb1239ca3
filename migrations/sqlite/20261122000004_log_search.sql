-- Name search in the provisioning log is a prefix search on this expression index.
CREATE INDEX event_changes_by_name ON event_changes(org_id, lower(resource_name), event_id);
