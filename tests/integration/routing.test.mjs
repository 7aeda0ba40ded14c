// Routing strategies (seed 004, issue 12) applied to real turns: what the model is asked (system
// prompt addition, max_tokens, temperature — read from the fake upstream's request log), what is
// recorded (metadata.routing on the answer, a `routing` event in the session log), the `routing`
// setting on create and PATCH, and the seed session path that routes by default.
//
//   node --test tests/integration/routing.test.mjs
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { assertError, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { startServer } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ openai: "sk-routing-openai" });
const MODEL = "gpt-4o-mini"; // max_output 16384: no hint is clamped

// The paragraphs of src/sessions/routing.cpp's system_prompt_addition, by their first words.
const ADDITION = {
    FAST_CONCISE: "Answer briefly and directly",
    SUMMARIZATION_AWARE: "This conversation is long.",
    ANALYTICAL: "The user asks for analysis.",
    TOOL_HEAVY: "Tools have been used several times",
};

const isTitleRequest = (r) => JSON.stringify(r.body ?? {}).includes("You name conversations");
const isSummaryRequest = (r) => JSON.stringify(r.body ?? {}).includes("You summarise conversations");

describe("routing strategies on real turns (fake OpenAI upstream)", () => {
    let upstream;
    let server;
    let base;
    let token;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        server = await startServer({
            env: {
                ...UNLIMITED,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                DEFAULT_MODEL: MODEL,
                FALLBACK_MODEL: "",
            },
        });
        base = server.baseUrl;
        const r = await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("route"), password: "SecurePass123" } });
        assert.equal(r.res.status, 201, r.text);
        token = r.body.data.access_token;
    });

    after(async () => {
        try {
            if (server) {
                const result = await server.stop("SIGTERM");
                assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), [], server.lines.join("\n"));
                assert.deepEqual(result, { code: 0, signal: null }, server.lines.slice(-40).join("\n"));
            }
        } finally {
            await upstream?.close();
        }
    });

    async function conversation(json) {
        const r = await post(base, "/api/v1/conversations", { json: { title: "routing", model: MODEL, ...json }, token });
        assert.equal(r.res.status, 201, r.text);
        return r.body.data;
    }

    /** Sends `content` and returns { reply, request }: the stored answer and the upstream request that produced it. */
    async function send(id, content, extra = {}) {
        const before = upstream.requests.length;
        const r = await post(base, `/api/v1/conversations/${id}/messages`, { json: { content, ...extra }, token });
        assert.equal(r.res.status, 200, r.text);
        const asked = upstream.requests.slice(before).filter((q) => !isTitleRequest(q) && !isSummaryRequest(q));
        assert.equal(asked.length, 1, JSON.stringify(asked.map((q) => q.body)));
        return { reply: r.body.data, request: asked[0].body };
    }

    const systemOf = (body) => body.messages.find((m) => m.role === "system")?.content ?? "";

    it("off by default: the conversation's own system prompt, the default max_tokens, no metadata.routing", async () => {
        const c = await conversation({ system_prompt: "You are terse." });
        assert.equal(c.settings.routing, undefined);
        const { reply, request } = await send(c.id, "Explain why the sky is blue");
        assert.equal(systemOf(request), "You are terse.");
        assert.equal(request.max_tokens, 1024);
        assert.equal(request.temperature, undefined);
        assert.equal(reply.metadata.routing, undefined);
    });

    it("routing: true — FAST_CONCISE by default; ANALYTICAL on a whole word; 'show' is not 'how'", async () => {
        const c = await conversation({ system_prompt: "You are kind.", routing: true });
        assert.equal(c.settings.routing, true);

        const first = await send(c.id, "Show me the numbers");
        assert.equal(first.reply.metadata.routing.strategy, "FAST_CONCISE");
        assert.equal(first.reply.metadata.routing.verbosity, "concise");
        assert.ok(systemOf(first.request).startsWith(`You are kind.\n\n${ADDITION.FAST_CONCISE}`), systemOf(first.request));
        assert.equal(first.request.max_tokens, 512);
        assert.equal(first.request.temperature, 0.3);

        const second = await send(c.id, "Can you explain why the sky is blue?");
        assert.equal(second.reply.metadata.routing.strategy, "ANALYTICAL");
        assert.equal(second.reply.metadata.routing.verbosity, "detailed");
        assert.ok(second.reply.metadata.routing.reasons.some((r) => /explain/.test(r)), JSON.stringify(second.reply.metadata.routing));
        assert.ok(systemOf(second.request).includes(ADDITION.ANALYTICAL));
        assert.ok(!systemOf(second.request).includes(ADDITION.FAST_CONCISE));
        assert.equal(second.request.max_tokens, 2048);
        assert.equal(second.request.temperature, 0.7);

        // The decision is on the stored message, as GET …/conversations/{id} shows it.
        const shown = await get(base, `/api/v1/conversations/${c.id}`, { token });
        const answers = shown.body.data.messages.filter((m) => m.role === "assistant");
        assert.deepEqual(answers.map((m) => m.metadata.routing.strategy), ["FAST_CONCISE", "ANALYTICAL"]);
    });

    it("the message's and the conversation's own settings win over the strategy's hints", async () => {
        const c = await conversation({ routing: true, max_tokens: 100 });
        const { request } = await send(c.id, "hello", { temperature: 1.5 });
        assert.equal(request.max_tokens, 100);
        assert.equal(request.temperature, 1.5);
        assert.ok(systemOf(request).startsWith(ADDITION.FAST_CONCISE), systemOf(request));
    });

    it("more than 10 user messages → SUMMARIZATION_AWARE (the 11th), counted across turns", async () => {
        const c = await conversation({ routing: true });
        let last;
        for (let i = 1; i <= 11; i++) {
            last = await send(c.id, `note ${i}`);
            const expected = i > 10 ? "SUMMARIZATION_AWARE" : "FAST_CONCISE";
            assert.equal(last.reply.metadata.routing.strategy, expected, `message ${i}`);
        }
        assert.ok(systemOf(last.request).includes(ADDITION.SUMMARIZATION_AWARE));
        assert.equal(last.request.max_tokens, 1024);
    });

    it("PATCH routing turns it on and off; a non-boolean is a 422 on create and PATCH", async () => {
        const c = await conversation({});
        let r = await patch(base, `/api/v1/conversations/${c.id}`, { json: { routing: true }, token });
        assert.equal(r.res.status, 200, r.text);
        assert.equal(r.body.data.settings.routing, true);
        assert.equal((await send(c.id, "hi")).reply.metadata.routing.strategy, "FAST_CONCISE");
        r = await patch(base, `/api/v1/conversations/${c.id}`, { json: { routing: false }, token });
        assert.equal(r.body.data.settings.routing, false);
        const off = await send(c.id, "hi again");
        assert.equal(off.reply.metadata.routing, undefined);
        assert.ok(!systemOf(off.request).includes(ADDITION.FAST_CONCISE));

        assertError(await patch(base, `/api/v1/conversations/${c.id}`, { json: { routing: "yes" }, token }), 422, "invalid_request_error");
        assertError(await post(base, "/api/v1/conversations", { json: { routing: 1 }, token }), 422, "invalid_request_error");
    });

    it("the seed session path routes by default; the decision is a `routing` session event", async () => {
        const session = `route-${Date.now()}`;
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/session/${session}`, { headers: { Authorization: `Bearer ${token}` } });
        const frames = [];
        ws.on("message", (d) => frames.push(JSON.parse(String(d))));
        await new Promise((resolve, reject) => {
            ws.once("open", resolve);
            ws.once("error", reject);
        });
        ws.send(JSON.stringify({ message: "How does a compiler compare to an interpreter?" }));
        await waitFor(() => frames.some((f) => f.type === "done" || f.type === "error"), 10_000);
        assert.ok(frames.some((f) => f.type === "done"), JSON.stringify(frames));
        ws.close();
        await new Promise((resolve) => ws.once("close", resolve));

        const asked = upstream.requests.filter((q) => !isTitleRequest(q) && !isSummaryRequest(q)).at(-1).body;
        assert.ok(systemOf(asked).includes(ADDITION.ANALYTICAL), systemOf(asked));
        const list = await get(base, "/api/v1/conversations?per_page=100", { token });
        assert.equal(list.res.status, 200, list.text);
        const c = list.body.data.find((x) => x.metadata?.session_key === session);
        assert.ok(c, JSON.stringify(list.body.data));
        assert.equal(c.settings.routing, true);
        const events = await get(base, `/api/v1/conversations/${c.id}/session-events?limit=1000`, { token });
        assert.equal(events.res.status, 200, events.text);
        const routing = events.body.data.filter((e) => e.type === "routing");
        assert.equal(routing.length, 1, JSON.stringify(events.body.data));
        const decision = typeof routing[0].content === "string" ? JSON.parse(routing[0].content) : routing[0].content;
        assert.equal(decision.strategy, "ANALYTICAL");
    });
});
