// Integration tests of the LLM provider layer (router → provider → HTTP client) through
// `parley chat`, against the scripted fake upstream (tests/support/fake_upstream.mjs), which speaks
// the Groq/OpenAI, Gemini and Anthropic wire formats on 127.0.0.1. Covers each provider end to end
// (deltas, usage, normalised finish reasons, the exact request sent), thinking, error mapping,
// retries, fallback and timeouts, cancellation by signal, and configuration errors.
//
//   node --test tests/integration/providers.test.mjs
//
// Every parley process runs with a clean environment (PATH and HOME plus the settings a test
// passes) in an empty temporary working directory (no ./.env). Each test gets its own fake.

import assert from "node:assert/strict";
import { AsyncLocalStorage } from "node:async_hooks";
import { spawn } from "node:child_process";
import { readdirSync, rmSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { startFakeUpstream, waitFor, wordCount } from "../support/fake_upstream.mjs";
import { PARLEY_BIN, makeTempDir } from "../support/server.mjs";

// Distinct keys per provider, so a key sent to the wrong provider is caught.
const KEYS = Object.freeze({
    openai: "sk-openai-test-key",
    groq: "gsk-groq-test-key",
    anthropic: "sk-ant-test-key",
    gemini: "gemini-test-key",
});

const PROMPT = "hello big world";
const SYSTEM = "Be brief.";

const ERROR_CLASSES = [
    "invalid_request",
    "authentication",
    "rate_limit",
    "overloaded",
    "server",
    "timeout",
    "connection",
    "malformed",
];
const FINISH_REASONS = ["stop", "length", "tool_use", "content_filter"];

// The fields of each stdout event, exactly (sorted).
const EVENT_FIELDS = {
    thinking_delta: ["text", "type"],
    text_delta: ["text", "type"],
    tool_call: ["arguments", "id", "name", "type"],
    usage: ["input_tokens", "output_tokens", "type"],
    stop: ["finish_reason", "type"],
    error: ["error", "message", "status", "type"],
    result: ["attempts", "fallback_used", "model", "ok", "provider", "type"],
    cancelled: ["type"],
};

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;


let workDir;
const live = new Set(); // parley processes still running (killed in the final `after`)
const testProcs = new AsyncLocalStorage(); // the processes the current test started (see withFake)

// ---- running `parley chat` -----------------------------------------------------------------------

function cleanEnv(settings) {
    const env = { PATH: process.env.PATH ?? "/usr/local/bin:/usr/bin:/bin" };
    if (process.env.HOME !== undefined) {
        env.HOME = process.env.HOME;
    }
    return { ...env, ...settings };
}

/**
 * Starts `parley chat <args>` and follows its output live. Returns a run:
 * { proc, events (stdout JSON lines with a `type`), logs (JSON lines with `msg`), junk (other
 * stdout lines), stderr, exited (→ { code, signal }), startedAt, elapsedMs (once exited) }.
 */
function startChat(args, settings = {}) {
    const startedAt = Date.now();
    const proc = spawn(PARLEY_BIN, ["chat", ...args], {
        cwd: workDir,
        env: cleanEnv(settings),
        stdio: ["ignore", "pipe", "pipe"],
    });
    live.add(proc);
    testProcs.getStore()?.push(proc);
    const run = { proc, args, events: [], logs: [], junk: [], stdout: "", stderr: "", startedAt };
    let partial = "";
    const onLine = (line) => {
        let value;
        try {
            value = JSON.parse(line);
        } catch {
            run.junk.push(line);
            return;
        }
        if (value && typeof value.type === "string") {
            value.at = Date.now();
            run.events.push(value);
        } else if (value && typeof value.msg === "string") {
            run.logs.push(value);
        } else {
            run.junk.push(line);
        }
    };
    proc.stdout.setEncoding("utf8").on("data", (chunk) => {
        run.stdout += chunk;
        partial += chunk;
        let nl;
        while ((nl = partial.indexOf("\n")) !== -1) {
            const line = partial.slice(0, nl);
            partial = partial.slice(nl + 1);
            if (line !== "") {
                onLine(line);
            }
        }
    });
    proc.stdout.on("end", () => {
        if (partial !== "") {
            onLine(partial);
            partial = "";
        }
    });
    proc.stderr.setEncoding("utf8").on("data", (chunk) => {
        run.stderr += chunk;
    });
    run.exited = new Promise((resolve, reject) => {
        proc.once("error", (err) => {
            live.delete(proc);
            reject(err);
        });
        proc.once("close", (code, signal) => {
            live.delete(proc);
            run.exitedAt = Date.now();
            run.elapsedMs = run.exitedAt - startedAt;
            run.code = code;
            run.signal = signal;
            resolve({ code, signal });
        });
    });
    return run;
}

/** Waits for a started run to exit (SIGKILL and fail after timeoutMs). */
async function finish(run, timeoutMs = 15_000) {
    let timer;
    const timeout = new Promise((_, reject) => {
        timer = setTimeout(() => {
            run.proc.kill("SIGKILL");
            reject(new Error(`parley chat did not exit within ${timeoutMs} ms\n${describeRun(run)}`));
        }, timeoutMs);
    });
    try {
        await Promise.race([run.exited, timeout]);
    } finally {
        clearTimeout(timer);
    }
    return run;
}

/** Runs `parley chat <args>` to completion and checks its output protocol. */
async function chat(args, settings = {}, { timeoutMs } = {}) {
    const run = await finish(startChat(args, settings), timeoutMs);
    checkRun(run);
    return run;
}

function describeRun(run) {
    return `args: ${JSON.stringify(run.args)}\nexit: ${run.code} ${run.signal ?? ""}\nstdout:\n${run.stdout}\nstderr:\n${summariseStderr(run.stderr)}`;
}

// Sanitizer reports are long: keep their ERROR/SUMMARY lines and the first frames in Parley code.
function summariseStderr(stderr) {
    if (!SANITIZER_REPORT.test(stderr)) {
        return stderr.slice(0, 4000);
    }
    const lines = stderr.split("\n");
    const keep = lines.filter((l) => /ERROR: |SUMMARY: |runtime error:/.test(l));
    const frames = lines.filter((l) => /^\s+#\d+ .* in parley::/.test(l)).slice(0, 8);
    return [...keep, ...frames.map((l) => l.replace(/\(\S*\+0x[0-9a-f]+\)/, "").slice(0, 200))].join("\n");
}

/**
 * Checks what every run must satisfy: stdout is JSON lines only; every event has exactly its
 * documented fields and values from the documented sets; no sanitizer report (except the known
 * one); and (unless cancelled) deltas, then usage, then exactly one stop or error, then one result
 * whose `ok` says which.
 */
function checkRun(run, { cancelled = false } = {}) {
    const ctx = describeRun(run);
    assert.deepEqual(run.junk, [], `non-JSON stdout lines\n${ctx}`);
    assert.doesNotMatch(run.stderr, SANITIZER_REPORT, `sanitizer report\n${ctx}`);
    for (const e of run.events) {
        const { at, ...fields } = e;
        assert.ok(e.type in EVENT_FIELDS, `unknown event type ${e.type}\n${ctx}`);
        assert.deepEqual(Object.keys(fields).sort(), EVENT_FIELDS[e.type], `fields of ${JSON.stringify(fields)}`);
        if (e.type === "text_delta" || e.type === "thinking_delta") {
            assert.equal(typeof e.text, "string");
            assert.ok(e.text.length > 0, `empty ${e.type}\n${ctx}`);
        } else if (e.type === "tool_call") {
            assert.ok(typeof e.id === "string" && e.id.length > 0, ctx);
            assert.equal(typeof e.name, "string");
            const args = JSON.parse(e.arguments);
            assert.ok(args !== null && typeof args === "object" && !Array.isArray(args), `arguments ${e.arguments}`);
        } else if (e.type === "usage") {
            assert.ok(Number.isInteger(e.input_tokens) && e.input_tokens >= 0);
            assert.ok(Number.isInteger(e.output_tokens) && e.output_tokens >= 0);
        } else if (e.type === "stop") {
            assert.ok(FINISH_REASONS.includes(e.finish_reason), `finish_reason ${e.finish_reason}`);
        } else if (e.type === "error") {
            assert.ok(ERROR_CLASSES.includes(e.error), `error class ${e.error}\n${ctx}`);
            assert.equal(typeof e.message, "string");
            assert.ok(Number.isInteger(e.status));
        } else if (e.type === "result") {
            assert.equal(typeof e.provider, "string");
            assert.equal(typeof e.model, "string");
            assert.equal(typeof e.fallback_used, "boolean");
            assert.ok(Number.isInteger(e.attempts) && e.attempts >= 1);
            assert.equal(typeof e.ok, "boolean");
        }
    }
    const types = run.events.map((e) => e.type);
    if (cancelled) {
        assert.equal(types.at(-1), "cancelled", ctx);
        assert.equal(types.filter((t) => t === "cancelled").length, 1, ctx);
        return;
    }
    assert.ok(!types.includes("cancelled"), ctx);
    assert.equal(types.at(-1), "result", `last event is the result\n${ctx}`);
    assert.equal(types.filter((t) => t === "result").length, 1, ctx);
    const terminals = types.filter((t) => t === "stop" || t === "error");
    assert.equal(terminals.length, 1, `exactly one stop or error\n${ctx}`);
    assert.equal(types.at(-2), terminals[0], `stop/error right before the result\n${ctx}`);
    const body = types.slice(0, -2);
    const usageAt = body.indexOf("usage");
    if (usageAt !== -1) {
        assert.equal(usageAt, body.length - 1, `usage comes last, just before stop\n${ctx}`);
        assert.equal(terminals[0], "stop", `usage only before a stop\n${ctx}`);
    }
    for (const t of body.slice(0, usageAt === -1 ? body.length : usageAt)) {
        assert.ok(t === "text_delta" || t === "thinking_delta" || t === "tool_call", `unexpected ${t}\n${ctx}`);
    }
    const firstCall = body.indexOf("tool_call");
    if (firstCall !== -1) {
        assert.ok(body.slice(firstCall).every((t) => t === "tool_call" || t === "usage"), `calls come last\n${ctx}`);
    }
    assert.equal(result(run).ok, terminals[0] === "stop", ctx);
}

const ofType = (run, type) => run.events.filter((e) => e.type === type);
const textOf = (run) => ofType(run, "text_delta").map((e) => e.text).join("");
const thinkingOf = (run) => ofType(run, "thinking_delta").map((e) => e.text).join("");
const result = (run) => strip(ofType(run, "result")[0]);
const one = (run, type) => {
    const list = ofType(run, type);
    assert.equal(list.length, 1, `one ${type} event\n${describeRun(run)}`);
    return strip(list[0]);
};
function strip(e) {
    if (!e) {
        return e;
    }
    const { at, ...rest } = e;
    return rest;
}

/** Resolves the first event matching pred once the run printed it; rejects if parley exits first. */
function waitForEvent(run, pred, timeoutMs = 10_000) {
    return waitFor(() => {
        const found = run.events.find(pred);
        if (!found && run.code !== undefined) {
            throw new Error(`parley exited first\n${describeRun(run)}`);
        }
        return found;
    }, timeoutMs);
}

// ---- settings per provider ---------------------------------------------------------------------

const groqEnv = (up, key = KEYS.groq) => ({ GROQ_API_KEY: key, GROQ_BASE_URL: `${up.baseUrl}/openai/v1` });
const openaiEnv = (up, key = KEYS.openai) => ({ OPENAI_API_KEY: key, OPENAI_BASE_URL: `${up.baseUrl}/v1` });
const geminiEnv = (up, key = KEYS.gemini) => ({ GOOGLE_AI_API_KEY: key, GEMINI_BASE_URL: up.baseUrl });
const anthropicEnv = (up, key = KEYS.anthropic) => ({ ANTHROPIC_API_KEY: key, ANTHROPIC_BASE_URL: up.baseUrl });

/** A script that differs per provider ("groq", "openai", "anthropic", "gemini"); {} otherwise. */
const byProvider = (scripts) => (info) => scripts[info.provider] ?? {};

/**
 * Wraps a test body: fn(up, t) with a fresh fake upstream. Afterwards (pass or fail) every parley
 * process the test started and left running is killed, and the fake is closed.
 */
function withFake(fn) {
    return async (t) => {
        const procs = [];
        const up = await startFakeUpstream({ keys: KEYS });
        try {
            await testProcs.run(procs, () => fn(up, t));
        } finally {
            for (const proc of procs) {
                if (proc.exitCode === null && proc.signalCode === null) {
                    proc.kill("SIGKILL");
                    await new Promise((resolve) => proc.once("close", resolve));
                }
            }
            await up.close();
        }
    };
}

const requestsOf = (up, provider) => up.requests.filter((r) => r.provider === provider);

// ---- the tests -----------------------------------------------------------------------------------

describe("LLM providers through `parley chat`", () => {
    before(() => {
        workDir = makeTempDir("parley-chat-cwd-");
        assert.deepEqual(readdirSync(workDir), []);
    });
    after(async () => {
        for (const proc of live) {
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill("SIGKILL");
            }
        }
        rmSync(workDir, { recursive: true, force: true });
    });

    describe("each provider end to end", { concurrency: true }, () => {
        it("Groq: deltas, usage, stop and the OpenAI-format request on /openai/v1", withFake(async (up) => {
            up.setScript({ tokens: ["Hello", ",", " world", "!"], usage: { input: 12, output: 34 } });
            const run = await chat([PROMPT, "--system", SYSTEM, "--max-tokens", "256"], groqEnv(up));
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(textOf(run), "Hello, world!");
            assert.deepEqual(
                ofType(run, "text_delta").map((e) => e.text),
                ["Hello", ",", " world", "!"]
            );
            assert.deepEqual(ofType(run, "thinking_delta"), []);
            assert.deepEqual(one(run, "usage"), { type: "usage", input_tokens: 12, output_tokens: 34 });
            assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: "stop" });
            assert.deepEqual(result(run), {
                type: "result",
                provider: "groq",
                model: "llama-3.1-8b-instant",
                fallback_used: false,
                attempts: 1,
                ok: true,
            });

            assert.equal(up.requests.length, 1);
            const req = up.requests[0];
            assert.equal(req.provider, "groq");
            assert.equal(req.method, "POST");
            assert.equal(req.path, "/openai/v1/chat/completions");
            assert.equal(req.headers.authorization, `Bearer ${KEYS.groq}`);
            assert.equal(req.headers["x-api-key"], undefined);
            assert.match(req.headers["content-type"], /^application\/json/);
            assert.equal(req.body.model, "llama-3.1-8b-instant");
            assert.deepEqual(req.body.messages, [
                { role: "system", content: SYSTEM },
                { role: "user", content: PROMPT },
            ]);
            assert.equal(req.body.max_tokens, 256);
            assert.equal(req.body.stream, true);
            assert.deepEqual(req.body.stream_options, { include_usage: true });
        }));

        it("OpenAI: OPENAI_BASE_URL + key, system message first, default usage, length finish", withFake(async (up) => {
            const tokens = ["It", " is", " four", "."];
            up.setScript({ tokens, finishReason: "length" });
            const run = await chat(
                [PROMPT, "--model", "gpt-4o-mini", "--system", SYSTEM, "--max-tokens", "64"],
                openaiEnv(up)
            );
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(textOf(run), "It is four.");
            // The fake's default usage: prompt words (system included) in, streamed pieces out.
            assert.deepEqual(one(run, "usage"), {
                type: "usage",
                input_tokens: wordCount(`${SYSTEM} ${PROMPT}`),
                output_tokens: tokens.length,
            });
            assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: "length" });
            assert.deepEqual(result(run), {
                type: "result",
                provider: "openai",
                model: "gpt-4o-mini",
                fallback_used: false,
                attempts: 1,
                ok: true,
            });

            assert.equal(up.requests.length, 1);
            const req = up.requests[0];
            assert.equal(req.provider, "openai");
            assert.equal(req.path, "/v1/chat/completions");
            assert.equal(req.headers.authorization, `Bearer ${KEYS.openai}`);
            assert.equal(req.body.model, "gpt-4o-mini");
            assert.deepEqual(req.body.messages[0], { role: "system", content: SYSTEM });
            assert.deepEqual(req.body.messages.slice(1), [{ role: "user", content: PROMPT }]);
            assert.equal(req.body.max_tokens, 64);
            assert.equal(req.body.stream, true);
            assert.equal(req.body.stream_options?.include_usage, true);
        }));

        it("Gemini: streamGenerateContent?alt=sse, x-goog-api-key, systemInstruction, MAX_TOKENS → length", withFake(async (up) => {
            up.setScript({ tokens: ["Bonjour", " le", " monde"], finishReason: "MAX_TOKENS", usage: { input: 21, output: 9 } });
            const run = await chat(
                [PROMPT, "--model", "gemini-1.5-flash", "--system", SYSTEM, "--max-tokens", "300"],
                geminiEnv(up)
            );
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(textOf(run), "Bonjour le monde");
            assert.deepEqual(one(run, "usage"), { type: "usage", input_tokens: 21, output_tokens: 9 });
            assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: "length" });
            assert.deepEqual(result(run), {
                type: "result",
                provider: "google",
                model: "gemini-1.5-flash",
                fallback_used: false,
                attempts: 1,
                ok: true,
            });

            assert.equal(up.requests.length, 1);
            const req = up.requests[0];
            assert.equal(req.provider, "gemini");
            assert.equal(req.path, "/v1beta/models/gemini-1.5-flash:streamGenerateContent");
            assert.deepEqual(req.query, { alt: "sse" }, "no key in the URL");
            assert.equal(req.stream, true);
            assert.equal(req.headers["x-goog-api-key"], KEYS.gemini);
            assert.equal(req.headers.authorization, undefined);
            assert.deepEqual(req.body.systemInstruction, { parts: [{ text: SYSTEM }] });
            assert.deepEqual(req.body.contents, [{ role: "user", parts: [{ text: PROMPT }] }]);
            assert.equal(req.body.generationConfig.maxOutputTokens, 300);
            assert.equal(req.body.generationConfig.thinkingConfig, undefined);
        }));

        it("Anthropic: /v1/messages, x-api-key + anthropic-version, top-level system, end_turn → stop", withFake(async (up) => {
            up.setScript({ tokens: ["Hi", " there", "."], finishReason: "end_turn", usage: { input: 17, output: 5 } });
            const run = await chat(
                [PROMPT, "--model", "claude-3-5-haiku-latest", "--system", SYSTEM, "--max-tokens", "512"],
                anthropicEnv(up)
            );
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(textOf(run), "Hi there.");
            assert.deepEqual(one(run, "usage"), { type: "usage", input_tokens: 17, output_tokens: 5 });
            assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: "stop" });
            assert.deepEqual(result(run), {
                type: "result",
                provider: "anthropic",
                model: "claude-3-5-haiku-latest",
                fallback_used: false,
                attempts: 1,
                ok: true,
            });

            assert.equal(up.requests.length, 1);
            const req = up.requests[0];
            assert.equal(req.provider, "anthropic");
            assert.equal(req.path, "/v1/messages");
            assert.equal(req.headers["x-api-key"], KEYS.anthropic);
            assert.equal(req.headers["anthropic-version"], "2023-06-01");
            assert.equal(req.headers.authorization, undefined);
            assert.equal(req.body.model, "claude-3-5-haiku-latest");
            assert.equal(req.body.system, SYSTEM);
            assert.deepEqual(req.body.messages, [{ role: "user", content: PROMPT }]);
            assert.equal(req.body.max_tokens, 512);
            assert.equal(req.body.stream, true);
            assert.equal(req.body.thinking, undefined);
        }));

        for (const [name, env, model] of [
            ["Groq", groqEnv, "llama-3.1-8b-instant"],
            ["OpenAI", openaiEnv, "gpt-4o-mini"],
            ["Anthropic", anthropicEnv, "claude-3-5-haiku-latest"],
            ["Gemini", geminiEnv, "gemini-2.5-flash"],
        ]) {
            it(`${name}: tool calls split over many deltas, two in one round and one invalid, assembled`, withFake(async (up) => {
                up.setScript({
                    tokens: ["Let", " me", " check."],
                    toolCalls: [
                        { id: "call_paris", name: "get_weather", arguments: { city: "Paris", days: [1, 2] } },
                        { id: "call_rome", name: "get_weather", arguments: { city: "Rome", note: "caf\u00e9 \"x\"" } },
                        { id: "call_bad", name: "get_weather", arguments: '{"city": Par' },
                    ],
                    splitArguments: 6,
                });
                const run = await chat([PROMPT, "--model", model], env(up));
                assert.equal(run.code, 0, describeRun(run));
                assert.equal(textOf(run), "Let me check.");
                // Gemini sends no ids: Parley numbers the calls of the response.
                const ids = name === "Gemini" ? ["call_1", "call_2", "call_3"] : ["call_paris", "call_rome", "call_bad"];
                assert.deepEqual(ofType(run, "tool_call").map(strip), [
                    { type: "tool_call", id: ids[0], name: "get_weather", arguments: '{"city":"Paris","days":[1,2]}' },
                    { type: "tool_call", id: ids[1], name: "get_weather", arguments: '{"city":"Rome","note":"café \\"x\\""}' },
                    { type: "tool_call", id: ids[2], name: "get_weather", arguments: "{}" },
                ]);
                assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: "tool_use" });
                assert.equal(result(run).ok, true);
                assert.equal(up.requests.length, 1);
            }));
        }

        it("normalises provider finish reasons", withFake(async (up) => {
            const cases = [
                { env: anthropicEnv, model: "claude-3-5-haiku-latest", native: "max_tokens", want: "length" },
                { env: anthropicEnv, model: "claude-3-5-haiku-latest", native: "refusal", want: "content_filter" },
                { env: geminiEnv, model: "gemini-1.5-flash", native: "SAFETY", want: "content_filter" },
                { env: openaiEnv, model: "gpt-4o-mini", native: "content_filter", want: "content_filter" },
            ];
            for (const c of cases) {
                up.reset();
                up.setScript({ tokens: ["Some", " text"], finishReason: c.native });
                const run = await chat([PROMPT, "--model", c.model], c.env(up));
                assert.equal(run.code, 0, describeRun(run));
                assert.equal(textOf(run), "Some text", c.native);
                assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: c.want }, `${c.model} ${c.native}`);
                assert.equal(up.requests.length, 1);
            }
        }));
    });

    describe("thinking", { concurrency: true }, () => {
        it("Anthropic claude-sonnet-4-5 --thinking: thinking_delta before text; thinking enabled, budget ≥ 1024 < max_tokens", withFake(async (up) => {
            up.setScript({ thinking: ["Two plus", " two is four."], tokens: ["Four", "."] });
            const run = await chat(
                ["what is two plus two", "--model", "claude-sonnet-4-5", "--thinking", "--max-tokens", "100"],
                anthropicEnv(up)
            );
            assert.equal(run.code, 0, describeRun(run));
            assert.deepEqual(
                run.events.filter((e) => e.type.endsWith("_delta")).map((e) => [e.type, e.text]),
                [
                    ["thinking_delta", "Two plus"],
                    ["thinking_delta", " two is four."],
                    ["text_delta", "Four"],
                    ["text_delta", "."],
                ]
            );
            // The fake counts thinking pieces as output for Anthropic.
            assert.deepEqual(one(run, "usage"), { type: "usage", input_tokens: wordCount("what is two plus two"), output_tokens: 4 });
            assert.equal(result(run).provider, "anthropic");

            const req = up.requests[0];
            assert.equal(req.body.model, "claude-sonnet-4-5");
            assert.equal(req.body.thinking?.type, "enabled");
            assert.ok(Number.isInteger(req.body.thinking.budget_tokens));
            assert.ok(req.body.thinking.budget_tokens >= 1024, `budget ${req.body.thinking.budget_tokens}`);
            // The API requires budget_tokens < max_tokens; --max-tokens 100 is below any budget.
            assert.ok(
                req.body.max_tokens > req.body.thinking.budget_tokens,
                `max_tokens ${req.body.max_tokens} budget_tokens ${req.body.thinking.budget_tokens}`
            );
            assert.ok(req.body.max_tokens >= 100);
            assert.equal(req.body.temperature, undefined, "thinking allows only the default temperature");
        }));

        it("Gemini --thinking: includeThoughts requested; thought parts → thinking_delta; thoughts counted as output", withFake(async (up) => {
            up.setScript({ thinking: ["Considering", " the question"], tokens: ["Yes", "."], usage: { input: 7, output: 3, thoughts: 5 } });
            const run = await chat([PROMPT, "--model", "gemini-2.5-flash", "--thinking"], geminiEnv(up));
            assert.equal(run.code, 0, describeRun(run));
            assert.deepEqual(
                run.events.filter((e) => e.type.endsWith("_delta")).map((e) => [e.type, e.text]),
                [
                    ["thinking_delta", "Considering"],
                    ["thinking_delta", " the question"],
                    ["text_delta", "Yes"],
                    ["text_delta", "."],
                ]
            );
            // candidatesTokenCount 3 + thoughtsTokenCount 5: Gemini bills thinking as output.
            assert.deepEqual(one(run, "usage"), { type: "usage", input_tokens: 7, output_tokens: 8 });
            const req = up.requests[0];
            assert.equal(req.path, "/v1beta/models/gemini-2.5-flash:streamGenerateContent");
            assert.equal(req.body.generationConfig?.thinkingConfig?.includeThoughts, true);
        }));

        it("OpenAI-compatible <think> tags (Groq deepseek-r1) → thinking_delta, tags removed from the text", withFake(async (up) => {
            up.setScript({ thinking: ["Let me", " think"], tokens: ["Done", "!"], thinkStyle: "tags" });
            const run = await chat([PROMPT, "--model", "deepseek-r1-distill-llama-70b", "--thinking"], groqEnv(up));
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(thinkingOf(run), "Let me think");
            assert.equal(textOf(run), "Done!");
            const types = run.events.map((e) => e.type);
            assert.ok(types.lastIndexOf("thinking_delta") < types.indexOf("text_delta"));
            assert.ok(!run.stdout.includes("<think>") && !run.stdout.includes("</think>"));
            assert.equal(result(run).model, "deepseek-r1-distill-llama-70b");
        }));

        it("<think> tags split across chunks are still recognised", withFake(async (up) => {
            up.setScript({ tokens: ["<thi", "nk>ponder", "ing</th", "ink>", "Answer", " <b>ok</b>"] });
            const run = await chat([PROMPT, "--model", "deepseek-r1-distill-llama-70b", "--thinking"], groqEnv(up));
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(thinkingOf(run), "pondering");
            assert.equal(textOf(run), "Answer <b>ok</b>");
        }));

        it("OpenAI-compatible `reasoning` deltas → thinking_delta", withFake(async (up) => {
            up.setScript({ thinking: ["hmm", ", four"], tokens: ["4"], thinkStyle: "reasoning" });
            const run = await chat([PROMPT, "--model", "gpt-4o-mini", "--thinking"], openaiEnv(up));
            assert.equal(run.code, 0, describeRun(run));
            assert.deepEqual(
                run.events.filter((e) => e.type.endsWith("_delta")).map((e) => [e.type, e.text]),
                [
                    ["thinking_delta", "hmm"],
                    ["thinking_delta", ", four"],
                    ["text_delta", "4"],
                ]
            );
        }));

        it(
            "--thinking is not sent to a model whose catalog entry has no thinking",
            withFake(async (up) => {
                up.setScript({ tokens: ["ok"] });
                await chat([PROMPT, "--model", "claude-3-5-haiku-latest", "--thinking"], anthropicEnv(up));
                await chat([PROMPT, "--model", "gemini-1.5-flash", "--thinking"], geminiEnv(up));
                assert.equal(up.requests.length, 2);
                assert.equal(requestsOf(up, "anthropic")[0].body.thinking, undefined);
                assert.equal(requestsOf(up, "gemini")[0].body.generationConfig?.thinkingConfig, undefined);
            })
        );
    });

    describe("error mapping", { concurrency: true }, () => {
        it("401 (wrong key) → authentication, not retried, then the fallback answers", withFake(async (up) => {
            up.setScript({ tokens: ["From", " Gemini"] });
            const run = await chat([PROMPT], {
                ...groqEnv(up, "gsk-wrong-key"),
                ...geminiEnv(up),
                LLM_MAX_RETRIES: "3",
                LOG_LEVEL: "debug",
            });
            assert.equal(run.code, 0, describeRun(run));
            assert.equal(requestsOf(up, "groq").length, 1, "a 401 is not retried");
            assert.equal(requestsOf(up, "gemini").length, 1);
            assert.equal(up.requests.length, 2);
            const failed = run.logs.filter((l) => l.msg === "model attempt failed");
            assert.deepEqual(
                failed.map((l) => [l.provider, l.error, l.status]),
                [["groq", "authentication", 401]],
                describeRun(run)
            );
            assert.equal(textOf(run), "From Gemini");
            assert.deepEqual(result(run), {
                type: "result",
                provider: "google",
                model: "gemini-1.5-flash",
                fallback_used: true,
                attempts: 2,
                ok: true,
            });
        }));

        it("401 on every model: one request per model, no retry, exit 1", withFake(async (up) => {
            up.setScript({ tokens: ["never"] });
            const run = await chat([PROMPT, "--model", "claude-3-5-haiku-latest"], {
                ...anthropicEnv(up, "sk-ant-wrong"),
                ...geminiEnv(up, "gemini-wrong"),
                LLM_MAX_RETRIES: "3",
                LOG_LEVEL: "debug",
            });
            assert.equal(run.code, 1, describeRun(run));
            assert.equal(requestsOf(up, "anthropic").length, 1);
            assert.equal(requestsOf(up, "gemini").length, 1);
            assert.deepEqual(
                run.logs.filter((l) => l.msg === "model attempt failed").map((l) => [l.provider, l.error, l.status]),
                [
                    ["anthropic", "authentication", 401],
                    ["google", "authentication", 401],
                ]
            );
            assert.deepEqual(ofType(run, "text_delta"), []);
            const error = one(run, "error");
            assert.equal(error.status, 401);
            assert.deepEqual(
                result(run),
                { type: "result", provider: "google", model: "gemini-1.5-flash", fallback_used: true, attempts: 2, ok: false }
            );
        }));

        it(
            "401 with no fallback → error \"authentication\"",
            withFake(async (up) => {
                up.setScript({ tokens: ["never"] });
                const run = await chat([PROMPT], { ...groqEnv(up, "gsk-wrong-key"), FALLBACK_MODEL: "" });
                assert.equal(run.code, 1, describeRun(run));
                assert.equal(up.requests.length, 1);
                const error = one(run, "error");
                assert.equal(error.status, 401);
                assert.equal(error.error, "authentication", describeRun(run));
            })
        );

        it("400 → invalid_request, exit 1, neither retried nor fallen back from", withFake(async (up) => {
            up.setScript({ status: 400, errorMessage: "max_tokens is too large for this model" });
            const run = await chat([PROMPT], { ...groqEnv(up), ...geminiEnv(up), LLM_MAX_RETRIES: "3" });
            assert.equal(run.code, 1, describeRun(run));
            assert.equal(up.requests.length, 1, "one request in total");
            assert.equal(up.requests[0].provider, "groq");
            const error = one(run, "error");
            assert.equal(error.error, "invalid_request");
            assert.equal(error.status, 400);
            assert.match(error.message, /max_tokens is too large for this model/);
            assert.deepEqual(ofType(run, "text_delta"), []);
            assert.deepEqual(result(run), {
                type: "result",
                provider: "groq",
                model: "llama-3.1-8b-instant",
                fallback_used: false,
                attempts: 1,
                ok: false,
            });
        }));
    });

    describe("router: retries, fallback, timeouts", () => {
        it("5xx is retried LLM_MAX_RETRIES times with backoff, then the fallback (Gemini) answers", withFake(async (up) => {
            up.setScript(
                byProvider({
                    groq: { status: 500, failTimes: 1000, key: "groq-down" },
                    gemini: { tokens: ["Fallback", " answer"] },
                })
            );
            const run = await chat([PROMPT], { ...groqEnv(up), ...geminiEnv(up), LLM_MAX_RETRIES: "3" });
            assert.equal(run.code, 0, describeRun(run));
            const groq = requestsOf(up, "groq");
            assert.equal(groq.length, 1 + 3, "the first try and LLM_MAX_RETRIES=3 retries");
            assert.equal(requestsOf(up, "gemini").length, 1);
            for (let i = 1; i < groq.length; i++) {
                const gap = groq[i].receivedAt - groq[i - 1].receivedAt;
                assert.ok(gap >= 50, `backoff before retry ${i}: ${gap} ms`);
            }
            assert.ok(requestsOf(up, "gemini")[0].receivedAt >= groq.at(-1).receivedAt);
            assert.equal(textOf(run), "Fallback answer");
            assert.deepEqual(result(run), {
                type: "result",
                provider: "google",
                model: "gemini-1.5-flash",
                fallback_used: true,
                attempts: 5,
                ok: true,
            });
        }));

        it("429 with Retry-After: 1 is retried once, after ≥ 1 s, on the same provider", withFake(async (up) => {
            up.setScript(
                byProvider({
                    groq: { status: 429, retryAfter: 1, failTimes: 1, key: "groq-429", tokens: ["After", " waiting"] },
                    gemini: { tokens: ["wrong"] },
                })
            );
            const run = await chat([PROMPT], { ...groqEnv(up), ...geminiEnv(up) });
            assert.equal(run.code, 0, describeRun(run));
            const groq = requestsOf(up, "groq");
            assert.equal(groq.length, 2);
            assert.equal(requestsOf(up, "gemini").length, 0, "no fallback");
            const gap = groq[1].receivedAt - groq[0].receivedAt;
            assert.ok(gap >= 1000, `retried after ${gap} ms`);
            assert.ok(gap < 2500, `retried after ${gap} ms`);
            assert.equal(textOf(run), "After waiting");
            assert.deepEqual(result(run), {
                type: "result",
                provider: "groq",
                model: "llama-3.1-8b-instant",
                fallback_used: false,
                attempts: 2,
                ok: true,
            });
        }));

        it("first-token timeout: the fallback answers and the whole run takes < 3 s", withFake(async (up) => {
            up.setScript(
                byProvider({
                    groq: { firstTokenDelayMs: 3000, tokens: ["too", " late"] },
                    gemini: { tokens: ["On", " time"] },
                })
            );
            const run = await chat([PROMPT], { ...groqEnv(up), ...geminiEnv(up), LLM_FIRST_TOKEN_TIMEOUT_S: "0.5" });
            assert.equal(run.code, 0, describeRun(run));
            assert.ok(run.elapsedMs < 3000, `took ${run.elapsedMs} ms`);
            assert.equal(textOf(run), "On time");
            assert.equal(result(run).provider, "google");
            assert.equal(result(run).fallback_used, true);
            assert.equal(requestsOf(up, "groq").length, 1, "a timeout is not retried");
            const wait = requestsOf(up, "gemini")[0].receivedAt - requestsOf(up, "groq")[0].receivedAt;
            assert.ok(wait >= 450 && wait < 1500, `fell back ${wait} ms after the primary's request`);
            // The slow stream was abandoned: the fake saw Parley go away before any token.
            await waitFor(() => up.disconnects.some((d) => d.provider === "groq"), 2000);
            assert.equal(up.disconnects.find((d) => d.provider === "groq").tokensSent, 0);
        }));

        it(
            "between-token timeout (LLM_TOKEN_TIMEOUT_S) ends a stalled answer",
            withFake(async (up) => {
                up.setScript({ tokens: ["a", "b", "c"], interTokenDelayMs: 1000 });
                const run = await chat([PROMPT], { ...groqEnv(up), LLM_TOKEN_TIMEOUT_S: "0.3" });
                assert.equal(run.code, 1, describeRun(run));
                assert.equal(textOf(run), "a", describeRun(run));
                const error = one(run, "error");
                assert.equal(error.error, "timeout");
                // Parley left the stalled stream before the second token (due 1 s after the first):
                // measured at the fake, so a loaded machine's slow process start does not count.
                await waitFor(() => up.disconnects.some((d) => d.provider === "groq"), 2000);
                assert.equal(up.disconnects.find((d) => d.provider === "groq").tokensSent, 1);
            })
        );

        it("a broken connection after two tokens: the tokens, then an error; no fallback, exit 1", withFake(async (up) => {
            up.setScript(
                byProvider({
                    groq: { tokens: ["one", " two", " three", " four"], disconnectAfterTokens: 2 },
                    gemini: { tokens: ["wrong"] },
                })
            );
            const run = await chat([PROMPT], { ...groqEnv(up), ...geminiEnv(up) });
            assert.equal(run.code, 1, describeRun(run));
            assert.deepEqual(ofType(run, "text_delta").map((e) => e.text), ["one", " two"]);
            assert.equal(one(run, "error").error, "connection");
            assert.deepEqual(ofType(run, "stop"), []);
            assert.equal(requestsOf(up, "groq").length, 1, "not retried once streaming");
            assert.equal(requestsOf(up, "gemini").length, 0, "no fallback once streaming");
            assert.deepEqual(result(run), {
                type: "result",
                provider: "groq",
                model: "llama-3.1-8b-instant",
                fallback_used: false,
                attempts: 1,
                ok: false,
            });
        }));

        it("a mid-stream error event after two tokens: the tokens, then the error; no fallback, exit 1", withFake(async (up) => {
            up.setScript(
                byProvider({
                    anthropic: { tokens: ["one", " two", " three"], midStreamError: 2, errorMessage: "Overloaded right now" },
                    gemini: { tokens: ["wrong"] },
                })
            );
            const run = await chat([PROMPT, "--model", "claude-3-5-haiku-latest"], { ...anthropicEnv(up), ...geminiEnv(up) });
            assert.equal(run.code, 1, describeRun(run));
            assert.deepEqual(ofType(run, "text_delta").map((e) => e.text), ["one", " two"]);
            const error = one(run, "error");
            assert.equal(error.error, "overloaded");
            assert.equal(error.message, "Overloaded right now");
            assert.equal(up.requests.length, 1);
            assert.equal(result(run).fallback_used, false);
            assert.equal(result(run).ok, false);
        }));

        it("every provider down → error \"overloaded\", exit 1", withFake(async (up) => {
            up.setScript(
                byProvider({
                    groq: { status: 503, failTimes: 1000, key: "groq-503" },
                    gemini: { status: 503, failTimes: 1000, key: "gemini-503" },
                })
            );
            const run = await chat([PROMPT], { ...groqEnv(up), ...geminiEnv(up), LLM_MAX_RETRIES: "1" });
            assert.equal(run.code, 1, describeRun(run));
            assert.equal(requestsOf(up, "groq").length, 2);
            assert.equal(requestsOf(up, "gemini").length, 2);
            const error = one(run, "error");
            assert.equal(error.error, "overloaded");
            assert.equal(error.status, 503);
            assert.deepEqual(ofType(run, "text_delta"), []);
            assert.deepEqual(result(run), {
                type: "result",
                provider: "google",
                model: "gemini-1.5-flash",
                fallback_used: true,
                attempts: 4,
                ok: false,
            });
        }));

        it("a malformed chunk after two tokens → the tokens, then error \"malformed\" (each wire format)", withFake(async (up) => {
            const cases = [
                { env: groqEnv, model: "llama-3.1-8b-instant", provider: "groq" },
                { env: anthropicEnv, model: "claude-3-5-haiku-latest", provider: "anthropic" },
                { env: geminiEnv, model: "gemini-1.5-flash", provider: "google" },
            ];
            for (const c of cases) {
                up.reset();
                up.setScript({ tokens: ["one", " two", " three"], malformedAfterTokens: 2 });
                const run = await chat([PROMPT, "--model", c.model], c.env(up));
                assert.equal(run.code, 1, describeRun(run));
                assert.deepEqual(ofType(run, "text_delta").map((e) => e.text), ["one", " two"], c.provider);
                assert.equal(one(run, "error").error, "malformed", c.provider);
                assert.equal(up.requests.length, 1);
                assert.equal(result(run).provider, c.provider);
                assert.equal(result(run).ok, false);
            }
        }));
    });

    describe("cancellation", () => {
        it("SIGTERM mid-stream: exit 130, {type:cancelled}, the upstream sees the disconnect within 100 ms", withFake(async (up, t) => {
            up.setScript({ tokens: Array.from({ length: 50 }, (_, i) => `t${i} `), interTokenDelayMs: 200 });
            const run = startChat([PROMPT], groqEnv(up));
            await waitForEvent(run, (e) => e.type === "text_delta");
            const signalledAt = Date.now();
            run.proc.kill("SIGTERM");
            await finish(run, 10_000);
            checkRun(run, { cancelled: true });
            assert.equal(run.code, 130, describeRun(run));
            assert.equal(run.signal, null);
            assert.deepEqual(strip(run.events.at(-1)), { type: "cancelled" });
            assert.deepEqual(ofType(run, "stop"), []);
            assert.deepEqual(ofType(run, "result"), []);
            assert.ok(ofType(run, "text_delta").length >= 1);

            await waitFor(() => up.disconnects.length > 0, 2000);
            assert.equal(up.disconnects.length, 1);
            const d = up.disconnects[0];
            const latency = d.at - signalledAt;
            t.diagnostic(`disconnect ${latency} ms after SIGTERM (exit after ${run.exitedAt - signalledAt} ms); tokens sent ${d.tokensSent}/50`);
            assert.equal(d.provider, "groq");
            assert.ok(latency <= 100, `disconnect ${latency} ms after the signal`);
            assert.ok(d.tokensSent < 50);
            assert.equal(up.requests.length, 1);
        }));

        it("SIGINT while waiting for the response head: exit 130 and the request is dropped", withFake(async (up, t) => {
            up.setScript({ hang: true });
            const run = startChat([PROMPT], groqEnv(up));
            await waitFor(() => up.requests.length === 1, 10_000);
            const signalledAt = Date.now();
            run.proc.kill("SIGINT");
            await finish(run, 10_000);
            checkRun(run, { cancelled: true });
            assert.equal(run.code, 130, describeRun(run));
            assert.deepEqual(run.events.map(strip), [{ type: "cancelled" }]);
            await waitFor(() => up.disconnects.length > 0, 2000);
            const latency = up.disconnects[0].at - signalledAt;
            t.diagnostic(`disconnect ${latency} ms after SIGINT`);
            assert.ok(latency <= 100, `disconnect ${latency} ms after the signal`);
        }));
    });

    describe("configuration", { concurrency: true }, () => {
        it("DEFAULT_MODEL=gpt-4o without an OpenAI key → exit 2 naming OPENAI_API_KEY", withFake(async (up) => {
            const run = await finish(startChat([PROMPT], { ...groqEnv(up), DEFAULT_MODEL: "gpt-4o" }));
            assert.equal(run.code, 2, describeRun(run));
            assert.match(run.stderr, /OPENAI_API_KEY/);
            assert.match(run.stderr, /gpt-4o/);
            assert.equal(run.stdout, "");
            assert.equal(up.requests.length, 0);
            assert.ok(!SANITIZER_REPORT.test(run.stderr), run.stderr);
        }));

        it("an unknown --model → exit 2 naming the model", withFake(async (up) => {
            const run = await finish(startChat([PROMPT, "--model", "no-such-model-9000"], groqEnv(up)));
            assert.equal(run.code, 2, describeRun(run));
            assert.match(run.stderr, /no-such-model-9000/);
            assert.equal(run.stdout, "");
            assert.equal(up.requests.length, 0);
            assert.ok(!SANITIZER_REPORT.test(run.stderr), run.stderr);
        }));

        it("no keys at all → the mock model answers", withFake(async (up) => {
            const run = await chat([PROMPT, "--thinking"], {});
            assert.equal(run.code, 0, describeRun(run));
            assert.deepEqual(result(run), {
                type: "result",
                provider: "mock",
                model: "parley-mock",
                fallback_used: false,
                attempts: 1,
                ok: true,
            });
            assert.ok(textOf(run).includes(PROMPT), textOf(run));
            assert.ok(thinkingOf(run).length > 0, "the mock thinks when asked");
            assert.deepEqual(one(run, "stop"), { type: "stop", finish_reason: "stop" });
            assert.equal(up.requests.length, 0);
        }));
    });

    describe("known defects", () => {
        it(
            "exits without a sanitizer report after an upstream error response",
            withFake(async (up) => {
                up.setScript({ status: 400 });
                const run = await finish(startChat([PROMPT], { ...groqEnv(up), FALLBACK_MODEL: "" }));
                assert.equal(one(run, "error").error, "invalid_request");
                assert.ok(!SANITIZER_REPORT.test(run.stderr), summariseStderr(run.stderr));
                assert.equal(run.code, 1);
            })
        );

        it(
            "sends Host with the port for a non-default port",
            withFake(async (up) => {
                up.setScript({ tokens: ["ok"] });
                const run = await chat([PROMPT], groqEnv(up));
                assert.equal(run.code, 0, describeRun(run));
                assert.equal(up.requests[0].headers.host, `127.0.0.1:${up.port}`);
            })
        );

        it("leaves its working directory empty", () => {
            assert.deepEqual(readdirSync(workDir), []);
        });
    });
});
