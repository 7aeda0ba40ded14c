// Slow and greedy clients over real sockets, against the real binary with short limits set through
// its configuration: many slowloris connections at once, a client that stops reading (slow read),
// a connection flood past MAX_CONNECTIONS while a stream is open, and WebSocket messages over
// WS_MAX_MESSAGE_BYTES. (One slowloris connection, a body that never comes and the idle timeout
// are in foundation.test.mjs; the same cases in-process are in tests/unit/http/session_test.cpp.)
//
//   node --test tests/integration/slow_clients.test.mjs
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { uniqueEmail } from "../support/api.mjs";
import { connect, parseResponses, rawRequest, startServer, waitUntil, watchSocket } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const BUNDLE = "/docs/assets/swagger-ui-bundle.js";  // the largest response the server has

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), []);
    assert.deepEqual(result, { code: 0, signal: null }, server.lines.slice(-30).join("\n"));
}

/** One request on its own connection (no pooled keep-alive socket left behind to count). */
async function request(port, method, path, { token, json } = {}) {
    const body = json === undefined ? "" : JSON.stringify(json);
    const head = [
        `${method} ${path} HTTP/1.1`,
        "Host: x",
        "Connection: close",
        ...(token ? [`Authorization: Bearer ${token}`] : []),
        ...(json === undefined ? [] : ["Content-Type: application/json", `Content-Length: ${Buffer.byteLength(body)}`]),
    ];
    const raw = await rawRequest(port, `${head.join("\r\n")}\r\n\r\n${body}`);
    const [res] = parseResponses(raw.data);
    assert.ok(res, `${method} ${path}: no response: ${raw.data.slice(0, 200)}`);
    return { status: res.status, headers: res.headers, body: res.body ? JSON.parse(res.body) : undefined };
}

/** The resident memory of process `pid`, in bytes. */
function rss(pid) {
    const kb = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
    return Number(kb[1]) * 1024;
}

/** The server's count of open connections (this request's own included). */
async function openConnections(port) {
    const raw = await rawRequest(port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
    const m = /^parley_http_connections_active (\d+)/m.exec(raw.data);
    assert.ok(m, raw.data.slice(0, 300));
    return Number(m[1]);
}

async function signUp(port) {
    const r = await request(port, "POST", "/api/v1/auth/register", {
        json: { email: uniqueEmail("slow"), password: "correct horse battery staple" },
    });
    assert.equal(r.status, 201, JSON.stringify(r.body));
    const token = r.body.data.access_token;
    const c = await request(port, "POST", "/api/v1/conversations", { token, json: { title: "slow" } });
    assert.equal(c.status, 201, JSON.stringify(c.body));
    return { token, conversation: c.body.data.id };
}

describe("slow clients", () => {
    let server;

    before(async () => {
        // A short idle timeout closes the keep-alive connection startServer's readiness probe
        // leaves in fetch's pool, so that the open-connection counts below are this test's own.
        server = await startServer({ env: { ...UNLIMITED, HEADER_TIMEOUT_S: "1", BODY_TIMEOUT_S: "1", IDLE_TIMEOUT_S: "0.5" } });
    });
    after(async () => {
        if (server) {
            await stopCleanly(server);
        }
    });

    it("cuts 30 slowloris connections at HEADER_TIMEOUT_S while serving others", async (t) => {
        const started = Date.now();
        const sockets = await Promise.all(Array.from({ length: 30 }, () => connect(server.port)));
        const watches = sockets.map((s) => {
            s.write("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
            return watchSocket(s);
        });
        const drip = setInterval(() => {
            sockets.forEach((s, i) => !watches[i].isClosed() && s.write("a", () => {}));
        }, 200);
        try {
            // Meanwhile an ordinary client is served at once.
            const ok = await request(server.port, "GET", "/health");
            assert.equal(ok.status, 200);
            const closedAt = await Promise.all(watches.map((w) => w.closed));
            for (const [i, at] of closedAt.entries()) {
                const elapsed = at - started;
                assert.ok(elapsed >= 800 && elapsed <= 4_000, `connection ${i} closed after ${elapsed} ms`);
                assert.equal(watches[i].data(), "", "a request that never finished gets no response");
            }
            const times = closedAt.map((at) => at - started);
            t.diagnostic(`slowloris cut after ${Math.min(...times)}–${Math.max(...times)} ms`);
        } finally {
            clearInterval(drip);
            sockets.forEach((s) => s.destroy());
        }
        await waitUntil(async () => (await openConnections(server.port)) === 1, { what: "the connections to close" });
    });

    it("cuts a client that stops reading at BODY_TIMEOUT_S, without buffering what it did not take", async (t) => {
        const rssBefore = rss(server.proc.pid);
        const one = await rawRequest(server.port, `GET ${BUNDLE} HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n`, {
            timeoutMs: 10_000,
        });
        const [full] = parseResponses(one.data);
        assert.equal(full?.status, 200);
        const size = one.data.length;
        // Far more than the socket buffers of both ends hold (a few MiB each on loopback).
        const count = Math.ceil((128 * 1024 * 1024) / size);
        const socket = await connect(server.port);
        socket.pause();
        let received = 0;
        let ended = false;
        socket.on("data", (c) => (received += c.length));
        socket.on("end", () => (ended = true));
        socket.on("error", () => (ended = true));
        socket.on("close", () => (ended = true));
        const started = Date.now();
        socket.write(`GET ${BUNDLE} HTTP/1.1\r\nHost: x\r\n\r\n`.repeat(count));
        try {
            // The server has the connection (on a loaded machine its accept can come after the
            // first count below, which would then see the count it expects at the end).
            await waitUntil(async () => (await openConnections(server.port)) === 2, {
                timeoutMs: 5_000,
                intervalMs: 20,
                what: "the slow reader's connection to be counted",
            });
            // The server gives up on the write it cannot finish and closes the connection.
            await waitUntil(async () => (await openConnections(server.port)) === 1, {
                timeoutMs: 15_000,
                intervalMs: 200,
                what: "the slow reader to be cut",
            });
            const cutAfter = Date.now() - started;
            assert.ok(cutAfter >= 900, `cut after ${cutAfter} ms`);
            // Responses are written one at a time: the server never held what the client did not take.
            const grew = rss(server.proc.pid) - rssBefore;
            assert.ok(grew < (count * size) / 2, `the server grew by ${grew} bytes`);
            socket.resume();
            await waitUntil(() => ended, { timeoutMs: 10_000, what: "the client to see the close" });
            assert.ok(received < count * size, `received ${received} of ${count * size} bytes`);
            t.diagnostic(
                `slow reader cut after ${cutAfter} ms, having taken ${received} of ${count * size} bytes; ` +
                    `server RSS grew by ${grew} bytes`
            );
        } finally {
            socket.destroy();
        }
        const ok = await request(server.port, "GET", "/health");
        assert.equal(ok.status, 200);
    });
});

describe("a connection flood past MAX_CONNECTIONS", () => {
    let server;

    before(async () => {
        server = await startServer({
            // The header timeout outlasts the test: an accepted flood connection is never closed by it.
            env: { ...UNLIMITED, MAX_CONNECTIONS: "6", HEADER_TIMEOUT_S: "60", IDLE_TIMEOUT_S: "0.5" },
        });
    });
    after(async () => {
        if (server) {
            await stopCleanly(server);
        }
    });

    it("is answered 503 overloaded_error and closed, while an open stream goes on", async () => {
        const { token, conversation } = await signUp(server.port);
        // The stream: the conversation's event feed.
        const events = [];
        const stream = await new Promise((resolve, reject) => {
            const req = http.get(
                {
                    host: "127.0.0.1",
                    port: server.port,
                    path: `/api/v1/conversations/${conversation}/events`,
                    headers: { authorization: `Bearer ${token}`, accept: "text/event-stream" },
                    agent: false,
                },
                (res) => {
                    res.setEncoding("utf8");
                    res.on("data", (c) => events.push(c));
                    resolve({ req, res });
                }
            );
            req.on("error", reject);
        });
        assert.equal(stream.res.statusCode, 200);
        await waitUntil(async () => (await openConnections(server.port)) === 2, { what: "only the stream to be open" });

        // 20 connections that wait for the server to speak first: 5 fit, 15 are refused.
        const flood = await Promise.all(Array.from({ length: 20 }, () => connect(server.port)));
        const watches = flood.map((s) => watchSocket(s));
        try {
            await waitUntil(() => watches.filter((w) => w.isClosed()).length >= 15, {
                timeoutMs: 10_000,
                what: "15 refusals",
            });
            // Give a wrongly refused sixth one time to show itself.
            await new Promise((r) => setTimeout(r, 300));
            const refused = watches.filter((w) => w.isClosed());
            assert.equal(refused.length, 15);
            for (const w of refused) {
                const [res] = parseResponses(w.data());
                assert.equal(res?.status, 503, w.data());
                assert.equal(res.headers.connection, "close");
                assert.equal(res.headers["retry-after"], "1");
                const body = JSON.parse(res.body);
                assert.equal(body.status, "error");
                assert.equal(body.error.type, "overloaded_error");
                assert.equal(body.error.request_id, res.headers["x-request-id"]);
            }
            assert.equal(stream.res.readableEnded, false, "the stream is still open");
        } finally {
            flood.forEach((s) => s.destroy());
        }

        // Once the flood is gone the server serves again, and the stream still delivers events.
        // (Until the server has seen the flood sockets close, a request may still be refused.)
        let refusedLater = 0;
        await waitUntil(async () => {
            const r = await request(server.port, "PATCH", `/api/v1/conversations/${conversation}`, {
                token,
                json: { title: "after the flood" },
            }).catch(() => undefined);
            refusedLater += r?.status === 503 ? 1 : 0;
            return r?.status === 200;
        }, { what: "a request to be served after the flood" });
        await waitUntil(() => events.join("").includes("after the flood"), { what: "the event on the stream" });
        assert.match(events.join(""), /conversation\.updated/);
        const metrics = await rawRequest(server.port, "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const counted = /^parley_http_connections_refused_total (\d+)$/m.exec(metrics.data);
        assert.equal(Number(counted?.[1]), 15 + refusedLater, "refusals counted in /metrics");
        stream.req.destroy();
    });
});

describe("oversized WebSocket messages", () => {
    let server;
    let url;
    let token;

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, WS_MAX_MESSAGE_BYTES: "4096" } });
        const s = await signUp(server.port);
        token = s.token;
        url = `ws://127.0.0.1:${server.port}/api/v1/conversations/${s.conversation}/ws`;
    });
    after(async () => {
        if (server) {
            await stopCleanly(server);
        }
    });

    /** Opens the socket, runs `send(ws)`, resolves { code, frames } at close or after quietMs. */
    function exchange(send, quietMs = 2_000) {
        return new Promise((resolve, reject) => {
            const ws = new WebSocket(url, { headers: { authorization: `Bearer ${token}` } });
            const frames = [];
            const timer = setTimeout(() => {
                resolve({ code: undefined, frames, ws });
            }, quietMs);
            ws.on("message", (d) => frames.push(String(d)));
            ws.on("open", () => send(ws));
            ws.on("close", (code) => {
                clearTimeout(timer);
                resolve({ code, frames, ws });
            });
            ws.on("error", (e) => {
                clearTimeout(timer);
                reject(e);
            });
        });
    }

    it("a single frame over the limit is refused with close code 1009", async () => {
        const r = await exchange((ws) => ws.send("x".repeat(5_000)));
        assert.equal(r.code, 1009);
    });

    it("a message over the limit in small fragments is refused with close code 1009", async () => {
        const r = await exchange((ws) => {
            ws.send("x".repeat(2_000), { fin: false });
            ws.send("x".repeat(2_000), { fin: false });
            ws.send("x".repeat(2_000), { fin: true });
        });
        assert.equal(r.code, 1009);
    });

    it("a message within the limit is answered and the connection stays open", async () => {
        const send = (ws) => ws.send(JSON.stringify({ type: "ping", pad: "x".repeat(3_000) }));
        let r = await exchange(send, 1_000);
        // The session's previous socket (closed with 1009 just before) releases its claim just
        // after the close handshake: until then a new one is refused as already open.
        for (let i = 0; i < 20 && r.code === 1000 && r.frames.some((f) => f.includes("already open")); i++) {
            await new Promise((done) => setTimeout(done, 50));
            r = await exchange(send, 1_000);
        }
        assert.equal(r.code, undefined, "still open");
        assert.ok(r.frames.length > 0, "the server answered");
        r.ws.terminate();
    });
});
