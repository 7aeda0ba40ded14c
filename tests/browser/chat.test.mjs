// The chat page in a real browser (Debian's Chromium through playwright-core) against the real
// binary and its mock model: sign-up, token-by-token streaming, Stop, reload, a second tab fed
// live, the model picker, thinking, errors in place with retry, and model output that never runs.
import assert from "node:assert/strict";
import net from "node:net";
import { after, before, describe, it } from "node:test";

import { waitUntil } from "../support/server.mjs";
import {
    apiToken,
    chromiumMissing,
    currentConversationId,
    launchBrowser,
    newPage,
    sendMessage,
    signIn,
    signUp,
    startAppServer,
    waitForAnswer,
} from "./support.mjs";

const skip = chromiumMissing();

async function getConversation(base, token, id) {
    const res = await fetch(`${base}/api/v1/conversations/${id}`, { headers: { authorization: `Bearer ${token}` } });
    assert.equal(res.status, 200);
    return (await res.json()).data;
}

// Records every text the last answer showed, from the page itself (a MutationObserver), so that
// no intermediate state is missed between two polls.
async function recordAnswerTexts(page) {
    await page.evaluate(() => {
        window.__seen = [];
        const log = document.getElementById("messages");
        new MutationObserver(() => {
            const bodies = log.querySelectorAll(".msg-assistant .msg-body");
            const text = bodies.length ? bodies[bodies.length - 1].textContent : "";
            if (window.__seen[window.__seen.length - 1] !== text) {
                window.__seen.push(text);
            }
        }).observe(log, { subtree: true, childList: true, characterData: true });
    });
}

describe("web client: chat", { skip }, () => {
    let server;
    let browser;
    let base;

    before(async () => {
        server = await startAppServer();
        base = server.baseUrl;
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
    });

    it("signs up, streams an answer token by token, and keeps it across a reload", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        assert.equal(await page.locator("#user-email").textContent(), email);
        await recordAnswerTexts(page);

        await sendMessage(page, "Tell me about streaming please");
        // The user's message shows at once, before the answer.
        await page.locator(".msg-user", { hasText: "Tell me about streaming please" }).waitFor();
        await page.locator("#stop-button").waitFor({ state: "visible" });
        await waitForAnswer(page);

        const final = (await page.locator(".msg-assistant .msg-body").last().textContent()).trim();
        assert.match(final, /You said: "Tell me about streaming please"/);
        const seen = await page.evaluate(() => window.__seen);
        const partials = [...new Set(seen.map((t) => t.trim()))].filter((t) => t.length > 0 && t !== final);
        assert.ok(partials.length >= 3, `at least three partial texts before the end, saw ${JSON.stringify(partials)}`);
        for (const p of partials) {
            assert.ok(final.startsWith(p), `partial ${JSON.stringify(p)} is a prefix of the answer`);
        }
        assert.equal(await page.locator(".msg-assistant").last().getAttribute("data-status"), "complete");

        // The page's URL names the new conversation; a reload (which signs back in from the
        // tab's refresh token) shows the same history.
        const id = await currentConversationId(page);
        await page.reload();
        await page.locator(`.msg-assistant .msg-body`, { hasText: final.slice(0, 40) }).waitFor();
        assert.equal(await page.locator(".msg-user").count(), 1);
        assert.equal(await page.locator(".msg-assistant").count(), 1);
        assert.equal(await currentConversationId(page), id);
        // The sidebar lists it, titled from the first message.
        await page.locator(`#conv-list li[data-id="${id}"]`, { hasText: "Tell me about streaming" }).waitFor();
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("Stop (Esc) ends the answer mid-way and the partial answer stays, marked partial", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        await sendMessage(page, "A question whose answer I will stop");
        const body = page.locator(".msg-assistant .msg-body").last();
        await waitUntil(async () => ((await body.textContent()) ?? "").length > 30, { timeoutMs: 10_000, what: "some of the answer" });
        await page.keyboard.press("Escape");
        await page.locator("#send-button").waitFor({ state: "visible" });
        const article = page.locator(".msg-assistant").last();
        assert.equal(await article.getAttribute("data-status"), "partial");
        await article.locator(".badge-partial", { hasText: "Partial answer" }).waitFor();
        const shown = (await body.textContent()).trim();
        assert.ok(shown.length > 0);
        assert.doesNotMatch(shown, /for real answers\.$/, "the answer was cut before its end");

        // The server stored what was produced, as partial; a reload shows it so.
        const id = await currentConversationId(page);
        const token = await apiToken(base, email);
        const stored = await waitUntil(async () => {
            const conv = await getConversation(base, token, id);
            return conv.messages.find((m) => m.role === "assistant");
        }, { what: "the stored partial answer" });
        assert.equal(stored.status, "partial");
        assert.ok(stored.content.startsWith(shown), `stored ${JSON.stringify(stored.content)} starts with ${JSON.stringify(shown)}`);
        await page.reload();
        const again = page.locator(`#msg-${stored.id}`);
        await again.waitFor();
        assert.equal(await again.getAttribute("data-status"), "partial");
        await again.locator(".badge-partial").waitFor();
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("a second tab sees new messages and the title live, without reloading", async () => {
        const a = await newPage(browser);
        const email = await signUp(a.page, base);
        // An untitled conversation, open in both tabs before anything is said.
        const token = await apiToken(base, email);
        const created = await fetch(`${base}/api/v1/conversations`, {
            method: "POST",
            headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
            body: "{}",
        });
        const id = (await created.json()).data.id;
        const b = await newPage(browser);
        await signIn(b.page, base, email);
        await b.page.goto(`${base}/app/#/c/${id}`);
        await b.page.locator("#chat-title", { hasText: "Untitled" }).waitFor();
        await a.page.goto(`${base}/app/#/c/${id}`);
        await a.page.locator("#chat-title", { hasText: "Untitled" }).waitFor();
        // Let both feeds open before anything happens.
        await a.page.waitForTimeout(300);

        await sendMessage(a.page, "Live message about otters");
        await b.page.locator(".msg-user", { hasText: "Live message about otters" }).waitFor({ timeout: 10_000 });
        await b.page.locator(".msg-assistant", { hasText: 'You said: "Live message about otters"' }).waitFor({ timeout: 15_000 });
        await b.page.locator("#chat-title", { hasText: "Live message about otters" }).waitFor({ timeout: 10_000 });
        await b.page.locator(`#conv-list li[data-id="${id}"]`, { hasText: "Live message about otters" }).waitFor({ timeout: 10_000 });
        assert.equal(await b.page.locator(".msg-user").count(), 1);
        assert.equal(await b.page.locator(".msg-assistant").count(), 1);
        // The sending tab shows each message once too.
        await waitForAnswer(a.page);
        assert.equal(await a.page.locator(".msg").count(), 2);
        assert.deepEqual(a.problems, []);
        assert.deepEqual(b.problems, []);
        await a.context.close();
        await b.context.close();
    });

    it("model picker: unavailable models are disabled with the reason; the chosen model answers", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        const options = await page.locator("#model-select option").evaluateAll((os) =>
            os.map((o) => ({ value: o.value, disabled: o.disabled, text: o.textContent, title: o.title }))
        );
        assert.deepEqual(options.map((o) => o.value).sort(), ["gpt-4o-mini", "llama-3.1-8b-instant", "parley-mock", "parley-mock-fast"]);
        const gpt = options.find((o) => o.value === "gpt-4o-mini");
        assert.equal(gpt.disabled, true);
        assert.match(gpt.text, /unavailable: the server has no OPENAI_API_KEY/);
        assert.match(options.find((o) => o.value === "llama-3.1-8b-instant").text, /GROQ_API_KEY/);
        assert.equal(options.find((o) => o.value === "parley-mock").disabled, false);
        assert.equal(await page.locator("#model-select").inputValue(), "parley-mock", "the default model is preselected");

        await page.selectOption("#model-select", "parley-mock-fast");
        assert.equal(await page.locator("#thinking-toggle").isDisabled(), true, "Mock B cannot think");
        await sendMessage(page, "Which model are you");
        await waitForAnswer(page);
        await page.locator(".msg-assistant .msg-model", { hasText: "parley-mock-fast" }).waitFor();
        const conv = await getConversation(base, await apiToken(base, email), await currentConversationId(page));
        assert.equal(conv.model, "parley-mock-fast");
        assert.equal(conv.messages.find((m) => m.role === "assistant").model, "parley-mock-fast");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("thinking streams into a collapsible block, and a system prompt is kept per conversation", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        await openSystemPanel(page);
        await page.fill("#system-input", "You are terse.");
        await page.click("#system-panel button[type=submit]");
        await page.locator("#system-status", { hasText: "Saved" }).waitFor();

        await page.check("#thinking-toggle");
        await sendMessage(page, "Think about penguins");
        const thinking = page.locator(".msg-assistant .thinking").last();
        await thinking.waitFor();
        await waitForAnswer(page);
        assert.equal(await thinking.evaluate((d) => d.open), false, "collapsed by default");
        assert.equal(await thinking.locator(".thinking-body").isVisible(), false);
        await thinking.locator("summary").click();
        await thinking.locator(".thinking-body", { hasText: 'The user asked: "Think about penguins"' }).waitFor();
        assert.ok(await thinking.locator(".thinking-body").isVisible());

        const id = await currentConversationId(page);
        const conv = await getConversation(base, await apiToken(base, email), id);
        assert.equal(conv.system_prompt, "You are terse.");
        assert.match(conv.messages.find((m) => m.role === "assistant").thinking, /Think about penguins/);
        // After a reload the thinking is still there, still folded.
        await page.reload();
        const again = page.locator(".msg-assistant .thinking").last();
        await again.waitFor();
        assert.equal(await again.evaluate((d) => d.open), false);
        await openSystemPanel(page);
        assert.equal(await page.locator("#system-input").inputValue(), "You are terse.");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("model output is never executed: raw HTML is text, javascript: links are dead", async () => {
        const { page, problems, dialogs, requests, context } = await newPage(browser);
        await signUp(page, base);
        const payload = "<img src=x onerror=alert(1)> then [click me](javascript:alert(1)) and <script>alert(2)</script> **bold**";
        await sendMessage(page, payload);
        await waitForAnswer(page);
        const answer = page.locator(".msg-assistant .msg-body").last();
        const text = await answer.textContent();
        assert.match(text, /<img src=x onerror=alert\(1\)>/, "the tag is shown as text");
        assert.match(text, /<script>alert\(2\)<\/script>/);
        const check = async () => {
            const found = await page.evaluate(() => {
                const log = document.getElementById("messages");
                return {
                    img: log.querySelectorAll("img").length,
                    script: log.querySelectorAll("script").length,
                    handlers: [...log.querySelectorAll("*")].filter((el) => [...el.attributes].some((a) => a.name.startsWith("on"))).length,
                    jsLinks: [...log.querySelectorAll("a")].filter((a) => /^\s*javascript:/i.test(a.getAttribute("href") ?? "")).length,
                    bold: log.querySelectorAll(".msg-assistant strong").length,
                };
            });
            assert.deepEqual(found, { img: 0, script: 0, handlers: 0, jsLinks: 0, bold: 1 }, "markdown renders, nothing active");
        };
        await check();
        // Clicking the would-be link does nothing.
        await answer.locator("a", { hasText: "click me" }).click();
        await page.waitForTimeout(200);
        await page.reload();
        await page.locator(".msg-assistant .msg-body", { hasText: "click me" }).waitFor();
        await check();
        await page.waitForTimeout(200);
        assert.deepEqual(dialogs, [], "no alert ever opened");
        assert.deepEqual(requests.filter((u) => /\/x(\?|$)/.test(new URL(u).pathname + new URL(u).search)), [], "no request for x");
        assert.deepEqual(problems, []);
        await context.close();
    });
});

// Opens the system prompt panel; a click the page was not ready for (just after sign-in or a
// reload) is made again.
async function openSystemPanel(page) {
    await waitUntil(async () => {
        if (await page.locator("#system-input").isVisible()) {
            return true;
        }
        await page.click("#system-toggle");
        return false;
    }, { timeoutMs: 10_000, intervalMs: 300, what: "the system prompt panel to open" });
}

// A provider that is "down": it accepts connections and drops them at once. (A port closed again
// after picking it could be taken by another test's server meanwhile, which then answers nothing
// and turns the outage into a 30 s first-token timeout.)
async function deadProvider() {
    const srv = net.createServer((socket) => socket.destroy());
    await new Promise((r) => srv.listen(0, "127.0.0.1", r));
    return srv;
}

describe("web client: errors in place", { skip }, () => {
    let server;
    let browser;
    let provider;

    before(async () => {
        provider = await deadProvider();
        server = await startAppServer({
            RATE_LIMIT_AI: "2",
            OPENAI_BASE_URL: `http://127.0.0.1:${provider.address().port}/v1`,
            LLM_MAX_RETRIES: "0",
            LLM_CONNECT_TIMEOUT_S: "2",
        });
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
        provider?.close();
    });

    it("shows a provider outage and the rate limit with its retry time, each with a Retry button", async () => {
        const { page, problems, context } = await newPage(browser);
        await signUp(page, server.baseUrl);
        // The provider is configured (so the model is available) but down.
        await page.selectOption("#model-select", "gpt-4o-mini");
        await sendMessage(page, "Hello down provider");
        const failed = page.locator(".msg-assistant").last();
        await failed.locator(".badge-error").waitFor({ timeout: 15_000 });
        assert.match(await failed.locator(".status-text").textContent(), /provider/i);
        assert.ok(await failed.locator("button.retry").isEnabled());

        // Back to a working model; the second model call of the minute is the last allowed.
        await page.selectOption("#model-select", "parley-mock");
        await page.waitForTimeout(200);
        await sendMessage(page, "Second message");
        await waitForAnswer(page);
        assert.equal(await page.locator(".msg-assistant").last().getAttribute("data-status"), "complete");

        await sendMessage(page, "Third message, over the limit");
        const limited = page.locator(".msg-assistant").last();
        await limited.locator(".badge-error").waitFor();
        assert.match(await limited.locator(".status-text").textContent(), /Rate limit/);
        assert.match(await limited.locator(".retry-note").textContent(), /Try again in \d+ s/);
        assert.equal(await limited.locator("button.retry").isDisabled(), true, "Retry waits for the limit");
        // Errors are announced to screen readers.
        assert.equal(await limited.locator(".msg-status").getAttribute("role"), "alert");
        // Failed resource loads (the 429 itself) are expected here; nothing else.
        assert.deepEqual(problems, []);
        await context.close();
    });
});
