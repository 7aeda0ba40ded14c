-- Model calls that store no message (the OpenAI- and Anthropic-compatible endpoints; later titles
-- and summaries): who made them, with which key, which model answered, tokens and exact cost in
-- micro-dollars. GET /api/v1/usage/stats adds them to the messages' totals.
CREATE TABLE usage_records (
    id            TEXT COLLATE "C" PRIMARY KEY,
    user_id       TEXT COLLATE "C" NOT NULL REFERENCES users(id) ON DELETE CASCADE,
    api_key_id    TEXT COLLATE "C" REFERENCES api_keys(id) ON DELETE SET NULL,
    kind          TEXT COLLATE "C" NOT NULL,
    model         TEXT COLLATE "C" NOT NULL,
    provider      TEXT COLLATE "C" NOT NULL,
    input_tokens  BIGINT NOT NULL DEFAULT 0,
    output_tokens BIGINT NOT NULL DEFAULT 0,
    cost_micros   BIGINT NOT NULL DEFAULT 0,
    created_at    TIMESTAMPTZ NOT NULL
);
-- A user's usage over a period (and the foreign key's cascade); by key.
CREATE INDEX usage_records_user ON usage_records(user_id, created_at);
CREATE INDEX usage_records_key ON usage_records(api_key_id, created_at);
