// Integration tests of budgets (issue 16) against the real binary and the scripted fake upstream:
// an account's budget set and removed by an admin (PATCH /api/v1/admin/users/{id}), an API key's
// budget set at creation and changed by its owner or an admin, the 429 budget_exceeded_error with
// Retry-After and reset_at, the soft budget that only warns, GET /api/v1/usage/budget equal to
// what the upstream's answers cost, the compatible endpoints through the official SDKs getting
// RateLimitError, titles skipped (not failed) when the budget is spent, the budget_exceeded audit
// event written once per period, admin usage counting the compatible calls, and 50 parallel
// requests against a budget for 10: exactly 10 answered, the spend never above the cap.
// Runs on SQLite, and on PostgreSQL as integration_pg.budget.
//
// Prices are chosen so that a call's reservation equals its cost: input tokens are free and the
// fake upstream reports exactly max_tokens output tokens, so every call costs MAX_TOKENS × 1000
// micro-dollars, which is what Parley reserves for it.
//
//   node --test tests/integration/budget.test.mjs

import assert from "node:assert/strict";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import WebSocket from "ws";

import { assertError, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream } from "../support/fake_upstream.mjs";
import { makeTempDir, startServer, stopCleanly, waitUntil } from "../support/server.mjs";

const PASSWORD = "SecurePass123";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ openai: "sk-budget-openai", anthropic: "sk-ant-budget" });
const GPT = "budget-gpt";
const CLAUDE = "budget-claude";
const MAX_TOKENS = 10;
const CALL_MICROS = MAX_TOKENS * 1000; // 1000 USD per million output tokens: 1000 µ$ a token
const CALL_USD = CALL_MICROS / 1e6;
const BUDGET = "/api/v1/usage/budget";
const ADMIN_USERS = "/api/v1/admin/users";

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    return r.body.data;
}

/** A 429 budget_exceeded_error in Parley's envelope; returns the error object. */
function assertBudgetError(r, { resets }) {
    assert.equal(r.res.status, 429, r.text);
    assert.equal(r.body.status, "error", r.text);
    assert.equal(r.body.error.type, "budget_exceeded_error", r.text);
    assert.equal(r.body.error.request_id, r.res.headers.get("x-request-id"));
    assert.match(r.body.error.message, /budget/);
    if (resets) {
        assert.ok(Number(r.res.headers.get("retry-after")) > 0, "Retry-After");
        assert.match(r.body.error.reset_at, /^\d{4}-\d{2}-\d{2}T00:00:00\.000Z$/);
        assert.ok(r.body.error.message.includes(r.body.error.reset_at), r.body.error.message);
    } else {
        assert.equal(r.res.headers.get("retry-after"), null, "no Retry-After for a total budget");
        assert.equal(r.body.error.reset_at, undefined);
    }
    return r.body.error;
}

const nextUtcMidnight = () => {
    const d = new Date();
    return new Date(Date.UTC(d.getUTCFullYear(), d.getUTCMonth(), d.getUTCDate() + 1));
};

describe("budgets", () => {
    let upstream;
    let server;
    let base;
    let catalogDir;
    let admin;
    const adminEmail = uniqueEmail("budget-admin");

    async function register(tag) {
        const d = ok(
            await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: PASSWORD } }),
            201
        );
        return { id: d.user.id, token: d.access_token };
    }

    async function conversation(token, title) {
        const json = { model: GPT };
        if (title) {
            json.title = title;
        }
        return ok(await post(base, "/api/v1/conversations", { token, json }), 201).id;
    }

    const send = (token, id, content = "hello") =>
        post(base, `/api/v1/conversations/${id}/messages`, { token, json: { content, max_tokens: MAX_TOKENS } });

    const setUserBudget = async (userId, json) => ok(await patch(base, `${ADMIN_USERS}/${userId}`, { token: admin.token, json }));

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        // Every answer reports max_tokens output tokens (and input, which is free).
        upstream.setScript((req) => ({
            usage: { input: 7, output: req.body?.max_tokens ?? req.body?.max_completion_tokens ?? MAX_TOKENS },
            tokens: ["fine"],
        }));
        catalogDir = makeTempDir("parley-budget-catalog-");
        const catalog = path.join(catalogDir, "catalog.json");
        const model = (id, provider) => ({
            id,
            provider,
            name: id,
            context_window: 100000,
            max_output: 1000,
            input_per_mtok: 0,
            output_per_mtok: 1000,
            thinking: false,
            tools: true,
        });
        writeFileSync(catalog, JSON.stringify({ models: [model(GPT, "openai"), model(CLAUDE, "anthropic")] }));
        server = await startServer({
            env: {
                ...UNLIMITED,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                MODEL_CATALOG: catalog,
                DEFAULT_MODEL: GPT,
                FALLBACK_MODEL: "",
                LLM_MAX_RETRIES: "0",
                ADMIN_EMAILS: adminEmail,
            },
        });
        base = server.baseUrl;
        const d = ok(await post(base, "/api/v1/auth/register", { json: { email: adminEmail, password: PASSWORD } }), 201);
        admin = { id: d.user.id, token: d.access_token };
    });

    after(async () => {
        try {
            await stopCleanly(server);
        } finally {
            await upstream?.close();
            rmSync(catalogDir, { recursive: true, force: true });
        }
    });

    it("50 parallel sends against a budget for 10: exactly 10 answered, the spend never above the cap", async () => {
        const u = await register("parallel");
        const set = await setUserBudget(u.id, { max_budget_usd: 10 * CALL_USD });
        assert.equal(set.max_budget_usd, 10 * CALL_USD);
        assert.equal(set.budget_period, "total");
        const ids = [];
        for (let i = 0; i < 50; i += 1) {
            ids.push(await conversation(u.token, `c${i}`)); // titled: no background title call
        }
        const before = upstream.requests.length;
        const results = await Promise.all(ids.map((id) => send(u.token, id)));
        const statuses = results.map((r) => r.res.status);
        assert.equal(statuses.filter((s) => s === 200).length, 10, JSON.stringify(statuses));
        assert.equal(statuses.filter((s) => s === 429).length, 40, JSON.stringify(statuses));
        for (const r of results.filter((x) => x.res.status === 429)) {
            assertBudgetError(r, { resets: false });
        }
        assert.equal(upstream.requests.length - before, 10, "the model was asked only for the admitted ones");
        const b = ok(await get(base, BUDGET, { token: u.token }));
        assert.equal(b.api_key, null);
        assert.equal(b.user.spent_micros, 10 * CALL_MICROS);
        assert.equal(b.user.reserved_micros, 0);
        assert.equal(b.user.remaining_usd, 0);
        assert.equal(b.user.reset_at, null);
        const answered = results.filter((r) => r.res.status === 200).reduce((n, r) => n + Math.round(r.body.data.metadata.cost_usd * 1e6), 0);
        assert.equal(answered, 10 * CALL_MICROS, "the answers' own costs add up to the cap");

        // One audit event for the 40 refusals (once per account and period).
        // (Refusals are audited without waiting: poll until the batch is written.)
        const auditUrl = `/api/v1/admin/audit?kind=budget_exceeded&user_id=${u.id}`;
        await waitUntil(async () => ok(await get(base, auditUrl, { token: admin.token })).length > 0, { what: "the audit event" });
        const events = ok(await get(base, auditUrl, { token: admin.token }));
        assert.equal(events.length, 1, JSON.stringify(events));
        assert.equal(events[0].detail.scope, "user");
        assert.equal(events[0].detail.max_budget_micros, 10 * CALL_MICROS);
    });

    it("a daily budget: 429 with Retry-After to midnight UTC and reset_at; streams refused before they start; removed by an admin", async () => {
        const u = await register("daily");
        await setUserBudget(u.id, { max_budget_usd: CALL_USD, budget_period: "daily" });
        const id = await conversation(u.token, "daily");
        ok(await send(u.token, id));
        const refused = await send(u.token, id);
        const e = assertBudgetError(refused, { resets: true });
        const midnight = nextUtcMidnight();
        assert.equal(e.reset_at, midnight.toISOString());
        const wait = Number(refused.res.headers.get("retry-after"));
        assert.ok(Math.abs(wait - (midnight - Date.now()) / 1000) < 30, `Retry-After ${wait}`);
        const stream = await post(base, `/api/v1/conversations/${id}/messages/stream`, {
            token: u.token,
            json: { content: "again", max_tokens: MAX_TOKENS },
        });
        assertBudgetError(stream, { resets: true });
        // A WebSocket session's turn: refused with the session protocol's error frame.
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/session/budget-${Date.now()}`, {
            headers: { Authorization: `Bearer ${u.token}` },
        });
        const frames = [];
        ws.on("message", (d) => frames.push(JSON.parse(String(d))));
        await new Promise((resolve, reject) => {
            ws.once("open", resolve);
            ws.once("error", reject);
        });
        const asked = upstream.requests.length;
        ws.send(JSON.stringify({ message: "over budget?" }));
        await waitUntil(() => frames.some((f) => f.type === "error" || f.type === "done"), { what: "a frame" });
        const frame = frames.find((f) => f.type === "error");
        assert.equal(frame?.error_type, "budget_exceeded_error", JSON.stringify(frames));
        assert.ok(frame.retry_after > 0, JSON.stringify(frame));
        assert.equal(upstream.requests.length, asked, "no model asked");
        ws.close();
        await new Promise((resolve) => ws.once("close", resolve));
        // Nothing of the refused turns was stored.
        const messages = ok(await get(base, `/api/v1/conversations/${id}/messages`, { token: u.token }));
        assert.equal(messages.length, 2, JSON.stringify(messages));
        const b = ok(await get(base, BUDGET, { token: u.token }));
        assert.equal(b.user.budget_period, "daily");
        assert.equal(b.user.reset_at, midnight.toISOString());
        assert.equal(b.user.period_start, new Date(midnight - 86_400_000).toISOString());

        const removed = await setUserBudget(u.id, { max_budget_usd: null });
        assert.equal(removed.max_budget_usd, null);
        ok(await send(u.token, id));
        const after = ok(await get(base, BUDGET, { token: u.token }));
        assert.equal(after.user.max_budget_usd, null);
        assert.equal(after.user.remaining_usd, null);
        assert.equal(after.user.spent_micros, 2 * CALL_MICROS, "spend is still counted without a cap");
    });

    it("the admin PATCH validates the budget fields and non-admins may not set them", async () => {
        const u = await register("validate");
        for (const json of [
            { max_budget_usd: -1 },
            { max_budget_usd: "10" },
            { soft_budget_usd: 1e12 },
            { budget_period: "yearly" },
            { budget_period: null },
        ]) {
            assertError(await patch(base, `${ADMIN_USERS}/${u.id}`, { token: admin.token, json }), 422, "invalid_request_error");
        }
        assertError(await patch(base, `${ADMIN_USERS}/${u.id}`, { token: u.token, json: { max_budget_usd: 100 } }), 403, "permission_error");
        const users = ok(await get(base, `${ADMIN_USERS}?per_page=100`, { token: admin.token }));
        const row = users.find((x) => x.id === u.id);
        assert.deepEqual([row.max_budget_usd, row.soft_budget_usd, row.budget_period], [null, null, "total"]);
    });

    it("a soft budget only warns: answered past it, logged and counted in /metrics", async () => {
        const u = await register("soft");
        await setUserBudget(u.id, { soft_budget_usd: 1.5 * CALL_USD, budget_period: "monthly" });
        const id = await conversation(u.token, "soft");
        ok(await send(u.token, id));
        ok(await send(u.token, id));
        ok(await send(u.token, id));
        await waitUntil(() => server.lines.some((l) => l.includes("soft budget crossed") && l.includes(u.id)), {
            what: "the soft budget warning",
        });
        const metrics = await (await fetch(`${base}/metrics`)).text();
        const m = metrics.match(/^parley_budget_soft_limit_crossed_total (\d+)/m);
        assert.ok(m && Number(m[1]) >= 1, metrics);
        const b = ok(await get(base, BUDGET, { token: u.token }));
        assert.equal(b.user.soft_budget_usd, 1.5 * CALL_USD);
        assert.equal(b.user.spent_micros, 3 * CALL_MICROS);
    });

    it("an untitled conversation's title counts toward the budget, and is skipped (not failed) once it is spent", async () => {
        const u = await register("titles");
        // Room for one answer only: the title call that follows is refused and skipped.
        await setUserBudget(u.id, { max_budget_usd: CALL_USD });
        const id = await conversation(u.token);
        const before = upstream.requests.length;
        ok(await send(u.token, id, "Plan a trip to Lisbon in spring"));
        await waitUntil(
            async () => ok(await get(base, `/api/v1/conversations/${id}`, { token: u.token })).title !== null,
            { what: "the title" }
        );
        const c = ok(await get(base, `/api/v1/conversations/${id}`, { token: u.token }));
        assert.equal(c.title, "Plan a trip to Lisbon in spring", "the title from the message, no model asked");
        assert.equal(upstream.requests.length - before, 1);

        // With room, the title is a model call billed to the account like the answer.
        const v = await register("titles-room");
        await setUserBudget(v.id, { max_budget_usd: 100 * CALL_USD });
        const id2 = await conversation(v.token);
        ok(await send(v.token, id2, "Plan a trip to Porto"));
        await waitUntil(async () => ok(await get(base, BUDGET, { token: v.token })).user.spent_micros > CALL_MICROS, {
            what: "the title's spend",
        });
        const stats = ok(await get(base, "/api/v1/usage/stats", { token: v.token }));
        const b = ok(await get(base, BUDGET, { token: v.token }));
        assert.equal(b.user.spent_micros, Math.round(stats.estimated_cost_usd * 1e6), "budget spend = usage cost");
        assert.equal(stats.call_count, 1, "the title is a usage record");
    });

    describe("an API key's budget and the compatible endpoints", () => {
        let bob;
        let key;
        before(async () => {
            bob = await register("bob");
            key = ok(
                await post(base, "/api/v1/api-keys", {
                    token: bob.token,
                    json: { name: "sdk", max_budget_usd: 2 * CALL_USD, budget_period: "daily" },
                }),
                201
            );
            assert.deepEqual(key.budget, { max_budget_usd: 2 * CALL_USD, soft_budget_usd: null, budget_period: "daily" });
        });

        it("the SDKs get RateLimitError once the key's budget is spent; GET /usage/budget shows key and account", async () => {
            const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key.key, maxRetries: 0 });
            const anthropic = new Anthropic({ baseURL: base, apiKey: key.key, maxRetries: 0 });
            const messages = [{ role: "user", content: "hi" }];
            const first = await openai.chat.completions.create({ model: GPT, messages, max_tokens: MAX_TOKENS });
            assert.equal(first.usage.completion_tokens, MAX_TOKENS);
            const second = await anthropic.messages.create({ model: CLAUDE, messages, max_tokens: MAX_TOKENS });
            assert.equal(second.usage.output_tokens, MAX_TOKENS);
            await assert.rejects(
                openai.chat.completions.create({ model: GPT, messages, max_tokens: MAX_TOKENS }),
                (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && Number(e.headers.get("retry-after")) > 0
                    && /budget/.test(e.message)
            );
            await assert.rejects(
                openai.chat.completions.create({ model: GPT, messages, max_tokens: MAX_TOKENS, stream: true }),
                (e) => e instanceof OpenAI.RateLimitError
            );
            await assert.rejects(
                anthropic.messages.create({ model: CLAUDE, messages, max_tokens: MAX_TOKENS }),
                (e) => e instanceof Anthropic.RateLimitError && e.error?.error?.type === "budget_exceeded_error"
            );
            const withKey = ok(await get(base, BUDGET, { apiKey: key.key }));
            assert.equal(withKey.api_key.id, key.id);
            assert.equal(withKey.api_key.max_budget_usd, 2 * CALL_USD);
            assert.equal(withKey.api_key.spent_micros, 2 * CALL_MICROS);
            assert.equal(withKey.api_key.remaining_usd, 0);
            assert.equal(withKey.api_key.reset_at, nextUtcMidnight().toISOString());
            assert.equal(withKey.user.spent_micros, 2 * CALL_MICROS, "the account is charged too");
            assert.equal(withKey.user.max_budget_usd, null);
            // The access token is not limited by the key's budget.
            const conv = await conversation(bob.token, "bob");
            ok(await send(bob.token, conv));
            const own = ok(await get(base, BUDGET, { token: bob.token }));
            assert.equal(own.api_key, null);
            assert.equal(own.user.spent_micros, 3 * CALL_MICROS);
        });

        it("the key's owner or an admin may change its budget; others get 404; bad fields 422", async () => {
            const route = `/api/v1/api-keys/${key.id}/budget`;
            const raised = ok(await patch(base, route, { token: bob.token, json: { max_budget_usd: 3 * CALL_USD } }));
            assert.equal(raised.max_budget_usd, 3 * CALL_USD);
            const openai = new OpenAI({ baseURL: `${base}/v1`, apiKey: key.key, maxRetries: 0 });
            await openai.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }], max_tokens: MAX_TOKENS });
            const stranger = await register("stranger");
            assertError(await patch(base, route, { token: stranger.token, json: { max_budget_usd: 100 } }), 404, "not_found_error");
            assertError(await patch(base, route, { token: bob.token, json: {} }), 422, "invalid_request_error");
            assertError(await patch(base, route, { token: bob.token, json: { budget_period: "hourly" } }), 422, "invalid_request_error");
            assertError(await patch(base, route, { token: bob.token, json: { name: "x" } }), 422, "invalid_request_error");
            assertError(
                await patch(base, "/api/v1/api-keys/00000000-0000-7000-8000-000000000000/budget", { token: bob.token, json: { max_budget_usd: 1 } }),
                404,
                "not_found_error"
            );
            const byAdmin = ok(await patch(base, route, { token: admin.token, json: { max_budget_usd: null, soft_budget_usd: 0.5 } }));
            assert.deepEqual([byAdmin.max_budget_usd, byAdmin.soft_budget_usd], [null, 0.5]);
            assertError(
                await post(base, "/api/v1/api-keys", { token: bob.token, json: { name: "bad", max_budget_usd: -5 } }),
                422,
                "invalid_request_error"
            );
        });

        it("admin usage counts the compatible calls beside the messages", async () => {
            const usage = ok(await get(base, `/api/v1/admin/usage?user_id=${bob.id}`, { token: admin.token }));
            const gpt = usage.by_day_and_model.find((r) => r.model === GPT);
            const claude = usage.by_day_and_model.find((r) => r.model === CLAUDE);
            assert.ok(gpt && claude, JSON.stringify(usage));
            assert.equal(claude.call_count, 1, JSON.stringify(claude));
            assert.equal(claude.message_count, 0);
            assert.equal(gpt.call_count, 2, JSON.stringify(gpt));
            assert.ok(gpt.message_count >= 1, JSON.stringify(gpt)); // the conversation's answer
            assert.equal(usage.call_count, 3);
            const own = ok(await get(base, "/api/v1/usage/stats", { token: bob.token }));
            assert.equal(usage.cost_micros, Math.round(own.estimated_cost_usd * 1e6));
        });
    });
});
