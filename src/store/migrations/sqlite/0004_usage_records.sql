-- Model calls that store no message (the OpenAI- and Anthropic-compatible endpoints; later titles
-- and summaries): who made them, with which key, which model answered, tokens and exact cost in
-- micro-dollars. GET /api/v1/usage/stats adds them to the messages' totals.
CREATE TABLE usage_records (
    id            TEXT PRIMARY KEY,
    user_id       TEXT NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_key_id    TEXT REFERENCES api_keys(id) ON DELETE SET NULL,
    kind          TEXT NOT NULL,
    model         TEXT NOT NULL,
    provider      TEXT NOT NULL,
    input_tokens  INTEGER NOT NULL DEFAULT 0,
    output_tokens INTEGER NOT NULL DEFAULT 0,
    cost_micros   INTEGER NOT NULL DEFAULT 0,
    created_at    TEXT NOT NULL
);
-- A user's usage over a period (and the foreign key's cascade); by key.
CREATE INDEX usage_records_user ON usage_records(user_id, created_at);
CREATE INDEX usage_records_key ON usage_records(api_key_id, created_at);
