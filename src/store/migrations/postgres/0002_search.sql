-- Full-text search over messages and conversation titles, for GET /api/v1/search, the seed's
-- /search and the conversation list's `q`: an English tsvector (stemmed: "streaming" finds
-- "stream") kept by PostgreSQL itself as a stored generated column, with a GIN index. Adding the
-- columns computes them for every existing row.
ALTER TABLE messages
    ADD COLUMN search tsvector GENERATED ALWAYS AS (to_tsvector('english'::regconfig, content)) STORED;
CREATE INDEX messages_search ON messages USING GIN (search);

ALTER TABLE conversations
    ADD COLUMN title_search tsvector
    GENERATED ALWAYS AS (to_tsvector('english'::regconfig, coalesce(title, ''))) STORED;
CREATE INDEX conversations_title_search ON conversations USING GIN (title_search);

-- The seed's /history: a user's conversations newest first by creation.
CREATE INDEX conversations_user_created ON conversations(user_id, created_at DESC, id DESC);
