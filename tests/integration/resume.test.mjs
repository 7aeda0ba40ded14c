// Resumable streams (issue 17) against the real binary and the fake upstream: every SSE event of a
// conversation's answer stream has an id (1, 2, … per answer); GET …/messages/{message_id}/stream
// with Last-Event-ID (header or ?last_event_id=) replays what a client missed and then the live
// rest, in the format the answer was asked in; a resumed stream equals the uninterrupted one event
// for event; without "resumable" the client leaving stops the answer (partial stored), with it the
// answer goes on for STREAM_RESUME_WINDOW_S after the last reader left; after the end the GET
// gives the whole answer (from the buffer within the window, then from the stored message).
// Errors: another user's answer (404), an unknown one (404), a bad Last-Event-ID (400).
//
//   node --test tests/integration/resume.test.mjs
// (CTest runs it on SQLite and, as integration_pg.resume, on PostgreSQL; the two-instance case
// through Redis is tests/integration/resume_scaleout.test.mjs.)

import assert from "node:assert/strict";
import { readFileSync, rmSync } from "node:fs";
import { after, before, beforeEach, describe, it } from "node:test";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { makeTempDir, SANITIZER_REPORT, startServer, stopCleanly, testDatabaseServer } from "../support/server.mjs";
import { createDatabase } from "../support/services.mjs";
import { SseReader } from "../support/sse.mjs";

const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ anthropic: "sk-ant-resume", openai: "sk-resume-openai", gemini: "gemini-resume-key" });
const CLAUDE = "claude-sonnet-4-5";
const WINDOW_S = 1;
const TOKENS = ["One", " two", " three", " four", " five", " six", " seven", " eight"];

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    return r.body.data;
}

/** What identifies an event on the wire: its id, name and data. */
const wire = (events) => events.map((e) => ({ id: e.id, event: e.event, data: e.data }));

/** The answer's text in an Anthropic or OpenAI stream. */
const textOf = (events) =>
    events
        .map((e) => e.json?.delta?.text ?? e.json?.choices?.[0]?.delta?.content ?? "")
        .join("");

async function openPost(base, token, path, json) {
    const ac = new AbortController();
    const res = await fetch(`${base}${path}`, {
        method: "POST",
        headers: { "content-type": "application/json", authorization: `Bearer ${token}` },
        body: JSON.stringify(json),
        signal: ac.signal,
    });
    assert.equal(res.status, 200, await (res.status === 200 ? "" : res.text()));
    return { res, sse: new SseReader(res), abort: () => ac.abort() };
}

async function openResume(base, token, conversationId, messageId, { lastEventId, query = "" } = {}) {
    const ac = new AbortController();
    const headers = { authorization: `Bearer ${token}` };
    if (lastEventId !== undefined) {
        headers["last-event-id"] = String(lastEventId);
    }
    const res = await fetch(`${base}${CONVERSATIONS}/${conversationId}/messages/${messageId}/stream${query}`, {
        headers,
        signal: ac.signal,
    });
    assert.equal(res.status, 200, await (res.status === 200 ? "" : res.text()));
    assert.match(res.headers.get("content-type"), /^text\/event-stream/);
    return { res, sse: new SseReader(res), abort: () => ac.abort() };
}

/** Reads `n` text deltas (Anthropic); resolves every event read so far. */
async function readDeltas(sse, n) {
    for (let i = 0; i < n; i += 1) {
        await sse.until((e) => e.event === "content_block_delta");
    }
    return [...sse.events];
}

/** CPU time process `pid` has used (user and system), in clock ticks (1/100 s). */
function cpuTicks(pid) {
    const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1].split(" ");
    return Number(fields[11]) + Number(fields[12]);  // utime, stime (fields 14 and 15)
}

describe("resumable streams (fake upstream)", () => {
    let upstream;
    let server;
    let base;
    let alice;
    let bob;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        server = await startServer({
            env: {
                ...UNLIMITED,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                DEFAULT_MODEL: CLAUDE,
                LLM_MAX_RETRIES: "0",
                STREAM_RESUME_WINDOW_S: String(WINDOW_S),
            },
        });
        base = server.baseUrl;
        const register = async (tag) =>
            ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: "SecurePass123" } }), 201)
                .access_token;
        alice = await register("resume-alice");
        bob = await register("resume-bob");
    });

    beforeEach(() => {
        upstream.reset();
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

    const conversation = async (title) => ok(await post(base, CONVERSATIONS, { json: { title }, token: alice }), 201);
    const messages = async (id) => ok(await get(base, `${CONVERSATIONS}/${id}/messages?per_page=100`, { token: alice }));
    const storedAnswer = async (id, predicate, timeoutMs = 5_000) => {
        let answer;
        await waitFor(async () => {
            answer = (await messages(id)).find((m) => m.role === "assistant");
            return answer !== undefined && predicate(answer);
        }, timeoutMs).catch(() => assert.fail(`no stored answer as expected within ${timeoutMs} ms: ${JSON.stringify(answer)}`));
        return answer;
    };

    it("every event of an answer stream has an id, 1, 2, … in both formats; pings and comments have none", async () => {
        upstream.setScript({ tokens: TOKENS.slice(0, 3) });
        const c = await conversation("ids");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count" });
        const events = await s.sse.rest();
        assert.ok(events.length >= 7, JSON.stringify(wire(events)));
        assert.deepEqual(events.map((e) => e.id), events.map((_, i) => String(i + 1)));
        assert.equal(events.at(-1).event, "message_stop");

        const o = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream?format=openai`, { content: "Again" });
        const chunks = await o.sse.rest();
        assert.deepEqual(chunks.map((e) => e.id), chunks.map((_, i) => String(i + 1)));
        assert.equal(chunks.at(-1).data, "[DONE]");
    });

    it("a resumed stream equals the uninterrupted one event for event (resumable, client leaves mid-answer)", async () => {
        upstream.setScript({ tokens: TOKENS, interTokenDelayMs: 60 });
        const c = await conversation("resumed");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count", resumable: true });
        const seen = await readDeltas(s.sse, 2);
        const messageId = seen[0].json.message.id;
        s.abort();
        const lastId = seen.at(-1).id;

        // Reconnect with the last id seen: the missed events, then the live rest.
        const r = await openResume(base, alice, c.id, messageId, { lastEventId: lastId });
        const rest = await r.sse.rest();
        assert.equal(rest[0].id, String(Number(lastId) + 1));
        assert.equal(rest.at(-1).event, "message_stop");
        const resumed = [...wire(seen), ...wire(rest)];

        // The whole answer again (no Last-Event-ID), from the buffer: the same events.
        const whole = await openResume(base, alice, c.id, messageId);
        assert.deepEqual(wire(await whole.sse.rest()), resumed);
        assert.equal(textOf([...seen, ...rest]), TOKENS.join(""));

        // The answer was generated to its end although its client had left.
        const answer = await storedAnswer(c.id, (m) => m.status === "complete");
        assert.equal(answer.id, messageId);
        assert.equal(answer.content, TOKENS.join(""));
        assert.equal(upstream.disconnects.length, 0);
    });

    it("a second reader attached while the answer streams gets it live; ?last_event_id= works as the header", async () => {
        upstream.setScript({ tokens: TOKENS, interTokenDelayMs: 40 });
        const c = await conversation("live");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count" });
        const seen = await readDeltas(s.sse, 1);
        const messageId = seen[0].json.message.id;
        const r = await openResume(base, alice, c.id, messageId, { query: `?last_event_id=${seen.at(-1).id}` });
        const [first, second] = await Promise.all([s.sse.rest(), r.sse.rest()]);
        assert.deepEqual(wire(second), wire(first));
        assert.equal(textOf([...seen, ...first]), TOKENS.join(""));
    });

    it("?format=openai is remembered: the resume speaks OpenAI chunks with the same ids", async () => {
        upstream.setScript({ tokens: TOKENS.slice(0, 4), interTokenDelayMs: 50 });
        const c = await conversation("openai");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream?format=openai`, {
            content: "Count",
            resumable: true,
        });
        const seen = [await s.sse.next(), await s.sse.until((e) => e.json?.choices?.[0]?.delta?.content)];
        const messageId = seen[0].json.id.replace(/^chatcmpl-/, "");
        s.abort();
        const r = await openResume(base, alice, c.id, messageId, { lastEventId: seen.at(-1).id });
        const rest = await r.sse.rest();
        assert.equal(rest.at(-1).data, "[DONE]");
        const whole = await openResume(base, alice, c.id, messageId);
        assert.deepEqual(wire(await whole.sse.rest()), [...wire(seen), ...wire(rest)]);
    });

    it("without resumable, the client leaving stops the answer: upstream cancelled, partial stored, the GET gives it", async () => {
        upstream.setScript({ tokens: TOKENS, stallAfterTokens: 3 });
        const c = await conversation("not resumable");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count" });
        const seen = await readDeltas(s.sse, 3);
        const messageId = seen[0].json.message.id;
        s.abort();
        await waitFor(() => upstream.disconnects.length > 0, 3_000);
        const answer = await storedAnswer(c.id, (m) => m.status === "partial");
        assert.equal(answer.content, "One two three");
        assert.equal(answer.metadata.cancelled_by, "client");
        const whole = await openResume(base, alice, c.id, messageId);
        const events = await whole.sse.rest();
        assert.equal(textOf(events), "One two three");
        assert.deepEqual(events.map((e) => e.id), events.map((_, i) => String(i + 1)));
    });

    it("resumable with nobody reading again: stopped after the window, partial stored", async () => {
        upstream.setScript({ tokens: TOKENS, stallAfterTokens: 2 });
        const c = await conversation("window");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count", resumable: true });
        await readDeltas(s.sse, 2);
        const leftAt = Date.now();
        s.abort();
        await new Promise((r) => setTimeout(r, 400));
        assert.equal(upstream.disconnects.length, 0, "still generating within the window");
        await waitFor(() => upstream.disconnects.length > 0, 5_000);
        const waited = upstream.disconnects[0].at - leftAt;
        assert.ok(waited >= WINDOW_S * 1000 - 50 && waited < WINDOW_S * 1000 + 2_000, `stopped after ${waited} ms`);
        const answer = await storedAnswer(c.id, (m) => m.status === "partial");
        assert.equal(answer.content, "One two");
    });

    it("a reader reattaching resets the window", async () => {
        upstream.setScript({ tokens: TOKENS, stallAfterTokens: 2 });
        const c = await conversation("reattach");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count", resumable: true });
        const seen = await readDeltas(s.sse, 2);
        const messageId = seen[0].json.message.id;
        s.abort();
        await new Promise((r) => setTimeout(r, 600));
        const r = await openResume(base, alice, c.id, messageId, { lastEventId: seen.at(-1).id });
        await new Promise((res) => setTimeout(res, 900)); // past the first window, within the second
        assert.equal(upstream.disconnects.length, 0, "kept going while a reader was attached");
        const leftAt = Date.now();
        r.abort();
        await waitFor(() => upstream.disconnects.length > 0, 5_000);
        assert.ok(upstream.disconnects[0].at - leftAt >= WINDOW_S * 1000 - 50);
    });

    it("after the window the GET gives the whole stored answer, whatever Last-Event-ID", async () => {
        upstream.setScript({ tokens: TOKENS.slice(0, 3) });
        const c = await conversation("stored");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count" });
        const events = await s.sse.rest();
        const messageId = events[0].json.message.id;
        await new Promise((r) => setTimeout(r, WINDOW_S * 1000 + 300));
        for (const lastEventId of [undefined, 2]) {
            const r = await openResume(base, alice, c.id, messageId, { lastEventId });
            const replay = await r.sse.rest();
            assert.equal(replay[0].event, "message_start");
            assert.equal(replay[0].json.message.id, messageId);
            assert.equal(textOf(replay), TOKENS.slice(0, 3).join(""));
            assert.equal(replay.at(-1).event, "message_stop");
            assert.deepEqual(replay.map((e) => e.id), replay.map((_, i) => String(i + 1)));
        }
        const o = await openResume(base, alice, c.id, messageId, { query: "?format=openai" });
        const chunks = await o.sse.rest();
        assert.equal(chunks.at(-1).data, "[DONE]");
        assert.equal(textOf(chunks), TOKENS.slice(0, 3).join(""));
    });

    it("a resumable answer without its client idles (no ping loop past 15 s), then a shutdown stores it partial (cancelled_by shutdown) and exits at once", async () => {
        // A server of its own, stopped by the test, on a database a second server reads after it;
        // a long window so that only the drain stops the answer.
        const pg = testDatabaseServer();
        const dir = pg ? undefined : makeTempDir();
        const shared = {
            ...UNLIMITED,
            DATABASE_URL: pg ? await createDatabase(pg) : `sqlite://${dir}/parley.db`,
            JWT_SECRET: "resume-drain-secret-0123456789abcdefghijklmn",
        };
        const own = await startServer({
            env: {
                ...shared,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                DEFAULT_MODEL: CLAUDE,
                LLM_MAX_RETRIES: "0",
                STREAM_RESUME_WINDOW_S: "60",
            },
        });
        const token = ok(
            await post(own.baseUrl, "/api/v1/auth/register", { json: { email: uniqueEmail("resume-drain"), password: "SecurePass123" } }),
            201
        ).access_token;
        upstream.setScript({ tokens: TOKENS, stallAfterTokens: 2 });
        const c = ok(await post(own.baseUrl, CONVERSATIONS, { json: { title: "drain" }, token }), 201);
        const s = await openPost(own.baseUrl, token, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count", resumable: true });
        await readDeltas(s.sse, 2);
        s.abort();
        await new Promise((r) => setTimeout(r, 300));
        assert.equal(upstream.disconnects.length, 0, "still generating without its client");
        // Past the 15 s ping time the relay has nothing to write to a client that left: it must
        // wait for the turn, not loop (a ping time that never moved on ended every wait at once).
        await new Promise((r) => setTimeout(r, 16_000));
        const ticksBefore = cpuTicks(own.proc.pid);
        await new Promise((r) => setTimeout(r, 2_000));
        const busy = cpuTicks(own.proc.pid) - ticksBefore;
        assert.ok(busy < 50, `the server used ${busy * 10} ms of CPU in 2 s while idle`);
        const stoppedAt = Date.now();
        const result = await own.stop("SIGTERM");
        assert.deepEqual(result, { code: 0, signal: null });
        assert.ok(Date.now() - stoppedAt < 5_000, `the drain took ${Date.now() - stoppedAt} ms`);
        assert.deepEqual(own.lines.filter((l) => SANITIZER_REPORT.test(l)), []);
        assert.equal(upstream.disconnects.length, 1);
        // Stored before the server stopped: read back from the same database by a new server.
        const again = await startServer({ env: shared });
        try {
            const stored = ok(await get(again.baseUrl, `${CONVERSATIONS}/${c.id}/messages?per_page=100`, { token }));
            const answer = stored.find((m) => m.role === "assistant");
            assert.equal(answer?.status, "partial", JSON.stringify(stored));
            assert.equal(answer.content, "One two");
            assert.equal(answer.metadata.cancelled_by, "shutdown");
        } finally {
            await again.stop("SIGTERM");
            if (dir) {
                rmSync(dir, { recursive: true, force: true });
            }
        }
    });

    it("errors: another user's answer 404, unknown ids 404, a bad Last-Event-ID 400, a bad format 400", async () => {
        upstream.setScript({ tokens: TOKENS.slice(0, 2) });
        const c = await conversation("errors");
        const s = await openPost(base, alice, `${CONVERSATIONS}/${c.id}/messages/stream`, { content: "Count" });
        const events = await s.sse.rest();
        const messageId = events[0].json.message.id;
        const path = `${CONVERSATIONS}/${c.id}/messages/${messageId}/stream`;
        assertError(await get(base, path, { token: bob }), 404, "not_found_error");
        assertError(await get(base, `${CONVERSATIONS}/${c.id}/messages/0190a0a0-0000-7000-8000-000000000000/stream`, { token: alice }), 404, "not_found_error");
        assertError(await get(base, `${CONVERSATIONS}/${c.id}/messages/not-a-uuid/stream`, { token: alice }), 404, "not_found_error");
        const user = (await messages(c.id)).find((m) => m.role === "user");
        assertError(await get(base, `${CONVERSATIONS}/${c.id}/messages/${user.id}/stream`, { token: alice }), 404, "not_found_error");
        for (const bad of ["abc", "-1", "1.5", "99999999999999999999999"]) {
            assertError(await get(base, path, { token: alice, headers: { "last-event-id": bad } }), 400, "invalid_request_error");
        }
        assertError(await get(base, `${path}?last_event_id=x`, { token: alice }), 400, "invalid_request_error");
        assertError(await get(base, `${path}?format=xml`, { token: alice }), 400, "invalid_request_error");
        assertError(await get(base, path), 401, "authentication_error");
        // `resumable` must be a boolean.
        assertError(
            await post(base, `${CONVERSATIONS}/${c.id}/messages/stream`, { token: alice, json: { content: "x", resumable: "yes" } }),
            422,
            "invalid_request_error"
        );
    });
});
