-- Seed 004's sessions: when a conversation's summary was written, and the event log read in
-- order with a cursor (created_at, id).
ALTER TABLE conversations ADD COLUMN summary_updated_at TEXT;
DROP INDEX session_events_conversation;
CREATE INDEX session_events_conversation ON session_events(conversation_id, created_at, id);
