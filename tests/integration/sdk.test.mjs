// Parley's streaming routes driven by real, official clients that we did not write: the
// Anthropic TypeScript SDK (@anthropic-ai/sdk) on the default SSE format, the OpenAI SDK (openai)
// on ?format=openai, and the `ws` package on the WebSocket routes. The SDKs talk to Parley through
// a custom `fetch` that maps their request (POST {base}/v1/messages, POST {base}/v1/chat/completions)
// to POST /api/v1/conversations/{id}/messages/stream, so every byte they parse is Parley's own.
// The model behind Parley is the scripted fake upstream (tests/support/fake_upstream.mjs).
//
//   node --test tests/integration/sdk.test.mjs
//
// What the SDKs require of a server: /work/shared/reference/wire-formats.md §5.

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";
import WebSocket from "ws";

import { get, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { startServer } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = "SecurePass123";
const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };

const KEYS = Object.freeze({ openai: "sk-sdk-openai", anthropic: "sk-ant-sdk", gemini: "gemini-sdk-key" });
const CLAUDE = "claude-sonnet-4-5"; // thinking: true in the catalog
const GPT = "gpt-4o-mini";
const TITLE_TOKENS = ["SDK", " Title"];

const isTitleRequest = (info) => JSON.stringify(info.body ?? {}).includes("You name conversations");
// The summary a WebSocket session with a turn gets in the background when it ends.
const isSummaryRequest = (info) => JSON.stringify(info.body ?? {}).includes("You summarise conversations");

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    assert.equal(r.body.status, "success", r.text.slice(0, 500));
    return r.body.data;
}

describe("official clients against Parley (fake upstream behind it)", () => {
    let upstream;
    let server;
    let base;
    let wsBase;
    let alice;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        server = await startServer({
            env: {
                ...UNLIMITED,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                GOOGLE_AI_API_KEY: KEYS.gemini,
                GEMINI_BASE_URL: upstream.baseUrl,
                DEFAULT_MODEL: CLAUDE,
                FALLBACK_MODEL: "",
                LLM_MAX_RETRIES: "0",
            },
        });
        base = server.baseUrl;
        wsBase = `ws://127.0.0.1:${server.port}`;
        alice = await register("alice");
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

    async function register(tag) {
        const data = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: PASSWORD } }), 201);
        return { token: data.access_token };
    }

    async function createConversation(token, json) {
        return ok(await post(base, CONVERSATIONS, { json, token }), 201);
    }

    async function listMessages(token, id) {
        return ok(await get(base, `${CONVERSATIONS}/${id}/messages?per_page=100`, { token }));
    }

    async function waitForMessages(token, id, count, timeoutMs = 5_000) {
        let last = [];
        await waitFor(async () => {
            last = await listMessages(token, id);
            return last.length >= count;
        }, timeoutMs).catch(() => assert.fail(`expected ${count} stored messages, got ${JSON.stringify(last)}`));
        assert.equal(last.length, count, JSON.stringify(last));
        return last;
    }

    const script = (main) => {
        upstream.reset();
        upstream.setScript((info) => (isTitleRequest(info) ? { tokens: TITLE_TOKENS } : main));
    };

    // ---- the SDKs' fetch, mapped onto Parley's stream route ------------------------------------------

    /** The text of the last user turn of an Anthropic or OpenAI messages array. */
    function lastUserText(messages) {
        const last = messages.filter((m) => m.role === "user").at(-1);
        if (typeof last.content === "string") {
            return last.content;
        }
        return last.content.filter((b) => b.type === "text").map((b) => b.text).join("");
    }

    /**
     * A fetch for an SDK: POST {base}/v1/{sdkPath} becomes POST …/conversations/{id}/messages/stream
     * (`?format=openai` when asked) with the last user text as `content` and Parley's token; the
     * SDK's model and thinking settings ride along. `seen` collects what was mapped.
     */
    function parleyFetch({ sdkPath, conversationId, token, format, seen = [] }) {
        return async (url, init = {}) => {
            const u = new URL(typeof url === "string" ? url : url.url);
            assert.equal(init.method, "POST", `the SDK sent ${init.method} ${u.pathname}`);
            assert.equal(u.pathname, sdkPath, `the SDK called ${u.pathname}`);
            const sdkBody = JSON.parse(typeof init.body === "string" ? init.body : new TextDecoder().decode(init.body));
            const json = { content: lastUserText(sdkBody.messages), model: sdkBody.model };
            if (sdkBody.thinking && sdkBody.thinking.type !== "disabled") {
                json.thinking = true;
            }
            seen.push({ sdkBody, json });
            const route = `${base}${CONVERSATIONS}/${conversationId}/messages/stream${format ? `?format=${format}` : ""}`;
            return fetch(route, {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify(json),
                signal: init.signal,
            });
        };
    }

    const anthropicFor = (conversationId, token = alice.token, seen = []) =>
        new Anthropic({
            baseURL: base,
            apiKey: "x",
            maxRetries: 0,
            fetch: parleyFetch({ sdkPath: "/v1/messages", conversationId, token, seen }),
        });

    const openaiFor = (conversationId, token = alice.token, seen = []) =>
        new OpenAI({
            baseURL: `${base}/v1`,
            apiKey: "x",
            maxRetries: 0,
            fetch: parleyFetch({ sdkPath: "/v1/chat/completions", conversationId, token, format: "openai", seen }),
        });

    // ---- @anthropic-ai/sdk -----------------------------------------------------------------------------

    describe("@anthropic-ai/sdk messages.stream()", () => {
        it("finalMessage() and finalText() equal what Parley stored; the message id is the stored id", async () => {
            const tokens = ["Hello", " from", " the", " Anthropic", " SDK."];
            script({ tokens, usage: { input: 11, output: 5 } });
            const c = await createConversation(alice.token, { model: CLAUDE, title: "anthropic sdk" });
            const seen = [];
            const client = anthropicFor(c.id, alice.token, seen);
            const stream = client.messages.stream({
                model: CLAUDE,
                max_tokens: 256,
                messages: [{ role: "user", content: "Greet me" }],
            });
            const deltas = [];
            stream.on("text", (delta) => deltas.push(delta));
            const message = await stream.finalMessage();
            const text = await stream.finalText();
            assert.deepEqual(seen.map((x) => x.json.content), ["Greet me"]);

            const [user, answer] = await waitForMessages(alice.token, c.id, 2);
            assert.equal(user.content, "Greet me");
            assert.equal(text, answer.content);
            assert.equal(text, tokens.join(""));
            assert.deepEqual(deltas, tokens);
            assert.equal(message.id, answer.id);
            assert.match(message.id, UUID);
            assert.equal(message.role, "assistant");
            assert.equal(message.model, CLAUDE);
            assert.equal(message.stop_reason, "end_turn");
            assert.deepEqual(message.content.map((b) => b.type), ["text"]);
            assert.equal(message.content[0].text, answer.content);
            assert.equal(message.usage.output_tokens, 5);
            assert.equal(answer.token_count, 5);
        });

        it("with thinking on (claude-sonnet-4-5): the final message has a thinking block, then the text", async () => {
            const thinking = ["First,", " consider", " the question."];
            const tokens = ["Considered", " answer."];
            script({ thinking, tokens });
            const c = await createConversation(alice.token, { model: CLAUDE, title: "anthropic thinking" });
            const client = anthropicFor(c.id);
            const stream = client.messages.stream({
                model: CLAUDE,
                max_tokens: 2048,
                thinking: { type: "enabled", budget_tokens: 1024 },
                messages: [{ role: "user", content: "Think, then answer" }],
            });
            const thoughts = [];
            stream.on("thinking", (delta) => thoughts.push(delta));
            const message = await stream.finalMessage();
            const [, answer] = await waitForMessages(alice.token, c.id, 2);
            assert.deepEqual(message.content.map((b) => b.type), ["thinking", "text"], JSON.stringify(message.content));
            assert.equal(message.content[0].thinking, thinking.join(""));
            assert.equal(message.content[0].thinking, answer.thinking);
            assert.deepEqual(thoughts, thinking);
            assert.equal(message.content[1].text, answer.content);
            assert.equal(message.content[1].text, tokens.join(""));
            assert.equal(message.id, answer.id);
        });

        it("an `event: error` mid-stream makes the SDK throw an APIError", async () => {
            script({ tokens: ["Partial", " then", " boom"], midStreamError: 1 });
            const c = await createConversation(alice.token, { model: CLAUDE, title: "anthropic error" });
            const client = anthropicFor(c.id);
            const stream = client.messages.stream({
                model: CLAUDE,
                max_tokens: 256,
                messages: [{ role: "user", content: "Fail midway" }],
            });
            const deltas = [];
            stream.on("text", (delta) => deltas.push(delta));
            stream.on("error", () => {}); // finalMessage() reports it
            await assert.rejects(stream.finalMessage(), (err) => {
                assert.ok(err instanceof Anthropic.APIError, `${err?.constructor?.name}: ${err?.message}`);
                assert.ok(!(err instanceof Anthropic.APIConnectionError), `a connection error, not the server's: ${err.message}`);
                assert.equal(typeof err.error?.error?.type, "string", JSON.stringify(err.error));
                return true;
            });
            assert.deepEqual(deltas, ["Partial"]);
            const [, answer] = await waitForMessages(alice.token, c.id, 2);
            assert.equal(answer.status, "partial");
            assert.equal(answer.content, "Partial");
        });
    });

    // ---- openai ------------------------------------------------------------------------------------------

    describe("openai chat.completions on ?format=openai", () => {
        it("chat.completions.stream() finalChatCompletion(): the stored text, finish_reason stop", async () => {
            const tokens = ["Hi", " from", " the", " OpenAI", " SDK."];
            script({ tokens, usage: { input: 8, output: 5 } });
            const c = await createConversation(alice.token, { model: GPT, title: "openai sdk" });
            const seen = [];
            const client = openaiFor(c.id, alice.token, seen);
            const stream = client.chat.completions.stream({
                model: GPT,
                messages: [
                    { role: "system", content: "ignored by the mapping" },
                    { role: "user", content: "Greet me too" },
                ],
                stream_options: { include_usage: true },
            });
            const deltas = [];
            stream.on("content.delta", ({ delta }) => deltas.push(delta));
            const completion = await stream.finalChatCompletion();
            assert.deepEqual(seen.map((x) => x.json.content), ["Greet me too"]);
            const [, answer] = await waitForMessages(alice.token, c.id, 2);
            assert.equal(completion.choices.length, 1);
            assert.equal(completion.choices[0].message.role, "assistant");
            assert.equal(completion.choices[0].message.content, answer.content);
            assert.equal(completion.choices[0].message.content, tokens.join(""));
            assert.equal(completion.choices[0].finish_reason, "stop");
            assert.deepEqual(deltas, tokens);
            assert.equal(completion.id, `chatcmpl-${answer.id}`);
            assert.equal(completion.usage?.completion_tokens, 5, JSON.stringify(completion.usage));
            assert.equal(answer.provider, "openai");
        });

        it("create({ stream: true }) iterates chunks that add up to the stored text", async () => {
            const tokens = ["Raw", " chunks", " add", " up."];
            script({ tokens });
            const c = await createConversation(alice.token, { model: GPT, title: "openai raw" });
            const client = openaiFor(c.id);
            const stream = await client.chat.completions.create({
                model: GPT,
                messages: [{ role: "user", content: "Iterate" }],
                stream: true,
            });
            let text = "";
            const finishes = [];
            let chunks = 0;
            for await (const chunk of stream) {
                chunks += 1;
                for (const choice of chunk.choices) {
                    text += choice.delta?.content ?? "";
                    if (choice.finish_reason) {
                        finishes.push(choice.finish_reason);
                    }
                }
            }
            const [, answer] = await waitForMessages(alice.token, c.id, 2);
            assert.equal(text, answer.content);
            assert.equal(text, tokens.join(""));
            assert.deepEqual(finishes, ["stop"]);
            assert.ok(chunks >= tokens.length + 2, `${chunks} chunks`);
        });
    });

    // ---- ws --------------------------------------------------------------------------------------------

    describe("WebSocket (ws package)", () => {
        /** Opens a WebSocket; resolves `{ ws, next(pred, timeoutMs) → frame, frames }` once open. */
        function openWs(url, options = {}) {
            return new Promise((resolve, reject) => {
                const ws = new WebSocket(url, options);
                const frames = [];
                const waiters = [];
                let closed;
                ws.on("message", (data, isBinary) => {
                    assert.equal(isBinary, false, "frames are text");
                    const frame = JSON.parse(data.toString("utf8"));
                    frames.push(frame);
                    for (const w of [...waiters]) {
                        w.check();
                    }
                });
                ws.on("close", (code) => {
                    closed = code;
                    for (const w of [...waiters]) {
                        w.check();
                    }
                });
                ws.once("unexpected-response", (_req, res) => reject(Object.assign(new Error(`upgrade answered ${res.statusCode}`), { status: res.statusCode })));
                ws.once("error", (err) => reject(err));
                let cursor = 0;
                // Resolves the next frame (after the ones already taken) that satisfies pred.
                const next = (pred = () => true, timeoutMs = 5_000) =>
                    new Promise((res, rej) => {
                        const w = {
                            check() {
                                while (cursor < frames.length) {
                                    const f = frames[cursor++];
                                    if (pred(f)) {
                                        done();
                                        res(f);
                                        return;
                                    }
                                }
                                if (closed !== undefined) {
                                    done();
                                    rej(new Error(`the WebSocket closed (${closed}); frames: ${JSON.stringify(frames).slice(0, 2000)}`));
                                }
                            },
                        };
                        const timer = setTimeout(() => {
                            done();
                            rej(new Error(`no matching frame within ${timeoutMs} ms; frames: ${JSON.stringify(frames).slice(0, 2000)}`));
                        }, timeoutMs);
                        const done = () => {
                            clearTimeout(timer);
                            const i = waiters.indexOf(w);
                            if (i !== -1) {
                                waiters.splice(i, 1);
                            }
                        };
                        waiters.push(w);
                        w.check();
                    });
                ws.once("open", () => resolve({ ws, frames, next }));
            });
        }

        /** Sends one message; resolves `{ tokens, thinking, done }` (every frame up to done or error). */
        async function turn(conn, payload) {
            conn.ws.send(JSON.stringify(payload));
            const tokens = [];
            const thinking = [];
            for (;;) {
                const f = await conn.next();
                if (f.type === "token") {
                    tokens.push(f.content);
                } else if (f.type === "thinking") {
                    thinking.push(f.content);
                } else if (f.type === "done" || f.type === "error") {
                    return { tokens, thinking, done: f };
                } else {
                    assert.fail(`unexpected frame ${JSON.stringify(f)}`);
                }
            }
        }

        const closeWs = (conn) =>
            new Promise((resolve) => {
                if (conn.ws.readyState === WebSocket.CLOSED) {
                    resolve();
                    return;
                }
                conn.ws.once("close", () => resolve());
                conn.ws.close(1000);
            });

        async function upgradeFailure(url, options = {}) {
            const err = await openWs(url, options).then(
                async (conn) => {
                    await closeWs(conn);
                    return undefined;
                },
                (e) => e
            );
            assert.ok(err, `the upgrade to ${url} succeeded`);
            return err.status;
        }

        it("/ws/session/test123: tokens add up to done.content and the stored message; a second connection re-attaches", async () => {
            const user = await register("ws-session");
            script({ tokens: ["Hello", " over", " WebSocket."] });
            const first = await openWs(`${wsBase}/ws/session/test123?token=${encodeURIComponent(user.token)}`);
            const one = await turn(first, { message: "hello" });
            await closeWs(first);
            assert.equal(one.done.type, "done", JSON.stringify(one.done));
            assert.equal(one.tokens.join(""), "Hello over WebSocket.");
            assert.equal(one.done.content, one.tokens.join(""));
            assert.equal(one.done.status, "complete");
            assert.match(one.done.id, UUID);
            assert.equal(one.done.message_id, one.done.id);

            const conversations = ok(await get(base, CONVERSATIONS, { token: user.token }));
            assert.equal(conversations.length, 1, JSON.stringify(conversations));
            const conv = conversations[0];
            assert.equal(conv.metadata.session_key, "test123", JSON.stringify(conv));
            assert.equal(one.done.conversation_id, conv.id);
            const stored = await waitForMessages(user.token, conv.id, 2);
            assert.deepEqual(stored.map((m) => [m.role, m.content]), [["user", "hello"], ["assistant", one.done.content]]);
            assert.equal(stored[1].id, one.done.id);

            // A later connection with the same key continues the same conversation.
            script({ tokens: ["Welcome", " back."] });
            const second = await openWs(`${wsBase}/ws/session/test123?token=${encodeURIComponent(user.token)}`);
            const two = await turn(second, { message: "again" });
            await closeWs(second);
            assert.equal(two.done.type, "done", JSON.stringify(two.done));
            assert.equal(two.done.content, "Welcome back.");
            const after = ok(await get(base, CONVERSATIONS, { token: user.token }));
            assert.deepEqual(after.map((x) => x.id), [conv.id], "still one conversation");
            assert.equal(after[0].metadata.session_key, "test123");
            const all = await waitForMessages(user.token, conv.id, 4);
            assert.deepEqual(
                all.map((m) => [m.role, m.content]),
                [["user", "hello"], ["assistant", "Hello over WebSocket."], ["user", "again"], ["assistant", "Welcome back."]]
            );
            // The model saw the first turn as context.
            const chats = upstream.requests.filter((r) => !isTitleRequest(r) && !isSummaryRequest(r));
            assert.equal(chats.at(-1).body.messages.length, 3, JSON.stringify(chats.at(-1).body.messages));
        });

        it("two turns on one connection (Authorization header); invalid JSON gets an error frame and the connection stays open", async () => {
            const c = await createConversation(alice.token, { model: CLAUDE, title: "ws turns" });
            const conn = await openWs(`${wsBase}${CONVERSATIONS}/${c.id}/ws`, { headers: { authorization: `Bearer ${alice.token}` } });
            try {
                conn.ws.send("{not json");
                const bad = await conn.next();
                assert.equal(bad.type, "error", JSON.stringify(bad));
                assert.equal(typeof bad.content, "string");
                assert.equal(typeof bad.error_type, "string");

                script({ tokens: ["First", " turn."] });
                const one = await turn(conn, { message: "one" });
                assert.equal(one.done.type, "done", JSON.stringify(one.done));
                assert.equal(one.done.content, "First turn.");

                script({ thinking: ["Hmm", " well"], tokens: ["Second", " turn."] });
                const two = await turn(conn, { content: "two", thinking: true });
                assert.equal(two.done.type, "done", JSON.stringify(two.done));
                assert.equal(two.tokens.join(""), "Second turn.");
                assert.deepEqual(two.thinking, ["Hmm", " well"]);
                assert.equal(two.done.content, "Second turn.");
                assert.equal(two.done.thinking, "Hmm well");

                const stored = await waitForMessages(alice.token, c.id, 4);
                assert.deepEqual(
                    stored.map((m) => [m.role, m.content]),
                    [["user", "one"], ["assistant", "First turn."], ["user", "two"], ["assistant", "Second turn."]]
                );
                assert.equal(stored[1].id, one.done.id);
                assert.equal(stored[3].id, two.done.id);
                assert.equal(stored[3].thinking, "Hmm well");
            } finally {
                await closeWs(conn);
            }
        });

        it("frames are strict like request bodies: an unknown field, a duplicated key, or both message and content get an error frame; nothing is stored", async () => {
            const c = await createConversation(alice.token, { model: CLAUDE, title: "ws strict" });
            const conn = await openWs(`${wsBase}${CONVERSATIONS}/${c.id}/ws`, { headers: { authorization: `Bearer ${alice.token}` } });
            try {
                for (const [raw, type, message] of [
                    [JSON.stringify({ message: "hi", foo: 1 }), "invalid_request_error", /unknown field `foo`/],
                    [JSON.stringify({ content: "hi", max_token: 5 }), "invalid_request_error", /unknown field `max_token`/],
                    [JSON.stringify({ type: "message", message: "hi" }), "invalid_request_error", /unknown field `type`/],
                    [JSON.stringify({ message: "hi", content: "hi" }), "invalid_request_error", /`message` or `content`/],
                    ['{"message":"hi","message":"there"}', "invalid_request_error", /duplicate key `message`/],
                    ['{"content":"hi","thinking":true,"thinking":false}', "invalid_request_error", /duplicate key `thinking`/],
                ]) {
                    conn.ws.send(raw);
                    const bad = await conn.next();
                    assert.equal(bad.type, "error", `${raw}: ${JSON.stringify(bad)}`);
                    assert.equal(bad.error_type, type, raw);
                    assert.match(bad.content, message, raw);
                }
                assert.equal(conn.ws.readyState, WebSocket.OPEN);

                // The documented frame with every message option still works.
                script({ tokens: ["Still", " fine."] });
                const one = await turn(conn, { message: "ok?", model: CLAUDE, thinking: false, temperature: 0.5, max_tokens: 100 });
                assert.equal(one.done.type, "done", JSON.stringify(one.done));
                assert.equal(one.done.content, "Still fine.");
                const stored = await waitForMessages(alice.token, c.id, 2);
                assert.deepEqual(stored.map((m) => [m.role, m.content]), [["user", "ok?"], ["assistant", "Still fine."]]);
            } finally {
                await closeWs(conn);
            }
        });

        it("each turn counts against RATE_LIMIT_AI: over the limit a turn gets a rate_limit_error frame and the connection stays open", async () => {
            const limited = await startServer({ env: { RATE_LIMIT_AI: "2", MOCK_TOKEN_DELAY_MS: "0" } });
            try {
                const reg = await post(limited.baseUrl, "/api/v1/auth/register", {
                    json: { email: uniqueEmail("ws-limit"), password: PASSWORD },
                });
                assert.equal(reg.res.status, 201, reg.text);
                const token = reg.body.data.access_token;
                const conn = await openWs(`ws://127.0.0.1:${limited.port}/ws/session/limits?token=${encodeURIComponent(token)}`);
                try {
                    const one = await turn(conn, { message: "one" });
                    const two = await turn(conn, { message: "two" });
                    assert.equal(one.done.type, "done", JSON.stringify(one.done));
                    assert.equal(two.done.type, "done", JSON.stringify(two.done));
                    const three = await turn(conn, { message: "three" });
                    assert.equal(three.done.type, "error", JSON.stringify(three.done));
                    assert.equal(three.done.error_type, "rate_limit_error");
                    assert.ok(three.done.retry_after >= 1, JSON.stringify(three.done));
                    assert.equal(conn.ws.readyState, WebSocket.OPEN);
                    // The refused turn stored nothing: two exchanges only.
                    const list = await get(limited.baseUrl, "/api/v1/conversations", { token });
                    const id = list.body.data[0].id;
                    const msgs = await get(limited.baseUrl, `${CONVERSATIONS}/${id}/messages`, { token });
                    assert.deepEqual(msgs.body.data.map((m) => m.content).filter((c, i) => i % 2 === 0), ["one", "two"]);
                } finally {
                    await closeWs(conn);
                }
            } finally {
                await limited.stop();
            }
        });

        it("closing mid-answer cancels the upstream request and stores what was sent as partial", async () => {
            script({ tokens: ["Never", " finished", " at", " all"], stallAfterTokens: 2 });
            const c = await createConversation(alice.token, { model: CLAUDE, title: "ws leave" });
            const conn = await openWs(`${wsBase}${CONVERSATIONS}/${c.id}/ws?token=${encodeURIComponent(alice.token)}`);
            conn.ws.send(JSON.stringify({ message: "Go slowly" }));
            const got = [];
            while (got.length < 2) {
                const f = await conn.next();
                assert.equal(f.type, "token", JSON.stringify(f));
                got.push(f.content);
            }
            await closeWs(conn);
            await waitFor(() => upstream.disconnects.length > 0, 3_000).catch(() =>
                assert.fail("the upstream request was not cancelled when the WebSocket closed")
            );
            assert.equal(upstream.disconnects[0].tokensSent, 2);
            const [, answer] = await waitForMessages(alice.token, c.id, 2);
            assert.equal(answer.status, "partial");
            assert.equal(answer.content, got.join(""));
            assert.equal(answer.content, "Never finished");
            assert.equal(answer.finish_reason, "cancelled");
            assert.equal(answer.metadata.cancelled_by, "client");
        });

        it("the upgrade fails with 403 for another user's conversation and 401 without a token", async () => {
            script({ tokens: ["never"] });
            const c = await createConversation(alice.token, { model: CLAUDE, title: "ws private" });
            const bob = await register("ws-bob");
            assert.equal(await upgradeFailure(`${wsBase}${CONVERSATIONS}/${c.id}/ws?token=${encodeURIComponent(bob.token)}`), 403);
            assert.equal(
                await upgradeFailure(`${wsBase}${CONVERSATIONS}/${c.id}/ws`, { headers: { authorization: `Bearer ${bob.token}` } }),
                403
            );
            // A session key that is another user's conversation id does not attach to it.
            assert.equal(await upgradeFailure(`${wsBase}/ws/session/${c.id}?token=${encodeURIComponent(bob.token)}`), 403);
            assert.equal(await upgradeFailure(`${wsBase}${CONVERSATIONS}/${c.id}/ws`), 401);
            assert.equal(await upgradeFailure(`${wsBase}/ws/session/test123`), 401);
            assert.equal(await upgradeFailure(`${wsBase}/ws/session/test123?token=not-a-token`), 401);
            // (an earlier test's session may still be having its summary written in the background)
            assert.deepEqual(upstream.requests.filter((r) => !isSummaryRequest(r)), [], "no model was asked");
            assert.deepEqual(await listMessages(alice.token, c.id), []);
        });
    });
});
