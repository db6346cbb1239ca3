-- The people search on SQLite moves from the B-tree user_words (one insert at a random
-- place per word: the largest share of what a create wrote) to the FTS5 table user_search
-- (a transaction's words written as one sorted segment at COMMIT). See src/store/search.rs.
-- words: the user's words, each prefixed with its org's tag; user_id: not indexed, read
-- back from the FTS row's content. search_rowid on the user is its FTS row, to remove it.
CREATE VIRTUAL TABLE user_search USING fts5(
    user_id UNINDEXED,
    words,
    tokenize = 'ascii',
    detail = none,
    columnsize = 0
);
ALTER TABLE users ADD COLUMN search_rowid INTEGER;
DROP TABLE user_words;
-- Every user is indexed again when the store opens (search::backfill takes the users whose
-- search_words is NULL), before it serves.
UPDATE users SET search_words = NULL;
