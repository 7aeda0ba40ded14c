// The access-control matrix: every route of the route table × every way a caller can be refused
// (no credential, an expired token, a token for another audience, a revoked API key, a read-only
// API key, another user), plus the owner as the control that the request itself is right.
//
// The routes come from the binary (`parley routes`), not from this file: a route added to
// src/app/routes.cpp without a line in EXPECTATIONS below fails the first test, by name. A route
// whose access class changes fails too, so that opening a route up is a visible decision.
//
//   node --test tests/integration/access_control.test.mjs
import assert from "node:assert/strict";
import { createHmac, randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import WebSocket from "ws";

import { post, uniqueEmail } from "../support/api.mjs";
import { runParley, startServer } from "../support/server.mjs";

const SECRET = "access-control-matrix-secret-0123456789abcdef";
const PASSWORD = "correct horse battery staple";
const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;

// How to call each route, and who owns what it names. One line per route of src/app/routes.cpp:
//   access  the route's access class, as the table says (a change must be made here too);
//   params  what fills each {param}: "conversation" (the owner's conversation), "fresh" (a new
//           conversation of the owner, for routes that delete it), "apiKey" (a new API key of the
//           owner), or a literal string;
//   other   what another user gets for the owner's resource: 403 (exists, not theirs) or 404
//           (does not reveal that it exists); absent for routes that name no one's resource;
//   body    the JSON body, if any; ws: true for WebSocket upgrades; sse: true for event streams.
const CONTENT = { content: "hello" };
const EXPECTATIONS = {
    "GET /": { access: "open" },
    "GET /health": { access: "open" },
    "GET /api/health": { access: "open" },
    "GET /metrics": { access: "open" },
    "GET /openapi.json": { access: "open" },
    "GET /docs": { access: "open" },
    "GET /redoc": { access: "open" },
    "GET /docs/assets/{file}": { access: "open", params: { file: "swagger-ui.css" } },
    "GET /app": { access: "open" },
    "GET /app/": { access: "open" },
    "GET /app/{file}": { access: "open", params: { file: "app.js" } },

    "POST /stream": { access: "model", body: { prompt: "hello" } },
    "GET /history": { access: "read" },
    "GET /history/{id}": { access: "read", params: { id: "conversation" }, other: 403 },
    "GET /search": { access: "read", query: "?query=hello" },

    "POST /api/v1/auth/register": { access: "credential", body: {} },
    "POST /api/v1/auth/login": { access: "credential", body: {} },
    "POST /api/v1/auth/refresh": { access: "credential", body: {} },
    "POST /api/v1/auth/logout": { access: "read", body: { refresh_token: "not-a-token" } },
    "GET /api/v1/auth/me": { access: "read" },
    "POST /api/v1/api-keys": { access: "admin", body: { name: "matrix", scopes: ["read"] } },
    "GET /api/v1/api-keys": { access: "read" },
    "DELETE /api/v1/api-keys/{id}": { access: "admin", params: { id: "apiKey" }, other: 404 },

    "POST /api/v1/conversations": { access: "write", body: { title: "matrix" } },
    "GET /api/v1/conversations": { access: "read" },
    "GET /api/v1/conversations/{id}": { access: "read", params: { id: "conversation" }, other: 403 },
    "PATCH /api/v1/conversations/{id}": { access: "write", params: { id: "conversation" }, other: 403, body: { title: "renamed" } },
    "DELETE /api/v1/conversations/{id}": { access: "write", params: { id: "fresh" }, other: 403 },
    "GET /api/v1/conversations/{id}/messages": { access: "read", params: { id: "conversation" }, other: 403 },
    "POST /api/v1/conversations/{id}/messages": { access: "model", params: { id: "conversation" }, other: 403, body: CONTENT },
    "POST /api/v1/conversations/{id}/messages/stream": { access: "model", params: { id: "conversation" }, other: 403, body: CONTENT, sse: true },
    "GET /api/v1/conversations/{id}/events": { access: "read", params: { id: "conversation" }, other: 403, sse: true },
    "GET /api/v1/conversations/{id}/ws": { access: "write", params: { id: "conversation" }, other: 403, ws: true },
    "GET /ws/session/{session_id}": { access: "write", params: { session_id: "conversation" }, other: 403, ws: true },
    "GET /api/v1/conversations/{id}/session-events": { access: "read", params: { id: "conversation" }, other: 403 },
    "POST /api/v1/conversations/{id}/summary": { access: "model", params: { id: "conversation" }, other: 403 },
    "GET /api/sessions/{session_id}/summary": { access: "read", params: { session_id: "conversation" }, other: 403 },
    "GET /api/v1/search": { access: "read", query: "?q=hello" },
    "GET /api/v1/models": { access: "read" },
    "GET /api/v1/usage/stats": { access: "read" },
};

const WHERE = "tests/integration/access_control.test.mjs (EXPECTATIONS)";

// The scope each access class needs; what a read-only key may call.
const NEEDS_WRITE = new Set(["write", "model", "admin"]);

function b64url(value) {
    return Buffer.from(JSON.stringify(value)).toString("base64url");
}

function signJwt(claims) {
    const input = `${b64url({ alg: "HS256", typ: "JWT" })}.${b64url(claims)}`;
    return `${input}.${createHmac("sha256", SECRET).update(input).digest("base64url")}`;
}

function claimsOf(token) {
    return JSON.parse(Buffer.from(token.split(".")[1], "base64url").toString("utf8"));
}

/** Fills a route's path template. `resolve(kind)` gives the value of one parameter kind. */
async function fillPath(template, params, resolve) {
    let out = template;
    for (const name of template.match(/\{[^}]+\}/g) ?? []) {
        const key = name.slice(1, -1);
        const kind = params?.[key];
        assert.ok(kind, `${template}: no value for ${name} in ${WHERE}`);
        out = out.replace(name, encodeURIComponent(await resolve(kind)));
    }
    return out;
}

/** Calls a route; resolves `{ status, body }` (body parsed when the response is a JSON error). */
async function callRoute(base, method, path, spec, headers) {
    const url = `${base}${path}${spec.query ?? ""}`;
    if (spec.ws) {
        return new Promise((resolve, reject) => {
            const ws = new WebSocket(url.replace(/^http/, "ws"), { headers });
            ws.on("unexpected-response", (_req, res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => resolve({ status: res.statusCode, body: text ? JSON.parse(text) : undefined }));
            });
            ws.on("open", () => {
                ws.terminate();
                resolve({ status: 101 });
            });
            ws.on("error", (e) => reject(e));
        });
    }
    const init = { method, headers: { ...headers } };
    if (spec.body !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = JSON.stringify(spec.body);
    }
    if (spec.sse) {
        init.headers.accept = "text/event-stream";
    }
    const controller = new AbortController();
    init.signal = controller.signal;
    const res = await fetch(url, init);
    let body;
    if (res.status >= 400 && (res.headers.get("content-type") ?? "").startsWith("application/json")) {
        body = await res.json();
    } else if (spec.sse) {
        controller.abort();  // the status is all this test needs; events streams never end
    } else {
        await res.arrayBuffer();
    }
    return { status: res.status, body, requestId: res.headers.get("x-request-id") };
}

function assertRefused(r, status, type, label) {
    assert.equal(r.status, status, `${label}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    assert.equal(r.body?.status, "error", `${label}: error envelope`);
    assert.equal(r.body?.error?.type, type, `${label}: ${JSON.stringify(r.body)}`);
    assert.equal(typeof r.body?.error?.request_id, "string", `${label}: request_id`);
}

function assertAdmitted(r, label, { ownResource = false } = {}) {
    assert.ok(
        ![401, 403].includes(r.status) && r.status < 500 && !(ownResource && r.status === 404),
        `${label}: expected the request to be admitted, got ${r.status} ${JSON.stringify(r.body)}`
    );
}

describe("access control matrix", () => {
    let server;
    let base;
    let table;
    const creds = {};
    let ownerConversation;
    let ownerToken;

    before(async () => {
        const printed = await runParley(["routes"]);
        assert.equal(printed.code, 0, printed.stderr);
        table = JSON.parse(printed.stdout);
        server = await startServer({
            env: {
                JWT_SECRET: SECRET,
                RATE_LIMIT_AUTH: "100000",
                RATE_LIMIT_STANDARD: "100000",
                RATE_LIMIT_AI: "100000",
                MOCK_TOKEN_DELAY_MS: "0",
            },
        });
        base = server.baseUrl;
        const register = async () => {
            const r = await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("acl"), password: PASSWORD } });
            assert.equal(r.res.status, 201, JSON.stringify(r.body));
            return r.body.data;
        };
        const owner = await register();
        const other = await register();
        ownerToken = owner.access_token;
        const key = async (scopes) => {
            const r = await post(base, "/api/v1/api-keys", { json: { name: `k-${randomUUID()}`, scopes }, token: ownerToken });
            assert.equal(r.res.status, 201, JSON.stringify(r.body));
            return r.body.data;
        };
        const readOnly = await key(["read"]);
        const revoked = await key(["read", "write", "admin"]);
        const gone = await fetch(`${base}/api/v1/api-keys/${revoked.id}`, {
            method: "DELETE",
            headers: { authorization: `Bearer ${ownerToken}` },
        });
        assert.equal(gone.status, 204);
        const now = Math.floor(Date.now() / 1000);
        const claims = claimsOf(ownerToken);
        const bearer = (t) => ({ authorization: `Bearer ${t}` });
        creds["no credential"] = {};
        creds["an expired token"] = bearer(signJwt({ ...claims, iat: now - 7200, exp: now - 3600, jti: randomUUID() }));
        creds["a token for another audience"] = bearer(signJwt({ ...claims, aud: "other-api", jti: randomUUID() }));
        creds["a revoked API key"] = { "x-api-key": revoked.key };
        creds["a read-only API key"] = bearer(readOnly.key);
        creds["another user"] = bearer(other.access_token);
        creds["the owner"] = bearer(ownerToken);

        const created = await post(base, "/api/v1/conversations", { json: { title: "owned" }, token: ownerToken });
        assert.equal(created.res.status, 201, JSON.stringify(created.body));
        ownerConversation = created.body.data.id;
        // A turn and a summary, so that the routes that read them have something to find.
        const turn = await post(base, `/api/v1/conversations/${ownerConversation}/messages`, { json: CONTENT, token: ownerToken });
        assert.equal(turn.res.status, 200, JSON.stringify(turn.body));
        const summary = await post(base, `/api/v1/conversations/${ownerConversation}/summary`, { token: ownerToken });
        assert.equal(summary.res.status, 200, JSON.stringify(summary.body));
    });

    after(async () => {
        if (server) {
            const result = await server.stop("SIGTERM");
            assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), []);
            assert.deepEqual(result, { code: 0, signal: null });
        }
    });

    it("every route in the table has an expectation here, with the same access class", () => {
        const missing = [];
        const changed = [];
        for (const r of table) {
            const spec = EXPECTATIONS[`${r.method} ${r.path}`];
            if (!spec) {
                missing.push(`${r.method} ${r.path} (access ${r.access})`);
            } else if (spec.access !== r.access) {
                changed.push(`${r.method} ${r.path}: table says ${r.access}, expectation says ${spec.access}`);
            }
        }
        const listed = new Set(table.map((r) => `${r.method} ${r.path}`));
        const stale = Object.keys(EXPECTATIONS).filter((k) => !listed.has(k));
        assert.deepEqual(
            { missing, changed, stale },
            { missing: [], changed: [], stale: [] },
            `the route table (parley routes) and the access-control expectations differ: add a line for ` +
                `each missing route to ${WHERE}, saying how to call it and whose resource it names`
        );
    });

    // A resolver of path parameters for one request.
    const resolver = () => async (kind) => {
        switch (kind) {
            case "conversation":
                return ownerConversation;
            case "fresh": {
                const r = await post(base, "/api/v1/conversations", { json: { title: "doomed" }, token: ownerToken });
                assert.equal(r.res.status, 201);
                return r.body.data.id;
            }
            case "apiKey": {
                const r = await post(base, "/api/v1/api-keys", { json: { name: `d-${randomUUID()}`, scopes: ["read"] }, token: ownerToken });
                assert.equal(r.res.status, 201);
                return r.body.data.id;
            }
            default:
                return kind;
        }
    };

    const CASES = [
        "no credential",
        "an expired token",
        "a token for another audience",
        "a revoked API key",
        "a read-only API key",
        "another user",
        "the owner",
    ];

    for (const who of CASES) {
        it(`every route treats ${who} as its access class says`, async () => {
            const failures = [];
            let checked = 0;
            for (const route of table) {
                const spec = EXPECTATIONS[`${route.method} ${route.path}`];
                if (!spec) {
                    continue;  // reported by the first test
                }
                const label = `${route.method} ${route.path} with ${who}`;
                try {
                    const path = await fillPath(route.path, spec.params, resolver());
                    const r = await callRoute(base, route.method, path, spec, creds[who]);
                    checked += 1;
                    const open = spec.access === "open" || spec.access === "credential";
                    const owned = Object.values(spec.params ?? {}).some((k) => ["conversation", "fresh", "apiKey"].includes(k));
                    if (open) {
                        assertAdmitted(r, label);
                    } else if (["no credential", "an expired token", "a token for another audience", "a revoked API key"].includes(who)) {
                        assertRefused(r, 401, "authentication_error", label);
                    } else if (who === "a read-only API key" && NEEDS_WRITE.has(spec.access)) {
                        assertRefused(r, 403, "permission_error", label);
                    } else if (who === "another user" && owned) {
                        assertRefused(r, spec.other, spec.other === 403 ? "permission_error" : "not_found_error", label);
                    } else {
                        assertAdmitted(r, label, { ownResource: owned });
                    }
                } catch (e) {
                    failures.push(e.message);
                }
            }
            assert.deepEqual(failures, [], failures.join("\n"));
            assert.equal(checked, table.length);
        });
    }
});
