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

import { get, post, uniqueEmail } from "../support/api.mjs";
import { runParley, startServer } from "../support/server.mjs";

const SECRET = "access-control-matrix-secret-0123456789abcdef";
const PASSWORD = "correct horse battery staple";
const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;

// How to call each route, and who owns what it names. One line per route of src/app/routes.cpp:
//   access  the route's access class, as the table says (a change must be made here too);
//   params  what fills each {param}: "conversation" (the owner's conversation), "fresh" (a new
//           conversation of the owner, for routes that delete it), "apiKey" (a new API key of the
//           owner), "userMessage" / "assistantMessage" (a user / assistant message of the owner's
//           conversation), "share" (a new share link of the owner, for routes that revoke it),
//           "shareToken" (the token of a live share link of the owner), "otherUser" (the id of
//           the other user's account), or a literal string; every kind but "otherUser" and a
//           literal names the owner's resource, which the owner must find (a 404 fails);
//   other   what another user gets for the owner's resource: 403 (exists, not theirs) or 404
//           (does not reveal that it exists); absent for routes that name no one's resource;
//   adminAccount  true for routes whose service also requires an administrator account (on top of
//           the admin scope): the owner is one (ADMIN_EMAILS names it), another user is not and
//           gets 403 permission_error;
//   errorShape  "openai" or "anthropic" for the compatible routes, whose refusals are in that
//           API's error shape (src/compat/errors.cpp) instead of Parley's envelope; the status
//           and the error type the matrix expects are the same;
//   body    the JSON body, if any, or a function of the fixtures (the ids made in `before`) giving
//           it; ws: true for WebSocket upgrades; sse: true for event streams.
const CONTENT = { content: "hello" };
// The smallest document of Parley's export format (conversations/transfer.hpp) an import takes.
const IMPORT_DOCUMENT = {
    format: "parley.conversation",
    version: 1,
    conversation: { title: "imported" },
    messages: [
        { id: "q", parent_id: null, role: "user", content: "hi", created_at: "2026-01-01T00:00:00Z" },
        { id: "a", parent_id: "q", role: "assistant", content: "hello", created_at: "2026-01-01T00:00:01Z" },
    ],
};
const CHAT = [{ role: "user", content: "hi" }];
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
    "PATCH /api/v1/api-keys/{id}/budget": { access: "admin", params: { id: "apiKey" }, other: 404, body: { max_budget_usd: 5 } },

    "POST /api/v1/conversations": { access: "write", body: { title: "matrix" } },
    "GET /api/v1/conversations": { access: "read" },
    "GET /api/v1/conversations/{id}": { access: "read", params: { id: "conversation" }, other: 403 },
    "PATCH /api/v1/conversations/{id}": { access: "write", params: { id: "conversation" }, other: 403, body: { title: "renamed" } },
    "DELETE /api/v1/conversations/{id}": { access: "write", params: { id: "fresh" }, other: 403 },
    "GET /api/v1/conversations/{id}/messages": { access: "read", params: { id: "conversation" }, other: 403 },
    "POST /api/v1/conversations/{id}/messages": { access: "model", params: { id: "conversation" }, other: 403, body: CONTENT },
    "POST /api/v1/conversations/{id}/messages/stream": { access: "model", params: { id: "conversation" }, other: 403, body: CONTENT, sse: true },
    "POST /api/v1/conversations/{id}/messages/{message_id}/edit": { access: "model", params: { id: "conversation", message_id: "userMessage" }, other: 403, body: CONTENT },
    "POST /api/v1/conversations/{id}/messages/{message_id}/edit/stream": { access: "model", params: { id: "conversation", message_id: "userMessage" }, other: 403, body: CONTENT, sse: true },
    "POST /api/v1/conversations/{id}/messages/{message_id}/regenerate": { access: "model", params: { id: "conversation", message_id: "assistantMessage" }, other: 403, body: {} },
    "POST /api/v1/conversations/{id}/messages/{message_id}/regenerate/stream": { access: "model", params: { id: "conversation", message_id: "assistantMessage" }, other: 403, body: {}, sse: true },
    "GET /api/v1/conversations/{id}/messages/{message_id}/stream": { access: "read", params: { id: "conversation", message_id: "assistantMessage" }, other: 404, sse: true },
    "POST /api/v1/conversations/{id}/fork": { access: "write", params: { id: "conversation" }, other: 403, body: (f) => ({ message_id: f.userMessage }) },
    "POST /api/v1/conversations/{id}/share": { access: "write", params: { id: "conversation" }, other: 403 },
    "GET /api/v1/shares": { access: "read" },
    "DELETE /api/v1/shares/{id}": { access: "write", params: { id: "share" }, other: 404 },
    // A share link is public by design: anyone holding the token reads the snapshot, whatever
    // credential (or none) comes with it. The token is the owner's, so every caller must get the
    // snapshot (a 404 fails), not merely be let through.
    "GET /share/{token}": { access: "open", params: { token: "shareToken" } },
    "GET /api/v1/conversations/{id}/export": { access: "read", params: { id: "conversation" }, other: 403, query: "?format=json" },
    "POST /api/v1/conversations/import": { access: "write", body: IMPORT_DOCUMENT },
    "GET /api/v1/conversations/{id}/events": { access: "read", params: { id: "conversation" }, other: 403, sse: true },
    "GET /api/v1/conversations/{id}/ws": { access: "write", params: { id: "conversation" }, other: 403, ws: true },
    "GET /ws/session/{session_id}": { access: "write", params: { session_id: "conversation" }, other: 403, ws: true },
    "GET /api/v1/conversations/{id}/session-events": { access: "read", params: { id: "conversation" }, other: 403 },
    "POST /api/v1/conversations/{id}/summary": { access: "model", params: { id: "conversation" }, other: 403 },
    "GET /api/sessions/{session_id}/summary": { access: "read", params: { session_id: "conversation" }, other: 403 },
    "GET /api/v1/search": { access: "read", query: "?q=hello" },
    "GET /api/v1/models": { access: "read" },
    "GET /api/v1/usage/stats": { access: "read" },
    "GET /api/v1/usage/budget": { access: "read" },

    // The OpenAI- and Anthropic-compatible routes: stateless (they name no one's resource).
    // GET /v1/models answers in OpenAI's shape unless the request has `anthropic-version`.
    "POST /v1/chat/completions": { access: "model", errorShape: "openai", body: { model: "parley-mock", messages: CHAT } },
    "GET /v1/models": { access: "read", errorShape: "openai" },
    "POST /v1/messages": { access: "model", errorShape: "anthropic", body: { model: "parley-mock", max_tokens: 16, messages: CHAT } },
    "POST /v1/messages/count_tokens": { access: "read", errorShape: "anthropic", body: { model: "parley-mock", messages: CHAT } },

    // Administration: the admin scope and an administrator account.
    "GET /api/v1/admin/users": { access: "admin", adminAccount: true },
    "PATCH /api/v1/admin/users/{id}": { access: "admin", adminAccount: true, params: { id: "otherUser" }, body: { disabled: false } },
    "GET /api/v1/admin/usage": { access: "admin", adminAccount: true },
    "GET /api/v1/admin/audit": { access: "admin", adminAccount: true },
};

const WHERE = "tests/integration/access_control.test.mjs (EXPECTATIONS)";

// The scope each access class needs; what a read-only key may call.
const NEEDS_WRITE = new Set(["write", "model", "admin"]);

// The parameter kinds that name a resource of the owner (see `params` above).
const OWNED = new Set(["conversation", "fresh", "apiKey", "userMessage", "assistantMessage", "share", "shareToken"]);

// OpenAI's `code` for each error type the matrix expects (src/compat/errors.cpp): OpenAI's `type`
// is invalid_request_error for all three.
const OPENAI_CODE = {
    authentication_error: "invalid_api_key",
    permission_error: "insufficient_permissions",
    not_found_error: "model_not_found",
};

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
async function callRoute(base, method, path, spec, headers, json = spec.body) {
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
    if (json !== undefined) {
        init.headers["content-type"] = "application/json";
        init.body = JSON.stringify(json);
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

function assertRefused(r, status, type, label, shape = "parley") {
    assert.equal(r.status, status, `${label}: expected ${status}, got ${r.status} ${JSON.stringify(r.body)}`);
    const body = JSON.stringify(r.body);
    if (shape === "openai") {
        // {error: {message, type, param, code}}; the request id is in X-Request-ID only.
        assert.equal(r.body?.status, undefined, `${label}: OpenAI's error shape, not Parley's: ${body}`);
        assert.equal(r.body?.error?.type, "invalid_request_error", `${label}: ${body}`);
        assert.equal(r.body?.error?.code, OPENAI_CODE[type], `${label}: ${body}`);
        assert.equal(typeof r.body?.error?.message, "string", `${label}: message`);
        assert.equal(typeof r.requestId, "string", `${label}: X-Request-ID`);
    } else if (shape === "anthropic") {
        // {type: "error", error: {type, message}, request_id}.
        assert.equal(r.body?.type, "error", `${label}: Anthropic's error shape: ${body}`);
        assert.equal(r.body?.error?.type, type, `${label}: ${body}`);
        assert.equal(typeof r.body?.error?.message, "string", `${label}: message`);
        assert.equal(typeof r.body?.request_id, "string", `${label}: request_id`);
    } else {
        assert.equal(shape, "parley", `${label}: unknown errorShape in ${WHERE}`);
        assert.equal(r.body?.status, "error", `${label}: error envelope`);
        assert.equal(r.body?.error?.type, type, `${label}: ${body}`);
        assert.equal(typeof r.body?.error?.request_id, "string", `${label}: request_id`);
    }
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
    // Ids made in `before`, for the parameter kinds and the bodies that name them.
    const fixtures = {};

    before(async () => {
        const printed = await runParley(["routes"]);
        assert.equal(printed.code, 0, printed.stderr);
        table = JSON.parse(printed.stdout);
        // The owner is the administrator (the admin routes' control); the other user is not.
        const ownerEmail = uniqueEmail("acl-owner");
        server = await startServer({
            env: {
                JWT_SECRET: SECRET,
                RATE_LIMIT_AUTH: "100000",
                RATE_LIMIT_STANDARD: "100000",
                RATE_LIMIT_AI: "100000",
                MOCK_TOKEN_DELAY_MS: "0",
                ADMIN_EMAILS: ownerEmail,
            },
        });
        base = server.baseUrl;
        const register = async (email) => {
            const r = await post(base, "/api/v1/auth/register", { json: { email, password: PASSWORD } });
            assert.equal(r.res.status, 201, JSON.stringify(r.body));
            return r.body.data;
        };
        const owner = await register(ownerEmail);
        const other = await register(uniqueEmail("acl"));
        fixtures.otherUser = claimsOf(other.access_token).sub;
        assert.equal(typeof fixtures.otherUser, "string", "the other user's id (the `sub` of its token)");
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
        // The turn's question and answer, for the edit, regenerate and fork routes.
        const listed = await get(base, `/api/v1/conversations/${ownerConversation}/messages`, { token: ownerToken });
        assert.equal(listed.res.status, 200, JSON.stringify(listed.body));
        fixtures.userMessage = listed.body.data.find((m) => m.role === "user")?.id;
        fixtures.assistantMessage = listed.body.data.find((m) => m.role === "assistant")?.id;
        assert.ok(fixtures.userMessage && fixtures.assistantMessage, JSON.stringify(listed.body));
        // A share link that stays live, for GET /share/{token}.
        const shared = await post(base, `/api/v1/conversations/${ownerConversation}/share`, { token: ownerToken });
        assert.equal(shared.res.status, 201, JSON.stringify(shared.body));
        fixtures.shareToken = shared.body.data.token;
        // The owner is an administrator and the other user is not (the admin routes rely on it).
        const admins = await get(base, "/api/v1/admin/users?per_page=100", { token: ownerToken });
        assert.equal(admins.res.status, 200, JSON.stringify(admins.body));
        const roleOf = (id) => admins.body.data.find((u) => u.id === id)?.role;
        assert.equal(roleOf(claimsOf(ownerToken).sub), "admin", JSON.stringify(admins.body));
        assert.equal(roleOf(fixtures.otherUser), "user", JSON.stringify(admins.body));
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
            case "userMessage":
            case "assistantMessage":
            case "shareToken":
            case "otherUser":
                assert.ok(fixtures[kind], `no ${kind} was made in before()`);
                return fixtures[kind];
            case "share": {
                const r = await post(base, `/api/v1/conversations/${ownerConversation}/share`, { token: ownerToken });
                assert.equal(r.res.status, 201, JSON.stringify(r.body));
                return r.body.data.id;
            }
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
                    const body = typeof spec.body === "function" ? spec.body(fixtures) : spec.body;
                    const r = await callRoute(base, route.method, path, spec, creds[who], body);
                    checked += 1;
                    const open = spec.access === "open" || spec.access === "credential";
                    const owned = Object.values(spec.params ?? {}).some((k) => OWNED.has(k));
                    const shape = spec.errorShape ?? "parley";
                    if (open) {
                        assertAdmitted(r, label, { ownResource: owned });
                    } else if (["no credential", "an expired token", "a token for another audience", "a revoked API key"].includes(who)) {
                        assertRefused(r, 401, "authentication_error", label, shape);
                    } else if (who === "a read-only API key" && NEEDS_WRITE.has(spec.access)) {
                        assertRefused(r, 403, "permission_error", label, shape);
                    } else if (who === "another user" && spec.adminAccount) {
                        // The scope is there (a user's token has every scope); the account is not an admin.
                        assertRefused(r, 403, "permission_error", label, shape);
                    } else if (who === "another user" && owned) {
                        assert.ok([403, 404].includes(spec.other), `${label}: \`other\` (403 or 404) in ${WHERE}`);
                        assertRefused(r, spec.other, spec.other === 403 ? "permission_error" : "not_found_error", label, shape);
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
