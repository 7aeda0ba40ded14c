// Integration tests of Parley's accounts and credentials against the real binary: register, login,
// the current user, JWT verification, refresh-token rotation and reuse detection, logout, scoped
// API keys, per-user and per-IP rate limits, and request validation on the auth routes. The wire
// contract is /work/shared/reference/seed-api.md (Auth) and api/openapi.yaml.
//
//   node --test tests/integration/auth.test.mjs

import assert from "node:assert/strict";
import { createHash, createHmac, randomBytes } from "node:crypto";
import http from "node:http";
import net from "node:net";
import { after, before, describe, it } from "node:test";

import { assertError, del, get, post, uniqueEmail } from "../support/api.mjs";
import { parseResponses, rawRequest, startServer, startTwoInstances, waitUntil } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const ISO_8601 = /^\d{4}-\d{2}-\d{2}T\d{2}:\d{2}:\d{2}(\.\d+)?Z$/;
const PASSWORD = "SecurePass123";

const REGISTER = "/api/v1/auth/register";
const LOGIN = "/api/v1/auth/login";
const REFRESH = "/api/v1/auth/refresh";
const LOGOUT = "/api/v1/auth/logout";
const ME = "/api/v1/auth/me";
const KEYS = "/api/v1/api-keys";
const JSON_TYPE = { "content-type": "application/json" };
const OTHER_SECRET = "0123456789abcdefghijklmnopqrstuvwxyzABCD"; // 40 bytes

// Generous limits on the shared server, so the many requests here never hit the defaults (20 auth
// requests per IP per minute); the rate-limit tests use servers of their own.
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000" };

// Stops a server and checks it exited cleanly: code 0 and no sanitizer report in its output.
async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.join("\n")}`);
}

function assertUser(user, email) {
    assert.deepEqual(Object.keys(user).sort(), ["created_at", "email", "id"], JSON.stringify(user));
    assert.match(user.id, UUID);
    assert.equal(user.email, email);
    assert.match(user.created_at, ISO_8601);
}

/** Asserts a token-pair response body (register, login, refresh) and returns its data. */
function assertSession(body, email, expiresIn = 1800) {
    assert.equal(body.status, "success", JSON.stringify(body));
    const d = body.data;
    assert.deepEqual(
        Object.keys(d).sort(),
        ["access_token", "expires_in", "refresh_token", "token_type", "user"],
        JSON.stringify(d)
    );
    assert.equal(typeof d.access_token, "string");
    assert.equal(d.access_token.split(".").length, 3, "access token is a JWT");
    assert.equal(typeof d.refresh_token, "string");
    assert.ok(d.refresh_token.length >= 32, d.refresh_token);
    assert.notEqual(d.refresh_token, d.access_token);
    assert.equal(d.token_type, "bearer");
    assert.equal(d.expires_in, expiresIn);
    assertUser(d.user, email);
    return d;
}

async function register(base, email = uniqueEmail(), password = PASSWORD, { expiresIn = 1800 } = {}) {
    const r = await post(base, REGISTER, { json: { email, password } });
    assert.equal(r.res.status, 201, JSON.stringify(r.body));
    return assertSession(r.body, email.trim().toLowerCase(), expiresIn);
}

async function login(base, email, password = PASSWORD) {
    const r = await post(base, LOGIN, { json: { email, password } });
    assert.equal(r.res.status, 200, JSON.stringify(r.body));
    return assertSession(r.body, email.trim().toLowerCase());
}

async function createKey(base, token, json, { apiKey } = {}) {
    const r = await post(base, KEYS, apiKey ? { json, apiKey } : { json, token });
    assert.equal(r.res.status, 201, JSON.stringify(r.body));
    assert.equal(r.body.status, "success");
    return r.body.data;
}

const b64url = (value) => Buffer.from(typeof value === "string" ? value : JSON.stringify(value)).toString("base64url");

function decodeJwt(token) {
    const [header, payload] = token.split(".");
    return {
        header: JSON.parse(Buffer.from(header, "base64url").toString("utf8")),
        payload: JSON.parse(Buffer.from(payload, "base64url").toString("utf8")),
    };
}

/** An HS256 JWT signed with `secret` (the test forges tokens for a server whose secret it set). */
function signJwt(payload, secret, header = { alg: "HS256", typ: "JWT" }) {
    const input = `${b64url(header)}.${b64url(payload)}`;
    return `${input}.${createHmac("sha256", secret).update(input).digest("base64url")}`;
}

/** The tail of a 429 check shared by every limiter test; returns Retry-After as a number. */
function assertRateLimited(r, limit) {
    assertError(r, 429, "rate_limit_error");
    const retryAfter = Number(r.res.headers.get("retry-after"));
    assert.ok(retryAfter >= 1, `Retry-After: ${r.res.headers.get("retry-after")}`);
    assert.equal(r.res.headers.get("x-ratelimit-limit"), String(limit));
    assert.equal(r.res.headers.get("x-ratelimit-remaining"), "0");
    assert.ok(Number(r.res.headers.get("x-ratelimit-reset")) > 0, r.res.headers.get("x-ratelimit-reset"));
    return retryAfter;
}

/**
 * A request through node:http bound to a given local (client) address, so a test can speak from
 * several client IPs on the loopback (127.0.0.0/8). Resolves `{ res, body }` like `call`, with a
 * fetch-like `res.status` and `res.headers.get`.
 */
function callFrom(localAddress, port, method, route, { json, token } = {}) {
    return new Promise((resolve, reject) => {
        const headers = {};
        const payload = json === undefined ? undefined : Buffer.from(JSON.stringify(json));
        if (payload) {
            headers["content-type"] = "application/json";
            headers["content-length"] = payload.length;
        }
        if (token) {
            headers.authorization = `Bearer ${token}`;
        }
        const req = http.request(
            { host: "127.0.0.1", port, method, path: route, headers, localAddress, agent: false },
            (res) => {
                let text = "";
                res.setEncoding("utf8");
                res.on("data", (c) => (text += c));
                res.on("end", () => {
                    const get = (name) => {
                        const v = res.headers[name.toLowerCase()];
                        return v === undefined ? null : Array.isArray(v) ? v.join(", ") : String(v);
                    };
                    resolve({
                        res: { status: res.statusCode, url: `${localAddress} ${method} ${route}`, headers: { get } },
                        body: text ? JSON.parse(text) : undefined,
                    });
                });
            }
        );
        req.on("error", reject);
        req.end(payload);
    });
}

/** True when a socket can bind 127.0.0.2 (Linux routes all of 127/8 to the loopback). */
function canBindLoopbackAlias() {
    return new Promise((resolve) => {
        const server = net.createServer();
        server.once("error", () => resolve(false));
        server.listen(0, "127.0.0.2", () => server.close(() => resolve(true)));
    });
}

function median(values) {
    const sorted = [...values].sort((a, b) => a - b);
    const mid = Math.floor(sorted.length / 2);
    return sorted.length % 2 ? sorted[mid] : (sorted[mid - 1] + sorted[mid]) / 2;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

// ------------------------------------------------------------------------------------------------

describe("accounts and credentials", () => {
    let server;
    let base;
    let other; // a second server: its own JWT_SECRET and JWT_ACCESS_TOKEN_EXPIRE_MINUTES=5

    before(async () => {
        [server, other] = await Promise.all([
            startServer({ env: UNLIMITED }),
            startServer({ env: { ...UNLIMITED, JWT_SECRET: OTHER_SECRET, JWT_ACCESS_TOKEN_EXPIRE_MINUTES: "5" } }),
        ]);
        base = server.baseUrl;
    });

    after(async () => {
        await Promise.all([server && stopCleanly(server), other && stopCleanly(other)]);
    });

    describe("the seed demo's flow", () => {
        let session;

        it("registers demo@example.com: 201 with a token pair and the user", async () => {
            const r = await post(base, REGISTER, {
                json: { email: "demo@example.com", password: "SecurePass123" },
            });
            assert.equal(r.res.status, 201, JSON.stringify(r.body));
            assert.match(r.res.headers.get("content-type"), /^application\/json/);
            assert.ok(r.res.headers.get("x-request-id"));
            assert.equal(r.res.headers.get("cache-control"), "no-store");
            session = assertSession(r.body, "demo@example.com");
        });

        it("logs in: 200, same shape, same user, a new pair", async () => {
            const d = await login(base, "demo@example.com", "SecurePass123");
            assert.deepEqual(d.user, session.user);
            assert.notEqual(d.refresh_token, session.refresh_token);
            assert.notEqual(d.access_token, session.access_token);
        });

        it("GET /auth/me with the token is the user (auth: jwt)", async () => {
            const r = await get(base, ME, { token: session.access_token });
            assert.equal(r.res.status, 200, JSON.stringify(r.body));
            assert.deepEqual(r.body, { status: "success", data: { ...session.user, auth: "jwt" } });
        });

        it("GET /auth/me without a token: 401 authentication_error, WWW-Authenticate, request_id", async () => {
            const r = await get(base, ME);
            assertError(r, 401, "authentication_error");
            assert.match(r.res.headers.get("www-authenticate"), /^Bearer\b/);

            // A sane incoming X-Request-ID is the request id.
            const traced = await get(base, ME, { headers: { "x-request-id": "trace-auth-0001" } });
            assertError(traced, 401, "authentication_error");
            assert.equal(traced.body.error.request_id, "trace-auth-0001");
        });

        it("normalises emails: trimmed and lower-cased; login works with any case", async () => {
            const d = await register(base, " Demo2@Example.COM ");
            assert.equal(d.user.email, "demo2@example.com");
            for (const variant of ["demo2@example.com", "DEMO2@EXAMPLE.COM", "  dEmO2@eXaMpLe.CoM"]) {
                const l = await login(base, variant);
                assert.equal(l.user.id, d.user.id, variant);
            }
        });

        it("rejects a duplicate email, also one differing only in case, with 409 conflict_error", async () => {
            const email = uniqueEmail("dup");
            await register(base, email);
            assertError(await post(base, REGISTER, { json: { email, password: PASSWORD } }), 409, "conflict_error");
            assertError(
                await post(base, REGISTER, {
                    json: { email: ` ${email.toUpperCase()}`, password: "AnotherPass456" },
                }),
                409,
                "conflict_error"
            );
            // The original password still works: the duplicate changed nothing.
            await login(base, email);
            assertError(
                await post(base, LOGIN, { json: { email, password: "AnotherPass456" } }),
                401,
                "authentication_error"
            );
        });
    });

    describe("login failures", () => {
        it("wrong password and unknown email are the same 401 and take comparable time", async () => {
            const email = uniqueEmail("timing");
            await register(base, email);
            const strip = (body) => ({ ...body, error: { ...body.error, request_id: "" } });

            // Warm-up: the first unknown-email login also builds the dummy hash.
            const warm = await post(base, LOGIN, {
                json: { email: uniqueEmail("nobody"), password: PASSWORD },
            });
            assertError(warm, 401, "authentication_error");

            const wrong = [];
            const unknown = [];
            let wrongBody;
            for (let i = 0; i < 5; i++) {
                let t = performance.now();
                const a = await post(base, LOGIN, { json: { email, password: `Wrong${i}Pass!` } });
                wrong.push(performance.now() - t);
                assertError(a, 401, "authentication_error");
                wrongBody ??= strip(a.body);
                assert.deepEqual(strip(a.body), wrongBody);

                t = performance.now();
                const b = await post(base, LOGIN, {
                    json: { email: uniqueEmail("nobody"), password: PASSWORD },
                });
                unknown.push(performance.now() - t);
                assertError(b, 401, "authentication_error");
                assert.deepEqual(strip(b.body), wrongBody, "identical bodies apart from request_id");
            }
            const w = median(wrong);
            const u = median(unknown);
            assert.ok(
                u >= 0.5 * w,
                `unknown-email median ${u.toFixed(1)} ms vs wrong-password median ${w.toFixed(1)} ms`
            );
        });

        it("an email that is not an address is the same 401 at login (no 422 oracle)", async () => {
            const r = await post(base, LOGIN, { json: { email: "not-an-email", password: PASSWORD } });
            assertError(r, 401, "authentication_error", { message: /invalid email or password/ });
        });
    });

    describe("bearer tokens", () => {
        let session;
        before(async () => {
            session = await register(base, uniqueEmail("jwt"));
        });

        const me = (authorization) =>
            get(base, ME, authorization === undefined ? {} : { headers: { authorization } });

        it("the access token's claims: sub, iat, exp = iat + 1800, jti, iss, aud; header HS256", async () => {
            const { header, payload } = decodeJwt(session.access_token);
            assert.deepEqual(header, { alg: "HS256", typ: "JWT" });
            assert.equal(payload.sub, session.user.id);
            assert.equal(payload.iss, "parley");
            assert.equal(payload.aud, "parley-api");
            assert.equal(payload.exp - payload.iat, 1800);
            assert.ok(Math.abs(payload.iat - Date.now() / 1000) < 60, `iat ${payload.iat}`);
            assert.equal(typeof payload.jti, "string");
            assert.ok(payload.jti.length >= 16);
            const again = await login(base, session.user.email);
            assert.notEqual(decodeJwt(again.access_token).payload.jti, payload.jti, "a fresh jti per token");
        });

        it("accepts the scheme case-insensitively", async () => {
            const r = await me(`bearer ${session.access_token}`);
            assert.equal(r.res.status, 200, JSON.stringify(r.body));
        });

        // [label, Authorization value, what the 401's message says (the reason it was refused)]
        const bad = [
            ["garbage", () => "Bearer garbage", /malformed/],
            ["three garbage segments", () => "Bearer aaa.bbb.ccc", /malformed/],
            [
                "alg none",
                () => {
                    const now = Math.floor(Date.now() / 1000);
                    const claims = { sub: session.user.id, iat: now, exp: now + 3600 };
                    Object.assign(claims, { iss: "parley", aud: "parley-api" });
                    return `Bearer ${b64url({ alg: "none", typ: "JWT" })}.${b64url(claims)}.`;
                },
                /algorithm/,
            ],
            [
                "alg none with the real payload and signature",
                () => {
                    const [, payload, signature] = session.access_token.split(".");
                    return `Bearer ${b64url({ alg: "none", typ: "JWT" })}.${payload}.${signature}`;
                },
                /algorithm/,
            ],
            [
                "one payload character changed",
                () => {
                    const [h, p, s] = session.access_token.split(".");
                    const i = Math.floor(p.length / 2);
                    const swapped = p[i] === "A" ? "B" : "A";
                    return `Bearer ${h}.${p.slice(0, i)}${swapped}${p.slice(i + 1)}.${s}`;
                },
                /signature/,
            ],
            [
                "a payload re-encoded with another sub",
                () => {
                    const [h, , s] = session.access_token.split(".");
                    const { payload } = decodeJwt(session.access_token);
                    return `Bearer ${h}.${b64url({ ...payload, sub: "00000000-0000-7000-8000-000000000000" })}.${s}`;
                },
                /signature/,
            ],
            ["truncated by one character", () => `Bearer ${session.access_token.slice(0, -1)}`, /malformed/],
            [
                "truncated to two segments",
                () => `Bearer ${session.access_token.split(".").slice(0, 2).join(".")}`,
                /malformed/,
            ],
            [
                "signed with another secret",
                () => `Bearer ${signJwt(decodeJwt(session.access_token).payload, "x".repeat(40))}`,
                /signature/,
            ],
            ["Bearer and nothing after it", () => "Bearer", /Bearer/],
            ["Basic credentials", () => "Basic xyz", /Bearer/],
            ["Basic credentials holding the token", () => `Basic ${session.access_token}`, /Bearer/],
            ["a token without a scheme", () => session.access_token, /Bearer/],
            ["an API-key-shaped string that is no key", () => `Bearer prly_${"A".repeat(43)}`, /API key/],
        ];
        for (const [label, make, message] of bad) {
            it(`rejects ${label} with 401`, async () => {
                assertError(await me(make()), 401, "authentication_error", { message });
            });
        }

        it("a JWT from a server with another JWT_SECRET is rejected, and vice versa", async () => {
            const theirs = await register(other.baseUrl, uniqueEmail("other"), PASSWORD, { expiresIn: 300 });
            const onOther = await get(other.baseUrl, ME, { token: theirs.access_token });
            assert.equal(onOther.res.status, 200, JSON.stringify(onOther.body));
            assertError(await get(base, ME, { token: theirs.access_token }), 401, "authentication_error", {
                message: /signature/,
            });
            assertError(await get(other.baseUrl, ME, { token: session.access_token }), 401, "authentication_error");
        });

        it("expires_in and exp - iat follow JWT_ACCESS_TOKEN_EXPIRE_MINUTES=5 (300 s)", async () => {
            const email = uniqueEmail("five");
            const r = await post(other.baseUrl, REGISTER, { json: { email, password: PASSWORD } });
            assert.equal(r.res.status, 201);
            const d = assertSession(r.body, email, 300);
            const { payload } = decodeJwt(d.access_token);
            assert.equal(payload.exp - payload.iat, 300);
            assert.equal(payload.iss, "parley");
            assert.equal(payload.aud, "parley-api");
            assert.equal(typeof payload.jti, "string");
            assert.ok(payload.jti.length > 0);
            const l = await post(other.baseUrl, LOGIN, { json: { email, password: PASSWORD } });
            assertSession(l.body, email, 300);
        });

        describe("claims of tokens signed with the right secret (forged on the second server)", () => {
            let user;
            let claims;
            before(async () => {
                const d = await register(other.baseUrl, uniqueEmail("forge"), PASSWORD, { expiresIn: 300 });
                user = d.user;
                claims = decodeJwt(d.access_token).payload;
            });
            const now = () => Math.floor(Date.now() / 1000);
            const meOther = (token) => get(other.baseUrl, ME, { token });

            it("a well-formed token the test signs is accepted (the forging is right)", async () => {
                const r = await meOther(signJwt({ ...claims, jti: "forged-1" }, OTHER_SECRET));
                assert.equal(r.res.status, 200, JSON.stringify(r.body));
                assert.equal(r.body.data.id, user.id);
            });

            it("aud may be an array containing parley-api", async () => {
                const r = await meOther(signJwt({ ...claims, aud: ["else", "parley-api"] }, OTHER_SECRET));
                assert.equal(r.res.status, 200, JSON.stringify(r.body));
            });

            const rejected = {
                "exp 5 minutes ago": () => ({ ...claims, iat: now() - 600, exp: now() - 300 }),
                "no exp": () => {
                    const { exp, ...rest } = claims;
                    return rest;
                },
                "exp as a string": () => ({ ...claims, exp: String(now() + 300) }),
                "iat 5 minutes in the future": () => ({ ...claims, iat: now() + 300, exp: now() + 600 }),
                "nbf 5 minutes in the future": () => ({ ...claims, nbf: now() + 300 }),
                "another issuer": () => ({ ...claims, iss: "someone-else" }),
                "another audience": () => ({ ...claims, aud: "other-api" }),
                "no subject": () => {
                    const { sub, ...rest } = claims;
                    return rest;
                },
                "an unknown subject": () => ({ ...claims, sub: "00000000-0000-7000-8000-000000000000" }),
            };
            for (const [label, make] of Object.entries(rejected)) {
                it(`rejects ${label} with 401`, async () => {
                    assertError(await meOther(signJwt(make(), OTHER_SECRET)), 401, "authentication_error");
                });
            }

            it("rejects alg HS512 and a crit header even when the HMAC-SHA256 is right", async () => {
                for (const header of [
                    { alg: "HS512", typ: "JWT" },
                    { alg: "HS256", typ: "JWT", crit: ["exp"] },
                ]) {
                    assertError(await meOther(signJwt(claims, OTHER_SECRET, header)), 401, "authentication_error");
                }
            });

            it("tolerates 30 s of clock skew on exp", async () => {
                const r = await meOther(signJwt({ ...claims, exp: now() - 5 }, OTHER_SECRET));
                assert.equal(r.res.status, 200, JSON.stringify(r.body));
            });
        });
    });

    describe("refresh tokens", () => {
        it("rotates: a new pair, the new access token works, the old refresh token is refused", async () => {
            const email = uniqueEmail("refresh");
            const first = await register(base, email);
            const r = await post(base, REFRESH, { json: { refresh_token: first.refresh_token } });
            assert.equal(r.res.status, 200, JSON.stringify(r.body));
            const second = assertSession(r.body, email);
            assert.notEqual(second.refresh_token, first.refresh_token);
            assert.deepEqual(second.user, first.user);
            const me = await get(base, ME, { token: second.access_token });
            assert.equal(me.res.status, 200);
            assert.equal(me.body.data.id, first.user.id);

            // Reuse of the rotated token: 401, and the whole family is revoked.
            assertError(
                await post(base, REFRESH, { json: { refresh_token: first.refresh_token } }),
                401,
                "authentication_error"
            );
            assertError(
                await post(base, REFRESH, { json: { refresh_token: second.refresh_token } }),
                401,
                "authentication_error"
            );
            const warned = server.lines.some((l) => l.includes("refresh token reuse detected"));
            assert.ok(warned, "reuse is logged");

            // Other sessions of the same user (another family) are untouched.
            const fresh = await login(base, email);
            const again = await post(base, REFRESH, { json: { refresh_token: fresh.refresh_token } });
            assert.equal(again.res.status, 200, JSON.stringify(again.body));
        });

        it("a chain of rotations keeps working", async () => {
            let d = await register(base, uniqueEmail("chain"));
            for (let i = 0; i < 3; i++) {
                const r = await post(base, REFRESH, { json: { refresh_token: d.refresh_token } });
                assert.equal(r.res.status, 200, `rotation ${i}: ${JSON.stringify(r.body)}`);
                d = r.body.data;
            }
        });

        it("two concurrent refreshes of the same token: exactly one succeeds", async () => {
            const d = await register(base, uniqueEmail("race"));
            const results = await Promise.all(
                [0, 1].map(() => post(base, REFRESH, { json: { refresh_token: d.refresh_token } }))
            );
            const statuses = results.map((r) => r.res.status).sort();
            assert.deepEqual(statuses, [200, 401], JSON.stringify(results.map((r) => r.body)));
            assertError(results.find((r) => r.res.status === 401), 401, "authentication_error");
            // The loser presented a token that was (being) rotated: reuse, so the family is revoked,
            // the winner's new refresh token included; its access token still works.
            const winner = results.find((r) => r.res.status === 200).body.data;
            assertError(
                await post(base, REFRESH, { json: { refresh_token: winner.refresh_token } }),
                401,
                "authentication_error"
            );
            assert.equal((await get(base, ME, { token: winner.access_token })).res.status, 200);
        });

        it("an unknown, empty or oversized refresh token is refused", async () => {
            assertError(
                await post(base, REFRESH, { json: { refresh_token: randomBytes(32).toString("base64url") } }),
                401,
                "authentication_error"
            );
            assertError(await post(base, REFRESH, { json: { refresh_token: "" } }), 422, "invalid_request_error");
            assertError(
                await post(base, REFRESH, { json: { refresh_token: "a".repeat(513) } }),
                422,
                "invalid_request_error"
            );
            assertError(await post(base, REFRESH, { json: {} }), 422, "invalid_request_error", {
                message: /refresh_token/,
            });
            assertError(await post(base, REFRESH, { json: { refresh_token: 42 } }), 422, "invalid_request_error");
        });

        it("an access token is not a refresh token", async () => {
            const d = await register(base, uniqueEmail("swap"));
            const r = await post(base, REFRESH, { json: { refresh_token: d.access_token } });
            assertError(r, 401, "authentication_error");
        });
    });

    describe("logout", () => {
        it("needs an access token (401), then revokes the refresh token (200); idempotent", async () => {
            const d = await register(base, uniqueEmail("logout"));
            const anonymous = await post(base, LOGOUT, { json: { refresh_token: d.refresh_token } });
            assertError(anonymous, 401, "authentication_error");
            // The refused logout revoked nothing.
            const rotated = await post(base, REFRESH, { json: { refresh_token: d.refresh_token } });
            assert.equal(rotated.res.status, 200, JSON.stringify(rotated.body));
            const current = rotated.body.data;

            const r = await post(base, LOGOUT, {
                json: { refresh_token: current.refresh_token },
                token: current.access_token,
            });
            assert.equal(r.res.status, 200, JSON.stringify(r.body));
            assert.deepEqual(r.body, { status: "success", data: { message: "Logged out successfully" } });
            assertError(
                await post(base, REFRESH, { json: { refresh_token: current.refresh_token } }),
                401,
                "authentication_error"
            );

            // Again, and with a token nobody issued: still 200.
            for (const refresh_token of [current.refresh_token, randomBytes(32).toString("base64url")]) {
                const again = await post(base, LOGOUT, { json: { refresh_token }, token: current.access_token });
                assert.equal(again.res.status, 200, JSON.stringify(again.body));
                assert.deepEqual(again.body.data, { message: "Logged out successfully" });
            }
        });

        it("cannot revoke another user's refresh token", async () => {
            const alice = await register(base, uniqueEmail("alice"));
            const mallory = await register(base, uniqueEmail("mallory"));
            const r = await post(base, LOGOUT, {
                json: { refresh_token: alice.refresh_token },
                token: mallory.access_token,
            });
            assert.equal(r.res.status, 200, JSON.stringify(r.body));
            const still = await post(base, REFRESH, { json: { refresh_token: alice.refresh_token } });
            assert.equal(still.res.status, 200, JSON.stringify(still.body));
        });

        it("validates its body like the other routes", async () => {
            const d = await register(base, uniqueEmail("logout-bad"));
            assertError(await post(base, LOGOUT, { json: {}, token: d.access_token }), 422, "invalid_request_error", {
                message: /refresh_token/,
            });
            assertError(
                await post(base, LOGOUT, {
                    body: "refresh_token=x",
                    token: d.access_token,
                    headers: { "content-type": "text/plain" },
                }),
                415,
                "invalid_request_error"
            );
        });
    });

    describe("API keys", () => {
        let owner; // a session
        let key; // the default key's creation data

        before(async () => {
            owner = await register(base, uniqueEmail("keys"));
        });

        it("POST /api-keys with the JWT: 201, prly_ key, 12-char prefix, read+write by default", async () => {
            const r = await post(base, KEYS, { json: { name: "ci" }, token: owner.access_token });
            assert.equal(r.res.status, 201, JSON.stringify(r.body));
            assert.equal(r.body.status, "success");
            key = r.body.data;
            assert.deepEqual(
                Object.keys(key).sort(),
                ["created_at", "expires_at", "id", "key", "last_used_at", "name", "prefix", "scopes"],
                JSON.stringify(key)
            );
            assert.match(key.id, UUID);
            assert.equal(key.name, "ci");
            assert.match(key.key, /^prly_[A-Za-z0-9_-]{43}$/);
            assert.equal(key.prefix, key.key.slice(0, 12));
            assert.deepEqual(key.scopes, ["read", "write"]);
            assert.match(key.created_at, ISO_8601);
            assert.equal(key.last_used_at, null);
            assert.equal(key.expires_at, null);
        });

        it("works as Authorization: Bearer and as X-API-Key on /auth/me (auth: api_key)", async () => {
            const ways = [{ token: key.key }, { apiKey: key.key }, { headers: { authorization: `bearer ${key.key}` } }];
            for (const opts of ways) {
                const r = await get(base, ME, opts);
                assert.equal(r.res.status, 200, `${JSON.stringify(opts)}: ${JSON.stringify(r.body)}`);
                assert.deepEqual(r.body.data, { ...owner.user, auth: "api_key" });
            }
        });

        it("X-API-Key carries API keys only: an access token there is a 401", async () => {
            const r = await get(base, ME, { apiKey: owner.access_token });
            assertError(r, 401, "authentication_error");
        });

        it("GET /api-keys lists the keys with page/per_page/total, never the key or its hash", async () => {
            const r = await get(base, KEYS, { token: owner.access_token });
            assert.equal(r.res.status, 200, r.text);
            assert.equal(r.body.status, "success");
            assert.equal(r.body.page, 1);
            assert.equal(r.body.per_page, 20);
            assert.equal(r.body.total, 1);
            assert.equal(r.body.data.length, 1);
            const [listed] = r.body.data;
            const { key: secret, last_used_at, ...rest } = key;
            assert.deepEqual({ ...listed, last_used_at: null }, { ...rest, last_used_at: null });
            assert.ok(!("key" in listed));
            // The key was used just before: its first use is recorded.
            assert.match(listed.last_used_at ?? "", ISO_8601, "last_used_at after use");
            assert.ok(!r.text.includes(secret), "the key is not in the list");
            assert.ok(!r.text.includes(secret.slice(12)), "nor its secret part");
            assert.ok(!r.text.includes(createHash("sha256").update(secret).digest("hex")), "nor its SHA-256");

            // An API key with read can list too.
            const byKey = await get(base, KEYS, { apiKey: key.key });
            assert.equal(byKey.res.status, 200);
            assert.equal(byKey.body.total, 1);
        });

        it("pages the list and validates page/per_page", async () => {
            const s = await register(base, uniqueEmail("pages"));
            for (const name of ["k1", "k2", "k3"]) {
                await createKey(base, s.access_token, { name });
            }
            const p1 = await get(base, "/api/v1/api-keys?per_page=2", { token: s.access_token });
            assert.equal(p1.res.status, 200);
            assert.deepEqual([p1.body.page, p1.body.per_page, p1.body.total, p1.body.data.length], [1, 2, 3, 2]);
            assert.deepEqual(p1.body.data.map((k) => k.name), ["k3", "k2"], "newest first");
            const p2 = await get(base, "/api/v1/api-keys?per_page=2&page=2", { token: s.access_token });
            assert.deepEqual(p2.body.data.map((k) => k.name), ["k1"]);
            for (const q of ["per_page=0", "per_page=101", "page=0", "page=x"]) {
                assertError(await get(base, `${KEYS}?${q}`, { token: s.access_token }), 422, "invalid_request_error");
            }
        });

        it("a read-only key can read but not create keys (403 permission_error)", async () => {
            const ro = await createKey(base, owner.access_token, { name: "ro", scopes: ["read"] });
            assert.deepEqual(ro.scopes, ["read"]);
            const me = await get(base, ME, { apiKey: ro.key });
            assert.equal(me.res.status, 200);
            assertError(await post(base, KEYS, { json: { name: "x" }, apiKey: ro.key }), 403, "permission_error", {
                message: /admin/,
            });
            assertError(
                await post(base, KEYS, { json: { name: "x", scopes: ["read"] }, apiKey: ro.key }),
                403,
                "permission_error"
            );
        });

        it("a read+write key cannot create keys either (admin)", async () => {
            assertError(await post(base, KEYS, { json: { name: "x" }, token: key.key }), 403, "permission_error");
        });

        it("an admin+read key can create keys, but none with a scope it lacks", async () => {
            const admin = await createKey(base, owner.access_token, { name: "admin", scopes: ["admin", "read"] });
            assert.deepEqual([...admin.scopes].sort(), ["admin", "read"]);
            const child = await createKey(base, undefined, { name: "child", scopes: ["read"] }, { apiKey: admin.key });
            assert.deepEqual(child.scopes, ["read"]);
            const me = await get(base, ME, { apiKey: child.key });
            assert.equal(me.body.data.id, owner.user.id);
            // The default scopes include write, which this key lacks.
            assertError(await post(base, KEYS, { json: { name: "x" }, apiKey: admin.key }), 403, "permission_error");
            assertError(
                await post(base, KEYS, { json: { name: "x", scopes: ["admin", "write"] }, apiKey: admin.key }),
                403,
                "permission_error"
            );
        });

        it("DELETE revokes: 204, then 401 for the key, gone from the list, 404 again", async () => {
            const doomed = await createKey(base, owner.access_token, { name: "doomed" });
            assert.equal((await get(base, ME, { apiKey: doomed.key })).res.status, 200);

            const res = await fetch(`${base}/api/v1/api-keys/${doomed.id}`, {
                method: "DELETE",
                headers: { authorization: `Bearer ${owner.access_token}` },
            });
            assert.equal(res.status, 204);
            assert.equal(await res.text(), "");

            assertError(await get(base, ME, { apiKey: doomed.key }), 401, "authentication_error");
            assertError(await get(base, ME, { token: doomed.key }), 401, "authentication_error");
            const list = await get(base, "/api/v1/api-keys?per_page=100", { token: owner.access_token });
            assert.ok(!list.body.data.some((k) => k.id === doomed.id), "revoked key not listed");

            const ids = [doomed.id, "not-a-uuid", "123", `${doomed.id}x`, "00000000-0000-7000-8000-000000000000"];
            for (const id of ids) {
                const again = await del(base, `${KEYS}/${id}`, { token: owner.access_token });
                assertError(again, 404, "not_found_error");
            }
        });

        it("another user cannot delete your key (404) and it keeps working", async () => {
            const mine = await createKey(base, owner.access_token, { name: "mine" });
            const stranger = await register(base, uniqueEmail("stranger"));
            const r = await del(base, `${KEYS}/${mine.id}`, { token: stranger.access_token });
            assertError(r, 404, "not_found_error");
            const me = await get(base, ME, { apiKey: mine.key });
            assert.equal(me.res.status, 200);
            assert.equal(me.body.data.id, owner.user.id);
            const theirs = await get(base, KEYS, { token: stranger.access_token });
            assert.equal(theirs.body.total, 0, "the stranger lists none of the owner's keys");
        });

        it("DELETE needs admin: a read+write key gets 403", async () => {
            const victim = await createKey(base, owner.access_token, { name: "victim" });
            assertError(await del(base, `${KEYS}/${victim.id}`, { token: key.key }), 403, "permission_error");
            assert.equal((await get(base, ME, { apiKey: victim.key })).res.status, 200);
        });

        it("expires_at in the past is a 422; a key expiring in 2 s works, then is refused", async () => {
            const past = new Date(Date.now() - 60_000).toISOString();
            assertError(
                await post(base, KEYS, { json: { name: "old", expires_at: past }, token: owner.access_token }),
                422,
                "invalid_request_error",
                { message: /expires_at/ }
            );
            const created = Date.now();
            const expiresAt = new Date(created + 2_000).toISOString();
            const short = await createKey(base, owner.access_token, { name: "short", expires_at: expiresAt });
            assert.equal(short.expires_at, expiresAt);
            const now = await get(base, ME, { apiKey: short.key });
            assert.equal(now.res.status, 200, JSON.stringify(now.body));
            await sleep(Math.max(0, created + 2_500 - Date.now()));
            assertError(await get(base, ME, { apiKey: short.key }), 401, "authentication_error", {
                message: /expired/,
            });
        });

        it("rejects invalid scopes, names and expiry dates with 422", async () => {
            const bodies = [
                { name: "x", scopes: ["superuser"] },
                { name: "x", scopes: [] },
                { name: "x", scopes: "read" },
                { name: "x", scopes: ["read", 1] },
                { name: "x", scopes: ["READ"] },
                {},
                { name: "" },
                { name: "n".repeat(101) },
                { name: 7 },
                { name: "x", expires_at: "tomorrow" },
                { name: "x", expires_at: 1893456000 },
                { name: "x", scope: ["read"] },
                { name: "x", key: "prly_mine" },
            ];
            for (const json of bodies) {
                const r = await post(base, KEYS, { json, token: owner.access_token });
                assertError(r, 422, "invalid_request_error");
            }
            // An unknown field is named (a misspelt `scopes` must not silently mean read+write).
            assertError(
                await post(base, KEYS, { json: { name: "x", scope: ["read"] }, token: owner.access_token }),
                422,
                "invalid_request_error",
                { message: /unknown field `scope`/ }
            );
            const list = await get(base, "/api/v1/api-keys?per_page=100", { token: owner.access_token });
            assert.ok(!list.body.data.some((k) => k.name === "x"), "no key was created");
        });

        it("needs a credential: 401 without one", async () => {
            assertError(await post(base, KEYS, { json: { name: "x" } }), 401, "authentication_error");
            assertError(await get(base, KEYS), 401, "authentication_error");
            assertError(await del(base, `${KEYS}/${key.id}`), 401, "authentication_error");
        });
    });

    describe("request validation on register and login", () => {
        const registerRaw = (opts) => post(base, REGISTER, opts);

        it("missing email or password: 422 naming the field", async () => {
            for (const route of [REGISTER, LOGIN]) {
                for (const [json, field] of [
                    [{ password: PASSWORD }, /email/],
                    [{ email: uniqueEmail() }, /password/],
                    [{ email: null, password: PASSWORD }, /email/],
                    [{ email: uniqueEmail(), password: null }, /password/],
                ]) {
                    assertError(await post(base, route, { json }), 422, "invalid_request_error", { message: field });
                }
            }
        });

        it("wrong types: 422", async () => {
            for (const [json, field] of [
                [{ email: 123, password: PASSWORD }, /email/],
                [{ email: uniqueEmail(), password: true }, /password/],
                [{ email: ["a@example.com"], password: PASSWORD }, /email/],
                [{ email: uniqueEmail(), password: { p: 1 } }, /password/],
                [{ email: uniqueEmail(), password: 12345678 }, /password/],
            ]) {
                assertError(await registerRaw({ json }), 422, "invalid_request_error", { message: field });
            }
        });

        it("invalid email addresses: 422", async () => {
            const longLocal = "a".repeat(64);
            const label = "b".repeat(63);
            // 64 + 1 + 63 + 1 + 63 + 1 + 62 = 255 bytes, every part within its own limit.
            const email255 = `${longLocal}@${label}.${label}.${"c".repeat(58)}.com`;
            assert.equal(email255.length, 255);
            const invalid = ["not-an-email", "a@b", "", "  ", "@example.com", "a@", "a@@example.com"];
            invalid.push("a b@example.com", "a@exa mple.com", "a..b@example.com", ".a@example.com", "a@-example.com");
            invalid.push(email255);
            for (const email of invalid) {
                const r = await registerRaw({ json: { email, password: PASSWORD } });
                assertError(r, 422, "invalid_request_error", { message: /email/ });
            }
        });

        it("password length in characters: 7 is a 422, 8 a 201, 128 a 201, 129 a 422", async () => {
            // Seven characters of two bytes each are 14 bytes, still too short.
            for (const password of ["1234567", "p".repeat(129), "é".repeat(7), "é".repeat(129)]) {
                const r = await registerRaw({ json: { email: uniqueEmail(), password } });
                assertError(r, 422, "invalid_request_error", { message: /password/ });
            }

            const e8 = uniqueEmail("pw8");
            await register(base, e8, "12345678");
            await login(base, e8, "12345678");
            const e128 = uniqueEmail("pw128");
            const long = "é".repeat(128); // 128 characters, 256 bytes
            await register(base, e128, long);
            await login(base, e128, long);
        });

        it("accepts application/json with a charset parameter", async () => {
            const email = uniqueEmail("charset");
            const r = await registerRaw({
                body: JSON.stringify({ email, password: PASSWORD }),
                headers: { "content-type": "Application/JSON; charset=utf-8" },
            });
            assert.equal(r.res.status, 201, JSON.stringify(r.body));
        });

        it("invalid UTF-8 in the body: 400", async () => {
            const bytes = Buffer.concat([
                Buffer.from('{"email":"'),
                Buffer.from([0xff, 0xfe]),
                Buffer.from(`${uniqueEmail()}","password":"${PASSWORD}"}`),
            ]);
            const r = await registerRaw({ body: new Uint8Array(bytes), headers: JSON_TYPE });
            assertError(r, 400, "invalid_request_error", { message: /UTF-8/ });
            // An overlong encoding and a lone surrogate are invalid too.
            for (const bad of [[0xc0, 0xaf], [0xed, 0xa0, 0x80]]) {
                const body = Buffer.concat([
                    Buffer.from('{"email":"a'),
                    Buffer.from(bad),
                    Buffer.from('@example.com","password":"x"}'),
                ]);
                assertError(
                    await registerRaw({ body: new Uint8Array(body), headers: JSON_TYPE }),
                    400,
                    "invalid_request_error"
                );
            }
        });

        it("malformed JSON, an empty body: 400", async () => {
            for (const body of ['{"email": "a@example.com",', "{email: 1}", "nope", '{"a":1} {"b":2}', ""]) {
                assertError(await registerRaw({ body, headers: JSON_TYPE }), 400, "invalid_request_error");
            }
        });

        it("a duplicated key (I-JSON): 400, and neither address gets an account", async () => {
            const first = uniqueEmail("dup-a");
            const second = uniqueEmail("dup-b");
            for (const body of [
                `{"email":"${first}","email":"${second}","password":"${PASSWORD}"}`,
                `{"email":"${first}","password":"${PASSWORD}","password":"Other${PASSWORD}"}`,
                `{"email":"${first}","\\u0065mail":"${second}","password":"${PASSWORD}"}`,
            ]) {
                for (const route of [REGISTER, LOGIN]) {
                    assertError(await post(base, route, { body, headers: JSON_TYPE }), 400, "invalid_request_error", {
                        message: /duplicate key `(email|password)`/,
                    });
                }
            }
            for (const email of [first, second]) {
                assertError(await post(base, LOGIN, { json: { email, password: PASSWORD } }), 401, "authentication_error");
            }
        });

        it("an unknown field: 422 naming it, on register, login, refresh and logout", async () => {
            const email = uniqueEmail("strict");
            for (const [route, json, field] of [
                [REGISTER, { email, password: PASSWORD, name: "Ann" }, "name"],
                [REGISTER, { email, password: PASSWORD, is_admin: true }, "is_admin"],
                [LOGIN, { email, password: PASSWORD, remember_me: true }, "remember_me"],
                [LOGIN, { username: email, password: PASSWORD }, "username"],
                [REFRESH, { refresh_token: "x".repeat(40), grant_type: "refresh_token" }, "grant_type"],
            ]) {
                assertError(await post(base, route, { json }), 422, "invalid_request_error", {
                    message: new RegExp(`unknown field \`${field}\``),
                });
            }
            assertError(await post(base, LOGIN, { json: { email, password: PASSWORD } }), 401, "authentication_error");
            const d = await register(base, email);
            assertError(
                await post(base, LOGOUT, { json: { refresh_token: d.refresh_token, all: true }, token: d.access_token }),
                422,
                "invalid_request_error",
                { message: /unknown field `all`/ }
            );
            // Nothing was revoked by the refused logout.
            const r = await post(base, REFRESH, { json: { refresh_token: d.refresh_token } });
            assert.equal(r.res.status, 200, JSON.stringify(r.body));
        });

        it("a JSON body that is not an object: 422", async () => {
            for (const body of ['[{"email":"a@example.com","password":"SecurePass123"}]', '"text"', "42", "null"]) {
                assertError(await registerRaw({ body, headers: JSON_TYPE }), 422, "invalid_request_error");
            }
        });

        it("no Content-Type or a non-JSON one: 415", async () => {
            const json = JSON.stringify({ email: uniqueEmail(), password: PASSWORD });
            // A Uint8Array body makes fetch send no Content-Type at all.
            assertError(await registerRaw({ body: new TextEncoder().encode(json) }), 415, "invalid_request_error", {
                message: /Content-Type/,
            });
            const plain = await registerRaw({ body: json, headers: { "content-type": "text/plain" } });
            assertError(plain, 415, "invalid_request_error");
            assertError(
                await registerRaw({ body: new URLSearchParams({ email: "a@example.com", password: PASSWORD }) }),
                415,
                "invalid_request_error"
            );
        });

        it("a 2 MiB body: 413 request_too_large", async () => {
            const body = JSON.stringify({ email: uniqueEmail(), password: "p".repeat(2 * 1024 * 1024) });
            assertError(await registerRaw({ body, headers: JSON_TYPE }), 413, "request_too_large");
        });

        it("JSON nested 100 deep: 400; 60 deep parses (then 422 for the wrong type)", async () => {
            const nest = (n) => `${"[".repeat(n)}${"]".repeat(n)}`;
            assertError(
                await registerRaw({ body: `{"email":${nest(100)},"password":"x"}`, headers: JSON_TYPE }),
                400,
                "invalid_request_error",
                { message: /deep/ }
            );
            assertError(
                await registerRaw({ body: `{"email":${nest(60)},"password":"x"}`, headers: JSON_TYPE }),
                422,
                "invalid_request_error"
            );
        });

        it("the server still serves after all of that", async () => {
            const d = await register(base);
            assert.equal((await get(base, ME, { token: d.access_token })).res.status, 200);
        });
    });
});

describe("rate limits", () => {
    describe("per user on ordinary routes (RATE_LIMIT_STANDARD=5)", () => {
        let server;
        let base;
        before(async () => {
            server = await startServer({ env: { RATE_LIMIT_STANDARD: "5" } });
            base = server.baseUrl;
        });
        after(async () => {
            if (server) {
                await stopCleanly(server);
            }
        });

        it("five requests pass with X-RateLimit-* counting down, the sixth is a 429; others unaffected", async () => {
            const alice = await register(base, uniqueEmail("rl-a"));
            const bob = await register(base, uniqueEmail("rl-b"));
            for (let i = 0; i < 5; i++) {
                const r = await get(base, ME, { token: alice.access_token });
                assert.equal(r.res.status, 200, `request ${i + 1}: ${JSON.stringify(r.body)}`);
                assert.equal(r.res.headers.get("x-ratelimit-limit"), "5");
                assert.equal(r.res.headers.get("x-ratelimit-remaining"), String(4 - i));
                const reset = Number(r.res.headers.get("x-ratelimit-reset"));
                assert.ok(Number.isInteger(reset) && reset > 0 && reset <= 60, `X-RateLimit-Reset ${reset}`);
                assert.equal(r.res.headers.get("retry-after"), null);
            }
            const limited = await get(base, ME, { token: alice.access_token });
            const retryAfter = assertRateLimited(limited, 5);
            assert.ok(retryAfter <= 60, `Retry-After ${retryAfter}`);

            // Every limited route shares the user's budget.
            assertRateLimited(await get(base, KEYS, { token: alice.access_token }), 5);

            const b = await get(base, ME, { token: bob.access_token });
            assert.equal(b.res.status, 200, JSON.stringify(b.body));
            assert.equal(b.res.headers.get("x-ratelimit-remaining"), "4");

            // Credential routes have their own (per-IP) budget: alice can still log in.
            await login(base, alice.user.email);
        });

        it("a JWT and an API key of the same user share the budget", async () => {
            const carol = await register(base, uniqueEmail("rl-c"));
            const created = await post(base, KEYS, { json: { name: "rl" }, token: carol.access_token });
            assert.equal(created.res.status, 201);
            assert.equal(created.res.headers.get("x-ratelimit-remaining"), "4");
            const apiKey = created.body.data.key;
            const expected = ["3", "2", "1", "0"];
            for (let i = 0; i < 4; i++) {
                const r = await get(base, ME, i % 2 ? { token: carol.access_token } : { apiKey });
                assert.equal(r.res.status, 200, JSON.stringify(r.body));
                assert.equal(r.res.headers.get("x-ratelimit-remaining"), expected[i]);
            }
            assertRateLimited(await get(base, ME, { apiKey }), 5);
            assertRateLimited(await get(base, ME, { token: carol.access_token }), 5);
        });

        it("a refused request carries Retry-After once", async () => {
            const dave = await register(base, uniqueEmail("rl-d"));
            for (let i = 0; i < 5; i++) {
                await get(base, ME, { token: dave.access_token });
            }
            const raw = await rawRequest(
                server.port,
                `GET ${ME} HTTP/1.1\r\nHost: x\r\nAuthorization: Bearer ${dave.access_token}\r\n` +
                    "Connection: close\r\n\r\n"
            );
            const [res] = parseResponses(raw.data);
            assert.equal(res.status, 429, raw.data);
            const count = raw.data.split("\r\n\r\n")[0].split("\r\n").filter((l) => /^retry-after:/i.test(l)).length;
            assert.equal(count, 1, raw.data);
        });
    });

    describe("per client IP on register, login and refresh (RATE_LIMIT_AUTH=3)", () => {
        let server;
        let base;
        let aliases;
        before(async () => {
            [server, aliases] = await Promise.all([
                startServer({ env: { RATE_LIMIT_AUTH: "3" } }),
                canBindLoopbackAlias(),
            ]);
            base = server.baseUrl;
        });
        after(async () => {
            if (server) {
                await stopCleanly(server);
            }
        });

        it("the 4th attempt from one IP within a minute is a 429, even with correct credentials", async (t) => {
            const email = uniqueEmail("rl-auth");
            // Three attempts from 127.0.0.1: a registration and two logins.
            const reg = await post(base, REGISTER, { json: { email, password: PASSWORD } });
            assert.equal(reg.res.status, 201, JSON.stringify(reg.body));
            assert.equal(reg.res.headers.get("x-ratelimit-limit"), "3");
            assert.equal(reg.res.headers.get("x-ratelimit-remaining"), "2");
            const session = reg.body.data;
            const wrong = await post(base, LOGIN, { json: { email, password: "WrongPass999" } });
            assertError(wrong, 401, "authentication_error");
            assert.equal(wrong.res.headers.get("x-ratelimit-remaining"), "1");
            const ok = await post(base, LOGIN, { json: { email, password: PASSWORD } });
            assert.equal(ok.res.status, 200);
            assert.equal(ok.res.headers.get("x-ratelimit-remaining"), "0");

            assertRateLimited(await post(base, LOGIN, { json: { email, password: PASSWORD } }), 3);
            assertRateLimited(await post(base, REGISTER, { json: { email: uniqueEmail(), password: PASSWORD } }), 3);
            assertRateLimited(await post(base, REFRESH, { json: { refresh_token: session.refresh_token } }), 3);
            // Even a malformed request counts against (and is refused by) the limit first.
            assertRateLimited(await post(base, LOGIN, { body: "{", headers: JSON_TYPE }), 3);

            // Routes that need a token are limited per user, not by this budget.
            const me = await get(base, ME, { token: session.access_token });
            assert.equal(me.res.status, 200);
            const out = await post(base, LOGOUT, {
                json: { refresh_token: session.refresh_token },
                token: session.access_token,
            });
            assert.equal(out.res.status, 200);

            if (!aliases) {
                t.skip("cannot bind 127.0.0.2 here: the per-IP part needs a second loopback address");
                return;
            }
            // Another client IP has its own budget.
            const credentials = { json: { email, password: PASSWORD } };
            const elsewhere = await callFrom("127.0.0.2", server.port, "POST", LOGIN, credentials);
            assert.equal(elsewhere.res.status, 200, JSON.stringify(elsewhere.body));
            assert.equal(elsewhere.res.headers.get("x-ratelimit-remaining"), "2");
        });

        it("registrations count too, failed ones included", async (t) => {
            if (!aliases) {
                t.skip("cannot bind 127.0.0.2 here");
                return;
            }
            const ip = "127.0.0.3";
            const email = uniqueEmail("rl-reg");
            const credentials = { json: { email, password: PASSWORD } };
            const first = await callFrom(ip, server.port, "POST", REGISTER, credentials);
            assert.equal(first.res.status, 201, JSON.stringify(first.body));
            const again = await callFrom(ip, server.port, "POST", REGISTER, credentials);
            assertError(again, 409, "conflict_error");
            assertError(
                await callFrom(ip, server.port, "POST", REGISTER, { json: { email: "bad", password: PASSWORD } }),
                422,
                "invalid_request_error"
            );
            assertRateLimited(await callFrom(ip, server.port, "POST", LOGIN, credentials), 3);
        });
    });
});

describe("API keys revoked on another instance (issue 14: keys are cached for at most 1 s)", () => {
    let a;
    let b;

    before(async () => {
        // Two instances on one database with the same JWT secret, as behind a load balancer; the
        // account cache at its default (2 s): keys are kept for at most 1 s whatever it is.
        [a, b] = await startTwoInstances({ ...UNLIMITED, JWT_SECRET: "keys-test-secret-0123456789abcdefghijklmnop" });
    });

    after(async () => {
        await stopCleanly(b);
        await stopCleanly(a);
    });

    it("refused at once where it was revoked and within a second on the other instance", async () => {
        const owner = await register(a.baseUrl, uniqueEmail("keys-2i"));
        const key = await createKey(a.baseUrl, owner.access_token, { name: "shared" });
        // Both instances have the key cached now.
        assert.equal((await get(a.baseUrl, ME, { apiKey: key.key })).res.status, 200);
        assert.equal((await get(b.baseUrl, ME, { apiKey: key.key })).res.status, 200);
        assert.equal((await get(b.baseUrl, ME, { token: key.key })).res.status, 200);

        const revoked = await del(a.baseUrl, `${KEYS}/${key.id}`, { token: owner.access_token });
        assert.equal(revoked.res.status, 204);
        const started = Date.now();
        assertError(await get(a.baseUrl, ME, { apiKey: key.key }), 401, "authentication_error");
        await waitUntil(async () => (await get(b.baseUrl, ME, { apiKey: key.key })).res.status === 401, {
            timeoutMs: 3_000, intervalMs: 10, what: "instance B to refuse the revoked key",
        });
        const elapsed = Date.now() - started;
        assert.ok(elapsed < 1_500, `instance B accepted the revoked key for ${elapsed} ms`);
        assertError(await get(b.baseUrl, ME, { token: key.key }), 401, "authentication_error");
    });
});
