-- parley: foreign_keys=off
-- Full-text search over messages and conversation titles (FTS5), for GET /api/v1/search, the seed's
-- /search and the conversation list's `q`.
--
-- An external-content FTS5 table refers to its rows by an integer rowid, and VACUUM may renumber
-- the implicit rowids of a table without an INTEGER PRIMARY KEY, which would point the index at the
-- wrong rows. So conversations and messages are rebuilt with one (`seq`), following SQLite's
-- twelve-step table change: foreign keys are off while this runs (the line above tells the
-- migration runner), and the runner checks them (PRAGMA foreign_key_check) before committing.
-- `id` stays the key every query and foreign key uses.

CREATE TABLE conversations_new (
    seq           INTEGER PRIMARY KEY,
    id            TEXT NOT NULL UNIQUE,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    title         TEXT,
    model         TEXT NOT NULL,
    system_prompt TEXT,
    settings      TEXT NOT NULL DEFAULT '{}',
    metadata      TEXT NOT NULL DEFAULT '{}',
    is_archived   INTEGER NOT NULL DEFAULT 0,
    is_pinned     INTEGER NOT NULL DEFAULT 0,
    summary       TEXT,
    created_at    TEXT NOT NULL,
    updated_at    TEXT NOT NULL
);
INSERT INTO conversations_new(id, user_id, title, model, system_prompt, settings, metadata,
                              is_archived, is_pinned, summary, created_at, updated_at)
    SELECT id, user_id, title, model, system_prompt, settings, metadata, is_archived, is_pinned,
           summary, created_at, updated_at
    FROM conversations ORDER BY rowid;
DROP TABLE conversations;
ALTER TABLE conversations_new RENAME TO conversations;
CREATE INDEX conversations_user_updated ON conversations(user_id, updated_at DESC, id DESC);

CREATE TABLE messages_new (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id       TEXT,
    role            TEXT NOT NULL CHECK (role IN ('user', 'assistant', 'system', 'tool')),
    content         TEXT NOT NULL,
    thinking        TEXT,
    status          TEXT NOT NULL DEFAULT 'complete' CHECK (status IN ('complete', 'partial', 'error')),
    model           TEXT,
    provider        TEXT,
    finish_reason   TEXT,
    token_count     INTEGER NOT NULL DEFAULT 0,
    input_tokens    INTEGER NOT NULL DEFAULT 0,
    output_tokens   INTEGER NOT NULL DEFAULT 0,
    cost            INTEGER NOT NULL DEFAULT 0,
    latency_ms      INTEGER,
    ttft_ms         INTEGER,
    metadata        TEXT NOT NULL DEFAULT '{}',
    created_at      TEXT NOT NULL
);
INSERT INTO messages_new(id, conversation_id, parent_id, role, content, thinking, status, model,
                         provider, finish_reason, token_count, input_tokens, output_tokens, cost,
                         latency_ms, ttft_ms, metadata, created_at)
    SELECT id, conversation_id, parent_id, role, content, thinking, status, model, provider,
           finish_reason, token_count, input_tokens, output_tokens, cost, latency_ms, ttft_ms,
           metadata, created_at
    FROM messages ORDER BY rowid;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_conversation_created ON messages(conversation_id, created_at, id);

-- Porter stemming over unicode61 words (case and diacritics folded): "streaming" finds "stream".
CREATE VIRTUAL TABLE messages_fts USING fts5(
    content, content = 'messages', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
INSERT INTO messages_fts(messages_fts) VALUES ('rebuild');

CREATE VIRTUAL TABLE conversations_fts USING fts5(
    title, content = 'conversations', content_rowid = 'seq',
    tokenize = 'porter unicode61 remove_diacritics 2'
);
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversations_fts(rowid, title) VALUES (new.seq, new.title);
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.seq, old.title);
END;
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations BEGIN
    INSERT INTO conversations_fts(conversations_fts, rowid, title) VALUES ('delete', old.seq, old.title);
    INSERT INTO conversations_fts(rowid, title) VALUES (new.seq, new.title);
END;
INSERT INTO conversations_fts(conversations_fts) VALUES ('rebuild');

-- The seed's /history: a user's conversations newest first by creation.
CREATE INDEX conversations_user_created ON conversations(user_id, created_at DESC, id DESC);
