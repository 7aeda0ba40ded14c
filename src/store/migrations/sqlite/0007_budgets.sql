-- Issue 16, budgets: a spending cap per account and per API key, in exact micro-dollars, over a
-- calendar UTC period ('daily', 'weekly' from Monday, 'monthly', or 'total': never resets), with
-- an optional soft cap that only warns. NULL max: no cap.
ALTER TABLE users ADD COLUMN max_budget_micros INTEGER;
ALTER TABLE users ADD COLUMN soft_budget_micros INTEGER;
ALTER TABLE users ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total';
ALTER TABLE api_keys ADD COLUMN max_budget_micros INTEGER;
ALTER TABLE api_keys ADD COLUMN soft_budget_micros INTEGER;
ALTER TABLE api_keys ADD COLUMN budget_period TEXT NOT NULL DEFAULT 'total';

-- What a subject ('user:<id>' or 'key:<id>') has spent in one period (its start, UTC; the epoch
-- for 'total'), and what calls in flight have reserved. A call reserves its estimate before it
-- asks a model (only while spent + reserved + estimate stays within the cap) and settles after:
-- the reservation released, the exact cost added. `exceeded_at`: the first refusal in the period
-- (the audit event is written once per subject and period).
CREATE TABLE budget_spend (
    subject      TEXT NOT NULL,
    period_start TEXT NOT NULL,
    spent        INTEGER NOT NULL DEFAULT 0,
    reserved     INTEGER NOT NULL DEFAULT 0,
    exceeded_at  TEXT,
    PRIMARY KEY (subject, period_start)
);
