// A scripted fake LLM upstream for integration tests. It speaks each provider's wire format
// (docs: /work/shared/reference/wire-formats.md) over real HTTP on 127.0.0.1:
//
//   POST /v1/chat/completions                               OpenAI        (provider "openai")
//   POST /openai/v1/chat/completions                        Groq          (provider "groq")
//   POST /v1/messages                                       Anthropic     (provider "anthropic")
//   POST /v1beta/models/{model}:streamGenerateContent?alt=sse   Gemini    (provider "gemini")
//   POST /v1beta/models/{model}:generateContent             Gemini
//
//   const upstream = await startFakeUpstream({ keys: { openai: "sk-test" } });
//   upstream.setScript({ tokens: ["Hello", " world"], interTokenDelayMs: 5 });
//   ... point Parley at upstream.baseUrl (OPENAI_BASE_URL = `${upstream.baseUrl}/v1`) ...
//   await waitFor(() => upstream.requests.length === 1, 2_000);
//   await upstream.close();
//
// Script fields (all optional), from setScript(object | fn(requestInfo)) overlaid with the JSON
// of the request header `x-fake-script`:
//   tokens               strings to stream (default: defaultTokens(last user message text))
//   thinking             strings of reasoning to stream before the text
//   thinkStyle           OpenAI/Groq only: "tags" (<think>…</think> in content) or "reasoning"
//                        (delta.reasoning); default "reasoning" if the request has
//                        reasoning_format "parsed", none if "hidden", else "tags"
//   headersDelayMs       delay before the response status line
//   firstTokenDelayMs    delay before the first token (after headers and preamble events)
//   interTokenDelayMs    delay before every later token
//   status               HTTP error status to answer with instead (provider's error body)
//   retryAfter           seconds, sent as Retry-After with `status`
//   errorMessage         message for `status` / `midStreamError`
//   failTimes            answer `status` (default 500) for the first N requests with the same
//                        script key, then succeed
//   key                  script key for failTimes (default: JSON of the effective script)
//   disconnectAfterTokens  destroy the socket after N tokens
//   stallAfterTokens     after N tokens send nothing more (no finish, no error) and keep the
//                        response open until the client goes away (logged in `disconnects` with
//                        tokensSent N); lets a test read exactly N tokens, then abort. Non-streaming:
//                        the response never comes (as `hang`, after the delays)
//   malformedAfterTokens   send a non-JSON `data:` line after N tokens, then end the response
//   midStreamError       after N tokens send the provider's in-stream error, then end
//   finishReason         provider-native finish string (default "stop" / "end_turn" / "STOP")
//   usage                { input, output, thoughts } overrides
//   hang                 accept the request and never answer
//   okErrorBody          answer 200 (application/json) with the provider's error body for
//                        `errorStatus` (default 500) and `errorMessage`: a proxy or a broken server
//                        that reports an error with a success status, stream requests included
//   garbage              answer 200 with this text as the whole body, as `garbageType` (default
//                        "text/html"), stream requests included: a captive portal, a misrouted URL
//   toolCalls            [{ id, name, arguments, signature }]: tool calls the model makes, after its
//                        text (tokens default to none then; finishReason to "tool_calls" /
//                        "tool_use" / "STOP"). `arguments` is an object, or a string sent as it is
//                        (so a test can send invalid JSON); `id` defaults to a random call_… /
//                        toolu_…; `signature` is Gemini's part-level thoughtSignature. Streamed in
//                        each wire format: OpenAI `delta.tool_calls` (first delta id, type, name and
//                        arguments "", then the argument pieces), Anthropic `tool_use` blocks (start
//                        with `input: {}`, an empty input_json_delta, the pieces, stop), Gemini
//                        `functionCall` parts, all calls whole in one chunk (no ids unless
//                        geminiCallIds). Non-streaming answers carry them too.
//   splitArguments       n: each call's arguments text is streamed in n pieces (default 1)
//   geminiCallIds        Gemini: include each call's id in its functionCall (newer models do)
//   next                 the script for the next request: once a request is answered (not with
//                        `status`) by a setScript object with `next`, the script becomes `next`;
//                        e.g. { toolCalls: [...], next: { tokens: ["It is 18 °C."] } }
// Tokens counted by the *AfterTokens triggers are every streamed piece, thinking and tool-call
// pieces included.
// Thinking is shown only when asked for: Anthropic `thinking.type` "enabled"/"adaptive", Gemini
// `generationConfig.thinkingConfig.includeThoughts: true`; OpenAI/Groq always (unless
// reasoning_format "hidden"). Default usage: input = words in all prompt text (system included);
// output = streamed pieces (thinking included) for OpenAI/Groq/Anthropic, text pieces only for
// Gemini (thoughts go to thoughtsTokenCount, present only when thoughts were shown).
//
// Each request is logged in `requests` as { provider ("openai" | "groq" | "anthropic" | "gemini"),
// path, method, headers (lower-case names), query, body (parsed JSON or null), rawBody, model,
// stream, receivedAt, script (the effective script, once resolved), tools (the names of the tools
// offered), toolCalls (the calls the history sends back: [{ id, name, arguments (object) }]),
// toolResults (the results it sends: [{ id, name, content, isError }]; content is the text for
// OpenAI and Anthropic, the `response` object for Gemini, whose ids are usually undefined) }; a
// client that goes away before the response ended is logged in `disconnects` as { provider, path,
// tokensSent, at }. Requests are checked the way the real APIs check tool use: tool definitions,
// every tool call answered by a result right after it (and no result without its call), Gemini's
// schema subset and response counts, Anthropic's thinking block before a tool_use in a loop.
// Other exports: waitFor, defaultTokens, wordCount, errorBody, DEFAULT_KEYS, startBlackhole (a TCP
// server that accepts and never says a word: a TLS handshake with it never completes, so a client
// pointed at it with https:// stalls in its connect phase).

import { randomBytes } from "node:crypto";
import { once } from "node:events";
import http from "node:http";
import net from "node:net";
import { setTimeout as sleep } from "node:timers/promises";

/** The keys the fake expects when options.keys does not say otherwise. */
export const DEFAULT_KEYS = Object.freeze({
    openai: "test-openai-key",
    anthropic: "test-anthropic-key",
    gemini: "test-gemini-key",
});

const ANTHROPIC_ERROR_TYPES = {
    400: "invalid_request_error",
    401: "authentication_error",
    402: "billing_error",
    403: "permission_error",
    404: "not_found_error",
    413: "request_too_large",
    429: "rate_limit_error",
    500: "api_error",
    504: "timeout_error",
    529: "overloaded_error",
};

const GEMINI_STATUSES = {
    400: "INVALID_ARGUMENT",
    401: "UNAUTHENTICATED",
    403: "PERMISSION_DENIED",
    404: "NOT_FOUND",
    409: "ABORTED",
    429: "RESOURCE_EXHAUSTED",
    499: "CANCELLED",
    500: "INTERNAL",
    501: "NOT_IMPLEMENTED",
    503: "UNAVAILABLE",
    504: "DEADLINE_EXCEEDED",
};

const DEFAULT_FINISH = { openai: "stop", groq: "stop", anthropic: "end_turn", gemini: "STOP" };
const TOOL_FINISH = { openai: "tool_calls", groq: "tool_calls", anthropic: "tool_use", gemini: "STOP" };

/** Resolves when `predicate()` is truthy (polled every 10 ms); rejects after timeoutMs. */
export async function waitFor(predicate, timeoutMs = 5_000) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await predicate();
        if (value) {
            return value;
        }
        if (Date.now() > deadline) {
            throw new Error(`waitFor: condition not met within ${timeoutMs} ms`);
        }
        await sleep(10);
    }
}

/**
 * The tokens streamed when a script gives none: "hello big world" →
 * ["Echo", ":", " ", "hello", " big", " world"] (joined: "Echo: hello big world").
 */
export function defaultTokens(text) {
    const words = String(text ?? "").split(/\s+/).filter(Boolean);
    if (words.length === 0) {
        return ["Echo", ":"];
    }
    return ["Echo", ":", " ", ...words.map((w, i) => (i === 0 ? w : ` ${w}`))];
}

/** Rough prompt size used as the default input token count: whitespace-separated words. */
export function wordCount(text) {
    return String(text ?? "").split(/\s+/).filter(Boolean).length;
}

function randomId(bytes = 12) {
    return randomBytes(bytes).toString("hex");
}

function readBody(req) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        req.on("data", (c) => chunks.push(c));
        req.on("end", () => resolve(Buffer.concat(chunks).toString("utf8")));
        req.on("error", reject);
    });
}

function route(pathname) {
    if (pathname === "/v1/chat/completions") {
        return { provider: "openai" };
    }
    if (pathname === "/openai/v1/chat/completions") {
        return { provider: "groq" };
    }
    if (pathname === "/v1/messages") {
        return { provider: "anthropic" };
    }
    const m = /^\/v1beta\/models\/([^/:]+):(streamGenerateContent|generateContent)$/.exec(pathname);
    if (m) {
        return { provider: "gemini", model: decodeURIComponent(m[1]), stream: m[2] === "streamGenerateContent" };
    }
    if (pathname.startsWith("/v1beta/")) {
        return { provider: "gemini", unknown: true };
    }
    if (pathname.startsWith("/openai/")) {
        return { provider: "groq", unknown: true };
    }
    return { provider: "openai", unknown: true };
}

// ---- prompt text -------------------------------------------------------------------------------

function textOfOpenAiContent(content) {
    if (typeof content === "string") {
        return content;
    }
    if (Array.isArray(content)) {
        return content.map((p) => (typeof p?.text === "string" ? p.text : "")).join(" ");
    }
    return "";
}

function textOfAnthropicContent(content) {
    if (typeof content === "string") {
        return content;
    }
    if (!Array.isArray(content)) {
        return "";
    }
    const texts = content.filter((b) => b?.type === "text").map((b) => b.text ?? "");
    if (texts.length > 0) {
        return texts.join(" ");
    }
    return content
        .filter((b) => b?.type === "tool_result")
        .map((b) => textOfAnthropicContent(b.content))
        .join(" ");
}

function textOfGeminiParts(parts) {
    if (!Array.isArray(parts)) {
        return "";
    }
    return parts
        .map((p) => {
            if (typeof p?.text === "string") {
                return p.text;
            }
            if (p?.functionResponse) {
                return JSON.stringify(p.functionResponse.response ?? {});
            }
            return "";
        })
        .join(" ");
}

// { lastUser, all }: the last user turn's text and all prompt text (system included).
function promptText(provider, body) {
    const all = [];
    let lastUser = "";
    if (!body || typeof body !== "object") {
        return { lastUser, all: "" };
    }
    if (provider === "openai" || provider === "groq") {
        for (const m of Array.isArray(body.messages) ? body.messages : []) {
            const text = textOfOpenAiContent(m?.content);
            all.push(text);
            if (m?.role === "user") {
                lastUser = text;
            }
        }
    } else if (provider === "anthropic") {
        all.push(textOfAnthropicContent(body.system));
        for (const m of Array.isArray(body.messages) ? body.messages : []) {
            const text = textOfAnthropicContent(m?.content);
            all.push(text);
            if (m?.role === "user") {
                lastUser = text;
            }
        }
    } else if (provider === "gemini") {
        all.push(textOfGeminiParts(body.systemInstruction?.parts));
        for (const c of Array.isArray(body.contents) ? body.contents : []) {
            const text = textOfGeminiParts(c?.parts);
            all.push(text);
            if (c?.role === "user" || c?.role === undefined) {
                lastUser = text;
            }
        }
    }
    return { lastUser, all: all.join(" ") };
}

// ---- tool traffic in a request -----------------------------------------------------------------

const asArray = (v) => (Array.isArray(v) ? v : []);

function parseArguments(text) {
    if (typeof text !== "string") {
        return text;
    }
    try {
        return JSON.parse(text);
    } catch {
        return text;
    }
}

// { tools, toolCalls, toolResults } of a request body, normalised across the wire formats (see
// the request log in the header).
function toolTraffic(provider, body) {
    const out = { tools: [], toolCalls: [], toolResults: [] };
    if (!body || typeof body !== "object") {
        return out;
    }
    if (provider === "openai" || provider === "groq") {
        out.tools = asArray(body.tools).map((t) => t?.function?.name);
        for (const m of asArray(body.messages)) {
            if (m?.role === "assistant") {
                for (const c of asArray(m.tool_calls)) {
                    out.toolCalls.push({ id: c?.id, name: c?.function?.name, arguments: parseArguments(c?.function?.arguments) });
                }
            } else if (m?.role === "tool") {
                out.toolResults.push({ id: m.tool_call_id, content: textOfOpenAiContent(m.content) });
            }
        }
    } else if (provider === "anthropic") {
        out.tools = asArray(body.tools).map((t) => t?.name);
        for (const m of asArray(body.messages)) {
            for (const b of asArray(m?.content)) {
                if (b?.type === "tool_use") {
                    out.toolCalls.push({ id: b.id, name: b.name, arguments: b.input });
                } else if (b?.type === "tool_result") {
                    out.toolResults.push({
                        id: b.tool_use_id,
                        content: textOfAnthropicContent(b.content ?? ""),
                        isError: b.is_error === true,
                    });
                }
            }
        }
    } else {
        for (const t of asArray(body.tools)) {
            for (const d of asArray(t?.functionDeclarations ?? t?.function_declarations)) {
                out.tools.push(d?.name);
            }
        }
        for (const c of asArray(body.contents)) {
            for (const p of asArray(c?.parts)) {
                if (p?.functionCall) {
                    out.toolCalls.push({ id: p.functionCall.id, name: p.functionCall.name, arguments: p.functionCall.args ?? {} });
                } else if (p?.functionResponse) {
                    out.toolResults.push({
                        id: p.functionResponse.id,
                        name: p.functionResponse.name,
                        content: p.functionResponse.response,
                    });
                }
            }
        }
    }
    for (const r of out.toolResults) {
        r.name ??= out.toolCalls.find((c) => c.id !== undefined && c.id === r.id)?.name;
        r.isError ??= false;
    }
    return out;
}

// ---- error bodies ------------------------------------------------------------------------------

function defaultMessage(status) {
    return (
        {
            400: "Bad request",
            401: "Invalid API key",
            403: "Permission denied",
            404: "Not found",
            429: "Rate limit reached. Please try again later.",
            500: "Internal server error",
            502: "Bad gateway",
            503: "Service unavailable",
            504: "Gateway timeout",
            529: "Overloaded",
        }[status] ?? `Error ${status}`
    );
}

/** The provider's error JSON for `status` (wire-formats §1.5, §2.5, §3.4). */
export function errorBody(provider, status, message = defaultMessage(status), { requestId, code } = {}) {
    if (provider === "anthropic") {
        const type = ANTHROPIC_ERROR_TYPES[status] ?? (status >= 500 ? "api_error" : "invalid_request_error");
        return { type: "error", error: { type, message }, request_id: requestId ?? `req_${randomId()}` };
    }
    if (provider === "gemini") {
        const st = GEMINI_STATUSES[status] ?? (status >= 500 ? "INTERNAL" : "FAILED_PRECONDITION");
        return { error: { code: status, message, status: st } };
    }
    let type;
    let errCode = null;
    if (status === 401) {
        type = "invalid_request_error";
        errCode = "invalid_api_key";
    } else if (status === 404) {
        type = "invalid_request_error";
        errCode = "model_not_found";
    } else if (status === 429) {
        type = provider === "groq" ? "tokens" : "requests";
        errCode = "rate_limit_exceeded";
    } else if (status >= 500) {
        type = "server_error";
    } else {
        type = "invalid_request_error";
    }
    if (code !== undefined) {
        errCode = code;
    }
    if (provider === "groq") {
        return { error: { message, type, code: errCode } };
    }
    return { error: { message, type, param: null, code: errCode } };
}

// ---- the server --------------------------------------------------------------------------------

/**
 * Starts the fake. options:
 *   keys    { openai, groq, anthropic, gemini }: expected API keys (defaults DEFAULT_KEYS; groq
 *           defaults to the openai key); null for a provider accepts any key, even none.
 *   script  the initial script (object or function), as for setScript.
 * Returns { port, baseUrl, requests, disconnects, setScript, reset, close }.
 */
export async function startFakeUpstream(options = {}) {
    const keys = { ...DEFAULT_KEYS, ...(options.keys ?? {}) };
    if (!options.keys || !("groq" in options.keys)) {
        keys.groq = keys.openai;
    }
    let script = options.script ?? {};
    const requests = [];
    const disconnects = [];
    const failCounts = new Map();
    const sockets = new Set();
    let closing = false;

    const server = http.createServer({ noDelay: true }, (req, res) => {
        handle(req, res).catch((err) => {
            if (!res.headersSent) {
                const text = JSON.stringify({ error: { message: `fake upstream failure: ${err?.stack ?? err}` } });
                res.writeHead(500, { "content-type": "application/json" });
                res.end(text);
            } else {
                res.destroy();
            }
        });
    });
    server.on("connection", (socket) => {
        sockets.add(socket);
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", () => {
            server.off("error", reject);
            resolve();
        });
    });
    const { port } = server.address();

    async function handle(req, res) {
        const receivedAt = Date.now();
        const url = new URL(req.url, "http://127.0.0.1");
        const raw = await readBody(req);
        const r = route(url.pathname);
        const provider = r.provider;
        let body = null;
        let badJson = false;
        if (raw.length > 0) {
            try {
                body = JSON.parse(raw);
            } catch {
                badJson = true;
            }
        }
        const headers = {};
        for (const [name, value] of Object.entries(req.headers)) {
            headers[name.toLowerCase()] = value;
        }
        const query = Object.fromEntries(url.searchParams);
        const model = r.model ?? (typeof body?.model === "string" ? body.model : undefined);
        const stream = r.provider === "gemini" ? Boolean(r.stream) : body?.stream === true;
        const record = {
            provider,
            path: url.pathname,
            method: req.method,
            headers,
            query,
            body,
            rawBody: raw,
            model,
            stream,
            receivedAt,
            ...toolTraffic(provider, body),
        };
        requests.push(record);

        const ctx = {
            provider,
            req,
            res,
            path: url.pathname,
            tokensSent: 0,
            serverClosed: false,
            ac: new AbortController(),
            requestId: provider === "anthropic" ? `req_${randomId()}` : `req_${randomId(13)}`,
        };
        res.on("close", () => {
            ctx.ac.abort();
            if (!res.writableFinished && !ctx.serverClosed && !closing) {
                disconnects.push({ provider, path: ctx.path, tokensSent: ctx.tokensSent, at: Date.now() });
            }
        });

        const fail = (status, message, extra = {}) => sendError(ctx, status, message, extra);

        if (r.unknown) {
            return fail(404, `Invalid URL (${req.method} ${url.pathname})`, { code: null });
        }
        if (req.method !== "POST") {
            return fail(405, `Method ${req.method} not allowed for ${url.pathname}`, { code: null });
        }
        const authError = checkAuth(provider, headers, query);
        if (authError) {
            return fail(401, authError.message, { code: authError.code });
        }
        if (provider === "anthropic" && !headers["anthropic-version"]) {
            return fail(400, "anthropic-version: header is required");
        }
        if (badJson || body === null || typeof body !== "object" || Array.isArray(body)) {
            return fail(400, "The request body is not valid JSON.");
        }
        const invalid = validate(provider, body);
        if (invalid) {
            return fail(400, invalid);
        }

        const prompt = promptText(provider, body);
        const info = {
            provider,
            path: url.pathname,
            method: req.method,
            headers,
            query,
            body,
            model,
            stream,
            prompt: prompt.lastUser,
            index: requests.length - 1,
        };
        let s;
        let base;
        try {
            base = typeof script === "function" ? await script(info) : script;
            const override = headers["x-fake-script"] ? JSON.parse(headers["x-fake-script"]) : {};
            s = { ...(base ?? {}), ...override };
        } catch (err) {
            return fail(400, `fake upstream: bad script: ${err.message}`);
        }
        record.script = s;

        if (s.hang) {
            return; // the request stays open; res "close" records the client's disconnect
        }
        if (!(await pause(s.headersDelayMs, ctx.ac.signal))) {
            return;
        }

        let status = s.status;
        if (s.failTimes !== undefined) {
            const key = s.key ?? JSON.stringify(s);
            const seen = failCounts.get(key) ?? 0;
            if (seen < s.failTimes) {
                failCounts.set(key, seen + 1);
                status = status ?? 500;
            } else {
                status = undefined;
            }
        }
        if (status !== undefined && status !== null) {
            return fail(status, s.errorMessage, { retryAfter: s.retryAfter });
        }
        if (s.okErrorBody) {
            const errorStatus = s.errorStatus ?? 500;
            const out = errorBody(provider, errorStatus, s.errorMessage ?? defaultMessage(errorStatus), {
                requestId: ctx.requestId,
            });
            return sendJson(ctx, 200, out);
        }
        if (typeof s.garbage === "string") {
            const text = s.garbage;
            res.writeHead(200, {
                ...responseHeaders(ctx, s.garbageType ?? "text/html"),
                "content-length": Buffer.byteLength(text),
            });
            return res.end(text);
        }
        // A chain of rounds: the next request gets the next script (a retried failure does not).
        if (base === script && script !== null && typeof script === "object" && script.next !== undefined) {
            script = script.next ?? {};
        }

        const plan = makePlan(provider, body, s, prompt, model);
        if (stream) {
            return streamResponse(ctx, plan, s, body, query);
        }
        return completeResponse(ctx, plan, s);
    }

    function checkAuth(provider, headers, query) {
        const expected = keys[provider];
        if (expected === null) {
            return undefined;
        }
        if (provider === "openai" || provider === "groq") {
            const m = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? "");
            if (!m) {
                return provider === "groq"
                    ? { message: "Invalid API Key", code: "invalid_api_key" }
                    : {
                          message:
                              "You didn't provide an API key. You need to provide your API key in an Authorization header using Bearer auth (i.e. Authorization: Bearer YOUR_KEY).",
                          code: null,
                      };
            }
            if (m[1].trim() !== expected) {
                const k = m[1].trim();
                return provider === "groq"
                    ? { message: "Invalid API Key", code: "invalid_api_key" }
                    : {
                          message: `Incorrect API key provided: ${k.slice(0, 3)}***${k.slice(-4)}.`,
                          code: "invalid_api_key",
                      };
            }
            return undefined;
        }
        if (provider === "anthropic") {
            const bearer = /^Bearer\s+(.+)$/i.exec(headers.authorization ?? "")?.[1]?.trim();
            const key = headers["x-api-key"] ?? bearer;
            if (!key) {
                return { message: "x-api-key header is required" };
            }
            return key === expected ? undefined : { message: "invalid x-api-key" };
        }
        const key = headers["x-goog-api-key"] ?? query.key;
        if (!key) {
            return { message: "Method doesn't allow unregistered callers. Please use API Key or other form of API consumer identity to call this API." };
        }
        return key === expected ? undefined : { message: "API key not valid. Please pass a valid API key." };
    }

    function sendError(ctx, status, message, { retryAfter, code } = {}) {
        const out = errorBody(ctx.provider, status, message ?? defaultMessage(status), {
            requestId: ctx.requestId,
            code,
        });
        const extra = {};
        if (retryAfter !== undefined && retryAfter !== null) {
            extra["retry-after"] = String(retryAfter);
        }
        sendJson(ctx, status, out, extra);
    }

    return {
        port,
        baseUrl: `http://127.0.0.1:${port}`,
        requests,
        disconnects,
        /** Sets the script: an object used for every request, or fn(requestInfo) → object. */
        setScript(next) {
            script = next ?? {};
            failCounts.clear();
        },
        /** Clears the request and disconnect logs, the failTimes counters and the script. */
        reset() {
            requests.length = 0;
            disconnects.length = 0;
            failCounts.clear();
            script = options.script ?? {};
        },
        /** Destroys every open socket (hanging requests included) and closes the server. */
        close() {
            closing = true;
            for (const socket of sockets) {
                socket.destroy();
            }
            server.closeAllConnections?.();
            return new Promise((resolve) => server.close(() => resolve()));
        },
    };
}

// ---- request validation (the checks the real APIs make that a client can get wrong) -------------

function validate(provider, body) {
    if (provider === "openai" || provider === "groq") {
        if (typeof body.model !== "string" || body.model === "") {
            return "you must provide a model parameter";
        }
        if (!Array.isArray(body.messages) || body.messages.length === 0) {
            return "'messages' must contain at least one message";
        }
        if (provider === "groq") {
            for (const field of ["logprobs", "logit_bias", "top_logprobs"]) {
                if (body[field] !== undefined && body[field] !== null && body[field] !== false) {
                    return `'${field}' : not supported`;
                }
            }
            if (body.n !== undefined && body.n !== null && body.n !== 1) {
                return "'n' : number must be at most 1";
            }
            if (body.messages.some((m) => m && m.name !== undefined)) {
                return "'messages.name' : property 'name' is unsupported";
            }
        }
        return validateOpenAiTools(body);
    }
    if (provider === "anthropic") {
        if (typeof body.model !== "string" || body.model === "") {
            return "model: Field required";
        }
        if (!Number.isInteger(body.max_tokens) || body.max_tokens < 1) {
            return "max_tokens: Field required";
        }
        if (!Array.isArray(body.messages) || body.messages.length === 0) {
            return "messages: at least one message is required";
        }
        for (const m of body.messages) {
            if (m?.role !== "user" && m?.role !== "assistant") {
                return `messages: Unexpected role "${m?.role}". Allowed roles are "user" or "assistant". For instructions or context, please use the top-level "system" parameter.`;
            }
        }
        if (body.thinking?.type === "enabled") {
            const budget = body.thinking.budget_tokens;
            if (!Number.isInteger(budget) || budget < 1024) {
                return "thinking.enabled.budget_tokens: Input should be greater than or equal to 1024";
            }
            if (budget >= body.max_tokens) {
                return "`max_tokens` must be greater than `thinking.budget_tokens`.";
            }
        }
        return validateAnthropicTools(body);
    }
    if (!Array.isArray(body.contents) || body.contents.length === 0) {
        return "* GenerateContentRequest.contents: contents is not specified";
    }
    for (const c of body.contents) {
        if (c?.role !== undefined && c.role !== "user" && c.role !== "model") {
            return "Please use a valid role: user, model.";
        }
    }
    return validateGeminiTools(body);
}

// OpenAI: tools are {type: "function", function: {name, …}}; an assistant message's tool_calls
// are each answered by the tool messages right after it, and a tool message answers a call of the
// assistant message before its run of tool messages.
function validateOpenAiTools(body) {
    if (body.tools !== undefined) {
        if (!Array.isArray(body.tools)) {
            return "Invalid type for 'tools': expected an array.";
        }
        for (const [i, t] of body.tools.entries()) {
            if (t?.type !== "function" || typeof t.function?.name !== "string") {
                return `Missing required parameter: 'tools[${i}].function.name'.`;
            }
        }
    }
    const messages = body.messages;
    for (const [i, m] of messages.entries()) {
        if (m?.role === "assistant" && m.tool_calls !== undefined) {
            for (const [j, c] of asArray(m.tool_calls).entries()) {
                if (typeof c?.id !== "string" || c.type !== "function" || typeof c.function?.name !== "string" ||
                    typeof c.function?.arguments !== "string") {
                    return `Invalid value for 'messages[${i}].tool_calls[${j}]': id, type "function", function.name and function.arguments (a string) are required.`;
                }
            }
            const answered = new Set();
            for (let k = i + 1; k < messages.length && messages[k]?.role === "tool"; k++) {
                answered.add(messages[k].tool_call_id);
            }
            const missing = asArray(m.tool_calls).map((c) => c.id).filter((id) => !answered.has(id));
            if (missing.length > 0) {
                return `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${missing.join(", ")}`;
            }
        }
        if (m?.role === "tool") {
            let k = i - 1;
            while (k >= 0 && messages[k]?.role === "tool") {
                k--;
            }
            const calls = k >= 0 && messages[k]?.role === "assistant" ? asArray(messages[k].tool_calls) : [];
            if (!calls.some((c) => c?.id === m.tool_call_id)) {
                return "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.";
            }
        }
    }
    return undefined;
}

// Anthropic: tools are {name, input_schema}; text blocks are non-empty; each tool_use is answered
// by a tool_result in the next (user) message, each tool_result answers a tool_use of the previous
// message; with thinking on, the assistant message of a tool loop starts with its thinking block.
function validateAnthropicTools(body) {
    if (body.tools !== undefined) {
        if (!Array.isArray(body.tools)) {
            return "tools: Input should be a valid list";
        }
        for (const [i, t] of body.tools.entries()) {
            if (typeof t?.name !== "string" || !/^[a-zA-Z0-9_-]{1,64}$/.test(t.name)) {
                return `tools.${i}.custom.name: String should match pattern '^[a-zA-Z0-9_-]{1,64}$'`;
            }
            if (!t.input_schema || typeof t.input_schema !== "object" || Array.isArray(t.input_schema)) {
                return `tools.${i}.custom.input_schema: Field required`;
            }
        }
    }
    const messages = body.messages;
    const uses = (m) =>
        m?.role === "assistant" ? asArray(m.content).filter((b) => b?.type === "tool_use").map((b) => b.id) : [];
    const results = (m) =>
        m?.role === "user" ? asArray(m.content).filter((b) => b?.type === "tool_result").map((b) => b.tool_use_id) : [];
    for (const [i, m] of messages.entries()) {
        for (const [j, b] of asArray(m?.content).entries()) {
            if (b?.type === "text" && (typeof b.text !== "string" || b.text === "")) {
                return `messages.${i}.content.${j}.text: text content blocks must be non-empty`;
            }
            if (b?.type === "tool_use" && (!b.input || typeof b.input !== "object" || Array.isArray(b.input))) {
                return `messages.${i}.content.${j}.tool_use.input: Input should be a valid dictionary`;
            }
        }
        const expected = uses(m);
        if (expected.length > 0) {
            const given = new Set(results(messages[i + 1]));
            const missing = expected.filter((id) => !given.has(id));
            if (missing.length > 0) {
                return `messages.${i}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(", ")}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`;
            }
        }
        const answered = results(m);
        if (answered.length > 0) {
            const known = new Set(uses(messages[i - 1]));
            const unexpected = answered.filter((id) => !known.has(id));
            if (unexpected.length > 0) {
                return `messages.${i}.content.0: unexpected \`tool_use_id\` found in \`tool_result\` blocks: ${unexpected.join(", ")}. Each \`tool_result\` block must have a corresponding \`tool_use\` block in the previous message.`;
            }
        }
    }
    const thinking = body.thinking?.type === "enabled" || body.thinking?.type === "adaptive";
    const lastAssistant = messages.findLastIndex((m) => m?.role === "assistant");
    if (thinking && lastAssistant >= 0 && uses(messages[lastAssistant]).length > 0) {
        const first = asArray(messages[lastAssistant].content)[0]?.type;
        if (first !== "thinking" && first !== "redacted_thinking") {
            return `messages.${lastAssistant}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${first}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`;
        }
    }
    return undefined;
}

// Gemini's Schema: an OpenAPI 3.0 subset; other keys are "Unknown name".
const GEMINI_SCHEMA_KEYS = new Set([
    "type", "format", "title", "description", "nullable", "enum", "maxItems", "minItems", "properties",
    "required", "minProperties", "maxProperties", "minLength", "maxLength", "pattern", "example", "anyOf",
    "items", "minimum", "maximum", "default", "propertyOrdering",
]);

function geminiSchemaError(schema, where) {
    if (!schema || typeof schema !== "object" || Array.isArray(schema)) {
        return `Invalid JSON payload received. Expected an object at '${where}'.`;
    }
    for (const [key, value] of Object.entries(schema)) {
        if (!GEMINI_SCHEMA_KEYS.has(key)) {
            return `Invalid JSON payload received. Unknown name "${key}" at '${where}': Cannot find field.`;
        }
        if (key === "type" && typeof value !== "string") {
            return `Invalid JSON payload received. Unknown name "type" at '${where}': Proto field is not repeating, cannot start list.`;
        }
    }
    if (String(schema.type).toLowerCase() === "object" && schema.properties !== undefined &&
        Object.keys(schema.properties).length === 0) {
        return `* GenerateContentRequest.${where}.properties: should be non-empty for OBJECT type`;
    }
    for (const [name, property] of Object.entries(schema.properties ?? {})) {
        const error = geminiSchemaError(property, `${where}.properties[${name}].value`);
        if (error) {
            return error;
        }
    }
    if (schema.items !== undefined) {
        return geminiSchemaError(schema.items, `${where}.items`);
    }
    for (const [i, alternative] of asArray(schema.anyOf).entries()) {
        const error = geminiSchemaError(alternative, `${where}.any_of[${i}]`);
        if (error) {
            return error;
        }
    }
    return undefined;
}

// Gemini: functionDeclarations with valid names and schemas; a model turn of n function calls is
// followed by a user turn of exactly n function responses, and responses follow calls only.
function validateGeminiTools(body) {
    for (const [i, t] of asArray(body.tools).entries()) {
        for (const [j, d] of asArray(t?.functionDeclarations ?? t?.function_declarations).entries()) {
            const where = `tools[${i}].function_declarations[${j}]`;
            if (typeof d?.name !== "string" || !/^[a-zA-Z_][a-zA-Z0-9_.:-]{0,63}$/.test(d.name)) {
                return `* GenerateContentRequest.${where}.name: Invalid function name.`;
            }
            if (d.parameters !== undefined) {
                const error = geminiSchemaError(d.parameters, `${where}.parameters`);
                if (error) {
                    return error;
                }
            }
        }
    }
    const contents = body.contents;
    const count = (c, kind) => asArray(c?.parts).filter((p) => p?.[kind] !== undefined).length;
    for (const [i, c] of contents.entries()) {
        const calls = count(c, "functionCall");
        const responses = count(c, "functionResponse");
        if (calls > 0 && count(contents[i + 1], "functionResponse") !== calls && i + 1 < contents.length) {
            return "Please ensure that the number of function response parts is equal to the number of function call parts of the function call turn.";
        }
        if (responses > 0 && count(contents[i - 1], "functionCall") === 0) {
            return "Please ensure that function response turn comes immediately after a function call turn.";
        }
        for (const [j, p] of asArray(c?.parts).entries()) {
            const r = p?.functionResponse;
            if (r !== undefined && (typeof r.name !== "string" || !r.response || typeof r.response !== "object" || Array.isArray(r.response))) {
                return `Invalid value at 'contents[${i}].parts[${j}].function_response.response' (type.googleapis.com/google.protobuf.Struct)`;
            }
        }
    }
    return undefined;
}

// ---- planning what to send ---------------------------------------------------------------------

// Splits `text` into at most n non-empty pieces of about equal length (by code point).
function splitText(text, n) {
    const chars = Array.from(text);
    const count = Math.max(1, Math.min(Math.floor(n) || 1, chars.length));
    const size = Math.ceil(chars.length / count);
    const pieces = [];
    for (let i = 0; i < chars.length; i += size) {
        pieces.push(chars.slice(i, i + size).join(""));
    }
    return pieces;
}

// The script's tool calls: { id, name, text (the arguments as sent), args (Gemini's value), input
// (Anthropic's object), signature, pieces }.
function planToolCalls(provider, s) {
    return asArray(s.toolCalls).map((c, i) => {
        const text = typeof c?.arguments === "string" ? c.arguments : JSON.stringify(c?.arguments ?? {});
        const args = parseArguments(text);
        const input = args && typeof args === "object" && !Array.isArray(args) ? args : {};
        const id = c?.id ?? (provider === "anthropic" ? `toolu_${randomId(12)}` : `call_${randomId(12)}`);
        return {
            index: i,
            id,
            name: String(c?.name ?? "tool"),
            text,
            args: typeof args === "string" ? args : args ?? {},
            input,
            signature: c?.signature,
            pieces: text === "" ? [] : splitText(text, s.splitArguments ?? 1),
        };
    });
}

// units: [{ kind: "thinking" | "text", text } | { kind: "tool_start" | "tool_args", call, text }
// | { kind: "tools" } (Gemini: every call in one chunk)] in send order; usage: the final counts.
function makePlan(provider, body, s, prompt, model) {
    const toolCalls = planToolCalls(provider, s);
    const defaultText = toolCalls.length > 0 ? [] : defaultTokens(prompt.lastUser);
    const tokens = (Array.isArray(s.tokens) ? s.tokens : defaultText).map(String);
    const thinkingIn = Array.isArray(s.thinking) ? s.thinking.map(String) : [];
    let showThinking = false;
    let thinkStyle;
    if (provider === "anthropic") {
        const t = body.thinking?.type;
        showThinking = t === "enabled" || t === "adaptive";
    } else if (provider === "gemini") {
        showThinking = body.generationConfig?.thinkingConfig?.includeThoughts === true;
    } else {
        const format = body.reasoning_format;
        thinkStyle = s.thinkStyle ?? (format === "parsed" ? "reasoning" : "tags");
        showThinking = format !== "hidden";
    }
    const thinking = showThinking ? thinkingIn : [];
    const units = [
        ...thinking.map((text) => ({ kind: "thinking", text })),
        ...tokens.map((text) => ({ kind: "text", text })),
    ];
    if (provider === "gemini") {
        if (toolCalls.length > 0) {
            units.push({ kind: "tools" });
        }
    } else {
        for (const call of toolCalls) {
            units.push({ kind: "tool_start", call: call.index });
            units.push(...call.pieces.map((text) => ({ kind: "tool_args", call: call.index, text })));
        }
    }
    const input = s.usage?.input ?? wordCount(prompt.all);
    let output;
    let thoughts = 0;
    if (provider === "gemini") {
        output = s.usage?.output ?? tokens.length + toolCalls.length;
        thoughts = s.usage?.thoughts ?? thinking.length;
    } else {
        output = s.usage?.output ?? units.length;
        thoughts = s.usage?.thoughts ?? thinking.length;
    }
    return {
        provider,
        model: model ?? "unknown",
        tokens,
        thinking,
        thinkStyle,
        toolCalls,
        geminiCallIds: s.geminiCallIds === true,
        units,
        usage: { input, output, thoughts },
        finishReason: s.finishReason ?? (toolCalls.length > 0 ? TOOL_FINISH : DEFAULT_FINISH)[provider],
        id: idFor(provider),
        created: Math.floor(Date.now() / 1000),
        signature: Buffer.from(`fake-signature:${randomId(8)}`).toString("base64"),
    };
}

function idFor(provider) {
    if (provider === "anthropic") {
        return `msg_${randomId(12)}`;
    }
    if (provider === "gemini") {
        return randomId(10);
    }
    return `chatcmpl-${randomId(12)}`;
}

function responseHeaders(ctx, contentType) {
    const headers = { "content-type": contentType };
    if (ctx.provider === "anthropic") {
        headers["request-id"] = ctx.requestId;
    } else if (ctx.provider === "openai" || ctx.provider === "groq") {
        headers["x-request-id"] = ctx.requestId;
    }
    return headers;
}

function sendJson(ctx, status, obj, extra = {}) {
    const text = JSON.stringify(obj);
    const type = ctx.provider === "gemini" ? "application/json; charset=UTF-8" : "application/json";
    ctx.res.writeHead(status, {
        ...responseHeaders(ctx, type),
        "content-length": Buffer.byteLength(text),
        ...extra,
    });
    ctx.res.end(text);
}

// Destroys the connection once what was written so far has reached the kernel (http corks a
// chunked response until the next tick; destroy() would drop that data).
async function destroyConnection(ctx) {
    ctx.serverClosed = true;
    const socket = ctx.req.socket;
    await new Promise((resolve) => setImmediate(resolve));
    if (socket.writableLength > 0 && !socket.destroyed) {
        await Promise.race([once(socket, "drain"), once(socket, "close")]).catch(() => {});
    }
    socket.destroy();
}

// Sleeps ms (if > 0); false when the request was aborted meanwhile.
async function pause(ms, signal) {
    if (signal.aborted) {
        return false;
    }
    if (!(ms > 0)) {
        return true;
    }
    try {
        await sleep(ms, undefined, { signal });
        return true;
    } catch {
        return false;
    }
}

// ---- OpenAI / Groq bodies ----------------------------------------------------------------------

function openAiUsage(plan, { final = true } = {}) {
    const u = {
        prompt_tokens: plan.usage.input,
        completion_tokens: plan.usage.output,
        total_tokens: plan.usage.input + plan.usage.output,
    };
    if (plan.thinking.length > 0) {
        u.completion_tokens_details = { reasoning_tokens: plan.usage.thoughts };
    }
    if (plan.provider === "groq" && final) {
        Object.assign(u, { queue_time: 0.001, prompt_time: 0.001, completion_time: 0.002, total_time: 0.004 });
    }
    return u;
}

function openAiChunk(plan, choices, includeUsage, extra = {}) {
    const chunk = {
        id: plan.id,
        object: "chat.completion.chunk",
        created: plan.created,
        model: plan.model,
        system_fingerprint: "fp_fake",
        choices,
    };
    if (includeUsage) {
        chunk.usage = null;
    }
    return { ...chunk, ...extra };
}

function openAiChoice(delta, finishReason = null) {
    return { index: 0, delta, logprobs: null, finish_reason: finishReason };
}

// The delta for unit i (tags wrap the thinking run in <think>…</think>; a call's first delta has
// its id, type and name, later ones pieces of its arguments).
function openAiDelta(plan, i) {
    const unit = plan.units[i];
    if (unit.kind === "tool_start") {
        const call = plan.toolCalls[unit.call];
        return {
            tool_calls: [{ index: unit.call, id: call.id, type: "function", function: { name: call.name, arguments: "" } }],
        };
    }
    if (unit.kind === "tool_args") {
        return { tool_calls: [{ index: unit.call, function: { arguments: unit.text } }] };
    }
    if (unit.kind === "thinking") {
        if (plan.thinkStyle === "reasoning") {
            return { reasoning: unit.text };
        }
        const first = i === 0;
        const last = i === plan.thinking.length - 1;
        return { content: `${first ? "<think>" : ""}${unit.text}${last ? "</think>" : ""}` };
    }
    return { content: unit.text };
}

function openAiCompletion(plan) {
    const text = plan.tokens.join("");
    const message = { role: "assistant", content: text, refusal: null };
    if (plan.toolCalls.length > 0) {
        message.content = text === "" ? null : text;
        message.tool_calls = plan.toolCalls.map((c) => ({
            id: c.id,
            type: "function",
            function: { name: c.name, arguments: c.text },
        }));
    }
    if (plan.thinking.length > 0) {
        if (plan.thinkStyle === "reasoning") {
            message.reasoning = plan.thinking.join("");
        } else {
            message.content = `<think>${plan.thinking.join("")}</think>${text}`;
        }
    }
    const out = {
        id: plan.id,
        object: "chat.completion",
        created: plan.created,
        model: plan.model,
        system_fingerprint: "fp_fake",
        choices: [{ index: 0, message, logprobs: null, finish_reason: plan.finishReason }],
        usage: openAiUsage(plan),
    };
    if (plan.provider === "groq") {
        out.x_groq = { id: `req_${plan.id.slice(9)}` };
    }
    return out;
}

// ---- Anthropic bodies --------------------------------------------------------------------------

function anthropicMessage(plan, { complete }) {
    const content = [];
    if (complete) {
        if (plan.thinking.length > 0) {
            content.push({ type: "thinking", thinking: plan.thinking.join(""), signature: plan.signature });
        }
        const text = plan.tokens.join("");
        if (text !== "" || plan.toolCalls.length === 0) {
            content.push({ type: "text", text });
        }
        for (const c of plan.toolCalls) {
            content.push({ type: "tool_use", id: c.id, name: c.name, input: c.input });
        }
    }
    return {
        id: plan.id,
        type: "message",
        role: "assistant",
        model: plan.model,
        content,
        stop_reason: complete ? plan.finishReason : null,
        stop_sequence: null,
        usage: {
            input_tokens: plan.usage.input,
            cache_creation_input_tokens: 0,
            cache_read_input_tokens: 0,
            output_tokens: complete ? plan.usage.output : 1,
            service_tier: "standard",
        },
    };
}

// ---- Gemini bodies -----------------------------------------------------------------------------

function geminiUsage(plan, text, thoughts) {
    const u = {
        promptTokenCount: plan.usage.input,
        candidatesTokenCount: text,
        totalTokenCount: plan.usage.input + text + thoughts,
    };
    if (plan.thinking.length > 0) {
        u.thoughtsTokenCount = thoughts;
    }
    return u;
}

function geminiResponse(plan, parts, { finish, usage }) {
    const candidate = { content: { parts, role: "model" } };
    if (finish) {
        candidate.finishReason = plan.finishReason;
    }
    candidate.index = 0;
    return { candidates: [candidate], usageMetadata: usage, modelVersion: plan.model, responseId: plan.id };
}

// The functionCall parts of every call (ids only with geminiCallIds, as most models send none).
function geminiCallParts(plan) {
    return plan.toolCalls.map((c) => {
        const functionCall = { name: c.name, args: c.args };
        if (plan.geminiCallIds) {
            functionCall.id = c.id;
        }
        const part = { functionCall };
        if (c.signature !== undefined) {
            part.thoughtSignature = c.signature;
        }
        return part;
    });
}

function geminiError(status, message) {
    return errorBody("gemini", status, message);
}

// ---- non-streaming -----------------------------------------------------------------------------

async function completeResponse(ctx, plan, s) {
    const n = plan.units.length;
    const delay = (s.firstTokenDelayMs ?? 0) + (n > 1 ? (s.interTokenDelayMs ?? 0) * (n - 1) : 0);
    if (!(await pause(delay, ctx.ac.signal))) {
        return;
    }
    if (s.stallAfterTokens !== undefined) {
        return; // never answers; res "close" records the client's disconnect
    }
    if (s.disconnectAfterTokens !== undefined) {
        await destroyConnection(ctx);
        return;
    }
    if (s.midStreamError !== undefined) {
        const status = { anthropic: 529, gemini: 503 }[ctx.provider] ?? 503;
        const message =
            s.errorMessage ??
            (ctx.provider === "gemini" ? "The model is overloaded. Please try again later." : defaultMessage(status));
        return sendJson(ctx, status, errorBody(ctx.provider, status, message, { requestId: ctx.requestId }));
    }
    let out;
    if (ctx.provider === "anthropic") {
        out = anthropicMessage(plan, { complete: true });
    } else if (ctx.provider === "gemini") {
        const parts = [];
        if (plan.thinking.length > 0) {
            parts.push({ text: plan.thinking.join(""), thought: true });
        }
        const text = plan.tokens.join("");
        if (text !== "" || plan.toolCalls.length === 0) {
            parts.push({ text });
        }
        parts.push(...geminiCallParts(plan));
        out = geminiResponse(plan, parts, {
            finish: true,
            usage: geminiUsage(plan, plan.usage.output, plan.usage.thoughts),
        });
    } else {
        out = openAiCompletion(plan);
    }
    if (s.malformedAfterTokens !== undefined) {
        const text = JSON.stringify(out).slice(0, 20);
        ctx.res.writeHead(200, { ...responseHeaders(ctx, "application/json"), "content-length": Buffer.byteLength(text) });
        ctx.res.end(text);
        return;
    }
    sendJson(ctx, 200, out);
}

// ---- streaming ---------------------------------------------------------------------------------

function streamResponse(ctx, plan, s, body, query) {
    const { provider } = ctx;
    const res = ctx.res;
    const geminiArray = provider === "gemini" && query.alt !== "sse";
    const headers = responseHeaders(ctx, geminiArray ? "application/json; charset=UTF-8" : "text/event-stream");
    headers["cache-control"] = "no-cache";
    res.writeHead(200, headers);
    res.flushHeaders();

    let arrayOpen = false;
    const sse = (event, data) => {
        if (geminiArray) {
            res.write(`${arrayOpen ? ",\r\n" : "["}${JSON.stringify(data)}`);
            arrayOpen = true;
        } else if (event) {
            res.write(`event: ${event}\ndata: ${JSON.stringify(data)}\n\n`);
        } else {
            res.write(`data: ${JSON.stringify(data)}\n\n`);
        }
    };
    const endStream = () => {
        if (geminiArray) {
            res.end(arrayOpen ? "]" : "[]");
        } else {
            res.end();
        }
    };
    const includeUsage = body.stream_options?.include_usage === true;

    // Per-provider emitters: preamble(), unit(i), finish(), malformed(), midError().
    let emit;
    if (provider === "anthropic") {
        let block = -1;
        let blockKind;
        const openBlock = (kind) => {
            block += 1;
            blockKind = kind;
            const content_block =
                kind === "thinking" ? { type: "thinking", thinking: "", signature: "" } : { type: "text", text: "" };
            sse("content_block_start", { type: "content_block_start", index: block, content_block });
        };
        const openToolBlock = (call) => {
            block += 1;
            blockKind = "tool";
            sse("content_block_start", {
                type: "content_block_start",
                index: block,
                content_block: { type: "tool_use", id: call.id, name: call.name, input: {} },
            });
            sse("content_block_delta", {
                type: "content_block_delta",
                index: block,
                delta: { type: "input_json_delta", partial_json: "" },
            });
        };
        const closeBlock = () => {
            if (blockKind === undefined) {
                return;
            }
            if (blockKind === "thinking") {
                sse("content_block_delta", {
                    type: "content_block_delta",
                    index: block,
                    delta: { type: "signature_delta", signature: plan.signature },
                });
            }
            sse("content_block_stop", { type: "content_block_stop", index: block });
            blockKind = undefined;
        };
        emit = {
            preamble() {
                sse("message_start", { type: "message_start", message: anthropicMessage(plan, { complete: false }) });
                sse("ping", { type: "ping" });
                // Only tool calls: no text block at all, as the API does.
                if (plan.units[0]?.kind !== "tool_start") {
                    openBlock(plan.thinking.length > 0 ? "thinking" : "text");
                }
            },
            unit(i) {
                const unit = plan.units[i];
                if (unit.kind === "tool_start") {
                    closeBlock();
                    openToolBlock(plan.toolCalls[unit.call]);
                    return;
                }
                if (unit.kind === "tool_args") {
                    sse("content_block_delta", {
                        type: "content_block_delta",
                        index: block,
                        delta: { type: "input_json_delta", partial_json: unit.text },
                    });
                    return;
                }
                if (unit.kind !== blockKind) {
                    closeBlock();
                    openBlock(unit.kind);
                }
                const delta =
                    unit.kind === "thinking"
                        ? { type: "thinking_delta", thinking: unit.text }
                        : { type: "text_delta", text: unit.text };
                sse("content_block_delta", { type: "content_block_delta", index: block, delta });
            },
            finish() {
                if (blockKind === "thinking" && plan.toolCalls.length === 0) {
                    closeBlock();
                    openBlock("text");
                }
                closeBlock();
                sse("message_delta", {
                    type: "message_delta",
                    delta: { stop_reason: plan.finishReason, stop_sequence: null },
                    usage: { output_tokens: plan.usage.output },
                });
                sse("message_stop", { type: "message_stop" });
                endStream();
            },
            malformed() {
                res.write("event: content_block_delta\ndata: {\"type\":\"content_block_delta\",\"index\":\n\n");
                endStream();
            },
            midError() {
                sse("error", {
                    type: "error",
                    error: { type: "overloaded_error", message: s.errorMessage ?? "Overloaded" },
                });
                endStream();
            },
        };
    } else if (provider === "gemini") {
        let textSent = 0;
        let thoughtsSent = 0;
        emit = {
            preamble() {
                if (plan.units.length === 0) {
                    // Nothing to stream: one empty final chunk.
                    sse(null, geminiResponse(plan, [{ text: "" }], {
                        finish: true,
                        usage: geminiUsage(plan, plan.usage.output, plan.usage.thoughts),
                    }));
                }
            },
            unit(i) {
                const unit = plan.units[i];
                const last = i === plan.units.length - 1;
                let parts;
                if (unit.kind === "tools") {
                    parts = geminiCallParts(plan);
                    textSent += plan.toolCalls.length;
                } else if (unit.kind === "thinking") {
                    parts = [{ text: unit.text, thought: true }];
                    thoughtsSent += 1;
                } else {
                    parts = [{ text: unit.text }];
                    textSent += 1;
                }
                const usage = last
                    ? geminiUsage(plan, plan.usage.output, plan.usage.thoughts)
                    : geminiUsage(plan, textSent, thoughtsSent);
                sse(null, geminiResponse(plan, parts, { finish: last, usage }));
            },
            finish() {
                endStream();
            },
            malformed() {
                res.write(geminiArray ? ",\r\n{\"candidates\": [" : "data: {\"candidates\": [{\"content\":\n\n");
                res.end();
            },
            midError() {
                sse(null, geminiError(503, s.errorMessage ?? "The model is overloaded. Please try again later."));
                endStream();
            },
        };
    } else {
        emit = {
            preamble() {
                const extra = provider === "groq" ? { x_groq: { id: `req_${plan.id.slice(9)}` } } : {};
                sse(null, openAiChunk(plan, [openAiChoice({ role: "assistant", content: "" })], includeUsage, extra));
            },
            unit(i) {
                sse(null, openAiChunk(plan, [openAiChoice(openAiDelta(plan, i))], includeUsage));
            },
            finish() {
                const extra =
                    provider === "groq"
                        ? { x_groq: { id: `req_${plan.id.slice(9)}`, usage: openAiUsage(plan) } }
                        : {};
                sse(null, openAiChunk(plan, [openAiChoice({}, plan.finishReason)], includeUsage, extra));
                if (includeUsage) {
                    sse(null, { ...openAiChunk(plan, [], false), usage: openAiUsage(plan) });
                }
                res.write("data: [DONE]\n\n");
                endStream();
            },
            malformed() {
                res.write("data: {\"id\":\"chatcmpl-broken\",\"object\":\"chat.completion.chunk\",\"choices\":[{\n\n");
                endStream();
            },
            midError() {
                const err = errorBody(provider, 500, s.errorMessage ?? "The server had an error while processing your request.");
                sse(null, err);
                endStream();
            },
        };
    }

    return (async () => {
        emit.preamble();
        const signal = ctx.ac.signal;
        // Fires the first trigger whose count has been reached; true when the stream is over.
        const trigger = async () => {
            if (s.stallAfterTokens !== undefined && ctx.tokensSent >= s.stallAfterTokens) {
                // Keep the response open, silent, until the client leaves (or the fake closes).
                if (!signal.aborted) {
                    await once(signal, "abort");
                }
                return true;
            }
            if (s.disconnectAfterTokens !== undefined && ctx.tokensSent >= s.disconnectAfterTokens) {
                await destroyConnection(ctx);
                return true;
            }
            if (s.malformedAfterTokens !== undefined && ctx.tokensSent >= s.malformedAfterTokens) {
                emit.malformed();
                return true;
            }
            const mid = s.midStreamError === true ? 0 : s.midStreamError;
            if (typeof mid === "number" && ctx.tokensSent >= mid) {
                emit.midError();
                return true;
            }
            return false;
        };
        for (let i = 0; i < plan.units.length; i++) {
            const delay = i === 0 ? s.firstTokenDelayMs : s.interTokenDelayMs;
            if (!(await pause(delay, signal))) {
                return;
            }
            if (await trigger()) {
                return;
            }
            emit.unit(i);
            ctx.tokensSent += 1;
        }
        if (signal.aborted || (await trigger())) {
            return;
        }
        emit.finish();
    })();
}

/**
 * A TCP server on 127.0.0.1 that accepts connections and never sends anything (nor closes them
 * until close()). Point an https:// base URL at it to stall a client's TLS handshake, i.e. its
 * connect phase. Returns { port, connections (accepted so far), close }.
 */
export async function startBlackhole() {
    const sockets = new Set();
    let connections = 0;
    const server = net.createServer((socket) => {
        connections += 1;
        sockets.add(socket);
        socket.on("error", () => {});
        socket.on("close", () => sockets.delete(socket));
    });
    await new Promise((resolve, reject) => {
        server.once("error", reject);
        server.listen(0, "127.0.0.1", resolve);
    });
    return {
        port: server.address().port,
        get connections() {
            return connections;
        },
        close() {
            for (const socket of sockets) {
                socket.destroy();
            }
            return new Promise((resolve) => server.close(() => resolve()));
        },
    };
}

/**
 * The settings that point Parley's OpenAI, Anthropic and Gemini providers at `upstream` with
 * `keys` (the ones the fake was started with), for startServer's `env`.
 */
export function parleyEnvFor(upstream, keys = DEFAULT_KEYS) {
    return {
        OPENAI_API_KEY: keys.openai,
        OPENAI_BASE_URL: `${upstream.baseUrl}/v1`,
        ANTHROPIC_API_KEY: keys.anthropic,
        ANTHROPIC_BASE_URL: upstream.baseUrl,
        GOOGLE_AI_API_KEY: keys.gemini,
        GEMINI_BASE_URL: upstream.baseUrl,
    };
}
