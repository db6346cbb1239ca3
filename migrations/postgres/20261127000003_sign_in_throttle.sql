-- Sign-in attempts are counted before the password is checked: a key (an address, or an
-- email at an address) may try again once blocked_until (Unix ms) has passed. Counting per
-- email alone let anyone lock an admin out from anywhere; those rows are dropped.
ALTER TABLE login_failures ADD COLUMN blocked_until BIGINT NOT NULL DEFAULT 0;
DELETE FROM login_failures WHERE key LIKE 'email:%';
