// Integration tests of administration and the audit log (issue 16) against the real binary: roles
// from ADMIN_EMAILS or the first account, the admin routes (users, PATCH, usage, audit) with their
// 403 for non-admins and their validation, disabled accounts whose tokens and keys stop working
// (on this instance at once, on another one sharing the database within ACCOUNT_CACHE_TTL_MS),
// per-user rate limits applied by the gate, and an audit log that records every security event and
// never a secret. Runs on SQLite, and on PostgreSQL as integration_pg.admin.
//
//   node --test tests/integration/admin.test.mjs

import assert from "node:assert/strict";
import { rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { assertError, del, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { makeTempDir, startServer, startTwoInstances, testDatabaseServer, waitUntil } from "../support/server.mjs";
import { createDatabase } from "../support/services.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const PASSWORD = "SecurePass123";

const USERS = "/api/v1/admin/users";
const USAGE = "/api/v1/admin/usage";
const AUDIT = "/api/v1/admin/audit";
const ME = "/api/v1/auth/me";
const KEYS = "/api/v1/api-keys";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const USER_FIELDS = [
    "ai_rate_limit_per_minute", "budget_period", "created_at", "disabled", "disabled_at", "email", "id",
    "max_budget_usd", "rate_limit_per_minute", "role", "soft_budget_usd",
];

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.join("\n")}`);
}

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text}`);
    assert.equal(r.body.status, "success", r.text);
    return r.body.data;
}

/** Registers an account: { id, email, token, refresh }. */
async function register(base, email = uniqueEmail()) {
    const d = ok(await post(base, "/api/v1/auth/register", { json: { email, password: PASSWORD } }), 201);
    return { id: d.user.id, email, token: d.access_token, refresh: d.refresh_token };
}

async function login(base, email, password = PASSWORD) {
    return post(base, "/api/v1/auth/login", { json: { email, password } });
}

/** Every audit event matching `query` (all pages). */
async function auditEvents(base, token, query = "") {
    const events = [];
    for (let page = 1; ; page += 1) {
        const r = await get(base, `${AUDIT}?per_page=100&page=${page}${query ? `&${query}` : ""}`, { token });
        const data = ok(r);
        events.push(...data);
        if (events.length >= r.body.total || data.length === 0) {
            return events;
        }
    }
}

describe("admin and audit (ADMIN_EMAILS)", () => {
    let server;
    let base;
    let admin; // named in ADMIN_EMAILS
    let named; // also named in ADMIN_EMAILS
    let alice;
    let bob;
    const adminEmail = uniqueEmail("boss");
    const namedEmail = uniqueEmail("deputy");
    const secrets = []; // every password, token and key handed out, for the no-secret check

    before(async () => {
        server = await startServer({
            env: {
                ...UNLIMITED,
                MOCK_TOKEN_DELAY_MS: "0",
                // Upper case and spaces: normalised as sign-up normalises emails.
                ADMIN_EMAILS: ` ${adminEmail.toUpperCase()} ,${namedEmail}`,
                ACCOUNT_CACHE_TTL_MS: "60000",
            },
        });
        base = server.baseUrl;
        alice = await register(base); // the first account, yet not an admin: ADMIN_EMAILS is set
        admin = await register(base, adminEmail);
        named = await register(base, namedEmail);
        bob = await register(base);
        for (const u of [alice, admin, named, bob]) {
            secrets.push(u.token, u.refresh);
        }
        secrets.push(PASSWORD);
    });

    after(async () => {
        await stopCleanly(server);
    });

    it("logs at start who the administrators are", () => {
        assert.ok(
            server.lines.some((l) => l.includes("administrators are the accounts ADMIN_EMAILS names")),
            server.lines.join("\n")
        );
    });

    describe("who may call the admin routes", () => {
        const routes = [
            ["GET", USERS],
            ["PATCH", `${USERS}/00000000-0000-7000-8000-000000000000`, { role: "admin" }],
            ["GET", USAGE],
            ["GET", AUDIT],
        ];

        it("a user who is not an admin: 403 permission_error on every route", async () => {
            for (const [method, route, json] of routes) {
                const r = await (method === "GET" ? get : patch)(base, route, { token: alice.token, json });
                assertError(r, 403, "permission_error");
            }
        });

        it("no credential: 401 authentication_error on every route", async () => {
            for (const [method, route, json] of routes) {
                const r = await (method === "GET" ? get : patch)(base, route, { json });
                assertError(r, 401, "authentication_error");
            }
        });

        it("an admin's API key needs the admin scope; with it, it works", async () => {
            const readOnly = ok(await post(base, KEYS, { token: admin.token, json: { name: "ro", scopes: ["read"] } }), 201);
            const full = ok(
                await post(base, KEYS, { token: admin.token, json: { name: "all", scopes: ["read", "write", "admin"] } }),
                201
            );
            secrets.push(readOnly.key, full.key);
            assertError(await get(base, USERS, { apiKey: readOnly.key }), 403, "permission_error");
            ok(await get(base, USERS, { apiKey: full.key }));
        });
    });

    describe("GET /api/v1/admin/users", () => {
        it("lists every account oldest first, paged, with role and controls and no password hash", async () => {
            const r = await get(base, `${USERS}?per_page=100`, { token: admin.token });
            const users = ok(r);
            assert.equal(r.body.page, 1);
            assert.equal(r.body.per_page, 100);
            assert.equal(r.body.total, 4);
            assert.deepEqual(users.map((u) => u.email), [alice.email, admin.email, named.email, bob.email]);
            for (const u of users) {
                assert.deepEqual(Object.keys(u).sort(), USER_FIELDS, JSON.stringify(u));
                assert.match(u.id, UUID);
                assert.match(u.created_at, ISO_8601);
            }
            assert.deepEqual(users.map((u) => u.role), ["user", "admin", "admin", "user"]);
            assert.deepEqual(users[0], {
                id: alice.id, email: alice.email, created_at: users[0].created_at, role: "user",
                disabled: false, disabled_at: null, rate_limit_per_minute: null, ai_rate_limit_per_minute: null,
                max_budget_usd: null, soft_budget_usd: null, budget_period: "total",
            });
            assert.ok(!r.text.includes("argon2"), "no password hash in the list");
        });

        it("page and per_page select a slice; total stays the count", async () => {
            const r = await get(base, `${USERS}?page=2&per_page=3`, { token: admin.token });
            assert.deepEqual(ok(r).map((u) => u.email), [bob.email]);
            assert.equal(r.body.total, 4);
            assertError(await get(base, `${USERS}?per_page=0`, { token: admin.token }), 422, "invalid_request_error");
            assertError(await get(base, `${USERS}?page=x`, { token: admin.token }), 422, "invalid_request_error");
        });
    });

    describe("PATCH /api/v1/admin/users/{id}", () => {
        it("makes a user an admin and back", async () => {
            const up = ok(await patch(base, `${USERS}/${bob.id}`, { token: admin.token, json: { role: "admin" } }));
            assert.equal(up.role, "admin");
            ok(await get(base, USERS, { token: bob.token }));
            const down = ok(await patch(base, `${USERS}/${bob.id}`, { token: admin.token, json: { role: "user" } }));
            assert.equal(down.role, "user");
            assertError(await get(base, USERS, { token: bob.token }), 403, "permission_error");
        });

        it("refuses bad input with 4xx and the standard error body", async () => {
            const cases = [
                [{ role: "root" }, 422, /role/],
                [{ role: 1 }, 422, /role/],
                [{ disabled: "yes" }, 422, /disabled/],
                [{ rate_limit_per_minute: 0 }, 422, /rate_limit_per_minute/],
                [{ ai_rate_limit_per_minute: 1_000_001 }, 422, /ai_rate_limit_per_minute/],
                [{ rate_limit_per_minute: "5" }, 422, /rate_limit_per_minute/],
                [{ max_budget_usd: -1 }, 422, /max_budget_usd/],
                [{ budget_period: "hourly" }, 422, /budget_period/],
                [{}, 422, /at least one/],
            ];
            for (const [json, status, message] of cases) {
                const r = await patch(base, `${USERS}/${bob.id}`, { token: admin.token, json });
                assertError(r, status, "invalid_request_error", { message });
            }
            const notJson = await patch(base, `${USERS}/${bob.id}`, {
                token: admin.token, body: "{", headers: { "content-type": "application/json" },
            });
            assertError(notJson, 400, "invalid_request_error");
            assertError(
                await patch(base, `${USERS}/00000000-0000-7000-8000-000000000000`, { token: admin.token, json: { role: "user" } }),
                404, "not_found_error"
            );
            assertError(await patch(base, `${USERS}/not-a-uuid`, { token: admin.token, json: { role: "user" } }), 404, "not_found_error");
        });

        it("an admin cannot disable or demote their own account", async () => {
            for (const json of [{ disabled: true }, { role: "user" }]) {
                const r = await patch(base, `${USERS}/${admin.id}`, { token: admin.token, json });
                assertError(r, 422, "invalid_request_error", { message: /own account/ });
            }
        });

        it("an account ADMIN_EMAILS names cannot be demoted", async () => {
            const r = await patch(base, `${USERS}/${named.id}`, { token: admin.token, json: { role: "user" } });
            assertError(r, 422, "invalid_request_error", { message: /ADMIN_EMAILS/ });
        });

        it("disabling stops the account's tokens, keys, login and refresh at once; enabling restores them", async () => {
            const victim = await register(base);
            const key = ok(await post(base, KEYS, { token: victim.token, json: { name: "k" } }), 201);
            secrets.push(victim.token, victim.refresh, key.key);
            ok(await get(base, ME, { token: victim.token }));
            ok(await get(base, ME, { apiKey: key.key }));

            const off = ok(await patch(base, `${USERS}/${victim.id}`, { token: admin.token, json: { disabled: true } }));
            assert.equal(off.disabled, true);
            assert.match(off.disabled_at, ISO_8601);

            assertError(await get(base, ME, { token: victim.token }), 401, "authentication_error", { message: /disabled/ });
            assertError(await get(base, ME, { apiKey: key.key }), 401, "authentication_error", { message: /disabled/ });
            assertError(await get(base, "/api/v1/conversations", { token: victim.token }), 401, "authentication_error");
            assertError(await login(base, victim.email), 401, "authentication_error", { message: /disabled/ });
            assertError(
                await post(base, "/api/v1/auth/refresh", { json: { refresh_token: victim.refresh } }),
                401, "authentication_error"
            );
            // A wrong password still says only "invalid email or password".
            assertError(await login(base, victim.email, "WrongPass999"), 401, "authentication_error", { message: /invalid email or password/ });

            const on = ok(await patch(base, `${USERS}/${victim.id}`, { token: admin.token, json: { disabled: false } }));
            assert.equal(on.disabled, false);
            assert.equal(on.disabled_at, null);
            ok(await get(base, ME, { token: victim.token }));
            ok(await get(base, ME, { apiKey: key.key }));
            ok(await login(base, victim.email));
        });

        it("per-user rate limits replace the server's for that account, and null restores them", async () => {
            const limited = await register(base);
            secrets.push(limited.token, limited.refresh);
            // The model limit: one call, then 429.
            const model = ok(await patch(base, `${USERS}/${limited.id}`, {
                token: admin.token, json: { ai_rate_limit_per_minute: 1 },
            }));
            assert.equal(model.ai_rate_limit_per_minute, 1);
            assert.equal(model.rate_limit_per_minute, null);
            const conv = ok(await post(base, "/api/v1/conversations", { token: limited.token, json: { model: "parley-mock" } }), 201);
            const first = await post(base, `/api/v1/conversations/${conv.id}/messages`, { token: limited.token, json: { content: "hi" } });
            assert.equal(first.res.status, 200, first.text);
            assert.equal(first.res.headers.get("x-ratelimit-limit"), "1");
            assertError(
                await post(base, `/api/v1/conversations/${conv.id}/messages`, { token: limited.token, json: { content: "again" } }),
                429, "rate_limit_error"
            );

            // The standard limit: three requests in the window (the conversation created above is
            // the first), then 429.
            const set = ok(await patch(base, `${USERS}/${limited.id}`, {
                token: admin.token, json: { rate_limit_per_minute: 3 },
            }));
            assert.equal(set.rate_limit_per_minute, 3);
            assert.equal(set.ai_rate_limit_per_minute, 1);
            for (let i = 0; i < 2; i += 1) {
                const r = await get(base, ME, { token: limited.token });
                assert.equal(r.res.status, 200, r.text);
                assert.equal(r.res.headers.get("x-ratelimit-limit"), "3");
            }
            const refused = await get(base, ME, { token: limited.token });
            assertError(refused, 429, "rate_limit_error");
            assert.ok(Number(refused.res.headers.get("retry-after")) >= 1);

            const reset = ok(await patch(base, `${USERS}/${limited.id}`, {
                token: admin.token, json: { rate_limit_per_minute: null },
            }));
            assert.equal(reset.rate_limit_per_minute, null);
            assert.equal(reset.ai_rate_limit_per_minute, 1, "a field not sent stays as it was");
            const again = await get(base, ME, { token: limited.token });
            assert.equal(again.res.status, 200, again.text);
            assert.equal(again.res.headers.get("x-ratelimit-limit"), "100000");
        });
    });

    describe("GET /api/v1/admin/usage", () => {
        it("sums every user's messages by day and model, filtered by user and time", async () => {
            for (const u of [alice, bob]) {
                const conv = ok(await post(base, "/api/v1/conversations", { token: u.token, json: { model: "parley-mock" } }), 201);
                const sent = await post(base, `/api/v1/conversations/${conv.id}/messages`, { token: u.token, json: { content: "hello there" } });
                assert.equal(sent.res.status, 200, sent.text);
            }
            const today = new Date().toISOString().slice(0, 10);
            const all = ok(await get(base, USAGE, { token: admin.token }));
            const row = all.by_day_and_model.find((x) => x.date === today && x.model === "parley-mock");
            assert.ok(row, JSON.stringify(all));
            assert.ok(row.user_count >= 2, JSON.stringify(row));
            assert.ok(row.message_count >= 2, JSON.stringify(row));
            assert.ok(row.output_tokens > 0, JSON.stringify(row));
            assert.equal(all.message_count, all.by_day_and_model.reduce((n, x) => n + x.message_count, 0));

            const aliceOnly = ok(await get(base, `${USAGE}?user_id=${alice.id}`, { token: admin.token }));
            assert.deepEqual(aliceOnly.by_day_and_model.map((x) => [x.date, x.model, x.user_count]), [[today, "parley-mock", 1]]);
            const own = ok(await get(base, "/api/v1/usage/stats", { token: alice.token }));
            assert.equal(aliceOnly.total_output_tokens, own.total_output_tokens, "the same sums as the user's own stats");

            const future = ok(await get(base, `${USAGE}?from=2099-01-01`, { token: admin.token }));
            assert.deepEqual(future.by_day_and_model, []);
            assert.equal(future.message_count, 0);
        });

        it("refuses a bad user_id or time with 422", async () => {
            assertError(await get(base, `${USAGE}?user_id=nope`, { token: admin.token }), 422, "invalid_request_error");
            assertError(await get(base, `${USAGE}?from=yesterday`, { token: admin.token }), 422, "invalid_request_error");
        });
    });

    describe("the audit log", () => {
        before(async () => {
            // A failed login of each kind, a refresh-token reuse, a key created and revoked.
            assert.equal((await login(base, bob.email, "NotThePassword1")).res.status, 401);
            assert.equal((await login(base, uniqueEmail("ghost"), "NotThePassword1")).res.status, 401);
            const first = ok(await post(base, "/api/v1/auth/refresh", { json: { refresh_token: bob.refresh } }));
            secrets.push(first.access_token, first.refresh_token, "NotThePassword1");
            const reuse = await post(base, "/api/v1/auth/refresh", { json: { refresh_token: bob.refresh } });
            assert.equal(reuse.res.status, 401);
            const key = ok(await post(base, KEYS, { token: bob.token, json: { name: "audited" } }), 201);
            secrets.push(key.key);
            assert.equal((await del(base, `${KEYS}/${key.id}`, { token: bob.token })).res.status, 204);
            const signedIn = ok(await login(base, bob.email));
            secrets.push(signedIn.access_token, signedIn.refresh_token);
        });

        it("records sign-ups, logins, failed logins, reuse, keys, admin changes and grants", async () => {
            // Failures are written without the request waiting: poll until they are in.
            let events = [];
            await waitUntil(async () => {
                events = await auditEvents(base, admin.token, `user_id=${bob.id}`);
                return events.some((e) => e.kind === "refresh_reuse") && events.some((e) => e.kind === "login_failed");
            }, { what: "the failure events in the audit log" });
            const kinds = new Set(events.map((e) => e.kind));
            for (const kind of ["signup", "login", "login_failed", "refresh_reuse", "api_key_created", "api_key_revoked", "admin_user_updated"]) {
                assert.ok(kinds.has(kind), `${kind} in ${JSON.stringify([...kinds])}`);
            }
            const failed = events.find((e) => e.kind === "login_failed");
            assert.deepEqual(failed.detail, { reason: "wrong_password", email: bob.email });
            assert.equal(failed.user_id, bob.id);
            assert.equal(failed.ip, "127.0.0.1");
            const change = events.find((e) => e.kind === "admin_user_updated");
            assert.equal(change.actor_id, admin.id);
            assert.deepEqual(Object.keys(change).sort(), ["actor_id", "created_at", "detail", "id", "ip", "kind", "user_id"]);

            const unknown = await auditEvents(base, admin.token, "kind=login_failed");
            assert.ok(unknown.some((e) => e.user_id === null && e.detail.reason === "unknown_email"), JSON.stringify(unknown));

            const grants = await auditEvents(base, admin.token, "kind=admin_granted");
            assert.deepEqual(
                grants.map((e) => [e.user_id, e.detail.reason]).sort(),
                [[admin.id, "ADMIN_EMAILS"], [named.id, "ADMIN_EMAILS"]].sort()
            );
        });

        it("filters by kind, user and time, newest first, paged", async () => {
            const signups = await auditEvents(base, admin.token, "kind=signup");
            assert.ok(signups.length >= 4);
            assert.ok(signups.every((e) => e.kind === "signup"));
            const times = signups.map((e) => e.created_at);
            assert.deepEqual(times, [...times].sort().reverse(), "newest first");

            const r = await get(base, `${AUDIT}?kind=signup&per_page=2&page=1`, { token: admin.token });
            assert.equal(ok(r).length, 2);
            assert.equal(r.body.total, signups.length);

            const mine = await auditEvents(base, admin.token, `kind=signup&user_id=${alice.id}`);
            assert.deepEqual(mine.map((e) => e.user_id), [alice.id]);

            const none = await auditEvents(base, admin.token, "from=2099-01-01");
            assert.deepEqual(none, []);
            const before2000 = await auditEvents(base, admin.token, "to=2000-01-01");
            assert.deepEqual(before2000, []);
        });

        it("refuses an unknown kind, user or time with 422", async () => {
            assertError(await get(base, `${AUDIT}?kind=everything`, { token: admin.token }), 422, "invalid_request_error", { message: /kind/ });
            assertError(await get(base, `${AUDIT}?user_id=42`, { token: admin.token }), 422, "invalid_request_error");
            assertError(await get(base, `${AUDIT}?to=soon`, { token: admin.token }), 422, "invalid_request_error");
        });

        it("holds no secret: no password, access or refresh token, or API key in any row", async () => {
            const events = await auditEvents(base, admin.token);
            assert.ok(events.length >= 15, `${events.length} events`);
            const text = JSON.stringify(events);
            assert.ok(secrets.length >= 15);
            for (const secret of secrets) {
                assert.ok(!text.includes(secret), `a secret (${secret.slice(0, 6)}…) in the audit log`);
            }
            for (const e of events) {
                for (const key of Object.keys(e.detail)) {
                    assert.doesNotMatch(key, /password|token|secret|hash/i, JSON.stringify(e));
                }
            }
        });
    });
});

describe("admin: the first account without ADMIN_EMAILS, and disabling across instances", () => {
    let a;
    let b;

    before(async () => {
        // Two instances on one database (a SQLite file, or the PostgreSQL database of the run).
        // The same JWT secret, as instances behind one load balancer have.
        const env = { ...UNLIMITED, ACCOUNT_CACHE_TTL_MS: "300", JWT_SECRET: "admin-test-secret-0123456789abcdefghijklmn" };
        [a, b] = await startTwoInstances(env);
    });

    after(async () => {
        await stopCleanly(b);
        await stopCleanly(a);
    });

    it("says at start that the first account will be the administrator", () => {
        assert.ok(a.lines.some((l) => l.includes("the first account is the administrator")), a.lines.join("\n"));
    });

    it("the first account to sign up is the admin; the next is not", async () => {
        const first = await register(a.baseUrl);
        const second = await register(b.baseUrl);
        ok(await get(b.baseUrl, USERS, { token: first.token }));
        assertError(await get(a.baseUrl, USERS, { token: second.token }), 403, "permission_error");
        const grants = await auditEvents(a.baseUrl, first.token, "kind=admin_granted");
        assert.deepEqual(grants.map((e) => [e.user_id, e.detail.reason]), [[first.id, "first_account"]]);

        // Disabled on instance A: instance B, which has the account cached, refuses it within its TTL.
        ok(await get(b.baseUrl, ME, { token: second.token }));
        ok(await patch(a.baseUrl, `${USERS}/${second.id}`, { token: first.token, json: { disabled: true } }));
        assertError(await get(a.baseUrl, ME, { token: second.token }), 401, "authentication_error");
        const started = Date.now();
        await waitUntil(async () => (await get(b.baseUrl, ME, { token: second.token })).res.status === 401, {
            timeoutMs: 3_000, what: "instance B to refuse the disabled account",
        });
        assert.ok(Date.now() - started < 2_000, `took ${Date.now() - started} ms`);
    });
});

describe("admin: ADMIN_EMAILS applied at start-up to existing accounts, audit events kept over a restart", () => {
    let databaseUrl;
    let tempDir;
    const env = { ...UNLIMITED, JWT_SECRET: "admin-restart-secret-0123456789abcdefghijk" };

    before(async () => {
        const pg = testDatabaseServer();
        if (pg) {
            databaseUrl = await createDatabase(pg);
        } else {
            tempDir = makeTempDir();
            databaseUrl = `sqlite://${tempDir}/parley.db`;
        }
    });

    after(() => {
        if (tempDir) {
            rmSync(tempDir, { recursive: true, force: true });
        }
    });

    it("promotes an existing account ADMIN_EMAILS names, and a failure event recorded just before shutdown is stored", async () => {
        const first = await startServer({ env: { ...env, DATABASE_URL: databaseUrl } });
        const owner = await register(first.baseUrl); // the first account: admin
        const later = await register(first.baseUrl);
        assertError(await get(first.baseUrl, USERS, { token: later.token }), 403, "permission_error");
        // Not waited for by the request: written by the audit log at the latest when the server stops.
        assert.equal((await login(first.baseUrl, later.email, "WrongPass999")).res.status, 401);
        await stopCleanly(first);

        const second = await startServer({ env: { ...env, DATABASE_URL: databaseUrl, ADMIN_EMAILS: later.email } });
        try {
            ok(await get(second.baseUrl, USERS, { token: later.token }));
            ok(await get(second.baseUrl, USERS, { token: owner.token })); // the first admin stays one
            const grants = await auditEvents(second.baseUrl, later.token, "kind=admin_granted");
            assert.deepEqual(
                grants.map((e) => [e.user_id, e.detail.reason]),
                [[later.id, "ADMIN_EMAILS"], [owner.id, "first_account"]]
            );
            const failed = await auditEvents(second.baseUrl, later.token, `kind=login_failed&user_id=${later.id}`);
            assert.equal(failed.length, 1, JSON.stringify(failed));
        } finally {
            await stopCleanly(second);
        }
    });
});
