// Integration tests of the message tree (issue 17) against the real binary and the fake upstream
// (tests/support/fake_upstream.mjs, which records every request's context): edit and regenerate
// (plain and streamed) create siblings, GET …/conversations/{id} returns the active branch with
// sibling counts and positions, ?leaf= selects another branch, PATCH {active_leaf} switches, the
// model always gets exactly the path to the new message's parent, and fork copies a path into a
// new conversation. Errors: wrong roles, unknown messages, other users' conversations.
//
//   node --test tests/integration/tree.test.mjs
// (CTest runs it on SQLite and, as integration_pg.tree, on PostgreSQL.)

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { assertError, get, patch, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream } from "../support/fake_upstream.mjs";
import { startServer } from "../support/server.mjs";
import { SseReader } from "../support/sse.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;
const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ anthropic: "sk-ant-tree", openai: "sk-tree-openai", gemini: "gemini-tree-key" });
const CLAUDE = "claude-sonnet-4-5";
const GPT = "gpt-4o-mini";

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    assert.equal(r.body.status, "success", r.text.slice(0, 500));
    return r.body.data;
}

/** A request's conversation as [role, text] pairs, whatever the wire format put them in. */
function contextOf(request) {
    const text = (content) =>
        typeof content === "string" ? content : content.filter((b) => b.type === "text").map((b) => b.text).join("");
    return request.body.messages.filter((m) => m.role !== "system").map((m) => [m.role, text(m.content)]);
}

/** The answer the fake gives: it names the question, so each answer is told apart. */
const answerTo = (question) => `Answer to ${question}`;

describe("message tree: edit, regenerate, branches, fork (fake upstream)", () => {
    let upstream;
    let server;
    let base;
    let alice;
    let bob;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        upstream.setScript((info) => {
            const messages = info.body?.messages ?? [];
            const last = contextOf({ body: { messages } }).filter(([role]) => role === "user").at(-1);
            return { tokens: ["Answer", " to ", last ? last[1] : ""] };
        });
        server = await startServer({
            env: {
                ...UNLIMITED,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                DEFAULT_MODEL: CLAUDE,
                LLM_MAX_RETRIES: "0",
            },
        });
        base = server.baseUrl;
        const register = async (tag) =>
            ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: "SecurePass123" } }), 201);
        alice = (await register("tree-alice")).access_token;
        bob = (await register("tree-bob")).access_token;
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

    const conversation = async (token = alice) =>
        ok(await post(base, CONVERSATIONS, { json: { model: CLAUDE, title: "tree" }, token }), 201);
    const send = async (id, content, token = alice) =>
        ok(await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content }, token }));
    const show = async (id, query = "", token = alice) => ok(await get(base, `${CONVERSATIONS}/${id}${query}`, { token }));
    /** Runs `action` and returns the one chat request the upstream received meanwhile. */
    const upstreamContext = async (action) => {
        const before = upstream.requests.length;
        const result = await action();
        const received = upstream.requests.slice(before);
        assert.equal(received.length, 1, JSON.stringify(received.map((r) => r.path)));
        return { result, context: contextOf(received[0]) };
    };
    const shape = (messages) => messages.map((m) => [m.role, m.content, m.sibling_count, m.sibling_index]);

    /** A conversation q1 → a1 → q2 → a2; returns its id and the four messages. */
    async function twoTurns() {
        const c = await conversation();
        await send(c.id, "q1");
        await send(c.id, "q2");
        const shown = await show(c.id);
        assert.equal(shown.messages.length, 4);
        return { id: c.id, messages: shown.messages };
    }

    it("messages chain into one branch; GET shows it with parents, sibling counts and the active leaf", async () => {
        const { id, messages } = await twoTurns();
        const [u1, a1, u2, a2] = messages;
        assert.deepEqual(shape(messages), [
            ["user", "q1", 1, 0],
            ["assistant", answerTo("q1"), 1, 0],
            ["user", "q2", 1, 0],
            ["assistant", answerTo("q2"), 1, 0],
        ]);
        assert.equal(u1.parent_id, null);
        assert.equal(a1.parent_id, u1.id);
        assert.equal(u2.parent_id, a1.id);
        assert.equal(a2.parent_id, u2.id);
        assert.equal((await show(id)).active_leaf_id, a2.id);
    });

    it("edit: a sibling of the user message, answered from exactly the path before it", async () => {
        const { id, messages } = await twoTurns();
        const [u1, a1, u2] = messages;
        const { result: reply, context } = await upstreamContext(() =>
            post(base, `${CONVERSATIONS}/${id}/messages/${u2.id}/edit`, { json: { content: "q2 edited" }, token: alice })
        );
        const answer = ok(reply);
        assert.deepEqual(context, [
            ["user", "q1"],
            ["assistant", answerTo("q1")],
            ["user", "q2 edited"],
        ]);
        assert.equal(answer.content, answerTo("q2 edited"));
        const shown = await show(id);
        assert.equal(shown.active_leaf_id, answer.id);
        assert.deepEqual(shape(shown.messages), [
            ["user", "q1", 1, 0],
            ["assistant", answerTo("q1"), 1, 0],
            ["user", "q2 edited", 2, 1],
            ["assistant", answerTo("q2 edited"), 1, 0],
        ]);
        assert.equal(shown.messages[0].id, u1.id);
        assert.equal(shown.messages[2].parent_id, a1.id);
        assert.equal(shown.messages[3].parent_id, shown.messages[2].id);
    });

    it("regenerate (streamed): a sibling answer to the same question; no new user message", async () => {
        const { id, messages } = await twoTurns();
        const [, , u2, a2] = messages;
        const { result: events, context } = await upstreamContext(async () => {
            const res = await fetch(`${base}${CONVERSATIONS}/${id}/messages/${a2.id}/regenerate/stream`, {
                method: "POST",
                headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
                body: JSON.stringify({ model: CLAUDE }),
            });
            assert.equal(res.status, 200);
            return new SseReader(res).rest();
        });
        assert.deepEqual(context, [
            ["user", "q1"],
            ["assistant", answerTo("q1")],
            ["user", "q2"],
        ]);
        const start = events.find((e) => e.event === "message_start").json.message;
        assert.equal(start.parley.user_message_id, u2.id);
        const shown = await show(id);
        assert.equal(shown.messages.length, 4);
        assert.deepEqual(shape(shown.messages).slice(2), [
            ["user", "q2", 1, 0],
            ["assistant", answerTo("q2"), 2, 1],
        ]);
        assert.equal(shown.messages[3].id, start.id);
        assert.notEqual(start.id, a2.id);
        assert.equal(shown.messages[3].parent_id, u2.id);
    });

    it("?leaf= shows another branch; PATCH active_leaf switches, and the next turn continues it only", async () => {
        const { id, messages } = await twoTurns();
        const [u1, a1, u2, a2] = messages;
        const edited = ok(await post(base, `${CONVERSATIONS}/${id}/messages/${u2.id}/edit`, { json: { content: "q2b" }, token: alice }));
        // ?leaf= with an inner message descends to its newest leaf: u2 → a2.
        const old = await show(id, `?leaf=${u2.id}`);
        assert.deepEqual(old.messages.map((m) => m.id), [u1.id, a1.id, u2.id, a2.id]);
        assert.deepEqual(shape(old.messages).slice(2), [
            ["user", "q2", 2, 0],
            ["assistant", answerTo("q2"), 1, 0],
        ]);
        assert.equal(old.active_leaf_id, edited.id, "?leaf= does not switch");

        const switched = ok(await patch(base, `${CONVERSATIONS}/${id}`, { json: { active_leaf: u2.id }, token: alice }));
        assert.equal(switched.active_leaf_id, a2.id);
        assert.deepEqual((await show(id)).messages.map((m) => m.id), [u1.id, a1.id, u2.id, a2.id]);

        const { result: reply, context } = await upstreamContext(() => send(id, "q3"));
        assert.deepEqual(context, [
            ["user", "q1"],
            ["assistant", answerTo("q1")],
            ["user", "q2"],
            ["assistant", answerTo("q2")],
            ["user", "q3"],
        ]);
        const shown = await show(id);
        assert.equal(shown.active_leaf_id, reply.id);
        assert.deepEqual(shown.messages.map((m) => m.content), ["q1", answerTo("q1"), "q2", answerTo("q2"), "q3", answerTo("q3")]);
        // The other branch is still there.
        const other = await show(id, `?leaf=${edited.id}`);
        assert.deepEqual(other.messages.map((m) => m.content), ["q1", answerTo("q1"), "q2b", answerTo("q2b")]);
    });

    it("edit (streamed) of the first message makes a new root with an empty history", async () => {
        const { id, messages } = await twoTurns();
        const { context } = await upstreamContext(async () => {
            const res = await fetch(`${base}${CONVERSATIONS}/${id}/messages/${messages[0].id}/edit/stream`, {
                method: "POST",
                headers: { authorization: `Bearer ${alice}`, "content-type": "application/json" },
                body: JSON.stringify({ content: "fresh start" }),
            });
            assert.equal(res.status, 200);
            return new SseReader(res).rest();
        });
        assert.deepEqual(context, [["user", "fresh start"]]);
        const shown = await show(id);
        assert.deepEqual(shape(shown.messages), [
            ["user", "fresh start", 2, 1],
            ["assistant", answerTo("fresh start"), 1, 0],
        ]);
        assert.equal(shown.messages[0].parent_id, null);
    });

    it("fork copies the path up to a message into a new conversation of the caller", async () => {
        const { id, messages } = await twoTurns();
        const [u1, a1] = messages;
        const fork = ok(await post(base, `${CONVERSATIONS}/${id}/fork`, { json: { message_id: a1.id }, token: alice }), 201);
        assert.match(fork.id, UUID);
        assert.notEqual(fork.id, id);
        assert.equal(fork.model, CLAUDE);
        assert.deepEqual(fork.messages.map((m) => [m.role, m.content]), [
            ["user", "q1"],
            ["assistant", answerTo("q1")],
        ]);
        assert.ok(fork.messages.every((m) => m.conversation_id === fork.id && m.id !== u1.id && m.id !== a1.id));
        assert.equal(fork.messages[1].parent_id, fork.messages[0].id);
        assert.equal(fork.active_leaf_id, fork.messages[1].id);
        const shown = await show(fork.id);
        assert.deepEqual(shown.messages.map((m) => m.id), fork.messages.map((m) => m.id));
        const { context } = await upstreamContext(() => send(fork.id, "in the fork"));
        assert.deepEqual(context, [
            ["user", "q1"],
            ["assistant", answerTo("q1")],
            ["user", "in the fork"],
        ]);
        // The source is untouched.
        assert.equal((await show(id)).messages.length, 4);
        const list = ok(await get(base, `${CONVERSATIONS}?per_page=100`, { token: alice }));
        assert.ok(list.some((c) => c.id === fork.id));
    });

    it("a regeneration may use another model; the context is the same path", async () => {
        const { id, messages } = await twoTurns();
        const { result, context } = await upstreamContext(() =>
            post(base, `${CONVERSATIONS}/${id}/messages/${messages[1].id}/regenerate`, { json: { model: GPT }, token: alice })
        );
        const answer = ok(result);
        assert.equal(answer.model, GPT);
        assert.deepEqual(context, [["user", "q1"]]);
        const shown = await show(id);
        assert.deepEqual(shape(shown.messages), [
            ["user", "q1", 1, 0],
            ["assistant", answerTo("q1"), 2, 1],
        ]);
    });

    it("refuses wrong roles, unknown messages, bad bodies and other users' conversations", async () => {
        const { id, messages } = await twoTurns();
        const [u1, a1] = messages;
        const other = await conversation();
        await send(other.id, "elsewhere");
        const elsewhere = (await show(other.id)).messages[0];
        const before = upstream.requests.length;
        const route = (m, what) => `${CONVERSATIONS}/${id}/messages/${m}/${what}`;
        assertError(await post(base, route(a1.id, "edit"), { json: { content: "x" }, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, route(u1.id, "regenerate"), { json: {}, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, route(u1.id, "regenerate/stream"), { json: {}, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, route(a1.id, "regenerate"), { json: { content: "x" }, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, route(u1.id, "edit"), { json: {}, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, route(u1.id, "edit"), { json: { content: "  " }, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, route("not-a-message", "edit"), { json: { content: "x" }, token: alice }), 404, "not_found_error");
        // A message of another conversation is not found in this one.
        assertError(await post(base, route(elsewhere.id, "edit"), { json: { content: "x" }, token: alice }), 404, "not_found_error");
        assertError(await post(base, route(u1.id, "edit"), { json: { content: "x" }, token: bob }), 403, "permission_error");
        assertError(await get(base, `${CONVERSATIONS}/${id}?leaf=${elsewhere.id}`, { token: alice }), 404, "not_found_error");
        assertError(await patch(base, `${CONVERSATIONS}/${id}`, { json: { active_leaf: elsewhere.id }, token: alice }), 404, "not_found_error");
        assertError(await patch(base, `${CONVERSATIONS}/${id}`, { json: { active_leaf: 7 }, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, `${CONVERSATIONS}/${id}/fork`, { json: {}, token: alice }), 422, "invalid_request_error");
        assertError(await post(base, `${CONVERSATIONS}/${id}/fork`, { json: { message_id: elsewhere.id }, token: alice }), 404, "not_found_error");
        assertError(await post(base, `${CONVERSATIONS}/${id}/fork`, { json: { message_id: a1.id }, token: bob }), 403, "permission_error");
        assert.equal(upstream.requests.length, before, "nothing refused reached the model");
        // Nothing refused changed the conversation.
        const shown = await show(id);
        assert.deepEqual(shown.messages.map((m) => m.id), messages.map((m) => m.id));
        assert.equal(shown.active_leaf_id, messages[3].id);
    });
});
