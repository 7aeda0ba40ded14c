-- Issue 14: full-text indexing in batches. SQLite 3.40's FTS5 writes its pending terms to disk
-- as a new index segment at every statement savepoint, so the per-row triggers of 0002 wrote one
-- segment (and its merge work) per inserted message: ~236k instructions per insert, most of a
-- streamed turn's database cost. Now an insert only queues the row's seq; once 64 rows of a table
-- wait, the insert that queues the 64th indexes them all in one statement (one segment), and a
-- search indexes whatever waits before it reads (SqliteStore's index_pending_search), so searches
-- see every committed row as before. Deletes and updates of a row that is already indexed take
-- its old text out at once (FTS5's external-content 'delete' needs the text that was indexed); a
-- row still waiting is only dropped from, or left in, the queue.
CREATE TABLE messages_fts_pending (seq INTEGER PRIMARY KEY);
CREATE TABLE conversations_fts_pending (seq INTEGER PRIMARY KEY);

DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
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

DROP TRIGGER conversations_fts_insert;
DROP TRIGGER conversations_fts_delete;
DROP TRIGGER conversations_fts_update;
CREATE TRIGGER conversations_fts_insert AFTER INSERT ON conversations BEGIN
    INSERT INTO conversations_fts_pending(seq) VALUES (new.seq);
END;
CREATE TRIGGER conversations_fts_delete AFTER DELETE ON conversations BEGIN
    INSERT INTO conversations_fts(conversations_fts, rowid, title)
        SELECT 'delete', old.seq, old.title
        WHERE NOT EXISTS (SELECT 1 FROM conversations_fts_pending WHERE seq = old.seq);
    DELETE FROM conversations_fts_pending WHERE seq = old.seq;
END;
CREATE TRIGGER conversations_fts_update AFTER UPDATE OF title ON conversations
WHEN old.title IS NOT new.title BEGIN
    INSERT INTO conversations_fts(conversations_fts, rowid, title)
        SELECT 'delete', old.seq, old.title
        WHERE NOT EXISTS (SELECT 1 FROM conversations_fts_pending WHERE seq = old.seq);
    INSERT OR IGNORE INTO conversations_fts_pending(seq) VALUES (new.seq);
END;
CREATE TRIGGER conversations_fts_index AFTER INSERT ON conversations_fts_pending
WHEN (SELECT COUNT(*) FROM conversations_fts_pending) >= 64 BEGIN
    INSERT INTO conversations_fts(rowid, title)
        SELECT c.seq, c.title FROM conversations_fts_pending p JOIN conversations c ON c.seq = p.seq
        ORDER BY p.seq;
    DELETE FROM conversations_fts_pending;
END;
