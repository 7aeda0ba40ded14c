// Seed 004's WebSocket sessions against the real binary and the mock model: the seed path's
// protocol (plain-text frames, guest users by ?user_id= in open mode), one socket per session, the
// Origin check on upgrades, the session event log (GET …/session-events) and session summaries
// (in the background when a session ends, POST …/summary on demand, GET /api/sessions/{id}/summary).
//
//   node --test tests/integration/sessions.test.mjs
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { startServer, stopCleanly, waitUntil } from "../support/server.mjs";

const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };

/** Opens a WebSocket; resolves `{ ws, frames, next(type) }` once open, or rejects with the HTTP status. */
function open(url, options = {}) {
    return new Promise((resolve, reject) => {
        const ws = new WebSocket(url, options);
        const frames = [];
        const waiters = [];
        ws.on("message", (data) => {
            const frame = JSON.parse(String(data));
            frames.push(frame);
            for (const w of waiters.splice(0)) {
                w();
            }
        });
        ws.on("close", () => {
            for (const w of waiters.splice(0)) {
                w();
            }
        });
        ws.on("unexpected-response", (_req, res) => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode })));
        ws.on("error", (e) => reject(e));
        ws.on("open", () => {
            let seen = 0;
            /** Resolves the frames up to and including the next frame of one of `types`. */
            const next = async (...types) => {
                const deadline = Date.now() + 10_000;
                for (;;) {
                    while (seen < frames.length) {
                        const f = frames[seen++];
                        if (types.includes(f.type)) {
                            return frames.slice(0, seen);
                        }
                    }
                    if (ws.readyState === WebSocket.CLOSED || Date.now() > deadline) {
                        throw new Error(`no ${types.join("/")} frame; got ${JSON.stringify(frames)}`);
                    }
                    await new Promise((r) => {
                        waiters.push(r);
                        setTimeout(r, 200);
                    });
                }
            };
            resolve({ ws, frames, next });
        });
    });
}

function closed(ws) {
    return new Promise((resolve) => {
        if (ws.readyState === WebSocket.CLOSED) {
            resolve();
        } else {
            ws.once("close", resolve);
        }
    });
}

const answerOf = (frames) => frames.filter((f) => f.type === "token").map((f) => f.content).join("");

describe("seed 004 sessions in AUTH_MODE=open", () => {
    let server;
    let wsBase;
    let base;

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, AUTH_MODE: "open", MOCK_TOKEN_DELAY_MS: "1" } });
        base = server.baseUrl;
        wsBase = base.replace(/^http/, "ws");
    });
    after(async () => {
        await stopCleanly(server);
    });

    it("the seed path: plain-text and JSON frames, tokens then done, a guest per user_id, a summary after the session", async () => {
        const session = `demo-${randomUUID().slice(0, 8)}`;
        const a = await open(`${wsBase}/ws/session/${session}?user_id=alice`);
        a.ws.send("hello as plain text");
        const first = await a.next("done", "error");
        assert.equal(first.at(-1).type, "done", JSON.stringify(first));
        assert.match(answerOf(first), /You said: "hello as plain text"/);
        assert.ok(first.filter((f) => f.type === "token").length >= 3, "streamed token by token");
        a.ws.send(JSON.stringify({ message: "and a JSON frame" }));
        const second = await a.next("done", "error");
        assert.equal(second.at(-1).type, "done");
        assertError(await get(base, `/api/sessions/${session}/summary?user_id=alice`), 404, "not_found_error");
        a.ws.close();
        await closed(a.ws);

        const summary = await waitUntil(async () => {
            const r = await get(base, `/api/sessions/${session}/summary?user_id=alice`);
            return r.res.status === 200 ? r.body : undefined;
        }, { timeoutMs: 5_000, what: "the session summary" });
        assert.deepEqual(Object.keys(summary).sort(), ["duration_seconds", "end_time", "message_count", "session_id", "start_time", "summary"]);
        assert.equal(summary.session_id, session);
        assert.equal(summary.message_count, 4);
        assert.match(summary.summary, /hello as plain text/);
        assert.ok(summary.duration_seconds >= 0);
        assert.ok(Date.parse(summary.end_time) >= Date.parse(summary.start_time));

        // Another guest with the same session id has a conversation of its own.
        assertError(await get(base, `/api/sessions/${session}/summary?user_id=bob`), 404, "not_found_error");
        // The local user (no user_id) is someone else again.
        assertError(await get(base, `/api/sessions/${session}/summary`), 404, "not_found_error");
    });

    it("the mock model uses the seed's tools: a tool call, its result and the streamed answer in one turn", async () => {
        const session = `tools-${randomUUID().slice(0, 8)}`;
        const s = await open(`${wsBase}/ws/session/${session}?user_id=dora`);
        s.ws.send(JSON.stringify({ message: "What is Python?" }));
        const turn = await s.next("done", "error");
        const types = turn.map((f) => f.type);
        assert.equal(types.at(-1), "done", JSON.stringify(turn));
        const call = turn.find((f) => f.type === "tool_call");
        assert.deepEqual([call.tool, call.arguments], ["fetch_internal_knowledge", { topic: "python" }]);
        const result = turn.find((f) => f.type === "tool_result");
        assert.equal(result.tool, "fetch_internal_knowledge");
        assert.equal(result.result.topic, "python");
        assert.match(result.result.content, /Python/);
        assert.ok(types.indexOf("tool_call") < types.indexOf("tool_result"));
        assert.ok(types.indexOf("tool_result") < types.indexOf("token"), "the answer comes after the result");
        assert.match(answerOf(turn), /^According to the knowledge base: /);
        const done = turn.at(-1);
        assert.deepEqual(done.metadata.tool_calls, [{ id: call.id, name: "fetch_internal_knowledge", arguments: { topic: "python" } }],
            "the call and its result are stored with the answer");
        assert.equal(done.metadata.tool_results.length, 1);
        assert.equal(done.metadata.tool_results[0].tool_use_id, call.id);
        assert.equal(done.metadata.tool_results[0].is_error, false);
        assert.equal(done.metadata.tool_results[0].result.topic, "python");

        // A second turn is a turn of its own (a new bubble in the seed's page).
        s.ws.send(JSON.stringify({ message: "thanks" }));
        const second = await s.next("done", "error");
        const after = second.slice(turn.length);
        assert.equal(after.at(-1).type, "done");
        assert.ok(!after.some((f) => f.type === "tool_call"));
        s.ws.close();
        await closed(s.ws);

    });

    it("a second socket on one session is refused with an error frame; the other goes on", async () => {
        const session = `dup-${randomUUID().slice(0, 8)}`;
        const a = await open(`${wsBase}/ws/session/${session}?user_id=carol`);
        const b = await open(`${wsBase}/ws/session/${session}?user_id=carol`);
        // Whichever handler claims the session first keeps it: the other is refused and closed.
        const refused = await waitUntil(() => [a, b].find((s) => s.frames.some((f) => f.type === "error")), {
            what: "one socket to be refused",
        });
        const kept = refused === a ? b : a;
        assert.match(refused.frames.find((f) => f.type === "error").content, /already open/);
        await closed(refused.ws);
        kept.ws.send(JSON.stringify({ message: "still here" }));
        const frames = await kept.next("done", "error");
        assert.equal(frames.at(-1).type, "done", JSON.stringify(frames));
        kept.ws.close();
        await closed(kept.ws);
        // Once it is gone the session can be opened again. The server releases its claim when its
        // handler ends, just after the close handshake the client awaited: a socket opened in that
        // instant is refused as "already open", so retry that (only that) for up to 2 s.
        const deadline = Date.now() + 2000;
        for (;;) {
            const again = await open(`${wsBase}/ws/session/${session}?user_id=carol`);
            again.ws.send("back");
            const last = (await again.next("done", "error")).at(-1);
            again.ws.close();
            if (last.type === "error" && /already open/.test(last.content) && Date.now() < deadline) {
                await closed(again.ws);
                await new Promise((r) => setTimeout(r, 50));
                continue;
            }
            assert.equal(last.type, "done", JSON.stringify(last));
            break;
        }
    });

    it("a WebSocket upgrade from a foreign Origin is refused; the server's own origin is fine", async () => {
        await assert.rejects(
            open(`${wsBase}/ws/session/x-${randomUUID().slice(0, 8)}`, { headers: { Origin: "http://evil.example" } }),
            (e) => e.status === 403,
        );
        const own = await open(`${wsBase}/ws/session/y-${randomUUID().slice(0, 8)}`, { headers: { Origin: base } });
        own.ws.close();
    });

    it("GET / names the seed's endpoints", async () => {
        const r = await get(base, "/");
        assert.deepEqual(r.body.endpoints, { websocket: "/ws/session/{session_id}", health: "/api/health" });
    });
});

describe("session event log and summaries", () => {
    let server;
    let base;
    let wsBase;
    let token;
    let other;

    async function register() {
        const r = await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("sess"), password: "SecurePass123" } });
        assert.equal(r.res.status, 201, r.text);
        return r.body.data.access_token;
    }

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, MOCK_TOKEN_DELAY_MS: "0" } });
        base = server.baseUrl;
        wsBase = base.replace(/^http/, "ws");
        token = await register();
        other = await register();
    });
    after(async () => {
        await stopCleanly(server);
    });

    it("a turn's events are stored once it is done: the user message, coalesced tokens, start and end", async () => {
        const c = await post(base, "/api/v1/conversations", { json: { title: "Logged" }, token });
        const id = c.body.data.id;
        const s = await open(`${wsBase}/api/v1/conversations/${id}/ws`, { headers: { Authorization: `Bearer ${token}` } });
        s.ws.send(JSON.stringify({ message: "Please log this turn" }));
        const frames = await s.next("done", "error");
        const answer = answerOf(frames);
        const during = await get(base, `/api/v1/conversations/${id}/session-events?limit=1000`, { token });
        assert.equal(during.res.status, 200, during.text);
        const events = during.body.data;
        assert.deepEqual(events.slice(0, 2).map((e) => [e.type, e.content]), [["system_event", "session started"], ["user_message", "Please log this turn"]]);
        const tokens = events.filter((e) => e.type === "ai_token");
        assert.equal(tokens.map((e) => e.content).join(""), answer, "every token, in order");
        const tokenFrames = frames.filter((f) => f.type === "token").length;
        assert.ok(tokens.length < tokenFrames, `coalesced: ${tokens.length} rows for ${tokenFrames} tokens`);
        s.ws.close();
        await closed(s.ws);
        const ended = await waitUntil(async () => {
            const r = await get(base, `/api/v1/conversations/${id}/session-events?limit=1000`, { token });
            return r.body.data.at(-1)?.content === "session ended" ? r.body.data : undefined;
        }, { what: "the session end in the log" });
        // Paging with the cursor gives the same events.
        const paged = [];
        let cursor;
        for (let i = 0; i < 50; i++) {
            const r = await get(base, `/api/v1/conversations/${id}/session-events?limit=2${cursor ? `&after=${cursor}` : ""}`, { token });
            paged.push(...r.body.data);
            cursor = r.body.next_cursor;
            if (!cursor) {
                break;
            }
        }
        assert.deepEqual(paged.map((e) => e.id), ended.map((e) => e.id));

        assertError(await get(base, `/api/v1/conversations/${id}/session-events`, { token: other }), 403, "permission_error");
        assertError(await get(base, `/api/v1/conversations/${id}/session-events?after=nope`, { token }), 422, "invalid_request_error");
        assertError(await get(base, `/api/v1/conversations/${id}/session-events?limit=0`, { token }), 422, "invalid_request_error");
    });

    it("tool use is in the event log and in both SSE formats", async () => {
        // Only seed sessions offer tools by default: this one uses /ws/session with a key.
        const key = `k-${randomUUID().slice(0, 8)}`;
        const s = await open(`${wsBase}/ws/session/${key}`, { headers: { Authorization: `Bearer ${token}` } });
        s.ws.send("Look up websocket");
        const turn = await s.next("done", "error");
        assert.equal(turn.at(-1).type, "done", JSON.stringify(turn));
        const conversation = turn.at(-1).conversation_id;
        const log = (await get(base, `/api/v1/conversations/${conversation}/session-events?limit=1000`, { token })).body.data;
        const kinds = log.map((e) => e.type);
        assert.ok(kinds.includes("tool_call") && kinds.includes("tool_result"), kinds.join(","));
        assert.ok(kinds.indexOf("tool_call") < kinds.indexOf("tool_result"));
        assert.equal(JSON.parse(log.find((e) => e.type === "tool_call").content).tool, "fetch_internal_knowledge");
        s.ws.close();
        await closed(s.ws);

        const res = await fetch(`${base}/api/v1/conversations/${conversation}/messages/stream`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify({ content: "What is async?" }),
        });
        assert.equal(res.status, 200);
        const text = await res.text();
        const events = text.split("\n\n").filter(Boolean).map((block) => {
            const lines = block.split("\n");
            const field = (name) => lines.find((l) => l.startsWith(`${name}: `))?.slice(name.length + 2);
            assert.match(field("id") ?? "", /^\d+$/, block); // numbered for resumption (issue 17)
            return { event: field("event"), data: JSON.parse(field("data")) };
        });
        const start = events.find((e) => e.event === "content_block_start" && e.data.content_block.type === "tool_use");
        assert.ok(start, text.slice(0, 500));
        assert.equal(start.data.content_block.name, "fetch_internal_knowledge");
        const delta = events.find((e) => e.data.delta?.type === "input_json_delta");
        assert.deepEqual(JSON.parse(delta.data.delta.partial_json), { topic: "async" });
        const result = events.find((e) => e.event === "tool_result");
        assert.equal(result.data.name, "fetch_internal_knowledge");
        assert.equal(result.data.is_error, false);
        const textBlock = events.findIndex((e) => e.event === "content_block_start" && e.data.content_block.type === "text");
        assert.ok(textBlock > events.indexOf(result), "the answer's text block follows the result");
        assert.equal(events.at(-1).event, "message_stop");

        const openai = await fetch(`${base}/api/v1/conversations/${conversation}/messages/stream?format=openai`, {
            method: "POST",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify({ content: "Tell me about llm" }),
        });
        const chunks = (await openai.text())
            .split("\n\n")
            .map((block) => block.split("\n").find((l) => l.startsWith("data: {")))
            .filter(Boolean)
            .map((l) => JSON.parse(l.slice(6)));
        const calls = chunks.flatMap((c) => c.choices?.[0]?.delta?.tool_calls ?? []);
        assert.equal(calls.length, 1);
        assert.equal(calls[0].function.name, "fetch_internal_knowledge");
        assert.deepEqual(JSON.parse(calls[0].function.arguments), { topic: "llm" });
    });

    it("a conversation chooses its tools on create and PATCH; unknown tools are a 422", async () => {
        const c = await post(base, "/api/v1/conversations", { json: { title: "With tools", tools: ["fetch_internal_knowledge", "calculator"] }, token });
        assert.equal(c.res.status, 201, c.text);
        assert.deepEqual(c.body.data.settings.tools, ["fetch_internal_knowledge", "calculator"]);
        const id = c.body.data.id;
        const asked = await post(base, `/api/v1/conversations/${id}/messages`, { json: { content: "What is Python?" }, token });
        assert.equal(asked.res.status, 200, asked.text);
        assert.equal(asked.body.data.metadata.tool_calls[0].name, "fetch_internal_knowledge");
        assert.match(asked.body.data.content, /^According to the knowledge base: /);

        const off = await fetch(`${base}/api/v1/conversations/${id}`, {
            method: "PATCH",
            headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
            body: JSON.stringify({ tools: [] }),
        });
        assert.equal(off.status, 200);
        assert.deepEqual((await off.json()).data.settings.tools, []);
        const plain = await post(base, `/api/v1/conversations/${id}/messages`, { json: { content: "What is Rust?" }, token });
        assert.equal(plain.body.data.metadata.tool_calls, undefined, "no tools offered, none called");
        assert.match(plain.body.data.content, /You said: "What is Rust\?"/);

        for (const tools of [["rm_rf"], "calculator", [42], Array(17).fill("calculator")]) {
            assertError(await post(base, "/api/v1/conversations", { json: { tools }, token }), 422, "invalid_request_error");
        }
        const none = await post(base, "/api/v1/conversations", { json: {}, token });
        assert.equal(none.body.data.settings.tools, undefined, "no tools unless asked for");
    });

    it("POST …/summary writes the summary on demand; it shows on the conversation", async () => {
        const c = await post(base, "/api/v1/conversations", { json: { title: "To summarise" }, token });
        const id = c.body.data.id;
        const sent = await post(base, `/api/v1/conversations/${id}/messages`, { json: { content: "What is a kiwi?" }, token });
        assert.equal(sent.res.status, 200, sent.text);
        const r = await post(base, `/api/v1/conversations/${id}/summary`, { token });
        assert.equal(r.res.status, 200, r.text);
        assert.match(r.body.data.summary, /What is a kiwi\?/);
        assert.match(r.body.data.summary, /assistant/i, "both sides");
        const got = await get(base, `/api/v1/conversations/${id}`, { token });
        assert.equal(got.body.data.summary, r.body.data.summary);
        assert.equal(got.body.data.summary_updated_at, r.body.data.summary_updated_at);
        const seed = await get(base, `/api/sessions/${id}/summary`, { token });
        assert.equal(seed.res.status, 200, seed.text);
        assert.equal(seed.body.summary, r.body.data.summary);
        assert.equal(seed.body.message_count, 2);
        assertError(await post(base, `/api/v1/conversations/${id}/summary`, { token: other }), 403, "permission_error");
        assertError(await post(base, `/api/v1/conversations/${randomUUID()}/summary`, { token }), 404, "not_found_error");
        assertError(await get(base, `/api/sessions/${id}/summary`, { token: other }), 403, "permission_error");
        assertError(await get(base, `/api/sessions/${id}/summary`), 401, "authentication_error");
    });
});
