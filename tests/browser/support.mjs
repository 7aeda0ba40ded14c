// Helpers for the browser tests: the real parley binary (tests/support/server.mjs) with a model
// catalog made for the client's tests, and Debian's Chromium driven by playwright-core (never a
// downloaded browser).
//
//   const server = await startAppServer();
//   const browser = await launchBrowser();
//   const { page, problems } = await newPage(browser);
//   await signUp(page, server.baseUrl);
//   ...
//   assert.deepEqual(problems, []);   // no page error, no CSP violation, no failed script
import assert from "node:assert/strict";
import { existsSync, mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import path from "node:path";

import { chromium } from "playwright-core";

import { uniqueEmail } from "../support/api.mjs";
import { startServer, waitUntil } from "../support/server.mjs";

export const CHROMIUM = process.env.PARLEY_CHROMIUM ?? "/usr/bin/chromium";
export const PASSWORD = "correct horse battery";

// Two priced mock models (so usage has costs to add up), and models of providers this server has
// no key for (the picker shows them disabled).
export const CATALOG = {
    models: [
        { id: "parley-mock", provider: "mock", name: "Mock (thinking)", context_window: 32768, max_output: 4096, input_per_mtok: 1000, output_per_mtok: 2000, thinking: true, tools: false },
        { id: "parley-mock-fast", provider: "mock", name: "Mock B", context_window: 32768, max_output: 4096, input_per_mtok: 3000, output_per_mtok: 5000, thinking: false, tools: false },
        { id: "gpt-4o-mini", provider: "openai", name: "GPT-4o mini", context_window: 128000, max_output: 16384, input_per_mtok: 0.15, output_per_mtok: 0.6, thinking: false, tools: true },
        { id: "llama-3.1-8b-instant", provider: "groq", name: "Llama 3.1 8B Instant", context_window: 131072, max_output: 8192, input_per_mtok: 0.05, output_per_mtok: 0.08, thinking: false, tools: true },
    ],
};

/** Skips the whole file (with the reason) when Debian's chromium is not installed. */
export function chromiumMissing() {
    return existsSync(CHROMIUM) ? false : `${CHROMIUM} is not installed (scripts/install-deps installs Debian's chromium)`;
}

/** parley serve with the test catalog and generous limits; `env` overrides. */
export async function startAppServer(env = {}) {
    const dir = mkdtempSync(path.join(tmpdir(), "parley-browser-"));
    const catalog = path.join(dir, "catalog.json");
    writeFileSync(catalog, JSON.stringify(CATALOG));
    const server = await startServer({
        env: {
            MODEL_CATALOG: catalog,
            DEFAULT_MODEL: "parley-mock",
            FALLBACK_MODEL: "",
            MOCK_TOKEN_DELAY_MS: "40",
            RATE_LIMIT_AUTH: "1000",
            RATE_LIMIT_AI: "1000",
            RATE_LIMIT_STANDARD: "5000",
            ACCESS_LOG: "false",
            ...env,
        },
    });
    const stop = server.stop;
    server.stop = async (...args) => {
        try {
            return await stop(...args);
        } finally {
            rmSync(dir, { recursive: true, force: true });
        }
    };
    return server;
}

/** Debian's Chromium, headless, with a fresh profile and nothing that calls home. */
export function launchBrowser() {
    return chromium.launch({
        executablePath: CHROMIUM,
        headless: true,
        args: [
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
        ],
    });
}

/**
 * A page in a new context (its own storage: another tab of another session, or another user).
 * `problems` collects page errors, console errors (CSP violations included) and failed requests
 * for the client's own files; `dialogs` every alert/confirm/prompt the page opened.
 */
export async function newPage(browser, { width = 1280, height = 860 } = {}) {
    const context = await browser.newContext({ viewport: { width, height } });
    const page = await context.newPage();
    const problems = [];
    const dialogs = [];
    const requests = [];
    page.on("pageerror", (err) => problems.push(`pageerror: ${err.message}`));
    page.on("console", (msg) => {
        if (msg.type() === "error" && !/Failed to load resource: the server responded with a status of/.test(msg.text())) {
            problems.push(`console: ${msg.text()}`);
        }
    });
    page.on("dialog", async (d) => {
        dialogs.push(`${d.type()}: ${d.message()}`);
        await d.dismiss().catch(() => {});
    });
    page.on("request", (r) => requests.push(r.url()));
    page.on("requestfailed", (r) => {
        if (new URL(r.url()).pathname.startsWith("/app/") && !/ERR_ABORTED/.test(r.failure()?.errorText ?? "")) {
            problems.push(`requestfailed: ${r.url()} ${r.failure()?.errorText}`);
        }
    });
    return { context, page, problems, dialogs, requests };
}

/** Opens /app/ and creates an account; resolves the email once the chat page shows. */
export async function signUp(page, baseUrl, email = uniqueEmail("web")) {
    await page.goto(`${baseUrl}/app/`);
    await page.locator("#auth-view").waitFor({ state: "visible" });
    await page.fill("#auth-email", email);
    await page.fill("#auth-password", PASSWORD);
    await page.click("#sign-up");
    await page.locator("#chat-view").waitFor({ state: "visible" });
    await waitUntil(async () => (await page.locator("#model-select option").count()) > 0, { what: "the model list" });
    // Settled: the (empty) conversation list has loaded, so nothing re-renders the composer later
    // (attached, not visible: on a phone the list is in a closed drawer).
    await page.locator("#conv-status", { hasText: "No conversations yet" }).waitFor({ state: "attached" });
    return email;
}

/** Signs in an existing account on a fresh page. */
export async function signIn(page, baseUrl, email) {
    await page.goto(`${baseUrl}/app/`);
    await page.locator("#auth-view").waitFor({ state: "visible" });
    await page.fill("#auth-email", email);
    await page.fill("#auth-password", PASSWORD);
    await page.click("#sign-in");
    await page.locator("#chat-view").waitFor({ state: "visible" });
}

/** Types `text` into the composer and presses Enter. */
export async function sendMessage(page, text) {
    await page.locator("#composer-input:enabled").waitFor();
    await page.fill("#composer-input", text);
    const bubbles = await page.locator(".msg-user").count();
    await page.press("#composer-input", "Enter");
    // The page takes the message by clearing the composer and showing it; an Enter it was not
    // ready for (still settling after a reload) leaves the text there, and is pressed again.
    await waitUntil(async () => {
        if ((await page.inputValue("#composer-input")) !== text) {
            return (await page.locator(".msg-user").count()) > bubbles;
        }
        await page.press("#composer-input", "Enter");
        return false;
    }, { timeoutMs: 10_000, intervalMs: 250, what: `the message "${text}" to be sent` });
}

/** Waits until the last assistant answer has finished (Send is back). */
export async function waitForAnswer(page, { timeoutMs = 20_000 } = {}) {
    await page.locator("#send-button").waitFor({ state: "visible", timeout: timeoutMs });
    await page.locator(".msg-assistant").last().waitFor({ state: "attached" });
    await waitUntil(async () => (await page.locator(".msg-assistant.streaming").count()) === 0, { timeoutMs, what: "the answer to end" });
}

/** The conversation id in the page's URL (#/c/ID). */
export async function currentConversationId(page) {
    return waitUntil(async () => /#\/c\/([^/]+)/.exec(await page.evaluate(() => location.hash))?.[1], { what: "a conversation id in the URL" });
}

/** The access token the page holds is in memory only; tests use their own through the API. */
export async function apiToken(baseUrl, email) {
    const res = await fetch(`${baseUrl}/api/v1/auth/login`, {
        method: "POST",
        headers: { "content-type": "application/json" },
        body: JSON.stringify({ email, password: PASSWORD }),
    });
    assert.equal(res.status, 200);
    return (await res.json()).data.access_token;
}

/** Asserts that nothing is wider than the viewport (no horizontal scrolling). */
export async function assertNoHorizontalOverflow(page, label) {
    const { scroll, client, offenders } = await page.evaluate(() => {
        const root = document.documentElement;
        const vw = root.clientWidth;
        const offenders = [];
        for (const el of document.querySelectorAll("body *")) {
            const r = el.getBoundingClientRect();
            if (r.width === 0 || getComputedStyle(el).visibility === "hidden") {
                continue;
            }
            // Inside a scroller of its own (code blocks, tables, charts) overflow is by design.
            let p = el.parentElement;
            let clipped = false;
            while (p && p !== document.body) {
                const ox = getComputedStyle(p).overflowX;
                if (ox === "auto" || ox === "scroll" || ox === "hidden") {
                    clipped = true;
                    break;
                }
                p = p.parentElement;
            }
            if (!clipped && r.right > vw + 1) {
                offenders.push(`${el.tagName.toLowerCase()}#${el.id}.${el.className?.baseVal ?? el.className} right=${Math.round(r.right)}`);
            }
        }
        return { scroll: root.scrollWidth, client: vw, offenders: offenders.slice(0, 5) };
    });
    assert.deepEqual(offenders, [], `${label}: elements past the right edge`);
    assert.ok(scroll <= client, `${label}: page is ${scroll}px wide in a ${client}px viewport`);
}
