-- Issue 17: a conversation is a tree of messages with an active leaf. Messages written before this
-- version chained only answers to their question (user messages had no parent): each message
-- without a parent is attached to the one before it, so old conversations become one branch, and
-- the newest message is their active leaf. Siblings (same parent) are listed oldest first.
ALTER TABLE conversations ADD COLUMN active_leaf_id TEXT;
UPDATE messages SET parent_id = (
    SELECT p.id FROM messages p
    WHERE p.conversation_id = messages.conversation_id
      AND (p.created_at < messages.created_at
           OR (p.created_at = messages.created_at AND p.id < messages.id))
    ORDER BY p.created_at DESC, p.id DESC LIMIT 1)
WHERE parent_id IS NULL;
UPDATE conversations SET active_leaf_id = (
    SELECT m.id FROM messages m WHERE m.conversation_id = conversations.id
    ORDER BY m.created_at DESC, m.id DESC LIMIT 1);
CREATE INDEX messages_siblings ON messages(conversation_id, parent_id, created_at, id);
-- Read-only share links: a snapshot of a conversation's active branch at the time of sharing,
-- reached by an unguessable token; revoked links stay (revoked_at) so the owner's list is honest.
CREATE TABLE shares (
    id              TEXT PRIMARY KEY,
    token           TEXT NOT NULL UNIQUE,
    user_id         TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    conversation_id TEXT NOT NULL REFERENCES conversations(id) ON DELETE CASCADE,
    snapshot        TEXT NOT NULL,
    created_at      TEXT NOT NULL,
    revoked_at      TEXT
);
CREATE INDEX shares_user ON shares(user_id, created_at, id);
CREATE INDEX shares_conversation ON shares(conversation_id);
