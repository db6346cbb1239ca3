-- The console's people search (see src/store/search.rs): every word of each user's
-- userName, displayName, name and emails, found by prefix through one range of this
-- B-tree per searched word. search_words on the user is what it was indexed under, so that
-- a change removes exactly those rows; NULL until the store indexes it (on open).
CREATE TABLE user_words (
    org_id TEXT NOT NULL REFERENCES orgs(id) ON DELETE CASCADE,
    word TEXT NOT NULL,
    user_id TEXT NOT NULL,
    PRIMARY KEY (org_id, word, user_id)
) WITHOUT ROWID;
ALTER TABLE users ADD COLUMN search_words TEXT;
