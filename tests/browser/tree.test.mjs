// The message tree, sharing, export and import in the web client (Debian's Chromium through
// playwright-core, the real binary and its mock model): Edit streams a sibling question's answer
// on the edit route, "‹ i / n ›" switches branches and the server's active leaf (a reload keeps
// it), Regenerate adds a sibling answer with the picked model, Fork opens a new conversation
// holding the path, Share makes a link whose public page shows only the active branch and 404s
// once revoked, and Export → Import gives back the same tree; a bad file is refused in place.
import assert from "node:assert/strict";
import { readFileSync } from "node:fs";
import { after, before, describe, it } from "node:test";

import { waitUntil } from "../support/server.mjs";
import {
    apiToken,
    assertNoHorizontalOverflow,
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

async function call(base, token, method, route, json) {
    const res = await fetch(`${base}${route}`, {
        method,
        headers: { authorization: `Bearer ${token}`, ...(json === undefined ? {} : { "content-type": "application/json" }) },
        body: json === undefined ? undefined : JSON.stringify(json),
    });
    return { status: res.status, body: res.status === 204 ? null : await res.json() };
}

async function conversation(base, token, id) {
    const { status, body } = await call(base, token, "GET", `/api/v1/conversations/${id}`);
    assert.equal(status, 200);
    return body.data;
}

async function everyMessage(base, token, id) {
    const { status, body } = await call(base, token, "GET", `/api/v1/conversations/${id}/messages?per_page=100`);
    assert.equal(status, 200);
    return body.data;
}

// The tree without ids: each message as "role: content <- parent's content", sorted.
function shape(messages) {
    const byId = new Map(messages.map((m) => [m.id, m]));
    return messages.map((m) => `${m.role}: ${m.content} <- ${byId.get(m.parent_id)?.content ?? "(root)"}`).sort();
}

const userTexts = (page) => page.locator(".msg-user .msg-body").allTextContents();

describe("web client: message tree, sharing, export and import", { skip }, () => {
    let server;
    let browser;
    let base;

    before(async () => {
        server = await startAppServer({ MOCK_TOKEN_DELAY_MS: "10" });
        base = server.baseUrl;
        browser = await launchBrowser();
    });
    after(async () => {
        await browser?.close();
        await server?.stop();
    });

    it("Edit streams a sibling's answer; the arrows switch branches (and the active leaf), by keyboard too; a reload keeps the branch", async () => {
        const { page, problems, context, requests } = await newPage(browser);
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        await sendMessage(page, "first question alpha");
        await waitForAnswer(page);
        await sendMessage(page, "second question beta");
        await waitForAnswer(page);
        const id = await currentConversationId(page);

        // Edit the second question inline: Cancel leaves it as it was, Save & submit sends it.
        const second = page.locator(".msg-user").nth(1);
        await second.locator(".msg-edit").click();
        await page.locator(".edit-input").fill("never sent");
        await page.locator(".edit-cancel").click();
        assert.equal(await page.locator(".edit-form").count(), 0);
        assert.deepEqual(await userTexts(page), ["first question alpha", "second question beta"]);

        // A second tab on the conversation, fed live.
        const other = await newPage(browser);
        await signIn(other.page, base, email);
        await other.page.evaluate((cid) => {
            location.hash = `#/c/${cid}`;
        }, id);
        await other.page.locator(".msg-user .msg-body", { hasText: "second question beta" }).waitFor();

        await second.locator(".msg-edit").click();
        await page.locator(".edit-input").fill("second question gamma");
        await page.locator(".edit-save").click();
        // The answer streams into the page (the streaming state is seen before the end).
        await page.locator(".msg-assistant.streaming").waitFor();
        await waitForAnswer(page);
        assert.ok(requests.some((u) => /\/api\/v1\/conversations\/[^/]+\/messages\/[^/]+\/edit\/stream$/.test(u)), "the edit went to the edit stream route");
        assert.deepEqual(await userTexts(page), ["first question alpha", "second question gamma"]);
        assert.match(await page.locator(".msg-assistant .msg-body").last().textContent(), /You said: "second question gamma"/);
        assert.equal(await page.locator(".msg-assistant").count(), 2);
        const nav = page.locator(".msg-user").nth(1).locator(".sibling-nav");
        assert.equal((await nav.locator(".sib-pos").textContent()).trim(), "2 / 2");
        assert.equal(await nav.getAttribute("aria-label"), "version 2 of 2");
        assert.equal(await page.locator(".msg-user").first().locator(".sibling-nav").count(), 0, "no arrows on a message without siblings");
        // The other tab got the edit's messages on its feed as they were stored (before the
        // answer streamed here), and did not append them under the branch it shows.
        assert.deepEqual(await userTexts(other.page), ["first question alpha", "second question beta"]);
        assert.equal(await other.page.locator(".msg-assistant").count(), 2);
        assert.deepEqual(other.problems, []);
        await other.context.close();

        // What the page shows is the server's active branch.
        let shown = await conversation(base, token, id);
        assert.deepEqual(shown.messages.map((m) => m.content.slice(0, 21)), ["first question alpha", "This is Parley's buil", "second question gamma", "This is Parley's buil"]);
        assert.deepEqual([shown.messages[2].sibling_count, shown.messages[2].sibling_index], [2, 1]);
        const gammaLeaf = shown.active_leaf_id;

        // ‹ goes back to the first version: its question and its answer, and the active leaf moves.
        await nav.locator(".sib-prev").click();
        await page.locator(".msg-user .msg-body", { hasText: "second question beta" }).waitFor();
        assert.deepEqual(await userTexts(page), ["first question alpha", "second question beta"]);
        assert.match(await page.locator(".msg-assistant .msg-body").last().textContent(), /You said: "second question beta"/);
        const backNav = page.locator(".msg-user").nth(1).locator(".sibling-nav");
        assert.equal((await backNav.locator(".sib-pos").textContent()).trim(), "1 / 2");
        assert.ok(await backNav.locator(".sib-prev").isDisabled());
        shown = await conversation(base, token, id);
        assert.equal(shown.messages[2].content, "second question beta");
        assert.equal(shown.active_leaf_id, shown.messages[3].id);
        assert.notEqual(shown.active_leaf_id, gammaLeaf);
        const beta = shown.messages[2].id;

        // A reload shows the branch chosen (it is stored server-side).
        await page.reload();
        await page.locator(".msg-user .msg-body", { hasText: "second question beta" }).waitFor();
        assert.deepEqual(await userTexts(page), ["first question alpha", "second question beta"]);
        const reloaded = page.locator(".msg-user").nth(1).locator(".sibling-nav");
        assert.equal((await reloaded.locator(".sib-pos").textContent()).trim(), "1 / 2");

        // Keyboard: Tab reaches the › arrow, Enter switches, and the focus stays on the arrows.
        await reloaded.locator(".sib-next").focus();
        await page.keyboard.press("Enter");
        await page.locator(".msg-user .msg-body", { hasText: "second question gamma" }).waitFor();
        assert.equal(await page.evaluate(() => document.activeElement?.className), "sib-prev");
        assert.equal((await conversation(base, token, id)).active_leaf_id, gammaLeaf);

        // Another device switches back to the first version: the page follows without a reload.
        const patched = await call(base, token, "PATCH", `/api/v1/conversations/${id}`, { active_leaf: beta });
        assert.equal(patched.status, 200);
        await page.locator(".msg-user .msg-body", { hasText: "second question beta" }).waitFor();
        assert.equal((await page.locator(".msg-user").nth(1).locator(".sib-pos").textContent()).trim(), "1 / 2");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("Regenerate adds a sibling answer with the picked model; Fork opens a new conversation holding the path", async () => {
        const { page, problems, context, requests } = await newPage(browser);
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        await sendMessage(page, "a question to answer twice");
        await waitForAnswer(page);
        const id = await currentConversationId(page);

        await page.selectOption("#model-select", "parley-mock-fast");
        await page.locator(".msg-assistant .msg-regenerate").click();
        await page.locator(".msg-assistant.streaming").waitFor();
        await waitForAnswer(page);
        assert.ok(requests.some((u) => /\/messages\/[^/]+\/regenerate\/stream$/.test(u)), "the regenerate stream route was used");
        assert.equal(await page.locator(".msg-user").count(), 1, "no new question");
        assert.equal(await page.locator(".msg-assistant").count(), 1);
        const answer = page.locator(".msg-assistant");
        assert.equal((await answer.locator(".msg-model").textContent()).trim(), "parley-mock-fast");
        assert.equal((await answer.locator(".sib-pos").textContent()).trim(), "2 / 2");
        const all = await everyMessage(base, token, id);
        const answers = all.filter((m) => m.role === "assistant");
        assert.equal(answers.length, 2);
        assert.equal(answers[0].parent_id, answers[1].parent_id);
        assert.deepEqual(answers.map((m) => m.model), ["parley-mock", "parley-mock-fast"]);
        assert.equal((await conversation(base, token, id)).active_leaf_id, answers[1].id);

        // Back to the first answer, then fork from it.
        await answer.locator(".sib-prev").click();
        await waitUntil(async () => (await page.locator(".msg-assistant .msg-model").textContent()).trim() === "parley-mock", { what: "the first answer" });
        await page.locator(".msg-assistant .msg-fork").click();
        const forkId = await waitUntil(async () => {
            const now = await currentConversationId(page);
            return now !== id ? now : null;
        }, { what: "the fork to open" });
        await page.locator(`#conv-list li[data-id="${forkId}"]`).waitFor({ state: "attached" });
        await page.locator(`#msg-${answers[0].id}`).waitFor({ state: "detached" });
        await waitUntil(async () => (await page.locator(".msg").count()) === 2, { what: "the fork's two messages" });
        const fork = await conversation(base, token, forkId);
        assert.deepEqual(fork.messages.map((m) => [m.role, m.content]), [
            ["user", "a question to answer twice"],
            ["assistant", answers[0].content],
        ]);
        assert.equal(fork.messages[1].model, "parley-mock");
        assert.equal(fork.active_leaf_id, fork.messages[1].id);
        assert.equal((await page.locator(".msg-assistant .msg-model").textContent()).trim(), "parley-mock");
        assert.equal(await page.locator(".msg-assistant .sibling-nav").count(), 0, "the fork has one answer");
        // The source is unchanged.
        assert.equal((await everyMessage(base, token, id)).length, 3);
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("Share: the link's public page shows only the active branch, without the account; revoked, it is gone", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        // A conversation with two branches, made through the API; the edit is the active one.
        const conv = (await call(base, token, "POST", "/api/v1/conversations", { title: "Shared tree" })).body.data;
        const first = (await call(base, token, "POST", `/api/v1/conversations/${conv.id}/messages`, { content: "the hidden branch" })).body.data;
        const edit = await call(base, token, "POST", `/api/v1/conversations/${conv.id}/messages/${first.parent_id}/edit`, { content: "the shared branch" });
        assert.equal(edit.status, 200, JSON.stringify(edit.body));
        await page.evaluate((cid) => {
            location.hash = `#/c/${cid}`;
        }, conv.id);
        await page.locator(".msg-user .msg-body", { hasText: "the shared branch" }).waitFor();

        await page.locator("#share-button").click();
        await page.locator("#share-dialog[open]").waitFor();
        await page.locator("#share-create").click();
        const item = page.locator("#share-list li.current");
        await item.waitFor();
        const link = await item.locator(".share-url").getAttribute("href");
        const shareToken = await item.getAttribute("data-token");
        assert.equal(link, `${base}/app/#/share/${encodeURIComponent(shareToken)}`);
        await assertNoHorizontalOverflow(page, "the share dialog");

        // Anyone with the link (a fresh context: no session) sees the snapshot.
        const stranger = await newPage(browser);
        await stranger.page.goto(link);
        await stranger.page.locator("#shared-title", { hasText: "Shared tree" }).waitFor();
        assert.equal(await stranger.page.locator("#auth-view").isVisible(), false);
        assert.deepEqual(await stranger.page.locator("#shared-messages .msg-user .msg-body").allTextContents(), ["the shared branch"]);
        assert.match(await stranger.page.locator("#shared-messages .msg-assistant .msg-body").textContent(), /You said: "the shared branch"/);
        const text = await stranger.page.locator("body").textContent();
        assert.doesNotMatch(text, /the hidden branch/);
        assert.ok(!text.includes(email), "no account data on the public page");

        // Revoke: the page and the API say it is gone.
        await item.locator(".share-revoke").click();
        await page.locator("#share-status", { hasText: "Revoked" }).waitFor();
        await waitUntil(async () => (await page.locator("#share-list li").count()) === 0, { what: "the revoked link to leave the list" });
        assert.equal((await fetch(`${base}/share/${encodeURIComponent(shareToken)}`)).status, 404);
        await stranger.page.reload();
        await stranger.page.locator("#shared-title", { hasText: "does not exist or was revoked" }).waitFor();
        assert.equal(await stranger.page.locator("#shared-messages .msg").count(), 0);
        await page.locator("#share-close").click();
        assert.deepEqual([...problems, ...stranger.problems], []);
        await stranger.context.close();
        await context.close();
    });

    it("Export downloads JSON that Import turns back into the same tree; Markdown is the branch; a bad file is refused in place", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        const conv = (await call(base, token, "POST", "/api/v1/conversations", { title: "Round trip" })).body.data;
        const q = (await call(base, token, "POST", `/api/v1/conversations/${conv.id}/messages`, { content: "old question" })).body.data;
        assert.equal((await call(base, token, "POST", `/api/v1/conversations/${conv.id}/messages/${q.parent_id}/edit`, { content: "new question" })).status, 200);
        await page.evaluate((cid) => {
            location.hash = `#/c/${cid}`;
        }, conv.id);
        await page.locator(".msg-user .msg-body", { hasText: "new question" }).waitFor();

        const exportAs = async (button) => {
            await page.locator("#export-menu summary").click();
            const [download] = await Promise.all([page.waitForEvent("download"), page.locator(button).click()]);
            return { name: download.suggestedFilename(), path: await download.path() };
        };
        // The menu opens and closes from the keyboard.
        await page.locator("#export-menu summary").focus();
        await page.keyboard.press("Enter");
        await page.locator("#export-json").waitFor({ state: "visible" });
        await page.keyboard.press("Escape");
        await page.locator("#export-json").waitFor({ state: "hidden" });
        assert.equal(await page.evaluate(() => document.activeElement?.parentElement?.id), "export-menu");

        const json = await exportAs("#export-json");
        assert.equal(json.name, "conversation.json");
        const doc = JSON.parse(readFileSync(json.path, "utf8"));
        assert.equal(doc.format, "parley.conversation");
        assert.equal(doc.messages.length, 4, "every branch is in the JSON");
        const md = await exportAs("#export-markdown");
        assert.equal(md.name, "conversation.md");
        const markdown = readFileSync(md.path, "utf8");
        assert.match(markdown, /new question/);
        assert.doesNotMatch(markdown, /old question/);

        // Import the file through the picker: a new conversation with the same tree, opened.
        const [chooser] = await Promise.all([page.waitForEvent("filechooser"), page.locator("#import-button").click()]);
        await chooser.setFiles(json.path);
        await page.locator("#import-status", { hasText: "Imported 1 conversation." }).waitFor();
        const importedId = await waitUntil(async () => {
            const now = await currentConversationId(page);
            return now !== conv.id ? now : null;
        }, { what: "the imported conversation to open" });
        await page.locator(`#conv-list li[data-id="${importedId}"]`).waitFor({ state: "attached" });
        await page.locator(".msg-user .msg-body", { hasText: "new question" }).waitFor();
        assert.deepEqual(shape(await everyMessage(base, token, importedId)), shape(await everyMessage(base, token, conv.id)));
        assert.deepEqual(
            (await conversation(base, token, importedId)).messages.map((m) => m.content),
            (await conversation(base, token, conv.id)).messages.map((m) => m.content)
        );
        assert.equal((await page.locator(".msg-user .sib-pos").textContent()).trim(), "2 / 2", "the branches came back");

        // ChatGPT's conversations.json: its current_node's branch is the one shown.
        const node = (id, parent, children, role, text) => ({ id, parent, children, message: role ? { id, author: { role }, content: { content_type: "text", parts: [text] } } : null });
        const chatgpt = [{
            title: "From ChatGPT",
            create_time: 1700000000,
            current_node: "a2",
            mapping: {
                root: node("root", null, ["u1"], null),
                u1: node("u1", "root", ["a1", "a2"], "user", "chatgpt question"),
                a1: node("a1", "u1", [], "assistant", "first chatgpt answer"),
                a2: node("a2", "u1", [], "assistant", "second chatgpt answer"),
            },
        }];
        const [chooser2] = await Promise.all([page.waitForEvent("filechooser"), page.locator("#import-button").click()]);
        await chooser2.setFiles({ name: "conversations.json", mimeType: "application/json", buffer: Buffer.from(JSON.stringify(chatgpt)) });
        await page.locator(".msg-assistant .msg-body", { hasText: "second chatgpt answer" }).waitFor();
        assert.equal((await page.locator(".msg-assistant .sib-pos").textContent()).trim(), "2 / 2");
        await page.locator("#conv-list li", { hasText: "From ChatGPT" }).waitFor({ state: "attached" });

        // A file that is not an export: the error shows where the import was asked, nothing is stored.
        const before = (await call(base, token, "GET", "/api/v1/conversations?limit=100")).body.data.length;
        const [chooser3] = await Promise.all([page.waitForEvent("filechooser"), page.locator("#import-button").click()]);
        await chooser3.setFiles({ name: "broken.json", mimeType: "application/json", buffer: Buffer.from('{"format": "parley.conversation", "version": 1, "conversation": {}, "messages": [{"id": "x", "parent_id": "nowhere", "role": "user", "content": "hi"}]}') });
        const status = page.locator("#import-status.error", { hasText: "broken.json was not imported" });
        await status.waitFor();
        assert.ok((await status.textContent()).length > "broken.json was not imported: ".length, "the server's reason is shown");
        const [chooser4] = await Promise.all([page.waitForEvent("filechooser"), page.locator("#import-button").click()]);
        await chooser4.setFiles({ name: "notjson.json", mimeType: "application/json", buffer: Buffer.from("{this is not json") });
        await page.locator("#import-status.error", { hasText: "notjson.json was not imported" }).waitFor();
        assert.equal((await call(base, token, "GET", "/api/v1/conversations?limit=100")).body.data.length, before);
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("an edit the server refuses shows its error in place, with Retry, and stores nothing", async () => {
        const { page, problems, context } = await newPage(browser);
        const email = await signUp(page, base);
        const token = await apiToken(base, email);
        await sendMessage(page, "a question to edit badly");
        await waitForAnswer(page);
        const id = await currentConversationId(page);
        await page.locator(".msg-user .msg-edit").click();
        await page.locator(".edit-input").fill("x".repeat(100_001));  // over the 100,000 limit: 422
        await page.locator(".edit-save").click();
        const failed = page.locator('.msg-assistant[data-status="error"]');
        await failed.waitFor();
        assert.match(await failed.locator(".status-text").textContent(), /100000|100,000|long|content/i);
        assert.ok(await failed.locator("button.retry").isVisible());
        assert.equal(await page.locator("#send-button").isVisible(), true, "the composer is usable again");
        assert.equal((await everyMessage(base, token, id)).length, 2, "nothing stored");
        assert.deepEqual(problems, []);
        await context.close();
    });

    it("at 360 px, in dark mode: the message actions and the arrows fit and are labelled", async () => {
        const { page, problems, context } = await newPage(browser, { width: 360, height: 740 });
        await page.emulateMedia({ colorScheme: "dark" });
        await signUp(page, base);
        await sendMessage(page, "a phone question");
        await waitForAnswer(page);
        await page.locator(".msg-user .msg-edit").click();
        await page.locator(".edit-input").fill("a phone question, edited");
        await page.keyboard.press("Enter");
        await waitForAnswer(page);
        await page.locator(".msg-user .sibling-nav").waitFor();
        for (const label of ["Previous version", "Next version", "Edit this message", "Regenerate this answer with the selected model"]) {
            assert.equal(await page.getByRole("button", { name: label }).count(), 1, label);
        }
        assert.equal(await page.getByRole("button", { name: "Fork: a new conversation up to this message" }).count(), 2);
        await assertNoHorizontalOverflow(page, "a branch at 360 px");
        await page.locator("#export-menu summary").click();
        const box = await page.locator("#export-menu .menu").boundingBox();
        assert.ok(box.x >= 0 && box.x + box.width <= 360, `the Export menu is on screen: ${JSON.stringify(box)}`);
        await page.keyboard.press("Escape");
        await page.locator("#share-button").click();
        await page.locator("#share-dialog[open]").waitFor();
        await assertNoHorizontalOverflow(page, "the share dialog at 360 px");
        await page.keyboard.press("Escape");
        assert.deepEqual(problems, []);
        await context.close();
    });
});
