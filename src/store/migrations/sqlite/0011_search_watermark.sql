-- Issue 14: the messages' full-text queue becomes a watermark. 0008 queued the seq of every
-- inserted message in messages_fts_pending by a trigger: a B-tree insert, a COUNT of the queue,
-- one more page in every write's commit (its WAL frame checksummed whole, ~4.6k instructions, and
-- written), and the trigger itself (SQLite 3.40 runs a trigger's program, and begins the full-text
-- table's transaction, at every insert: ~8k instructions before its first statement).
-- Now one row says how far the messages are indexed: every message whose seq is at or below it is
-- in messages_fts with the text it has, none above it is. Inserting writes nothing more and fires
-- nothing: the store's insert (insert_message_row) indexes the rows above the watermark once it is
-- 64 behind (one statement, one segment, as 0008's batches) and moves it to the newest seq; a
-- reader of the index first indexes whatever is above it (index_waiting_rows), so searches still
-- see every committed row, however it was inserted.
-- An INTEGER PRIMARY KEY takes the largest seq + 1, so deleting the newest rows gives their seqs
-- out again. The watermark therefore comes down with any delete that leaves the largest seq below
-- it, to that seq (rows above the watermark count too: the row at it may have gone before them):
-- every row at or below it is still indexed, and a seq given again is above it and waits like any
-- new row. Titles keep their queue (conversations_fts_pending): one write a conversation.

-- What waits is indexed now, so every row is: the watermark starts at the newest seq.
INSERT INTO messages_fts(rowid, content)
    SELECT m.seq, m.content FROM messages_fts_pending p JOIN messages m ON m.seq = p.seq
    ORDER BY p.seq;
DROP TRIGGER messages_fts_insert;
DROP TRIGGER messages_fts_delete;
DROP TRIGGER messages_fts_update;
DROP TRIGGER messages_fts_index;
DROP TABLE messages_fts_pending;

CREATE TABLE messages_fts_indexed (
    id  INTEGER PRIMARY KEY CHECK (id = 1),
    seq INTEGER NOT NULL
);
INSERT INTO messages_fts_indexed(id, seq) SELECT 1, COALESCE(MAX(seq), 0) FROM messages;

-- Deleting or changing an indexed row takes its old text out at once (external content needs the
-- text that was indexed); a row above the watermark is indexed later with the text it has then.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content)
        SELECT 'delete', old.seq, old.content
        WHERE old.seq <= (SELECT seq FROM messages_fts_indexed);
    UPDATE messages_fts_indexed SET seq = (SELECT COALESCE(MAX(seq), 0) FROM messages)
    WHERE seq > (SELECT COALESCE(MAX(seq), 0) FROM messages);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN old.content IS NOT new.content AND old.seq <= (SELECT seq FROM messages_fts_indexed) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
