// Seed 003's LLM streaming service, kept by Parley field for field (POST /stream in its three
// formats, GET /history, GET /history/{id}, GET /search), full-text search over a user's messages
// (GET /api/v1/search) and open mode (AUTH_MODE=open), against the real binary with the built-in
// mock model. CTest runs this file on SQLite (integration.seed003) and on PostgreSQL
// (integration_pg.seed003): the assertions hold on both.
//
//   node --test tests/integration/seed003.test.mjs
import assert from "node:assert/strict";
import { randomUUID } from "node:crypto";
import { after, before, describe, it } from "node:test";

import OpenAI from "openai";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { runParley, startServer, waitUntil } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const PASSWORD = "SecurePass123";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };

/** The mock model's answer to `prompt` (src/llm/mock_provider.cpp). */
function mockReply(prompt) {
    return `This is Parley's built-in mock model (no provider API key is configured). You said: "${prompt}". ` +
        "Set GROQ_API_KEY, GOOGLE_AI_API_KEY, OPENAI_API_KEY or ANTHROPIC_API_KEY for real answers.";
}

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    const report = server.lines.filter((l) => SANITIZER_REPORT.test(l));
    assert.deepEqual(report, [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.slice(-40).join("\n")}`);
}

async function register(base) {
    const r = await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("seed3"), password: PASSWORD } });
    assert.equal(r.res.status, 201, r.text);
    return { token: r.body.data.access_token, user: r.body.data.user };
}

function authHeaders(token) {
    return token === undefined ? {} : { authorization: `Bearer ${token}` };
}

/** POST /stream; resolves the response with its body read chunk by chunk: `{ res, chunks, text }`. */
async function streamPrompt(base, prompt, { token, format, headers = {}, json } = {}) {
    const query = format === undefined ? "" : `?stream_format=${format}`;
    const res = await fetch(`${base}/stream${query}`, {
        method: "POST",
        headers: { "content-type": "application/json", ...authHeaders(token), ...headers },
        body: JSON.stringify(json ?? { prompt }),
    });
    const chunks = [];
    const decoder = new TextDecoder();
    for await (const chunk of res.body) {
        chunks.push(decoder.decode(chunk, { stream: true }));
    }
    return { res, chunks, text: chunks.join("") };
}

async function history(base, token, query = "") {
    const r = await get(base, `/history${query}`, { token });
    assert.equal(r.res.status, 200, r.text);
    return r.body;
}

describe("seed 003: POST /stream, /history, /search", () => {
    let server;
    let base;
    let alice;
    let bob;

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, MOCK_TOKEN_DELAY_MS: "2" } });
        base = server.baseUrl;
        alice = await register(base);
        bob = await register(base);
    });
    after(async () => {
        await stopCleanly(server);
    });

    it("stream_format=text (the default): text/plain, the answer flushed delta by delta", async () => {
        const prompt = "Tell me a joke about kiwis";
        const { res, chunks, text } = await streamPrompt(base, prompt, { token: alice.token });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "text/plain; charset=utf-8");
        assert.equal(text, mockReply(prompt));
        assert.ok(chunks.length >= 3, `the text arrives in pieces (${chunks.length})`);
        for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) {
            assert.ok(res.headers.get(h), `${h} on /stream`);
        }
    });

    it("stream_format=openai: one chat.completion.chunk per line, a final chunk with finish_reason", async () => {
        const prompt = "Explain NDJSON";
        const { res, text } = await streamPrompt(base, prompt, { token: alice.token, format: "openai" });
        assert.equal(res.status, 200);
        assert.equal(res.headers.get("content-type"), "application/x-ndjson");
        assert.ok(text.endsWith("\n"));
        const lines = text.trimEnd().split("\n").map((l) => JSON.parse(l));
        assert.ok(lines.length >= 4);
        let content = "";
        for (const chunk of lines) {
            assert.match(chunk.id, /^chatcmpl-/);
            assert.equal(chunk.id, lines[0].id, "one id for the whole stream");
            assert.equal(chunk.object, "chat.completion.chunk");
            assert.equal(typeof chunk.created, "number");
            assert.equal(chunk.model, "parley-mock");
            assert.equal(chunk.choices.length, 1, "every line has choices[0]");
            content += chunk.choices[0].delta.content ?? "";
        }
        assert.equal(content, mockReply(prompt));
        const last = lines.at(-1);
        assert.equal(last.choices[0].finish_reason, "stop");
        assert.ok(lines.slice(0, -1).every((c) => c.choices[0].finish_reason === null));
        assert.equal(last.usage.completion_tokens > 0, true);
        assert.match(last.parley.conversation_id, UUID);
    });

    it("stream_format=sse: the same chunks as Server-Sent Events, then data: [DONE]", async () => {
        const prompt = "Explain server-sent events";
        const { res, text } = await streamPrompt(base, prompt, { token: alice.token, format: "sse" });
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type"), /^text\/event-stream/);
        const data = text.split("\n\n").filter((e) => e.startsWith("data: ")).map((e) => e.slice(6));
        assert.equal(data.at(-1), "[DONE]");
        const chunks = data.slice(0, -1).map((d) => JSON.parse(d));
        assert.equal(chunks.map((c) => c.choices[0]?.delta?.content ?? "").join(""), mockReply(prompt));
        assert.ok(chunks.some((c) => c.choices[0]?.finish_reason === "stop"));
    });

    it("the openai package consumes stream_format=sse unchanged through a custom fetch", async () => {
        const prompt = "Hello from the OpenAI SDK";
        const client = new OpenAI({
            apiKey: "unused",
            baseURL: `${base}/v1`,
            fetch: async (url, init) => {
                assert.match(String(url), /\/v1\/chat\/completions$/);
                const sent = JSON.parse(init.body);
                const last = sent.messages.at(-1).content;
                return fetch(`${base}/stream?stream_format=sse`, {
                    method: "POST",
                    headers: { "content-type": "application/json", authorization: `Bearer ${alice.token}` },
                    body: JSON.stringify({ prompt: last }),
                    signal: init.signal,
                });
            },
        });
        const stream = await client.chat.completions.create({
            model: "parley-mock",
            messages: [{ role: "user", content: prompt }],
            stream: true,
        });
        let text = "";
        let finish;
        for await (const chunk of stream) {
            text += chunk.choices[0]?.delta?.content ?? "";
            finish = chunk.choices[0]?.finish_reason ?? finish;
        }
        assert.equal(text, mockReply(prompt));
        assert.equal(finish, "stop");
    });

    it("each call is a new single-turn conversation of the caller, titled by its prompt", async () => {
        const prompt = "A conversation of its own";
        await streamPrompt(base, prompt, { token: alice.token });
        const h = await history(base, alice.token, "?limit=1");
        const item = h.conversations[0];
        assert.equal(item.prompt, prompt);
        assert.equal(item.response, mockReply(prompt));
        const c = await get(base, `/api/v1/conversations/${item.id}`, { token: alice.token });
        assert.equal(c.res.status, 200, c.text);
        assert.equal(c.body.data.title, prompt);
        assert.deepEqual(c.body.data.messages.map((m) => [m.role, m.status]), [["user", "complete"], ["assistant", "complete"]]);
        assert.ok(c.body.data.messages[1].metadata.cost_usd !== undefined, "cost accounted");
    });

    it("bad input is a 422 with the standard error body", async () => {
        for (const json of [{}, { prompt: "" }, { prompt: 42 }, { prompt: "x".repeat(10_001) }, { prompt: null }]) {
            const r = await post(base, "/stream", { json, token: alice.token });
            assertError(r, 422, "invalid_request_error");
        }
        // Strict like every JSON body: another field is a 422 naming it, a repeated key a 400.
        for (const [json, field] of [
            [{ prompt: "hi", stream_format: "openai" }, "stream_format"],
            [{ prompt: "hi", model: "parley-mock" }, "model"],
            [{ text: "hi" }, "text"],
        ]) {
            assertError(await post(base, "/stream", { json, token: alice.token }), 422, "invalid_request_error", {
                message: new RegExp(`unknown field \`${field}\``),
            });
        }
        assertError(
            await post(base, "/stream", {
                body: '{"prompt":"hi","prompt":"there"}',
                headers: { "content-type": "application/json" },
                token: alice.token,
            }),
            400,
            "invalid_request_error",
            { message: /duplicate key `prompt`/ }
        );
        const ok10k = await streamPrompt(base, "é".repeat(10_000), { token: alice.token });
        assert.equal(ok10k.res.status, 200, "10,000 characters (not bytes) is the limit");
        const badFormat = await post(base, "/stream?stream_format=xml", { json: { prompt: "hi" }, token: alice.token });
        assertError(badFormat, 422, "invalid_request_error", { message: /stream_format/ });
        for (const q of ["?limit=0", "?limit=101", "?limit=abc", "?offset=-1", "?offset=x", "?limit="]) {
            assertError(await get(base, `/history${q}`, { token: alice.token }), 422, "invalid_request_error");
        }
        assertError(await get(base, "/history/not-a-uuid", { token: alice.token }), 422, "invalid_request_error");
        for (const q of ["", "?query=", "?query=%20%20", "?query=kiwi&limit=0", "?query=kiwi&offset=-3"]) {
            assertError(await get(base, `/search${q}`, { token: alice.token }), 422, "invalid_request_error");
        }
        assertError(await get(base, `/search?query=${"a".repeat(501)}`, { token: alice.token }), 422, "invalid_request_error");
    });

    it("GET /history pages newest first, the caller's conversations only", async () => {
        const carol = await register(base);
        const prompts = ["first prompt", "second prompt", "third prompt"];
        for (const p of prompts) {
            await streamPrompt(base, p, { token: carol.token });
        }
        const page = await history(base, carol.token, "?limit=2");
        assert.deepEqual(Object.keys(page).sort(), ["conversations", "limit", "offset", "total"]);
        assert.equal(page.total, 3);
        assert.equal(page.limit, 2);
        assert.equal(page.offset, 0);
        assert.deepEqual(page.conversations.map((c) => c.prompt), ["third prompt", "second prompt"]);
        for (const c of page.conversations) {
            assert.deepEqual(Object.keys(c).sort(), ["created_at", "id", "prompt", "response"]);
            assert.match(c.id, UUID);
            assert.ok(!Number.isNaN(Date.parse(c.created_at)));
        }
        const rest = await history(base, carol.token, "?limit=2&offset=2");
        assert.deepEqual(rest.conversations.map((c) => c.prompt), ["first prompt"]);
        assert.equal(rest.total, 3);
        const defaults = await history(base, carol.token);
        assert.equal(defaults.limit, 10);
        assert.equal(defaults.offset, 0);

        const one = await get(base, `/history/${page.conversations[0].id}`, { token: carol.token });
        assert.equal(one.res.status, 200);
        assert.deepEqual(one.body, page.conversations[0]);
        assertError(await get(base, `/history/${page.conversations[0].id}`, { token: bob.token }), 403, "permission_error");
        assertError(await get(base, `/history/${randomUUID()}`, { token: carol.token }), 404, "not_found_error");
        assert.ok(!(await history(base, bob.token, "?limit=100")).conversations.some((c) => c.prompt === "third prompt"));
    });

    it("a client that leaves mid-answer: the partial answer is stored", async () => {
        const slow = await startServer({ env: { ...UNLIMITED, MOCK_TOKEN_DELAY_MS: "150" } });
        try {
            const dave = await register(slow.baseUrl);
            const ac = new AbortController();
            const res = await fetch(`${slow.baseUrl}/stream`, {
                method: "POST",
                headers: { "content-type": "application/json", authorization: `Bearer ${dave.token}` },
                body: JSON.stringify({ prompt: "a long answer please" }),
                signal: ac.signal,
            });
            assert.equal(res.status, 200);
            const reader = res.body.getReader();
            let got = "";
            while (got.split(" ").length < 4) {
                const { value } = await reader.read();
                got += new TextDecoder().decode(value);
            }
            ac.abort();
            const full = mockReply("a long answer please");
            const stored = await waitUntil(async () => {
                const h = await history(slow.baseUrl, dave.token);
                const item = h.conversations[0];
                if (!item?.response) {
                    return undefined;
                }
                const c = await get(slow.baseUrl, `/api/v1/conversations/${item.id}`, { token: dave.token });
                const answer = c.body.data.messages.find((m) => m.role === "assistant");
                return answer?.status === "partial" ? { item, answer } : undefined;
            }, { timeoutMs: 5_000, what: "the partial answer to be stored" });
            assert.ok(full.startsWith(stored.answer.content), "what arrived, in order");
            assert.ok(stored.answer.content.length < full.length, "not the whole answer");
            assert.ok(stored.answer.content.length >= got.length);
            assert.equal(stored.item.response, stored.answer.content);
        } finally {
            await stopCleanly(slow);
        }
    });

    it("GET /search ranks by relevance over prompts and responses, with an escaped snippet", async () => {
        const erin = await register(base);
        await streamPrompt(base, "papaya papaya papaya smoothie", { token: erin.token });
        await streamPrompt(base, "papaya on toast", { token: erin.token });
        await streamPrompt(base, "nothing tropical here", { token: erin.token });
        await streamPrompt(base, "<script>alert(1)</script> guava", { token: erin.token });
        await streamPrompt(base, "papaya for someone else", { token: bob.token });

        const r = await get(base, "/search?query=papaya", { token: erin.token });
        assert.equal(r.res.status, 200, r.text);
        for (const h of ["x-ratelimit-limit", "x-ratelimit-remaining", "x-ratelimit-reset"]) {
            assert.ok(r.res.headers.get(h), `${h} on /search`);
        }
        assert.equal(r.body.total, 2, "bob's conversation is not erin's");
        assert.deepEqual(r.body.conversations.map((c) => c.prompt), ["papaya papaya papaya smoothie", "papaya on toast"]);
        for (const c of r.body.conversations) {
            assert.deepEqual(Object.keys(c).sort(), ["created_at", "id", "prompt", "rank", "response", "snippet"]);
            assert.ok(c.rank > 0);
            assert.match(c.snippet, /<mark>papaya<\/mark>/i);
        }
        assert.ok(r.body.conversations[0].rank > r.body.conversations[1].rank);
        const paged = await get(base, "/search?query=papaya&limit=1&offset=1", { token: erin.token });
        assert.deepEqual(paged.body.conversations.map((c) => c.prompt), ["papaya on toast"]);
        assert.equal(paged.body.total, 2);

        const xss = await get(base, "/search?query=guava", { token: erin.token });
        const snippet = xss.body.conversations[0].snippet;
        assert.ok(!snippet.includes("<script"), snippet);
        // SQLite's snippet shows the tag escaped; PostgreSQL's ts_headline leaves HTML tags out.
        assert.ok(snippet.includes("&lt;script&gt;") || !snippet.includes("script"), snippet);
        assert.ok(snippet.includes("alert(1)"), snippet);
        assert.match(snippet, /<mark>guava<\/mark>/);
    });

    it("X-API-Key works on the seed routes with a Parley API key", async () => {
        const created = await post(base, "/api/v1/api-keys", { json: { name: "seed client" }, token: alice.token });
        assert.equal(created.res.status, 201, created.text);
        const key = created.body.data.key;
        const { res, text } = await streamPrompt(base, "with a key", { headers: { "x-api-key": key } });
        assert.equal(res.status, 200);
        assert.equal(text, mockReply("with a key"));
        const h = await get(base, "/history?limit=1", { apiKey: key });
        assert.equal(h.body.conversations[0].prompt, "with a key");
        assert.equal((await get(base, "/search?query=key", { apiKey: key })).res.status, 200);
    });

    it("required mode (the default): no credential is a 401 on every seed route", async () => {
        assertError(await post(base, "/stream", { json: { prompt: "hi" } }), 401, "authentication_error");
        assertError(await get(base, "/history"), 401, "authentication_error");
        assertError(await get(base, `/history/${randomUUID()}`), 401, "authentication_error");
        assertError(await get(base, "/search?query=hi"), 401, "authentication_error");
        assertError(await get(base, "/api/v1/search?q=hi"), 401, "authentication_error");
    });

    it("GET /health adds seed 003's database field", async () => {
        const r = await get(base, "/health");
        assert.equal(r.body.database, "connected");
        assert.deepEqual(r.body.checks, { database: "ok" });
    });
});

describe("GET /api/v1/search", () => {
    // (the escaping of snippets: tests/unit/store/search_query_test.cpp and the /search case above)
    let server;
    let base;
    let frank;
    let grace;
    const ids = {};

    async function say(token, conversationId, content) {
        const r = await post(base, `/api/v1/conversations/${conversationId}/messages`, { json: { content }, token });
        assert.equal(r.res.status, 200, r.text);
    }

    async function search(query, token = frank.token) {
        const r = await get(base, `/api/v1/search?${query}`, { token });
        assert.equal(r.res.status, 200, r.text);
        assert.equal(r.body.status, "success");
        return r.body;
    }

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, MOCK_TOKEN_DELAY_MS: "0" } });
        base = server.baseUrl;
        frank = await register(base);
        grace = await register(base);
        for (const [name, title] of [["streams", "Streams"], ["tools", "Tools"], ["other", "Other"]]) {
            const r = await post(base, "/api/v1/conversations", { json: { title }, token: frank.token });
            ids[name] = r.body.data.id;
        }
        await say(frank.token, ids.streams, "How does streaming work over SSE?");
        await say(frank.token, ids.tools, "Explain tool calling in Parley");
        await say(frank.token, ids.tools, "Is calling a tool expensive?");
        await say(frank.token, ids.other, "My cat likes Python, the snake");
        const g = await post(base, "/api/v1/conversations", { json: { title: "Grace" }, token: grace.token });
        ids.grace = g.body.data.id;
        await say(grace.token, ids.grace, "Secret streaming plans of grace");
    });
    after(async () => {
        await stopCleanly(server);
    });

    it("hits have the documented fields; stemming finds other forms; nobody sees another user's", async () => {
        const body = await search("q=stream&role=user");
        assert.equal(body.data.length, 1);
        const hit = body.data[0];
        assert.deepEqual(Object.keys(hit).sort(), ["conversation_id", "conversation_title", "created_at", "message_id", "rank", "role", "snippet"]);
        assert.equal(hit.conversation_id, ids.streams);
        assert.equal(hit.conversation_title, "Streams");
        assert.equal(hit.role, "user");
        assert.match(hit.snippet, /<mark>streaming<\/mark>/i);
        assert.ok(hit.rank > 0);
        assert.equal(body.next_cursor, null);
        assert.equal(body.has_more, false);
        const graces = await search("q=secret&role=user", grace.token);
        assert.equal(graces.data.length, 1);
        assert.equal((await search("q=secret")).data.length, 0, "frank never sees grace's message");
    });

    it("phrases, OR and exclusion, as typed into a search box", async () => {
        const phrase = await search(`q=${encodeURIComponent('"tool calling"')}&role=user`);
        assert.equal(phrase.data.length, 1);
        assert.match(phrase.data[0].snippet, /tool/i);
        const both = await search("q=tool+calling&role=user");
        assert.equal(both.data.length, 2);
        const excluded = await search(`q=${encodeURIComponent("tool -parley")}&role=user`);
        assert.equal(excluded.data.length, 1);
        assert.match(excluded.data[0].snippet, /expensive/);
        const either = await search(`q=${encodeURIComponent("cat OR streaming")}&role=user`);
        assert.equal(either.data.length, 2);
        for (const q of ['"unbalanced', "%%%", "(", "-", 'C++ "']) {
            const r = await get(base, `/api/v1/search?q=${encodeURIComponent(q)}`, { token: frank.token });
            assert.equal(r.res.status, 200, `${q}: ${r.text}`);
        }
    });

    it("filters: conversation_id (only the caller's), role, from/to, and a cursor walk without repeats", async () => {
        const inTools = await search(`q=tool&conversation_id=${ids.tools}`);
        assert.ok(inTools.data.length >= 2);
        assert.ok(inTools.data.every((h) => h.conversation_id === ids.tools));
        assertError(await get(base, `/api/v1/search?q=secret&conversation_id=${ids.grace}`, { token: frank.token }), 403, "permission_error");
        assertError(await get(base, `/api/v1/search?q=x&conversation_id=${randomUUID()}`, { token: frank.token }), 404, "not_found_error");
        const assistants = await search("q=parley&role=assistant");
        assert.ok(assistants.data.length > 0 && assistants.data.every((h) => h.role === "assistant"));
        const future = await search(`q=parley&from=${encodeURIComponent("2199-01-01T00:00:00Z")}`);
        assert.equal(future.data.length, 0);
        const past = await search(`q=parley&to=${encodeURIComponent("2000-01-01T00:00:00Z")}`);
        assert.equal(past.data.length, 0);

        const seen = [];
        let cursor;
        for (let i = 0; i < 20; i++) {
            const page = await search(`q=parley&limit=2${cursor ? `&cursor=${encodeURIComponent(cursor)}` : ""}`);
            seen.push(...page.data.map((h) => h.message_id));
            assert.ok(page.data.length <= 2);
            cursor = page.next_cursor;
            if (!cursor) {
                break;
            }
        }
        const all = await search("q=parley&limit=100");
        assert.deepEqual(seen, all.data.map((h) => h.message_id));
        assert.equal(new Set(seen).size, seen.length);
    });

    it("archived conversations only with include_archived=true", async () => {
        const r = await post(base, "/api/v1/conversations", { json: { title: "Archive me" }, token: frank.token });
        const id = r.body.data.id;
        await say(frank.token, id, "zebra crossing notes");
        assert.equal((await search("q=zebra&role=user")).data.length, 1);
        const p = await fetch(`${base}/api/v1/conversations/${id}`, {
            method: "PATCH",
            headers: { "content-type": "application/json", authorization: `Bearer ${frank.token}` },
            body: JSON.stringify({ is_archived: true }),
        });
        assert.equal(p.status, 200);
        assert.equal((await search("q=zebra&role=user")).data.length, 0);
        assert.equal((await search("q=zebra&role=user&include_archived=true")).data.length, 1);
    });

    it("every bad parameter is a 422 with the standard error body", async () => {
        for (const q of [
            "", "q=", "q=%20", `q=${"a".repeat(501)}`, "q=a&limit=0", "q=a&limit=101", "q=a&limit=x",
            "q=a&role=robot", "q=a&from=yesterday", "q=a&to=2026-13-45", "q=a&include_archived=maybe",
            "q=a&cursor=not-a-cursor", "q=a&conversation_id=123",
        ]) {
            assertError(await get(base, `/api/v1/search?${q}`, { token: frank.token }), 422, "invalid_request_error");
        }
    });
});

describe("AUTH_MODE=open", () => {
    let server;
    let base;

    before(async () => {
        server = await startServer({ env: { ...UNLIMITED, AUTH_MODE: "open", MOCK_TOKEN_DELAY_MS: "0" } });
        base = server.baseUrl;
    });
    after(async () => {
        await stopCleanly(server);
    });

    it("a request without credentials acts as the built-in local user", async () => {
        const { res, text } = await streamPrompt(base, "hello without a key");
        assert.equal(res.status, 200);
        assert.equal(text, mockReply("hello without a key"));
        const h = await history(base, undefined);
        assert.equal(h.conversations[0].prompt, "hello without a key");
        const me = await get(base, "/api/v1/auth/me");
        assert.equal(me.res.status, 200, me.text);
        assert.equal(me.body.data.email, "local@parley.localhost");
        assert.equal((await get(base, "/search?query=hello")).body.total, 1);
        assert.equal((await get(base, "/api/v1/search?q=hello")).res.status, 200);
        assert.ok(server.lines.some((l) => /AUTH_MODE=open/.test(l)), "start-up says so");
    });

    it("requests with credentials still act as their user; bad credentials are still 401", async () => {
        const henry = await register(base);
        await streamPrompt(base, "henry's own prompt", { token: henry.token });
        const mine = await history(base, henry.token);
        assert.deepEqual(mine.conversations.map((c) => c.prompt), ["henry's own prompt"]);
        const local = await history(base, undefined, "?limit=100");
        assert.ok(!local.conversations.some((c) => c.prompt === "henry's own prompt"));
        assertError(await get(base, `/history/${mine.conversations[0].id}`), 403, "permission_error");
        assertError(await get(base, "/history", { token: "not-a-token" }), 401, "authentication_error");
    });

    it("nobody can sign in as the local user", async () => {
        for (const password of ["", "!", "SecurePass123", "anything at all"]) {
            const r = await post(base, "/api/v1/auth/login", { json: { email: "local@parley.localhost", password } });
            assert.ok([401, 422].includes(r.res.status), `${password}: ${r.res.status}`);
        }
    });

    it("is refused at start with ENVIRONMENT=production", async () => {
        const r = await runParley(["serve", "--port", "0"], {
            env: { AUTH_MODE: "open", ENVIRONMENT: "production", JWT_SECRET: "x".repeat(40) },
        });
        assert.notEqual(r.code, 0);
        assert.match(r.stdout + r.stderr, /AUTH_MODE=open is refused when ENVIRONMENT=production/);
    });

    it("warns loudly when HOST is not a loopback address", async () => {
        const wide = await startServer({ env: { AUTH_MODE: "open" }, args: ["--host", "0.0.0.0"] });
        try {
            assert.ok(wide.lines.some((l) => /NON-LOOPBACK/.test(l)), wide.lines.join("\n"));
        } finally {
            await stopCleanly(wide);
        }
    });
});
