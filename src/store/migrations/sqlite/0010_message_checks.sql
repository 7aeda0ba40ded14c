-- parley: foreign_keys=off
-- Issue 14: the messages table's CHECKs on role and status as comparisons joined by OR. SQLite
-- 3.40 compiles an IN list of three or more values in a CHECK into an ephemeral index, created and
-- filled at every inserted row: the two lists were ~30k instructions of each message's insert (a
-- sixth of it), with the same rows refused. A CHECK cannot be changed in place, so the table is
-- rebuilt (SQLite's twelve-step change, as 0002 did: foreign keys off while this runs, checked
-- before the commit). Rows keep their seq, which the full-text index and its queue refer to; the
-- triggers on messages go with the old table and are made again, as is the full-text queue's
-- trigger, which reads messages (a rename fails while a trigger names a table that is gone).

DROP TRIGGER messages_fts_index;

CREATE TABLE messages_new (
    seq             INTEGER PRIMARY KEY,
    id              TEXT NOT NULL UNIQUE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    parent_id       TEXT,
    role            TEXT NOT NULL
                    CHECK (role = 'user' OR role = 'assistant' OR role = 'system' OR role = 'tool'),
    content         TEXT NOT NULL,
    thinking        TEXT,
    status          TEXT NOT NULL DEFAULT 'complete'
                    CHECK (status = 'complete' OR status = 'partial' OR status = 'error'),
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
INSERT INTO messages_new(seq, id, conversation_id, parent_id, role, content, thinking, status,
                         model, provider, finish_reason, token_count, input_tokens, output_tokens,
                         cost, latency_ms, ttft_ms, metadata, created_at)
    SELECT seq, id, conversation_id, parent_id, role, content, thinking, status, model, provider,
           finish_reason, token_count, input_tokens, output_tokens, cost, latency_ms, ttft_ms,
           metadata, created_at
    FROM messages ORDER BY seq;
DROP TABLE messages;
ALTER TABLE messages_new RENAME TO messages;
CREATE INDEX messages_conversation_created ON messages(conversation_id, created_at, id);
CREATE INDEX messages_siblings ON messages(conversation_id, parent_id, created_at, id);

-- As 0008 made them.
CREATE TRIGGER messages_fts_insert AFTER INSERT ON messages BEGIN
    INSERT INTO messages_fts_pending(seq) VALUES (new.seq);
END;
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.seq, old.content
        WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE seq = old.seq);
    DELETE FROM messages_fts_pending WHERE seq = old.seq;
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN old.content IS NOT new.content BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.seq, old.content
        WHERE NOT EXISTS (SELECT 1 FROM messages_fts_pending WHERE seq = old.seq);
    INSERT OR IGNORE INTO messages_fts_pending(seq) VALUES (new.seq);
END;
CREATE TRIGGER messages_fts_index AFTER INSERT ON messages_fts_pending
WHEN (SELECT COUNT(*) FROM messages_fts_pending) >= 64 BEGIN
    INSERT INTO messages_fts(rowid, content)
        SELECT m.seq, m.content FROM messages_fts_pending p JOIN messages m ON m.seq = p.seq
        ORDER BY p.seq;
    DELETE FROM messages_fts_pending;
END;

-- As 0009 made them.
CREATE TRIGGER message_epoch_delete AFTER DELETE ON messages BEGIN
    UPDATE message_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER message_epoch_update AFTER UPDATE ON messages BEGIN
    UPDATE message_epoch SET value = value + 1 WHERE id = 1;
END;
