// Integration tests of share links, export and import (issue 17) against the real binary and the
// fake upstream: a link shows a snapshot of the active branch only, with no account data, to
// anyone; a revoked link is 404; export (JSON, Markdown) → import round trips the whole tree with
// new ids; a ChatGPT conversations.json keeps its branches; a malformed or oversized import is
// refused with nothing stored.
//
//   node --test tests/integration/share.test.mjs
// (CTest runs it on SQLite and, as integration_pg.share, on PostgreSQL.)

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { assertError, call, del, get, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream } from "../support/fake_upstream.mjs";
import { startServer } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ anthropic: "sk-ant-share", openai: "sk-share-openai", gemini: "gemini-share-key" });
const CLAUDE = "claude-sonnet-4-5";

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    assert.equal(r.body.status, "success", r.text.slice(0, 500));
    return r.body.data;
}

/** A small ChatGPT export: root → system (hidden) → user → two answers (a regeneration). */
function chatgptExport() {
    const node = (id, parent, children, message) => ({ id, parent, children, message });
    const msg = (role, text, time, extra = {}) => ({
        id: `m-${text}`,
        author: { role },
        content: { content_type: "text", parts: [text] },
        create_time: time,
        metadata: extra,
    });
    return [
        {
            title: "Imported from ChatGPT",
            create_time: 1_700_000_000.5,
            current_node: "a2",
            mapping: {
                root: node("root", null, ["sys"], null),
                sys: node("sys", "root", ["u1"], msg("system", "You are ChatGPT", 1_700_000_000, { is_visually_hidden_from_conversation: true })),
                u1: node("u1", "sys", ["a1", "a2"], msg("user", "What is a tree?", 1_700_000_001)),
                a1: node("a1", "u1", [], msg("assistant", "A graph without cycles.", 1_700_000_002, { model_slug: "gpt-4o" })),
                a2: node("a2", "u1", [], msg("assistant", "A plant with a trunk.", 1_700_000_003, { model_slug: "gpt-4o" })),
            },
        },
        {
            title: "Second",
            create_time: 1_700_000_100,
            current_node: "x1",
            mapping: {
                x0: node("x0", null, ["x1"], null),
                x1: node("x1", "x0", [], msg("user", "Hello", 1_700_000_101)),
            },
        },
    ];
}

describe("share links, export and import (fake upstream)", () => {
    let upstream;
    let server;
    let base;
    let alice;
    let bob;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        upstream.setScript((info) => {
            const last = (info.body?.messages ?? []).filter((m) => m.role === "user").at(-1);
            const text = typeof last?.content === "string" ? last.content : "";
            return { tokens: ["Answer", " to ", text] };
        });
        server = await startServer({
            env: { ...UNLIMITED, ANTHROPIC_API_KEY: KEYS.anthropic, ANTHROPIC_BASE_URL: upstream.baseUrl, DEFAULT_MODEL: CLAUDE, LLM_MAX_RETRIES: "0" },
        });
        base = server.baseUrl;
        const register = async (tag) => ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: "SecurePass123" } }), 201);
        alice = await register("share-alice");
        bob = await register("share-bob");
    });

    after(async () => {
        try {
            if (server) {
                const result = await server.stop("SIGTERM");
                assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), []);
                assert.deepEqual(result, { code: 0, signal: null });
            }
        } finally {
            await upstream?.close();
        }
    });

    const token = () => alice.access_token;
    const send = async (id, content) => ok(await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content }, token: token() }));
    const show = async (id, t = token()) => ok(await get(base, `${CONVERSATIONS}/${id}`, { token: t }));
    const count = async (t = token()) => (await get(base, `${CONVERSATIONS}?per_page=1`, { token: t })).body.total;

    /** q1 → a1 → q2 → a2, then q2 edited (a second branch, the active one). */
    async function branched(title = "shared things") {
        const c = ok(await post(base, CONVERSATIONS, { json: { model: CLAUDE, title, metadata: { secret: "client data" } }, token: token() }), 201);
        await send(c.id, "q1");
        await send(c.id, "q2");
        const [, , u2] = (await show(c.id)).messages;
        ok(await post(base, `${CONVERSATIONS}/${c.id}/messages/${u2.id}/edit`, { json: { content: "q2 edited" }, token: token() }));
        return c.id;
    }

    it("a share link shows the active branch to anyone, without account data; revoked, it is 404", async () => {
        const id = await branched();
        const link = ok(await post(base, `${CONVERSATIONS}/${id}/share`, { token: token() }), 201);
        assert.equal(link.url, `/share/${link.token}`);
        assert.ok(link.token.length >= 40, link.token);
        assert.equal(link.conversation_id, id);
        assert.equal(link.title, "shared things");

        const r = await get(base, link.url); // no credentials
        const snapshot = ok(r);
        assert.deepEqual(Object.keys(snapshot).sort(), ["messages", "shared_at", "title"]);
        assert.deepEqual(snapshot.messages.map((m) => [m.role, m.content]), [
            ["user", "q1"],
            ["assistant", "Answer to q1"],
            ["user", "q2 edited"],
            ["assistant", "Answer to q2 edited"],
        ]);
        for (const m of snapshot.messages) {
            assert.deepEqual(Object.keys(m).sort(), ["content", "created_at", "model", "role"]);
        }
        const text = r.text;
        for (const leak of [alice.user.id, alice.user.email, "client data", id, '"q2"']) {
            assert.ok(!text.includes(leak), `the snapshot leaks ${leak}: ${text}`);
        }
        // A snapshot: later messages are not in it.
        await send(id, "after sharing");
        assert.equal(ok(await get(base, link.url)).messages.length, 4);

        const mine = ok(await get(base, "/api/v1/shares", { token: token() }));
        assert.ok(mine.some((s) => s.id === link.id));
        assert.deepEqual(ok(await get(base, "/api/v1/shares", { token: bob.access_token })), []);
        assertError(await del(base, `/api/v1/shares/${link.id}`, { token: bob.access_token }), 404, "not_found_error");
        assert.equal((await del(base, `/api/v1/shares/${link.id}`, { token: token() })).res.status, 204);
        assertError(await get(base, link.url), 404, "not_found_error");
        assertError(await get(base, "/share/not-a-token"), 404, "not_found_error");
        assert.ok(!ok(await get(base, "/api/v1/shares", { token: token() })).some((s) => s.id === link.id));
        assertError(await post(base, `${CONVERSATIONS}/${id}/share`, { token: bob.access_token }), 403, "permission_error");
    });

    it("export → import round-trips the whole tree with new ids, owned by the importer", async () => {
        const id = await branched("round trip");
        const exported = await get(base, `${CONVERSATIONS}/${id}/export?format=json`, { token: token() });
        assert.equal(exported.res.status, 200);
        assert.match(exported.res.headers.get("content-disposition") ?? "", /attachment/);
        const doc = exported.body;
        assert.equal(doc.format, "parley.conversation");
        assert.equal(doc.messages.length, 6, "both branches");
        assertError(await get(base, `${CONVERSATIONS}/${id}/export`, { token: bob.access_token }), 403, "permission_error");

        const imported = ok(await post(base, `${CONVERSATIONS}/import`, { json: doc, token: bob.access_token }), 201);
        assert.equal(imported.length, 1);
        const copy = imported[0];
        assert.notEqual(copy.id, id);
        assert.equal(copy.title, "round trip");
        assert.equal(copy.user_id, bob.user.id);
        const again = (await get(base, `${CONVERSATIONS}/${copy.id}/export`, { token: bob.access_token })).body;
        // The same tree: each message's parent is the copy of its parent, content and order kept.
        const shapeOf = (d) => {
            const byId = new Map(d.messages.map((m) => [m.id, m]));
            return d.messages
                .map((m) => [m.role, m.content, m.parent_id ? byId.get(m.parent_id).content : null, m.created_at])
                .sort((a, b) => JSON.stringify(a).localeCompare(JSON.stringify(b)));
        };
        assert.deepEqual(shapeOf(again), shapeOf(doc));
        const ids = new Set(doc.messages.map((m) => m.id));
        assert.ok(again.messages.every((m) => !ids.has(m.id)), "new ids");
        // The active branch is the same branch.
        const shown = await show(copy.id, bob.access_token);
        assert.deepEqual(shown.messages.map((m) => m.content), ["q1", "Answer to q1", "q2 edited", "Answer to q2 edited"]);
        assert.deepEqual(shown.messages.map((m) => m.sibling_count), [1, 1, 2, 1]);

        const res = await fetch(`${base}${CONVERSATIONS}/${id}/export?format=markdown`, { headers: { authorization: `Bearer ${token()}` } });
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type"), /^text\/markdown/);
        const markdown = await res.text();
        assert.ok(markdown.startsWith("# round trip\n"), markdown);
        assert.ok(markdown.includes("q2 edited") && !markdown.includes("\nq2\n"), markdown);
        assertError(await get(base, `${CONVERSATIONS}/${id}/export?format=pdf`, { token: token() }), 422, "invalid_request_error");
    });

    it("a ChatGPT conversations.json keeps its branches and current node; hidden nodes are left out", async () => {
        const before = await count();
        const created = ok(await post(base, `${CONVERSATIONS}/import`, { json: chatgptExport(), token: token() }), 201);
        assert.deepEqual(created.map((c) => c.title), ["Imported from ChatGPT", "Second"]);
        assert.equal(await count(), before + 2);
        const first = await show(created[0].id);
        assert.deepEqual(first.messages.map((m) => [m.role, m.content, m.sibling_count, m.sibling_index]), [
            ["user", "What is a tree?", 1, 0],
            ["assistant", "A plant with a trunk.", 2, 1],
        ]);
        assert.equal(first.messages[0].parent_id, null, "the hidden system node is gone");
        assert.equal(first.messages[1].model, "gpt-4o");
        assert.equal(first.messages[0].created_at, "2023-11-14T22:13:21.000Z");
        // The conversation continues from there like any other.
        upstream.reset();
        upstream.setScript({ tokens: ["More."] });
        await send(created[0].id, "And?");
        const sent = upstream.requests.at(-1).body.messages.map((m) => m.content);
        assert.deepEqual(sent, ["What is a tree?", "A plant with a trunk.", "And?"]);
    });

    it("a malformed or oversized import is refused and stores nothing", async () => {
        const before = await count();
        const bad = [];
        const valid = chatgptExport();
        bad.push(["a number", 42]);
        bad.push(["an empty array", []]);
        bad.push(["no mapping", [{ title: "x" }]]);
        const unknownParent = structuredClone(valid);
        unknownParent[1].mapping.x1.parent = "nowhere";
        bad.push(["an unknown parent (in the second conversation)", unknownParent]);
        const cycle = structuredClone(valid);
        cycle[0].mapping.root.parent = "a1";
        bad.push(["a cycle", cycle]);
        const wrongRole = structuredClone(valid);
        wrongRole[0].mapping.u1.message.author = "user";
        bad.push(["a malformed author", wrongRole]);
        const tooMany = Array.from({ length: 101 }, () => valid[1]);
        bad.push(["more than 100 conversations", tooMany]);
        const longTitle = structuredClone(valid);
        longTitle[0].title = "t".repeat(201);
        bad.push(["a title over 200 characters", longTitle]);
        bad.push(["Parley's format, wrong version", { format: "parley.conversation", version: 2, conversation: {}, messages: [] }]);
        bad.push(["Parley's format, a system message", { format: "parley.conversation", version: 1, conversation: {}, messages: [{ id: "a", parent_id: null, role: "system", content: "x", created_at: "2026-01-01T00:00:00Z" }] }]);
        bad.push(["Parley's format, a duplicate id", { format: "parley.conversation", version: 1, conversation: {}, messages: [
            { id: "a", parent_id: null, role: "user", content: "x", created_at: "2026-01-01T00:00:00Z" },
            { id: "a", parent_id: null, role: "user", content: "y", created_at: "2026-01-01T00:00:00Z" },
        ] }]);
        for (const [what, json] of bad) {
            const r = await post(base, `${CONVERSATIONS}/import`, { json, token: token() });
            assertError(r, 422, "invalid_request_error");
            assert.equal(await count(), before, `nothing stored after ${what}`);
        }
        // Larger than MAX_BODY_BYTES (1 MiB): 413 before anything is read.
        const huge = structuredClone(valid);
        huge[1].mapping.x1.message.content.parts = ["x".repeat(1_100_000)];
        assertError(await post(base, `${CONVERSATIONS}/import`, { json: huge, token: token() }), 413, "request_too_large");
        assertError(await call(base, "POST", `${CONVERSATIONS}/import`, { body: "[{", headers: { "content-type": "application/json" }, token: token() }), 400, "invalid_request_error");
        assert.equal(await count(), before);
    });
});
