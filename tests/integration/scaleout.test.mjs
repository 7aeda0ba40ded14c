// Scale-out (ARCHITECTURE §8): a real PostgreSQL, a real Redis, two Parley instances and nginx in
// front of them, all on loopback. What one instance does, the other sees: accounts, conversations,
// the per-user rate limit, conversation events; streams pass through nginx unbuffered. Then faults:
// PostgreSQL stops and comes back (503 meanwhile, no restart of Parley), Redis stops and comes back
// (rate limits fail open, events stay local, both recover), and both restart under a load of sends
// and streams through nginx (only 2xx or a structured 503, no crash, nothing acknowledged lost).
//
//   node --test tests/integration/scaleout.test.mjs

import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { createDatabase, startNginx, startPostgres, startRedis } from "../support/services.mjs";
import { startServer, waitUntil } from "../support/server.mjs";
import { SseReader } from "../support/sse.mjs";

const PASSWORD = "SecurePass123";
const CONVERSATIONS = "/api/v1/conversations";
const STANDARD_LIMIT = 8;

async function register(base) {
    const r = await post(base, "/api/v1/auth/register", {
        json: { email: uniqueEmail("scale"), password: PASSWORD },
    });
    assert.equal(r.res.status, 201, r.text);
    return r.body.data.access_token;
}

async function createConversation(base, token) {
    const r = await post(base, CONVERSATIONS, { token, json: { title: "shared" } });
    assert.equal(r.res.status, 201, r.text);
    return r.body.data.id;
}

function openStream(base, token, id, content) {
    return fetch(`${base}${CONVERSATIONS}/${id}/messages/stream`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ content }),
    });
}

async function metric(base, name) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `) || l.startsWith(`${name}{`));
    return line === undefined ? undefined : Number(line.split(" ").pop());
}

describe("two instances behind nginx, sharing PostgreSQL and Redis", () => {
    let pg;
    let redis;
    let a;
    let b;
    let lb;

    before(async () => {
        [pg, redis] = await Promise.all([startPostgres(), startRedis()]);
        const env = {
            DATABASE_URL: await createDatabase(pg.url),
            REDIS_URL: redis.url,
            JWT_SECRET: randomBytes(32).toString("hex"),
            RATE_LIMIT_STANDARD: String(STANDARD_LIMIT),
            RATE_LIMIT_AUTH: "100000",
            RATE_LIMIT_AI: "100000",
            MOCK_TOKEN_DELAY_MS: "25",
            TRUSTED_PROXIES: "127.0.0.1",
        };
        a = await startServer({ env });
        b = await startServer({ env });
        lb = await startNginx([a.port, b.port]);
    });

    after(async () => {
        await Promise.allSettled([lb?.stop(), a?.stop(), b?.stop()]);
        await Promise.allSettled([pg?.stop(), redis?.stop()]);
    });

    it("an account made on A works on B, and a conversation created on A is read on B", async () => {
        const token = await register(a.baseUrl);
        const me = await get(b.baseUrl, "/api/v1/auth/me", { token });
        assert.equal(me.res.status, 200, me.text);
        const id = await createConversation(a.baseUrl, token);
        const read = await get(b.baseUrl, `${CONVERSATIONS}/${id}`, { token });
        assert.equal(read.res.status, 200, read.text);
        assert.equal(read.body.data.id, id);
        assert.equal(read.body.data.title, "shared");
    });

    it("the per-user rate limit is shared: the limit is hit across both instances", async () => {
        const token = await register(a.baseUrl);
        const statuses = [];
        const remaining = [];
        for (let i = 0; i < STANDARD_LIMIT + 2; i++) {
            const base = i % 2 === 0 ? a.baseUrl : b.baseUrl;
            const r = await get(base, "/api/v1/auth/me", { token });
            statuses.push(r.res.status);
            remaining.push(Number(r.res.headers.get("x-ratelimit-remaining")));
        }
        // Each instance alone saw only half of the requests: a per-instance limit never refuses.
        assert.deepEqual(statuses.slice(0, STANDARD_LIMIT), Array(STANDARD_LIMIT).fill(200), `${statuses}`);
        assert.deepEqual(statuses.slice(STANDARD_LIMIT), [429, 429], `${statuses}`);
        assert.deepEqual(
            remaining.slice(0, STANDARD_LIMIT),
            Array.from({ length: STANDARD_LIMIT }, (_, i) => STANDARD_LIMIT - 1 - i),
        );
    });

    it("a message streamed through A produces events on a subscription held on B", async () => {
        const token = await register(a.baseUrl);
        const id = await createConversation(a.baseUrl, token);
        const feedRes = await fetch(`${b.baseUrl}${CONVERSATIONS}/${id}/events`, {
            headers: { authorization: `Bearer ${token}` },
        });
        assert.equal(feedRes.status, 200);
        const feed = new SseReader(feedRes);
        await feed.until((e) => e.comments?.some((c) => c.includes("subscribed")), 5_000, "the subscription");

        const res = await openStream(a.baseUrl, token, id, "hello from A");
        assert.equal(res.status, 200);
        const stream = new SseReader(res);
        const events = await stream.rest();
        const stop = events.find((e) => e.event === "message_delta");
        assert.ok(stop, "the stream through A finished");

        const user = await feed.until((e) => e.event === "new_message" && e.json?.role === "user");
        assert.equal(user.json.content, "hello from A");
        const done = await feed.until((e) => e.event === "message.completed");
        assert.equal(done.json.id, stop.json.parley.message_id);
        assert.equal(done.json.status, "complete");
        await feed.cancel();
    });

    it("SSE streams pass through nginx unbuffered, event by event", async () => {
        const token = await register(lb.baseUrl);
        const id = await createConversation(lb.baseUrl, token);
        const res = await openStream(lb.baseUrl, token, id, "stream me through the proxy please");
        assert.equal(res.status, 200);
        const sse = new SseReader(res);
        const arrivals = [];
        let text = "";
        for (;;) {
            const e = await sse.next();
            if (!e) {
                break;
            }
            if (e.event === "content_block_delta" && e.json.delta.type === "text_delta") {
                arrivals.push(Date.now());
                text += e.json.delta.text;
            }
        }
        assert.equal(sse.bodyError, undefined);
        assert.ok(arrivals.length >= 5, `${arrivals.length} deltas`);
        // The mock sends a token every 25 ms: buffered, they would all arrive at once at the end.
        const spread = arrivals.at(-1) - arrivals[0];
        assert.ok(spread >= 25 * (arrivals.length - 1) * 0.5, `deltas arrived within ${spread} ms`);
        const stored = await get(lb.baseUrl, `${CONVERSATIONS}/${id}/messages`, { token });
        assert.equal(stored.body.data.at(-1).content, text);
    });

    it("a WebSocket turn works through nginx", async () => {
        const token = await register(lb.baseUrl);
        const ws = new WebSocket(`ws://127.0.0.1:${lb.port}/ws/session/through-nginx?token=${token}`);
        await new Promise((resolve, reject) => {
            ws.once("open", resolve);
            ws.once("error", reject);
            ws.once("unexpected-response", (_req, res) => reject(new Error(`upgrade: ${res.statusCode}`)));
        });
        const frames = [];
        const done = new Promise((resolve, reject) => {
            ws.on("message", (data) => {
                const f = JSON.parse(data.toString());
                frames.push(f);
                if (f.type === "done") resolve(f);
                if (f.type === "error") reject(new Error(JSON.stringify(f)));
            });
        });
        ws.send(JSON.stringify({ message: "hello over a proxied websocket" }));
        const final = await done;
        const tokens = frames.filter((f) => f.type === "token").map((f) => f.content).join("");
        assert.ok(tokens.length > 0);
        assert.equal(final.content, tokens);
        ws.close();
    });

    it("one socket per seed session across instances: a second one on the other instance is refused, and gets in once the first left", async () => {
        const token = await register(a.baseUrl);
        const session = `shared-${randomBytes(4).toString("hex")}`;
        const connect = (server) =>
            new Promise((resolve, reject) => {
                const ws = new WebSocket(`ws://127.0.0.1:${server.port}/ws/session/${session}?token=${token}`);
                const frames = [];
                ws.on("message", (data) => frames.push(JSON.parse(data.toString())));
                ws.once("open", () => resolve({ ws, frames }));
                ws.once("error", reject);
            });
        const closed = (ws) => new Promise((resolve) => (ws.readyState === WebSocket.CLOSED ? resolve() : ws.once("close", resolve)));

        const first = await connect(a);
        // The claim is taken before the socket reads: a turn proves it is in place.
        first.ws.send(JSON.stringify({ message: "hold the session" }));
        await waitUntil(() => first.frames.some((f) => f.type === "done"), { timeoutMs: 10_000, what: "the first turn" });

        const second = await connect(b);
        await waitUntil(() => second.frames.length > 0, { timeoutMs: 5_000, what: "the second socket's refusal" });
        await closed(second.ws);
        assert.equal(second.frames.length, 1, JSON.stringify(second.frames));
        assert.equal(second.frames[0].type, "error");
        assert.match(second.frames[0].content, /already open/);

        first.ws.close();
        await closed(first.ws);
        // The lease is released when the socket ends (not after its 30 s time to live).
        const third = await waitUntil(async () => {
            const c = await connect(b);
            c.ws.send(JSON.stringify({ message: "my turn now" }));
            await waitUntil(() => c.frames.some((f) => f.type === "done" || f.type === "error"), { timeoutMs: 10_000, what: "an answer" });
            if (c.frames.some((f) => f.type === "done")) {
                return c;
            }
            c.ws.close();
            return undefined;
        }, { timeoutMs: 3_000, intervalMs: 100, what: "the session free again" });
        third.ws.close();
        await closed(third.ws);
    });

    it("PostgreSQL stops: requests fail with 503 while it is down and succeed after it returns, without a restart", async () => {
        const token = await register(a.baseUrl);
        const id = await createConversation(a.baseUrl, token);
        await pg.halt();
        try {
            const down = await get(a.baseUrl, `${CONVERSATIONS}/${id}`, { token });
            assertError(down, 503, "overloaded_error");
            // /health caches its database check for a second.
            const health = await waitUntil(async () => {
                const r = await fetch(`${b.baseUrl}/health`);
                return r.status === 503 ? r.json() : undefined;
            }, {
                timeoutMs: 5_000,
                what: "/health to say 503",
            });
            assert.equal(health.database, "disconnected", "seed 003's field");
        } finally {
            await pg.resume();
        }
        const back = await waitUntil(async () => {
            const r = await get(a.baseUrl, `${CONVERSATIONS}/${id}`, { token });
            return r.res.status === 200 ? r : undefined;
        }, { timeoutMs: 20_000, intervalMs: 100, what: "PostgreSQL to come back" });
        assert.equal(back.body.data.id, id);
        const onB = await get(b.baseUrl, `${CONVERSATIONS}/${id}`, { token });
        assert.equal(onB.res.status, 200, onB.text);
    });

    it("Redis stops: rate limits fail open (counted in /metrics) and both limits and events recover when it returns", async () => {
        const before = (await metric(a.baseUrl, "parley_ratelimit_redis_failures_total")) ?? 0;
        await redis.halt();
        try {
            const token = await register(a.baseUrl);
            // Over the limit, yet allowed: the limiter cannot count, so it lets requests through.
            for (let i = 0; i < STANDARD_LIMIT + 2; i++) {
                const r = await get(a.baseUrl, "/api/v1/auth/me", { token });
                assert.equal(r.res.status, 200, `request ${i}: ${r.text}`);
            }
            const failures = await metric(a.baseUrl, "parley_ratelimit_redis_failures_total");
            assert.ok(failures > before, `failures ${before} -> ${failures}`);
        } finally {
            await redis.resume();
        }
        // Recovery: a new user is limited again, across instances.
        await waitUntil(async () => {
            const token = await register(a.baseUrl);
            let refused = false;
            for (let i = 0; i < STANDARD_LIMIT + 1; i++) {
                const r = await get(i % 2 ? a.baseUrl : b.baseUrl, "/api/v1/auth/me", { token });
                refused = refused || r.res.status === 429;
            }
            return refused;
        }, { timeoutMs: 20_000, intervalMs: 100, what: "the shared limit to be enforced again" });
        // Events cross instances again.
        const token = await register(a.baseUrl);
        const id = await createConversation(a.baseUrl, token);
        await waitUntil(async () => {
            const feedRes = await fetch(`${b.baseUrl}${CONVERSATIONS}/${id}/events`, {
                headers: { authorization: `Bearer ${token}` },
            });
            const feed = new SseReader(feedRes);
            try {
                await feed.until((e) => e.comments?.some((c) => c.includes("subscribed")), 5_000);
                const title = `t${Date.now()}`;
                const r = await fetch(`${a.baseUrl}${CONVERSATIONS}/${id}`, {
                    method: "PATCH",
                    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                    body: JSON.stringify({ title }),
                });
                assert.equal(r.status, 200);
                // Not yet delivered across instances: try again with a new feed.
                const e = await feed.until((x) => x.event === "conversation.updated", 2_000).catch(() => undefined);
                return e?.json.title === title;
            } finally {
                await feed.cancel();
            }
        }, { timeoutMs: 20_000, intervalMs: 100, what: "events to cross instances again" });
    });

    it("PostgreSQL and Redis restart under a load of sends and streams: 2xx or a structured 503, no crash, nothing acknowledged lost", async () => {
        const WORKERS = 6;
        const statuses = new Map();
        const acked = []; // { token, id, content, reply, text }
        const problems = []; // anything but 2xx or a structured 503
        let running = true;
        const note = (status) => statuses.set(status, (statuses.get(status) ?? 0) + 1);
        const users = [];
        for (let w = 0; w < WORKERS; w++) {
            const token = await register(lb.baseUrl);
            users.push({ token, id: await createConversation(lb.baseUrl, token) });
        }
        // Sends and streams count against RATE_LIMIT_AI only (raised out of the way here).
        const work = async ({ token, id }, w) => {
            for (let i = 0; running; i++) {
                const content = `load ${w}.${i} ${randomBytes(4).toString("hex")}`;
                if (i % 2 === 0) {
                    const r = await post(lb.baseUrl, `${CONVERSATIONS}/${id}/messages`, { token, json: { content } });
                    note(r.res.status);
                    if (r.res.status === 200) {
                        acked.push({ token, id, content, reply: r.body.data.id, text: r.body.data.content });
                    } else if (r.res.status !== 503 || r.body?.error?.type !== "overloaded_error") {
                        problems.push(`send: ${r.res.status} ${r.text.slice(0, 300)}`);
                    }
                    continue;
                }
                const res = await openStream(lb.baseUrl, token, id, content);
                note(res.status);
                if (res.status !== 200) {
                    const text = await res.text();
                    if (res.status !== 503 || !text.includes('"overloaded_error"')) {
                        problems.push(`stream: ${res.status} ${text.slice(0, 300)}`);
                    }
                    continue;
                }
                const events = await new SseReader(res).rest();
                const start = events.find((e) => e.event === "message_start");
                const last = events.filter((e) => e.event !== "ping").at(-1);
                if (last?.event === "message_stop") {
                    const text = events
                        .filter((e) => e.event === "content_block_delta" && e.json.delta.type === "text_delta")
                        .map((e) => e.json.delta.text)
                        .join("");
                    acked.push({ token, id, content, reply: start.json.message.id, text });
                } else if (last?.event !== "error" || last.json.error.type !== "overloaded_error") {
                    problems.push(`stream ended with ${JSON.stringify(last?.json)}`);
                }
            }
        };
        const load = Promise.all(users.map((u, w) => work(u, w)));
        const pause = (ms) => new Promise((r) => setTimeout(r, ms));
        try {
            await pause(500);
            await pg.restart();
            await pause(1_000);
            await redis.halt();
            await pause(1_000);
            await redis.resume();
            await pause(1_000);
        } finally {
            running = false;
            await load;
        }
        const summary = JSON.stringify(Object.fromEntries(statuses));
        assert.deepEqual(problems, [], `statuses ${summary}`);
        assert.ok(acked.length > 0, `no request succeeded: ${summary}`);
        for (const server of [a, b]) {
            assert.equal(server.proc.exitCode, null, "the instance is still running");
            assert.equal(server.proc.signalCode, null);
        }
        // Everything acknowledged is stored (one listing per conversation: within the standard limit).
        for (const { token, id } of users) {
            const stored = [];
            for (let page = 1; ; page++) {
                const r = await get(lb.baseUrl, `${CONVERSATIONS}/${id}/messages?per_page=100&page=${page}`, { token });
                assert.equal(r.res.status, 200, r.text);
                stored.push(...r.body.data);
                if (r.body.data.length < 100) {
                    break;
                }
            }
            for (const t of acked.filter((x) => x.id === id)) {
                const reply = stored.find((m) => m.id === t.reply);
                assert.ok(reply, `acknowledged answer ${t.reply} is stored`);
                assert.equal(reply.content, t.text);
                assert.ok(stored.some((m) => m.role === "user" && m.content === t.content), `user message of ${t.reply}`);
            }
        }
        console.log(`scale-out restarts under load: statuses ${summary}; acknowledged and verified ${acked.length}`);
    });
});
