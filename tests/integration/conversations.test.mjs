// Integration tests of Parley's conversations, messages, models and usage routes against the real
// binary: the seed demo script end to end on the built-in mock model, ownership (403), offset and
// cursor listing with filters, updates, deletion, id handling, request validation, API-key scopes
// and the AI rate limit; and, against the scripted fake LLM upstream (tests/support/fake_upstream.mjs),
// real providers: Groq answers, exact costs, thinking, provider failures, fallback to Gemini, and
// the context window fitted to a small model. The wire contract is
// /work/shared/reference/seed-api.md and api/openapi.yaml.
//
//   node --test tests/integration/conversations.test.mjs

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { randomUUID } from "node:crypto";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { assertError, call, del, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream, waitFor, wordCount } from "../support/fake_upstream.mjs";
import { makeTempDir, startServer } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const PASSWORD = "SecurePass123";

const CONVERSATIONS = "/api/v1/conversations";
const MODELS = "/api/v1/models";
const STATS = "/api/v1/usage/stats";
const KEYS = "/api/v1/api-keys";

const DEMO_SYSTEM = "You are a helpful coding assistant.";
const DEMO_QUESTION = "What is a REST API? Explain in 2 sentences.";

// Generous limits, so the many requests here never hit the defaults; the AI rate-limit test uses
// a server of its own.
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };

// The fake upstream's keys (distinct per provider, so a key sent to the wrong one is caught).
const FAKE_KEYS = Object.freeze({ groq: "gsk-conversations-test", gemini: "gemini-conversations-test" });

const CONVERSATION_FIELDS = [
    "active_leaf_id", "created_at", "id", "is_archived", "is_pinned", "metadata", "model", "settings", "summary",
    "summary_updated_at", "system_prompt", "title", "updated_at", "user_id",
];
const MESSAGE_FIELDS = [
    "content", "conversation_id", "created_at", "finish_reason", "id", "latency_ms", "metadata", "model",
    "parent_id", "provider", "role", "status", "thinking", "token_count",
];
const MODEL_FIELDS = [
    "available", "cost_per_1k_input", "cost_per_1k_output", "id", "is_default", "is_fallback",
    "max_context_tokens", "max_output_tokens", "name", "provider", "supports_thinking", "supports_tools",
];
// The seed's models (seed-api.md): id → [provider, max_context_tokens, $/M input, $/M output].
const SEED_MODELS = {
    "llama-3.1-8b-instant": ["groq", 131072, 0.05, 0.08],
    "llama-3.1-70b-versatile": ["groq", 131072, 0.59, 0.79],
    "llama-3.3-70b-versatile": ["groq", 131072, 0.59, 0.79],
    "mixtral-8x7b-32768": ["groq", 32768, 0.24, 0.24],
    "gemini-1.5-flash": ["google", 1048576, 0.075, 0.3],
    "gemini-1.5-pro": ["google", 2097152, 1.25, 5.0],
};

// ---- helpers -------------------------------------------------------------------------------------

// Stops a server and checks it exited cleanly: code 0 and no sanitizer report in its output.
async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.join("\n")}`);
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    assert.equal(r.body.status, "success", r.text.slice(0, 500));
    return r.body.data;
}

/** Registers a fresh user; resolves `{ token, user, email }`. */
async function register(base, email = uniqueEmail(), password = PASSWORD) {
    const data = ok(await post(base, "/api/v1/auth/register", { json: { email, password } }), 201);
    return { token: data.access_token, user: data.user, email };
}

async function createConversation(base, token, json = {}) {
    return ok(await post(base, CONVERSATIONS, { json, token }), 201);
}

const messagesPath = (id) => `${CONVERSATIONS}/${id}/messages`;

async function send(base, token, id, json) {
    return post(base, messagesPath(id), { json, token });
}

async function listMessages(base, token, id) {
    const r = await get(base, `${messagesPath(id)}?per_page=100`, { token });
    ok(r);
    return r.body;
}

/** Asserts every field of a conversation object (types and formats). */
function assertConversation(c, expected = {}) {
    assert.deepEqual(Object.keys(c).sort(), CONVERSATION_FIELDS, JSON.stringify(c));
    assert.match(c.id, UUID);
    assert.match(c.user_id, UUID);
    assert.ok(c.title === null || typeof c.title === "string", JSON.stringify(c));
    assert.equal(typeof c.model, "string");
    assert.ok(c.system_prompt === null || typeof c.system_prompt === "string");
    assert.equal(typeof c.metadata, "object");
    assert.ok(c.metadata !== null && !Array.isArray(c.metadata));
    assert.equal(typeof c.settings, "object");
    assert.equal(typeof c.is_archived, "boolean");
    assert.equal(typeof c.is_pinned, "boolean");
    assert.match(c.created_at, ISO_8601);
    assert.match(c.updated_at, ISO_8601);
    assert.ok(c.updated_at >= c.created_at, JSON.stringify(c));
    for (const [k, v] of Object.entries(expected)) {
        assert.deepEqual(c[k], v, `${k} of ${JSON.stringify(c)}`);
    }
}

/** Asserts the shape of a message object; returns it. */
function assertMessage(m, expected = {}) {
    assert.deepEqual(Object.keys(m).sort(), MESSAGE_FIELDS, JSON.stringify(m));
    assert.match(m.id, UUID);
    assert.match(m.conversation_id, UUID);
    assert.ok(["user", "assistant", "system", "tool"].includes(m.role), m.role);
    assert.equal(typeof m.content, "string");
    assert.equal(typeof m.token_count, "number");
    assert.ok(["complete", "partial", "error"].includes(m.status), m.status);
    assert.match(m.created_at, ISO_8601);
    assert.equal(typeof m.metadata, "object");
    assert.equal(typeof m.metadata.input_tokens, "number");
    assert.equal(typeof m.metadata.output_tokens, "number");
    assert.equal(typeof m.metadata.cost_usd, "number");
    for (const [k, v] of Object.entries(expected)) {
        assert.deepEqual(m[k], v, `${k} of ${JSON.stringify(m)}`);
    }
    return m;
}

/** Asserts a complete assistant answer (seed-api.md Messages). */
function assertAnswer(m, expected = {}) {
    assertMessage(m, { role: "assistant", status: "complete", ...expected });
    assert.ok(m.content.length > 0, "non-empty content");
    assert.equal(typeof m.model, "string");
    assert.equal(typeof m.provider, "string");
    assert.ok(Number.isInteger(m.latency_ms) && m.latency_ms > 0, `latency_ms ${m.latency_ms}`);
    assert.ok(Number.isInteger(m.token_count) && m.token_count > 0, `token_count ${m.token_count}`);
    assert.ok(m.metadata.input_tokens > 0, `input_tokens ${m.metadata.input_tokens}`);
    assert.equal(typeof m.metadata.fallback_used, "boolean");
    assert.ok(Number.isInteger(m.metadata.context_messages), JSON.stringify(m.metadata));
    return m;
}

/** Polls GET /conversations/{id} until it has a title; resolves the conversation. */
async function waitForTitle(base, token, id, timeoutMs = 5_000) {
    let last;
    await waitFor(async () => {
        last = ok(await get(base, `${CONVERSATIONS}/${id}`, { token }));
        return last.title !== null;
    }, timeoutMs).catch(() => assert.fail(`no title within ${timeoutMs} ms: ${JSON.stringify(last)}`));
    return last;
}

/** A title as the seed promises: non-empty, at most 60 characters, no quotes. */
function assertTitle(title) {
    assert.equal(typeof title, "string");
    assert.ok(title.trim().length > 0, `title ${JSON.stringify(title)}`);
    assert.ok([...title].length <= 60, `title longer than 60: ${JSON.stringify(title)}`);
    assert.doesNotMatch(title, /["'`“”]/, `title with quotes: ${JSON.stringify(title)}`);
}

const micros = (usd) => Math.round(usd * 1_000_000);

/** Checks /usage/stats against the caller's messages (every conversation's, all pages). */
async function assertStatsMatch(base, token, conversationIds) {
    const all = [];
    for (const id of conversationIds) {
        all.push(...(await listMessages(base, token, id)).data);
    }
    const s = ok(await get(base, STATS, { token }));
    assert.equal(s.conversation_count, conversationIds.length, JSON.stringify(s));
    assert.equal(s.message_count, all.length, JSON.stringify(s));
    const sum = (f) => all.reduce((n, m) => n + f(m), 0);
    assert.equal(s.total_input_tokens, sum((m) => m.metadata.input_tokens), JSON.stringify(s));
    assert.equal(s.total_output_tokens, sum((m) => m.metadata.output_tokens), JSON.stringify(s));
    assert.equal(micros(s.estimated_cost_usd), sum((m) => micros(m.metadata.cost_usd)), JSON.stringify(s));
    assert.ok(Array.isArray(s.by_model) && Array.isArray(s.by_day), JSON.stringify(s));
    return { stats: s, messages: all };
}

/** The chat-completion requests the fake received for the conversation whose system prompt is `system`. */
function chatRequestsFor(upstream, system) {
    return upstream.requests.filter((r) => {
        const first = r.body?.messages?.[0] ?? r.body?.systemInstruction?.parts?.[0];
        return (first?.content ?? first?.text) === system;
    });
}

// ---- the built-in mock model ---------------------------------------------------------------------

describe("conversations on the mock model (no provider keys)", () => {
    let server;
    let base;

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, MOCK_TOKEN_DELAY_MS: "0" } });
        base = server.baseUrl;
    });

    after(async () => {
        await stopCleanly(server);
    });

    describe("the seed demo script", () => {
        let demo; // { token, user }
        let other;
        let conv;
        let answer;

        before(async () => {
            demo = await register(base, "demo@example.com");
            other = await register(base, "other@example.com", "OtherPass123");
        });

        it("without a token, GET /conversations is a 401", async () => {
            const r = await get(base, CONVERSATIONS);
            assertError(r, 401, "authentication_error");
        });

        it("POST /conversations → 201 with every Conversation field", async () => {
            const r = await post(base, CONVERSATIONS, {
                json: { model: "parley-mock", system_prompt: DEMO_SYSTEM },
                token: demo.token,
            });
            conv = ok(r, 201);
            assertConversation(conv, {
                user_id: demo.user.id,
                title: null,
                model: "parley-mock",
                system_prompt: DEMO_SYSTEM,
                metadata: {},
                is_archived: false,
                is_pinned: false,
            });
            assert.equal(conv.created_at, conv.updated_at);
        });

        it("POST …/messages → 200 with the assistant's message and its figures", async () => {
            const r = await send(base, demo.token, conv.id, { content: DEMO_QUESTION });
            answer = assertAnswer(ok(r), {
                conversation_id: conv.id,
                model: "parley-mock",
                provider: "mock",
                finish_reason: "stop",
                thinking: null,
            });
            assert.equal(answer.metadata.fallback_used, false);
            assert.equal(answer.metadata.context_messages, 1);
            assert.equal(answer.metadata.cost_usd, 0, "the mock is free");
            assert.equal(answer.metadata.output_tokens, answer.token_count);
        });

        it("GET …/messages → total 2: the user message (own token_count), then the assistant's", async () => {
            const page = await listMessages(base, demo.token, conv.id);
            assert.equal(page.total, 2);
            assert.equal(page.page, 1);
            assert.equal(page.per_page, 100);
            assert.equal(page.data.length, 2);
            const [user, assistant] = page.data;
            assertMessage(user, { role: "user", content: DEMO_QUESTION, conversation_id: conv.id, status: "complete" });
            assert.ok(user.token_count > 0, `user token_count ${user.token_count}`);
            assert.deepEqual(assistant, answer);
            assert.ok(user.created_at <= assistant.created_at);
            // Paged one at a time, oldest first.
            const p2 = await get(base, `${messagesPath(conv.id)}?page=2&per_page=1`, { token: demo.token });
            assert.deepEqual(ok(p2), [answer]);
            assert.deepEqual([p2.body.page, p2.body.per_page, p2.body.total], [2, 1, 2]);
            for (const q of ["per_page=0", "per_page=101", "page=0", "page=abc"]) {
                assertError(await get(base, `${messagesPath(conv.id)}?${q}`, { token: demo.token }), 422, "invalid_request_error");
            }
        });

        it("the title is set in the background within a few seconds (≤ 60 chars, no quotes)", async () => {
            const c = await waitForTitle(base, demo.token, conv.id);
            assertTitle(c.title);
            assert.equal(c.messages.length, 2, "GET /{id} includes the messages");
            assert.deepEqual(c.messages.map((m) => m.role), ["user", "assistant"]);
            // The branch's messages also say where they stand among their siblings (issue 17).
            assert.deepEqual(c.messages[1], { ...answer, sibling_count: 1, sibling_index: 0 });
        });

        it("another user gets 403 permission_error on every route of the conversation", async () => {
            const route = `${CONVERSATIONS}/${conv.id}`;
            assertError(await get(base, route, { token: other.token }), 403, "permission_error");
            assertError(await patch(base, route, { json: { title: "hijacked" }, token: other.token }), 403, "permission_error");
            assertError(await get(base, messagesPath(conv.id), { token: other.token }), 403, "permission_error");
            assertError(await send(base, other.token, conv.id, { content: "hi" }), 403, "permission_error");
            assertError(await del(base, route, { token: other.token }), 403, "permission_error");
            // Nothing changed for the owner.
            const c = ok(await get(base, route, { token: demo.token }));
            assert.notEqual(c.title, "hijacked");
            assert.equal(c.messages.length, 2);
            // And the other user's own list does not show it.
            const list = await get(base, CONVERSATIONS, { token: other.token });
            assert.equal(ok(list).length, 0);
            assert.equal(list.body.total, 0);
        });

        it("GET /usage/stats: one conversation, two messages, totals equal the per-message sums", async () => {
            const { stats, messages } = await assertStatsMatch(base, demo.token, [conv.id]);
            assert.equal(stats.conversation_count, 1);
            assert.equal(stats.message_count, 2);
            assert.equal(stats.total_input_tokens, answer.metadata.input_tokens);
            assert.ok(stats.total_output_tokens >= answer.token_count);
            assert.equal(stats.estimated_cost_usd, messages.reduce((n, m) => n + m.metadata.cost_usd, 0));
            // from/to restrict the message figures, not the conversation count.
            const future = ok(await get(base, `${STATS}?from=2200-01-01`, { token: demo.token }));
            assert.deepEqual(
                [future.conversation_count, future.message_count, future.total_input_tokens, future.estimated_cost_usd],
                [1, 0, 0, 0]
            );
            const past = ok(await get(base, `${STATS}?from=2000-01-01&to=2200-01-01T00:00:00Z`, { token: demo.token }));
            assert.equal(past.message_count, 2);
            assertError(await get(base, `${STATS}?from=yesterday`, { token: demo.token }), 422, "invalid_request_error");
            // The other user has nothing.
            const s2 = ok(await get(base, STATS, { token: other.token }));
            assert.equal(s2.conversation_count, 0);
            assert.equal(s2.message_count, 0);
            assert.equal(s2.estimated_cost_usd, 0);
        });

        it("GET /models lists the seed's models with the seed fields; parley-mock available and default", async () => {
            const models = ok(await get(base, MODELS, { token: demo.token }));
            assert.ok(Array.isArray(models));
            const byId = new Map(models.map((m) => [m.id, m]));
            assert.equal(byId.size, models.length, "ids are unique");
            for (const m of models) {
                assert.deepEqual(Object.keys(m).sort(), MODEL_FIELDS, JSON.stringify(m));
                assert.equal(typeof m.name, "string");
                assert.ok(m.name.length > 0);
                assert.ok(Number.isInteger(m.max_context_tokens) && m.max_context_tokens > 0);
                assert.ok(Number.isInteger(m.max_output_tokens) && m.max_output_tokens > 0);
                assert.ok(m.max_output_tokens <= m.max_context_tokens);
                for (const f of ["cost_per_1k_input", "cost_per_1k_output"]) {
                    assert.ok(typeof m[f] === "number" && m[f] >= 0, `${f} of ${m.id}`);
                }
                for (const f of ["is_default", "is_fallback", "available", "supports_thinking", "supports_tools"]) {
                    assert.equal(typeof m[f], "boolean", `${f} of ${m.id}`);
                }
            }
            for (const [id, [provider, context, inPerM, outPerM]] of Object.entries(SEED_MODELS)) {
                const m = byId.get(id);
                assert.ok(m, `${id} listed`);
                assert.equal(m.provider, provider, id);
                assert.equal(m.max_context_tokens, context, id);
                assert.ok(Math.abs(m.cost_per_1k_input - inPerM / 1000) < 1e-12, `${id} ${m.cost_per_1k_input}`);
                assert.ok(Math.abs(m.cost_per_1k_output - outPerM / 1000) < 1e-12, `${id} ${m.cost_per_1k_output}`);
                assert.equal(m.available, false, `${id} needs a key this server lacks`);
            }
            const mock = byId.get("parley-mock");
            assert.ok(mock, "parley-mock listed");
            assert.equal(mock.available, true);
            assert.equal(mock.is_default, true);
            assert.equal(mock.provider, "mock");
            assert.deepEqual(models.filter((m) => m.is_default).map((m) => m.id), ["parley-mock"]);
            assert.deepEqual(models.filter((m) => m.is_fallback).map((m) => m.id), ["gemini-1.5-flash"]);
            assert.deepEqual(models.filter((m) => m.available).map((m) => m.id), ["parley-mock"]);
        });

        it("the seed's own create body (llama-3.1-8b-instant) is a 422 naming GROQ_API_KEY on a keyless server", async () => {
            const r = await post(base, CONVERSATIONS, {
                json: { model: "llama-3.1-8b-instant", system_prompt: DEMO_SYSTEM },
                token: demo.token,
            });
            assertError(r, 422, "invalid_request_error", { message: /llama-3\.1-8b-instant.*GROQ_API_KEY/ });
            const s = ok(await get(base, STATS, { token: demo.token }));
            assert.equal(s.conversation_count, 1, "nothing was created");
        });
    });

    describe("creating", () => {
        let s;
        before(async () => {
            s = await register(base, uniqueEmail("create"));
        });

        it("with no model uses the default (parley-mock); title, metadata and settings are kept", async () => {
            const c = await createConversation(base, s.token, {
                title: "My chat",
                metadata: { project: "docs", tags: ["a", "b"], n: 1 },
                temperature: 0.5,
                max_tokens: 100,
                thinking: true,
            });
            assertConversation(c, {
                title: "My chat",
                model: "parley-mock",
                system_prompt: null,
                metadata: { project: "docs", tags: ["a", "b"], n: 1 },
                settings: { temperature: 0.5, max_tokens: 100, thinking: true },
                is_archived: false,
            });
            const again = ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token: s.token }));
            assert.deepEqual({ ...again, messages: undefined }, { ...c, messages: undefined });
            assert.deepEqual(again.messages, []);
        });

        it("the conversation's settings apply to its messages (thinking on: the mock thinks)", async () => {
            const c = await createConversation(base, s.token, { thinking: true, title: "t" });
            const m = assertAnswer(ok(await send(base, s.token, c.id, { content: "What is 2 + 2?" })));
            assert.equal(typeof m.thinking, "string");
            assert.ok(m.thinking.length > 0);
            assert.ok(!m.content.includes(m.thinking), "the reasoning is not in the content");
            // And per message it can be switched off.
            const m2 = assertAnswer(ok(await send(base, s.token, c.id, { content: "And 3 + 3?", thinking: false })));
            assert.equal(m2.thinking, null);
        });

        it("rejects a bad model, temperature, max_tokens, title or metadata with 422", async () => {
            const cases = [
                [{ model: "no-such-model" }, /no-such-model/],
                [{ model: "gpt-4o-mini" }, /gpt-4o-mini.*OPENAI_API_KEY/],
                [{ model: "claude-3-5-haiku-latest" }, /ANTHROPIC_API_KEY/],
                [{ model: "gemini-1.5-pro" }, /GOOGLE_AI_API_KEY/],
                [{ model: 7 }, /model/],
                [{ temperature: 3 }, /temperature/],
                [{ temperature: -0.1 }, /temperature/],
                [{ max_tokens: 0 }, /max_tokens/],
                [{ max_tokens: 4097 }, /max_tokens/],
                [{ title: 5 }, /title/],
                [{ title: "x".repeat(201) }, /title/],
                [{ metadata: [1, 2] }, /metadata/],
                [{ metadata: "x" }, /metadata/],
            ];
            for (const [json, message] of cases) {
                const r = await post(base, CONVERSATIONS, { json, token: s.token });
                assertError(r, 422, "invalid_request_error", { message });
            }
            const list = await get(base, CONVERSATIONS, { token: s.token });
            assert.equal(list.body.total, 2, "none of them was created");
        });

        it("an unknown field → 422 naming it, as PATCH does; nothing is created", async () => {
            const before = (await get(base, CONVERSATIONS, { token: s.token })).body.total;
            for (const [json, field] of [
                [{ title: "x", foo: 1 }, "foo"],
                [{ title: "x", max_token: 5 }, "max_token"],
                [{ id: randomUUID() }, "id"],
                [{ user_id: randomUUID() }, "user_id"],
                [{ settings: { temperature: 1 } }, "settings"],
                [{ title: "x", is_archived: true }, "is_archived"],
                [{ messages: [] }, "messages"],
            ]) {
                const r = await post(base, CONVERSATIONS, { json, token: s.token });
                assertError(r, 422, "invalid_request_error", { message: new RegExp(`unknown field \`${field}\``) });
            }
            assert.equal((await get(base, CONVERSATIONS, { token: s.token })).body.total, before);
        });

        it("a duplicated key, at any depth (I-JSON), is a 400; nothing is created", async () => {
            const before = (await get(base, CONVERSATIONS, { token: s.token })).body.total;
            const headers = { "content-type": "application/json" };
            for (const body of [
                '{"title":"a","title":"b"}',
                '{"title":"a","metadata":{"owner":"me","owner":"you"}}',
                '{"metadata":{"list":[{"k":1,"k":2}]}}',
            ]) {
                assertError(await post(base, CONVERSATIONS, { body, headers, token: s.token }), 400, "invalid_request_error", {
                    message: /duplicate key/,
                });
            }
            assert.equal((await get(base, CONVERSATIONS, { token: s.token })).body.total, before);
            // The same key in different objects is fine.
            const c = await createConversation(base, s.token, { title: "t", metadata: { title: "t", a: { title: "u" } } });
            assert.deepEqual(c.metadata, { title: "t", a: { title: "u" } });
        });

        it("invalid JSON is a 400, a non-object body a 422, another media type a 415", async () => {
            assertError(
                await post(base, CONVERSATIONS, { body: "{\"title\": ", headers: { "content-type": "application/json" }, token: s.token }),
                400,
                "invalid_request_error"
            );
            assertError(await post(base, CONVERSATIONS, { json: [1], token: s.token }), 422, "invalid_request_error");
            const r = await post(base, CONVERSATIONS, { body: "title=x", headers: { "content-type": "text/plain" }, token: s.token });
            assert.equal(r.res.status, 415, r.text);
            assert.equal(r.body.status, "error");
        });
    });

    describe("listing: offset pages, cursor pages, filters", () => {
        let s;
        let created; // oldest first

        before(async () => {
            s = await register(base, uniqueEmail("pages"));
            created = [];
            for (let i = 0; i < 25; i += 1) {
                created.push(await createConversation(base, s.token, { title: `Conversation ${i}` }));
                await sleep(2); // distinct millisecond timestamps, so the order is unambiguous
            }
        });

        const newestFirst = () => [...created].reverse().map((c) => c.id);

        it("per_page=10: pages 1–3 hold 10, 10, 5 of total 25, most recently updated first", async () => {
            const seen = [];
            for (const [page, n] of [[1, 10], [2, 10], [3, 5], [4, 0]]) {
                const r = await get(base, `${CONVERSATIONS}?page=${page}&per_page=10`, { token: s.token });
                const data = ok(r);
                assert.deepEqual([r.body.page, r.body.per_page, r.body.total, data.length], [page, 10, 25, n]);
                data.forEach((c) => assertConversation(c, { user_id: s.user.id }));
                seen.push(...data.map((c) => c.id));
            }
            assert.deepEqual(seen, newestFirst());
        });

        it("defaults to page 1 of 20", async () => {
            const r = await get(base, CONVERSATIONS, { token: s.token });
            const data = ok(r);
            assert.deepEqual([r.body.page, r.body.per_page, r.body.total, data.length], [1, 20, 25, 20]);
            assert.deepEqual(data.map((c) => c.id), newestFirst().slice(0, 20));
            assert.ok(!("next_cursor" in r.body));
        });

        it("per_page 0 / 101 / page 0 / non-numbers → 422", async () => {
            for (const q of ["per_page=0", "per_page=101", "page=0", "page=abc", "per_page=abc", "page=-1", "per_page=", "page=1.5"]) {
                assertError(await get(base, `${CONVERSATIONS}?${q}`, { token: s.token }), 422, "invalid_request_error");
            }
            const r = await get(base, `${CONVERSATIONS}?per_page=100`, { token: s.token });
            assert.equal(ok(r).length, 25);
        });

        it("cursor pages (?limit=7) walk all 25 exactly once with next_cursor/has_more", async () => {
            const seen = [];
            let cursor;
            const sizes = [];
            for (let i = 0; i < 10; i += 1) {
                const q = cursor === undefined ? "limit=7" : `limit=7&cursor=${encodeURIComponent(cursor)}`;
                const r = await get(base, `${CONVERSATIONS}?${q}`, { token: s.token });
                const data = ok(r);
                assert.deepEqual(Object.keys(r.body).sort(), ["data", "has_more", "next_cursor", "status"]);
                sizes.push(data.length);
                seen.push(...data.map((c) => c.id));
                assert.equal(r.body.has_more, r.body.next_cursor !== null, JSON.stringify(r.body));
                if (!r.body.has_more) {
                    break;
                }
                assert.equal(typeof r.body.next_cursor, "string");
                cursor = r.body.next_cursor;
            }
            assert.deepEqual(sizes, [7, 7, 7, 4]);
            assert.deepEqual(seen, newestFirst());
        });

        it("has_more is false on a page that ends exactly at the last conversation", async () => {
            const r = await get(base, `${CONVERSATIONS}?limit=25`, { token: s.token });
            assert.equal(ok(r).length, 25);
            assert.equal(r.body.has_more, false);
            assert.equal(r.body.next_cursor, null);
            const r2 = await get(base, `${CONVERSATIONS}?limit=24`, { token: s.token });
            assert.equal(ok(r2).length, 24);
            assert.equal(r2.body.has_more, true);
            const r3 = await get(base, `${CONVERSATIONS}?limit=24&cursor=${encodeURIComponent(r2.body.next_cursor)}`, { token: s.token });
            assert.deepEqual(ok(r3).map((c) => c.id), [created[0].id]);
            assert.equal(r3.body.has_more, false);
            // A cursor without limit pages by 20.
            const r4 = await get(base, `${CONVERSATIONS}?cursor=`, { token: s.token });
            assert.equal(ok(r4).length, 20);
            assert.equal(r4.body.has_more, true);
        });

        it("a cursor walk has no duplicates or gaps while conversations are created meanwhile", async () => {
            const initial = newestFirst();
            const seen = [];
            const added = [];
            let cursor;
            for (let i = 0; i < 10; i += 1) {
                const q = cursor === undefined ? "limit=7" : `limit=7&cursor=${encodeURIComponent(cursor)}`;
                const r = await get(base, `${CONVERSATIONS}?${q}`, { token: s.token });
                seen.push(...ok(r).map((c) => c.id));
                // New conversations arrive between the pages.
                for (let k = 0; k < 2; k += 1) {
                    added.push(await createConversation(base, s.token, { title: `Added ${i}.${k}` }));
                }
                if (!r.body.has_more) {
                    break;
                }
                cursor = r.body.next_cursor;
            }
            assert.equal(new Set(seen).size, seen.length, "no duplicates");
            assert.deepEqual(seen, initial, "every conversation that existed at the start, once, in order");
            // A fresh walk sees the new ones first.
            const r = await get(base, `${CONVERSATIONS}?limit=100`, { token: s.token });
            assert.deepEqual(
                ok(r).map((c) => c.id),
                [...added.map((c) => c.id).reverse(), ...initial]
            );
            // Delete them again so later tests see the 25.
            for (const c of added) {
                assert.equal((await del(base, `${CONVERSATIONS}/${c.id}`, { token: s.token })).res.status, 204);
            }
        });

        it("an invalid cursor or limit → 422", async () => {
            const forged = Buffer.from("2025-01-01T00:00:00.000Z|not-a-uuid").toString("base64url");
            const noBar = Buffer.from("hello").toString("base64url");
            for (const q of [
                "cursor=abc",
                "cursor=%21%21%21",
                `cursor=${forged}`,
                `cursor=${noBar}`,
                "limit=0",
                "limit=101",
                "limit=abc",
                "limit=",
            ]) {
                assertError(await get(base, `${CONVERSATIONS}?${q}`, { token: s.token }), 422, "invalid_request_error");
            }
        });

        it("filters: is_archived after PATCH {is_archived:true}, q= (case-insensitive), model=", async () => {
            const target = created[3];
            const p = ok(await patch(base, `${CONVERSATIONS}/${target.id}`, { json: { is_archived: true }, token: s.token }));
            assert.equal(p.is_archived, true);
            const archived = await get(base, `${CONVERSATIONS}?is_archived=true`, { token: s.token });
            assert.deepEqual(ok(archived).map((c) => c.id), [target.id]);
            assert.equal(archived.body.total, 1);
            const live = await get(base, `${CONVERSATIONS}?is_archived=false&per_page=100`, { token: s.token });
            assert.equal(live.body.total, 24);
            assert.ok(!ok(live).some((c) => c.id === target.id));
            // Cursor mode filters too.
            const ac = await get(base, `${CONVERSATIONS}?is_archived=1&limit=5`, { token: s.token });
            assert.deepEqual(ok(ac).map((c) => c.id), [target.id]);
            assertError(await get(base, `${CONVERSATIONS}?is_archived=maybe`, { token: s.token }), 422, "invalid_request_error");

            // q: "Conversation 1" matches 1 and 10–19; case-insensitive.
            for (const q of ["Conversation%201", "conversation%201", "CONVERSATION%201"]) {
                const r = await get(base, `${CONVERSATIONS}?q=${q}&per_page=100`, { token: s.token });
                const titles = ok(r).map((c) => c.title).sort();
                const expected = ["Conversation 1", ...Array.from({ length: 10 }, (_, i) => `Conversation 1${i}`)].sort();
                assert.deepEqual(titles, expected, q);
                assert.equal(r.body.total, 11);
            }
            const none = await get(base, `${CONVERSATIONS}?q=zzz`, { token: s.token });
            assert.equal(none.body.total, 0);
            // % and _ are literal.
            const pct = await get(base, `${CONVERSATIONS}?q=${encodeURIComponent("%")}`, { token: s.token });
            assert.equal(pct.body.total, 0);

            const byModel = await get(base, `${CONVERSATIONS}?model=parley-mock&per_page=1`, { token: s.token });
            assert.equal(byModel.body.total, 25);
            const otherModel = await get(base, `${CONVERSATIONS}?model=llama-3.1-8b-instant`, { token: s.token });
            assert.equal(otherModel.body.total, 0);
        });

        it("an update moves a conversation to the top (most recently updated first)", async () => {
            const oldest = created[0];
            await sleep(2);
            const p = ok(await patch(base, `${CONVERSATIONS}/${oldest.id}`, { json: { is_pinned: true }, token: s.token }));
            assert.ok(p.updated_at > oldest.updated_at, `${p.updated_at} > ${oldest.updated_at}`);
            assert.equal(p.created_at, oldest.created_at);
            const r = await get(base, `${CONVERSATIONS}?per_page=3`, { token: s.token });
            assert.equal(ok(r)[0].id, oldest.id);
        });

        it("a cursor walk returns no duplicates when a conversation already seen is updated meanwhile", async () => {
            const first = await get(base, `${CONVERSATIONS}?limit=5`, { token: s.token });
            const seen = ok(first).map((c) => c.id);
            await sleep(2);
            ok(await patch(base, `${CONVERSATIONS}/${seen[1]}`, { json: { title: "Seen and updated" }, token: s.token }));
            let cursor = first.body.next_cursor;
            while (cursor) {
                const r = await get(base, `${CONVERSATIONS}?limit=5&cursor=${encodeURIComponent(cursor)}`, { token: s.token });
                seen.push(...ok(r).map((c) => c.id));
                cursor = r.body.next_cursor;
            }
            assert.equal(new Set(seen).size, seen.length, "no duplicates");
            assert.equal(seen.length, 25);
        });

        it("a conversation updated during a cursor walk moves ahead of it: the walk skips it, a new walk starts with it", async () => {
            // The documented keyset contract (api/openapi.yaml listConversations): the order is
            // most recently updated first, so an update moves a conversation behind the cursor.
            const all = ok(await get(base, `${CONVERSATIONS}?per_page=100`, { token: s.token })).map((c) => c.id);
            const first = await get(base, `${CONVERSATIONS}?limit=5`, { token: s.token });
            const seen = ok(first).map((c) => c.id);
            const notYet = all.at(-1);
            await sleep(2);
            ok(await patch(base, `${CONVERSATIONS}/${notYet}`, { json: { is_pinned: false }, token: s.token }));
            let cursor = first.body.next_cursor;
            while (cursor) {
                const r = await get(base, `${CONVERSATIONS}?limit=5&cursor=${encodeURIComponent(cursor)}`, { token: s.token });
                seen.push(...ok(r).map((c) => c.id));
                cursor = r.body.next_cursor;
            }
            assert.equal(new Set(seen).size, seen.length, "no duplicates");
            assert.deepEqual([...seen].sort(), all.filter((id) => id !== notYet).sort(), "all but the moved one");
            const fresh = await get(base, `${CONVERSATIONS}?limit=5`, { token: s.token });
            assert.equal(ok(fresh)[0].id, notYet, "the updated conversation leads a new walk");
        });

        it("q= is case-insensitive for ASCII titles", async () => {
            const c = await createConversation(base, s.token, { title: "Café Ümlaut REST notes" });
            for (const q of ["rest", "REST", "Rest NOTES", "café", "Ümlaut"]) {
                const r = await get(base, `${CONVERSATIONS}?q=${encodeURIComponent(q)}`, { token: s.token });
                assert.deepEqual(ok(r).map((x) => x.id), [c.id], q);
            }
            assert.equal((await del(base, `${CONVERSATIONS}/${c.id}`, { token: s.token })).res.status, 204);
        });

    });

    describe("PATCH", () => {
        let s;
        let c;
        const route = () => `${CONVERSATIONS}/${c.id}`;

        before(async () => {
            s = await register(base, uniqueEmail("patch"));
            c = await createConversation(base, s.token, {
                title: "Original",
                system_prompt: "Be brief.",
                metadata: { a: 1 },
            });
        });

        it("updates each field and returns the object; GET agrees", async () => {
            const steps = [
                [{ title: "Renamed" }, { title: "Renamed" }],
                [{ system_prompt: "Be verbose." }, { system_prompt: "Be verbose." }],
                [{ model: "parley-mock" }, { model: "parley-mock" }],
                [{ metadata: { b: [1, 2], c: { d: "e" } } }, { metadata: { b: [1, 2], c: { d: "e" } } }],
                [{ is_archived: true }, { is_archived: true }],
                [{ is_pinned: true }, { is_pinned: true }],
                [{ is_archived: false, is_pinned: false, title: "Both" }, { is_archived: false, is_pinned: false, title: "Both" }],
            ];
            let previous = c;
            for (const [json, expected] of steps) {
                await sleep(2);
                const updated = ok(await patch(base, route(), { json, token: s.token }));
                assertConversation(updated, { ...previous, ...expected, updated_at: updated.updated_at });
                assert.ok(updated.updated_at > previous.updated_at, JSON.stringify(json));
                const got = ok(await get(base, route(), { token: s.token }));
                const { messages, ...rest } = got;
                assert.deepEqual(rest, updated);
                previous = updated;
            }
            c = previous;
        });

        it("title null clears it; system_prompt null removes it; metadata null empties it", async () => {
            const updated = ok(await patch(base, route(), { json: { title: null }, token: s.token }));
            assert.equal(updated.title, null);
            assert.equal(updated.system_prompt, "Be verbose.", "other fields untouched");
            assert.equal(ok(await get(base, route(), { token: s.token })).title, null);
            const u2 = ok(await patch(base, route(), { json: { system_prompt: null, title: "Back" }, token: s.token }));
            assert.equal(u2.system_prompt, null);
            assert.equal(u2.title, "Back");
            const u3 = ok(await patch(base, route(), { json: { metadata: null }, token: s.token }));
            assert.deepEqual(u3.metadata, {});
            c = u3;
        });

        it("an unknown or read-only field → 422 and nothing changes", async () => {
            const snapshot = ok(await get(base, route(), { token: s.token }));
            for (const [json, field] of [
                [{ foo: 1 }, "foo"],
                [{ id: randomUUID() }, "id"],
                [{ user_id: randomUUID() }, "user_id"],
                [{ created_at: "2020-01-01T00:00:00Z" }, "created_at"],
                [{ updated_at: "2020-01-01T00:00:00Z" }, "updated_at"],
                [{ title: "Changed?", messages: [] }, "messages"],
                [{ settings: {} }, "settings"],
            ]) {
                const r = await patch(base, route(), { json, token: s.token });
                assertError(r, 422, "invalid_request_error", { message: new RegExp(field) });
            }
            assert.deepEqual(ok(await get(base, route(), { token: s.token })), snapshot);
        });

        it("an unknown or unavailable model → 422 naming it; bad types → 422", async () => {
            const snapshot = ok(await get(base, route(), { token: s.token }));
            assertError(await patch(base, route(), { json: { model: "gpt-9-ultra" }, token: s.token }), 422, "invalid_request_error", {
                message: /gpt-9-ultra/,
            });
            assertError(await patch(base, route(), { json: { model: "gpt-4o-mini" }, token: s.token }), 422, "invalid_request_error", {
                message: /gpt-4o-mini.*OPENAI_API_KEY/,
            });
            for (const json of [
                { model: null },
                { model: 3 },
                { title: 3 },
                { system_prompt: false },
                { is_archived: "yes" },
                { is_pinned: 1 },
                { metadata: [1] },
                { title: "x".repeat(201) },
            ]) {
                assertError(await patch(base, route(), { json, token: s.token }), 422, "invalid_request_error");
            }
            assert.deepEqual(ok(await get(base, route(), { token: s.token })), snapshot);
        });

        it("an empty patch is accepted and changes nothing but updated_at", async () => {
            const snapshot = ok(await get(base, route(), { token: s.token }));
            const r = ok(await patch(base, route(), { json: {}, token: s.token }));
            const { messages, ...rest } = snapshot;
            assert.deepEqual({ ...r, updated_at: rest.updated_at }, rest);
        });

        it("invalid JSON is a 400", async () => {
            assertError(
                await patch(base, route(), { body: "{", headers: { "content-type": "application/json" }, token: s.token }),
                400,
                "invalid_request_error"
            );
        });

        it("a duplicated key is a 400 and nothing changes", async () => {
            const snapshot = ok(await get(base, route(), { token: s.token }));
            assertError(
                await patch(base, route(), {
                    body: '{"is_archived":false,"is_archived":true}',
                    headers: { "content-type": "application/json" },
                    token: s.token,
                }),
                400,
                "invalid_request_error",
                { message: /duplicate key `is_archived`/ }
            );
            assert.deepEqual(ok(await get(base, route(), { token: s.token })), snapshot);
        });
    });

    describe("DELETE", () => {
        it("→ 204; then GET → 404, its messages are gone, and it leaves the list and the stats", async () => {
            const s = await register(base, uniqueEmail("delete"));
            const keep = await createConversation(base, s.token, { title: "keep" });
            const doomed = await createConversation(base, s.token, { title: "doomed" });
            ok(await send(base, s.token, doomed.id, { content: "first" }));
            ok(await send(base, s.token, doomed.id, { content: "second" }));
            ok(await send(base, s.token, keep.id, { content: "kept" }));
            assert.equal(ok(await get(base, STATS, { token: s.token })).message_count, 6);

            const r = await del(base, `${CONVERSATIONS}/${doomed.id}`, { token: s.token });
            assert.equal(r.res.status, 204);
            assert.equal(r.text, "");

            assertError(await get(base, `${CONVERSATIONS}/${doomed.id}`, { token: s.token }), 404, "not_found_error");
            assertError(await get(base, messagesPath(doomed.id), { token: s.token }), 404, "not_found_error");
            assertError(await send(base, s.token, doomed.id, { content: "again" }), 404, "not_found_error");
            assertError(await patch(base, `${CONVERSATIONS}/${doomed.id}`, { json: { title: "x" }, token: s.token }), 404, "not_found_error");
            assertError(await del(base, `${CONVERSATIONS}/${doomed.id}`, { token: s.token }), 404, "not_found_error");

            const list = await get(base, CONVERSATIONS, { token: s.token });
            assert.deepEqual(ok(list).map((c) => c.id), [keep.id]);
            const stats = ok(await get(base, STATS, { token: s.token }));
            assert.equal(stats.conversation_count, 1);
            assert.equal(stats.message_count, 2);
            assert.equal((await listMessages(base, s.token, keep.id)).total, 2);
        });

        it("the deleted conversation's message rows are gone from the database", async (t) => {
            const pgUrl = server.databaseUrl?.startsWith("postgres") ? server.databaseUrl : undefined;
            const client = pgUrl ? "psql" : "sqlite3";
            try {
                execFileSync(client, ["--version"], { stdio: "ignore" });
            } catch {
                t.skip(`${client} CLI not installed`);
                return;
            }
            const s = await register(base, uniqueEmail("delete-db"));
            const c = await createConversation(base, s.token, { title: "rows" });
            ok(await send(base, s.token, c.id, { content: "count me" }));
            const sql = `SELECT COUNT(*) FROM messages WHERE conversation_id = '${c.id}';`;
            const db = path.join(server.dataDir, "parley.db");
            const count = () =>
                Number(
                    execFileSync(client, pgUrl ? [pgUrl, "-tA", "-c", sql] : [db, sql], {
                        encoding: "utf8",
                    }).trim()
                );
            assert.equal(count(), 2);
            assert.equal((await del(base, `${CONVERSATIONS}/${c.id}`, { token: s.token })).res.status, 204);
            assert.equal(count(), 0);
        });
    });

    describe("ids", () => {
        let s;
        let c;
        before(async () => {
            s = await register(base, uniqueEmail("ids"));
            c = await createConversation(base, s.token, { title: "ids" });
        });

        const routes = (id) => [
            ["GET", `${CONVERSATIONS}/${id}`],
            ["PATCH", `${CONVERSATIONS}/${id}`, { title: "x" }],
            ["DELETE", `${CONVERSATIONS}/${id}`],
            ["GET", `${CONVERSATIONS}/${id}/messages`],
            ["POST", `${CONVERSATIONS}/${id}/messages`, { content: "hello" }],
        ];

        it("a non-UUID id → 404 not_found_error (never 500) on every {id} route", async () => {
            const bad = [
                "not-a-uuid",
                "12345",
                `${c.id}x`,
                c.id.slice(0, -1),
                c.id.replaceAll("-", ""),
                "00000000-0000-0000-0000-00000000000g",
                encodeURIComponent("' OR 1=1 --"),
                encodeURIComponent("%"),
                "%00",
                "x".repeat(300),
            ];
            for (const id of bad) {
                for (const [method, route, json] of routes(id)) {
                    const r = await call(base, method, route, { json, token: s.token });
                    assertError(r, 404, "not_found_error");
                }
            }
        });

        it("an unknown UUID → 404 on every {id} route", async () => {
            for (const id of [randomUUID(), "00000000-0000-0000-0000-000000000000"]) {
                for (const [method, route, json] of routes(id)) {
                    assertError(await call(base, method, route, { json, token: s.token }), 404, "not_found_error");
                }
            }
            // The real one still exists and has no messages.
            assert.equal((await listMessages(base, s.token, c.id)).total, 0);
        });
    });

    describe("message validation", () => {
        let s;
        let c;
        before(async () => {
            s = await register(base, uniqueEmail("validate"));
            c = await createConversation(base, s.token, { title: "validation" });
        });

        it("content missing / empty / whitespace-only / non-string → 422", async () => {
            for (const json of [
                {},
                { content: "" },
                { content: "   " },
                { content: " \n\t\r " },
                { content: null },
                { content: 42 },
                { content: ["hi"] },
                { content: { text: "hi" } },
                { content: true },
            ]) {
                const r = await send(base, s.token, c.id, json);
                assertError(r, 422, "invalid_request_error", { message: /content/ });
            }
        });

        it("invalid JSON → 400; a non-object body → 422; an empty body → 400", async () => {
            const headers = { "content-type": "application/json" };
            for (const body of ["{", "{\"content\": \"hi\",}", "content=hi", "{\"content\": \"a\" \"b\"}"]) {
                assertError(await post(base, messagesPath(c.id), { body, headers, token: s.token }), 400, "invalid_request_error");
            }
            assertError(await post(base, messagesPath(c.id), { body: "", headers, token: s.token }), 400, "invalid_request_error");
            assertError(await post(base, messagesPath(c.id), { json: "hi", token: s.token }), 422, "invalid_request_error");
        });

        it("an unknown field → 422 naming it, on /messages and /messages/stream", async () => {
            for (const [json, field] of [
                [{ content: "hi", foo: 1 }, "foo"],
                [{ content: "hi", max_token: 5 }, "max_token"],
                [{ contnet: "hi" }, "contnet"],
                [{ message: "hi" }, "message"],
                [{ content: "hi", role: "system" }, "role"],
                [{ content: "hi", stream: true }, "stream"],
            ]) {
                const message = new RegExp(`unknown field \`${field}\``);
                assertError(await send(base, s.token, c.id, json), 422, "invalid_request_error", { message });
                assertError(
                    await post(base, `${messagesPath(c.id)}/stream`, { json, token: s.token }),
                    422,
                    "invalid_request_error",
                    { message }
                );
            }
        });

        it("a duplicated key → 400 on /messages and /messages/stream", async () => {
            const headers = { "content-type": "application/json" };
            for (const body of ['{"content":"hi","content":"there"}', '{"content":"hi","model":"parley-mock","model":"x"}']) {
                for (const route of [messagesPath(c.id), `${messagesPath(c.id)}/stream`]) {
                    assertError(await post(base, route, { body, headers, token: s.token }), 400, "invalid_request_error", {
                        message: /duplicate key/,
                    });
                }
            }
        });

        it("unknown model → 422 naming it; a model without its provider's key → 422 naming the variable", async () => {
            assertError(await send(base, s.token, c.id, { content: "hi", model: "gpt-17" }), 422, "invalid_request_error", {
                message: /gpt-17/,
            });
            assertError(await send(base, s.token, c.id, { content: "hi", model: "gpt-4o-mini" }), 422, "invalid_request_error", {
                message: /gpt-4o-mini.*OPENAI_API_KEY/,
            });
            assertError(await send(base, s.token, c.id, { content: "hi", model: "llama-3.3-70b-versatile" }), 422, "invalid_request_error", {
                message: /GROQ_API_KEY/,
            });
            assertError(await send(base, s.token, c.id, { content: "hi", model: 5 }), 422, "invalid_request_error");
        });

        it("temperature out of 0–2 and max_tokens out of 1–max_output → 422; bad types → 422", async () => {
            for (const json of [
                { content: "hi", temperature: 3 },
                { content: "hi", temperature: -1 },
                { content: "hi", temperature: "hot" },
                { content: "hi", max_tokens: 0 },
                { content: "hi", max_tokens: -5 },
                { content: "hi", max_tokens: 4097 },
                { content: "hi", max_tokens: 1.5 },
                { content: "hi", thinking: "yes" },
            ]) {
                assertError(await send(base, s.token, c.id, json), 422, "invalid_request_error");
            }
        });

        it("content of 100,001 characters → 422; 100,000 is accepted", async () => {
            const tooLong = await send(base, s.token, c.id, { content: "a".repeat(100_001) });
            assertError(tooLong, 422, "invalid_request_error", { message: /100000/ });
            const fine = assertAnswer(ok(await send(base, s.token, c.id, { content: "a".repeat(100_000) })));
            assert.equal(fine.metadata.context_messages, 1);
        });

        it("none of the rejected requests stored a message; the accepted one stored two", async () => {
            const page = await listMessages(base, s.token, c.id);
            assert.equal(page.total, 2);
            assert.equal(page.data[0].content.length, 100_000);
        });

        it("boundary values are accepted: temperature 0 and 2, max_tokens 1 and max_output, another model", async () => {
            for (const json of [
                { content: "t0", temperature: 0 },
                { content: "t2", temperature: 2 },
                { content: "m1", max_tokens: 1 },
                { content: "mmax", max_tokens: 4096 },
                { content: "model", model: "parley-mock" },
            ]) {
                assertMessage(ok(await send(base, s.token, c.id, json)), { role: "assistant" });
            }
        });
    });

    describe("API-key scopes", () => {
        it("a read-only key can GET but gets 403 on POST /conversations and POST …/messages", async () => {
            const s = await register(base, uniqueEmail("scopes"));
            const c = await createConversation(base, s.token, { title: "scoped" });
            const ro = ok(await post(base, KEYS, { json: { name: "ro", scopes: ["read"] }, token: s.token }), 201);
            assert.deepEqual(ro.scopes, ["read"]);

            const list = await get(base, CONVERSATIONS, { apiKey: ro.key });
            assert.deepEqual(ok(list).map((x) => x.id), [c.id]);
            assert.equal(ok(await get(base, `${CONVERSATIONS}/${c.id}`, { apiKey: ro.key })).id, c.id);
            assert.equal(ok(await get(base, messagesPath(c.id), { apiKey: ro.key })).length, 0);
            assert.ok(ok(await get(base, MODELS, { apiKey: ro.key })).length > 0);
            assert.equal(ok(await get(base, STATS, { apiKey: ro.key })).conversation_count, 1);

            assertError(await post(base, CONVERSATIONS, { json: {}, apiKey: ro.key }), 403, "permission_error");
            assertError(await post(base, messagesPath(c.id), { json: { content: "hi" }, apiKey: ro.key }), 403, "permission_error");
            assertError(await patch(base, `${CONVERSATIONS}/${c.id}`, { json: { title: "x" }, apiKey: ro.key }), 403, "permission_error");
            assertError(await del(base, `${CONVERSATIONS}/${c.id}`, { apiKey: ro.key }), 403, "permission_error");
            assert.equal((await listMessages(base, s.token, c.id)).total, 0, "nothing was sent");

            // A read+write key can do both.
            const rw = ok(await post(base, KEYS, { json: { name: "rw" }, token: s.token }), 201);
            const c2 = ok(await post(base, CONVERSATIONS, { json: { title: "by key" }, apiKey: rw.key }), 201);
            assertAnswer(ok(await post(base, messagesPath(c2.id), { json: { content: "hi" }, apiKey: rw.key })));
        });
    });
});

// ---- real providers through the fake upstream ------------------------------------------------------

describe("conversations on Groq with a Gemini fallback (fake upstream)", () => {
    let upstream;
    let server;
    let base;
    let s;

    before(async () => {
        upstream = await startFakeUpstream({ keys: { groq: FAKE_KEYS.groq, gemini: FAKE_KEYS.gemini } });
        server = await startServer({
            env: {
                ...UNLIMITED,
                GROQ_API_KEY: FAKE_KEYS.groq,
                GROQ_BASE_URL: `${upstream.baseUrl}/openai/v1`,
                GOOGLE_AI_API_KEY: FAKE_KEYS.gemini,
                GEMINI_BASE_URL: upstream.baseUrl,
                FALLBACK_MODEL: "gemini-1.5-flash",
                LLM_MAX_RETRIES: "0",
            },
        });
        base = server.baseUrl;
        s = await register(base, uniqueEmail("groq"));
    });

    after(async () => {
        try {
            await stopCleanly(server);
        } finally {
            await upstream.close();
        }
    });

    const reset = (script) => {
        upstream.reset();
        upstream.setScript(script);
    };

    it("GET /models: the default is llama-3.1-8b-instant; groq and google models are available", async () => {
        const models = ok(await get(base, MODELS, { token: s.token }));
        const byId = new Map(models.map((m) => [m.id, m]));
        assert.deepEqual(models.filter((m) => m.is_default).map((m) => m.id), ["llama-3.1-8b-instant"]);
        assert.deepEqual(models.filter((m) => m.is_fallback).map((m) => m.id), ["gemini-1.5-flash"]);
        for (const id of Object.keys(SEED_MODELS)) {
            assert.equal(byId.get(id).available, true, id);
        }
        assert.equal(byId.get("gpt-4o-mini").available, false);
        assert.equal(byId.get("parley-mock").available, true);
        assert.equal(byId.get("deepseek-r1-distill-llama-70b").supports_thinking, true);
    });

    it("the demo script verbatim: llama-3.1-8b-instant answers through Groq; the model names the title", async () => {
        reset((info) => {
            const system = info.body?.messages?.[0]?.content ?? "";
            if (system.startsWith("You name conversations")) {
                return { tokens: ['"REST', " API", ' Basics"'] };
            }
            return { tokens: ["A REST API", " is an interface", " over HTTP."], usage: { input: 27, output: 48 } };
        });
        const c = await createConversation(base, s.token, { model: "llama-3.1-8b-instant", system_prompt: DEMO_SYSTEM });
        assertConversation(c, { model: "llama-3.1-8b-instant", title: null, system_prompt: DEMO_SYSTEM, metadata: {} });
        const m = assertAnswer(ok(await send(base, s.token, c.id, { content: DEMO_QUESTION })), {
            content: "A REST API is an interface over HTTP.",
            model: "llama-3.1-8b-instant",
            provider: "groq",
            finish_reason: "stop",
            token_count: 48,
            thinking: null,
        });
        assert.equal(m.metadata.input_tokens, 27);
        assert.equal(m.metadata.output_tokens, 48);
        assert.equal(m.metadata.fallback_used, false);
        assert.equal(m.metadata.context_messages, 1);
        assert.equal(micros(m.metadata.cost_usd), Math.round(27 * 0.05 + 48 * 0.08));

        const chats = chatRequestsFor(upstream, DEMO_SYSTEM);
        assert.equal(chats.length, 1);
        const req = chats[0];
        assert.equal(req.provider, "groq");
        assert.equal(req.path, "/openai/v1/chat/completions");
        assert.equal(req.headers.authorization, `Bearer ${FAKE_KEYS.groq}`);
        assert.equal(req.body.model, "llama-3.1-8b-instant");
        assert.deepEqual(
            req.body.messages.map((x) => [x.role, x.content]),
            [["system", DEMO_SYSTEM], ["user", DEMO_QUESTION]]
        );

        const titled = await waitForTitle(base, s.token, c.id);
        assertTitle(titled.title);
        assert.equal(titled.title, "REST API Basics");
    });

    it("a title the user sets before the background title arrives is kept", async () => {
        reset((info) => {
            const system = info.body?.messages?.[0]?.content ?? "";
            if (system.startsWith("You name conversations")) {
                return { tokens: ["Model Title"], headersDelayMs: 300 };
            }
            return { tokens: ["ok"] };
        });
        const c = await createConversation(base, s.token, { system_prompt: "race" });
        ok(await send(base, s.token, c.id, { content: "hello there" }));
        ok(await patch(base, `${CONVERSATIONS}/${c.id}`, { json: { title: "Mine" }, token: s.token }));
        await waitFor(() => upstream.requests.length >= 2, 3_000);
        await sleep(500); // the title answer (300 ms late) has been handled
        assert.equal(ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token: s.token })).title, "Mine");
    });

    it("usage {input: 1e6, output: 1e6} on llama-3.1-8b-instant costs exactly $0.13", async () => {
        reset({ tokens: ["Fine."], usage: { input: 1_000_000, output: 1_000_000 } });
        const c = await createConversation(base, s.token, { title: "cost", model: "llama-3.1-8b-instant" });
        const m = assertAnswer(ok(await send(base, s.token, c.id, { content: "How much?" })), { provider: "groq" });
        assert.equal(m.metadata.input_tokens, 1_000_000);
        assert.equal(m.metadata.output_tokens, 1_000_000);
        assert.equal(m.token_count, 1_000_000);
        assert.equal(m.metadata.cost_usd, 0.13);
    });

    it("without scripted usage, the provider's counts are stored (not estimates)", async () => {
        reset({ tokens: ["One", " two", " three"] });
        const system = "Count words.";
        const c = await createConversation(base, s.token, { title: "counts", system_prompt: system });
        const m = assertAnswer(ok(await send(base, s.token, c.id, { content: "alpha beta gamma delta" })));
        // The fake's defaults: input = words of all prompt text, output = streamed pieces.
        assert.equal(m.metadata.input_tokens, wordCount(`${system} alpha beta gamma delta`));
        assert.equal(m.metadata.output_tokens, 3);
        assert.equal(m.content, "One two three");
    });

    it("thinking mode on deepseek-r1-distill-llama-70b: `thinking` filled, not in `content`", async () => {
        reset({ thinkStyle: "tags", thinking: ["Let me", " multiply", " carefully."], tokens: ["248", ",171"] });
        const c = await createConversation(base, s.token, { title: "think", model: "deepseek-r1-distill-llama-70b" });
        const m = assertAnswer(ok(await send(base, s.token, c.id, { content: "What is 847 * 293?", thinking: true })), {
            model: "deepseek-r1-distill-llama-70b",
            provider: "groq",
        });
        assert.equal(m.thinking, "Let me multiply carefully.");
        assert.equal(m.content, "248,171");
        assert.ok(!m.content.includes("<think>") && !m.content.includes("multiply"), m.content);
        assert.equal(upstream.requests.length, 1);
        assert.equal(upstream.requests[0].body.model, "deepseek-r1-distill-llama-70b");
        // Stored the same way.
        const page = await listMessages(base, s.token, c.id);
        assert.equal(page.data[1].thinking, "Let me multiply carefully.");
        assert.equal(page.data[1].content, "248,171");
    });

    it("fallback: Groq answers 500, the fake Gemini answers → fallback_used true, provider google", async () => {
        reset((info) => (info.provider === "groq" ? { status: 500 } : { tokens: ["From", " Gemini"], usage: { input: 10, output: 2 } }));
        const c = await createConversation(base, s.token, { title: "fallback", system_prompt: "fb" });
        const m = assertAnswer(ok(await send(base, s.token, c.id, { content: "Anyone there?" })), {
            provider: "google",
            model: "gemini-1.5-flash",
            content: "From Gemini",
        });
        assert.equal(m.metadata.fallback_used, true);
        // Priced at the model that answered: 10 × 0.075 + 2 × 0.30 micro-dollars.
        assert.equal(micros(m.metadata.cost_usd), Math.round(10 * 0.075 + 2 * 0.3));
        assert.deepEqual(upstream.requests.map((r) => r.provider), ["groq", "gemini"]);
        assert.equal(upstream.requests[1].model, "gemini-1.5-flash");
        assert.equal(upstream.requests[1].body.systemInstruction.parts[0].text, "fb");
    });

    it("every provider failing → 502/503 structured error; the user message is kept with an error reply", async () => {
        reset({ status: 500 });
        const c = await createConversation(base, s.token, { title: "down", system_prompt: "down" });
        const r = await send(base, s.token, c.id, { content: "Hello?" });
        assert.ok([502, 503].includes(r.res.status), r.text);
        assertError(r, r.res.status, r.res.status === 502 ? "api_error" : "overloaded_error");
        assert.ok(!/gsk-|gemini-conversations-test/.test(r.text), "no key in the error");
        assert.deepEqual(upstream.requests.map((x) => x.provider), ["groq", "gemini"], "the fallback was tried too");

        const page = await listMessages(base, s.token, c.id);
        assert.equal(page.total, 2);
        const [user, reply] = page.data;
        assertMessage(user, { role: "user", content: "Hello?", status: "complete" });
        assertMessage(reply, { role: "assistant", status: "error", finish_reason: "error", content: "" });
        assert.equal(typeof reply.metadata.error, "string");
        assert.equal(reply.metadata.output_tokens, 0);
        assert.equal(reply.token_count, 0);
    });

    it(
        "an error reply (no model answered) is not billed: input_tokens 0, cost_usd 0, nothing in /usage/stats",
        async () => {
            reset({ status: 500 });
            const u = await register(base, uniqueEmail("unbilled"));
            const c = await createConversation(base, u.token, { title: "unbilled", model: "llama-3.1-8b-instant" });
            const r = await send(base, u.token, c.id, { content: "word ".repeat(1000) });
            assert.ok([502, 503].includes(r.res.status), r.text);
            const [, reply] = (await listMessages(base, u.token, c.id)).data;
            assert.equal(reply.status, "error");
            const stats = ok(await get(base, STATS, { token: u.token }));
            assert.deepEqual(
                {
                    input_tokens: reply.metadata.input_tokens,
                    cost_usd: reply.metadata.cost_usd,
                    total_input_tokens: stats.total_input_tokens,
                    estimated_cost_usd: stats.estimated_cost_usd,
                },
                { input_tokens: 0, cost_usd: 0, total_input_tokens: 0, estimated_cost_usd: 0 }
            );
        }
    );

    it("a failure after some tokens stores a partial answer and answers 502", async () => {
        reset({ tokens: ["Half", " an", " answer"], midStreamError: 2, errorMessage: "boom" });
        const c = await createConversation(base, s.token, { title: "partial" });
        const r = await send(base, s.token, c.id, { content: "Tell me" });
        assertError(r, 502, "api_error");
        const page = await listMessages(base, s.token, c.id);
        assert.equal(page.total, 2);
        assertMessage(page.data[1], { role: "assistant", status: "partial", content: "Half an", finish_reason: "error" });
        assert.equal(upstream.requests.length, 1, "no fallback once tokens were streamed");
    });

    it("model filter on the list; usage stats sum the exact per-message costs", async () => {
        const u = await register(base, uniqueEmail("groq-stats"));
        reset({ tokens: ["ok"], usage: { input: 123_457, output: 98_765 } });
        const a = await createConversation(base, u.token, { title: "A", model: "llama-3.1-8b-instant" });
        const b = await createConversation(base, u.token, { title: "B", model: "llama-3.3-70b-versatile" });
        const g = await createConversation(base, u.token, { title: "G", model: "gemini-1.5-pro" });
        for (const c of [a, b, g, a]) {
            ok(await send(base, u.token, c.id, { content: "price me" }));
        }
        const byModel = await get(base, `${CONVERSATIONS}?model=llama-3.3-70b-versatile`, { token: u.token });
        assert.deepEqual(ok(byModel).map((c) => c.id), [b.id]);
        const { stats } = await assertStatsMatch(base, u.token, [a.id, b.id, g.id]);
        assert.equal(stats.message_count, 8);
        assert.equal(stats.total_input_tokens, 4 * 123_457);
        assert.equal(stats.total_output_tokens, 4 * 98_765);
        const expected =
            2 * Math.round(123_457 * 0.05 + 98_765 * 0.08) +
            Math.round(123_457 * 0.59 + 98_765 * 0.79) +
            Math.round(123_457 * 1.25 + 98_765 * 5.0);
        assert.equal(micros(stats.estimated_cost_usd), expected);
        const rows = new Map(stats.by_model.map((row) => [row.model, row]));
        assert.equal(rows.get("llama-3.1-8b-instant").message_count, 2);
        assert.equal(micros(rows.get("gemini-1.5-pro").cost_usd), Math.round(123_457 * 1.25 + 98_765 * 5.0));
    });
});

// Mirrors the documented context estimate (docs/design.md): max(words, ⌈bytes / 4⌉) per text, plus
// 4 per message for framing; the budget is context_window − max_tokens − margin − system.
const CONTEXT_MARGIN = 256; // MessageOptions::context_margin_tokens
function estimateTokens(text) {
    const words = text.split(/[ \n\t\r]+/).filter(Boolean).length;
    return Math.max(words, Math.floor((Buffer.byteLength(text) + 3) / 4));
}

/** The newest messages of `history` (oldest first) that fit `budget`, whole, error replies skipped. */
function expectedContext(history, budget) {
    const picked = [];
    let used = 0;
    for (const m of [...history].reverse()) {
        if (m.status === "error" || (m.role !== "user" && m.role !== "assistant") || m.content === "") {
            continue;
        }
        const cost = estimateTokens(m.content) + 4;
        if (used + cost > budget) {
            break;
        }
        used += cost;
        picked.push({ role: m.role, content: m.content });
    }
    return picked.reverse();
}

describe("the context window of a small model (MODEL_CATALOG), Groq only, no fallback", () => {
    const WINDOW = 600;
    const MAX_OUTPUT = 100;
    let upstream;
    let server;
    let base;
    let s;
    let catalogDir;

    before(async () => {
        upstream = await startFakeUpstream({ keys: { groq: FAKE_KEYS.groq } });
        catalogDir = makeTempDir("parley-catalog-");
        const catalog = path.join(catalogDir, "catalog.json");
        writeFileSync(
            catalog,
            JSON.stringify({
                models: [
                    {
                        id: "tiny-groq",
                        provider: "groq",
                        name: "Tiny window",
                        context_window: WINDOW,
                        max_output: MAX_OUTPUT,
                        input_per_mtok: 1,
                        output_per_mtok: 2,
                        thinking: false,
                        tools: false,
                    },
                ],
            })
        );
        server = await startServer({
            env: {
                ...UNLIMITED,
                GROQ_API_KEY: FAKE_KEYS.groq,
                GROQ_BASE_URL: `${upstream.baseUrl}/openai/v1`,
                MODEL_CATALOG: catalog,
                DEFAULT_MODEL: "tiny-groq",
                FALLBACK_MODEL: "",
                LLM_MAX_RETRIES: "0",
            },
        });
        base = server.baseUrl;
        s = await register(base, uniqueEmail("context"));
    });

    after(async () => {
        try {
            await stopCleanly(server);
        } finally {
            await upstream.close();
            rmSync(catalogDir, { recursive: true, force: true });
        }
    });

    it("the catalog replaces the built-in one", async () => {
        const models = ok(await get(base, MODELS, { token: s.token }));
        assert.deepEqual(
            models.map((m) => [m.id, m.max_context_tokens, m.max_output_tokens, m.is_default, m.available]),
            [["tiny-groq", WINDOW, MAX_OUTPUT, true, true]]
        );
    });

    it("sends the system prompt first, then only the newest whole messages that fit", async () => {
        const system = "You are terse.";
        const budget = WINDOW - MAX_OUTPUT - CONTEXT_MARGIN - estimateTokens(system);
        let turn = 0;
        upstream.reset();
        upstream.setScript(() => ({ tokens: [`Reply ${turn}.`] }));
        const c = await createConversation(base, s.token, { title: "context", system_prompt: system });
        let trimmed = false;
        for (turn = 1; turn <= 7; turn += 1) {
            const words = Array.from({ length: 30 }, (_, i) => `w${turn}x${i}${"y".repeat(i % 5)}`);
            const content = `Turn ${turn}: ${words.join(" ")}`;
            const m = assertAnswer(ok(await send(base, s.token, c.id, { content })), { content: `Reply ${turn}.` });

            const history = (await listMessages(base, s.token, c.id)).data;
            assert.equal(history.length, 2 * turn);
            const sentBefore = history.slice(0, -1); // everything but this turn's reply
            const req = upstream.requests.at(-1);
            const [first, ...rest] = req.body.messages;
            assert.deepEqual(first, { role: "system", content: system }, "the system prompt is first");
            const sent = rest.map((x) => ({ role: x.role, content: x.content }));
            assert.equal(m.metadata.context_messages, sent.length, `turn ${turn}: context_messages`);
            assert.ok(sent.length >= 1);
            assert.deepEqual(sent.at(-1), { role: "user", content }, "the new message is last");
            // Whole stored messages, a contiguous run ending with the newest.
            const tail = sentBefore.slice(-sent.length).map((x) => ({ role: x.role, content: x.content }));
            assert.deepEqual(sent, tail, `turn ${turn}: a suffix of the conversation, never a cut message`);
            // Exactly the newest that fit.
            assert.deepEqual(sent, expectedContext(sentBefore, budget), `turn ${turn}`);
            const used = sent.reduce((n, x) => n + estimateTokens(x.content) + 4, 0);
            assert.ok(used + estimateTokens(system) + MAX_OUTPUT <= WINDOW, `turn ${turn}: fits the window`);
            if (sent.length < sentBefore.length) {
                trimmed = true;
            }
        }
        assert.ok(trimmed, "older messages were dropped at some point");
        assert.ok(upstream.requests.at(-1).body.messages.length < 2 * 7, "the last request was trimmed");
    });

    it("a message too big for the window alone → 422, and nothing is stored", async () => {
        upstream.reset();
        upstream.setScript({ tokens: ["ok"] });
        const c = await createConversation(base, s.token, { title: "too big" });
        const r = await send(base, s.token, c.id, { content: "z".repeat(4 * WINDOW) });
        assertError(r, 422, "invalid_request_error", { message: /context/ });
        assert.equal((await listMessages(base, s.token, c.id)).total, 0);
        assert.equal(upstream.requests.length, 0);
    });

    it("provider failure without a fallback → 503 after one attempt; user message kept, error reply stored and skipped later", async () => {
        upstream.reset();
        const c = await createConversation(base, s.token, { title: "failure", system_prompt: "sys" });
        upstream.setScript({ tokens: ["first answer"] });
        ok(await send(base, s.token, c.id, { content: "one" }));

        upstream.setScript({ status: 500 });
        const r = await send(base, s.token, c.id, { content: "two" });
        assert.ok([502, 503].includes(r.res.status), r.text);
        assertError(r, r.res.status, r.res.status === 502 ? "api_error" : "overloaded_error");
        assert.equal(upstream.requests.length, 2, "one attempt: no retries, no fallback");

        let page = await listMessages(base, s.token, c.id);
        assert.deepEqual(
            page.data.map((m) => [m.role, m.status, m.content]),
            [
                ["user", "complete", "one"],
                ["assistant", "complete", "first answer"],
                ["user", "complete", "two"],
                ["assistant", "error", ""],
            ]
        );

        upstream.setScript({ tokens: ["third answer"] });
        const m = assertAnswer(ok(await send(base, s.token, c.id, { content: "three" })));
        assert.deepEqual(
            upstream.requests.at(-1).body.messages.map((x) => [x.role, x.content]),
            [
                ["system", "sys"],
                ["user", "one"],
                ["assistant", "first answer"],
                ["user", "two"],
                ["user", "three"],
            ]
        );
        assert.equal(m.metadata.context_messages, 4);
        page = await listMessages(base, s.token, c.id);
        assert.equal(page.total, 6);
    });

    it("an upstream 400 (our request refused) → 502 api_error", async () => {
        upstream.reset();
        upstream.setScript({ status: 400, errorMessage: "bad request" });
        const c = await createConversation(base, s.token, { title: "400" });
        assertError(await send(base, s.token, c.id, { content: "x" }), 502, "api_error");
        assert.equal(upstream.requests.length, 1);
    });
});

// ---- limits ---------------------------------------------------------------------------------------

describe("the AI rate limit (RATE_LIMIT_AI=2)", () => {
    let server;
    let base;

    before(async () => {
        server = await startServer({
            env: { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "2", MOCK_TOKEN_DELAY_MS: "0" },
        });
        base = server.baseUrl;
    });

    after(async () => {
        await stopCleanly(server);
    });

    it("the third send within a minute → 429 with Retry-After; GET routes still work", async () => {
        const s = await register(base, uniqueEmail("ai-limit"));
        const c = await createConversation(base, s.token, { title: "limited" });
        for (const remaining of ["1", "0"]) {
            const r = await send(base, s.token, c.id, { content: `hello ${remaining}` });
            assertAnswer(ok(r));
            assert.equal(r.res.headers.get("x-ratelimit-limit"), "2");
            assert.equal(r.res.headers.get("x-ratelimit-remaining"), remaining);
        }
        const limited = await send(base, s.token, c.id, { content: "one too many" });
        assertError(limited, 429, "rate_limit_error");
        const retryAfter = Number(limited.res.headers.get("retry-after"));
        assert.ok(Number.isInteger(retryAfter) && retryAfter >= 1 && retryAfter <= 60, limited.res.headers.get("retry-after"));
        assert.equal(limited.res.headers.get("x-ratelimit-limit"), "2");
        assert.equal(limited.res.headers.get("x-ratelimit-remaining"), "0");

        // Reads and other writes are on the standard limit.
        assert.equal(ok(await get(base, CONVERSATIONS, { token: s.token })).length, 1);
        assert.equal((await listMessages(base, s.token, c.id)).total, 4, "the refused message was not stored");
        ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token: s.token }));
        ok(await get(base, STATS, { token: s.token }));
        ok(await get(base, MODELS, { token: s.token }));
        await createConversation(base, s.token, { title: "still allowed" });

        // The limit is per user.
        const other = await register(base, uniqueEmail("ai-limit-other"));
        const oc = await createConversation(base, other.token, {});
        assertAnswer(ok(await send(base, other.token, oc.id, { content: "my own budget" })));
    });
});

// Dates outside std::chrono::nanoseconds' range (about 1677–2262) once crashed the server: each
// case gets a server of its own, and only checks that the server survives and answers sensibly.
describe("dates the server cannot represent", () => {
    /** Runs `request(base, token)` on a fresh server; asserts the answer and that the server lives on. */
    async function survives(request, statuses) {
        const server = await startServer({ env: { ...UNLIMITED, MOCK_TOKEN_DELAY_MS: "0" } });
        try {
            const s = await register(server.baseUrl, uniqueEmail("dates"));
            const r = await request(server.baseUrl, s.token).catch((err) => ({ crashed: err }));
            assert.ok(!r.crashed, `the request failed: ${r.crashed?.cause?.code ?? r.crashed}\n${server.lines.filter((l) => !l.startsWith("{")).join("\n")}`);
            assert.ok(statuses.includes(r.res.status), `${r.res.status} ${r.text}`);
            if (r.res.status >= 400) {
                assertError(r, r.res.status, "invalid_request_error");
            }
            const health = await fetch(`${server.baseUrl}/health`);
            assert.equal(health.status, 200);
        } finally {
            await server.stop("SIGTERM").catch(() => {});
        }
    }

    it("GET /usage/stats?from=2999-01-01 → 200 or 422, not a crash", async () => {
        await survives((base, token) => get(base, `${STATS}?from=2999-01-01`, { token }), [200, 422]);
    });

    it("GET /usage/stats?to=0001-01-01T00:00:00Z → 200 or 422, not a crash", async () => {
        await survives((base, token) => get(base, `${STATS}?to=0001-01-01T00:00:00Z`, { token }), [200, 422]);
    });

    it("an API key expiring in 2999 → 422, not a crash", async () => {
        await survives(
            (base, token) => post(base, "/api/v1/api-keys", { json: { name: "k", expires_at: "2999-01-01T00:00:00Z" }, token }),
            [422]
        );
    });

    it("a forged cursor dated 2999 → 422 (or an empty page), not a crash", async () => {
        const cursor = Buffer.from(`2999-01-01T00:00:00.000Z|${randomUUID()}`).toString("base64url");
        await survives((base, token) => get(base, `${CONVERSATIONS}?limit=5&cursor=${cursor}`, { token }), [200, 422]);
    });
});

describe("MAX_MESSAGE_CHARS=50 counts characters, not bytes", () => {
    let server;
    let base;

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, MAX_MESSAGE_CHARS: "50", MOCK_TOKEN_DELAY_MS: "0" } });
        base = server.baseUrl;
    });

    after(async () => {
        await stopCleanly(server);
    });

    it("50 characters are accepted, 51 → 422 (ASCII and multi-byte)", async () => {
        const s = await register(base, uniqueEmail("chars"));
        const c = await createConversation(base, s.token, { title: "chars" });
        for (const ch of ["a", "é", "€", "😀"]) {
            assertAnswer(ok(await send(base, s.token, c.id, { content: ch.repeat(50) })));
            assertError(await send(base, s.token, c.id, { content: ch.repeat(51) }), 422, "invalid_request_error", {
                message: /50/,
            });
        }
        assert.equal((await listMessages(base, s.token, c.id)).total, 8);
    });
});
