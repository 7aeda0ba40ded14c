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
import { startServer, waitUntil } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.slice(-40).join("\n")}`);
}

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

    it("a second socket on one session is refused with an error frame; the first goes on", async () => {
        const session = `dup-${randomUUID().slice(0, 8)}`;
        const first = await open(`${wsBase}/ws/session/${session}?user_id=carol`);
        const second = await open(`${wsBase}/ws/session/${session}?user_id=carol`);
        const refused = await second.next("error");
        assert.match(refused.at(-1).content, /already open/);
        await closed(second.ws);
        first.ws.send(JSON.stringify({ message: "still here" }));
        const frames = await first.next("done", "error");
        assert.equal(frames.at(-1).type, "done");
        first.ws.close();
        await closed(first.ws);
        // Once the first is gone the session can be opened again.
        const again = await open(`${wsBase}/ws/session/${session}?user_id=carol`);
        again.ws.send("back");
        assert.equal((await again.next("done", "error")).at(-1).type, "done");
        again.ws.close();
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
