// The rest of the web client in a real browser: the page's security headers, the sidebar (cursor
// pages on scroll, pin, rename, archive, delete), the usage chart against /usage/stats, API keys,
// one user never seeing another's conversations, the layout from 360 px to 1280 px, and open mode.
import assert from "node:assert/strict";
import { after, before, describe, it } from "node:test";

import { waitUntil } from "../support/server.mjs";
import {
    apiToken,
    assertNoHorizontalOverflow,
    chromiumMissing,
    launchBrowser,
    newPage,
    sendMessage,
    signIn,
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
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

describe("web client: serving", () => {
    let server;
    before(async () => {
        server = await startAppServer();
    });
    after(async () => {
        await server?.stop();
    });

    it("GET /app/ is the page, under a strict Content-Security-Policy and no framing", async () => {
        const res = await fetch(`${server.baseUrl}/app/`);
        assert.equal(res.status, 200);
        assert.match(res.headers.get("content-type"), /^text\/html/);
        const html = await res.text();
        assert.match(html, /<script type="module" src="app\.js"><\/script>/);
        assert.doesNotMatch(html, /<script>|<script [^>]*>[^<]+<\/script>|\son[a-z]+=|style=/i, "no inline script, handler or style");
        assert.doesNotMatch(html, /https?:\/\//, "nothing from another origin");
        const csp = res.headers.get("content-security-policy");
        assert.match(csp, /default-src 'none'/);
        assert.match(csp, /script-src 'self'(;|$)/);
        assert.match(csp, /frame-ancestors 'none'/);
        assert.match(csp, /object-src 'none'/);
        assert.doesNotMatch(csp, /unsafe-inline|unsafe-eval|\*/);
        assert.equal(res.headers.get("x-frame-options"), "DENY");
        assert.equal(res.headers.get("x-content-type-options"), "nosniff");
    });

    it("serves the modules and the two libraries from the binary, and 404s the rest", async () => {
        for (const file of ["app.js", "api.js", "chat.js", "sidebar.js", "markdown.js", "marked.esm.js", "purify.es.mjs", "app.css"]) {
            const res = await fetch(`${server.baseUrl}/app/${file}`);
            assert.equal(res.status, 200, file);
            assert.match(res.headers.get("content-type"), file.endsWith(".css") ? /^text\/css/ : /^text\/javascript/, file);
            assert.ok(res.headers.get("content-security-policy"), file);
            assert.equal(res.headers.get("cache-control"), "no-cache", file);
            assert.ok((await res.text()).length > 100, file);
        }
        const missing = await fetch(`${server.baseUrl}/app/nope.js`);
        assert.equal(missing.status, 404);
        assert.equal((await missing.json()).error.type, "not_found_error");
        const redirect = await fetch(`${server.baseUrl}/app`, { redirect: "manual" });
        assert.equal(redirect.status, 308);
        assert.equal(redirect.headers.get("location"), "/app/");
        const info = await (await fetch(`${server.baseUrl}/`)).json();
        assert.equal(info.data.links.app, "/app/");
    });
});

describe("web client: pages", { skip }, () => {
    let server;
    let browser;
    let base;

    before(async () => {
        server = await startAppServer({ MOCK_TOKEN_DELAY_MS: "2" });
        base = server.baseUrl;
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
    });

    it("sidebar: pages in on scroll, pinned first; rename, archive and delete (confirmed)", async () => {
        const { page, problems, context } = await newPage(browser, { width: 1280, height: 700 });
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        const ids = [];
        for (let i = 1; i <= 45; i += 1) {
            const { body } = await api(base, token, "POST", "/api/v1/conversations", { title: `Topic ${String(i).padStart(2, "0")}` });
            ids.push(body.data.id);
        }
        await page.reload();
        const items = page.locator("#conv-list li");
        await waitUntil(async () => (await items.count()) >= 20, { what: "the first page" });
        assert.ok((await items.count()) < 45, "not everything at once");
        assert.equal(await items.first().locator(".conv-title").textContent(), "Topic 45", "newest first");
        // Scrolling to the end loads the following pages (cursor API).
        await waitUntil(
            async () => {
                await page.locator("#sidebar").evaluate((el) => el.scrollTo(0, el.scrollHeight));
                return (await items.count()) === 45;
            },
            { timeoutMs: 15_000, intervalMs: 200, what: "every page of the list" }
        );
        const titles = await page.locator("#conv-list .conv-title").allTextContents();
        assert.deepEqual(titles, Array.from({ length: 45 }, (_, i) => `Topic ${String(45 - i).padStart(2, "0")}`));

        // Pin an old one: it goes to the top.
        const old = page.locator(`#conv-list li[data-id="${ids[2]}"]`);
        await old.locator("summary").click();
        await old.locator("button[data-action=pin]").click();
        await waitUntil(async () => (await items.first().getAttribute("data-id")) === ids[2], { what: "the pinned one on top" });
        assert.ok(await items.first().locator(".pin").count());

        // Rename inline.
        const second = page.locator(`#conv-list li[data-id="${ids[44]}"]`);
        await second.locator("summary").click();
        await second.locator("button[data-action=rename]").click();
        await page.locator("#conv-list input.rename").fill("Renamed topic");
        await page.keyboard.press("Enter");
        await page.locator(`#conv-list li[data-id="${ids[44]}"] .conv-title`, { hasText: "Renamed topic" }).waitFor();
        assert.equal((await api(base, token, "GET", `/api/v1/conversations/${ids[44]}`)).body.data.title, "Renamed topic");

        // Archive: it leaves the list and shows under "Archived".
        const third = page.locator(`#conv-list li[data-id="${ids[43]}"]`);
        await third.locator("summary").click();
        await third.locator("button[data-action=archive]").click();
        await third.waitFor({ state: "detached" });
        await page.check("#show-archived");
        await page.locator(`#conv-list li[data-id="${ids[43]}"]`).waitFor();
        assert.equal(await items.count(), 1);
        await page.uncheck("#show-archived");
        await waitUntil(async () => (await items.count()) >= 20, { what: "the list again" });

        // Delete asks first; Cancel keeps it, Delete removes it.
        const victim = page.locator(`#conv-list li[data-id="${ids[42]}"]`);
        await victim.locator("summary").click();
        await victim.locator("button[data-action=delete]").click();
        await page.locator("#confirm-dialog[open]").waitFor();
        assert.match(await page.locator("#confirm-text").textContent(), /Delete “Topic 43”/);
        await page.click("#confirm-cancel");
        assert.equal((await api(base, token, "GET", `/api/v1/conversations/${ids[42]}`)).status, 200);
        await victim.locator("summary").click();
        await victim.locator("button[data-action=delete]").click();
        await page.click("#confirm-ok");
        await victim.waitFor({ state: "detached" });
        assert.equal((await api(base, token, "GET", `/api/v1/conversations/${ids[42]}`)).status, 404);
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("usage: the totals and the SVG bars add up to /usage/stats", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        await sendMessage(page, "First priced question");
        await waitForAnswer(page);
        await page.selectOption("#model-select", "parley-mock-fast");
        await sendMessage(page, "Second priced question, other model");
        await waitForAnswer(page);
        const stats = (await api(base, await apiToken(base, email), "GET", "/api/v1/usage/stats")).body.data;
        assert.ok(stats.estimated_cost_usd > 0);

        await page.click("#nav-usage");
        await page.locator("#day-chart").waitFor();
        const shown = Object.fromEntries(
            await page.locator("#usage-totals .total").evaluateAll((ts) => ts.map((t) => [t.dataset.total, t.querySelector("dd").textContent]))
        );
        const n = (x) => x.toLocaleString("en-US");
        assert.equal(shown.messages, n(stats.message_count));
        assert.equal(shown.conversations, n(stats.conversation_count));
        assert.equal(shown.input, n(stats.total_input_tokens));
        assert.equal(shown.output, n(stats.total_output_tokens));
        assert.equal(shown.tokens, n(stats.total_input_tokens + stats.total_output_tokens));
        assert.equal(Number(shown.cost.replace("$", "")), stats.estimated_cost_usd);

        const days = await page.locator("#day-chart g.bar").evaluateAll((gs) =>
            gs.map((g) => ({ input: Number(g.dataset.input), output: Number(g.dataset.output), heights: [...g.querySelectorAll("rect")].map((r) => Number(r.getAttribute("height"))) }))
        );
        assert.equal(days.length, stats.by_day.length);
        assert.equal(days.reduce((a, d) => a + d.input, 0), stats.total_input_tokens);
        assert.equal(days.reduce((a, d) => a + d.output, 0), stats.total_output_tokens);
        assert.ok(days.every((d) => d.heights.every((hgt) => hgt > 0)), "every bar is drawn");
        const models = await page.locator("#model-chart g.bar").evaluateAll((gs) => gs.map((g) => ({ model: g.dataset.model, tokens: Number(g.dataset.tokens), cost: Number(g.dataset.cost) })));
        assert.deepEqual(models.map((m) => m.model).sort(), ["parley-mock", "parley-mock-fast"]);
        assert.equal(models.reduce((a, m) => a + m.tokens, 0), stats.total_input_tokens + stats.total_output_tokens);
        assert.ok(Math.abs(models.reduce((a, m) => a + m.cost, 0) - stats.estimated_cost_usd) < 1e-9);
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("API keys: created with scopes and expiry, the secret shown once and copied, then revoked", async () => {
        const { page, problems, context } = await newPage(browser);
        await context.grantPermissions(["clipboard-read", "clipboard-write"], { origin: base });
        await signUp(page, base);
        await page.click("#nav-keys");
        await page.locator("#key-rows").waitFor();
        await page.fill("#key-name", "ci script");
        await page.uncheck("#key-form input[value=write]");
        await page.selectOption("#key-expiry", "7");
        await page.click("#key-form button[type=submit]");
        await page.locator("#key-secret").waitFor({ state: "visible" });
        const secret = await page.locator("#key-secret-value").textContent();
        assert.match(secret, /^prly_/);
        await page.click("#key-copy");
        await page.locator("#key-copy", { hasText: "Copied" }).waitFor();
        assert.equal(await page.evaluate(() => navigator.clipboard.readText()), secret);

        const row = page.locator("#key-rows tr", { hasText: "ci script" });
        await row.waitFor();
        assert.match(await row.textContent(), /read/);
        assert.doesNotMatch(await row.textContent(), /write/);
        assert.doesNotMatch(await row.textContent(), /never/, "it expires");
        assert.ok(!(await row.textContent()).includes(secret), "the list never shows the secret");
        // The key works, read-only.
        const me = await fetch(`${base}/api/v1/auth/me`, { headers: { "x-api-key": secret } });
        assert.equal(me.status, 200);
        // Done hides the secret for good.
        await page.click("#key-secret-close");
        assert.equal(await page.locator("#key-secret").isVisible(), false);
        assert.equal(await page.locator("#key-secret-value").textContent(), "");

        await row.locator("button", { hasText: "Revoke" }).click();
        await page.locator("#confirm-dialog[open]").waitFor();
        await page.click("#confirm-ok");
        await row.waitFor({ state: "detached" });
        const after = await fetch(`${base}/api/v1/auth/me`, { headers: { "x-api-key": secret } });
        assert.equal(after.status, 401);
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("another user never sees the first user's conversations", async () => {
        const a = await newPage(browser);
        await signUp(a.page, base);
        await sendMessage(a.page, "Alice's secret plan about zeppelins");
        await waitForAnswer(a.page);
        const id = /#\/c\/([^/]+)/.exec(await a.page.evaluate(() => location.hash))[1];

        const b = await newPage(browser);
        await signUp(b.page, base);
        await b.page.locator("#conv-status", { hasText: "No conversations yet" }).waitFor();
        assert.equal(await b.page.locator("#conv-list li").count(), 0);
        // Even with the address of Alice's conversation.
        await b.page.goto(`${base}/app/#/c/${id}`);
        await b.page.locator("#chat-title", { hasText: "Not your conversation" }).waitFor();
        assert.equal(await b.page.locator(".msg").count(), 0);
        assert.doesNotMatch(await b.page.locator("body").innerText(), /zeppelin/);
        assert.deepEqual(a.problems, []);
        await a.context.close();
        await b.context.close();
    });

    for (const [width, height] of [[360, 740], [1280, 860]]) {
        it(`layout at ${width} px: nothing wider than the screen, every page usable`, async () => {
            const { page, problems, context } = await newPage(browser, { width, height });
            await signUp(page, base);
            await sendMessage(page, `A long line: ${"x".repeat(120)} and code \`${"y".repeat(80)}\``);
            await waitForAnswer(page);
            await assertNoHorizontalOverflow(page, `chat at ${width}`);
            assert.ok(await page.locator("#composer-input").isVisible());
            assert.ok(await page.locator("#send-button").isVisible());
            if (width < 760) {
                // The sidebar is a drawer behind the menu button.
                assert.equal(await page.locator("#new-chat").isVisible(), false);
                await page.click("#menu-toggle");
                await page.locator("#new-chat").waitFor({ state: "visible" });
                assert.equal(await page.locator("#menu-toggle").getAttribute("aria-expanded"), "true");
                await assertNoHorizontalOverflow(page, `drawer at ${width}`);
                await page.keyboard.press("Escape");
                await page.locator("#new-chat").waitFor({ state: "hidden" });
            } else {
                assert.ok(await page.locator("#new-chat").isVisible());
            }
            await page.click("#nav-usage");
            await page.locator("#day-chart").waitFor();
            await assertNoHorizontalOverflow(page, `usage at ${width}`);
            await page.click("#nav-keys");
            await page.locator("#key-rows tr").first().waitFor();
            await assertNoHorizontalOverflow(page, `keys at ${width}`);
            assert.deepEqual(problems, []);
            await context.close();
        });
    }

    it("signing out revokes the session: a reload shows the sign-in page", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        await page.click("#sign-out");
        await page.locator("#auth-view").waitFor({ state: "visible" });
        assert.equal(await page.evaluate(() => sessionStorage.length), 0);
        await page.reload();
        await page.locator("#auth-view").waitFor({ state: "visible" });
        await signIn(page, base, email);
        assert.deepEqual(problems, []);
        await context.close();
    });
});

describe("web client: open mode (AUTH_MODE=open)", { skip }, () => {
    let server;
    let browser;
    before(async () => {
        server = await startAppServer({ AUTH_MODE: "open" });
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
    });

    it("needs no sign-in when the server answers without credentials", async (t) => {
        const me = await fetch(`${server.baseUrl}/api/v1/auth/me`);
        if (me.status !== 200) {
            t.skip(`GET /api/v1/auth/me without credentials answers ${me.status}: this server has no AUTH_MODE=open yet (issue 11)`);
            return;
        }
        const { page, problems, context } = await newPage(browser);
        await page.goto(`${server.baseUrl}/app/`);
        await page.locator("#chat-view").waitFor({ state: "visible" });
        // Settled, as after a sign-up (support.mjs): the empty list has loaded, so nothing
        // re-renders the chat after the message is sent (this test timed out waiting for the
        // answer's bubble once, in a loaded CI run).
        await page.locator("#conv-status", { hasText: "No conversations yet" }).waitFor({ state: "attached" });
        assert.equal(await page.locator("#auth-view").isVisible(), false);
        assert.equal(await page.locator("#sign-out").isVisible(), false);
        await sendMessage(page, "Hello in open mode");
        await waitForAnswer(page);
        assert.match(await page.locator(".msg-assistant .msg-body").last().textContent(), /Hello in open mode/);
        assert.deepEqual(problems, []);
        await context.close();
    });
});
