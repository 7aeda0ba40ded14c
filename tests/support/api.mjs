// Helpers for the integration tests that call Parley's JSON API over real HTTP: requests with
// fetch, unique test emails, and the one assertion for the structured error envelope.
import assert from "node:assert/strict";
import { randomBytes } from "node:crypto";

let emailCounter = 0;
/** An address no other test uses. */
export function uniqueEmail(tag = "user") {
    emailCounter += 1;
    return `${tag}-${emailCounter}-${randomBytes(4).toString("hex")}@example.com`;
}

/**
 * One request with fetch. `json` is sent as an application/json body; `body` as is (then set
 * `headers` yourself); `token` goes into `Authorization: Bearer`, `apiKey` into `X-API-Key`.
 * Resolves `{ res, body, text }`, body being the parsed JSON (undefined when empty).
 */
export async function call(base, method, route, { json, body, token, apiKey, headers = {} } = {}) {
    const h = { ...headers };
    if (json !== undefined) {
        h["content-type"] = "application/json";
        body = JSON.stringify(json);
    }
    if (token !== undefined) {
        h.authorization = `Bearer ${token}`;
    }
    if (apiKey !== undefined) {
        h["x-api-key"] = apiKey;
    }
    const res = await fetch(`${base}${route}`, { method, headers: h, body });
    const text = await res.text();
    let parsed;
    if (text.length > 0) {
        try {
            parsed = JSON.parse(text);
        } catch {
            assert.fail(`${method} ${route}: body is not JSON (${res.status}): ${text.slice(0, 200)}`);
        }
    }
    return { res, body: parsed, text };
}

export const post = (base, route, opts) => call(base, "POST", route, opts);
export const get = (base, route, opts) => call(base, "GET", route, opts);
export const patch = (base, route, opts) => call(base, "PATCH", route, opts);
export const del = (base, route, opts) => call(base, "DELETE", route, opts);

/**
 * Asserts an error response: the status, the exact envelope {status, error: {type, message,
 * request_id}}, request_id equal to X-Request-ID, JSON content type, and WWW-Authenticate on 401.
 * `message` (a RegExp) is matched against error.message when given. Returns the error object.
 */
export function assertError({ res, body }, status, type, { message } = {}) {
    const label = `${res.url ?? ""} -> ${res.status} ${JSON.stringify(body)}`;
    assert.equal(res.status, status, label);
    assert.match(res.headers.get("content-type") ?? "", /^application\/json/, label);
    assert.equal(typeof body?.error?.message, "string", label);
    assert.ok(body.error.message.length > 0, label);
    const requestId = res.headers.get("x-request-id");
    assert.ok(requestId, `X-Request-ID on ${label}`);
    assert.deepEqual(
        body,
        { status: "error", error: { type, message: body.error.message, request_id: requestId } },
        label
    );
    if (status === 401) {
        assert.match(res.headers.get("www-authenticate") ?? "", /Bearer/, `WWW-Authenticate on ${label}`);
    }
    if (message) {
        assert.match(body.error.message, message, label);
    }
    return body.error;
}
