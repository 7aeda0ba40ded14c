// Scale-out with REDIS_URL against the real binary: two instances on one database and one Redis
// (a throw-away server from scripts/redis-temp) count requests against the same rate limit, and a
// GET …/events subscriber on one instance sees what happens through the other. Then Redis goes
// away: requests are allowed (fail open), counted in /metrics, and both recover once it is back.
//
//   node --test tests/integration/redis.test.mjs

import assert from "node:assert/strict";
import { execFileSync } from "node:child_process";
import { rmSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { del, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { makeTempDir, startServer, waitUntil } from "../support/server.mjs";
import { SseReader } from "../support/sse.mjs";

const REDIS_TEMP = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../scripts/redis-temp");
const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const CONVERSATIONS = "/api/v1/conversations";
const PASSWORD = "SecurePass123";
const STANDARD_LIMIT = 8; // per user per minute on ordinary routes

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    return r.body.data;
}

async function register(base) {
    const data = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("redis"), password: PASSWORD } }), 201);
    return data.access_token;
}

async function openEvents(base, id, token) {
    const ac = new AbortController();
    const res = await fetch(`${base}${CONVERSATIONS}/${id}/events`, {
        headers: { authorization: `Bearer ${token}` },
        signal: ac.signal,
    });
    assert.equal(res.status, 200);
    const sse = new SseReader(res);
    const first = await sse.next();
    assert.deepEqual(first.comments, ["subscribed"], first?.raw);
    return { sse, abort: () => ac.abort() };
}

async function metric(base, name) {
    const text = await (await fetch(`${base}/metrics`)).text();
    const line = text.split("\n").find((l) => l.startsWith(`${name} `));
    return line === undefined ? undefined : Number(line.split(" ")[1]);
}

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.slice(-40).join("\n")}`);
}

describe("two instances sharing REDIS_URL", () => {
    let redisDir;
    let redisUrl;
    let dbDir;
    let a;
    let b;

    const startRedis = (...args) => execFileSync(REDIS_TEMP, ["start", ...args, redisDir], { encoding: "utf8", stdio: ["ignore", "pipe", "ignore"] }).trim();
    const stopRedis = () => execFileSync(REDIS_TEMP, ["stop", redisDir], { stdio: "ignore" });

    before(async () => {
        redisDir = path.join(makeTempDir("parley-redis-it-"), "redis");
        redisUrl = startRedis();
        dbDir = makeTempDir("parley-redis-db-");
        const env = {
            REDIS_URL: redisUrl,
            DATABASE_URL: `sqlite://${dbDir}/parley.db`,
            JWT_SECRET: "k".repeat(40),
            RATE_LIMIT_STANDARD: String(STANDARD_LIMIT),
            RATE_LIMIT_AUTH: "1000",
        };
        a = await startServer({ env });
        b = await startServer({ env });
        for (const s of [a, b]) {
            await waitUntil(async () => (await metric(s.baseUrl, "parley_redis_subscriber_up")) === 1, {
                what: "the instance to subscribe to Redis",
            });
        }
    });

    after(async () => {
        await Promise.allSettled([a && stopCleanly(a), b && stopCleanly(b)]);
        try {
            stopRedis();
        } catch {
            // already stopped
        }
        rmSync(path.dirname(redisDir), { recursive: true, force: true });
        rmSync(dbDir, { recursive: true, force: true });
    });

    it("logs which limiter and bus it uses", () => {
        for (const s of [a, b]) {
            assert.ok(
                s.lines.some((l) => l.includes("rate limits and conversation events shared through redis")),
                s.lines.join("\n")
            );
        }
    });

    it("counts one user's requests on both instances against one limit", async () => {
        const token = await register(a.baseUrl);
        const remaining = [];
        for (let i = 0; i < STANDARD_LIMIT; i += 1) {
            const r = await get(i % 2 === 0 ? a.baseUrl : b.baseUrl, CONVERSATIONS, { token });
            assert.equal(r.res.status, 200, r.text);
            assert.equal(r.res.headers.get("x-ratelimit-limit"), String(STANDARD_LIMIT));
            remaining.push(Number(r.res.headers.get("x-ratelimit-remaining")));
        }
        assert.deepEqual(remaining, [7, 6, 5, 4, 3, 2, 1, 0]);
        for (const s of [a, b]) {
            const refused = await get(s.baseUrl, CONVERSATIONS, { token });
            assert.equal(refused.res.status, 429, refused.text);
            const retryAfter = Number(refused.res.headers.get("retry-after"));
            assert.ok(retryAfter >= 59 && retryAfter <= 60, String(retryAfter));
        }
    });

    it("delivers a conversation's events to subscribers on the other instance, once", async () => {
        const token = await register(a.baseUrl);
        const c = ok(await post(a.baseUrl, CONVERSATIONS, { json: {}, token }), 201);
        const onA = await openEvents(a.baseUrl, c.id, token);
        const onB = await openEvents(b.baseUrl, c.id, token);

        const renamed = ok(await patch(b.baseUrl, `${CONVERSATIONS}/${c.id}`, { json: { title: "Across" }, token }));
        for (const sub of [onA, onB]) {
            const e = await sub.sse.until((x) => x.event === "conversation.updated", 5_000, "conversation.updated");
            assert.equal(e.json.title, "Across");
            assert.equal(e.json.updated_at, renamed.updated_at);
        }

        assert.equal((await del(a.baseUrl, `${CONVERSATIONS}/${c.id}`, { token })).res.status, 204);
        for (const sub of [onA, onB]) {
            const e = await sub.sse.until((x) => x.event === "conversation.deleted", 5_000, "conversation.deleted");
            assert.deepEqual(e.json, { id: c.id });
            // Exactly once: the feed ends after conversation.deleted with nothing else.
            assert.deepEqual(await sub.sse.rest(5_000), []);
        }
    });

    it("fails open while Redis is down, counts it, and shares again once Redis is back", async () => {
        const token = await register(a.baseUrl);
        const port = redisUrl.slice(redisUrl.lastIndexOf(":") + 1);
        stopRedis();
        await waitUntil(async () => (await metric(a.baseUrl, "parley_redis_up")) === 0, { what: "parley_redis_up 0" });
        const before = await metric(a.baseUrl, "parley_ratelimit_redis_failures_total");
        // More than the limit, all allowed: no Redis, no counting.
        for (let i = 0; i < STANDARD_LIMIT + 2; i += 1) {
            const r = await get(a.baseUrl, CONVERSATIONS, { token });
            assert.equal(r.res.status, 200, r.text);
            assert.equal(r.res.headers.get("x-ratelimit-limit"), String(STANDARD_LIMIT));
        }
        assert.equal(await metric(a.baseUrl, "parley_ratelimit_redis_failures_total"), before + STANDARD_LIMIT + 2);

        startRedis("--port", port);
        for (const s of [a, b]) {
            await waitUntil(
                async () => (await metric(s.baseUrl, "parley_redis_up")) === 1 && (await metric(s.baseUrl, "parley_redis_subscriber_up")) === 1,
                { timeoutMs: 15_000, what: "the instance to reconnect to Redis" }
            );
        }
        const first = await get(b.baseUrl, CONVERSATIONS, { token });
        assert.equal(first.res.status, 200);
        assert.equal(first.res.headers.get("x-ratelimit-remaining"), String(STANDARD_LIMIT - 1)); // counted again
        const second = await get(a.baseUrl, CONVERSATIONS, { token });
        assert.equal(second.res.headers.get("x-ratelimit-remaining"), String(STANDARD_LIMIT - 2)); // and shared

        const c = ok(await post(a.baseUrl, CONVERSATIONS, { json: {}, token }), 201);
        const onB = await openEvents(b.baseUrl, c.id, token);
        ok(await patch(a.baseUrl, `${CONVERSATIONS}/${c.id}`, { json: { title: "Back" }, token }));
        const e = await onB.sse.until((x) => x.event === "conversation.updated", 5_000, "conversation.updated after the outage");
        assert.equal(e.json.title, "Back");
        onB.abort();
    });
});
