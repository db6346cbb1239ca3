-- SQLite's people search moved from user_words to an FTS5 table in this version (see
-- src/store/search.rs). PostgreSQL keeps user_words: its B-tree inserts are not what bounds
-- a create there. Kept so that both databases carry the same migration versions.
SELECT 1;
