// Integration tests of Parley's streaming routes against the real binary and the scripted fake LLM
// upstream (tests/support/fake_upstream.mjs): POST /conversations/{id}/messages/stream in the
// default Anthropic Messages format and in ?format=openai (event order, names, content, ids, the
// stored message), thinking, a client that leaves mid-answer (the upstream request is cancelled,
// the answer is stored partial), an upstream that breaks mid-stream, fallback before the first
// token, every provider down (a JSON 503, not a stream), auth, ownership and validation errors,
// pings and heartbeats, the GET /conversations/{id}/events feed, and SIGTERM during a stream.
//
//   node --test tests/integration/streaming.test.mjs
//
// Wire contract: /work/shared/reference/wire-formats.md §1, §2, §5 and seed-api.md (Messages).

import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { rmSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import { assertError, del, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { connect, makeTempDir, startServer, waitUntil, watchSocket } from "../support/server.mjs";
import { SseReader, bodyErrorText, describe as describeEvents } from "../support/sse.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = "SecurePass123";
const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };

// Distinct keys per provider, so a key sent to the wrong provider is caught.
const KEYS = Object.freeze({
    openai: "sk-streaming-openai",
    anthropic: "sk-ant-streaming",
    gemini: "gemini-streaming-key",
});

const CLAUDE = "claude-sonnet-4-5"; // anthropic, thinking: true in the catalog
const GPT = "gpt-4o-mini"; // openai
const GEMINI_THINKING = "gemini-2.5-flash"; // google, thinking: true
const GEMINI_FALLBACK = "gemini-1.5-flash"; // google

const TITLE_TOKENS = ["Streaming", " Title"];

function providerEnv(upstream) {
    return {
        ANTHROPIC_API_KEY: KEYS.anthropic,
        ANTHROPIC_BASE_URL: upstream.baseUrl,
        OPENAI_API_KEY: KEYS.openai,
        OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
        GOOGLE_AI_API_KEY: KEYS.gemini,
        GEMINI_BASE_URL: upstream.baseUrl,
        DEFAULT_MODEL: CLAUDE,
        FALLBACK_MODEL: GEMINI_FALLBACK,
        LLM_MAX_RETRIES: "0",
    };
}

// ---- helpers -------------------------------------------------------------------------------------

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.slice(-40).join("\n")}`);
}

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    assert.equal(r.body.status, "success", r.text.slice(0, 500));
    return r.body.data;
}

async function register(base, tag = "stream") {
    const data = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: PASSWORD } }), 201);
    return { token: data.access_token, user: data.user };
}

async function createConversation(base, token, json = {}) {
    return ok(await post(base, CONVERSATIONS, { json, token }), 201);
}

async function listMessages(base, token, id) {
    return ok(await get(base, `${CONVERSATIONS}/${id}/messages?per_page=100`, { token }));
}

/** Polls the conversation's messages until `count` are stored; resolves them (oldest first). */
async function waitForMessages(base, token, id, count, timeoutMs = 5_000) {
    let last = [];
    await waitFor(async () => {
        last = await listMessages(base, token, id);
        return last.length >= count;
    }, timeoutMs).catch(() => assert.fail(`expected ${count} stored messages within ${timeoutMs} ms, got ${JSON.stringify(last)}`));
    assert.equal(last.length, count, JSON.stringify(last));
    return last;
}

const streamPath = (id, format) => `${CONVERSATIONS}/${id}/messages/stream${format ? `?format=${format}` : ""}`;

/**
 * POST …/messages/stream. Resolves `{ res, sse, abort }` for a 200, else `{ res, body, text }`
 * (the JSON error). `sse` is an SseReader over the body.
 */
async function openStream(base, token, id, json, { format, headers = {} } = {}) {
    const ac = new AbortController();
    const h = { "content-type": "application/json", ...headers };
    if (token !== undefined) {
        h.authorization = `Bearer ${token}`;
    }
    const res = await fetch(`${base}${streamPath(id, format)}`, {
        method: "POST",
        headers: h,
        body: JSON.stringify(json),
        signal: ac.signal,
    });
    return readStreamOrError(res, ac);
}

/** An SSE response as `{ res, sse, abort }`, or an error response as `{ res, body, text }`. */
async function readStreamOrError(res, ac) {
    if (res.status !== 200) {
        const text = await res.text();
        let body;
        try {
            body = JSON.parse(text);
        } catch {
            body = undefined;
        }
        return { res, body, text };
    }
    return { res, sse: new SseReader(res), abort: () => ac.abort() };
}

/** GET …/events with a Bearer header (or `query`/`headers` as given). Resolves `{ res, sse, abort }`. */
async function openEvents(base, id, { token, query = "", headers = {} } = {}) {
    const ac = new AbortController();
    const h = { ...headers };
    if (token !== undefined) {
        h.authorization = `Bearer ${token}`;
    }
    const res = await fetch(`${base}${CONVERSATIONS}/${id}/events${query}`, { headers: h, signal: ac.signal });
    return readStreamOrError(res, ac);
}

/** Sends a WebSocket upgrade request for `target`; resolves the response's status code. */
async function upgradeStatus(port, target) {
    const socket = await connect(port);
    try {
        const watch = watchSocket(socket);
        const key = randomBytes(16).toString("base64");
        socket.write(
            `GET ${target} HTTP/1.1\r\nHost: 127.0.0.1\r\nConnection: Upgrade\r\nUpgrade: websocket\r\n` +
                `Sec-WebSocket-Version: 13\r\nSec-WebSocket-Key: ${key}\r\n\r\n`
        );
        const line = await waitUntil(() => /^HTTP\/1\.1 (\d{3})/.exec(watch.data()) ?? (watch.isClosed() ? "closed" : undefined), {
            timeoutMs: 3_000,
            what: "the upgrade response's status line",
        });
        assert.notEqual(line, "closed", `no response to the upgrade of ${target}`);
        return Number(line[1]);
    } finally {
        socket.destroy();
    }
}

function assertStreamHeaders(res) {
    assert.equal(res.status, 200);
    assert.equal(res.headers.get("content-type"), "text/event-stream; charset=utf-8");
    assert.equal(res.headers.get("cache-control"), "no-cache");
    assert.equal(res.headers.get("x-accel-buffering"), "no");
    assert.equal(res.headers.get("transfer-encoding"), "chunked");
}

/** The body ended with the chunked terminator (fetch reports a body cut short as an error). */
function assertCleanEnd(sse, what = "the stream") {
    if (sse.bodyError !== undefined) {
        assert.fail(`${what}: the response body broke off instead of ending (no last chunk): ${bodyErrorText(sse)}`);
    }
}

/** Every Anthropic event has an `event:` line equal to data.type, and JSON data. */
function assertAnthropicFraming(events) {
    for (const e of events) {
        assert.ok(e.event, `event without an event: line: ${e.raw}`);
        assert.ok(e.json && typeof e.json === "object", `data is not a JSON object: ${e.raw}`);
        assert.equal(e.json.type, e.event, `event name ${e.event} != data.type ${e.json.type}`);
    }
}

const nonPing = (events) => events.filter((e) => e.event !== "ping");
const textOf = (events) =>
    events
        .filter((e) => e.event === "content_block_delta" && e.json.delta.type === "text_delta")
        .map((e) => e.json.delta.text)
        .join("");
const thinkingOf = (events) =>
    events
        .filter((e) => e.event === "content_block_delta" && e.json.delta.type === "thinking_delta")
        .map((e) => e.json.delta.thinking)
        .join("");

/** The `data:` payloads of an OpenAI-format stream (strings; "[DONE]" included). */
function openAiPayloads(events) {
    for (const e of events) {
        assert.equal(e.event, undefined, `OpenAI format with an event: line: ${e.raw}`);
        assert.notEqual(e.data, undefined, `OpenAI format block without data: ${e.raw}`);
    }
    return events.map((e) => e.data);
}

const isTitleRequest = (info) => JSON.stringify(info.body ?? {}).includes("You name conversations");

// ---- the tests -------------------------------------------------------------------------------------

describe("POST /conversations/{id}/messages/stream and GET /events (fake upstream)", () => {
    let upstream;
    let server;
    let base;
    let alice;
    let bob;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        server = await startServer({ env: { ...UNLIMITED, ...providerEnv(upstream) } });
        base = server.baseUrl;
        alice = await register(base, "alice");
        bob = await register(base, "bob");
    });

    after(async () => {
        try {
            if (server) {
                await stopCleanly(server);
            }
        } finally {
            await upstream?.close();
        }
    });

    /** Resets the fake's logs; title requests get TITLE_TOKENS, the rest `main` (object or fn). */
    const script = (main) => {
        upstream.reset();
        upstream.setScript((info) => {
            if (isTitleRequest(info)) {
                return { tokens: TITLE_TOKENS };
            }
            return typeof main === "function" ? main(info) : main;
        });
    };
    const chatRequests = () => upstream.requests.filter((r) => !isTitleRequest(r));
    const chatDisconnects = () => upstream.disconnects;

    it("Anthropic format: exact event order and fields; the text and ids are the stored message's", async () => {
        const tokens = ["Hello", " there", ",", " friend."];
        script({ tokens, usage: { input: 12, output: 7 } });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "anthropic format" });
        const s = await openStream(base, alice.token, c.id, { content: "Say hello" });
        assertStreamHeaders(s.res);
        const events = await s.sse.rest();
        assertAnthropicFraming(events);
        const seq = nonPing(events);
        assert.deepEqual(
            seq.map((e) => e.event),
            [
                "message_start", "content_block_start",
                ...tokens.map(() => "content_block_delta"),
                "content_block_stop", "message_delta", "message_stop",
            ],
            describeEvents(events)
        );
        const start = seq[0].json.message;
        assert.match(start.id, UUID);
        assert.equal(start.type, "message");
        assert.equal(start.role, "assistant");
        assert.deepEqual(start.content, []);
        assert.equal(start.model, CLAUDE);
        assert.equal(start.stop_reason, null);
        assert.equal(start.stop_sequence, null);
        assert.ok(Number.isInteger(start.usage.input_tokens) && start.usage.input_tokens >= 0, JSON.stringify(start));
        assert.equal(start.usage.output_tokens, 0);
        assert.equal(start.parley.conversation_id, c.id);
        assert.equal(start.parley.message_id, start.id);
        assert.match(start.parley.user_message_id, UUID);

        assert.deepEqual(seq[1].json, { type: "content_block_start", index: 0, content_block: { type: "text", text: "" } });
        tokens.forEach((t, i) => {
            assert.deepEqual(seq[2 + i].json, { type: "content_block_delta", index: 0, delta: { type: "text_delta", text: t } });
        });
        assert.deepEqual(seq[2 + tokens.length].json, { type: "content_block_stop", index: 0 });
        const delta = seq.at(-2).json;
        assert.equal(delta.delta.stop_reason, "end_turn");
        assert.equal(delta.usage.output_tokens, 7);
        assert.equal(delta.parley.message_id, start.id);
        assert.equal(delta.parley.status, "complete");
        assert.deepEqual(seq.at(-1).json, { type: "message_stop" });

        const [user, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(user.role, "user");
        assert.equal(user.content, "Say hello");
        assert.equal(user.id, start.parley.user_message_id);
        assert.equal(answer.role, "assistant");
        assert.equal(answer.id, start.id);
        assert.equal(answer.content, tokens.join(""));
        assert.equal(answer.content, textOf(events));
        assert.equal(answer.status, "complete");
        assert.equal(answer.finish_reason, "stop");
        assert.equal(answer.model, CLAUDE);
        assert.equal(answer.provider, "anthropic");
        assert.equal(answer.token_count, 7);
        assert.equal(answer.metadata.input_tokens, 12);
        assert.equal(delta.parley.cost_usd, answer.metadata.cost_usd);
        assert.ok(answer.metadata.cost_usd > 0, JSON.stringify(answer));
        assert.equal(delta.parley.latency_ms, answer.latency_ms);

        const [req] = chatRequests();
        assert.equal(req.provider, "anthropic");
        assert.equal(req.model, CLAUDE);
        assert.equal(req.stream, true);
        assert.equal(req.headers["x-api-key"], KEYS.anthropic);
        assert.equal(req.body.messages.at(-1).content, "Say hello");
        assertCleanEnd(s.sse);
    });

    it("a finished stream ends its chunked body with the last chunk and keeps the connection for the next request", async () => {
        script({ tokens: ["Kept", " alive"] });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "keep-alive" });
        const socket = await connect(server.port);
        try {
            const watch = watchSocket(socket);
            const body = JSON.stringify({ content: "Keep the connection" });
            socket.write(
                `POST ${streamPath(c.id)} HTTP/1.1\r\nHost: 127.0.0.1\r\nAuthorization: Bearer ${alice.token}\r\n` +
                    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
            );
            await waitUntil(() => watch.data().includes("event: message_stop") || watch.isClosed(), {
                timeoutMs: 5_000,
                what: "message_stop",
            });
            assert.match(watch.data(), /^HTTP\/1\.1 200 /);
            assert.match(watch.data(), /\r\ntransfer-encoding: chunked\r\n/i);
            await waitUntil(() => watch.data().endsWith("\r\n0\r\n\r\n") || watch.isClosed(), {
                timeoutMs: 3_000,
                what: "the last chunk or a close",
            });
            assert.ok(
                watch.data().endsWith("data: {\"type\":\"message_stop\"}\n\n\r\n0\r\n\r\n"),
                `the body does not end with the last chunk (0\\r\\n\\r\\n); it ends with ${JSON.stringify(watch.data().slice(-80))}` +
                    `${watch.isClosed() ? " and the server closed the connection" : ""}`
            );
            const before = watch.data().length;
            socket.write("GET /health HTTP/1.1\r\nHost: 127.0.0.1\r\n\r\n");
            await waitUntil(() => /\r\n\r\n/.test(watch.data().slice(before)) || watch.isClosed(), {
                timeoutMs: 3_000,
                what: "the second response",
            });
            assert.match(watch.data().slice(before), /^HTTP\/1\.1 200 /, "the connection serves a second request");
        } finally {
            socket.destroy();
        }
    });

    it("Anthropic format with thinking: a thinking block (index 0) before the text block (index 1)", async () => {
        const thinking = ["Let me", " think", " it over."];
        const tokens = ["The answer", " is 42."];
        script({ thinking, tokens });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "thinking" });
        const s = await openStream(base, alice.token, c.id, { content: "Think first", thinking: true });
        assertStreamHeaders(s.res);
        const events = await s.sse.rest();
        assertAnthropicFraming(events);
        const seq = nonPing(events);
        const thinkingDeltas = seq.filter((e) => e.json.delta?.type === "thinking_delta");
        const textDeltas = seq.filter((e) => e.json.delta?.type === "text_delta");
        assert.deepEqual(
            seq.map((e) => e.event),
            [
                "message_start",
                "content_block_start", ...thinking.map(() => "content_block_delta"), "content_block_stop",
                "content_block_start", ...tokens.map(() => "content_block_delta"), "content_block_stop",
                "message_delta", "message_stop",
            ],
            describeEvents(events)
        );
        assert.deepEqual(seq[1].json, {
            type: "content_block_start",
            index: 0,
            content_block: { type: "thinking", thinking: "", signature: "" },
        });
        assert.deepEqual(thinkingDeltas.map((e) => [e.json.index, e.json.delta.thinking]), thinking.map((t) => [0, t]));
        assert.deepEqual(seq[2 + thinking.length].json, { type: "content_block_stop", index: 0 });
        assert.deepEqual(seq[3 + thinking.length].json, {
            type: "content_block_start",
            index: 1,
            content_block: { type: "text", text: "" },
        });
        assert.deepEqual(textDeltas.map((e) => [e.json.index, e.json.delta.text]), tokens.map((t) => [1, t]));
        assert.deepEqual(seq.at(-3).json, { type: "content_block_stop", index: 1 });

        const [, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(answer.id, seq[0].json.message.id);
        assert.equal(answer.content, tokens.join(""));
        assert.equal(answer.thinking, thinking.join(""));
        assert.equal(thinkingOf(events), answer.thinking);
        const [req] = chatRequests();
        assert.ok(["enabled", "adaptive"].includes(req.body.thinking?.type), JSON.stringify(req.body));
        assertCleanEnd(s.sse);
    });

    it("?format=openai: role chunk first, content deltas, one finish_reason, a usage chunk, [DONE]", async () => {
        const tokens = ["Open", "AI", " style", "."];
        script({ tokens, usage: { input: 9, output: 4 } });
        const c = await createConversation(base, alice.token, { model: GPT, title: "openai format" });
        const s = await openStream(base, alice.token, c.id, { content: "OpenAI please" }, { format: "openai" });
        assertStreamHeaders(s.res);
        const events = await s.sse.rest();
        const payloads = openAiPayloads(events);
        assert.equal(payloads.at(-1), "[DONE]", describeEvents(events));
        assert.equal(payloads.filter((p) => p === "[DONE]").length, 1);
        const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
        const [answerMessage] = (await waitForMessages(base, alice.token, c.id, 2)).slice(1);
        for (const ch of chunks) {
            assert.equal(ch.object, "chat.completion.chunk", JSON.stringify(ch));
            assert.equal(ch.id, `chatcmpl-${answerMessage.id}`);
            assert.equal(ch.created, chunks[0].created);
            assert.ok(Number.isInteger(ch.created) && ch.created > 1_600_000_000, JSON.stringify(ch));
            assert.equal(typeof ch.model, "string");
            assert.equal(ch.error, undefined);
        }
        assert.deepEqual(chunks[0].choices.map((x) => [x.index, x.delta.role]), [[0, "assistant"]], JSON.stringify(chunks[0]));
        const withChoices = chunks.filter((ch) => ch.choices.length > 0);
        const finishes = withChoices.filter((ch) => ch.choices[0].finish_reason !== null);
        assert.equal(finishes.length, 1, JSON.stringify(chunks));
        assert.equal(finishes[0].choices[0].finish_reason, "stop");
        const usageChunk = chunks.at(-1);
        assert.deepEqual(usageChunk.choices, [], "the last chunk before [DONE] is the usage chunk");
        assert.equal(usageChunk.usage.prompt_tokens, 9);
        assert.equal(usageChunk.usage.completion_tokens, 4);
        assert.equal(usageChunk.usage.total_tokens, 13);
        assert.ok(chunks.indexOf(finishes[0]) < chunks.length - 1, "finish_reason before the usage chunk");
        const content = withChoices.map((ch) => ch.choices[0].delta.content ?? "").join("");
        assert.equal(content, tokens.join(""));
        assert.equal(answerMessage.content, content);
        assert.equal(answerMessage.status, "complete");
        assert.equal(answerMessage.provider, "openai");
        assert.equal(answerMessage.model, GPT);
        assertCleanEnd(s.sse);
    });

    it("?format=openai with a Gemini thinking model: thinking arrives as delta.reasoning", async () => {
        const thinking = ["Pondering", " deeply."];
        const tokens = ["Done", " thinking."];
        script({ thinking, tokens });
        const c = await createConversation(base, alice.token, { model: GEMINI_THINKING, title: "gemini thinking" });
        const s = await openStream(base, alice.token, c.id, { content: "Reason about it", thinking: true }, { format: "openai" });
        assertStreamHeaders(s.res);
        const payloads = openAiPayloads(await s.sse.rest());
        assert.equal(payloads.at(-1), "[DONE]");
        const chunks = payloads.slice(0, -1).map((p) => JSON.parse(p));
        const deltas = chunks.filter((ch) => ch.choices.length > 0).map((ch) => ch.choices[0].delta);
        assert.equal(deltas[0].role, "assistant");
        const reasoning = deltas.map((d) => d.reasoning ?? "").join("");
        const content = deltas.map((d) => d.content ?? "").join("");
        assert.equal(reasoning, thinking.join(""));
        assert.equal(content, tokens.join(""));
        const lastReasoning = deltas.findLastIndex((d) => d.reasoning);
        const firstContent = deltas.findIndex((d) => d.content);
        assert.ok(lastReasoning < firstContent, "reasoning before content");
        const [, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(answer.content, content);
        assert.equal(answer.thinking, reasoning);
        assert.equal(answer.provider, "google");
        const [req] = chatRequests();
        assert.equal(req.provider, "gemini");
        assert.equal(req.body.generationConfig?.thinkingConfig?.includeThoughts, true, JSON.stringify(req.body));
        assertCleanEnd(s.sse);
    });

    it("a client that leaves after N tokens: the upstream request is cancelled; the answer is stored partial", async () => {
        const tokens = ["One", " two", " three", " four", " five", " six"];
        script({ tokens, stallAfterTokens: 3 });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "leaving" });
        const s = await openStream(base, alice.token, c.id, { content: "Count" });
        assertStreamHeaders(s.res);
        let received = "";
        let deltas = 0;
        const start = await s.sse.until((e) => e.event === "message_start");
        while (deltas < 3) {
            const e = await s.sse.until((x) => x.event === "content_block_delta");
            received += e.json.delta.text;
            deltas += 1;
        }
        assert.equal(received, "One two three");
        const abortedAt = Date.now();
        s.abort();
        await waitFor(() => chatDisconnects().length > 0, 3_000).catch(() =>
            assert.fail(`the fake upstream saw no disconnect within 3 s; requests: ${upstream.requests.length}`)
        );
        const [gone] = chatDisconnects();
        assert.equal(gone.provider, "anthropic");
        assert.equal(gone.tokensSent, 3);
        assert.ok(gone.at - abortedAt < 3_000);

        const [, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(answer.id, start.json.message.id);
        assert.equal(answer.status, "partial");
        assert.equal(answer.content, received);
        assert.equal(answer.finish_reason, "cancelled");
        assert.equal(answer.metadata.cancelled_by, "client");
    });

    it("a client that leaves before the first token: the upstream request is cancelled; the turn is stored cancelled", async () => {
        // The handler waits for the first event with no response started: the session's watch of
        // the connection (http::Request::watch_close) is what tells it the client left.
        script({ tokens: ["Never", " sent"], stallAfterTokens: 0 });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "leaving early" });
        const ac = new AbortController();
        const pending = fetch(`${base}${streamPath(c.id)}`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
            body: JSON.stringify({ content: "Wait for it" }),
            signal: ac.signal,
        }).then(
            (res) => assert.fail(`a response (${res.status}) although the client left`),
            (e) => e
        );
        await waitFor(() => chatRequests().length > 0, 3_000).catch(() =>
            assert.fail("the fake upstream got no request within 3 s")
        );
        const abortedAt = Date.now();
        ac.abort();
        assert.equal((await pending).name, "AbortError");
        await waitFor(() => chatDisconnects().length > 0, 3_000).catch(() =>
            assert.fail(`the fake upstream saw no disconnect within 3 s; requests: ${upstream.requests.length}`)
        );
        const [gone] = chatDisconnects();
        assert.equal(gone.provider, "anthropic");
        assert.equal(gone.tokensSent, 0);
        assert.ok(gone.at - abortedAt < 3_000);

        const [question, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(question.content, "Wait for it");
        assert.equal(answer.role, "assistant");
        assert.equal(answer.content, "");
        assert.equal(answer.finish_reason, "cancelled");
        assert.equal(answer.metadata.cancelled_by, "client");
    });

    it("the upstream sends an error mid-stream: `error` is the last event; the answer is stored partial", async () => {
        script({ tokens: ["Half", " an", " answer", " lost"], midStreamError: 2, errorMessage: "Overloaded" });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "mid error" });
        const s = await openStream(base, alice.token, c.id, { content: "Break please" });
        assertStreamHeaders(s.res);
        const events = await s.sse.rest();
        assertAnthropicFraming(events);
        const seq = nonPing(events);
        assert.equal(seq[0].event, "message_start");
        const last = seq.at(-1);
        assert.equal(last.event, "error", describeEvents(events));
        assert.equal(last.json.type, "error");
        assert.equal(typeof last.json.error?.type, "string");
        assert.ok(last.json.error.type.length > 0);
        assert.equal(typeof last.json.error.message, "string");
        assert.ok(!seq.some((e) => e.event === "message_stop" || e.event === "message_delta"), describeEvents(events));
        assert.equal(seq.filter((e) => e.event === "error").length, 1);
        assert.equal(textOf(events), "Half an");
        const [, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(answer.id, seq[0].json.message.id);
        assert.equal(answer.status, "partial");
        assert.equal(answer.content, "Half an");
        assert.equal(last.json.parley?.message_id, answer.id);
        assertCleanEnd(s.sse);
    });

    it("?format=openai, the upstream connection drops mid-stream: a data {error} last, no [DONE]; stored partial", async () => {
        script({ tokens: ["Cut", " off", " here", " never"], disconnectAfterTokens: 2 });
        const c = await createConversation(base, alice.token, { model: GPT, title: "drop" });
        const s = await openStream(base, alice.token, c.id, { content: "Drop please" }, { format: "openai" });
        assertStreamHeaders(s.res);
        const payloads = openAiPayloads(await s.sse.rest());
        assert.ok(!payloads.includes("[DONE]"), JSON.stringify(payloads));
        const chunks = payloads.map((p) => JSON.parse(p));
        const last = chunks.at(-1);
        assert.equal(typeof last.error?.message, "string", JSON.stringify(last));
        assert.equal(typeof last.error.type, "string");
        assert.ok("code" in last.error, JSON.stringify(last));
        assert.equal(chunks.filter((ch) => ch.error).length, 1);
        const content = chunks
            .filter((ch) => Array.isArray(ch.choices) && ch.choices.length > 0)
            .map((ch) => ch.choices[0].delta.content ?? "")
            .join("");
        assert.equal(content, "Cut off");
        const [, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(answer.status, "partial");
        assert.equal(answer.content, "Cut off");
        assertCleanEnd(s.sse);
    });

    it("fallback before the first token is invisible: a normal stream; the stored model is the fallback", async () => {
        const tokens = ["From", " Gemini"];
        script((info) => (info.provider === "anthropic" ? { status: 503 } : { tokens }));
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "fallback" });
        const s = await openStream(base, alice.token, c.id, { content: "Fall back" });
        assertStreamHeaders(s.res);
        const events = await s.sse.rest();
        assertAnthropicFraming(events);
        const seq = nonPing(events);
        assert.deepEqual(
            seq.map((e) => e.event),
            ["message_start", "content_block_start", "content_block_delta", "content_block_delta", "content_block_stop", "message_delta", "message_stop"],
            describeEvents(events)
        );
        assert.equal(textOf(events), tokens.join(""));
        assert.equal(seq.at(-2).json.delta.stop_reason, "end_turn");
        const [, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(answer.id, seq[0].json.message.id);
        assert.equal(answer.content, tokens.join(""));
        assert.equal(answer.status, "complete");
        assert.equal(answer.model, GEMINI_FALLBACK);
        assert.equal(answer.provider, "google");
        assert.equal(answer.metadata.fallback_used, true);
        assert.deepEqual(chatRequests().map((r) => r.provider), ["anthropic", "gemini"]);
        assertCleanEnd(s.sse);
    });

    it("every provider down before the first token: a JSON 503, not a stream", async () => {
        script({ status: 503 });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "all down" });
        const r = await openStream(base, alice.token, c.id, { content: "Anyone?" });
        assert.equal(r.sse, undefined, "no stream");
        assertError(r, 503, "overloaded_error");
        assert.deepEqual(chatRequests().map((x) => x.provider), ["anthropic", "gemini"]);
        const [user, answer] = await waitForMessages(base, alice.token, c.id, 2);
        assert.equal(user.content, "Anyone?");
        assert.equal(answer.status, "error");
    });

    it("errors before the stream are JSON: 401 without a token, 403 another user's, 404, 422, 400 bad format", async () => {
        script({ tokens: ["never"] });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "private" });
        assertError(await openStream(base, undefined, c.id, { content: "hi" }), 401, "authentication_error");
        assertError(await openStream(base, "not-a-token", c.id, { content: "hi" }), 401, "authentication_error");
        assertError(await openStream(base, bob.token, c.id, { content: "hi" }), 403, "permission_error");
        assertError(await openStream(base, bob.token, c.id, { content: "hi" }, { format: "openai" }), 403, "permission_error");
        assertError(await openStream(base, alice.token, randomUUID(), { content: "hi" }), 404, "not_found_error");
        assertError(await openStream(base, alice.token, c.id, { content: "" }), 422, "invalid_request_error");
        assertError(await openStream(base, alice.token, c.id, {}), 422, "invalid_request_error");
        assertError(await openStream(base, alice.token, c.id, { content: "hi" }, { format: "xml" }), 400, "invalid_request_error", {
            message: /format/,
        });
        assert.deepEqual(chatRequests(), [], "no model was asked");
        assert.deepEqual(await listMessages(base, alice.token, c.id), [], "nothing stored");

        // The events feed and the WebSocket route check ownership too.
        assertError(await openEvents(base, c.id, {}), 401, "authentication_error");
        assertError(await openEvents(base, c.id, { token: bob.token }), 403, "permission_error");
        assertError(await openEvents(base, randomUUID(), { token: alice.token }), 404, "not_found_error");
        assert.equal(await upgradeStatus(server.port, `${CONVERSATIONS}/${c.id}/ws?token=${bob.token}`), 403);
        assert.equal(await upgradeStatus(server.port, `${CONVERSATIONS}/${c.id}/ws?token=garbage`), 401);
        assert.equal(await upgradeStatus(server.port, `${CONVERSATIONS}/${c.id}/ws`), 401);
    });

    it("events feed: two subscribers see new_message (user, assistant), message.completed, title.updated, conversation.updated, conversation.deleted", async () => {
        const tokens = ["Feed", " me"];
        script({ tokens });
        const c = await createConversation(base, alice.token, { model: CLAUDE });
        assert.equal(c.title, null);
        const subs = [await openEvents(base, c.id, { token: alice.token }), await openEvents(base, c.id, { token: alice.token })];
        for (const sub of subs) {
            assertStreamHeaders(sub.res);
            const first = await sub.sse.next();
            assert.equal(first.retry, 3000, first?.raw);
            assert.deepEqual(first.comments, ["subscribed"], first?.raw);
        }
        const s = await openStream(base, alice.token, c.id, { content: "Hello feed" });
        const streamed = await s.sse.rest();
        const assistantId = streamed[0].json.message.id;
        const userId = streamed[0].json.message.parley.user_message_id;
        const stored = await waitForMessages(base, alice.token, c.id, 2);

        for (const sub of subs) {
            const seen = [];
            await sub.sse.until((e) => {
                if (e.event) {
                    seen.push(e);
                }
                return seen.some((x) => x.event === "title.updated") && seen.some((x) => x.event === "message.completed");
            }, 5_000, "title.updated and message.completed");
            const names = seen.map((e) => e.event);
            const news = seen.filter((e) => e.event === "new_message").map((e) => e.json);
            assert.deepEqual(news.map((m) => [m.id, m.role]), [[userId, "user"], [assistantId, "assistant"]], names.join(","));
            assert.deepEqual(news[0], stored[0], "new_message carries the message object as GET …/messages has it");
            assert.deepEqual(news[1], stored[1]);
            const completed = seen.find((e) => e.event === "message.completed").json;
            assert.deepEqual(completed, stored[1]);
            assert.ok(names.indexOf("message.completed") > names.lastIndexOf("new_message"), names.join(","));
            const title = seen.find((e) => e.event === "title.updated").json;
            assert.deepEqual(title, { conversation_id: c.id, title: "Streaming Title" });
        }
        assert.equal(ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token: alice.token })).title, "Streaming Title");

        const renamed = ok(await patch(base, `${CONVERSATIONS}/${c.id}`, { json: { title: "Renamed" }, token: alice.token }));
        for (const sub of subs) {
            const e = await sub.sse.until((x) => x.event === "conversation.updated", 5_000, "conversation.updated");
            assert.equal(e.json.id, c.id);
            assert.equal(e.json.title, "Renamed");
            assert.equal(e.json.updated_at, renamed.updated_at);
        }

        assert.equal((await del(base, `${CONVERSATIONS}/${c.id}`, { token: alice.token })).res.status, 204);
        for (const sub of subs) {
            const e = await sub.sse.until((x) => x.event === "conversation.deleted", 5_000, "conversation.deleted");
            assert.deepEqual(e.json, { id: c.id });
            const tail = await sub.sse.rest(5_000);
            assert.deepEqual(tail, [], "the feed ends after conversation.deleted");
            assertCleanEnd(sub.sse, "the events feed after conversation.deleted");
        }
        assertCleanEnd(s.sse, "the message stream");
    });

    it("events feed with ?token= works for EventSource requests (Accept: text/event-stream), not for others", async () => {
        script({ tokens: ["Via", " token"] });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "token feed" });
        assertError(await openEvents(base, c.id, { query: `?token=${encodeURIComponent(alice.token)}` }), 401, "authentication_error");
        const feed = await openEvents(base, c.id, {
            query: `?token=${encodeURIComponent(alice.token)}`,
            headers: { accept: "text/event-stream" },
        });
        assertStreamHeaders(feed.res);
        await feed.sse.until((e) => e.comments.includes("subscribed"), 3_000, ": subscribed");
        const other = await openEvents(base, c.id, {
            query: `?token=${encodeURIComponent(bob.token)}`,
            headers: { accept: "text/event-stream" },
        });
        assertError(other, 403, "permission_error");

        const answer = ok(await post(base, `${CONVERSATIONS}/${c.id}/messages`, { json: { content: "plain post" }, token: alice.token }));
        const e = await feed.sse.until((x) => x.event === "message.completed", 5_000, "message.completed");
        assert.equal(e.json.id, answer.id);
        assert.equal(e.json.content, "Via token");
        feed.abort();
    });

    it("after 15 s of silence the stream sends `event: ping` and the events feed a `: heartbeat` comment", async () => {
        script({ tokens: ["Slow", " and", " steady"], stallAfterTokens: 1 });
        const c = await createConversation(base, alice.token, { model: CLAUDE, title: "pings" });
        const feed = await openEvents(base, c.id, { token: alice.token });
        await feed.sse.until((e) => e.comments.includes("subscribed"), 3_000);
        const s = await openStream(base, alice.token, c.id, { content: "Wait" });
        const firstDelta = await s.sse.until((e) => e.event === "content_block_delta");
        const deltaAt = Date.now();
        const ping = await s.sse.until((e) => e.event === "ping", 20_000, "a ping");
        const waited = Date.now() - deltaAt;
        assert.ok(waited >= 13_000 && waited < 19_000, `ping after ${waited} ms of silence`);
        assert.deepEqual(ping.json, { type: "ping" });
        assert.equal(firstDelta.json.delta.text, "Slow");
        await feed.sse.until((e) => e.comments.includes("heartbeat"), 5_000, ": heartbeat");
        s.abort();
        feed.abort();
        await waitForMessages(base, alice.token, c.id, 2);
    });
});

describe("SIGTERM during a stream", () => {
    let upstream;
    let dir;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        dir = makeTempDir("parley-shutdown-");
    });

    after(async () => {
        await upstream?.close();
        if (dir) {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    // A server's settings: the database (file `db` in `dir`) and the signing key outlive the
    // first server, so a second one can show what was stored.
    const shutdownEnv = (db, extra = {}) => ({
        ...UNLIMITED,
        ...providerEnv(upstream),
        DATABASE_URL: `sqlite://${path.join(dir, db)}`,
        JWT_SECRET: "streaming-test-secret-0123456789abcdef",
        ...extra,
    });

    /** The answer stored in conversation `convId`, read by a second server on `env`'s database. */
    async function storedAnswer(env, token, convId) {
        const again = await startServer({ env });
        try {
            const [, answer] = await waitForMessages(again.baseUrl, token, convId, 2);
            return answer;
        } finally {
            await stopCleanly(again);
        }
    }

    it("the client gets `event: error`; the answer is stored partial with cancelled_by \"shutdown\"", async () => {
        const env = shutdownEnv("parley.db");
        upstream.setScript((info) =>
            isTitleRequest(info) ? { tokens: TITLE_TOKENS } : { tokens: ["Before", " the", " end", " never"], stallAfterTokens: 2 }
        );
        const server = await startServer({ env });
        let convId;
        let token;
        let received = "";
        let events;
        let exit;
        try {
            ({ token } = await register(server.baseUrl, "shutdown"));
            const c = await createConversation(server.baseUrl, token, { model: CLAUDE, title: "shutdown" });
            convId = c.id;
            const s = await openStream(server.baseUrl, token, c.id, { content: "Long answer" });
            assertStreamHeaders(s.res);
            for (let i = 0; i < 2; i++) {
                received += (await s.sse.until((e) => e.event === "content_block_delta")).json.delta.text;
            }
            assert.equal(received, "Before the");
            const stopping = server.stop("SIGTERM");
            events = await s.sse.rest(15_000);
            exit = await stopping;
            const last = nonPing(events).at(-1);
            assert.equal(last?.event, "error", describeEvents(s.sse.events));
            assert.equal(last.json.type, "error");
            assert.equal(typeof last.json.error?.type, "string");
            assert.equal(typeof last.json.error?.message, "string");
            assert.equal(textOf(events), "", "nothing more after the stall");
            await waitFor(() => upstream.disconnects.length > 0, 3_000).catch(() =>
                assert.fail("the upstream request was not cancelled at shutdown")
            );
        } finally {
            await server.stop("SIGKILL").catch(() => {});
        }
        assert.deepEqual(exit, { code: 0, signal: null }, server.lines.slice(-30).join("\n"));
        assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), [], server.lines.join("\n"));

        const answer = await storedAnswer(env, token, convId);
        assert.equal(answer.status, "partial");
        assert.equal(answer.content, received);
        assert.equal(answer.finish_reason, "cancelled");
        assert.equal(answer.metadata.cancelled_by, "shutdown");
    });

    it("a client that stopped reading: the drain still stops the answer at once, stored partial", async () => {
        // The relay is blocked in a write the client does not take (BODY_TIMEOUT_S outlasts the
        // drain's SHUTDOWN_TIMEOUT_S): the drain must cancel the turn from outside that write, or
        // the server stops before the answer is stored.
        const env = shutdownEnv("blocked.db", { BODY_TIMEOUT_S: "120", SHUTDOWN_TIMEOUT_S: "3" });
        // ~12.8 MB of answer, more than both ends' socket buffers hold, then silence.
        const piece = "x".repeat(32 * 1024);
        upstream.reset();
        upstream.setScript((info) =>
            isTitleRequest(info) ? { tokens: TITLE_TOKENS } : { tokens: new Array(400).fill(piece), stallAfterTokens: 400 }
        );
        const server = await startServer({ env });
        let convId;
        let token;
        let exit;
        let stoppedIn;
        const socket = await connect(server.port);
        try {
            ({ token } = await register(server.baseUrl, "blocked"));
            const c = await createConversation(server.baseUrl, token, { model: CLAUDE, title: "blocked" });
            convId = c.id;
            const body = JSON.stringify({ content: "A very long answer" });
            socket.pause();  // reads nothing: the server's writes fill the buffers and wait
            socket.write(
                `POST ${streamPath(c.id)} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${token}\r\n` +
                    `Content-Type: application/json\r\nContent-Length: ${Buffer.byteLength(body)}\r\n\r\n${body}`
            );
            await waitFor(() => upstream.requests.some((r) => !isTitleRequest(r)), 5_000).catch(() =>
                assert.fail("the fake upstream got no request")
            );
            await new Promise((r) => setTimeout(r, 2_000));  // the whole answer sent upstream
            assert.equal(upstream.disconnects.length, 0, "still generating");
            const stoppedAt = Date.now();
            exit = await server.stop("SIGTERM");
            stoppedIn = Date.now() - stoppedAt;
        } finally {
            socket.destroy();
            await server.stop("SIGKILL").catch(() => {});
        }
        assert.deepEqual(exit, { code: 0, signal: null }, server.lines.slice(-30).join("\n"));
        assert.ok(stoppedIn < 10_000, `the drain took ${stoppedIn} ms`);
        assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), [], server.lines.join("\n"));
        assert.equal(upstream.disconnects.length, 1, "the upstream request was cancelled at shutdown");

        const answer = await storedAnswer(env, token, convId);
        assert.equal(answer.status, "partial");
        assert.equal(answer.finish_reason, "cancelled");
        assert.equal(answer.metadata.cancelled_by, "shutdown");
        assert.ok(answer.content.length >= 4 * piece.length, `stored ${answer.content.length} bytes`);
    });
});
