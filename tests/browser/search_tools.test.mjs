// Message search and tool cards in the web client. Both build on server features that arrive in
// their own issues (search: issue 11, tool calls: issue 12). The client's rendering is always
// tested; the tests against the server skip, saying why, only while the server cannot do it:
// search when GET /api/v1/search answers 404, tool cards when Parley relays no tool call from an
// upstream that makes one.
import assert from "node:assert/strict";
import http from "node:http";
import { after, before, describe, it } from "node:test";

import { waitUntil } from "../support/server.mjs";
import {
    apiToken,
    chromiumMissing,
    currentConversationId,
    launchBrowser,
    newPage,
    sendMessage,
    signUp,
    startAppServer,
    waitForAnswer,
} from "./support.mjs";

const skip = chromiumMissing();

async function api(base, token, method, route, json) {
    const res = await fetch(`${base}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(json ? { "content-type": "application/json" } : {}) },
        body: json ? JSON.stringify(json) : undefined,
    });
    const text = await res.text();
    let body;
    try {
        body = text ? JSON.parse(text) : undefined;
    } catch {
        body = text;
    }
    return { status: res.status, body, text };
}

const sse = (events) => events.map((e) => `event: ${e.type}\ndata: ${JSON.stringify(e)}\n\n`).join("");

describe("web client: search", { skip }, () => {
    let server;
    let browser;
    before(async () => {
        server = await startAppServer({ MOCK_TOKEN_DELAY_MS: "1" });
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
    });

    it("finds an older message and opens its conversation at the message", async (t) => {
        const base = server.baseUrl;
        const { page, problems, dialogs, context } = await newPage(browser, { width: 1280, height: 600 });
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        const probe = await api(base, token, "GET", "/api/v1/search?q=quokka&limit=5");
        if (probe.status === 404) {
            t.skip("GET /api/v1/search answers 404: message search (issue 11) is not in this server yet");
            await context.close();
            return;
        }
        // An older conversation where the word comes first, then more talk; then a newer one.
        const older = (await api(base, token, "POST", "/api/v1/conversations", { title: "Marsupials" })).body.data.id;
        const hit = await api(base, token, "POST", `/api/v1/conversations/${older}/messages`, { content: "The quokka <img src=x onerror=alert(1)> is a small marsupial" });
        assert.equal(hit.status, 200, hit.text);
        for (let i = 0; i < 4; i += 1) {
            await api(base, token, "POST", `/api/v1/conversations/${older}/messages`, { content: `Follow-up number ${i} about something else entirely` });
        }
        const stored = (await api(base, token, "GET", `/api/v1/conversations/${older}`)).body.data.messages;
        const target = stored.find((m) => m.role === "user" && m.content.includes("quokka"));
        await page.reload();
        await sendMessage(page, "A newer conversation about wombats");
        await waitForAnswer(page);
        const newer = await currentConversationId(page);
        assert.notEqual(newer, older);

        await page.fill("#search-input", "quokka");
        const link = page.locator(`#search-list a[data-message-id="${target.id}"]`);
        await link.waitFor({ timeout: 10_000 });
        assert.equal(await link.locator(".hit-title").textContent(), "Marsupials");
        assert.match((await link.locator(".hit-snippet mark").first().textContent()).toLowerCase(), /quokka/);
        // Only <mark> survives from a snippet.
        assert.equal(await page.locator("#search-list img, #search-list script").count(), 0);
        await link.click();
        await waitUntil(async () => (await page.evaluate(() => location.hash)) === `#/c/${older}/m/${target.id}`, { what: "the hit's address" });
        const message = page.locator(`#msg-${target.id}`);
        await message.waitFor();
        await waitUntil(async () => (await message.getAttribute("class")).includes("highlight"), { what: "the highlight" });
        assert.ok(await message.isVisible());
        const inView = await message.evaluate((el) => {
            const r = el.getBoundingClientRect();
            const box = document.getElementById("messages").getBoundingClientRect();
            return r.bottom > box.top && r.top < box.bottom;
        });
        assert.ok(inView, "the message is scrolled into view");
        assert.equal(await page.locator("#chat-title").textContent(), "Marsupials");
        assert.deepEqual(dialogs, []);
        assert.deepEqual(problems, []);
        await context.close();
    });
});

describe("web client: tool cards", { skip }, () => {
    let server;
    let browser;
    let upstream;
    let upstreamCalls = 0;

    before(async () => {
        // An OpenAI-compatible upstream that asks for a tool first, and answers in words once the
        // conversation holds a tool result.
        upstream = http.createServer(async (req, res) => {
            let raw = "";
            for await (const chunk of req) {
                raw += chunk;
            }
            upstreamCalls += 1;
            const body = JSON.parse(raw || "{}");
            const hasResult = (body.messages ?? []).some((m) => m.role === "tool");
            const chunk = (delta, finish = null) =>
                `data: ${JSON.stringify({ id: "chatcmpl-1", object: "chat.completion.chunk", created: 1, model: body.model, choices: [{ index: 0, delta, finish_reason: finish }] })}\n\n`;
            res.writeHead(200, { "content-type": "text/event-stream" });
            if (hasResult) {
                res.write(chunk({ role: "assistant", content: "It is sunny." }));
                res.write(chunk({}, "stop"));
            } else {
                res.write(chunk({ role: "assistant", tool_calls: [{ index: 0, id: "call_1", type: "function", function: { name: "get_weather", arguments: "" } }] }));
                res.write(chunk({ tool_calls: [{ index: 0, function: { arguments: '{"city":"Paris"}' } }] }));
                res.write(chunk({}, "tool_calls"));
            }
            res.end("data: [DONE]\n\n");
        });
        await new Promise((r) => upstream.listen(0, "127.0.0.1", r));
        server = await startAppServer({
            OPENAI_BASE_URL: `http://127.0.0.1:${upstream.address().port}/v1`,
            OPENAI_API_KEY: "test-key",
            LLM_MAX_RETRIES: "0",
        });
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
        await new Promise((r) => upstream?.close(r));
    });

    it("renders tool calls and results as cards, streamed and stored", async () => {
        const base = server.baseUrl;
        const { page, problems, context } = await newPage(browser);
        await signUp(page, base);
        // The answer stream as Parley sends it with tools: Anthropic's tool_use block with
        // input_json_delta pieces, and Parley's tool_result event.
        await page.route("**/api/v1/conversations/*/messages/stream", async (route) => {
            const conversationId = /conversations\/([^/]+)\//.exec(route.request().url())[1];
            const parley = { conversation_id: conversationId, user_message_id: "u-1", message_id: "a-1" };
            await route.fulfill({
                status: 200,
                headers: { "content-type": "text/event-stream" },
                body: sse([
                    { type: "message_start", message: { id: "a-1", type: "message", role: "assistant", content: [], model: "parley-mock", parley } },
                    { type: "content_block_start", index: 0, content_block: { type: "tool_use", id: "toolu_1", name: "get_weather", input: {} } },
                    { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: '{"city": "Par' } },
                    { type: "content_block_delta", index: 0, delta: { type: "input_json_delta", partial_json: 'is"}' } },
                    { type: "content_block_stop", index: 0 },
                    { type: "tool_result", tool_use_id: "toolu_1", name: "get_weather", result: { temp_c: 21, sky: "<b>clear</b>" } },
                    { type: "content_block_start", index: 1, content_block: { type: "text", text: "" } },
                    { type: "content_block_delta", index: 1, delta: { type: "text_delta", text: "It is 21 °C in Paris." } },
                    { type: "content_block_stop", index: 1 },
                    { type: "message_delta", delta: { stop_reason: "end_turn" }, usage: { output_tokens: 9 }, parley: { ...parley, status: "complete" } },
                    { type: "message_stop" },
                ]),
            });
        });
        await sendMessage(page, "Weather in Paris?");
        const card = page.locator(".msg-assistant .tool-card").first();
        await card.waitFor();
        await waitForAnswer(page);
        assert.equal(await card.locator(".tool-name").textContent(), "get_weather");
        await card.locator("summary").click();
        assert.deepEqual(JSON.parse(await card.locator(".tool-args").textContent()), { city: "Paris" });
        assert.deepEqual(JSON.parse(await card.locator(".tool-result").textContent()), { temp_c: 21, sky: "<b>clear</b>" });
        assert.equal(await card.locator("b").count(), 0, "results are text");
        assert.match(await page.locator(".msg-assistant .msg-body").last().textContent(), /21 °C in Paris/);
        await page.unroute("**/api/v1/conversations/*/messages/stream");

        // A stored answer with metadata.tool_calls / tool_results renders the same cards.
        const id = await currentConversationId(page);
        await page.route(`**/api/v1/conversations/${id}`, async (route) => {
            const now = new Date().toISOString();
            await route.fulfill({
                status: 200,
                headers: { "content-type": "application/json" },
                body: JSON.stringify({
                    status: "success",
                    data: {
                        id, title: "Weather", model: "parley-mock", system_prompt: null, metadata: {}, settings: {}, is_archived: false, is_pinned: false, created_at: now, updated_at: now,
                        messages: [
                            { id: "u-1", conversation_id: id, role: "user", content: "Weather in Paris?", status: "complete", created_at: now, metadata: {} },
                            {
                                id: "a-1", conversation_id: id, role: "assistant", content: "It is 21 °C.", status: "complete", model: "parley-mock", created_at: now,
                                metadata: {
                                    tool_calls: [{ id: "toolu_9", name: "lookup_city", arguments: { name: "Paris" } }],
                                    tool_results: [{ tool_use_id: "toolu_9", name: "lookup_city", result: "Paris, France" }],
                                },
                            },
                        ],
                    },
                }),
            });
        });
        await page.reload();
        const stored = page.locator("#msg-a-1 .tool-card");
        await stored.waitFor();
        assert.equal(await stored.locator(".tool-name").textContent(), "lookup_city");
        assert.deepEqual(JSON.parse(await stored.locator(".tool-args").textContent()), { name: "Paris" });
        assert.equal(await stored.locator(".tool-result").textContent(), "Paris, France");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("shows the tool calls Parley relays from a provider", async (t) => {
        const base = server.baseUrl;
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        // Does this server relay a provider's tool call at all? Ask it once directly.
        const conv = (await api(base, token, "POST", "/api/v1/conversations", { model: "gpt-4o-mini" })).body.data.id;
        const probe = await api(base, token, "POST", `/api/v1/conversations/${conv}/messages/stream`, { content: "Weather in Paris?" });
        const blocks = probe.text
            .split("\n")
            .filter((line) => line.startsWith("data: {"))
            .map((line) => JSON.parse(line.slice(6)))
            .filter((e) => e.type === "content_block_start" && e.content_block?.type === "tool_use");
        if (blocks.length === 0) {
            t.skip(`Parley does not relay tool calls yet (issue 12): the stream for an upstream tool call had no tool_use block (HTTP ${probe.status})`);
            await context.close();
            return;
        }
        await page.selectOption("#model-select", "gpt-4o-mini");
        await sendMessage(page, "Weather in Paris, please?");
        const card = page.locator(".msg-assistant").last().locator(".tool-card");
        await card.first().waitFor({ timeout: 15_000 });
        await waitForAnswer(page);
        assert.equal(await card.first().locator(".tool-name").textContent(), "get_weather");
        await card.first().locator("summary").click();
        assert.match(await card.first().locator(".tool-args").textContent(), /Paris/);
        assert.ok(upstreamCalls >= 1);
        assert.deepEqual(problems, []);
        await context.close();
    });
});
