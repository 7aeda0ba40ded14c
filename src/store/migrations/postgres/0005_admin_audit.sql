-- Issue 16, admin and audit: the PostgreSQL twin of sqlite/0005_admin_audit.sql. Each account's
-- role, when it was disabled, its own rate limits per minute (NULL: the server's defaults), and
-- the audit log of security events (no foreign keys: the log outlives the accounts it names;
-- `detail` is a JSON object as TEXT that never holds a secret).
ALTER TABLE users ADD COLUMN role TEXT COLLATE "C" NOT NULL DEFAULT 'user';
ALTER TABLE users ADD COLUMN disabled_at TIMESTAMPTZ;
ALTER TABLE users ADD COLUMN rate_limit_per_minute BIGINT;
ALTER TABLE users ADD COLUMN ai_rate_limit_per_minute BIGINT;

CREATE TABLE audit_log (
    id         TEXT COLLATE "C" PRIMARY KEY,
    kind       TEXT COLLATE "C" NOT NULL,
    user_id    TEXT COLLATE "C",
    actor_id   TEXT COLLATE "C",
    ip         TEXT,
    detail     TEXT NOT NULL DEFAULT '{}',
    created_at TIMESTAMPTZ NOT NULL
);
CREATE INDEX audit_log_time ON audit_log(created_at, id);
CREATE INDEX audit_log_kind ON audit_log(kind, created_at, id);
CREATE INDEX audit_log_user ON audit_log(user_id, created_at, id);
CREATE INDEX audit_log_actor ON audit_log(actor_id, created_at, id);
CREATE INDEX users_admins ON users(role) WHERE role = 'admin';
