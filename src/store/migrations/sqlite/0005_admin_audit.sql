-- Issue 16, admin and audit: each account's role ('admin' or 'user'), when it was disabled (its
-- tokens and keys stop working), its own rate limits per minute (NULL: the server's defaults),
-- and the audit log of security events. The log has no foreign keys: it outlives the accounts
-- it names. `detail` is a JSON object that never holds a secret (no password, token or key).
ALTER TABLE users ADD COLUMN role TEXT NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN disabled_at TEXT;
ALTER TABLE users ADD COLUMN rate_limit_per_minute INTEGER;
ALTER TABLE users ADD COLUMN ai_rate_limit_per_minute INTEGER;

CREATE TABLE audit_log (
    id         TEXT PRIMARY KEY,
    kind       TEXT NOT NULL,
    user_id    TEXT,
    actor_id   TEXT,
    ip         TEXT,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TEXT NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(created_at, id);
CREATE INDEX audit_log_kind ON audit_log(kind, created_at, id);
CREATE INDEX audit_log_user ON audit_log(user_id, created_at, id);
CREATE INDEX audit_log_actor ON audit_log(actor_id, created_at, id);
CREATE INDEX users_admins ON users(role) WHERE role = 'admin';
