// Takes the README's screenshots of the web client (docs/screenshots/*.png) from the real binary
// and Debian's Chromium. Not a test (it writes into the source tree); run it by hand after the
// client changes:
//
//   node tests/browser/screenshots.mjs            # PARLEY_BIN defaults to build/ci/parley
import { mkdirSync } from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";

import { apiToken, launchBrowser, newPage, sendMessage, signUp, startAppServer, waitForAnswer } from "./support.mjs";

const out = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../../docs/screenshots");
mkdirSync(out, { recursive: true });

const server = await startAppServer({ MOCK_TOKEN_DELAY_MS: "5" });
const base = server.baseUrl;
const browser = await launchBrowser();
const shot = (page, name) => page.screenshot({ path: path.join(out, `${name}.png`) });

try {
    // Sign-in page.
    const first = await newPage(browser, { width: 1280, height: 800 });
    await first.page.goto(`${base}/app/`);
    await first.page.locator("#auth-view").waitFor();
    await shot(first.page, "signin");

    // A user with some history: a few titled conversations, one pinned, and a chat with thinking
    // and a code block.
    const email = await signUp(first.page, base);
    const token = await apiToken(base, email);
    const post = (route, json) =>
        fetch(`${base}${route}`, { method: "POST", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify(json) }).then((r) => r.json());
    const pinned = await post("/api/v1/conversations", { title: "Release checklist" });
    await fetch(`${base}/api/v1/conversations/${pinned.data.id}`, { method: "PATCH", headers: { authorization: `Bearer ${token}`, "content-type": "application/json" }, body: JSON.stringify({ is_pinned: true }) });
    for (const title of ["Trip to Lisbon", "SQL window functions", "Birthday ideas", "Rust lifetimes"]) {
        const c = await post("/api/v1/conversations", { title });
        await post(`/api/v1/conversations/${c.data.id}/messages`, { content: `Tell me about ${title.toLowerCase()}` });
    }
    await first.page.reload();
    await first.page.locator("#conv-list li").nth(4).waitFor();
    await first.page.check("#thinking-toggle");
    await sendMessage(first.page, "How do I list files in **Python**? Show `code` please:\n\n```python\nimport os\nprint(os.listdir('.'))\n```");
    await waitForAnswer(first.page);
    await first.page.locator(".msg-assistant .thinking summary").last().click();
    await shot(first.page, "chat");

    // A second version of the question (the arrows under it), and the Share dialog with a link.
    await first.page.locator(".msg-user .msg-edit").last().click();
    await first.page.fill(".edit-input", "How do I list files in **Python**, recursively?");
    await first.page.click(".edit-save");
    await waitForAnswer(first.page);
    await first.page.locator(".msg-user .sibling-nav").last().waitFor();
    await shot(first.page, "branches");
    await first.page.click("#share-button");
    await first.page.click("#share-create");
    await first.page.locator("#share-list li.current").waitFor();
    await shot(first.page, "share");
    await first.page.click("#share-close");

    // The same in dark mode, mid-answer with the Stop button.
    const dark = await browser.newContext({ viewport: { width: 1280, height: 800 }, colorScheme: "dark" });
    const darkPage = await dark.newPage();
    await darkPage.goto(`${base}/app/`);
    await darkPage.fill("#auth-email", email);
    await darkPage.fill("#auth-password", "correct horse battery");
    await darkPage.click("#sign-in");
    await darkPage.locator("#conv-list li").nth(4).waitFor();
    await darkPage.locator("#conv-list li", { hasText: "Trip to Lisbon" }).locator("a").click();
    await darkPage.locator(".msg-assistant").first().waitFor();
    await shot(darkPage, "chat-dark");

    // Usage and API keys.
    await first.page.click("#nav-usage");
    await first.page.locator("#day-chart").waitFor();
    await shot(first.page, "usage");
    await first.page.click("#nav-keys");
    await first.page.fill("#key-name", "deploy script");
    await first.page.click("#key-form button[type=submit]");
    await first.page.locator("#key-secret").waitFor({ state: "visible" });
    await shot(first.page, "keys");

    // A phone: the chat, and the conversation drawer.
    const phone = await newPage(browser, { width: 360, height: 740 });
    await phone.page.goto(`${base}/app/`);
    await phone.page.fill("#auth-email", email);
    await phone.page.fill("#auth-password", "correct horse battery");
    await phone.page.click("#sign-in");
    await phone.page.locator("#conv-list li").nth(4).waitFor({ state: "attached" });
    await phone.page.locator("#conv-list li", { hasText: "SQL window functions" }).locator("a").dispatchEvent("click");
    await phone.page.locator(".msg-assistant").first().waitFor();
    await shot(phone.page, "mobile");
    await phone.page.click("#menu-toggle");
    await phone.page.locator("#new-chat").waitFor({ state: "visible" });
    await phone.page.waitForTimeout(300);
    await shot(phone.page, "mobile-drawer");
    console.log(`screenshots in ${out}`);
} finally {
    await browser.close();
    await server.stop();
}
