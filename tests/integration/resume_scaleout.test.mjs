// Resumable streams across instances (issue 17): two Parley instances share a throw-away
// PostgreSQL and Redis (as in docs/deploy.md); an answer streamed by instance A with
// "resumable": true is resumed on instance B with Last-Event-ID (B reads A's events from the Redis
// stream keyed by the message id), and the result equals the uninterrupted stream event for event.
// A reader on B keeps A's answer going past the window. With Redis down, B serves a stored answer
// whole and answers 503 for one it cannot find.
//
//   node --test tests/integration/resume_scaleout.test.mjs
import assert from "node:assert/strict";
import { randomBytes, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { startServer, stopCleanly } from "../support/server.mjs";
import { createDatabase, startPostgres, startRedis } from "../support/services.mjs";
import { SseReader } from "../support/sse.mjs";

const CONVERSATIONS = "/api/v1/conversations";
const KEYS = Object.freeze({ anthropic: "sk-ant-resume2", openai: "sk-resume2-openai", gemini: "gemini-resume2" });
const CLAUDE = "claude-sonnet-4-5";
const WINDOW_S = 1;
const TOKENS = ["One", " two", " three", " four", " five", " six", " seven", " eight"];

const wire = (events) => events.map((e) => ({ id: e.id, event: e.event, data: e.data }));
const textOf = (events) => events.map((e) => e.json?.delta?.text ?? "").join("");

async function open(url, init) {
    const ac = new AbortController();
    const res = await fetch(url, { ...init, signal: ac.signal });
    assert.equal(res.status, 200, res.status === 200 ? "" : await res.text());
    return { res, sse: new SseReader(res), abort: () => ac.abort() };
}

describe("resumable streams across two instances (PostgreSQL, Redis)", () => {
    let pg;
    let redis;
    let upstream;
    let a;
    let b;
    let token;

    before(async () => {
        [pg, redis, upstream] = await Promise.all([startPostgres(), startRedis(), startFakeUpstream({ keys: KEYS })]);
        const env = {
            DATABASE_URL: await createDatabase(pg.url),
            REDIS_URL: redis.url,
            JWT_SECRET: randomBytes(32).toString("hex"),
            RATE_LIMIT_STANDARD: "100000",
            RATE_LIMIT_AUTH: "100000",
            RATE_LIMIT_AI: "100000",
            ANTHROPIC_API_KEY: KEYS.anthropic,
            ANTHROPIC_BASE_URL: upstream.baseUrl,
            DEFAULT_MODEL: CLAUDE,
            LLM_MAX_RETRIES: "0",
            STREAM_RESUME_WINDOW_S: String(WINDOW_S),
        };
        a = await startServer({ env });
        b = await startServer({ env });
        const r = await post(a.baseUrl, "/api/v1/auth/register", { json: { email: uniqueEmail("resume2"), password: "SecurePass123" } });
        assert.equal(r.res.status, 201, r.text);
        token = r.body.data.access_token;
    });

    after(async () => {
        try {
            for (const s of [a, b]) {
                if (s) {
                    await stopCleanly(s);
                }
            }
        } finally {
            await Promise.allSettled([upstream?.close(), pg?.stop(), redis?.stop()]);
        }
    });

    const auth = () => ({ authorization: `Bearer ${token}` });
    const conversation = async (title) => {
        const r = await post(a.baseUrl, CONVERSATIONS, { json: { title }, token });
        assert.equal(r.res.status, 201, r.text);
        return r.body.data;
    };
    const startOnA = (c) =>
        open(`${a.baseUrl}${CONVERSATIONS}/${c.id}/messages/stream`, {
            method: "POST",
            headers: { ...auth(), "content-type": "application/json" },
            body: JSON.stringify({ content: "Count", resumable: true }),
        });
    const resumeOn = (server, c, messageId, lastEventId) =>
        open(`${server.baseUrl}${CONVERSATIONS}/${c.id}/messages/${messageId}/stream`, {
            headers: lastEventId === undefined ? auth() : { ...auth(), "last-event-id": String(lastEventId) },
        });
    const readDeltas = async (sse, n) => {
        for (let i = 0; i < n; i += 1) {
            await sse.until((e) => e.event === "content_block_delta");
        }
        return [...sse.events];
    };

    it("a stream started on A and resumed on B equals the uninterrupted one, event for event", async () => {
        upstream.reset();
        upstream.setScript({ tokens: TOKENS, interTokenDelayMs: 60 });
        const c = await conversation("across");
        const s = await startOnA(c);
        const seen = await readDeltas(s.sse, 2);
        const messageId = seen[0].json.message.id;
        s.abort();
        const r = await resumeOn(b, c, messageId, seen.at(-1).id);
        const rest = await r.sse.rest();
        assert.equal(rest[0].id, String(Number(seen.at(-1).id) + 1));
        assert.equal(rest.at(-1).event, "message_stop");
        assert.equal(textOf([...seen, ...rest]), TOKENS.join(""));
        const whole = await resumeOn(a, c, messageId);
        assert.deepEqual(wire([...seen, ...rest]), wire(await whole.sse.rest()));
        const fromB = await resumeOn(b, c, messageId);
        assert.deepEqual(wire(await fromB.sse.rest()), wire([...seen, ...rest]));
    });

    it("a reader on B keeps A's resumable answer going past the window", async () => {
        upstream.reset();
        upstream.setScript({ tokens: TOKENS, stallAfterTokens: 2 });
        const c = await conversation("kept");
        const s = await startOnA(c);
        const seen = await readDeltas(s.sse, 2);
        const messageId = seen[0].json.message.id;
        s.abort();
        const r = await resumeOn(b, c, messageId, seen.at(-1).id);
        await new Promise((res) => setTimeout(res, WINDOW_S * 1000 + 800));
        assert.equal(upstream.disconnects.length, 0, "A kept the answer going while B had a reader");
        r.abort();
        await waitFor(() => upstream.disconnects.length > 0, 8_000);
    });

    it("another user gets 404 on B too; with Redis down B serves the stored answer, and 503 for one it cannot find", async () => {
        upstream.reset();
        upstream.setScript({ tokens: TOKENS.slice(0, 3) });
        const c = await conversation("redis down");
        const s = await startOnA(c);
        const events = await s.sse.rest();
        const messageId = events[0].json.message.id;
        const other = await post(b.baseUrl, "/api/v1/auth/register", { json: { email: uniqueEmail("resume2-other"), password: "SecurePass123" } });
        assertError(await get(b.baseUrl, `${CONVERSATIONS}/${c.id}/messages/${messageId}/stream`, { token: other.body.data.access_token }), 404, "not_found_error");
        await redis.halt();
        try {
            const r = await resumeOn(b, c, messageId, 3);
            const replay = await r.sse.rest();
            assert.equal(textOf(replay), TOKENS.slice(0, 3).join(""));
            assert.equal(replay.at(-1).event, "message_stop");
            assertError(await get(b.baseUrl, `${CONVERSATIONS}/${c.id}/messages/${randomUUID()}/stream`, { token }), 503, "overloaded_error");
        } finally {
            await redis.resume();
        }
    });
});
