// Tests of the fake LLM upstream itself (tests/support/fake_upstream.mjs): each provider's wire
// format (docs: wire-formats.md), auth, scripted errors, retries, delays, disconnects and the
// request log. Needs no parley binary.
//
//   node --test tests/integration/fake_upstream.test.mjs

import assert from "node:assert/strict";
import { once } from "node:events";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";
import { after, before, beforeEach, describe, it } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

import { DEFAULT_KEYS, defaultTokens, startBlackhole, startFakeUpstream, waitFor } from "../support/fake_upstream.mjs";

const OPENAI_AUTH = { authorization: `Bearer ${DEFAULT_KEYS.openai}` };
const ANTHROPIC_AUTH = { "x-api-key": DEFAULT_KEYS.anthropic, "anthropic-version": "2023-06-01" };
const GEMINI_AUTH = { "x-goog-api-key": DEFAULT_KEYS.gemini };

// Splits an SSE body into events: { event, data, json, at }. Comment lines are skipped, several
// data lines are joined with "\n" (as the SDKs do).
function parseBlock(block, at) {
    let event;
    const data = [];
    for (const line of block.split(/\r\n|\r|\n/)) {
        if (line === "" || line.startsWith(":")) {
            continue;
        }
        const colon = line.indexOf(":");
        const field = colon === -1 ? line : line.slice(0, colon);
        let value = colon === -1 ? "" : line.slice(colon + 1);
        if (value.startsWith(" ")) {
            value = value.slice(1);
        }
        if (field === "event") {
            event = value;
        } else if (field === "data") {
            data.push(value);
        }
    }
    if (event === undefined && data.length === 0) {
        return undefined;
    }
    const text = data.join("\n");
    let json;
    try {
        json = JSON.parse(text);
    } catch {
        json = undefined;
    }
    return { event, data: text, json, at };
}

// Reads a fetch Response as SSE. Resolves { events, error, rest }: error is set when the body
// ended abnormally (connection destroyed), rest is any unterminated trailing text.
async function readSse(res) {
    const events = [];
    const decoder = new TextDecoder();
    let buf = "";
    let error;
    try {
        for await (const chunk of res.body) {
            buf += decoder.decode(chunk, { stream: true });
            for (;;) {
                const m = /\r\n\r\n|\n\n|\r\r/.exec(buf);
                if (!m) {
                    break;
                }
                const block = buf.slice(0, m.index);
                buf = buf.slice(m.index + m[0].length);
                const ev = parseBlock(block, Date.now());
                if (ev) {
                    events.push(ev);
                }
            }
        }
    } catch (err) {
        error = err;
    }
    return { events, error, rest: buf };
}

async function readJson(res) {
    const text = await res.text();
    try {
        return JSON.parse(text);
    } catch {
        assert.fail(`body is not JSON: ${text.slice(0, 200)}`);
    }
}

function openAiBody(extra = {}) {
    return {
        model: "gpt-4o-mini",
        messages: [
            { role: "system", content: "Be brief." },
            { role: "user", content: "hello big world" },
        ],
        ...extra,
    };
}

function anthropicBody(extra = {}) {
    return {
        model: "claude-sonnet-4-5",
        max_tokens: 4096,
        system: "Be brief.",
        messages: [{ role: "user", content: "hello big world" }],
        ...extra,
    };
}

function geminiBody(extra = {}) {
    return {
        systemInstruction: { parts: [{ text: "Be brief." }] },
        contents: [{ role: "user", parts: [{ text: "hello big world" }] }],
        ...extra,
    };
}

const GEMINI_STREAM = "/v1beta/models/gemini-2.5-flash:streamGenerateContent?alt=sse";
const GEMINI_COMPLETE = "/v1beta/models/gemini-2.5-flash:generateContent";

describe("fake upstream", () => {
    let up;
    const post = (path, body, { headers = {}, signal } = {}) =>
        fetch(`${up.baseUrl}${path}`, {
            method: "POST",
            headers: { "content-type": "application/json", ...headers },
            body: typeof body === "string" ? body : JSON.stringify(body),
            signal,
        });

    before(async () => {
        up = await startFakeUpstream();
    });
    after(async () => {
        await up.close();
    });
    beforeEach(() => up.reset());

    describe("OpenAI chat completions", () => {
        it("streams role chunk, content, finish chunk, usage chunk and [DONE]", async () => {
            up.setScript({ tokens: ["Hello", " world"] });
            const res = await post(
                "/v1/chat/completions",
                openAiBody({ stream: true, stream_options: { include_usage: true } }),
                { headers: OPENAI_AUTH }
            );
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-type"), "text/event-stream");
            assert.match(res.headers.get("x-request-id"), /^req_/);
            const { events, error } = await readSse(res);
            assert.equal(error, undefined);
            assert.ok(events.every((e) => e.event === undefined), "no event: lines");
            assert.equal(events.at(-1).data, "[DONE]");
            const chunks = events.slice(0, -1).map((e) => e.json);
            assert.equal(chunks.length, 5);
            const { id, created } = chunks[0];
            assert.match(id, /^chatcmpl-/);
            for (const c of chunks) {
                assert.equal(c.id, id);
                assert.equal(c.created, created);
                assert.equal(c.object, "chat.completion.chunk");
                assert.equal(c.model, "gpt-4o-mini");
            }
            assert.deepEqual(chunks[0].choices, [
                { index: 0, delta: { role: "assistant", content: "" }, logprobs: null, finish_reason: null },
            ]);
            assert.deepEqual(chunks[1].choices, [
                { index: 0, delta: { content: "Hello" }, logprobs: null, finish_reason: null },
            ]);
            assert.deepEqual(chunks[2].choices[0].delta, { content: " world" });
            assert.deepEqual(chunks[3].choices, [{ index: 0, delta: {}, logprobs: null, finish_reason: "stop" }]);
            for (const c of chunks.slice(0, 4)) {
                assert.equal(c.usage, null);
            }
            assert.deepEqual(chunks[4].choices, []);
            // "Be brief. hello big world" = 5 words; 2 tokens.
            assert.deepEqual(chunks[4].usage, { prompt_tokens: 5, completion_tokens: 2, total_tokens: 7 });
        });

        it("without include_usage: no usage field and no usage chunk; default tokens echo the prompt", async () => {
            const res = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            const { events } = await readSse(res);
            assert.equal(events.at(-1).data, "[DONE]");
            const chunks = events.slice(0, -1).map((e) => e.json);
            assert.ok(chunks.every((c) => !("usage" in c)));
            assert.deepEqual(defaultTokens("hello big world"), ["Echo", ":", " ", "hello", " big", " world"]);
            const text = chunks.map((c) => c.choices[0].delta.content ?? "").join("");
            assert.equal(text, "Echo: hello big world");
            assert.equal(chunks.at(-1).choices[0].finish_reason, "stop");
            assert.equal(chunks.length, 1 + 6 + 1);
        });

        it("answers a chat.completion when not streaming", async () => {
            up.setScript({ tokens: ["Hi", "!"], finishReason: "length", usage: { input: 9 } });
            const res = await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH });
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-type"), "application/json");
            const body = await readJson(res);
            assert.match(body.id, /^chatcmpl-/);
            assert.deepEqual(body, {
                id: body.id,
                object: "chat.completion",
                created: body.created,
                model: "gpt-4o-mini",
                system_fingerprint: "fp_fake",
                choices: [
                    {
                        index: 0,
                        message: { role: "assistant", content: "Hi!", refusal: null },
                        logprobs: null,
                        finish_reason: "length",
                    },
                ],
                usage: { prompt_tokens: 9, completion_tokens: 2, total_tokens: 11 },
            });
        });

        it("emits thinking as <think>…</think> at the start of content with thinkStyle tags", async () => {
            up.setScript({ thinking: ["let me", " think"], tokens: ["Done"], thinkStyle: "tags" });
            const res = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            const { events } = await readSse(res);
            const deltas = events.slice(1, -2).map((e) => e.json.choices[0].delta);
            assert.deepEqual(deltas, [{ content: "<think>let me" }, { content: " think</think>" }, { content: "Done" }]);

            const plain = await readJson(await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH }));
            assert.equal(plain.choices[0].message.content, "<think>let me think</think>Done");
            assert.equal(plain.usage.completion_tokens, 3);
            assert.deepEqual(plain.usage.completion_tokens_details, { reasoning_tokens: 2 });
        });

        it("Groq path: x_groq on first and finish chunk, reasoning deltas with thinkStyle reasoning", async () => {
            up.setScript({ thinking: ["hmm"], tokens: ["Yes"], thinkStyle: "reasoning" });
            const res = await post(
                "/openai/v1/chat/completions",
                openAiBody({ model: "llama-3.3-70b-versatile", stream: true, stream_options: { include_usage: true } }),
                { headers: OPENAI_AUTH }
            );
            assert.equal(res.status, 200);
            const { events } = await readSse(res);
            assert.equal(events.at(-1).data, "[DONE]");
            const chunks = events.slice(0, -1).map((e) => e.json);
            assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
            assert.match(chunks[0].x_groq.id, /^req_/);
            assert.deepEqual(chunks[1].choices[0].delta, { reasoning: "hmm" });
            assert.deepEqual(chunks[2].choices[0].delta, { content: "Yes" });
            assert.equal(chunks[3].choices[0].finish_reason, "stop");
            assert.equal(chunks[3].x_groq.usage.completion_tokens, 2);
            assert.equal(typeof chunks[3].x_groq.usage.total_time, "number");
            assert.deepEqual(chunks[4].choices, []);
            assert.equal(chunks[4].usage.completion_tokens, 2);
            assert.equal(up.requests[0].provider, "groq");

            const plain = await readJson(
                await post("/openai/v1/chat/completions", openAiBody({ model: "qwen3" }), { headers: OPENAI_AUTH })
            );
            assert.equal(plain.choices[0].message.reasoning, "hmm");
            assert.equal(plain.choices[0].message.content, "Yes");
        });

        it("rejects what Groq rejects (logprobs, n > 1)", async () => {
            for (const extra of [{ logprobs: true }, { n: 2 }]) {
                const res = await post("/openai/v1/chat/completions", openAiBody(extra), { headers: OPENAI_AUTH });
                assert.equal(res.status, 400);
                const body = await readJson(res);
                assert.equal(body.error.type, "invalid_request_error");
            }
        });
    });

    describe("Anthropic messages", () => {
        it("streams named events whose names equal data.type, in order", async () => {
            up.setScript({ tokens: ["Hello", " there", "!"] });
            const res = await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH });
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-type"), "text/event-stream");
            assert.match(res.headers.get("request-id"), /^req_/);
            const { events, error } = await readSse(res);
            assert.equal(error, undefined);
            for (const e of events) {
                assert.equal(e.event, e.json.type);
            }
            assert.deepEqual(
                events.map((e) => e.event),
                [
                    "message_start",
                    "ping",
                    "content_block_start",
                    "content_block_delta",
                    "content_block_delta",
                    "content_block_delta",
                    "content_block_stop",
                    "message_delta",
                    "message_stop",
                ]
            );
            const start = events[0].json.message;
            assert.match(start.id, /^msg_/);
            assert.deepEqual(
                { ...start, id: undefined, usage: undefined },
                {
                    id: undefined,
                    type: "message",
                    role: "assistant",
                    model: "claude-sonnet-4-5",
                    content: [],
                    stop_reason: null,
                    stop_sequence: null,
                    usage: undefined,
                }
            );
            assert.equal(start.usage.input_tokens, 5);
            assert.deepEqual(events[2].json, {
                type: "content_block_start",
                index: 0,
                content_block: { type: "text", text: "" },
            });
            assert.deepEqual(events[3].json, {
                type: "content_block_delta",
                index: 0,
                delta: { type: "text_delta", text: "Hello" },
            });
            assert.deepEqual(events[6].json, { type: "content_block_stop", index: 0 });
            assert.deepEqual(events[7].json, {
                type: "message_delta",
                delta: { stop_reason: "end_turn", stop_sequence: null },
                usage: { output_tokens: 3 },
            });
            assert.deepEqual(events[8].json, { type: "message_stop" });
        });

        it("streams a thinking block with signature_delta before its stop, then the text block", async () => {
            up.setScript({ thinking: ["Let me", " see"], tokens: ["OK"] });
            const res = await post(
                "/v1/messages",
                anthropicBody({ stream: true, thinking: { type: "enabled", budget_tokens: 1024 } }),
                { headers: ANTHROPIC_AUTH }
            );
            const { events } = await readSse(res);
            const summary = events.map((e) => {
                const d = e.json;
                if (e.event === "content_block_start") {
                    return `start:${d.index}:${d.content_block.type}`;
                }
                if (e.event === "content_block_delta") {
                    return `delta:${d.index}:${d.delta.type}`;
                }
                if (e.event === "content_block_stop") {
                    return `stop:${d.index}`;
                }
                return e.event;
            });
            assert.deepEqual(summary, [
                "message_start",
                "ping",
                "start:0:thinking",
                "delta:0:thinking_delta",
                "delta:0:thinking_delta",
                "delta:0:signature_delta",
                "stop:0",
                "start:1:text",
                "delta:1:text_delta",
                "stop:1",
                "message_delta",
                "message_stop",
            ]);
            assert.deepEqual(events[2].json.content_block, { type: "thinking", thinking: "", signature: "" });
            assert.deepEqual(events[3].json.delta, { type: "thinking_delta", thinking: "Let me" });
            assert.equal(typeof events[5].json.delta.signature, "string");
            assert.ok(events[5].json.delta.signature.length > 0);
            assert.equal(events[10].json.usage.output_tokens, 3);

            // The same script without thinking in the request: no thinking block.
            const plain = await readSse(await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH }));
            assert.equal(plain.events[2].json.content_block.type, "text");
            assert.equal(plain.events.filter((e) => e.event === "content_block_start").length, 1);
        });

        it("answers a complete Message when not streaming", async () => {
            up.setScript({ thinking: ["Hm."], tokens: ["Hi", "!"], finishReason: "max_tokens" });
            const res = await post(
                "/v1/messages",
                anthropicBody({ thinking: { type: "enabled", budget_tokens: 2048 } }),
                { headers: ANTHROPIC_AUTH }
            );
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-type"), "application/json");
            const body = await readJson(res);
            assert.deepEqual(body.content[1], { type: "text", text: "Hi!" });
            assert.equal(body.content[0].type, "thinking");
            assert.equal(body.content[0].thinking, "Hm.");
            assert.ok(body.content[0].signature.length > 0);
            assert.equal(body.type, "message");
            assert.equal(body.role, "assistant");
            assert.equal(body.stop_reason, "max_tokens");
            assert.equal(body.stop_sequence, null);
            assert.equal(body.usage.input_tokens, 5);
            assert.equal(body.usage.output_tokens, 3);
        });

        it("requires x-api-key and anthropic-version, and validates thinking budgets", async () => {
            let res = await post("/v1/messages", anthropicBody(), { headers: { "anthropic-version": "2023-06-01" } });
            assert.equal(res.status, 401);
            const requestId = res.headers.get("request-id");
            assert.deepEqual(await readJson(res), {
                type: "error",
                error: { type: "authentication_error", message: "x-api-key header is required" },
                request_id: requestId,
            });

            res = await post("/v1/messages", anthropicBody(), {
                headers: { "x-api-key": "wrong", "anthropic-version": "2023-06-01" },
            });
            assert.equal(res.status, 401);
            assert.equal((await readJson(res)).error.message, "invalid x-api-key");

            res = await post("/v1/messages", anthropicBody(), { headers: { "x-api-key": DEFAULT_KEYS.anthropic } });
            assert.equal(res.status, 400);
            assert.equal((await readJson(res)).error.type, "invalid_request_error");

            res = await post("/v1/messages", anthropicBody({ thinking: { type: "enabled", budget_tokens: 100 } }), {
                headers: ANTHROPIC_AUTH,
            });
            assert.equal(res.status, 400);
            await res.text();

            res = await post(
                "/v1/messages",
                anthropicBody({ messages: [{ role: "system", content: "x" }, { role: "user", content: "y" }] }),
                { headers: ANTHROPIC_AUTH }
            );
            assert.equal(res.status, 400);
            await res.text();
        });
    });

    describe("Gemini", () => {
        it("streams data-only GenerateContentResponse events with thought parts and usageMetadata", async () => {
            up.setScript({ thinking: ["Pondering"], tokens: ["The", " answer"] });
            const res = await post(
                GEMINI_STREAM,
                geminiBody({ generationConfig: { thinkingConfig: { includeThoughts: true, thinkingBudget: 1024 } } }),
                { headers: GEMINI_AUTH }
            );
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-type"), "text/event-stream");
            const { events, error } = await readSse(res);
            assert.equal(error, undefined);
            assert.ok(events.every((e) => e.event === undefined && e.json !== undefined), "data-only, no [DONE]");
            assert.equal(events.length, 3);
            const parts = events.map((e) => e.json.candidates[0].content.parts);
            assert.deepEqual(parts, [[{ text: "Pondering", thought: true }], [{ text: "The" }], [{ text: " answer" }]]);
            for (const e of events) {
                assert.equal(e.json.candidates[0].content.role, "model");
                assert.equal(e.json.candidates[0].index, 0);
                assert.equal(e.json.modelVersion, "gemini-2.5-flash");
            }
            assert.equal(events[0].json.candidates[0].finishReason, undefined);
            assert.equal(events[2].json.candidates[0].finishReason, "STOP");
            assert.deepEqual(events[2].json.usageMetadata, {
                promptTokenCount: 5,
                candidatesTokenCount: 2,
                totalTokenCount: 8,
                thoughtsTokenCount: 1,
            });
        });

        it("omits thoughts unless includeThoughts; accepts ?key=", async () => {
            up.setScript({ thinking: ["Pondering"], tokens: ["A"] });
            const res = await post(`${GEMINI_STREAM}&key=${DEFAULT_KEYS.gemini}`, geminiBody());
            assert.equal(res.status, 200);
            const { events } = await readSse(res);
            assert.equal(events.length, 1);
            assert.deepEqual(events[0].json.candidates[0].content.parts, [{ text: "A" }]);
            assert.deepEqual(events[0].json.usageMetadata, {
                promptTokenCount: 5,
                candidatesTokenCount: 1,
                totalTokenCount: 6,
            });
            assert.equal(up.requests[0].query.key, DEFAULT_KEYS.gemini);
            assert.equal(up.requests[0].query.alt, "sse");
            assert.equal(up.requests[0].model, "gemini-2.5-flash");
        });

        it("answers generateContent with one complete response", async () => {
            up.setScript({ thinking: ["T"], tokens: ["Hi", "!"] });
            const res = await post(
                GEMINI_COMPLETE,
                geminiBody({ generationConfig: { thinkingConfig: { includeThoughts: true } } }),
                { headers: GEMINI_AUTH }
            );
            assert.equal(res.status, 200);
            const body = await readJson(res);
            assert.deepEqual(body.candidates, [
                {
                    content: { parts: [{ text: "T", thought: true }, { text: "Hi!" }], role: "model" },
                    finishReason: "STOP",
                    index: 0,
                },
            ]);
            assert.deepEqual(body.usageMetadata, {
                promptTokenCount: 5,
                candidatesTokenCount: 2,
                totalTokenCount: 8,
                thoughtsTokenCount: 1,
            });
        });

        it("rejects a wrong key and a system role", async () => {
            let res = await post(GEMINI_STREAM, geminiBody(), { headers: { "x-goog-api-key": "nope" } });
            assert.equal(res.status, 401);
            assert.deepEqual(await readJson(res), {
                error: { code: 401, message: "API key not valid. Please pass a valid API key.", status: "UNAUTHENTICATED" },
            });
            res = await post(
                GEMINI_COMPLETE,
                geminiBody({ contents: [{ role: "system", parts: [{ text: "x" }] }] }),
                { headers: GEMINI_AUTH }
            );
            assert.equal(res.status, 400);
            assert.equal((await readJson(res)).error.status, "INVALID_ARGUMENT");
        });
    });

    describe("auth and errors", () => {
        it("OpenAI: missing and wrong keys get 401 bodies", async () => {
            let res = await post("/v1/chat/completions", openAiBody());
            assert.equal(res.status, 401);
            let body = await readJson(res);
            assert.deepEqual(Object.keys(body.error).sort(), ["code", "message", "param", "type"]);
            assert.equal(body.error.type, "invalid_request_error");
            assert.equal(body.error.code, null);

            res = await post("/v1/chat/completions", openAiBody(), { headers: { authorization: "Bearer sk-wrong-key" } });
            assert.equal(res.status, 401);
            body = await readJson(res);
            assert.deepEqual(body, {
                error: {
                    message: body.error.message,
                    type: "invalid_request_error",
                    param: null,
                    code: "invalid_api_key",
                },
            });
            assert.ok(res.headers.get("x-request-id"));
        });

        it("custom keys per provider; null accepts anything", async () => {
            const other = await startFakeUpstream({ keys: { openai: "k1", groq: null, anthropic: "k2", gemini: "k3" } });
            try {
                const call = (path, body, headers) =>
                    fetch(`${other.baseUrl}${path}`, {
                        method: "POST",
                        headers: { "content-type": "application/json", ...headers },
                        body: JSON.stringify(body),
                    }).then(async (r) => (await r.arrayBuffer(), r.status));
                assert.equal(await call("/v1/chat/completions", openAiBody(), { authorization: "Bearer k1" }), 200);
                assert.equal(await call("/v1/chat/completions", openAiBody(), OPENAI_AUTH), 401);
                assert.equal(await call("/openai/v1/chat/completions", openAiBody(), {}), 200);
                assert.equal(
                    await call("/v1/messages", anthropicBody(), { "x-api-key": "k2", "anthropic-version": "2023-06-01" }),
                    200
                );
                assert.equal(await call(GEMINI_COMPLETE, geminiBody(), { "x-goog-api-key": "k3" }), 200);
            } finally {
                await other.close();
            }
        });

        it("scripted statuses carry the provider's error body and Retry-After", async () => {
            up.setScript({ status: 429, retryAfter: 7, errorMessage: "slow down" });
            let res = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            assert.equal(res.status, 429);
            assert.equal(res.headers.get("retry-after"), "7");
            assert.equal(res.headers.get("content-type"), "application/json");
            assert.deepEqual(await readJson(res), {
                error: { message: "slow down", type: "requests", param: null, code: "rate_limit_exceeded" },
            });

            res = await post("/v1/messages", anthropicBody(), { headers: ANTHROPIC_AUTH });
            assert.equal(res.status, 429);
            assert.equal(res.headers.get("retry-after"), "7");
            assert.deepEqual(await readJson(res), {
                type: "error",
                error: { type: "rate_limit_error", message: "slow down" },
                request_id: res.headers.get("request-id"),
            });

            res = await post(GEMINI_STREAM, geminiBody(), { headers: GEMINI_AUTH });
            assert.equal(res.status, 429);
            assert.deepEqual(await readJson(res), {
                error: { code: 429, message: "slow down", status: "RESOURCE_EXHAUSTED" },
            });

            up.setScript({ status: 529 });
            res = await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH });
            assert.equal(res.status, 529);
            assert.equal(res.headers.get("retry-after"), null);
            assert.equal((await readJson(res)).error.type, "overloaded_error");

            up.setScript({ status: 503 });
            res = await post(GEMINI_COMPLETE, geminiBody(), { headers: GEMINI_AUTH });
            assert.equal(res.status, 503);
            assert.equal((await readJson(res)).error.status, "UNAVAILABLE");
            res = await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH });
            assert.equal(res.status, 503);
            assert.equal((await readJson(res)).error.type, "server_error");
        });

        it("failTimes fails the first N requests per script key, then succeeds", async () => {
            up.setScript({ status: 503, failTimes: 2, tokens: ["ok"] });
            const statuses = [];
            for (let i = 0; i < 4; i++) {
                const res = await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH });
                statuses.push(res.status);
                await res.arrayBuffer();
            }
            assert.deepEqual(statuses, [503, 503, 200, 200]);

            // Separate counters per key.
            up.setScript((info) => ({ failTimes: 1, status: 500, key: info.provider }));
            const seq = [];
            for (const [path, body, headers] of [
                ["/v1/messages", anthropicBody(), ANTHROPIC_AUTH],
                [GEMINI_COMPLETE, geminiBody(), GEMINI_AUTH],
                ["/v1/messages", anthropicBody(), ANTHROPIC_AUTH],
                [GEMINI_COMPLETE, geminiBody(), GEMINI_AUTH],
            ]) {
                const res = await post(path, body, { headers });
                seq.push(res.status);
                await res.arrayBuffer();
            }
            assert.deepEqual(seq, [500, 500, 200, 200]);
        });
    });

    describe("timing and broken streams", () => {
        it("respects firstTokenDelayMs and interTokenDelayMs", async () => {
            up.setScript({ tokens: ["a", "b", "c"], firstTokenDelayMs: 150, interTokenDelayMs: 60 });
            const started = Date.now();
            const res = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            const headersAt = Date.now() - started;
            const { events } = await readSse(res);
            const rel = events.map((e) => e.at - started);
            assert.ok(headersAt < 120, `headers after ${headersAt} ms`);
            assert.ok(rel[0] < 120, `role chunk after ${rel[0]} ms`);
            assert.ok(rel[1] >= 140, `first token after ${rel[1]} ms`);
            assert.ok(rel[2] - rel[1] >= 50, `second token gap ${rel[2] - rel[1]} ms`);
            assert.ok(rel[3] - rel[2] >= 50, `third token gap ${rel[3] - rel[2]} ms`);
            assert.ok(rel.at(-1) < 1_000);
        });

        it("disconnectAfterTokens ends the connection early", async () => {
            up.setScript({ tokens: ["1", "2", "3", "4", "5"], disconnectAfterTokens: 2 });
            const res = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            assert.equal(res.status, 200);
            const { events, error } = await readSse(res);
            assert.ok(error, "the body ended abnormally");
            assert.equal(events.length, 3); // role chunk + 2 tokens
            assert.ok(!events.some((e) => e.data === "[DONE]"));
            assert.deepEqual(up.disconnects, [], "a server-side close is not a client disconnect");

            const anth = await readSse(
                await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH })
            );
            assert.ok(anth.error);
            assert.equal(anth.events.filter((e) => e.json?.delta?.type === "text_delta").length, 2);
            assert.ok(!anth.events.some((e) => e.event === "message_stop"));
        });

        it("malformedAfterTokens sends a non-JSON data line", async () => {
            up.setScript({ tokens: ["a", "b", "c"], malformedAfterTokens: 1 });
            const { events } = await readSse(
                await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH })
            );
            assert.equal(events.length, 3);
            assert.equal(events[1].json.choices[0].delta.content, "a");
            assert.equal(events[2].json, undefined);
            assert.throws(() => JSON.parse(events[2].data));

            const gem = await readSse(await post(GEMINI_STREAM, geminiBody(), { headers: GEMINI_AUTH }));
            assert.equal(gem.events.length, 2);
            assert.equal(gem.events[1].json, undefined);
        });

        it("midStreamError sends the provider's in-stream error", async () => {
            up.setScript({ tokens: ["a", "b", "c"], midStreamError: 1 });
            const anth = await readSse(
                await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH })
            );
            assert.equal(anth.error, undefined);
            assert.deepEqual(anth.events.at(-1), {
                event: "error",
                data: anth.events.at(-1).data,
                json: { type: "error", error: { type: "overloaded_error", message: "Overloaded" } },
                at: anth.events.at(-1).at,
            });
            assert.equal(anth.events.filter((e) => e.json.delta?.type === "text_delta").length, 1);
            assert.ok(!anth.events.some((e) => e.event === "message_stop"));

            const oa = await readSse(
                await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH })
            );
            assert.equal(oa.events.length, 3);
            assert.equal(oa.events[2].json.error.type, "server_error");
            assert.ok(!oa.events.some((e) => e.data === "[DONE]"));

            const gem = await readSse(await post(GEMINI_STREAM, geminiBody(), { headers: GEMINI_AUTH }));
            assert.deepEqual(gem.events.at(-1).json.error.code, 503);
        });

        it("okErrorBody answers 200 with the provider's error body, stream requests included", async () => {
            up.setScript({ okErrorBody: true, errorStatus: 401, errorMessage: "key revoked" });
            const oa = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            assert.equal(oa.status, 200);
            assert.match(oa.headers.get("content-type"), /^application\/json/);
            const body = await oa.json();
            assert.equal(body.error.message, "key revoked");
            assert.equal(body.error.code, "invalid_api_key");
            const anth = await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH });
            assert.equal(anth.status, 200);
            assert.deepEqual((await anth.json()).error, { type: "authentication_error", message: "key revoked" });
        });

        it("garbage answers 200 with the text as the whole body", async () => {
            up.setScript({ garbage: "<html><body>Sign in to the Wi-Fi</body></html>" });
            const res = await post(GEMINI_STREAM, geminiBody(), { headers: GEMINI_AUTH });
            assert.equal(res.status, 200);
            assert.equal(res.headers.get("content-type"), "text/html");
            assert.equal(await res.text(), "<html><body>Sign in to the Wi-Fi</body></html>");
            up.setScript({ garbage: "\u0000\u00ff not json", garbageType: "application/octet-stream" });
            const oa = await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH });
            assert.equal(oa.headers.get("content-type"), "application/octet-stream");
            assert.equal(await oa.text(), "\u0000\u00ff not json");
        });

        it("startBlackhole accepts connections and never answers", async () => {
            const hole = await startBlackhole();
            try {
                const socket = net.connect(hole.port, "127.0.0.1");
                await once(socket, "connect");
                const got = await Promise.race([once(socket, "data").then(() => "data"), sleep(200).then(() => "silence")]);
                assert.equal(got, "silence");
                assert.equal(hole.connections, 1);
                socket.destroy();
            } finally {
                await hole.close();
            }
        });

        it("hang sends nothing; a client abort is recorded as a disconnect", async () => {
            up.setScript({ hang: true });
            const ac = new AbortController();
            const started = Date.now();
            setTimeout(() => ac.abort(), 100);
            await assert.rejects(
                post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH, signal: ac.signal }),
                { name: "AbortError" }
            );
            assert.ok(Date.now() - started >= 90);
            await waitFor(() => up.disconnects.length === 1, 2_000);
            assert.equal(up.disconnects[0].path, "/v1/messages");
            assert.equal(up.disconnects[0].tokensSent, 0);
            assert.equal(typeof up.disconnects[0].at, "number");
        });

        it("records a client abort mid-stream with the tokens sent so far", async () => {
            up.setScript({ tokens: ["1", "2", "3", "4", "5", "6"], interTokenDelayMs: 40 });
            const ac = new AbortController();
            const res = await post("/v1/chat/completions", openAiBody({ stream: true }), {
                headers: OPENAI_AUTH,
                signal: ac.signal,
            });
            const reader = res.body.getReader();
            let text = "";
            while (!text.includes('"content":"2"')) {
                const { value } = await reader.read();
                text += new TextDecoder().decode(value);
            }
            ac.abort();
            await waitFor(() => up.disconnects.length === 1, 2_000);
            const d = up.disconnects[0];
            assert.equal(d.path, "/v1/chat/completions");
            assert.ok(d.tokensSent >= 2 && d.tokensSent < 6, `tokensSent ${d.tokensSent}`);
        });

        it("stallAfterTokens sends exactly N tokens, then nothing until the client leaves", async () => {
            up.setScript({ tokens: ["1", "2", "3", "4", "5"], stallAfterTokens: 2 });
            const ac = new AbortController();
            const res = await post("/v1/messages", anthropicBody({ stream: true }), {
                headers: ANTHROPIC_AUTH,
                signal: ac.signal,
            });
            assert.equal(res.status, 200);
            const reader = res.body.getReader();
            const decoder = new TextDecoder();
            let text = "";
            while ((text.match(/text_delta/g) ?? []).length < 2) {
                const { value, done } = await reader.read();
                assert.ok(!done, "the stream stays open");
                text += decoder.decode(value, { stream: true });
            }
            // Nothing more arrives while the client waits.
            const more = await Promise.race([
                reader.read().then(() => "data"),
                new Promise((r) => setTimeout(() => r("silence"), 300)),
            ]);
            assert.equal(more, "silence");
            assert.deepEqual(up.disconnects, []);
            assert.equal((text.match(/text_delta/g) ?? []).length, 2);
            assert.ok(!text.includes("message_stop"));
            ac.abort();
            await waitFor(() => up.disconnects.length === 1, 2_000);
            assert.equal(up.disconnects[0].path, "/v1/messages");
            assert.equal(up.disconnects[0].tokensSent, 2);

            // Non-streaming: no answer at all until the client leaves.
            up.reset();
            up.setScript({ tokens: ["a"], stallAfterTokens: 0 });
            const ac2 = new AbortController();
            setTimeout(() => ac2.abort(), 200);
            await assert.rejects(
                post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH, signal: ac2.signal }),
                { name: "AbortError" }
            );
            await waitFor(() => up.disconnects.length === 1, 2_000);
        });

        it("close() destroys hanging sockets", async () => {
            const other = await startFakeUpstream({ script: { hang: true } });
            const pending = fetch(`${other.baseUrl}/v1/chat/completions`, {
                method: "POST",
                headers: { ...OPENAI_AUTH, "content-type": "application/json" },
                body: JSON.stringify(openAiBody()),
            });
            await waitFor(() => other.requests.length === 1, 2_000);
            const started = Date.now();
            await other.close();
            assert.ok(Date.now() - started < 500);
            await assert.rejects(pending);
            assert.deepEqual(other.disconnects, []);
        });
    });

    describe("scripting and the request log", () => {
        it("records each request and passes requestInfo to a script function", async () => {
            const seen = [];
            up.setScript((info) => {
                seen.push(info);
                return { tokens: [`${info.provider}:${info.model}`] };
            });
            const res = await post("/v1/chat/completions?trace=1", openAiBody(), {
                headers: { ...OPENAI_AUTH, "X-Custom-Thing": "yes" },
            });
            const body = await readJson(res);
            assert.equal(body.choices[0].message.content, "openai:gpt-4o-mini");
            assert.equal(up.requests.length, 1);
            const r = up.requests[0];
            assert.equal(r.provider, "openai");
            assert.equal(r.path, "/v1/chat/completions");
            assert.equal(r.method, "POST");
            assert.equal(r.headers["x-custom-thing"], "yes");
            assert.equal(r.headers.authorization, OPENAI_AUTH.authorization);
            assert.deepEqual(r.query, { trace: "1" });
            assert.deepEqual(r.body, openAiBody());
            assert.equal(typeof r.receivedAt, "number");
            assert.equal(seen.length, 1);
            assert.equal(seen[0].prompt, "hello big world");
            assert.equal(seen[0].stream, false);
            assert.deepEqual(seen[0].body, openAiBody());

            // Unauthenticated requests are logged too.
            await (await post("/v1/messages", anthropicBody())).arrayBuffer();
            assert.equal(up.requests.length, 2);
            assert.equal(up.requests[1].provider, "anthropic");
        });

        it("the x-fake-script header overrides the script", async () => {
            up.setScript({ tokens: ["base"], finishReason: "stop" });
            const res = await post("/v1/chat/completions", openAiBody(), {
                headers: { ...OPENAI_AUTH, "x-fake-script": JSON.stringify({ tokens: ["over", "ride"] }) },
            });
            const body = await readJson(res);
            assert.equal(body.choices[0].message.content, "override");
            assert.equal(body.choices[0].finish_reason, "stop");

            const bad = await post("/v1/chat/completions", openAiBody(), {
                headers: { ...OPENAI_AUTH, "x-fake-script": "{nope" },
            });
            assert.equal(bad.status, 400);
            await bad.arrayBuffer();
        });

        it("usage overrides and a custom finishReason reach every provider", async () => {
            up.setScript({ tokens: ["x"], usage: { input: 40, output: 12 }, finishReason: "MAX_TOKENS" });
            const gem = await readSse(await post(GEMINI_STREAM, geminiBody(), { headers: GEMINI_AUTH }));
            assert.equal(gem.events.at(-1).json.candidates[0].finishReason, "MAX_TOKENS");
            assert.deepEqual(gem.events.at(-1).json.usageMetadata, {
                promptTokenCount: 40,
                candidatesTokenCount: 12,
                totalTokenCount: 52,
            });
            up.setScript({ tokens: ["x"], usage: { input: 40, output: 12 }, finishReason: "stop_sequence" });
            const anth = await readSse(
                await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH })
            );
            assert.equal(anth.events[0].json.message.usage.input_tokens, 40);
            const delta = anth.events.find((e) => e.event === "message_delta").json;
            assert.equal(delta.delta.stop_reason, "stop_sequence");
            assert.equal(delta.usage.output_tokens, 12);
        });

        it("unknown routes get 404", async () => {
            const res = await post("/v1/completions", { prompt: "x" }, { headers: OPENAI_AUTH });
            assert.equal(res.status, 404);
            assert.equal((await readJson(res)).error.type, "invalid_request_error");
        });
    });
    describe("tool calls", () => {
        const WEATHER = {
            type: "object",
            properties: { city: { type: "string" } },
            required: ["city"],
        };
        const PARIS = { id: "call_paris", name: "get_weather", arguments: { city: "Paris", days: [1, 2] } };
        const ROME = { id: "call_rome", name: "get_weather", arguments: { city: "Rome" } };

        it("OpenAI: two calls, arguments split over many deltas, finish_reason tool_calls", async () => {
            up.setScript({ toolCalls: [PARIS, ROME], splitArguments: 4 });
            const body = openAiBody({
                stream: true,
                stream_options: { include_usage: true },
                tools: [{ type: "function", function: { name: "get_weather", parameters: WEATHER } }],
            });
            const { events } = await readSse(await post("/v1/chat/completions", body, { headers: OPENAI_AUTH }));
            assert.equal(events.at(-1).data, "[DONE]");
            const chunks = events.slice(0, -1).map((e) => e.json);
            assert.deepEqual(chunks[0].choices[0].delta, { role: "assistant", content: "" });
            const deltas = chunks.slice(1).flatMap((c) => c.choices.map((ch) => ch.delta));
            assert.ok(!deltas.some((d) => typeof d.content === "string"), "no text");
            const calls = deltas.filter((d) => d.tool_calls).map((d) => d.tool_calls[0]);
            assert.equal(calls.length, 2 + 4 + 4, "one start and four pieces per call");
            assert.deepEqual(calls[0], {
                index: 0,
                id: "call_paris",
                type: "function",
                function: { name: "get_weather", arguments: "" },
            });
            assert.deepEqual(Object.keys(calls[1]).sort(), ["function", "index"]);
            assert.equal(calls[5].id, "call_rome");
            const args = (index) =>
                calls.filter((c) => c.index === index).map((c) => c.function.arguments).join("");
            assert.deepEqual(JSON.parse(args(0)), PARIS.arguments);
            assert.deepEqual(JSON.parse(args(1)), ROME.arguments);
            const finish = chunks.find((c) => c.choices[0]?.finish_reason);
            assert.equal(finish.choices[0].finish_reason, "tool_calls");
            assert.equal(chunks.at(-1).usage.completion_tokens, 10);
            assert.deepEqual(up.requests[0].tools, ["get_weather"]);
        });

        it("Anthropic: text block, then one tool_use block a call with input_json_delta pieces", async () => {
            up.setScript({ tokens: ["Checking."], toolCalls: [PARIS, ROME], splitArguments: 3 });
            const body = anthropicBody({
                stream: true,
                tools: [{ name: "get_weather", input_schema: WEATHER }],
            });
            const { events } = await readSse(await post("/v1/messages", body, { headers: ANTHROPIC_AUTH }));
            for (const e of events) {
                assert.equal(e.event, e.json.type);
            }
            const summary = events.map((e) => {
                const d = e.json;
                if (e.event === "content_block_start") {
                    return `start:${d.index}:${d.content_block.type}`;
                }
                if (e.event === "content_block_delta") {
                    return `delta:${d.index}:${d.delta.type}`;
                }
                if (e.event === "content_block_stop") {
                    return `stop:${d.index}`;
                }
                return e.event;
            });
            const toolBlock = (i) => [
                `start:${i}:tool_use`,
                ...Array(4).fill(`delta:${i}:input_json_delta`),
                `stop:${i}`,
            ];
            assert.deepEqual(summary, [
                "message_start",
                "ping",
                "start:0:text",
                "delta:0:text_delta",
                "stop:0",
                ...toolBlock(1),
                ...toolBlock(2),
                "message_delta",
                "message_stop",
            ]);
            assert.deepEqual(events[5].json.content_block, {
                type: "tool_use",
                id: "call_paris",
                name: "get_weather",
                input: {},
            });
            const input = (index) =>
                events
                    .filter((e) => e.json.index === index && e.json.delta?.type === "input_json_delta")
                    .map((e) => e.json.delta.partial_json);
            assert.equal(input(1)[0], "", "the first fragment is empty, as the API sends it");
            assert.deepEqual(JSON.parse(input(1).join("")), PARIS.arguments);
            assert.deepEqual(JSON.parse(input(2).join("")), ROME.arguments);
            assert.equal(events.at(-2).json.delta.stop_reason, "tool_use");
        });

        it("Anthropic: only tool calls open no text block; ids default to toolu_…", async () => {
            up.setScript({ toolCalls: [{ name: "current_time", arguments: {} }] });
            const { events } = await readSse(
                await post("/v1/messages", anthropicBody({ stream: true }), { headers: ANTHROPIC_AUTH })
            );
            const starts = events.filter((e) => e.event === "content_block_start");
            assert.equal(starts.length, 1);
            assert.equal(starts[0].json.index, 0);
            assert.match(starts[0].json.content_block.id, /^toolu_/);
            const pieces = events.filter((e) => e.json.delta?.type === "input_json_delta");
            assert.deepEqual(pieces.map((e) => e.json.delta.partial_json), ["", "{}"]);
        });

        it("Gemini: every call whole in one chunk with finishReason STOP; ids only when asked", async () => {
            up.setScript({
                tokens: ["Checking."],
                toolCalls: [{ ...PARIS, signature: "c2ln" }, ROME],
            });
            const body = geminiBody({
                tools: [{ functionDeclarations: [{ name: "get_weather", parameters: WEATHER }] }],
            });
            let { events } = await readSse(await post(GEMINI_STREAM, body, { headers: GEMINI_AUTH }));
            assert.equal(events.length, 2);
            assert.deepEqual(events[0].json.candidates[0].content.parts, [{ text: "Checking." }]);
            assert.equal(events[0].json.candidates[0].finishReason, undefined);
            const last = events[1].json.candidates[0];
            assert.equal(last.finishReason, "STOP");
            assert.deepEqual(last.content.parts, [
                { functionCall: { name: "get_weather", args: PARIS.arguments }, thoughtSignature: "c2ln" },
                { functionCall: { name: "get_weather", args: ROME.arguments } },
            ]);

            up.setScript({ toolCalls: [ROME], geminiCallIds: true });
            ({ events } = await readSse(await post(GEMINI_STREAM, body, { headers: GEMINI_AUTH })));
            assert.equal(events.length, 1);
            assert.deepEqual(events[0].json.candidates[0].content.parts, [
                { functionCall: { name: "get_weather", args: ROME.arguments, id: "call_rome" } },
            ]);
        });

        it("non-streaming answers carry the calls in each format", async () => {
            up.setScript({ toolCalls: [PARIS] });
            const oa = await readJson(await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH }));
            assert.deepEqual(oa.choices[0].message, {
                role: "assistant",
                content: null,
                refusal: null,
                tool_calls: [
                    {
                        id: "call_paris",
                        type: "function",
                        function: { name: "get_weather", arguments: JSON.stringify(PARIS.arguments) },
                    },
                ],
            });
            assert.equal(oa.choices[0].finish_reason, "tool_calls");

            const an = await readJson(await post("/v1/messages", anthropicBody(), { headers: ANTHROPIC_AUTH }));
            assert.deepEqual(an.content, [
                { type: "tool_use", id: "call_paris", name: "get_weather", input: PARIS.arguments },
            ]);
            assert.equal(an.stop_reason, "tool_use");

            const ge = await readJson(await post(GEMINI_COMPLETE, geminiBody(), { headers: GEMINI_AUTH }));
            assert.deepEqual(ge.candidates[0].content.parts, [
                { functionCall: { name: "get_weather", args: PARIS.arguments } },
            ]);
        });

        it("the official SDKs assemble the streamed calls", async () => {
            up.setScript({ tokens: ["Checking."], toolCalls: [PARIS, ROME], splitArguments: 5 });
            const openai = new OpenAI({ baseURL: `${up.baseUrl}/v1`, apiKey: DEFAULT_KEYS.openai, maxRetries: 0 });
            const completion = await openai.chat.completions
                .stream({ model: "gpt-4o-mini", messages: [{ role: "user", content: "Weather?" }] })
                .finalChatCompletion();
            assert.equal(completion.choices[0].finish_reason, "tool_calls");
            assert.deepEqual(
                completion.choices[0].message.tool_calls.map((c) => [c.id, c.function.name, JSON.parse(c.function.arguments)]),
                [
                    ["call_paris", "get_weather", PARIS.arguments],
                    ["call_rome", "get_weather", ROME.arguments],
                ]
            );

            const anthropic = new Anthropic({ baseURL: up.baseUrl, apiKey: DEFAULT_KEYS.anthropic, maxRetries: 0 });
            const message = await anthropic.messages
                .stream({ model: "claude-test", max_tokens: 100, messages: [{ role: "user", content: "Weather?" }] })
                .finalMessage();
            assert.equal(message.stop_reason, "tool_use");
            assert.deepEqual(message.content, [
                { type: "text", text: "Checking." },
                { type: "tool_use", id: "call_paris", name: "get_weather", input: PARIS.arguments },
                { type: "tool_use", id: "call_rome", name: "get_weather", input: ROME.arguments },
            ]);
        });

        it("string arguments are sent as they are, invalid JSON included", async () => {
            up.setScript({ toolCalls: [{ id: "call_bad", name: "get_weather", arguments: '{"city": Par' }], splitArguments: 2 });
            const { events } = await readSse(
                await post("/v1/chat/completions", openAiBody({ stream: true }), { headers: OPENAI_AUTH })
            );
            const pieces = events
                .filter((e) => e.json?.choices?.[0]?.delta?.tool_calls)
                .map((e) => e.json.choices[0].delta.tool_calls[0].function.arguments);
            assert.deepEqual(pieces, ["", '{"city', '": Par']);
        });

        it("next: the following request gets the next script; a retried failure does not advance", async () => {
            up.setScript({
                toolCalls: [PARIS],
                next: { status: 503, failTimes: 1, tokens: ["It is 18 °C."], next: { tokens: ["third"] } },
            });
            const text = async () =>
                (await readJson(await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH }))).choices[0]
                    .message;
            assert.equal((await text()).tool_calls[0].id, "call_paris");
            const failed = await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH });
            assert.equal(failed.status, 503);
            await failed.arrayBuffer();
            assert.equal((await text()).content, "It is 18 °C.");
            assert.equal((await text()).content, "third");
            assert.equal((await text()).content, "third", "the last script stays");
        });

        it("records the tools offered, the calls sent back and the results, in each format", async () => {
            up.setScript({ tokens: ["ok"] });
            await (
                await post(
                    "/v1/chat/completions",
                    openAiBody({
                        tools: [{ type: "function", function: { name: "get_weather", parameters: WEATHER } }],
                        messages: [
                            { role: "user", content: "Weather?" },
                            {
                                role: "assistant",
                                content: null,
                                tool_calls: [
                                    { id: "c1", type: "function", function: { name: "get_weather", arguments: '{"city":"Paris"}' } },
                                ],
                            },
                            { role: "tool", tool_call_id: "c1", content: '{"temp_c":18}' },
                        ],
                    }),
                    { headers: OPENAI_AUTH }
                )
            ).arrayBuffer();
            await (
                await post(
                    "/v1/messages",
                    anthropicBody({
                        tools: [{ name: "get_weather", input_schema: WEATHER }],
                        messages: [
                            { role: "user", content: "Weather?" },
                            { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "get_weather", input: { city: "Paris" } }] },
                            { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "18 C", is_error: true }] },
                        ],
                    }),
                    { headers: ANTHROPIC_AUTH }
                )
            ).arrayBuffer();
            await (
                await post(
                    GEMINI_COMPLETE,
                    geminiBody({
                        tools: [{ functionDeclarations: [{ name: "get_weather", parameters: WEATHER }] }],
                        contents: [
                            { role: "user", parts: [{ text: "Weather?" }] },
                            { role: "model", parts: [{ functionCall: { name: "get_weather", args: { city: "Paris" } } }] },
                            { role: "user", parts: [{ functionResponse: { name: "get_weather", response: { temp_c: 18 } } }] },
                        ],
                    }),
                    { headers: GEMINI_AUTH }
                )
            ).arrayBuffer();
            assert.deepEqual(
                up.requests.map((r) => r.status ?? [r.provider, r.tools, r.toolCalls, r.toolResults]),
                [
                    [
                        "openai",
                        ["get_weather"],
                        [{ id: "c1", name: "get_weather", arguments: { city: "Paris" } }],
                        [{ id: "c1", name: "get_weather", content: '{"temp_c":18}', isError: false }],
                    ],
                    [
                        "anthropic",
                        ["get_weather"],
                        [{ id: "t1", name: "get_weather", arguments: { city: "Paris" } }],
                        [{ id: "t1", name: "get_weather", content: "18 C", isError: true }],
                    ],
                    [
                        "gemini",
                        ["get_weather"],
                        [{ id: undefined, name: "get_weather", arguments: { city: "Paris" } }],
                        [{ id: undefined, name: "get_weather", content: { temp_c: 18 }, isError: false }],
                    ],
                ]
            );
            const plain = await post("/v1/chat/completions", openAiBody(), { headers: OPENAI_AUTH });
            await plain.arrayBuffer();
            assert.deepEqual(
                [up.requests[3].tools, up.requests[3].toolCalls, up.requests[3].toolResults],
                [[], [], []]
            );
        });

        it("rejects tool traffic the real APIs reject", async () => {
            const call = { id: "c1", type: "function", function: { name: "f", arguments: "{}" } };
            const cases = [
                ["/v1/chat/completions", OPENAI_AUTH, openAiBody({ tools: [{ type: "function", function: {} }] }), /tools\[0\]/],
                [
                    "/v1/chat/completions",
                    OPENAI_AUTH,
                    openAiBody({ messages: [{ role: "user", content: "x" }, { role: "assistant", content: null, tool_calls: [call] }] }),
                    /did not have response messages: c1/,
                ],
                [
                    "/v1/chat/completions",
                    OPENAI_AUTH,
                    openAiBody({ messages: [{ role: "user", content: "x" }, { role: "tool", tool_call_id: "c1", content: "r" }] }),
                    /must be a response to a preceeding message with 'tool_calls'/,
                ],
                ["/v1/messages", ANTHROPIC_AUTH, anthropicBody({ tools: [{ name: "f" }] }), /input_schema/],
                [
                    "/v1/messages",
                    ANTHROPIC_AUTH,
                    anthropicBody({
                        messages: [
                            { role: "user", content: "x" },
                            { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] },
                            { role: "user", content: "no result" },
                        ],
                    }),
                    /without `tool_result` blocks immediately after: t1/,
                ],
                [
                    "/v1/messages",
                    ANTHROPIC_AUTH,
                    anthropicBody({
                        messages: [
                            { role: "user", content: "x" },
                            { role: "assistant", content: "hi" },
                            { role: "user", content: [{ type: "tool_result", tool_use_id: "t9", content: "r" }] },
                        ],
                    }),
                    /unexpected `tool_use_id` found in `tool_result` blocks: t9/,
                ],
                [
                    "/v1/messages",
                    ANTHROPIC_AUTH,
                    anthropicBody({
                        messages: [
                            { role: "user", content: "x" },
                            { role: "assistant", content: [{ type: "text", text: "" }] },
                            { role: "user", content: "y" },
                        ],
                    }),
                    /text content blocks must be non-empty/,
                ],
                [
                    "/v1/messages",
                    ANTHROPIC_AUTH,
                    anthropicBody({
                        thinking: { type: "enabled", budget_tokens: 1024 },
                        messages: [
                            { role: "user", content: "x" },
                            { role: "assistant", content: [{ type: "tool_use", id: "t1", name: "f", input: {} }] },
                            { role: "user", content: [{ type: "tool_result", tool_use_id: "t1", content: "r" }] },
                        ],
                    }),
                    /must start with a thinking block/,
                ],
                [
                    GEMINI_COMPLETE,
                    GEMINI_AUTH,
                    geminiBody({ tools: [{ functionDeclarations: [{ name: "f", parameters: { ...WEATHER, additionalProperties: false } }] }] }),
                    /Unknown name "additionalProperties"/,
                ],
                [
                    GEMINI_COMPLETE,
                    GEMINI_AUTH,
                    geminiBody({ tools: [{ functionDeclarations: [{ name: "f", parameters: { type: "object", properties: {} } }] }] }),
                    /should be non-empty for OBJECT type/,
                ],
                [
                    GEMINI_COMPLETE,
                    GEMINI_AUTH,
                    geminiBody({
                        contents: [
                            { role: "user", parts: [{ text: "x" }] },
                            { role: "model", parts: [{ functionCall: { name: "f", args: {} } }, { functionCall: { name: "g", args: {} } }] },
                            { role: "user", parts: [{ functionResponse: { name: "f", response: {} } }] },
                        ],
                    }),
                    /number of function response parts is equal to the number of function call parts/,
                ],
                [
                    GEMINI_COMPLETE,
                    GEMINI_AUTH,
                    geminiBody({
                        contents: [
                            { role: "user", parts: [{ text: "x" }] },
                            { role: "model", parts: [{ functionCall: { name: "f", args: {} } }] },
                            { role: "user", parts: [{ functionResponse: { name: "f", response: "text" } }] },
                        ],
                    }),
                    /function_response\.response/,
                ],
            ];
            for (const [path, headers, body, message] of cases) {
                const res = await post(path, body, { headers });
                const json = await readJson(res);
                assert.equal(res.status, 400, JSON.stringify(body));
                assert.match(json.error.message, message);
            }
        });
    });
});
