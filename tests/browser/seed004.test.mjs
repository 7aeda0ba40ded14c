// Seed 004's protocol in a real browser: tests/browser/seed004/index.html, a small page that speaks
// it the way the seed's frontend does (connect to /ws/session/{id}?user_id=…, send {"message": …},
// tokens into the current assistant bubble, tool_call / tool_result shown in that bubble, the
// bubble closed on `done`), served by this test from another loopback origin and allowed by
// ALLOWED_ORIGINS; Parley in AUTH_MODE=open on its mock model (which calls the seed's tools).
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import http from "node:http";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { after, before, describe, it } from "node:test";

import { startServer, waitUntil } from "../support/server.mjs";
import { chromiumMissing, launchBrowser, newPage } from "./support.mjs";

const skip = chromiumMissing();
const PAGE = readFileSync(path.join(path.dirname(fileURLToPath(import.meta.url)), "seed004", "index.html"));

/** Serves the page at / on 127.0.0.1; resolves `{ port, close }`. */
async function servePage() {
    const server = http.createServer((req, res) => {
        if (new URL(req.url, "http://x").pathname !== "/") {
            res.writeHead(404).end();
            return;
        }
        res.writeHead(200, { "content-type": "text/html; charset=utf-8" }).end(PAGE);
    });
    await new Promise((resolve) => server.listen(0, "127.0.0.1", resolve));
    return { port: server.address().port, close: () => new Promise((r) => server.close(r)) };
}

describe("seed 004 page in a browser (AUTH_MODE=open, mock model)", { skip }, () => {
    let pages;
    let server;
    let browser;

    before(async () => {
        pages = await servePage();
        server = await startServer({
            env: {
                AUTH_MODE: "open",
                ALLOWED_ORIGINS: `http://127.0.0.1:${pages.port}`,
                MOCK_TOKEN_DELAY_MS: "15",
                RATE_LIMIT_AI: "1000",
                RATE_LIMIT_STANDARD: "5000",
                ACCESS_LOG: "false",
            },
        });
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
        await pages?.close();
    });

    /** Opens the page from `origin`, starts a session; returns { page, problems, frames }. */
    async function openSession(origin, session) {
        const { page, problems } = await newPage(browser);
        const frames = [];
        page.on("websocket", (ws) => ws.on("framereceived", (f) => frames.push(JSON.parse(f.payload))));
        await page.goto(`${origin}/?server=ws://127.0.0.1:${server.port}`);
        await page.fill("#session", session);
        await page.fill("#user", "web-guest");
        await page.click("#start");
        return { page, problems, frames };
    }

    async function send(page, text) {
        await page.locator("#send:not([disabled])").waitFor();
        await page.fill("#input", text);
        await page.click("#send");
    }

    it("“What is Python?” shows a tool call, its result and a streamed answer in one bubble; the next turn gets a new bubble", async () => {
        const { page, problems, frames } = await openSession(`http://127.0.0.1:${pages.port}`, `py-${Date.now()}`);
        await page.locator("#status", { hasText: /^connected$/ }).waitFor();
        // Watch the bubble while it streams: the answer must grow token by token.
        await page.evaluate(() => {
            window.__lengths = [];
            new MutationObserver(() => {
                const text = document.querySelector(".assistant .text");
                if (text && window.__lengths.at(-1) !== text.textContent.length) {
                    window.__lengths.push(text.textContent.length);
                }
            }).observe(document.getElementById("messages"), { subtree: true, childList: true, characterData: true });
        });
        await send(page, "What is Python?");
        const first = page.locator(".assistant").nth(0);
        await page.locator(".assistant.done").first().waitFor({ timeout: 15_000 });

        assert.equal(await page.locator(".assistant").count(), 1, "one bubble for the whole turn");
        assert.equal(await first.locator(".tool-call").count(), 1);
        assert.match(await first.locator(".tool-call").textContent(), /fetch_internal_knowledge\(\{"topic":"python"\}\)/);
        assert.equal(await first.locator(".tool-result").count(), 1);
        assert.match(await first.locator(".tool-result").textContent(), /fetch_internal_knowledge: .*Python/);
        const answer = await first.locator(".text").textContent();
        assert.match(answer, /^According to the knowledge base: .*Python/);
        const tokens = Number(await first.getAttribute("data-tokens"));
        assert.ok(tokens >= 5, `streamed token by token (${tokens} tokens)`);
        const lengths = await page.evaluate(() => window.__lengths);
        assert.ok(lengths.length >= 5 && lengths.at(-1) === answer.length, `the bubble grew as tokens came: ${lengths}`);
        // What the server sent, in the order the page showed it.
        const kinds = frames.map((f) => f.type);
        assert.ok(kinds.indexOf("tool_call") < kinds.indexOf("tool_result"), kinds.join(","));
        assert.ok(kinds.indexOf("tool_result") < kinds.indexOf("token"), kinds.join(","));
        assert.equal(kinds.at(-1), "done");
        assert.equal(frames.filter((f) => f.type === "token").map((f) => f.content).join(""), answer);

        await send(page, "thanks");
        await waitUntil(async () => (await page.locator(".assistant.done").count()) === 2, { timeoutMs: 15_000, what: "the second answer" });
        const bubbles = page.locator(".assistant");
        assert.equal(await bubbles.count(), 2, "the second turn lands in a new bubble");
        assert.match(await bubbles.nth(1).locator(".text").textContent(), /thanks/);
        assert.equal(await bubbles.nth(1).locator(".tool-call").count(), 0);
        assert.equal(await first.locator(".text").textContent(), answer, "the first bubble is left as it was");
        assert.deepEqual(await page.locator(".user").allTextContents(), ["What is Python?", "thanks"]);
        assert.equal(await page.locator(".error").count(), 0);
        assert.deepEqual(problems, []);
        await page.context().close();
    });

    it("the same page from an origin not in ALLOWED_ORIGINS cannot open the session", async () => {
        // localhost is another origin than 127.0.0.1 for the browser, and it is not allowed.
        const { page, problems, frames } = await openSession(`http://localhost:${pages.port}`, `foreign-${Date.now()}`);
        await page.locator("#status", { hasText: /^disconnected$/ }).waitFor({ timeout: 10_000 });
        assert.equal(await page.locator("#input").isDisabled(), true);
        assert.deepEqual(frames, []);
        // Chromium reports the refused handshake on the console: Parley answered 403.
        await waitUntil(() => problems.some((p) => /Unexpected response code: 403/.test(p)), { what: `a 403 handshake: ${problems}` });
        await page.context().close();
    });
});
