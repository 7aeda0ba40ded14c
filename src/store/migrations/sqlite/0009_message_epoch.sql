-- Issue 14: the store remembers the rows of large conversations' branches between context reads
-- (store::TreeShapes), since a message is never updated and only deleted with its conversation.
-- To keep that exact whichever process deletes, every deletion or update of a message counts
-- here: a reader reads the count in its snapshot, and a count other than the one the rows were
-- remembered at means they are not used. One row; a conversation's delete bumps it once a
-- message.
CREATE TABLE message_epoch (
    id    INTEGER PRIMARY KEY CHECK (id = 1),
    value INTEGER NOT NULL
);
INSERT INTO message_epoch(id, value) VALUES (1, 0);
CREATE TRIGGER message_epoch_delete AFTER DELETE ON messages BEGIN
    UPDATE message_epoch SET value = value + 1 WHERE id = 1;
END;
CREATE TRIGGER message_epoch_update AFTER UPDATE ON messages BEGIN
    UPDATE message_epoch SET value = value + 1 WHERE id = 1;
END;
