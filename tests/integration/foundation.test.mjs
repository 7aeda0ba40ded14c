// Integration tests of Parley's HTTP foundation against the real binary: system routes, the error
// envelope, limits and timeouts, keep-alive, security headers, request ids, CORS, metrics, the API
// docs, graceful shutdown, configuration and the CLI.
//
//   node --test tests/integration/

import assert from "node:assert/strict";
import { existsSync, mkdirSync, readFileSync, rmSync, statSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import {
    connect,
    makeTempDir,
    parseLogLine,
    parseResponses,
    rawRequest,
    runParley,
    startServer,
    waitForExit,
    waitUntil,
    watchSocket,
} from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;

// Stops a server and checks it exited cleanly: code 0 and no sanitizer report in its output.
async function stopCleanly(server, signal = "SIGTERM") {
    const result = await server.stop(signal);
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.join("\n")}`);
    return result;
}

async function getJson(url, init) {
    const res = await fetch(url, init);
    const text = await res.text();
    let body;
    try {
        body = JSON.parse(text);
    } catch {
        assert.fail(`${init?.method ?? "GET"} ${url}: body is not JSON: ${text.slice(0, 200)}`);
    }
    return { res, body };
}

// Asserts the structured error envelope, exactly, and returns it.
function assertErrorBody(body, { type, requestId }) {
    assert.equal(typeof body?.error?.message, "string", JSON.stringify(body));
    assert.ok(body.error.message.length > 0);
    assert.deepEqual(body, {
        status: "error",
        error: { type, message: body.error.message, request_id: requestId ?? body.error.request_id },
    });
    assert.equal(typeof body.error.request_id, "string");
    assert.ok(body.error.request_id.length > 0);
    return body.error;
}

function assertSecurityHeaders(headers, label) {
    const get = (name) => (typeof headers.get === "function" ? headers.get(name) : headers[name]);
    assert.equal(get("x-content-type-options"), "nosniff", label);
    assert.equal(get("x-frame-options"), "DENY", label);
    assert.ok(get("referrer-policy"), `${label}: Referrer-Policy`);
    assert.equal(get("strict-transport-security") ?? null, null, `${label}: no HSTS by default`);
}

const SANE_ID = /^[A-Za-z0-9._:-]{1,128}$/;

// Resolves true once a TCP connection to port is refused (the listeners are closed).
async function connectionRefused(port) {
    return new Promise((resolve) => {
        const socket = net.connect({ port, host: "127.0.0.1" });
        socket.once("connect", () => {
            socket.destroy();
            resolve(false);
        });
        socket.once("error", (err) => {
            socket.destroy();
            resolve(err.code === "ECONNREFUSED");
        });
    });
}

describe("parley foundation", () => {
    let server;
    let base;

    before(async () => {
        server = await startServer();
        base = server.baseUrl;
    });

    after(async () => {
        if (server) {
            await stopCleanly(server);
        }
    });

    describe("system routes", () => {
        for (const route of ["/health", "/api/health"]) {
            it(`GET ${route} reports ok with version, uptime and the database check`, async () => {
                const { res, body } = await getJson(`${base}${route}`);
                assert.equal(res.status, 200);
                assert.match(res.headers.get("content-type"), /^application\/json/);
                assert.deepEqual(Object.keys(body).sort(), ["checks", "database", "status", "uptime_s", "version"]);
                assert.equal(body.status, "ok");
                assert.equal(body.database, "connected", "seed 003's top-level field");
                assert.equal(typeof body.version, "string");
                assert.match(body.version, /^\d+\.\d+\.\d+/);
                assert.equal(typeof body.uptime_s, "number");
                assert.ok(Number.isFinite(body.uptime_s) && body.uptime_s >= 0);
                assert.deepEqual(body.checks, { database: "ok" });
                assert.ok(res.headers.get("x-request-id"));
            });
        }

        it("HEAD /health answers 200 with the headers and no body", async () => {
            const res = await fetch(`${base}/health`, { method: "HEAD" });
            assert.equal(res.status, 200);
            assert.match(res.headers.get("content-type"), /^application\/json/);
            assert.equal(await res.text(), "");

            // On the wire: Content-Length of the GET, zero body bytes after the header block.
            const raw = await rawRequest(server.port, "HEAD /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
            assert.ok(raw.closed);
            const end = raw.data.indexOf("\r\n\r\n");
            assert.ok(end > 0, raw.data);
            assert.match(raw.data, /^HTTP\/1\.1 200 /);
            assert.equal(raw.data.slice(end + 4), "", "no body after HEAD headers");
            const [head] = parseResponses(raw.data, { headOnly: [0] });
            assert.ok(Number(head.headers["content-length"]) > 0);
        });

        it("GET / describes the API", async () => {
            const { res, body } = await getJson(`${base}/`);
            assert.equal(res.status, 200);
            assert.equal(body.status, "success");
            assert.equal(body.data.name, "Parley");
            assert.equal(typeof body.data.version, "string");
            const health = await getJson(`${base}/health`);
            assert.equal(body.data.version, health.body.version);
            assert.equal(typeof body.data.links, "object");
            assert.equal(body.data.links.health, "/health");
            assert.equal(body.data.links.openapi, "/openapi.json");
            assert.equal(body.data.links.docs, "/docs");
            assert.equal(body.data.links.redoc, "/redoc");
            assert.equal(body.data.links.metrics, "/metrics");
            const seed004 = { websocket: "/ws/session/{session_id}", health: "/api/health" };
            assert.deepEqual(body.endpoints, seed004, "seed 004's top-level field");
            assert.deepEqual(body.data.endpoints, seed004);
        });

        it("GET /openapi.json is an OpenAPI 3.1.0 document listing /health", async () => {
            const { res, body } = await getJson(`${base}/openapi.json`);
            assert.equal(res.status, 200);
            assert.match(res.headers.get("content-type"), /^application\/json/);
            assert.equal(body.openapi, "3.1.0");
            assert.equal(typeof body.paths, "object");
            assert.ok("/health" in body.paths, Object.keys(body.paths).join(", "));
        });
    });

    describe("errors", () => {
        it("an unknown path is a 404 with the error envelope and the request id", async () => {
            const { res, body } = await getJson(`${base}/no/such/route`);
            assert.equal(res.status, 404);
            assert.match(res.headers.get("content-type"), /^application\/json/);
            const requestId = res.headers.get("x-request-id");
            assert.ok(requestId);
            assertErrorBody(body, { type: "not_found_error", requestId });
        });

        it("a trailing slash is a different path (404)", async () => {
            const res = await fetch(`${base}/health/`);
            await res.arrayBuffer();
            assert.equal(res.status, 404);
        });

        for (const [method, route] of [
            ["POST", "/health"],
            ["DELETE", "/metrics"],
            ["PUT", "/"],
        ]) {
            it(`${method} ${route} is a 405 with Allow`, async () => {
                const { res, body } = await getJson(`${base}${route}`, { method });
                assert.equal(res.status, 405);
                const allow = res.headers.get("allow");
                assert.ok(allow, "Allow header");
                const methods = allow.split(",").map((m) => m.trim());
                assert.ok(methods.includes("GET"), allow);
                assert.ok(!methods.includes(method), allow);
                assertErrorBody(body, { type: "invalid_request_error", requestId: res.headers.get("x-request-id") });
            });
        }

        it("OPTIONS on a known path without CORS headers is a 204 listing the methods", async () => {
            const res = await fetch(`${base}/health`, { method: "OPTIONS" });
            assert.equal(res.status, 204);
            assert.equal(await res.text(), "");
            const methods = res.headers.get("allow").split(",").map((m) => m.trim());
            assert.deepEqual(methods.sort(), ["GET", "HEAD", "OPTIONS"]);
        });

        it("a malformed request line gets a 400 JSON error and the connection is closed", async () => {
            const raw = await rawRequest(server.port, "GARBAGE\r\n\r\n");
            assert.ok(raw.closed, "server closed the connection");
            const [res, ...more] = parseResponses(raw.data);
            assert.equal(more.length, 0);
            assert.equal(res.status, 400, raw.data);
            assert.match(res.headers["content-type"], /^application\/json/);
            assert.equal(res.headers.connection, "close");
            assertErrorBody(JSON.parse(res.body), {
                type: "invalid_request_error",
                requestId: res.headers["x-request-id"],
            });
            assertSecurityHeaders(res.headers, "400");
        });

        it("an invalid header line gets a 400 and the connection is closed", async () => {
            const raw = await rawRequest(server.port, "GET /health HTTP/1.1\r\nHost: x\r\nno colon here\r\n\r\n");
            assert.ok(raw.closed);
            const [res] = parseResponses(raw.data);
            assert.equal(res.status, 400, raw.data);
            assert.equal(JSON.parse(res.body).error.type, "invalid_request_error");
        });

        for (const coding of ["gzip", "xchunked", "chunked, gzip", "gzip, xchunked", "identity", ""]) {
            it(`Transfer-Encoding: "${coding}" (chunked not the final coding) is a 400 and the connection is closed`, async () => {
                // RFC 9112 §6.3: the body's length cannot be determined; the server MUST answer 400
                // and close. A request pipelined behind it must not be answered.
                const body = '{"email":"te@example.com","password":"SecurePass123"}';
                const raw = await rawRequest(
                    server.port,
                    "POST /api/v1/auth/register HTTP/1.1\r\nHost: x\r\nContent-Type: application/json\r\n" +
                        `Transfer-Encoding: ${coding}\r\n\r\n${body}` +
                        "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"
                );
                assert.ok(raw.closed, "server closed the connection");
                const responses = parseResponses(raw.data);
                assert.equal(responses.length, 1, raw.data);
                const [res] = responses;
                assert.equal(res.status, 400, raw.data);
                assert.equal(res.headers.connection, "close");
                const error = assertErrorBody(JSON.parse(res.body), {
                    type: "invalid_request_error",
                    requestId: res.headers["x-request-id"],
                });
                assert.match(error.message, /Transfer-Encoding/);
            });
        }

        it("Transfer-Encoding: chunked (the final coding) is read as usual", async () => {
            const raw = await rawRequest(
                server.port,
                "POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\nConnection: close\r\n\r\n" +
                    "5\r\nhello\r\n0\r\n\r\n"
            );
            const [res] = parseResponses(raw.data);
            assert.equal(res?.status, 405, raw.data.slice(0, 300));
        });

        it("routes on the path only: a query string does not change the match", async () => {
            const { res, body } = await getJson(`${base}/health?verbose=1&x=%20`);
            assert.equal(res.status, 200);
            assert.equal(body.status, "ok");
        });

        it("answers Expect: 100-continue with 100, then the final response", async () => {
            const socket = await connect(server.port);
            const watch = watchSocket(socket);
            try {
                socket.write(
                    "POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 5\r\nExpect: 100-continue\r\n" +
                        "Connection: close\r\n\r\n"
                );
                await waitUntil(() => watch.data().includes("\r\n\r\n"), { what: "100 Continue" });
                assert.match(watch.data(), /^HTTP\/1\.1 100 /);
                socket.write("hello");
                await watch.closed;
                const [res] = parseResponses(watch.data());
                assert.equal(res.status, 405);
            } finally {
                socket.destroy();
            }
        });

        it("the server keeps serving after rejected requests", async () => {
            const res = await fetch(`${base}/health`);
            await res.arrayBuffer();
            assert.equal(res.status, 200);
        });
    });

    describe("size limits", () => {
        it("a 2 MiB body is a 413 request_too_large, read before the connection closes", async () => {
            const size = 2 * 1024 * 1024;
            const head =
                "POST /health HTTP/1.1\r\nHost: x\r\nContent-Type: application/octet-stream\r\n" +
                `Content-Length: ${size}\r\n\r\n`;
            const raw = await rawRequest(server.port, Buffer.concat([Buffer.from(head), Buffer.alloc(size, 0x61)]), {
                timeoutMs: 10_000,
            });
            assert.ok(raw.closed, "server closed the connection");
            const [res] = parseResponses(raw.data);
            assert.ok(res, `a complete response, got: ${raw.data.slice(0, 300)} (error ${raw.error})`);
            assert.equal(res.status, 413);
            assert.equal(res.headers.connection, "close");
            assertErrorBody(JSON.parse(res.body), {
                type: "request_too_large",
                requestId: res.headers["x-request-id"],
            });
            assertSecurityHeaders(res.headers, "413");
            assert.equal(res.headers["cache-control"], "no-store");
        });

        it("a 2 MiB chunked body is a 413 too", async () => {
            const chunk = Buffer.alloc(64 * 1024, 0x62);
            const parts = [Buffer.from("POST /health HTTP/1.1\r\nHost: x\r\nTransfer-Encoding: chunked\r\n\r\n")];
            for (let i = 0; i < 32; i++) {
                parts.push(Buffer.from(`${chunk.length.toString(16)}\r\n`), chunk, Buffer.from("\r\n"));
            }
            parts.push(Buffer.from("0\r\n\r\n"));
            const raw = await rawRequest(server.port, Buffer.concat(parts), { timeoutMs: 10_000 });
            assert.ok(raw.closed);
            const [res] = parseResponses(raw.data);
            assert.ok(res, `a complete response, got: ${raw.data.slice(0, 300)} (error ${raw.error})`);
            assert.equal(res.status, 413);
            assert.equal(JSON.parse(res.body).error.type, "request_too_large");
        });

        it("a 2 MiB body sent with fetch gets the 413 response", async () => {
            const { res, body } = await getJson(`${base}/health`, {
                method: "POST",
                headers: { "content-type": "application/octet-stream" },
                body: Buffer.alloc(2 * 1024 * 1024, 0x63),
            });
            assert.equal(res.status, 413);
            assertErrorBody(body, { type: "request_too_large", requestId: res.headers.get("x-request-id") });
        });

        it("a 20 KiB header value is a 431 request_too_large", async () => {
            const raw = await rawRequest(
                server.port,
                `GET /health HTTP/1.1\r\nHost: x\r\nX-Big: ${"a".repeat(20 * 1024)}\r\n\r\n`
            );
            assert.ok(raw.closed);
            const [res] = parseResponses(raw.data);
            assert.ok(res, raw.data.slice(0, 300));
            assert.equal(res.status, 431);
            assertErrorBody(JSON.parse(res.body), {
                type: "request_too_large",
                requestId: res.headers["x-request-id"],
            });
            assertSecurityHeaders(res.headers, "431");
        });

        it("a header block just under the limit is accepted", async () => {
            const raw = await rawRequest(
                server.port,
                `GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\nX-Big: ${"a".repeat(12 * 1024)}\r\n\r\n`
            );
            const [res] = parseResponses(raw.data);
            assert.equal(res?.status, 200, raw.data.slice(0, 300));
        });

        // `count` header fields in all, Host included.
        const withFields = (count, extra = "") => {
            let head = `GET /health HTTP/1.1\r\nHost: x\r\n${extra}`;
            const already = 1 + (extra.match(/\r\n/g) ?? []).length;
            for (let i = already; i < count; i++) {
                head += `X-F${i}: ${i}\r\n`;
            }
            return `${head}\r\n`;
        };

        it("500 small header fields are a 431 request_too_large and the connection is closed", async () => {
            const raw = await rawRequest(server.port, withFields(500));
            assert.ok(raw.closed);
            const [res, ...more] = parseResponses(raw.data);
            assert.ok(res, raw.data.slice(0, 300));
            assert.equal(more.length, 0);
            assert.equal(res.status, 431);
            assert.equal(res.headers.connection, "close");
            const error = assertErrorBody(JSON.parse(res.body), {
                type: "request_too_large",
                requestId: res.headers["x-request-id"],
            });
            assert.match(error.message, /100 header fields/);
            assertSecurityHeaders(res.headers, "431");
        });

        it("MAX_HEADER_FIELDS (100) fields are accepted, one more is a 431", async () => {
            const at = await rawRequest(server.port, withFields(100, "Connection: close\r\n"));
            assert.equal(parseResponses(at.data)[0]?.status, 200, at.data.slice(0, 300));
            const over = await rawRequest(server.port, withFields(101, "Connection: close\r\n"));
            assert.equal(parseResponses(over.data)[0]?.status, 431, over.data.slice(0, 300));
        });

        describe("with MAX_HEADER_FIELDS=20", () => {
            // Not much lower: the readiness check's fetch sends about seven fields itself.
            let few;
            before(async () => {
                few = await startServer({ env: { MAX_HEADER_FIELDS: "20" } });
            });
            after(async () => {
                if (few) {
                    await stopCleanly(few);
                }
            });

            it("20 fields are accepted, 21 are a 431", async () => {
                const at = await rawRequest(few.port, withFields(20, "Connection: close\r\n"));
                assert.equal(parseResponses(at.data)[0]?.status, 200, at.data.slice(0, 300));
                const over = await rawRequest(few.port, withFields(21, "Connection: close\r\n"));
                const [res] = parseResponses(over.data);
                assert.equal(res?.status, 431, over.data.slice(0, 300));
                assert.match(JSON.parse(res.body).error.message, /20 header fields/);
            });
        });

        describe("with MAX_BODY_BYTES=2048", () => {
            let small;
            before(async () => {
                small = await startServer({ env: { MAX_BODY_BYTES: "2048" } });
            });
            after(async () => {
                if (small) {
                    await stopCleanly(small);
                }
            });

            it("a 4 KiB body is a 413", async () => {
                const { res, body } = await getJson(`${small.baseUrl}/health`, {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body: JSON.stringify({ pad: "x".repeat(4096) }),
                });
                assert.equal(res.status, 413);
                assertErrorBody(body, { type: "request_too_large", requestId: res.headers.get("x-request-id") });
            });

            it("a 1 KiB body is within the limit (the route's own 405)", async () => {
                const { res, body } = await getJson(`${small.baseUrl}/health`, {
                    method: "POST",
                    headers: { "content-type": "application/json" },
                    body: JSON.stringify({ pad: "x".repeat(1024) }),
                });
                assert.equal(res.status, 405);
                assert.equal(body.error.type, "invalid_request_error");
            });
        });
    });

    describe("keep-alive", () => {
        it("answers two pipelined requests on one connection", async () => {
            const raw = await rawRequest(
                server.port,
                "GET /health HTTP/1.1\r\nHost: x\r\n\r\n" + "GET / HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n"
            );
            assert.ok(raw.closed);
            const responses = parseResponses(raw.data);
            assert.equal(responses.length, 2, raw.data);
            assert.equal(responses[0].status, 200);
            assert.equal(JSON.parse(responses[0].body).status, "ok");
            assert.notEqual(responses[0].headers.connection, "close");
            assert.equal(responses[1].status, 200);
            assert.equal(JSON.parse(responses[1].body).data.name, "Parley");
            assert.equal(responses[1].headers.connection, "close");
            assert.notEqual(responses[0].headers["x-request-id"], responses[1].headers["x-request-id"]);
        });

        it("answers sequential requests on one connection", async () => {
            const socket = await connect(server.port);
            const watch = watchSocket(socket);
            try {
                for (let i = 1; i <= 3; i++) {
                    socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
                    await waitUntil(() => parseResponses(watch.data()).length === i, { what: `response ${i}` });
                    assert.ok(!watch.isClosed());
                }
                const responses = parseResponses(watch.data());
                assert.deepEqual(responses.map((r) => r.status), [200, 200, 200]);
            } finally {
                socket.destroy();
            }
        });

        it("closes after an HTTP/1.0 request without keep-alive", async () => {
            const raw = await rawRequest(server.port, "GET /health HTTP/1.0\r\n\r\n");
            assert.ok(raw.closed);
            const [res] = parseResponses(raw.data);
            assert.equal(res.status, 200);
        });
    });

    describe("security headers", () => {
        it("are on 200, 404 and 405 responses, with Cache-Control: no-store and no HSTS", async () => {
            for (const [method, route, status] of [
                ["GET", "/health", 200],
                ["GET", "/", 200],
                ["GET", "/nope", 404],
                ["POST", "/health", 405],
            ]) {
                const res = await fetch(`${base}${route}`, { method });
                await res.arrayBuffer();
                assert.equal(res.status, status, `${method} ${route}`);
                assertSecurityHeaders(res.headers, `${method} ${route}`);
                assert.equal(res.headers.get("cache-control"), "no-store", `${method} ${route}`);
            }
        });

        it("/docs HTML has a Content-Security-Policy", async () => {
            const res = await fetch(`${base}/docs`);
            await res.arrayBuffer();
            assert.equal(res.status, 200);
            const csp = res.headers.get("content-security-policy");
            assert.ok(csp, "Content-Security-Policy header");
            assert.match(csp, /default-src 'self'/);
            assert.match(csp, /frame-ancestors 'none'/);
            assert.doesNotMatch(csp, /script-src[^;]*'unsafe-inline'/);
            assertSecurityHeaders(res.headers, "/docs");
        });

        describe("with HSTS_MAX_AGE=31536000", () => {
            let hsts;
            before(async () => {
                hsts = await startServer({ env: { HSTS_MAX_AGE: "31536000" } });
            });
            after(async () => {
                if (hsts) {
                    await stopCleanly(hsts);
                }
            });

            it("sends Strict-Transport-Security on 200 and 404", async () => {
                for (const [route, status] of [
                    ["/health", 200],
                    ["/nope", 404],
                ]) {
                    const res = await fetch(`${hsts.baseUrl}${route}`);
                    await res.arrayBuffer();
                    assert.equal(res.status, status);
                    assert.match(res.headers.get("strict-transport-security") ?? "", /(^|;\s*)max-age=31536000(;|$)/);
                }
            });
        });
    });

    describe("request ids", () => {
        it("echoes a sane X-Request-ID in the header and in an error body", async () => {
            const ok = await fetch(`${base}/health`, { headers: { "x-request-id": "my-trace-123" } });
            await ok.arrayBuffer();
            assert.equal(ok.headers.get("x-request-id"), "my-trace-123");

            const { res, body } = await getJson(`${base}/missing`, { headers: { "x-request-id": "my-trace-123" } });
            assert.equal(res.status, 404);
            assert.equal(res.headers.get("x-request-id"), "my-trace-123");
            assert.equal(body.error.request_id, "my-trace-123");
        });

        it("accepts an id of 128 characters", async () => {
            const id = "a".repeat(128);
            const res = await fetch(`${base}/health`, { headers: { "x-request-id": id } });
            await res.arrayBuffer();
            assert.equal(res.headers.get("x-request-id"), id);
        });

        for (const [label, id] of [
            ["200 characters", "b".repeat(200)],
            ["129 characters", "c".repeat(129)],
            ["spaces", "my trace 123"],
            ["quotes", 'trace"123\''],
            ["angle brackets", "<script>"],
        ]) {
            it(`replaces an insane id (${label}) with a generated one`, async () => {
                const { res, body } = await getJson(`${base}/missing`, { headers: { "x-request-id": id } });
                const got = res.headers.get("x-request-id");
                assert.ok(got);
                assert.notEqual(got, id);
                assert.match(got, SANE_ID);
                assert.equal(body.error.request_id, got);
            });
        }

        it("generates distinct ids when none is sent", async () => {
            const ids = [];
            for (let i = 0; i < 2; i++) {
                const res = await fetch(`${base}/health`);
                await res.arrayBuffer();
                ids.push(res.headers.get("x-request-id"));
            }
            for (const id of ids) {
                assert.match(id ?? "", SANE_ID);
            }
            assert.notEqual(ids[0], ids[1]);
        });
    });

    describe("CORS", () => {
        const allowed = "https://app.example.com";
        const evil = "https://evil.example";
        let cors;

        before(async () => {
            cors = await startServer({ env: { ALLOWED_ORIGINS: allowed } });
        });
        after(async () => {
            if (cors) {
                await stopCleanly(cors);
            }
        });

        it("answers a preflight from an allowed origin with 204 and the allow headers", async () => {
            const res = await fetch(`${cors.baseUrl}/api/health`, {
                method: "OPTIONS",
                headers: {
                    origin: allowed,
                    "access-control-request-method": "POST",
                    "access-control-request-headers": "content-type, authorization",
                },
            });
            assert.equal(res.status, 204);
            assert.equal(await res.text(), "");
            assert.equal(res.headers.get("access-control-allow-origin"), allowed);
            const methods = (res.headers.get("access-control-allow-methods") ?? "").split(",").map((m) => m.trim());
            assert.ok(methods.includes("POST"), methods.join());
            const headers = (res.headers.get("access-control-allow-headers") ?? "")
                .split(",")
                .map((h) => h.trim().toLowerCase());
            assert.ok(headers.includes("content-type") && headers.includes("authorization"), headers.join());
            assert.match(res.headers.get("vary") ?? "", /\bOrigin\b/);
            assertSecurityHeaders(res.headers, "preflight");
        });

        it("refuses a preflight from another origin with 403 permission_error", async () => {
            const { res, body } = await getJson(`${cors.baseUrl}/api/health`, {
                method: "OPTIONS",
                headers: { origin: evil, "access-control-request-method": "POST" },
            });
            assert.equal(res.status, 403);
            assert.equal(res.headers.get("access-control-allow-origin"), null);
            assert.equal(res.headers.get("access-control-allow-methods"), null);
            assert.match(res.headers.get("vary") ?? "", /\bOrigin\b/);
            assertErrorBody(body, { type: "permission_error", requestId: res.headers.get("x-request-id") });
        });

        it("adds Access-Control-Allow-Origin to a simple GET from an allowed origin only", async () => {
            const ok = await fetch(`${cors.baseUrl}/health`, { headers: { origin: allowed } });
            await ok.arrayBuffer();
            assert.equal(ok.status, 200);
            assert.equal(ok.headers.get("access-control-allow-origin"), allowed);
            assert.match(ok.headers.get("access-control-expose-headers") ?? "", /X-Request-ID/i);
            assert.match(ok.headers.get("vary") ?? "", /\bOrigin\b/);

            const other = await fetch(`${cors.baseUrl}/health`, { headers: { origin: evil } });
            await other.arrayBuffer();
            assert.equal(other.status, 200);
            assert.equal(other.headers.get("access-control-allow-origin"), null);

            const none = await fetch(`${cors.baseUrl}/health`);
            await none.arrayBuffer();
            assert.equal(none.headers.get("access-control-allow-origin"), null);
        });

        it("does not match origins loosely", async () => {
            for (const origin of [`${allowed}.evil.example`, "http://app.example.com", "null", "https://APP.example.com:443x"]) {
                const res = await fetch(`${cors.baseUrl}/health`, { headers: { origin } });
                await res.arrayBuffer();
                assert.equal(res.headers.get("access-control-allow-origin"), null, origin);
            }
        });

        it("allows no origin at all when ALLOWED_ORIGINS is unset", async () => {
            const res = await fetch(`${base}/api/health`, {
                method: "OPTIONS",
                headers: { origin: allowed, "access-control-request-method": "GET" },
            });
            await res.arrayBuffer();
            assert.equal(res.status, 403);
            assert.equal(res.headers.get("access-control-allow-origin"), null);
        });
    });

    describe("metrics", () => {
        const healthCount = (text) => {
            const m = /^parley_http_requests_total\{route="\/health",method="GET",status="200"\} (\d+)$/m.exec(text);
            return m ? Number(m[1]) : 0;
        };

        it("counts requests by route, method and status, with a latency histogram", async () => {
            const before = await (await fetch(`${base}/metrics`)).text();
            const n = 5;
            for (let i = 0; i < n; i++) {
                const res = await fetch(`${base}/health`);
                await res.arrayBuffer();
                assert.equal(res.status, 200);
            }
            const miss = await fetch(`${base}/definitely-missing`);
            await miss.arrayBuffer();

            const res = await fetch(`${base}/metrics`);
            const text = await res.text();
            assert.equal(res.status, 200);
            assert.match(res.headers.get("content-type"), /^text\/plain/);
            assert.match(text, /^parley_http_requests_total\{route="\/health",method="GET",status="200"\} \d+$/m);
            assert.ok(healthCount(text) >= n, `count ${healthCount(text)} >= ${n}`);
            assert.ok(healthCount(text) - healthCount(before) >= n, "the count grew by the requests made");
            assert.match(text, /^parley_http_requests_total\{route="unmatched",method="GET",status="404"\} \d+$/m);
            assert.match(text, /^parley_http_request_duration_seconds_bucket\{route="\/health",method="GET",le="[^"]+"\} \d+$/m);
            assert.match(text, /^parley_http_request_duration_seconds_bucket\{route="\/health",method="GET",le="\+Inf"\} \d+$/m);
            assert.match(text, /^parley_http_connections_active \d+/m);
            // The raw path of an unmatched request never becomes a label (cardinality).
            assert.doesNotMatch(text, /definitely-missing/);
        });
    });

    it(
        "records a rejected request under its real method in metrics",
        async () => {
            const raw = await rawRequest(
                server.port,
                "POST /metrics-probe HTTP/1.1\r\nHost: x\r\nContent-Length: 99999999\r\n\r\n"
            );
            assert.equal(parseResponses(raw.data)[0]?.status, 413);
            const text = await (await fetch(`${base}/metrics`)).text();
            assert.match(text, /^parley_http_requests_total\{route="rejected",method="POST",status="413"\} \d+$/m);
        }
    );

    describe("API docs", () => {
        for (const page of ["/docs", "/redoc"]) {
            it(`${page} is self-contained HTML whose assets are served locally`, async () => {
                const res = await fetch(`${base}${page}`);
                const html = await res.text();
                assert.equal(res.status, 200);
                assert.match(res.headers.get("content-type"), /^text\/html/);
                assert.ok(res.headers.get("content-security-policy"));

                const refs = [...html.matchAll(/\b(?:src|href)\s*=\s*(?:"([^"]*)"|'([^']*)'|([^\s>]+))/gi)].map(
                    (m) => m[1] ?? m[2] ?? m[3]
                );
                assert.ok(refs.length > 0, "the page references its assets");
                for (const ref of refs) {
                    assert.ok(ref.startsWith("/") && !ref.startsWith("//"), `local reference: ${ref}`);
                    assert.doesNotMatch(ref, /https?:\/\//);
                }
                const assets = refs.filter((r) => r.startsWith("/docs/assets/"));
                assert.ok(assets.length > 0, refs.join(", "));
                for (const asset of assets) {
                    const a = await fetch(`${base}${asset}`);
                    const body = await a.arrayBuffer();
                    assert.equal(a.status, 200, asset);
                    assert.match(a.headers.get("content-type") ?? "", /^(text|application)\/(javascript|css)/, asset);
                    assert.ok(body.byteLength > 0, `${asset} is not empty`);
                    assert.match(a.headers.get("cache-control") ?? "", /max-age=\d+/, asset);
                }
            });
        }

        it("an unknown asset is a 404 error envelope", async () => {
            const { res, body } = await getJson(`${base}/docs/assets/nope.js`);
            assert.equal(res.status, 404);
            assertErrorBody(body, { type: "not_found_error", requestId: res.headers.get("x-request-id") });
        });
    });
});

describe("timeouts", () => {
    let slow;

    before(async () => {
        slow = await startServer({ env: { HEADER_TIMEOUT_S: "1", IDLE_TIMEOUT_S: "1", BODY_TIMEOUT_S: "1" } });
    });
    after(async () => {
        if (slow) {
            await stopCleanly(slow);
        }
    });

    it("closes a connection whose headers trickle in (slowloris) after HEADER_TIMEOUT_S", async () => {
        const socket = await connect(slow.port);
        const watch = watchSocket(socket);
        const started = Date.now();
        socket.write("GET /health HTTP/1.1\r\nHost: x\r\nX-Slow: ");
        const drip = setInterval(() => {
            if (!watch.isClosed()) {
                socket.write("a", () => {});
            }
        }, 300);
        try {
            const closedAt = await Promise.race([
                watch.closed,
                new Promise((_, reject) => setTimeout(() => reject(new Error("not closed within 5 s")), 5_000)),
            ]);
            const elapsed = closedAt - started;
            assert.ok(elapsed >= 800 && elapsed <= 3_000, `closed after ${elapsed} ms`);
            // Timeouts close silently: no response for a request that never finished.
            assert.equal(watch.data(), "");
        } finally {
            clearInterval(drip);
            socket.destroy();
        }

        const raw = await rawRequest(slow.port, "GET /health HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n");
        const [res] = parseResponses(raw.data);
        assert.equal(res?.status, 200, raw.data);
    });

    it("closes a connection that never sends a byte after HEADER_TIMEOUT_S", async () => {
        const socket = await connect(slow.port);
        const watch = watchSocket(socket);
        const started = Date.now();
        try {
            const closedAt = await Promise.race([
                watch.closed,
                new Promise((_, reject) => setTimeout(() => reject(new Error("not closed within 5 s")), 5_000)),
            ]);
            const elapsed = closedAt - started;
            assert.ok(elapsed >= 800 && elapsed <= 3_000, `closed after ${elapsed} ms`);
        } finally {
            socket.destroy();
        }
    });

    it("closes a connection whose body never arrives after BODY_TIMEOUT_S", async () => {
        const socket = await connect(slow.port);
        const watch = watchSocket(socket);
        const started = Date.now();
        try {
            socket.write("POST /health HTTP/1.1\r\nHost: x\r\nContent-Length: 10\r\n\r\nabc");
            const closedAt = await Promise.race([
                watch.closed,
                new Promise((_, reject) => setTimeout(() => reject(new Error("not closed within 5 s")), 5_000)),
            ]);
            const elapsed = closedAt - started;
            assert.ok(elapsed >= 800 && elapsed <= 3_000, `closed after ${elapsed} ms`);
            assert.equal(watch.data(), "");
        } finally {
            socket.destroy();
        }
    });

    it("closes an idle keep-alive connection after IDLE_TIMEOUT_S", async () => {
        const socket = await connect(slow.port);
        const watch = watchSocket(socket);
        try {
            socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
            await waitUntil(() => parseResponses(watch.data()).length === 1, { what: "the response" });
            const answered = Date.now();
            const [res] = parseResponses(watch.data());
            assert.equal(res.status, 200);
            assert.notEqual(res.headers.connection, "close");
            const closedAt = await Promise.race([
                watch.closed,
                new Promise((_, reject) => setTimeout(() => reject(new Error("not closed within 5 s")), 5_000)),
            ]);
            const idle = closedAt - answered;
            assert.ok(idle >= 700 && idle <= 2_500, `closed after ${idle} ms idle`);
        } finally {
            socket.destroy();
        }
    });
});

describe("graceful shutdown", () => {
    it("finishes an in-flight request with Connection: close, refuses new connections, exits 0", async () => {
        const server = await startServer();
        try {
            const socket = await connect(server.port);
            const watch = watchSocket(socket);
            socket.write("GET /health HTTP/1.1\r\nHost: x\r\n");
            // Give the server time to read the partial request: a connection whose first bytes
            // are still unread when SIGTERM arrives counts as idle and is closed.
            await new Promise((r) => setTimeout(r, 200));

            const stopping = server.stop("SIGTERM");
            await waitUntil(() => connectionRefused(server.port), { what: "new connections to be refused" });
            assert.equal(server.proc.exitCode, null, "still running while a request is in flight");
            assert.ok(!watch.isClosed(), "the in-flight connection is still open");

            socket.write("\r\n");
            const closedAt = await Promise.race([
                watch.closed,
                new Promise((_, reject) => setTimeout(() => reject(new Error("not closed within 5 s")), 5_000)),
            ]);
            const responses = parseResponses(watch.data());
            assert.equal(responses.length, 1, watch.data());
            assert.equal(responses[0].status, 200);
            assert.equal(responses[0].headers.connection, "close");
            assert.equal(JSON.parse(responses[0].body).status, "ok");

            const result = await stopping;
            assert.deepEqual(result, { code: 0, signal: null }, server.lines.join("\n"));
            assert.ok(Date.now() - closedAt < 3_000, "exited shortly after the last response");
            assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), []);
            const msgs = server.lines.map(parseLogLine).map((e) => e?.msg);
            assert.ok(msgs.includes("shutting down"), msgs.join(", "));
            assert.ok(msgs.includes("drained"), msgs.join(", "));
            assert.ok(msgs.includes("stopped"), msgs.join(", "));
            socket.destroy();
        } finally {
            await server.stop("SIGKILL").catch(() => {});
        }
    });

    it(
        "exits cleanly when SHUTDOWN_TIMEOUT_S passes with a request still unfinished",
        async () => {
            const server = await startServer({ env: { SHUTDOWN_TIMEOUT_S: "1", HEADER_TIMEOUT_S: "30" } });
            const socket = await connect(server.port);
            try {
                watchSocket(socket);
                socket.write("GET /health HTTP/1.1\r\nHost: x\r\n");
                // Let the server read the partial request so the connection is in flight, not idle.
                await new Promise((r) => setTimeout(r, 200));
                const started = Date.now();
                const result = await server.stop("SIGTERM");
                const elapsed = Date.now() - started;
                const report = server.lines.find((l) => SANITIZER_REPORT.test(l));
                assert.equal(report, undefined, "sanitizer report at exit");
                assert.deepEqual(result, { code: 0, signal: null });
                assert.ok(elapsed >= 900 && elapsed < 3_000, `exited after ${elapsed} ms`);
            } finally {
                socket.destroy();
                await server.stop("SIGKILL").catch(() => {});
            }
        }
    );

    for (const signal of ["SIGTERM", "SIGINT"]) {
        it(`an idle keep-alive connection does not hold up exit on ${signal}`, async () => {
            const server = await startServer();
            try {
                const socket = await connect(server.port);
                const watch = watchSocket(socket);
                socket.write("GET /health HTTP/1.1\r\nHost: x\r\n\r\n");
                await waitUntil(() => parseResponses(watch.data()).length === 1, { what: "the response" });
                assert.equal(parseResponses(watch.data())[0].status, 200);

                const started = Date.now();
                const result = await server.stop(signal);
                const elapsed = Date.now() - started;
                assert.deepEqual(result, { code: 0, signal: null }, server.lines.join("\n"));
                assert.ok(elapsed < 2_500, `exited after ${elapsed} ms`);
                await watch.closed;
                assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), []);
                await assert.rejects(rawRequest(server.port, "GET /health HTTP/1.1\r\nHost: x\r\n\r\n"), {
                    code: "ECONNREFUSED",
                });
                socket.destroy();
            } finally {
                await server.stop("SIGKILL").catch(() => {});
            }
        });
    }
});

describe("configuration and CLI", () => {
    let dir;
    before(() => {
        dir = makeTempDir("parley-cli-");
    });
    after(() => {
        rmSync(dir, { recursive: true, force: true });
    });

    const invalid = [
        [{ PORT: "abc" }, "PORT", "abc"],
        [{ PORT: "70000" }, "PORT", undefined],
        [{ RATE_LIMIT_STANDARD: "-1" }, "RATE_LIMIT_STANDARD", undefined],
        [{ JWT_SECRET: "short" }, "JWT_SECRET", "short"],
        [{ JWT_SECRET: "tooShortButDistinctiveXYZ" }, "JWT_SECRET", "tooShortButDistinctiveXYZ"],
        [{ ENVIRONMENT: "production" }, "JWT_SECRET", undefined],
        [{ HEADER_TIMEOUT_S: "soon" }, "HEADER_TIMEOUT_S", undefined],
        [{ ALLOWED_ORIGINS: "*" }, "ALLOWED_ORIGINS", undefined],
    ];
    for (const [env, name, secret] of invalid) {
        const label = Object.entries(env)
            .map(([k, v]) => `${k}=${v}`)
            .join(" ");
        it(`${label} stops start-up with exit code 2 and one line naming ${name}`, async () => {
            const r = await runParley(["serve", "--data-dir", dir], { env, timeoutMs: 10_000 });
            assert.equal(r.code, 2, `exit code; stderr: ${r.stderr}`);
            assert.ok(r.elapsedMs < 5_000, `exited after ${r.elapsedMs} ms`);
            const lines = r.stderr.split("\n").filter((l) => l.length > 0);
            assert.equal(lines.length, 1, `one stderr line:\n${r.stderr}`);
            assert.ok(lines[0].includes(name), lines[0]);
            if (secret === "short" || secret === "tooShortButDistinctiveXYZ") {
                assert.ok(!r.stderr.includes(secret) && !r.stdout.includes(secret), `secret leaked: ${lines[0]}`);
            } else if (secret) {
                assert.ok(lines[0].includes(secret), `shows the bad value: ${lines[0]}`);
            }
            assert.equal(r.stdout, "");
        });
    }

    it("parley version prints the version and exits 0", async () => {
        const r = await runParley(["version"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /^parley \d+\.\d+\.\d+\S*\n$/);
    });

    it("parley --help exits 0 and mentions serve and migrate", async () => {
        const r = await runParley(["--help"]);
        assert.equal(r.code, 0, r.stderr);
        assert.match(r.stdout, /\bserve\b/);
        assert.match(r.stdout, /\bmigrate\b/);
    });

    it("an unknown subcommand or flag fails", async () => {
        const r = await runParley(["--no-such-flag"]);
        assert.notEqual(r.code, 0);
    });

    it("parley migrate creates the database and is idempotent", async () => {
        const data = path.join(dir, "migrate");
        const first = await runParley(["migrate", "--data-dir", data]);
        assert.equal(first.code, 0, first.stdout + first.stderr);
        assert.ok(existsSync(path.join(data, "parley.db")));
        const done1 = first.stdout.split("\n").map(parseLogLine).find((e) => e?.msg === "migrations up to date");
        assert.ok(done1, first.stdout);
        assert.ok(done1.applied_now >= 1);

        const second = await runParley(["migrate", "--data-dir", data]);
        assert.equal(second.code, 0, second.stdout + second.stderr);
        const done2 = second.stdout.split("\n").map(parseLogLine).find((e) => e?.msg === "migrations up to date");
        assert.equal(done2?.applied_now, 0, second.stdout);
        assert.doesNotMatch(first.stderr + second.stderr, SANITIZER_REPORT);
    });

    it("DATABASE_URL=sqlite://<absolute path> creates that file", async () => {
        const db = path.join(dir, "custom", "x.db");
        // The parent must exist: SQLite creates the file, not directories.
        mkdirSync(path.dirname(db), { recursive: true });
        const server = await startServer({ env: { DATABASE_URL: `sqlite://${db}` } });
        try {
            assert.ok(existsSync(db), `${db} exists`);
            assert.ok(!existsSync(path.join(server.dataDir, "parley.db")), "no default database");
            const { res, body } = await getJson(`${server.baseUrl}/health`);
            assert.equal(res.status, 200);
            assert.deepEqual(body.checks, { database: "ok" });
            const config = server.lines.map(parseLogLine).find((e) => e?.msg === "configuration");
            assert.equal(config.DATABASE_URL, `sqlite://${db}`);
        } finally {
            await stopCleanly(server);
        }
    });

    it("generates a private development JWT secret and redacts secrets in the configuration log", async () => {
        const server = await startServer({ env: { GROQ_API_KEY: "sk-secret-value" } });
        try {
            const file = path.join(server.dataDir, "jwt_secret");
            assert.ok(existsSync(file), "jwt_secret file");
            assert.equal(statSync(file).mode & 0o777, 0o600);
            assert.match(readFileSync(file, "utf8"), /^[0-9a-f]{64}\n?$/);

            const entries = server.lines.map(parseLogLine).filter(Boolean);
            const warning = entries.find((e) => e.level?.startsWith("warn") && e.msg.includes("JWT_SECRET"));
            assert.ok(warning, `a warning about JWT_SECRET:\n${server.lines.join("\n")}`);

            const configLines = server.lines.filter((l) => parseLogLine(l)?.msg === "configuration");
            assert.equal(configLines.length, 1);
            assert.ok(!configLines[0].includes("sk-secret-value"), configLines[0]);
            assert.equal(JSON.parse(configLines[0]).GROQ_API_KEY, "****");
            assert.equal(JSON.parse(configLines[0]).JWT_SECRET, "");
            assert.ok(!server.lines.some((l) => l.includes("sk-secret-value")), "the key appears in no line");
            const secret = readFileSync(file, "utf8").trim();
            assert.ok(!server.lines.some((l) => l.includes(secret)), "the generated secret is never logged");
        } finally {
            await stopCleanly(server);
        }
    });

    it("uses JWT_SECRET when given: no file, no warning, value redacted", async () => {
        const secret = "s".repeat(16) + "-distinctive-secret-0123456789";
        const server = await startServer({ env: { JWT_SECRET: secret, ENVIRONMENT: "production" } });
        try {
            assert.ok(!existsSync(path.join(server.dataDir, "jwt_secret")));
            const entries = server.lines.map(parseLogLine).filter(Boolean);
            assert.ok(!entries.some((e) => e.level?.startsWith("warn") && e.msg.includes("JWT_SECRET")));
            assert.equal(entries.find((e) => e.msg === "configuration").JWT_SECRET, "****");
            assert.ok(!server.lines.some((l) => l.includes(secret)));
        } finally {
            await stopCleanly(server);
        }
    });

    it("waitForExit resolves for an already-stopped server", async () => {
        const server = await startServer();
        await stopCleanly(server);
        assert.deepEqual(await waitForExit(server.proc), { code: 0, signal: null });
    });
});
