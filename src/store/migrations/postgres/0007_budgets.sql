-- Issue 16, budgets: the PostgreSQL twin of sqlite/0007_budgets.sql. A spending cap per account
-- and per API key, in exact micro-dollars, over a calendar UTC period ('daily', 'weekly' from
-- Monday, 'monthly', or 'total': never resets), with an optional soft cap that only warns.
ALTER TABLE users ADD COLUMN max_budget_micros BIGINT;
ALTER TABLE users ADD COLUMN soft_budget_micros BIGINT;
ALTER TABLE users ADD COLUMN budget_period TEXT COLLATE "C" NOT NULL DEFAULT 'total';
ALTER TABLE api_keys ADD COLUMN max_budget_micros BIGINT;
ALTER TABLE api_keys ADD COLUMN soft_budget_micros BIGINT;
ALTER TABLE api_keys ADD COLUMN budget_period TEXT COLLATE "C" NOT NULL DEFAULT 'total';

-- Spend and reservations per subject ('user:<id>', 'key:<id>') and period start (the epoch for
-- 'total'); the row lock orders concurrent reservations of one subject across instances.
CREATE TABLE budget_spend (
    subject      TEXT COLLATE "C" NOT NULL,
    period_start TIMESTAMPTZ NOT NULL,
    spent        BIGINT NOT NULL DEFAULT 0,
    reserved     BIGINT NOT NULL DEFAULT 0,
    exceeded_at  TIMESTAMPTZ,
    PRIMARY KEY (subject, period_start)
);
