// The OpenAI- and Anthropic-compatible endpoints (POST /v1/chat/completions, GET /v1/models,
// POST /v1/messages, POST /v1/messages/count_tokens) driven by the official SDKs, pointed at
// Parley's base URL with a Parley API key and no custom fetch: every byte they send and parse is
// the real wire. The model behind Parley is the scripted fake upstream
// (tests/support/fake_upstream.mjs). Also: each API's own error shape and SDK error type (401,
// 404 model, 429, 400, 502), nothing stored as a conversation, and usage by key and by model.
//
//   node --test tests/integration/compat.test.mjs

import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import Anthropic from "@anthropic-ai/sdk";
import OpenAI from "openai";

import { get, post, uniqueEmail } from "../support/api.mjs";
import { startFakeUpstream } from "../support/fake_upstream.mjs";
import { startServer } from "../support/server.mjs";

const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;
const PASSWORD = "SecurePass123";
const UNLIMITED = { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "100000" };
const KEYS = Object.freeze({ openai: "sk-compat-openai", anthropic: "sk-ant-compat" });
const GPT = "gpt-4o-mini"; // 0.15 / 0.60 USD per million tokens: 0.15 / 0.6 micro-dollars a token
const CLAUDE = "claude-sonnet-4-5"; // 3 / 15 micro-dollars a token; thinks
const WEATHER_OPENAI = {
    type: "function",
    function: {
        name: "get_weather",
        description: "The weather in a city",
        parameters: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
    },
};
const WEATHER_ANTHROPIC = {
    name: "get_weather",
    description: "The weather in a city",
    input_schema: { type: "object", properties: { city: { type: "string" } }, required: ["city"] },
};

function ok(r, status = 200) {
    assert.equal(r.res.status, status, `${r.res.url} -> ${r.res.status} ${r.text.slice(0, 500)}`);
    return r.body.data;
}

async function stopCleanly(server) {
    if (!server) {
        return;
    }
    const result = await server.stop("SIGTERM");
    assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), [], server.lines.join("\n"));
    assert.deepEqual(result, { code: 0, signal: null }, server.lines.slice(-40).join("\n"));
}

async function register(base, tag) {
    const data = ok(await post(base, "/api/v1/auth/register", { json: { email: uniqueEmail(tag), password: PASSWORD } }), 201);
    const key = ok(await post(base, "/api/v1/api-keys", { json: { name: `${tag} sdk` }, token: data.access_token }), 201);
    return { token: data.access_token, key: key.key, keyId: key.id };
}

const openaiFor = (base, apiKey) => new OpenAI({ baseURL: `${base}/v1`, apiKey, maxRetries: 0 });
const anthropicFor = (base, apiKey) => new Anthropic({ baseURL: base, apiKey, maxRetries: 0 });

/** Rounds micro-dollars as Parley does (ModelInfo::cost_micros: to nearest). */
const micros = (input, output, inPerTok, outPerTok) => Math.round(input * inPerTok + output * outPerTok);

describe("compatible endpoints with the official SDKs (fake upstream behind Parley)", () => {
    let upstream;
    let server;
    let base;
    let alice;
    let openai;
    let anthropic;

    before(async () => {
        upstream = await startFakeUpstream({ keys: KEYS });
        server = await startServer({
            env: {
                ...UNLIMITED,
                ANTHROPIC_API_KEY: KEYS.anthropic,
                ANTHROPIC_BASE_URL: upstream.baseUrl,
                OPENAI_API_KEY: KEYS.openai,
                OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
                DEFAULT_MODEL: CLAUDE,
                FALLBACK_MODEL: "",
                LLM_MAX_RETRIES: "0",
                MOCK_TOKEN_DELAY_MS: "0",
            },
        });
        base = server.baseUrl;
        alice = await register(base, "alice");
        openai = openaiFor(base, alice.key);
        anthropic = anthropicFor(base, alice.key);
    });

    after(async () => {
        try {
            await stopCleanly(server);
        } finally {
            await upstream?.close();
        }
    });

    const script = (s) => {
        upstream.reset();
        upstream.setScript(s);
    };
    const lastRequest = () => upstream.requests.at(-1);

    // ---- openai ------------------------------------------------------------------------------------

    describe("openai: chat.completions", () => {
        it("create(): a typed chat.completion with the upstream's text and usage; the request reached the provider whole", async () => {
            script({ tokens: ["Hello", " there"], usage: { input: 7, output: 2 } });
            const c = await openai.chat.completions.create({
                model: GPT,
                messages: [
                    { role: "system", content: "Be brief." },
                    { role: "user", content: [{ type: "text", text: "Say hello" }] },
                ],
                temperature: 0.5,
                max_completion_tokens: 64,
                stop: ["\n\n"],
                user: "end-user-1",
            });
            assert.equal(c.object, "chat.completion");
            assert.match(c.id, /^chatcmpl-/);
            assert.equal(c.model, GPT);
            assert.equal(c.choices.length, 1);
            assert.equal(c.choices[0].message.role, "assistant");
            assert.equal(c.choices[0].message.content, "Hello there");
            assert.equal(c.choices[0].finish_reason, "stop");
            assert.deepEqual(c.usage, { prompt_tokens: 7, completion_tokens: 2, total_tokens: 9 });

            const sent = lastRequest();
            assert.equal(sent.provider, "openai");
            assert.equal(sent.body.model, GPT);
            assert.deepEqual(sent.body.messages, [
                { role: "system", content: "Be brief." },
                { role: "user", content: "Say hello" },
            ]);
            assert.equal(sent.body.temperature, 0.5);
            assert.equal(sent.body.max_tokens, 64);
            assert.deepEqual(sent.body.stop, ["\n\n"]);
        });

        it("stream with include_usage: content deltas in order, one finish_reason, a final usage chunk", async () => {
            const tokens = ["One", " two", " three."];
            script({ tokens, usage: { input: 5, output: 3 } });
            const stream = await openai.chat.completions.create({
                model: GPT,
                messages: [{ role: "user", content: "Count" }],
                stream: true,
                stream_options: { include_usage: true },
            });
            const deltas = [];
            const finishes = [];
            let usage = null;
            const ids = new Set();
            for await (const chunk of stream) {
                ids.add(chunk.id);
                assert.equal(chunk.object, "chat.completion.chunk");
                for (const choice of chunk.choices) {
                    if (choice.delta?.content) {
                        deltas.push(choice.delta.content);
                    }
                    if (choice.finish_reason) {
                        finishes.push(choice.finish_reason);
                    }
                }
                if (chunk.usage) {
                    assert.deepEqual(chunk.choices, []);
                    usage = chunk.usage;
                }
            }
            assert.deepEqual(deltas, tokens);
            assert.deepEqual(finishes, ["stop"]);
            assert.deepEqual(usage, { prompt_tokens: 5, completion_tokens: 3, total_tokens: 8 });
            assert.equal(ids.size, 1, "one id on every chunk");
        });

        it("stream without include_usage has no usage chunk; the SDK's stream helper assembles the completion", async () => {
            script({ tokens: ["Plain", " stream"] });
            const raw = await openai.chat.completions.create({
                model: GPT,
                messages: [{ role: "user", content: "Go" }],
                stream: true,
            });
            const chunks = [];
            for await (const chunk of raw) {
                chunks.push(chunk);
            }
            assert.ok(chunks.length >= 3);
            assert.ok(chunks.every((c) => c.choices.length === 1 && !c.usage), JSON.stringify(chunks));

            script({ tokens: ["Helper", " text"] });
            const helper = openai.chat.completions.stream({ model: GPT, messages: [{ role: "user", content: "Go" }] });
            const final = await helper.finalChatCompletion();
            assert.equal(final.choices[0].message.content, "Helper text");
            assert.equal(final.choices[0].finish_reason, "stop");
        });

        it("tools: the model's call comes back to the client (not run by Parley); the tool result goes to the provider", async () => {
            script({ toolCalls: [{ id: "call_w1", name: "get_weather", arguments: { city: "Paris" } }] });
            const first = await openai.chat.completions.create({
                model: GPT,
                messages: [{ role: "user", content: "Weather in Paris?" }],
                tools: [WEATHER_OPENAI],
                tool_choice: "auto",
            });
            assert.deepEqual(lastRequest().tools, ["get_weather"]);
            const choice = first.choices[0];
            assert.equal(choice.finish_reason, "tool_calls");
            assert.equal(choice.message.tool_calls.length, 1);
            const call = choice.message.tool_calls[0];
            assert.equal(call.id, "call_w1");
            assert.equal(call.type, "function");
            assert.equal(call.function.name, "get_weather");
            assert.deepEqual(JSON.parse(call.function.arguments), { city: "Paris" });
            assert.equal(upstream.requests.length, 1, "Parley did not run the tool and ask again");

            script({ tokens: ["It is 18 °C."] });
            const second = await openai.chat.completions.create({
                model: GPT,
                messages: [
                    { role: "user", content: "Weather in Paris?" },
                    choice.message,
                    { role: "tool", tool_call_id: call.id, content: "18 °C, sunny" },
                ],
                tools: [WEATHER_OPENAI],
            });
            assert.equal(second.choices[0].message.content, "It is 18 °C.");
            const sent = lastRequest();
            assert.deepEqual(sent.toolCalls, [{ id: "call_w1", name: "get_weather", arguments: { city: "Paris" } }]);
            assert.equal(sent.toolResults.length, 1);
            assert.equal(sent.toolResults[0].id, "call_w1");
            assert.equal(sent.toolResults[0].content, "18 °C, sunny");
        });

        it("tools while streaming: the stream helper assembles the tool call", async () => {
            script({ toolCalls: [{ id: "call_w2", name: "get_weather", arguments: { city: "Oslo" } }] });
            const stream = openai.chat.completions.stream({
                model: GPT,
                messages: [{ role: "user", content: "Weather in Oslo?" }],
                tools: [WEATHER_OPENAI],
            });
            const final = await stream.finalChatCompletion();
            assert.equal(final.choices[0].finish_reason, "tool_calls");
            const [call] = final.choices[0].message.tool_calls;
            assert.equal(call.id, "call_w2");
            assert.equal(call.function.name, "get_weather");
            assert.deepEqual(JSON.parse(call.function.arguments), { city: "Oslo" });
        });

        it("models.list() lists the models this server can serve", async () => {
            const ids = [];
            for await (const m of openai.models.list()) {
                assert.equal(m.object, "model");
                ids.push(m.id);
            }
            assert.ok(ids.includes(GPT), ids.join());
            assert.ok(ids.includes(CLAUDE), ids.join());
            assert.ok(!ids.includes("gemini-2.5-flash"), "no Gemini key: not offered");
        });
    });

    // ---- anthropic ---------------------------------------------------------------------------------

    describe("@anthropic-ai/sdk: messages", () => {
        it("create(): a typed message with the upstream's text, stop_reason and usage", async () => {
            script({ tokens: ["Bonjour", "!"], usage: { input: 10, output: 4 } });
            const m = await anthropic.messages.create({
                model: CLAUDE,
                max_tokens: 100,
                system: [{ type: "text", text: "Answer in French." }],
                messages: [{ role: "user", content: "Say hello" }],
                stop_sequences: ["END"],
                temperature: 0.2,
            });
            assert.equal(m.type, "message");
            assert.match(m.id, /^msg_/);
            assert.equal(m.role, "assistant");
            assert.equal(m.model, CLAUDE);
            assert.deepEqual(m.content, [{ type: "text", text: "Bonjour!" }]);
            assert.equal(m.stop_reason, "end_turn");
            assert.deepEqual(m.usage, { input_tokens: 10, output_tokens: 4 });

            const sent = lastRequest();
            assert.equal(sent.provider, "anthropic");
            assert.equal(sent.body.system, "Answer in French.");
            assert.deepEqual(sent.body.stop_sequences, ["END"]);
            assert.equal(sent.body.max_tokens, 100);
            assert.equal(sent.body.temperature, 0.2);
        });

        it("stream(): text events in order, finalMessage() whole", async () => {
            const tokens = ["Streaming", " from", " Claude."];
            script({ tokens, usage: { input: 6, output: 3 } });
            const stream = anthropic.messages.stream({
                model: CLAUDE,
                max_tokens: 100,
                messages: [{ role: "user", content: "Stream please" }],
            });
            const deltas = [];
            stream.on("text", (d) => deltas.push(d));
            const m = await stream.finalMessage();
            assert.deepEqual(deltas, tokens);
            assert.equal(m.content.at(-1).text, tokens.join(""));
            assert.equal(m.stop_reason, "end_turn");
            assert.equal(m.usage.output_tokens, 3);
        });

        it("thinking: asked with a budget, the reasoning comes back as a thinking block before the text", async () => {
            script({ thinking: ["Six times seven", " is forty-two."], tokens: ["42"] });
            const m = await anthropic.messages.create({
                model: CLAUDE,
                max_tokens: 2048,
                thinking: { type: "enabled", budget_tokens: 1024 },
                messages: [{ role: "user", content: "6*7?" }],
            });
            assert.deepEqual(m.content.map((b) => b.type), ["thinking", "text"]);
            assert.equal(m.content[0].thinking, "Six times seven is forty-two.");
            assert.equal(m.content[1].text, "42");
            assert.equal(lastRequest().body.thinking.type, "enabled");

            script({ thinking: ["Hmm."], tokens: ["Yes"] });
            const stream = anthropic.messages.stream({
                model: CLAUDE,
                max_tokens: 2048,
                thinking: { type: "enabled", budget_tokens: 1024 },
                messages: [{ role: "user", content: "Sure?" }],
            });
            const thoughts = [];
            stream.on("thinking", (d) => thoughts.push(d));
            const streamed = await stream.finalMessage();
            assert.deepEqual(thoughts, ["Hmm."]);
            assert.deepEqual(streamed.content.map((b) => b.type), ["thinking", "text"]);
        });

        it("tools: tool_use returned to the client with stop_reason tool_use; tool_result blocks reach the provider", async () => {
            script({ toolCalls: [{ id: "toolu_w1", name: "get_weather", arguments: { city: "Rome" } }] });
            const first = await anthropic.messages.create({
                model: CLAUDE,
                max_tokens: 200,
                tools: [WEATHER_ANTHROPIC],
                messages: [{ role: "user", content: "Weather in Rome?" }],
            });
            assert.equal(first.stop_reason, "tool_use");
            const use = first.content.find((b) => b.type === "tool_use");
            assert.deepEqual(use, { type: "tool_use", id: "toolu_w1", name: "get_weather", input: { city: "Rome" } });
            assert.equal(upstream.requests.length, 1);

            script({ tokens: ["Sunny in Rome."] });
            const second = await anthropic.messages.create({
                model: CLAUDE,
                max_tokens: 200,
                tools: [WEATHER_ANTHROPIC],
                messages: [
                    { role: "user", content: "Weather in Rome?" },
                    { role: "assistant", content: first.content },
                    { role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_w1", content: "25 °C, sunny" }] },
                ],
            });
            assert.equal(second.content[0].text, "Sunny in Rome.");
            const sent = lastRequest();
            assert.deepEqual(sent.toolCalls, [{ id: "toolu_w1", name: "get_weather", arguments: { city: "Rome" } }]);
            assert.equal(sent.toolResults[0].id, "toolu_w1");
            assert.equal(sent.toolResults[0].content, "25 °C, sunny");
        });

        it("tools while streaming: finalMessage() holds the tool_use block", async () => {
            script({ toolCalls: [{ id: "toolu_w2", name: "get_weather", arguments: { city: "Lima" } }] });
            const m = await anthropic.messages
                .stream({ model: CLAUDE, max_tokens: 200, tools: [WEATHER_ANTHROPIC], messages: [{ role: "user", content: "Lima?" }] })
                .finalMessage();
            assert.equal(m.stop_reason, "tool_use");
            const use = m.content.find((b) => b.type === "tool_use");
            assert.equal(use.id, "toolu_w2");
            assert.deepEqual(use.input, { city: "Lima" });
        });

        it("countTokens(): a typed count that grows with the prompt and calls no model", async () => {
            upstream.reset();
            const small = await anthropic.messages.countTokens({ model: CLAUDE, messages: [{ role: "user", content: "Hi" }] });
            const large = await anthropic.messages.countTokens({
                model: CLAUDE,
                system: "You are a careful assistant.",
                messages: [{ role: "user", content: "Tell me everything about the history of the printing press in Europe." }],
                tools: [WEATHER_ANTHROPIC],
            });
            assert.equal(typeof small.input_tokens, "number");
            assert.ok(small.input_tokens > 0);
            assert.ok(large.input_tokens > small.input_tokens + 10, `${small.input_tokens} vs ${large.input_tokens}`);
            assert.equal(upstream.requests.length, 0);
        });

        it("models.list() reads the same list", async () => {
            const ids = [];
            for await (const m of anthropic.models.list()) {
                assert.equal(m.type, "model");
                ids.push(m.id);
            }
            assert.ok(ids.includes(CLAUDE) && ids.includes(GPT), ids.join());
        });
    });

    // ---- errors: each API's own shape and SDK type ----------------------------------------------------

    describe("errors in each API's shape", () => {
        it("401: a wrong key → AuthenticationError from both SDKs; the bodies are the APIs' shapes", async () => {
            const wrong = "prly_wrongwrongwrongwrongwrongwrongwrongwrongwro";
            await assert.rejects(
                openaiFor(base, wrong).chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }] }),
                (e) => e instanceof OpenAI.AuthenticationError && e.status === 401 && e.code === "invalid_api_key"
            );
            await assert.rejects(
                anthropicFor(base, wrong).messages.create({ model: CLAUDE, max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
                (e) => e instanceof Anthropic.AuthenticationError && e.status === 401
            );
            const o = await post(base, "/v1/chat/completions", { json: { model: GPT, messages: [] } });
            assert.equal(o.res.status, 401);
            assert.deepEqual(Object.keys(o.body), ["error"]);
            assert.deepEqual(Object.keys(o.body.error).sort(), ["code", "message", "param", "type"]);
            const a = await post(base, "/v1/messages", { json: { model: CLAUDE }, apiKey: wrong });
            assert.equal(a.res.status, 401);
            assert.equal(a.body.type, "error");
            assert.equal(a.body.error.type, "authentication_error");
            assert.equal(typeof a.body.error.message, "string");
        });

        it("404: an unknown model → NotFoundError from both SDKs", async () => {
            await assert.rejects(
                openai.chat.completions.create({ model: "no-such-model", messages: [{ role: "user", content: "x" }] }),
                (e) => e instanceof OpenAI.NotFoundError && e.status === 404 && e.code === "model_not_found"
            );
            await assert.rejects(
                anthropic.messages.create({ model: "no-such-model", max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
                (e) => e instanceof Anthropic.NotFoundError && e.error?.error?.type === "not_found_error"
            );
            await assert.rejects(
                anthropic.messages.countTokens({ model: "gemini-2.5-flash", messages: [{ role: "user", content: "x" }] }),
                (e) => e instanceof Anthropic.NotFoundError,
                "a catalog model whose provider is not configured is not found either"
            );
        });

        it("400: unknown fields, bad values and unsupported content → BadRequestError from both SDKs", async () => {
            const bad = [
                () => openai.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }], frobnicate: true }),
                () => openai.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }], temperature: 3 }),
                () => openai.chat.completions.create({ model: GPT, messages: [] }),
                () => openai.chat.completions.create({ model: GPT, messages: [{ role: "tool", tool_call_id: "nope", content: "x" }] }),
                () => openai.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }], max_tokens: 10_000_000 }),
                () => openai.chat.completions.create({
                    model: GPT,
                    messages: [{ role: "user", content: [{ type: "image_url", image_url: { url: "https://example.invalid/a.png" } }] }],
                }),
            ];
            for (const make of bad) {
                await assert.rejects(make(), (e) => e instanceof OpenAI.BadRequestError && e.status === 400 && e.type === "invalid_request_error");
            }
            const badAnthropic = [
                () => anthropic.messages.create({ model: CLAUDE, messages: [{ role: "user", content: "x" }] }), // no max_tokens
                () => anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: [{ role: "user", content: "x" }], top_k: 3 }),
                () => anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: [{ role: "system", content: "x" }] }),
                () => anthropic.messages.create({ model: CLAUDE, max_tokens: 10, temperature: 1.5, messages: [{ role: "user", content: "x" }] }),
                () => anthropic.messages.create({
                    model: CLAUDE,
                    max_tokens: 10,
                    messages: [{ role: "user", content: [{ type: "tool_result", tool_use_id: "toolu_none", content: "x" }] }],
                }),
            ];
            for (const make of badAnthropic) {
                await assert.rejects(make(), (e) => e instanceof Anthropic.BadRequestError && e.error?.error?.type === "invalid_request_error");
            }
            const raw = await post(base, "/v1/chat/completions", { json: { model: GPT, messages: [{ role: "user", content: "x" }], top_logprobs: 2 }, token: alice.token });
            assert.equal(raw.res.status, 400);
            assert.match(raw.body.error.message, /top_logprobs/);
            const malformed = await post(base, "/v1/messages", { body: "{not json", headers: { "content-type": "application/json" }, apiKey: alice.key });
            assert.equal(malformed.res.status, 400);
            assert.equal(malformed.body.type, "error");
            assert.equal(malformed.body.error.type, "invalid_request_error");
        });

        it("502/503: a failing provider is an APIError in each SDK's shape, before any stream starts", async () => {
            // The provider refuses Parley's key: a permanent failure, 502.
            script({ status: 401 });
            await assert.rejects(
                openai.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }], stream: true }),
                (e) => e instanceof OpenAI.InternalServerError && e.status === 502 && e.type === "server_error"
            );
            // The provider is down (every model in the chain failed): 503, Anthropic's overloaded_error.
            script({ status: 500 });
            await assert.rejects(
                anthropic.messages.create({ model: CLAUDE, max_tokens: 10, messages: [{ role: "user", content: "x" }] }),
                (e) => e instanceof Anthropic.InternalServerError && e.status === 503 && e.error?.error?.type === "overloaded_error"
            );
        });
    });

    // ---- stateless, usage by key and by model ---------------------------------------------------------

    describe("accounting", () => {
        it("nothing is stored as a conversation; usage shows each call by key and by model, to the micro-dollar", async () => {
            const bob = await register(base, "bob");
            const o = openaiFor(base, bob.key);
            const a = anthropicFor(base, bob.key);
            script({ tokens: ["a"], usage: { input: 1000, output: 300 } });
            await o.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "x" }] });
            script({ tokens: ["b"], usage: { input: 21, output: 7 } });
            await o.chat.completions.create({ model: GPT, messages: [{ role: "user", content: "y" }], stream: true }).then(async (s) => {
                for await (const _ of s) {
                    // read to the end
                }
            });
            script({ tokens: ["c"], usage: { input: 10, output: 4 } });
            await a.messages.stream({ model: CLAUDE, max_tokens: 50, messages: [{ role: "user", content: "z" }] }).finalMessage();
            // With the access token instead of the key: counted under no key.
            script({ tokens: ["d"], usage: { input: 2, output: 1 } });
            await openaiFor(base, bob.token).chat.completions.create({ model: GPT, messages: [{ role: "user", content: "w" }] });

            const conversations = await get(base, "/api/v1/conversations", { token: bob.token });
            assert.equal(conversations.body.total, 0, "stateless: no conversation");

            const stats = ok(await get(base, "/api/v1/usage/stats", { token: bob.token }));
            const gptMicros = micros(1000, 300, 0.15, 0.6) + micros(21, 7, 0.15, 0.6) + micros(2, 1, 0.15, 0.6);
            const claudeMicros = micros(10, 4, 3, 15);
            assert.equal(stats.message_count, 0);
            assert.equal(stats.call_count, 4);
            assert.equal(stats.total_input_tokens, 1000 + 21 + 10 + 2);
            assert.equal(stats.total_output_tokens, 300 + 7 + 4 + 1);
            assert.equal(Math.round(stats.estimated_cost_usd * 1e6), gptMicros + claudeMicros);

            const byModel = Object.fromEntries(stats.by_model.map((r) => [r.model, r]));
            assert.equal(byModel[GPT].call_count, 3);
            assert.equal(byModel[GPT].input_tokens, 1023);
            assert.equal(Math.round(byModel[GPT].cost_usd * 1e6), gptMicros);
            assert.equal(byModel[CLAUDE].call_count, 1);
            assert.equal(Math.round(byModel[CLAUDE].cost_usd * 1e6), claudeMicros);

            const byKey = Object.fromEntries(stats.by_key.map((r) => [String(r.api_key_id), r]));
            assert.deepEqual(Object.keys(byKey).sort(), [bob.keyId, "null"].sort());
            assert.equal(byKey[bob.keyId].call_count, 3);
            assert.equal(byKey[bob.keyId].input_tokens, 1000 + 21 + 10);
            assert.equal(byKey[bob.keyId].output_tokens, 300 + 7 + 4);
            assert.equal(byKey.null.call_count, 1);
            assert.equal(byKey.null.input_tokens, 2);
            assert.equal(stats.by_day.length, 1);
            assert.equal(stats.by_day[0].call_count, 4);

            // Alice's calls are hers alone.
            const other = ok(await get(base, "/api/v1/usage/stats", { token: alice.token }));
            assert.ok(other.by_key.every((r) => r.api_key_id !== bob.keyId));
        });
    });
});

describe("compatible endpoints under the AI rate limit (RATE_LIMIT_AI=2)", () => {
    let server;
    let base;

    before(async () => {
        server = await startServer({
            env: { RATE_LIMIT_AUTH: "100000", RATE_LIMIT_STANDARD: "100000", RATE_LIMIT_AI: "2", MOCK_TOKEN_DELAY_MS: "0" },
        });
        base = server.baseUrl;
    });

    after(async () => {
        await stopCleanly(server);
    });

    it("the mock model answers both SDKs; the third model call in the window → RateLimitError with Retry-After", async () => {
        const carol = await register(base, "carol");
        const o = openaiFor(base, carol.key);
        const a = anthropicFor(base, carol.key);
        const c = await o.chat.completions.create({ model: "parley-mock", messages: [{ role: "user", content: "hello big world" }] });
        assert.ok(c.choices[0].message.content.length > 0);
        const m = await a.messages.create({
            model: "parley-mock",
            max_tokens: 2048,
            thinking: { type: "enabled", budget_tokens: 1024 },
            messages: [{ role: "user", content: "hello" }],
        });
        assert.deepEqual(m.content.map((b) => b.type), ["thinking", "text"], "the mock model thinks when asked");

        await assert.rejects(
            o.chat.completions.create({ model: "parley-mock", messages: [{ role: "user", content: "again" }] }),
            (e) => e instanceof OpenAI.RateLimitError && e.status === 429 && Number(e.headers.get("retry-after")) > 0
        );
        await assert.rejects(
            a.messages.create({ model: "parley-mock", max_tokens: 10, messages: [{ role: "user", content: "again" }] }),
            (e) => e instanceof Anthropic.RateLimitError && e.error?.error?.type === "rate_limit_error"
        );
        // Counting tokens calls no model: not under the AI limit.
        const n = await a.messages.countTokens({ model: "parley-mock", messages: [{ role: "user", content: "again" }] });
        assert.ok(n.input_tokens > 0);
    });
});
