-- Token rotation with an overlap: a regenerated token may keep working for a while (its
-- expires_at moved to the end of the overlap) so the identity provider can be switched to
-- the new secret without a failed request. replaced_by names the token that succeeded it:
-- the console shows the old one as "replaced" and refuses to regenerate it twice.
ALTER TABLE scim_tokens ADD COLUMN replaced_by TEXT;
