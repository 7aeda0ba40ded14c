-- Issue 14: the messages' full-text queue becomes a watermark. 0008 queued the seq of every
-- inserted message in messages_fts_pending: a B-tree insert, a COUNT of the queue, and one more
-- page in every write's commit (its WAL frame checksummed whole, ~4.6k instructions, and written).
-- Now one row says how far the messages are indexed: every message whose seq is at or below it is
-- in messages_fts with the text it has, none above it is. An insert writes nothing more; the one
-- whose seq is 64 past the watermark indexes every row above it in one statement (one segment, as
-- 0008's batches) and moves the watermark to the newest seq; a reader of the index first indexes
-- the rows above it (index_waiting_rows), so searches still see every committed row.
-- A seq can be given again: an INTEGER PRIMARY KEY takes the largest seq + 1, which falls at or
-- below the watermark once the newest rows are deleted. Such a row is indexed at once.
-- Titles keep their queue (conversations_fts_pending): one write a conversation, not a message.

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

CREATE TRIGGER messages_fts_reused AFTER INSERT ON messages
WHEN new.seq <= (SELECT seq FROM messages_fts_indexed) BEGIN
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
CREATE TRIGGER messages_fts_index AFTER INSERT ON messages
WHEN new.seq >= (SELECT seq FROM messages_fts_indexed) + 64 BEGIN
    INSERT INTO messages_fts(rowid, content)
        SELECT seq, content FROM messages WHERE seq > (SELECT seq FROM messages_fts_indexed)
        ORDER BY seq;
    UPDATE messages_fts_indexed SET seq = (SELECT MAX(seq) FROM messages);
END;
-- Deleting or changing an indexed row takes its old text out at once (external content needs the
-- text that was indexed); a row above the watermark is indexed later with the text it has then.
CREATE TRIGGER messages_fts_delete AFTER DELETE ON messages
WHEN old.seq <= (SELECT seq FROM messages_fts_indexed) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
END;
CREATE TRIGGER messages_fts_update AFTER UPDATE OF content ON messages
WHEN old.content IS NOT new.content AND old.seq <= (SELECT seq FROM messages_fts_indexed) BEGIN
    INSERT INTO messages_fts(messages_fts, rowid, content) VALUES ('delete', old.seq, old.content);
    INSERT INTO messages_fts(rowid, content) VALUES (new.seq, new.content);
END;
