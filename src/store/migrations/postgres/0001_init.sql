-- The initial schema (ARCHITECTURE §5), the PostgreSQL twin of sqlite/0001_init.sql: the same
-- tables, columns and meaning, so both stores return the same rows in the same order.
--   * Ids and every compared or sorted text are COLLATE "C": bytewise, as SQLite compares them,
--     whatever locale the database was created with (ties in keyset cursors break the same way).
--   * Timestamps are TIMESTAMPTZ holding what SQLite stores as ISO 8601 text: the store writes
--     them with millisecond precision, so they read back identical.
--   * Money is BIGINT micro-dollars; counters are BIGINT (SQLite's INTEGER is 64-bit).
--   * JSON columns stay TEXT: kept byte for byte as the client's serialisation, like SQLite.
--   * email is unique case-insensitively through lower() under "C" (ASCII folding only), which is
--     what SQLite's COLLATE NOCASE does.

CREATE TABLE users (
    id            TEXT COLLATE "C" PRIMARY KEY,
    email         TEXT COLLATE "C" NOT NULL,
    password_hash TEXT NOT NULL,
    created_at    TIMESTAMPTZ NOT NULL
);
CREATE UNIQUE INDEX users_email_lower ON users (lower(email));

CREATE TABLE refresh_tokens (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    family_id    TEXT COLLATE "C" NOT NULL,
    token_sha256 TEXT COLLATE "C" NOT NULL UNIQUE,
    created_at   TIMESTAMPTZ NOT NULL,
    expires_at   TIMESTAMPTZ NOT NULL,
    revoked_at   TIMESTAMPTZ,
    replaced_by  TEXT COLLATE "C"
);
CREATE INDEX refresh_tokens_family ON refresh_tokens(family_id);
CREATE INDEX refresh_tokens_user ON refresh_tokens(user_id);

CREATE TABLE api_keys (
    id           TEXT COLLATE "C" PRIMARY KEY,
    user_id      TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    name         TEXT NOT NULL,
    prefix       TEXT NOT NULL,
    key_sha256   TEXT COLLATE "C" NOT NULL UNIQUE,
    scopes       BIGINT NOT NULL DEFAULT 0,
    created_at   TIMESTAMPTZ NOT NULL,
    last_used_at TIMESTAMPTZ,
    expires_at   TIMESTAMPTZ,
    revoked_at   TIMESTAMPTZ
);
-- The user's keys, newest first (and the foreign key's cascade).
CREATE INDEX api_keys_user ON api_keys(user_id, created_at DESC, id DESC);

CREATE TABLE conversations (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title         TEXT COLLATE "C",
    model         TEXT COLLATE "C" NOT NULL,
    system_prompt TEXT,
    settings      TEXT NOT NULL DEFAULT '{}',
    metadata      TEXT NOT NULL DEFAULT '{}',
    is_archived   BOOLEAN NOT NULL DEFAULT false,
    is_pinned     BOOLEAN NOT NULL DEFAULT false,
    summary       TEXT,
    created_at    TIMESTAMPTZ NOT NULL,
    updated_at    TIMESTAMPTZ NOT NULL
);
-- Every listing (offset and keyset) and its count: the user's conversations newest first.
CREATE INDEX conversations_user_updated ON conversations(user_id, updated_at DESC, id DESC);
-- The same listing filtered by archived state (the web client's default view) stays an index walk.
CREATE INDEX conversations_user_archived_updated
    ON conversations(user_id, is_archived, updated_at DESC, id DESC);

CREATE TABLE messages (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id       TEXT COLLATE "C",
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content         TEXT NOT NULL,
    thinking        TEXT,
    status          TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'partial', 'error')),
    model           TEXT COLLATE "C",
    provider        TEXT,
    finish_reason   TEXT,
    token_count     BIGINT NOT NULL DEFAULT 0,
    input_tokens    BIGINT NOT NULL DEFAULT 0,
    output_tokens   BIGINT NOT NULL DEFAULT 0,
    cost            BIGINT NOT NULL DEFAULT 0,
    latency_ms      BIGINT,
    ttft_ms         BIGINT,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at      TIMESTAMPTZ NOT NULL
);
-- A conversation's messages oldest first (list, count), newest first (recent: scanned
-- backwards), usage per conversation in a time range, and the cascade.
CREATE INDEX messages_conversation_created ON messages(conversation_id, created_at, id);

CREATE TABLE session_events (
    id              TEXT COLLATE "C" PRIMARY KEY,
    conversation_id TEXT COLLATE "C" NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    type            TEXT NOT NULL,
    content         TEXT NOT NULL DEFAULT '',
    created_at      TIMESTAMPTZ NOT NULL
);
CREATE INDEX session_events_conversation ON session_events(conversation_id, created_at);
