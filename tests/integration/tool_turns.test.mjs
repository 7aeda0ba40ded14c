// Tool-calling turns through Parley (issue 12): the fake upstream scripts tool calls in each wire
// format (OpenAI-compatible, Anthropic, Gemini) and Parley runs the conversation's tools, sends the
// results back, stores the calls and results with the answer and replays them in later turns.
// Also: the round limit (TOOL_MAX_ROUNDS), KNOWLEDGE_DIR on the mock model, and the official SDKs
// (@anthropic-ai/sdk, openai) reading Parley's tool streams.
//
//   node --test tests/integration/tool_turns.test.mjs
//
// TOOL_TIMEOUT_S: on PostgreSQL (integration_pg.tool_turns) a table lock taken from outside makes
// search_conversations slow; on SQLite no built-in tool can be slowed from outside the process (the
// knowledge base is read at start-up, the calculator and clock are pure), and the time limit is
// covered by the registry's unit test with a slow fake tool (tests/unit/tools/registry_test.cpp).

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { rmSync, writeFileSync } from "node:fs";
import path from "node:path";
import { after, before, describe, it } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

import { assertError, get, post, uniqueEmail } from "../support/api.mjs";
import { parleyEnvFor, startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";
import { makeTempDir, parseLogLine, runParley, startServer, testDatabaseServer, waitUntil } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const PASSWORD = "SecurePass123";
const CONVERSATIONS = "/api/v1/conversations";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ openai: "sk-tools-openai", anthropic: "sk-ant-tools", gemini: "gemini-tools-key" });

// One model with `tools: true` in src/llm/catalog.json per wire format.
const MODELS = [
    { provider: "openai", model: "gpt-4o-mini" },
    { provider: "anthropic", model: "claude-3-5-haiku-latest" },
    { provider: "gemini", model: "gemini-2.5-flash" },
];
const TOOLS = ["calculator", "fetch_internal_knowledge"];

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    assert.equal(r.body.status, "success", r.text.slice(0, 500));
    return r.body.data;
}

async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), [], server.lines.join("\n"));
    assert.deepEqual(result, { code: 0, signal: null }, server.lines.slice(-40).join("\n"));
}

/** A tool result's content as the model got it: parsed JSON text (OpenAI, Anthropic) or Gemini's object. */
const resultContent = (r) => (typeof r.content === "string" ? JSON.parse(r.content) : r.content);

/** Whether the model was told a result is an error: Anthropic's is_error, else an `error` member. */
const toldError = (provider, r) => (provider === "anthropic" ? r.isError : "error" in resultContent(r));

describe("tool turns through each wire format (fake upstream, TOOL_MAX_ROUNDS=2)", () => {
    let upstream;
    let server;
    let base;
    let token;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        server = await startServer({
            env: {
                ...UNLIMITED,
                ...parleyEnvFor(upstream, KEYS),
                FALLBACK_MODEL: "",
                LLM_MAX_RETRIES: "0",
                TOOL_MAX_ROUNDS: "2",
            },
        });
        base = server.baseUrl;
        token = await register("tools");
    });

    after(async () => {
        try {
            if (server) {
                await stopCleanly(server);
            }
        } finally {
            await upstream?.close();
        }
    });

    async function register(tag) {
        const data = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: PASSWORD } }), 201);
        return data.access_token;
    }

    /** A titled conversation (no title request to the upstream) offering `tools`. */
    async function conversation(model, { tools = TOOLS, as = token } = {}) {
        return ok(await post(base, CONVERSATIONS, { json: { model, title: "tools", tools }, token: as }), 201);
    }

    /** Sends `content` (non-streaming) and returns the stored answer, after checking it is the last message. */
    async function turn(id, content, as = token) {
        const answer = ok(await post(base, `${CONVERSATIONS}/${id}/messages`, { json: { content }, token: as }));
        const stored = ok(await get(base, `${CONVERSATIONS}/${id}`, { token: as })).messages.at(-1);
        assert.equal(stored.id, answer.id);
        assert.deepEqual(stored.metadata.tool_calls, answer.metadata.tool_calls, "GET shows the stored calls");
        assert.deepEqual(stored.metadata.tool_results, answer.metadata.tool_results, "GET shows the stored results");
        return answer;
    }

    function script(s) {
        upstream.reset();
        upstream.setScript(s);
    }

    for (const { provider, model } of MODELS) {
        describe(`${provider} (${model})`, () => {
            it("arguments streamed in many pieces arrive assembled: the tool ran with them", async () => {
                const c = await conversation(model);
                script({
                    toolCalls: [{ id: "call_split_1", name: "calculator", arguments: { expression: "(17 + 25) * 3 - 6 / 2" } }],
                    splitArguments: 9,
                    usage: { input: 40, output: 9 },
                    next: { tokens: ["It", " is", " 123."], usage: { input: 60, output: 3 } },
                });
                const answer = await turn(c.id, "What is (17 + 25) * 3 - 6 / 2?");
                assert.equal(upstream.requests.length, 2, "one call, then the answer");
                assert.equal(answer.content, "It is 123.");
                assert.equal(answer.metadata.tool_rounds, 1);
                assert.equal(answer.metadata.tool_rounds_exhausted, undefined);
                const [call] = answer.metadata.tool_calls;
                assert.equal(call.name, "calculator");
                assert.deepEqual(call.arguments, { expression: "(17 + 25) * 3 - 6 / 2" });
                assert.equal(typeof call.id, "string");
                assert.deepEqual(answer.metadata.tool_results, [
                    { tool_use_id: call.id, name: "calculator", result: { expression: "(17 + 25) * 3 - 6 / 2", result: 123 }, is_error: false },
                ]);
                // Both model calls of the turn are counted in its usage.
                assert.equal(answer.metadata.input_tokens, 100);
                assert.equal(answer.metadata.output_tokens, 12);

                const [first, second] = upstream.requests;
                assert.deepEqual(first.tools.sort(), [...TOOLS].sort(), "the conversation's tools are offered");
                assert.deepEqual(first.toolCalls, []);
                assert.deepEqual(second.tools.sort(), [...TOOLS].sort());
                assert.deepEqual(second.toolCalls.map((x) => [x.name, x.arguments]), [["calculator", { expression: "(17 + 25) * 3 - 6 / 2" }]]);
                assert.equal(second.toolResults.length, 1);
                assert.deepEqual(resultContent(second.toolResults[0]), { expression: "(17 + 25) * 3 - 6 / 2", result: 123 });
                assert.equal(toldError(provider, second.toolResults[0]), false);
                if (provider !== "gemini") {
                    assert.equal(second.toolCalls[0].id, "call_split_1", "the model's own call id goes back");
                    assert.equal(second.toolResults[0].id, "call_split_1");
                }
            });

            it("two calls in one round: both run, both results go back in the next request, in order", async () => {
                const c = await conversation(model);
                script({
                    toolCalls: [
                        { id: "call_two_a", name: "calculator", arguments: { expression: "2 ** 10" } },
                        { id: "call_two_b", name: "fetch_internal_knowledge", arguments: { topic: "python" } },
                    ],
                    splitArguments: 3,
                    next: { tokens: ["Done."] },
                });
                const answer = await turn(c.id, "Two things please");
                assert.equal(upstream.requests.length, 2);
                assert.equal(answer.content, "Done.");
                assert.equal(answer.status, "complete");
                assert.deepEqual(answer.metadata.tool_calls.map((x) => [x.name, x.arguments]), [
                    ["calculator", { expression: "2 ** 10" }],
                    ["fetch_internal_knowledge", { topic: "python" }],
                ]);
                const results = answer.metadata.tool_results;
                assert.deepEqual(results.map((r) => [r.tool_use_id, r.name, r.is_error]), [
                    [answer.metadata.tool_calls[0].id, "calculator", false],
                    [answer.metadata.tool_calls[1].id, "fetch_internal_knowledge", false],
                ]);
                assert.equal(results[0].result.result, 1024);
                assert.equal(results[1].result.topic, "python");
                assert.match(results[1].result.content, /Python/);

                const sent = upstream.requests[1];
                assert.deepEqual(sent.toolCalls.map((x) => x.name), ["calculator", "fetch_internal_knowledge"]);
                assert.deepEqual(sent.toolResults.map((r) => resultContent(r).result ?? resultContent(r).topic), [1024, "python"],
                    "the results follow the calls' order");
                if (provider !== "gemini") {
                    assert.deepEqual(sent.toolResults.map((r) => r.id), ["call_two_a", "call_two_b"]);
                }
            });

            it("a failing tool and a tool not offered give error results; the turn completes", async () => {
                const c = await conversation(model);
                script({
                    toolCalls: [
                        { id: "call_bad_1", name: "calculator", arguments: { expression: "2 +* 3" } },
                        { id: "call_bad_2", name: "current_time", arguments: { timezone: "UTC" } },
                        { id: "call_bad_3", name: "calculator", arguments: { expression: "1 / 0" } },
                    ],
                    next: { tokens: ["Sorry,", " I", " could", " not."] },
                });
                const answer = await turn(c.id, "Break things");
                assert.equal(upstream.requests.length, 2);
                assert.equal(answer.status, "complete");
                assert.equal(answer.content, "Sorry, I could not.");
                const results = answer.metadata.tool_results;
                assert.deepEqual(results.map((r) => [r.name, r.is_error]), [
                    ["calculator", true],
                    ["current_time", true],
                    ["calculator", true],
                ]);
                for (const r of results) {
                    assert.equal(typeof r.result.error, "string", JSON.stringify(r));
                    assert.ok(r.result.error.length > 0);
                }
                assert.match(results[1].result.error, /not offered/);
                const sent = upstream.requests[1];
                assert.equal(sent.toolResults.length, 3);
                for (const r of sent.toolResults) {
                    assert.equal(toldError(provider, r), true, `the model is told: ${JSON.stringify(r)}`);
                }
            });

            it("the round limit: a model that always calls a tool gets 3 requests, then the turn ends", async () => {
                const c = await conversation(model);
                const looping = { toolCalls: [{ name: "calculator", arguments: { expression: "1 + 1" } }], tokens: ["Thinking."], usage: { input: 5, output: 2 } };
                script(looping);
                const started = Date.now();
                const answer = await turn(c.id, "Loop forever");
                assert.ok(Date.now() - started < 10_000, "no hang");
                assert.equal(upstream.requests.length, 3, "TOOL_MAX_ROUNDS=2: two rounds of tools, then the third answer stands");
                assert.equal(answer.status, "complete");
                assert.equal(answer.metadata.tool_rounds, 2);
                assert.equal(answer.metadata.tool_rounds_exhausted, true);
                assert.equal(answer.metadata.tool_calls.length, 2, "the third round's call is not run");
                assert.equal(answer.metadata.tool_results.length, 2);
                assert.ok(answer.metadata.tool_results.every((r) => r.result.result === 2 && !r.is_error));
                assert.equal(answer.content, "Thinking.Thinking.Thinking.");
                assert.equal(answer.metadata.input_tokens, 15, "all three model calls are counted");
                assert.equal(answer.metadata.output_tokens, 6);
                assert.equal(upstream.requests[2].toolResults.length, 2, "the last request carries both rounds' results");

                // Streamed, the same turn ends its SSE stream normally.
                script(looping);
                const res = await fetch(`${base}${CONVERSATIONS}/${c.id}/messages/stream`, {
                    method: "POST",
                    headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
                    body: JSON.stringify({ content: "Loop again" }),
                    signal: AbortSignal.timeout(10_000),
                });
                const events = (await res.text()).split("\n\n").filter(Boolean).map((b) => b.split("\n").find((l) => l.startsWith("event: ")).slice("event: ".length)); // after the `id:` line
                assert.equal(upstream.requests.length, 3);
                assert.equal(events.filter((e) => e === "tool_result").length, 2);
                assert.deepEqual(events.slice(-2), ["message_delta", "message_stop"]);
            });

            it("a later turn replays the earlier turn's calls and results; usage counts every model call", async () => {
                const user = await register(`replay-${provider}`);
                const c = await conversation(model, { as: user });
                script({
                    toolCalls: [{ id: "call_replay_1", name: "fetch_internal_knowledge", arguments: { topic: "rest api" } }],
                    usage: { input: 30, output: 4 },
                    next: { tokens: ["REST", " is", " HTTP."], usage: { input: 50, output: 3 } },
                });
                const first = await turn(c.id, "What is a REST API?", user);
                assert.equal(first.metadata.input_tokens, 80);
                assert.equal(first.metadata.output_tokens, 7);

                script({ tokens: ["You", " asked", " about", " REST."], usage: { input: 70, output: 4 } });
                const second = await turn(c.id, "What did I ask?", user);
                assert.equal(second.metadata.tool_calls, undefined, "no tool this time");
                assert.equal(upstream.requests.length, 1);
                const replay = upstream.requests[0];
                assert.deepEqual(replay.toolCalls.map((x) => [x.name, x.arguments]), [["fetch_internal_knowledge", { topic: "rest api" }]]);
                assert.equal(replay.toolResults.length, 1);
                assert.deepEqual(resultContent(replay.toolResults[0]), first.metadata.tool_results[0].result);
                if (provider !== "gemini") {
                    assert.equal(replay.toolCalls[0].id, "call_replay_1");
                    assert.equal(replay.toolResults[0].id, "call_replay_1");
                }
                const prompt = JSON.stringify(replay.body);
                assert.ok(prompt.indexOf("What is a REST API?") < prompt.indexOf("fetch_internal_knowledge"), "in order");
                assert.ok(prompt.includes("REST is HTTP."), "the first answer's text is replayed too");

                const stats = ok(await get(base, "/api/v1/usage/stats", { token: user }));
                const messages = ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token: user })).messages;
                const sum = (f) => messages.reduce((n, m) => n + (m.metadata[f] ?? 0), 0);
                assert.equal(stats.total_output_tokens, 11, JSON.stringify(stats));
                assert.equal(stats.total_input_tokens, sum("input_tokens"), JSON.stringify(stats));
                assert.ok(stats.total_input_tokens >= 150, `both model calls of the tool turn: ${JSON.stringify(stats)}`);

                // A turn of two rounds (a call, then another once its result came back) is replayed
                // with each call's own result, even where the provider reuses call ids (Gemini).
                script({
                    toolCalls: [{ name: "calculator", arguments: { expression: "1 + 1" } }],
                    next: { toolCalls: [{ name: "calculator", arguments: { expression: "20 * 2" } }], next: { tokens: ["2", " and", " 40."] } },
                });
                const twoRounds = await turn(c.id, "Compute twice", user);
                assert.equal(twoRounds.metadata.tool_rounds, 2);
                assert.deepEqual(twoRounds.metadata.tool_results.map((r) => r.result.result), [2, 40]);
                script({ tokens: ["Yes."] });
                await turn(c.id, "And again?", user);
                const later = upstream.requests[0];
                const calls = later.toolCalls.filter((x) => x.name === "calculator");
                assert.deepEqual(calls.map((x) => x.arguments.expression), ["1 + 1", "20 * 2"]);
                const results = later.toolResults.map(resultContent).filter((r) => "expression" in r);
                assert.deepEqual(results.map((r) => [r.expression, r.result]), [["1 + 1", 2], ["20 * 2", 40]],
                    "each replayed call with its own result");
            });
        });
    }

    it("a tool call whose arguments are not JSON gets an error result", async () => {
        const c = await conversation("gpt-4o-mini");
        script({
            toolCalls: [{ id: "call_broken", name: "calculator", arguments: '{"expression": "1 +' }],
            splitArguments: 4,
            next: { tokens: ["Oops."] },
        });
        const answer = await turn(c.id, "Send broken JSON");
        assert.equal(answer.status, "complete");
        assert.equal(answer.metadata.tool_results[0].is_error, true);
        assert.equal(typeof answer.metadata.tool_results[0].result.error, "string");
        assert.ok("error" in resultContent(upstream.requests[1].toolResults[0]));
    });

    // ---- the official SDKs reading Parley's tool streams -----------------------------------------------

    /**
     * A fetch for an SDK: its POST becomes POST …/conversations/{id}/messages/stream (with
     * `?format=openai` when asked), the SDK's last user text as `content`; every byte the SDK parses
     * is Parley's.
     */
    function parleyFetch({ conversationId, format }) {
        return async (url, init = {}) => {
            const sdkBody = JSON.parse(typeof init.body === "string" ? init.body : new TextDecoder().decode(init.body));
            const last = sdkBody.messages.filter((m) => m.role === "user").at(-1);
            const route = `${base}${CONVERSATIONS}/${conversationId}/messages/stream${format ? `?format=${format}` : ""}`;
            return fetch(route, {
                method: "POST",
                headers: { authorization: `Bearer ${token}`, "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify({ content: typeof last.content === "string" ? last.content : last.content[0].text }),
                signal: init.signal,
            });
        };
    }

    it("@anthropic-ai/sdk messages.stream(): the tool_use block with its parsed input, then the final text", async () => {
        const model = "claude-3-5-haiku-latest";
        const c = await conversation(model);
        script({
            toolCalls: [{ id: "toolu_sdk_1", name: "calculator", arguments: { expression: "6 * 7" } }],
            splitArguments: 5,
            next: { tokens: ["The", " answer", " is", " 42."] },
        });
        const client = new Anthropic({ baseURL: base, apiKey: "x", maxRetries: 0, fetch: parleyFetch({ conversationId: c.id }) });
        const stream = client.messages.stream({ model, max_tokens: 256, messages: [{ role: "user", content: "What is 6 * 7?" }] });
        const inputs = [];
        stream.on("inputJson", (_partial, snapshot) => inputs.push(snapshot));
        const message = await stream.finalMessage();
        const uses = message.content.filter((b) => b.type === "tool_use");
        assert.equal(uses.length, 1, JSON.stringify(message.content));
        assert.equal(uses[0].name, "calculator");
        assert.deepEqual(uses[0].input, { expression: "6 * 7" });
        assert.equal(typeof uses[0].id, "string");
        assert.deepEqual(inputs.at(-1), { expression: "6 * 7" }, "the SDK assembled the input from the deltas");
        assert.equal(await stream.finalText(), "The answer is 42.");
        const kinds = message.content.map((b) => b.type);
        assert.ok(kinds.indexOf("tool_use") < kinds.lastIndexOf("text"), `the answer follows the call: ${kinds}`);
        const stored = ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token })).messages.at(-1);
        assert.equal(message.id, stored.id);
        assert.equal(stored.metadata.tool_calls[0].id, uses[0].id);
        assert.equal(stored.metadata.tool_results[0].result.result, 42);
    });

    it("openai chat.completions stream (?format=openai): tool_calls deltas assemble into the call", async () => {
        const model = "gpt-4o-mini";
        const c = await conversation(model);
        script({
            toolCalls: [
                { id: "call_sdk_a", name: "calculator", arguments: { expression: "sqrt(144) + 1" } },
                { id: "call_sdk_b", name: "fetch_internal_knowledge", arguments: { topic: "async" } },
            ],
            splitArguments: 6,
            next: { tokens: ["Thirteen,", " and", " async", " is", " neat."] },
        });
        const client = new OpenAI({ baseURL: `${base}/v1`, apiKey: "x", maxRetries: 0, fetch: parleyFetch({ conversationId: c.id, format: "openai" }) });
        const stream = client.chat.completions.stream({ model, messages: [{ role: "user", content: "Compute and look up" }] });
        const done = [];
        stream.on("tool_calls.function.arguments.done", (e) => done.push([e.name, e.parsed_arguments ?? JSON.parse(e.arguments)]));
        const completion = await stream.finalChatCompletion();
        const message = completion.choices[0].message;
        assert.deepEqual(message.tool_calls.map((t) => [t.type, t.function.name, JSON.parse(t.function.arguments)]), [
            ["function", "calculator", { expression: "sqrt(144) + 1" }],
            ["function", "fetch_internal_knowledge", { topic: "async" }],
        ]);
        assert.ok(message.tool_calls.every((t) => typeof t.id === "string" && t.id.length > 0));
        assert.equal(message.content, "Thirteen, and async is neat.");
        assert.deepEqual(done.map((d) => d[0]), ["calculator", "fetch_internal_knowledge"]);
        const stored = ok(await get(base, `${CONVERSATIONS}/${c.id}`, { token })).messages.at(-1);
        assert.deepEqual(message.tool_calls.map((t) => t.id), stored.metadata.tool_calls.map((t) => t.id));
        assert.equal(stored.metadata.tool_results[0].result.result, 13);
    });

    it("bad tool settings on the conversation are a structured 422", async () => {
        for (const tools of [["no_such_tool"], "calculator", [null]]) {
            assertError(await post(base, CONVERSATIONS, { json: { model: "gpt-4o-mini", tools }, token }), 422, "invalid_request_error");
        }
    });
});

describe("KNOWLEDGE_DIR on the mock model", () => {
    it("a rust.md in KNOWLEDGE_DIR answers “What is Rust?” through fetch_internal_knowledge", async () => {
        const dir = makeTempDir("parley-knowledge-");
        const text = "# Rust\n\nRust is a systems language with ownership and borrowing; no garbage collector.\n";
        writeFileSync(path.join(dir, "rust.md"), text);
        const server = await startServer({ env: { ...UNLIMITED, KNOWLEDGE_DIR: dir, MOCK_TOKEN_DELAY_MS: "0" } });
        try {
            const base = server.baseUrl;
            const loaded = server.lines.map(parseLogLine).find((e) => e?.msg === "knowledge base loaded");
            assert.equal(loaded?.dir, dir, server.lines.join("\n"));
            const reg = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("kb"), password: PASSWORD } }), 201);
            const c = ok(await post(base, CONVERSATIONS, { json: { title: "kb", tools: ["fetch_internal_knowledge"] }, token: reg.access_token }), 201);
            const answer = ok(await post(base, `${CONVERSATIONS}/${c.id}/messages`, { json: { content: "What is Rust?" }, token: reg.access_token }));
            assert.deepEqual(answer.metadata.tool_calls.map((x) => [x.name, x.arguments]), [["fetch_internal_knowledge", { topic: "rust" }]]);
            const [result] = answer.metadata.tool_results;
            assert.equal(result.is_error, false);
            assert.equal(result.result.topic, "rust");
            assert.equal(result.result.content, text, "the file's content, as it is");
            assert.match(answer.content, /ownership and borrowing/);
        } finally {
            await stopCleanly(server);
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("a KNOWLEDGE_DIR that cannot be read stops the start with exit 2 and says why", async () => {
        const dir = makeTempDir("parley-knowledge-bad-");
        const file = path.join(dir, "not-a-dir.md");
        writeFileSync(file, "# no\n");
        try {
            for (const bad of [path.join(dir, "missing"), file]) {
                const run = await runParley(["serve", "--port", "0", "--data-dir", dir], { env: { KNOWLEDGE_DIR: bad } });
                assert.equal(run.code, 2, `${bad}: ${run.stdout}${run.stderr}`);
                const line = `${run.stdout}${run.stderr}`.split("\n").map(parseLogLine).find((e) => e?.msg === "KNOWLEDGE_DIR cannot be read");
                assert.ok(line, `a clear log line: ${run.stdout}${run.stderr}`);
                assert.equal(line.dir, bad);
                assert.match(line.detail, /not a directory|cannot be read/);
            }
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    });

    it("TOOL_TIMEOUT_S and TOOL_MAX_ROUNDS out of range are configuration errors (exit 2)", async () => {
        for (const env of [{ TOOL_TIMEOUT_S: "0" }, { TOOL_TIMEOUT_S: "abc" }, { TOOL_MAX_ROUNDS: "-1" }, { TOOL_MAX_ROUNDS: "33" }]) {
            const run = await runParley(["serve", "--port", "0"], { env });
            assert.equal(run.code, 2, `${JSON.stringify(env)}: ${run.stdout}${run.stderr}`);
            assert.match(`${run.stdout}${run.stderr}`, new RegExp(Object.keys(env)[0]));
        }
    });
});

describe("TOOL_TIMEOUT_S: a tool slower than the limit (PostgreSQL)", { skip: testDatabaseServer() ? false : "needs PostgreSQL (integration_pg.tool_turns)" }, () => {
    it("search_conversations blocked by a table lock gives the model an error result; the turn completes", async () => {
        const upstream = await startFakeUpstream({ keys: KEYS });
        const server = await startServer({
            env: {
                ...UNLIMITED,
                ...parleyEnvFor(upstream, KEYS),
                FALLBACK_MODEL: "",
                LLM_MAX_RETRIES: "0",
                TOOL_TIMEOUT_S: "1",
            },
        });
        let locker;
        try {
            const base = server.baseUrl;
            const reg = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail("slow"), password: PASSWORD } }), 201);
            const c = ok(await post(base, CONVERSATIONS, { json: { model: "gpt-4o-mini", title: "slow", tools: ["search_conversations"] }, token: reg.access_token }), 201);
            // The model's first answer comes late enough for the lock to be in place before the tool runs.
            upstream.setScript({
                headersDelayMs: 1_500,
                toolCalls: [{ id: "call_slow", name: "search_conversations", arguments: { query: "anything" } }],
                next: { tokens: ["The", " search", " was", " too", " slow."] },
            });
            const sent = post(base, `${CONVERSATIONS}/${c.id}/messages`, { json: { content: "Search my past chats" }, token: reg.access_token });
            await waitFor(() => upstream.requests.length === 1, 10_000);
            // Holds every read of the messages table for 4 s, then lets go.
            locker = spawn("psql", [server.databaseUrl, "-v", "ON_ERROR_STOP=1", "-q", "-c",
                "BEGIN; LOCK TABLE messages IN ACCESS EXCLUSIVE MODE; SELECT pg_sleep(4); COMMIT;"], { stdio: "ignore" });
            const lockExited = new Promise((resolve) => locker.once("close", resolve));
            await waitUntil(() => psqlValue(server.databaseUrl,
                "SELECT count(*) FROM pg_locks WHERE relation = 'messages'::regclass AND mode = 'AccessExclusiveLock' AND granted"
            ).then((v) => v === "1"), { timeoutMs: 1_000, intervalMs: 50, what: "the lock" });
            const answer = ok(await sent);
            assert.equal(await lockExited, 0, "the lock was held and released");
            assert.equal(answer.status, "complete");
            assert.equal(answer.content, "The search was too slow.");
            const [result] = answer.metadata.tool_results;
            assert.equal(result.name, "search_conversations");
            assert.equal(result.is_error, true);
            assert.match(result.result.error, /did not finish within/);
            assert.match(resultContent(upstream.requests[1].toolResults[0]).error, /did not finish within/, "the model is told");
            assert.ok(server.lines.some((l) => parseLogLine(l)?.msg === "tool timed out"), "logged");
        } finally {
            locker?.kill();
            await stopCleanly(server);
            await upstream.close();
        }
    });
});

/** The single value a query returns, through psql. */
function psqlValue(url, sql) {
    return new Promise((resolve) => {
        const p = spawn("psql", [url, "-At", "-c", sql], { stdio: ["ignore", "pipe", "ignore"] });
        let out = "";
        p.stdout.on("data", (d) => (out += d));
        p.on("close", () => resolve(out.trim()));
    });
}
