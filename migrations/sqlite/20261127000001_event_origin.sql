-- Where a SCIM request came from: the client address (socket, or X-Forwarded-For from a
-- trusted proxy) and its User-Agent, truncated. Requests without a valid token are logged
-- with these and nothing of their content.
ALTER TABLE events ADD COLUMN remote_addr TEXT;
ALTER TABLE events ADD COLUMN user_agent TEXT;
