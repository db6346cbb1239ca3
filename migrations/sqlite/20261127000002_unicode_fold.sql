-- Case-insensitive comparisons fold case in Rust (str::to_lowercase, Unicode-aware), not
-- with SQL lower() (ASCII-only in SQLite, collation-dependent in PostgreSQL):
--   users.display_name_key   folded displayName (user_name_key already is folded);
--   users.attributes_key     the canonical body with every string folded, NULL when the
--                            body is ASCII-only (lower() on it is then the same fold);
--   user_emails.type_key     folded type (value_key already is folded).
-- For ASCII text lower() is that fold, so it fills the new columns here; rows holding
-- other characters are listed in unicode_fold_pending and folded by the application at
-- start-up (store::fold::backfill), since a migration cannot call Rust.
ALTER TABLE users ADD COLUMN display_name_key TEXT;
ALTER TABLE users ADD COLUMN attributes_key TEXT;
ALTER TABLE user_emails ADD COLUMN type_key TEXT;
UPDATE users SET display_name_key = lower(display_name);
UPDATE user_emails SET type_key = lower(type);

CREATE TABLE unicode_fold_pending (
    user_id TEXT PRIMARY KEY NOT NULL
);
-- A text is ASCII-only when it has as many bytes as characters.
INSERT INTO unicode_fold_pending (user_id)
    SELECT id FROM users WHERE length(attributes) <> length(CAST(attributes AS BLOB));

DROP INDEX users_display_name;
CREATE INDEX users_display_name ON users(org_id, display_name_key);
