// Fault injection against the real binary (issue 15, "Faults"): the provider misbehaves in every
// way the scripted fake upstream can (a reset mid-stream and before the first token, a stall past
// each of the four timeouts, garbage, a 200 with an error body), SQLite is locked by another
// process past the busy timeout, and the disk under SQLite fills up. Every case: a clear error to
// the client (a JSON error before the first token, the protocol's `error` event after it), the
// partial answer stored, the server alive, and it exits cleanly at the end (no sanitizer report).
// PostgreSQL and Redis restarts under load are in scaleout.test.mjs.
//
//   node --test tests/integration/faults.test.mjs

import assert from "node:assert/strict";
import { spawn, execFile } from "node:child_process";
import { closeSync, openSync, rmSync, statSync, truncateSync, writeSync } from "node:fs";
import path from "node:path";
import { promisify } from "node:util";
import { after, before, describe, it } from "node:test";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { startBlackhole, startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { makeTempDir, startServer } from "../support/server.mjs";
import { SseReader, describe as describeEvents } from "../support/sse.mjs";

const run = promisify(execFile);
const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const PASSWORD = "SecurePass123";
const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ openai: "sk-faults", anthropic: "sk-ant-faults", gemini: "gemini-faults" });

const MODELS = Object.freeze({ anthropic: "claude-sonnet-4-5", openai: "gpt-4o-mini", gemini: "gemini-1.5-flash" });
const GROQ = "llama-3.1-8b-instant"; // pointed at a black hole: its connect phase never completes

// The timeouts under test (seconds), short and far enough apart to tell which one fired.
const TIMEOUTS = Object.freeze({ connect: 0.3, firstToken: 1, token: 0.5, total: 2.5 });

// ---- helpers -------------------------------------------------------------------------------------

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.slice(-40).join("\n")}`);
}

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    return r.body.data;
}

async function register(base) {
    const data = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("faults"), password: PASSWORD } }), 201);
    return data.access_token;
}

// Titled, so that no background title request reaches the scripted upstream.
async function conversation(base, token, model) {
    return ok(await post(base, CONVERSATIONS, { json: { title: "fault", model }, token }), 201).id;
}

/** Every stored message of a conversation, oldest first (all pages). */
async function messages(base, token, id) {
    const out = [];
    for (let page = 1; ; page++) {
        const data = ok(await get(base, `${CONVERSATIONS}/${id}/messages?per_page=100&page=${page}`, { token }));
        out.push(...data);
        if (data.length < 100) {
            return out;
        }
    }
}

/** Waits until `count` messages are stored; resolves them, oldest first. */
async function stored(base, token, id, count = 2) {
    let last = [];
    await waitFor(async () => {
        last = await messages(base, token, id);
        return last.length >= count;
    }, 5_000).catch(() => assert.fail(`expected ${count} stored messages, got ${JSON.stringify(last)}`));
    assert.equal(last.length, count, JSON.stringify(last));
    return last;
}

/** POST …/messages/stream: `{ res, events }` for a 200 (every event, to the end), else `{ res, body, text }`. */
async function stream(base, token, id, content) {
    const started = Date.now();
    const res = await fetch(`${base}${CONVERSATIONS}/${id}/messages/stream`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ content }),
    });
    if (res.status !== 200) {
        const text = await res.text();
        return { res, body: JSON.parse(text), text, elapsedMs: Date.now() - started };
    }
    const sse = new SseReader(res);
    const events = (await sse.rest()).filter((e) => e.event !== "ping");
    assert.equal(sse.bodyError, undefined, "the stream ended with its last chunk, not a reset");
    return { res, events, elapsedMs: Date.now() - started };
}

const textOf = (events) =>
    events
        .filter((e) => e.event === "content_block_delta" && e.json.delta.type === "text_delta")
        .map((e) => e.json.delta.text)
        .join("");

/** The stream broke off after `text`: the last event is one `error` of `type`, no message_stop. */
function assertBrokenStream(s, text, type) {
    assert.equal(s.res.status, 200);
    const last = s.events.at(-1);
    assert.equal(last.event, "error", describeEvents(s.events));
    assert.equal(last.json.error.type, type, JSON.stringify(last.json));
    assert.ok(last.json.error.message.length > 0);
    assert.ok(!s.events.some((e) => e.event === "message_stop"), describeEvents(s.events));
    assert.equal(textOf(s.events), text);
    return last;
}

/** The stored answer of a turn: `status`, `content` and metadata.error `error`. */
async function assertStoredAnswer(base, token, id, { status, content, error }) {
    const [user, answer] = await stored(base, token, id);
    assert.equal(user.role, "user");
    assert.equal(answer.role, "assistant");
    assert.equal(answer.status, status, JSON.stringify(answer));
    assert.equal(answer.content, content);
    assert.equal(answer.metadata.error, error, JSON.stringify(answer.metadata));
    return answer;
}

// ---- the provider misbehaves ---------------------------------------------------------------------

describe("provider faults: a clear error, the partial answer stored, no crash", () => {
    let upstream;
    let hole;
    let server;
    let base;
    let token;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        hole = await startBlackhole();
        server = await startServer({
            env: {
                ...UNLIMITED,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                GOOGLE_AI_API_KEY: KEYS.gemini,
                GEMINI_BASE_URL: upstream.baseUrl,
                GROQ_API_KEY: "gsk-faults",
                GROQ_BASE_URL: `https://127.0.0.1:${hole.port}/openai/v1`,
                DEFAULT_MODEL: MODELS.anthropic,
                FALLBACK_MODEL: "", // none: no fallback hides a fault
                LLM_MAX_RETRIES: "0",
                LLM_CONNECT_TIMEOUT_S: String(TIMEOUTS.connect),
                LLM_FIRST_TOKEN_TIMEOUT_S: String(TIMEOUTS.firstToken),
                LLM_TOKEN_TIMEOUT_S: String(TIMEOUTS.token),
                LLM_TOTAL_TIMEOUT_S: String(TIMEOUTS.total),
            },
        });
        base = server.baseUrl;
        token = await register(base);
    });

    after(async () => {
        await upstream?.close();
        await hole?.close();
        if (server) {
            await stopCleanly(server);
        }
    });

    for (const [provider, model] of Object.entries(MODELS)) {
        it(`${provider}: the connection resets mid-stream → an error event; stored partial`, async () => {
            upstream.setScript({ tokens: ["Half", " an", " answer", " lost"], disconnectAfterTokens: 2 });
            const id = await conversation(base, token, model);
            const s = await stream(base, token, id, "reset please");
            assertBrokenStream(s, "Half an", "api_error");
            await assertStoredAnswer(base, token, id, { status: "partial", content: "Half an", error: "connection" });
        });
    }

    it("the connection resets before the first token → a JSON 503; the user message and an error answer stored", async () => {
        upstream.setScript({ tokens: ["never"], disconnectAfterTokens: 0 });
        const id = await conversation(base, token, MODELS.openai);
        const s = await stream(base, token, id, "reset at once");
        assertError(s, 503, "overloaded_error");
        await assertStoredAnswer(base, token, id, { status: "error", content: "", error: "overloaded" });
    });

    it("non-streaming: a reset mid-answer → 502 api_error; stored partial", async () => {
        upstream.setScript({ tokens: ["Cut", " short", " here"], disconnectAfterTokens: 2 });
        const id = await conversation(base, token, MODELS.anthropic);
        const r = await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content: "reset" }, token });
        assertError(r, 502, "api_error");
        await assertStoredAnswer(base, token, id, { status: "partial", content: "Cut short", error: "connection" });
    });

    it("the connect phase stalls past LLM_CONNECT_TIMEOUT_S → 503, failed as a connection (not a first-token timeout)", async () => {
        const before = hole.connections;
        const id = await conversation(base, token, GROQ);
        const s = await stream(base, token, id, "anyone there?");
        assertError(s, 503, "overloaded_error");
        assert.ok(hole.connections > before, "Parley connected to the black hole");
        // The attempt's failure class (below) says which timer fired: `timeout` would be the
        // first-token watchdog; the time only has to be of the right order.
        assert.ok(s.elapsedMs < TIMEOUTS.firstToken * 1000 + 1000, `answered after ${s.elapsedMs} ms`);
        const answer = await assertStoredAnswer(base, token, id, { status: "error", content: "", error: "overloaded" });
        assert.equal(answer.provider, "groq");
        const attempt = server.lines.find((l) => l.includes("model attempt failed") && l.includes(GROQ));
        assert.match(attempt ?? "", /"error":"connection"/, "the attempt failed in its connect phase");
    });

    for (const [what, script] of [
        ["no response headers", { headersDelayMs: 10_000 }],
        ["headers but no token", { tokens: ["late"], firstTokenDelayMs: 10_000 }],
        ["a request that is never answered", { hang: true }],
    ]) {
        it(`first-token timeout (${what}) → 503 after LLM_FIRST_TOKEN_TIMEOUT_S; the upstream request is cancelled`, async () => {
            upstream.reset();
            upstream.setScript(script);
            const id = await conversation(base, token, MODELS.gemini);
            const s = await stream(base, token, id, "slow start");
            assertError(s, 503, "overloaded_error");
            assert.ok(s.elapsedMs >= TIMEOUTS.firstToken * 1000 - 50, `answered after ${s.elapsedMs} ms`);
            assert.ok(s.elapsedMs < TIMEOUTS.firstToken * 1000 + 1500, `answered after ${s.elapsedMs} ms`);
            await assertStoredAnswer(base, token, id, { status: "error", content: "", error: "overloaded" });
            await waitFor(() => upstream.disconnects.length === 1, 3_000);
            const attempt = server.lines.findLast((l) => l.includes("model attempt failed"));
            assert.match(attempt ?? "", /"error":"timeout"/);
        });
    }

    it("between-token timeout: the upstream stalls after two tokens → a timeout_error event; stored partial", async () => {
        upstream.reset();
        upstream.setScript({ tokens: ["One", " two", " three"], stallAfterTokens: 2 });
        const id = await conversation(base, token, MODELS.openai);
        const s = await stream(base, token, id, "stall");
        assertBrokenStream(s, "One two", "timeout_error");
        assert.ok(s.elapsedMs >= TIMEOUTS.token * 1000 - 50, `${s.elapsedMs} ms`);
        assert.ok(s.elapsedMs < TIMEOUTS.firstToken * 1000 + 1500, `${s.elapsedMs} ms`);
        await assertStoredAnswer(base, token, id, { status: "partial", content: "One two", error: "timeout" });
        await waitFor(() => upstream.disconnects.length === 1, 3_000);
    });

    it("total timeout: a steady trickle past LLM_TOTAL_TIMEOUT_S → a timeout_error event; stored partial", async () => {
        const tokens = Array.from({ length: 40 }, (_, i) => ` w${i}`);
        upstream.setScript({ tokens, interTokenDelayMs: 150 });
        const id = await conversation(base, token, MODELS.anthropic);
        const s = await stream(base, token, id, "trickle");
        const text = textOf(s.events);
        assertBrokenStream(s, text, "timeout_error");
        assert.ok(text.length > 0 && tokens.join("").startsWith(text) && text !== tokens.join(""), text);
        assert.ok(s.elapsedMs >= TIMEOUTS.total * 1000 - 50, `${s.elapsedMs} ms`);
        assert.ok(s.elapsedMs < TIMEOUTS.total * 1000 + 1500, `${s.elapsedMs} ms`);
        await assertStoredAnswer(base, token, id, { status: "partial", content: text, error: "timeout" });
    });

    it("garbage instead of a stream (200 text/html) → 502 api_error; the answer stored as an error", async () => {
        upstream.setScript({ garbage: "<html><body>Please sign in to the network</body></html>" });
        const id = await conversation(base, token, MODELS.openai);
        const s = await stream(base, token, id, "garbage please");
        assertError(s, 502, "api_error");
        await assertStoredAnswer(base, token, id, { status: "error", content: "", error: "malformed" });
        assert.ok(server.lines.some((l) => l.includes("instead of an event stream")), "the log says what came");
    });

    it("garbage mid-stream (a broken data line) → an error event; stored partial", async () => {
        upstream.setScript({ tokens: ["Fine", " so", " far", " then"], malformedAfterTokens: 3 });
        const id = await conversation(base, token, MODELS.gemini);
        const s = await stream(base, token, id, "break the framing");
        assertBrokenStream(s, "Fine so far", "api_error");
        await assertStoredAnswer(base, token, id, { status: "partial", content: "Fine so far", error: "malformed" });
    });

    it("200 with an error body (overloaded) → 503 overloaded_error; the provider's message is logged", async () => {
        upstream.setScript({ okErrorBody: true, errorStatus: 529, errorMessage: "Overloaded in a 200 body" });
        const id = await conversation(base, token, MODELS.anthropic);
        const s = await stream(base, token, id, "ok but not ok");
        assertError(s, 503, "overloaded_error");
        await assertStoredAnswer(base, token, id, { status: "error", content: "", error: "overloaded" });
        assert.ok(server.lines.some((l) => l.includes("Overloaded in a 200 body")), "the body was read as an error");
    });

    it("200 with an error body (a revoked key) → 502, not retried as an outage", async () => {
        upstream.reset();
        upstream.setScript({ okErrorBody: true, errorStatus: 401, errorMessage: "Incorrect API key provided" });
        const id = await conversation(base, token, MODELS.openai);
        const s = await stream(base, token, id, "who am I");
        assertError(s, 502, "api_error");
        await assertStoredAnswer(base, token, id, { status: "error", content: "", error: "authentication" });
        assert.equal(upstream.requests.length, 1);
    });

    it("still serving after every fault: /health 200 and a normal answer", async () => {
        upstream.setScript({ tokens: ["All", " good"] });
        const health = await fetch(`${base}/health`);
        assert.equal(health.status, 200);
        const id = await conversation(base, token, MODELS.openai);
        const s = await stream(base, token, id, "well?");
        assert.equal(s.events.at(-1).event, "message_stop", describeEvents(s.events));
        await assertStoredAnswer(base, token, id, { status: "complete", content: "All good", error: undefined });
    });
});

// ---- SQLite under pressure -----------------------------------------------------------------------

/** Runs the sqlite3 shell on `db` with `sql`; resolves its output. */
async function sqlite(db, sql) {
    const { stdout } = await run("sqlite3", [db, sql], { timeout: 30_000 });
    return stdout.trim();
}

/**
 * Another process holding SQLite's write lock: a sqlite3 shell inside BEGIN IMMEDIATE. Resolves
 * once the lock is held; `release()` commits and waits for the shell to exit.
 */
async function holdWriteLock(db) {
    const proc = spawn("sqlite3", [db], { stdio: ["pipe", "pipe", "pipe"] });
    let out = "";
    proc.stdout.setEncoding("utf8").on("data", (c) => (out += c));
    proc.stderr.setEncoding("utf8").on("data", (c) => (out += c));
    const exited = new Promise((resolve) => proc.once("close", resolve));
    proc.stdin.write(".timeout 10000\nBEGIN IMMEDIATE;\nSELECT 'lock' || 'ed';\n");
    await waitFor(() => out.includes("locked"), 15_000).catch(() => assert.fail(`sqlite3 did not take the lock: ${out}`));
    return {
        async release() {
            proc.stdin.end("COMMIT;\n.quit\n");
            await exited;
        },
    };
}

describe("SQLite: another process holds the write lock", () => {
    let server;
    let base;
    let token;
    let db;

    before(async () => {
        const dir = makeTempDir("parley-busy-");
        db = path.join(dir, "parley.db");
        // The mock's answer (about 30 words) takes ~3 s: time to take the lock in the middle of one.
        server = await startServer({ env: { ...UNLIMITED, DATABASE_URL: `sqlite://${db}`, MOCK_TOKEN_DELAY_MS: "100" } });
        server.busyDir = dir;
        base = server.baseUrl;
        token = await register(base);
    });

    after(async () => {
        if (server) {
            await stopCleanly(server);
            rmSync(server.busyDir, { recursive: true, force: true });
        }
    });

    it("a lock held for less than the busy timeout is waited out: the write succeeds", async () => {
        const lock = await holdWriteLock(db);
        const started = Date.now();
        const pending = post(base, CONVERSATIONS, { json: { title: "patient" }, token });
        await new Promise((r) => setTimeout(r, 400));
        await lock.release();
        const r = await pending;
        assert.equal(r.res.status, 201, r.text);
        assert.ok(Date.now() - started >= 350);
    });

    it("a lock held past the busy timeout: writes 503 with Retry-After, reads and /health still 200, nothing half-stored; all well after", async () => {
        const id = await conversation(base, token, undefined);
        const lock = await holdWriteLock(db);
        let create;
        let send;
        let streamed;
        try {
            [create, send, streamed] = await Promise.all([
                post(base, CONVERSATIONS, { json: { title: "blocked" }, token }),
                post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content: "blocked send" }, token }),
                stream(base, token, id, "blocked stream"),
                (async () => {
                    // Readers are not blocked by a writer in WAL mode.
                    const list = await get(base, CONVERSATIONS, { token });
                    assert.equal(list.res.status, 200, list.text);
                    const health = await fetch(`${base}/health`);
                    assert.equal(health.status, 200);
                })(),
            ]);
        } finally {
            await lock.release();
        }
        assertError(create, 503, "overloaded_error");
        assert.equal(create.res.headers.get("retry-after"), "1");
        assertError(send, 503, "overloaded_error");
        // The stream had started (the mock answers at once): it ends with an error event.
        assert.equal(streamed.res.status, 200);
        const last = streamed.events.at(-1);
        assert.equal(last.event, "error", describeEvents(streamed.events));
        assert.equal(last.json.error.type, "overloaded_error");
        // Without its user message a turn stores no answer: no orphan rows.
        assert.deepEqual(await messages(base, token, id), []);

        const again = await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content: "after the lock" }, token });
        assert.equal(again.res.status, 200, again.text);
        await stored(base, token, id, 2);
        assert.equal(await sqlite(db, "PRAGMA integrity_check;"), "ok");
    });

    it("the lock is taken mid-answer, so the answer cannot be stored: the stream ends with an overloaded_error event; the user message stays", async () => {
        const id = await conversation(base, token, undefined);
        const res = await fetch(`${base}${CONVERSATIONS}/${id}/messages/stream`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: JSON.stringify({ content: "a long answer please" }),
        });
        assert.equal(res.status, 200);
        const sse = new SseReader(res);
        await sse.until((e) => e.event === "content_block_delta");
        await stored(base, token, id, 1); // the user message is in
        const lock = await holdWriteLock(db);
        let events;
        try {
            events = (await sse.rest(20_000)).filter((e) => e.event !== "ping");
        } finally {
            await lock.release();
        }
        const last = events.at(-1);
        assert.equal(last.event, "error", describeEvents(events));
        assert.equal(last.json.error.type, "overloaded_error", JSON.stringify(last.json));
        assert.ok(!events.some((e) => e.event === "message_stop"));
        const [user] = await stored(base, token, id, 1);
        assert.equal(user.content, "a long answer please");
    });
});

describe("SQLite: the disk fills up", () => {
    let mount;
    let mounted = false;
    let server;
    let base;
    let token;
    let db;
    let filler;

    before(async () => {
        mount = makeTempDir("parley-full-");
        try {
            await run("mount", ["-t", "tmpfs", "-o", "size=6m", "tmpfs", mount]);
            mounted = true;
        } catch (err) {
            return; // not root, or no mount in this container: the test says so and skips
        }
        db = path.join(mount, "parley.db");
        server = await startServer({ env: { ...UNLIMITED, DATABASE_URL: `sqlite://${db}`, MOCK_TOKEN_DELAY_MS: "0" } });
        base = server.baseUrl;
        token = await register(base);
    });

    after(async () => {
        if (server) {
            await stopCleanly(server);
        }
        if (mounted) {
            await run("umount", [mount]).catch(() => run("umount", ["-l", mount]));
        }
        rmSync(mount, { recursive: true, force: true });
    });

    it("writes fail with 503 (no crash), reads go on, and everything recovers when space returns; no acknowledged message lost, no corruption", async (t) => {
        if (!mounted) {
            t.skip("cannot mount a tmpfs here (needs root); the full-disk case is not run");
            return;
        }
        const id = await conversation(base, token, undefined);
        // Fill what is left of the file system.
        filler = path.join(mount, "filler");
        const fd = openSync(filler, "w");
        const block = Buffer.alloc(64 * 1024, 1);
        try {
            for (;;) {
                writeSync(fd, block);
            }
        } catch (err) {
            assert.equal(err.code, "ENOSPC");
        } finally {
            closeSync(fd);
        }
        // Give back 512 KB: some messages go in before the disk is full again.
        truncateSync(filler, statSync(filler).size - 512 * 1024);
        // Send until the database has to grow and cannot (the WAL and free pages absorb a few).
        const acked = [];
        let refused;
        for (let i = 0; i < 400 && !refused; i++) {
            const content = `message ${i} ` + "lorem ipsum dolor sit amet ".repeat(300);
            const r = await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content }, token });
            if (r.res.status === 200) {
                acked.push({ reply: r.body.data.id, content });
            } else {
                refused = r;
            }
        }
        assert.ok(refused, "the full disk was never noticed");
        assert.ok(acked.length > 0, "some messages went in before the disk was full");
        console.log(`full disk: ${acked.length} messages acknowledged before the first 503`);
        assertError(refused, 503, "overloaded_error");
        assert.ok(Number(refused.res.headers.get("retry-after")) > 0);
        const again = await post(base, CONVERSATIONS, { json: { title: "no room" }, token });
        assertError(again, 503, "overloaded_error");
        const read = await get(base, `${CONVERSATIONS}/${id}`, { token });
        assert.equal(read.res.status, 200, read.text);

        // Space returns: writes succeed again without a restart.
        rmSync(filler);
        const back = await waitFor(async () => {
            const r = await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content: "room again" }, token });
            return r.res.status === 200 ? r : undefined;
        }, 10_000);
        acked.push({ reply: back.body.data.id, content: "room again" });

        // Sent one after another: each answer follows its user message.
        const all = await messages(base, token, id);
        for (const a of acked) {
            const at = all.findIndex((m) => m.id === a.reply);
            assert.ok(at > 0, `acknowledged answer ${a.reply} is stored`);
            assert.equal(all[at].status, "complete");
            assert.equal(all[at - 1].role, "user");
            assert.equal(all[at - 1].content, a.content, "its user message is stored, intact");
        }
        assert.equal(await sqlite(db, "PRAGMA integrity_check;"), "ok");
        assert.equal(await sqlite(db, "PRAGMA foreign_key_check;"), "");
    });
});
