// The chat page: a conversation's messages, the composer, the model picker and system prompt,
// answers streamed token by token (POST …/messages/stream, Anthropic's SSE events), Stop, retry,
// thinking and tool cards, and the conversation's live feed (GET …/events) so that another tab's
// messages and titles appear here without a reload. The page shows one branch of the message
// tree: a user message can be edited and an answer regenerated (both streamed, each a new
// sibling), "‹ 2 / 3 ›" steps between siblings, and any message can start a fork.
import { api, errorOf } from "./api.js";
import { $, h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { readSse } from "./sse.js";
import { switchToSibling } from "./tree.js";

// What the server needs to make a provider's models available, to say why one is disabled.
const PROVIDER_SETTING = {
    groq: "GROQ_API_KEY",
    google: "GOOGLE_AI_API_KEY",
    openai: "OPENAI_API_KEY or OPENAI_BASE_URL",
    anthropic: "ANTHROPIC_API_KEY",
};

export function unavailableReason(model) {
    const setting = PROVIDER_SETTING[model.provider];
    return setting ? `the server has no ${setting}` : `provider ${model.provider} is not configured`;
}

const sleep = (ms) => new Promise((r) => setTimeout(r, ms));

function prettyJson(value) {
    if (typeof value === "string") {
        try {
            return JSON.stringify(JSON.parse(value), null, 2);
        } catch {
            return value;
        }
    }
    return JSON.stringify(value ?? {}, null, 2);
}

/**
 * One message on screen: its role, thinking block, tool cards, body, status line and (when
 * `actions` is given: the Chat) its tree actions.
 */
export class MessageView {
    constructor(role, { id = null, model = null, actions = null } = {}) {
        this.role = role;
        this.id = null;
        this.actions = actions;
        this.parentId = null;
        this.siblingCount = 1;
        this.siblingIndex = 0;
        this.text = "";
        this.thinking = "";
        this.tools = new Map();
        this.streaming = false;
        const who = role === "user" ? "You" : role === "assistant" ? "Assistant" : role;
        this.modelEl = h("span", { class: "msg-model muted" }, model ?? "");
        this.head = h("div", { class: "msg-head" }, h("span", { class: "msg-role" }, who), this.modelEl);
        this.toolsEl = h("div", { class: "tool-cards" });
        this.body = h("div", { class: role === "user" ? "msg-body plain" : "msg-body markdown" });
        this.statusEl = h("div", { class: "msg-status", hidden: true });
        this.actionsEl = h("div", { class: "msg-actions" });
        this.el = h(
            "article",
            { class: `msg msg-${role}`, "aria-label": role === "user" ? "Your message" : "Assistant's answer", tabindex: "-1" },
            this.head,
            this.toolsEl,
            this.body,
            this.statusEl,
            this.actionsEl
        );
        this.el.dataset.role = role;
        if (id) {
            this.setId(id);
        }
    }

    setId(id) {
        this.id = id;
        this.el.id = `msg-${id}`;
        this.el.dataset.messageId = id;
    }

    setModel(model) {
        this.modelEl.textContent = model ?? "";
    }

    /** Where the message sits in the tree (from the API, or known after a turn). */
    setPlace(parentId, siblingCount, siblingIndex) {
        this.parentId = parentId ?? null;
        this.siblingCount = Math.max(1, Number(siblingCount ?? 1));
        this.siblingIndex = Math.max(0, Number(siblingIndex ?? 0));
        this.renderActions();
    }

    /**
     * The tree actions under a stored message: "‹ i / n ›" among its siblings, Edit (a question)
     * or Regenerate (an answer), and Fork. None while it streams or before its id is known.
     */
    renderActions() {
        const chat = this.actions;
        if (!chat || !this.id || this.streaming || this.editor) {
            this.actionsEl.replaceChildren();
            return;
        }
        const what = this.role === "user" ? "version" : "answer";
        const parts = [];
        if (this.siblingCount > 1) {
            const n = this.siblingCount;
            const i = this.siblingIndex;
            parts.push(
                h(
                    "span",
                    { class: "sibling-nav", role: "group", "aria-label": `${what} ${i + 1} of ${n}` },
                    h("button", { type: "button", class: "sib-prev", "aria-label": `Previous ${what}`, disabled: i === 0, onclick: () => chat.switchSibling(this, -1) }, "‹"),
                    h("span", { class: "sib-pos", "aria-hidden": "true" }, `${i + 1} / ${n}`),
                    h("button", { type: "button", class: "sib-next", "aria-label": `Next ${what}`, disabled: i + 1 >= n, onclick: () => chat.switchSibling(this, 1) }, "›")
                )
            );
        }
        if (this.role === "user") {
            parts.push(h("button", { type: "button", class: "msg-edit", "aria-label": "Edit this message", onclick: () => this.startEdit() }, "Edit"));
        } else if (this.role === "assistant") {
            parts.push(h("button", { type: "button", class: "msg-regenerate", "aria-label": "Regenerate this answer with the selected model", onclick: () => chat.regenerate(this) }, "Regenerate"));
        }
        parts.push(h("button", { type: "button", class: "msg-fork", "aria-label": "Fork: a new conversation up to this message", onclick: () => chat.fork(this) }, "Fork"));
        this.actionsEl.replaceChildren(...parts);
    }

    /** The inline editor of a question: Save & submit sends it as an edit, Cancel (Esc) leaves. */
    startEdit() {
        if (this.editor || this.actions?.streaming) {
            return;
        }
        const input = h("textarea", { class: "edit-input", rows: "3", "aria-label": "Edit your message" });
        input.value = this.text;
        const form = h(
            "form",
            { class: "edit-form" },
            input,
            h(
                "div",
                { class: "row" },
                h("button", { type: "submit", class: "primary edit-save" }, "Save & submit"),
                h("button", { type: "button", class: "edit-cancel", onclick: () => this.endEdit() }, "Cancel")
            )
        );
        form.addEventListener("submit", (ev) => {
            ev.preventDefault();
            const text = input.value;
            if (!text.trim() || this.actions.streaming) {
                return;
            }
            this.endEdit();
            this.actions.edit(this, text);
        });
        input.addEventListener("keydown", (ev) => {
            if (ev.key === "Escape") {
                ev.preventDefault();
                ev.stopPropagation();
                this.endEdit();
            } else if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
                ev.preventDefault();
                form.requestSubmit();
            }
        });
        this.editor = form;
        this.body.hidden = true;
        this.body.after(form);
        this.renderActions();
        input.focus();
    }

    endEdit() {
        if (!this.editor) {
            return;
        }
        this.editor.remove();
        this.editor = null;
        this.body.hidden = false;
        this.renderActions();
        this.actionsEl.querySelector(".msg-edit")?.focus();
    }

    setText(text) {
        this.text = text ?? "";
        if (this.role === "user") {
            this.body.textContent = this.text;
        } else {
            this.body.replaceChildren(renderMarkdown(this.text));
        }
    }

    appendText(delta) {
        this.setText(this.text + delta);
    }

    thinkingBlock() {
        if (!this.thinkingEl) {
            this.thinkingSummary = h("summary", {}, "Thinking");
            this.thinkingBody = h("div", { class: "thinking-body" });
            this.thinkingEl = h("details", { class: "thinking" }, this.thinkingSummary, this.thinkingBody);
            this.head.after(this.thinkingEl);
        }
        return this.thinkingEl;
    }

    setThinking(text) {
        this.thinking = text ?? "";
        if (this.thinking) {
            this.thinkingBlock();
            this.thinkingBody.textContent = this.thinking;
        }
    }

    appendThinking(delta) {
        this.setThinking(this.thinking + delta);
        this.thinkingSummary.textContent = this.streaming ? "Thinking…" : "Thinking";
    }

    /** A tool card: the call (name, arguments) and, once known, its result. */
    toolCard(id, name) {
        let card = this.tools.get(id);
        if (!card) {
            const args = h("pre", { class: "tool-args" });
            const result = h("pre", { class: "tool-result" });
            const resultWrap = h("div", { class: "tool-result-wrap", hidden: true }, h("div", { class: "muted small" }, "Result"), result);
            const title = h("span", { class: "tool-name" }, name ?? "tool");
            const state = h("span", { class: "tool-state muted small" }, "running…");
            const el = h(
                "details",
                { class: "tool-card", "aria-label": `Tool call ${name ?? ""}` },
                h("summary", {}, h("span", { "aria-hidden": "true" }, "⚙ "), title, " ", state),
                h("div", { class: "muted small" }, "Arguments"),
                args,
                resultWrap
            );
            el.dataset.toolId = id ?? "";
            card = { el, args, result, resultWrap, state, input: "" };
            this.tools.set(id, card);
            this.toolsEl.append(el);
        }
        return card;
    }

    setToolArguments(id, name, value) {
        const card = this.toolCard(id, name);
        card.args.textContent = prettyJson(value);
    }

    appendToolInput(id, partialJson) {
        const card = this.toolCard(id);
        card.input += partialJson;
        card.args.textContent = card.input;
    }

    finishToolInput(id) {
        const card = this.tools.get(id);
        if (card && card.input) {
            card.args.textContent = prettyJson(card.input);
        }
    }

    setToolResult(id, name, result) {
        const card = this.toolCard(id, name);
        card.result.textContent = typeof result === "string" ? result : prettyJson(result);
        card.resultWrap.hidden = false;
        card.state.textContent = "done";
    }

    setStreaming(on) {
        this.streaming = on;
        this.el.classList.toggle("streaming", on);
        this.el.setAttribute("aria-busy", on ? "true" : "false");
        if (!on && this.thinkingSummary) {
            this.thinkingSummary.textContent = "Thinking";
        }
        this.renderActions();
    }

    /** The status line: "partial" (stopped or cut), "error" (with a retry), or none. */
    setStatus(status, text, { retry, retryAfter } = {}) {
        this.el.dataset.status = status ?? "complete";
        if (!status || status === "complete") {
            this.statusEl.hidden = true;
            this.statusEl.replaceChildren();
            return;
        }
        const parts = [h("span", { class: `badge badge-${status}` }, status === "partial" ? "Partial answer" : "Error"), " ", h("span", { class: "status-text" }, text ?? "")];
        if (retry) {
            const button = h("button", { type: "button", class: "retry" }, "Retry");
            button.addEventListener("click", () => {
                clearInterval(this.countdown);
                retry();
            });
            if (retryAfter && retryAfter > 0) {
                let left = retryAfter;
                button.disabled = true;
                const note = h("span", { class: "retry-note muted" }, ` Try again in ${left} s.`);
                parts.push(note);
                this.countdown = setInterval(() => {
                    left -= 1;
                    if (left <= 0) {
                        clearInterval(this.countdown);
                        note.textContent = " You can try again now.";
                        button.disabled = false;
                    } else {
                        note.textContent = ` Try again in ${left} s.`;
                    }
                }, 1000);
            }
            parts.push(" ", button);
        }
        this.statusEl.replaceChildren(...parts);
        this.statusEl.hidden = false;
        this.statusEl.setAttribute("role", status === "error" ? "alert" : "status");
    }

    /** Shows a stored message as the server has it. */
    update(m) {
        if (m.id && !this.id) {
            this.setId(m.id);
        }
        if (m.sibling_count !== undefined) {
            this.setPlace(m.parent_id, m.sibling_count, m.sibling_index);
        } else {
            this.parentId = m.parent_id ?? this.parentId;
            this.renderActions();
        }
        this.setModel(m.role === "assistant" ? m.model : "");
        this.setThinking(m.thinking);
        const meta = m.metadata ?? {};
        for (const call of meta.tool_calls ?? []) {
            this.setToolArguments(call.id, call.name, call.arguments ?? call.input ?? {});
        }
        for (const r of toolResults(meta.tool_results)) {
            this.setToolResult(r.tool_use_id ?? r.id, r.name, r.result ?? r.content ?? r.output);
        }
        for (const card of this.tools.values()) {
            if (card.resultWrap.hidden) {
                card.state.textContent = "";
            }
        }
        this.setText(m.content);
        if (m.status === "partial") {
            this.setStatus("partial", meta.cancelled_by ? "stopped before the end" : storedError(meta.error) ?? "the answer was cut short");
        } else if (m.status === "error") {
            // An error this tab already shows in place keeps its text and its Retry countdown.
            if (this.el.dataset.status !== "error") {
                this.setStatus("error", storedError(meta.error) ?? "the model failed to answer", { retry: this.retry });
            }
        } else {
            this.setStatus("complete");
        }
    }
}

// metadata.error of a stored message: the upstream failure's name ("connection", "timeout", …).
function storedError(error) {
    if (typeof error === "string" && error) {
        return `the model provider failed (${error.replace(/_/g, " ")})`;
    }
    return error?.message;
}

// metadata.tool_results as an array of {tool_use_id, name, result}, whatever shape it came in.
function toolResults(value) {
    if (Array.isArray(value)) {
        return value;
    }
    if (value && typeof value === "object") {
        return Object.entries(value).map(([id, result]) => ({ tool_use_id: id, result }));
    }
    return [];
}

function describeError(err) {
    if (err.status === 429) {
        return "Rate limit reached.";
    }
    if (err.type === "overloaded_error" || err.status === 503 || err.status === 529) {
        return `The model provider is unavailable: ${err.message}`;
    }
    if (err.status === 502 || err.type === "api_error") {
        return `The model provider failed: ${err.message}`;
    }
    if (err.name === "TypeError") {
        return "The server could not be reached.";
    }
    return err.message || "Something went wrong.";
}

export class Chat {
    /**
     * `events` receives what the sidebar must know: {type: "created"|"updated"|"title"|"deleted",
     * conversation | id, title}.
     */
    constructor(events) {
        this.events = events;
        this.conv = null;
        this.models = [];
        this.views = [];
        this.streaming = null;
        this.feed = null;
        this.draftSystem = "";
        this.els = {
            messages: $("messages"),
            empty: $("empty-chat"),
            title: $("chat-title"),
            model: $("model-select"),
            modelNote: $("model-note"),
            thinking: $("thinking-toggle"),
            input: $("composer-input"),
            send: $("send-button"),
            stop: $("stop-button"),
            systemToggle: $("system-toggle"),
            systemPanel: $("system-panel"),
            systemInput: $("system-input"),
            systemStatus: $("system-status"),
            notice: $("chat-notice"),
            convActions: $("conv-actions"),
        };
        this.wire();
    }

    wire() {
        const e = this.els;
        $("composer").addEventListener("submit", (ev) => {
            ev.preventDefault();
            this.submit();
        });
        e.input.addEventListener("keydown", (ev) => {
            if (ev.key === "Enter" && !ev.shiftKey && !ev.isComposing) {
                ev.preventDefault();
                this.submit();
            }
        });
        e.stop.addEventListener("click", () => this.stop());
        e.model.addEventListener("change", () => this.modelChanged());
        e.systemToggle.addEventListener("click", () => {
            const open = e.systemPanel.hidden;
            e.systemPanel.hidden = !open;
            e.systemToggle.setAttribute("aria-expanded", String(open));
            if (open) {
                e.systemInput.value = this.conv ? this.conv.system_prompt ?? "" : this.draftSystem;
                e.systemStatus.textContent = "";
                e.systemInput.focus();
            }
        });
        e.systemPanel.addEventListener("submit", (ev) => {
            ev.preventDefault();
            this.saveSystemPrompt();
        });
    }

    async loadModels() {
        try {
            this.models = (await api.json("GET", "/api/v1/models")).data ?? [];
        } catch {
            this.models = [];
        }
        this.renderModels();
    }

    defaultModel() {
        return this.models.find((m) => m.is_default && m.available) ?? this.models.find((m) => m.available);
    }

    renderModels() {
        const select = this.els.model;
        const options = this.models.map((m) => {
            const reason = m.available ? null : unavailableReason(m);
            const label = m.available ? m.name : `${m.name} — unavailable: ${reason}`;
            return h("option", { value: m.id, disabled: !m.available, title: reason ?? m.id }, label);
        });
        select.replaceChildren(...options);
        const wanted = this.conv?.model ?? this.defaultModel()?.id;
        if (wanted) {
            select.value = wanted;
        }
        this.modelSelected();
    }

    modelSelected() {
        const m = this.models.find((x) => x.id === this.els.model.value);
        const canThink = Boolean(m?.supports_thinking);
        this.els.thinking.disabled = !canThink;
        if (!canThink) {
            this.els.thinking.checked = false;
        }
        $("thinking-label").classList.toggle("disabled", !canThink);
        const unavailable = this.models.filter((x) => !x.available).length;
        this.els.modelNote.textContent = unavailable
            ? `${unavailable} model${unavailable === 1 ? " is" : "s are"} unavailable on this server (disabled in the list).`
            : "";
    }

    async modelChanged() {
        this.modelSelected();
        if (this.conv && this.conv.model !== this.els.model.value) {
            try {
                this.conv = (await api.json("PATCH", `/api/v1/conversations/${this.conv.id}`, { model: this.els.model.value })).data;
                this.events({ type: "updated", conversation: this.conv });
            } catch (err) {
                this.els.modelNote.textContent = `Could not change the model: ${err.message}`;
            }
        }
    }

    async saveSystemPrompt() {
        const value = this.els.systemInput.value;
        if (!this.conv) {
            this.draftSystem = value;
            this.els.systemStatus.textContent = "Saved; it applies to this new conversation.";
            return;
        }
        try {
            this.conv = (await api.json("PATCH", `/api/v1/conversations/${this.conv.id}`, { system_prompt: value.trim() ? value : null })).data;
            this.els.systemStatus.textContent = "Saved.";
            this.events({ type: "updated", conversation: this.conv });
        } catch (err) {
            this.els.systemStatus.textContent = `Not saved: ${err.message}`;
        }
    }

    /** A problem with a tree action (switching, forking), shown above the messages. */
    notice(text) {
        this.els.notice.textContent = text ?? "";
        this.els.notice.hidden = !text;
    }

    setTitle() {
        this.els.convActions.hidden = !this.conv;
        this.els.title.textContent = this.conv ? this.conv.title ?? "Untitled" : "New chat";
        document.title = this.conv?.title ? `${this.conv.title} · Parley` : "Parley";
    }

    clearMessages() {
        for (const v of this.views) {
            clearInterval(v.countdown);
        }
        this.views = [];
        this.els.messages.replaceChildren(this.els.empty);
        this.els.empty.hidden = false;
        this.notice(null);
    }

    /** An empty conversation, created on the first message. */
    newChat() {
        this.stop();
        this.stopFeed();
        this.conv = null;
        this.draftSystem = "";
        this.clearMessages();
        this.setTitle();
        this.closeSystemPanel();
        const d = this.defaultModel();
        if (d) {
            this.els.model.value = d.id;
        }
        this.modelSelected();
        this.els.input.focus();
    }

    closeSystemPanel() {
        this.els.systemPanel.hidden = true;
        this.els.systemToggle.setAttribute("aria-expanded", "false");
    }

    /** Loads conversation `id` with its messages; scrolls to and highlights message `highlight`. */
    async open(id, { highlight } = {}) {
        if (this.conv?.id === id && this.views.length > 0) {
            this.highlight(highlight);
            return;
        }
        this.stop();
        this.stopFeed();
        this.closeSystemPanel();
        let body;
        try {
            body = await api.json("GET", `/api/v1/conversations/${id}`);
        } catch (err) {
            this.conv = null;
            this.clearMessages();
            this.els.convActions.hidden = true;
            this.els.title.textContent = err.status === 404 ? "Conversation not found" : err.status === 403 ? "Not your conversation" : "Could not load the conversation";
            this.els.messages.append(h("p", { class: "error", role: "alert" }, err.message));
            return;
        }
        const conv = body.data;
        this.showBranch(conv);
        if (conv.model && this.models.some((m) => m.id === conv.model)) {
            this.els.model.value = conv.model;
        }
        this.modelSelected();
        this.startFeed(conv.id);
        if (highlight) {
            this.highlight(highlight);
        } else {
            this.scrollToEnd();
        }
    }

    /** Shows `conv` (a GET …/conversations/{id} body) and the branch of messages it carries. */
    showBranch(conv) {
        const { messages, ...rest } = conv;
        this.conv = rest;
        this.clearMessages();
        for (const m of messages ?? []) {
            this.addView(m);
        }
        this.setTitle();
    }

    highlight(messageId) {
        if (!messageId) {
            return;
        }
        const el = document.getElementById(`msg-${messageId}`);
        if (!el) {
            return;
        }
        for (const old of this.els.messages.querySelectorAll(".highlight")) {
            old.classList.remove("highlight");
        }
        el.classList.add("highlight");
        el.scrollIntoView({ block: "center" });
        el.focus({ preventScroll: true });
    }

    scrollToEnd() {
        const m = this.els.messages;
        m.scrollTop = m.scrollHeight;
    }

    addView(m) {
        const view = new MessageView(m.role, { id: m.id, model: m.model, actions: this });
        view.update(m);
        this.append(view);
        return view;
    }

    append(view) {
        this.els.empty.hidden = true;
        this.views.push(view);
        this.els.messages.append(view.el);
        this.scrollToEnd();
    }

    submit() {
        const text = this.els.input.value;
        if (!text.trim() || this.streaming) {
            return;
        }
        this.els.input.value = "";
        this.send(text);
    }

    setBusy(on) {
        this.els.send.hidden = on;
        this.els.stop.hidden = !on;
        this.els.send.disabled = on;
    }

    /** Sends `content` and streams the answer into the page. */
    send(content) {
        return this.turn({ content, route: "messages/stream", retry: () => this.send(content) });
    }

    /**
     * Edits the question `view` shows: the branch from it down leaves the page, the new question
     * (a sibling) and its answer stream in on the edit route.
     */
    edit(view, content) {
        if (this.streaming || !view.id) {
            return;
        }
        const place = { count: view.siblingCount + 1 };
        this.dropFrom(view);
        return this.turn({ content, route: `messages/${view.id}/edit/stream`, place });
    }

    /** Answers the question before `view` (an answer) again, with the picker's model: a sibling. */
    regenerate(view) {
        if (this.streaming || !view.id) {
            return;
        }
        const place = { count: view.siblingCount + 1 };
        this.dropFrom(view);
        return this.turn({ content: null, route: `messages/${view.id}/regenerate/stream`, place });
    }

    /** Removes `view` and every view after it (the branch being replaced). */
    dropFrom(view) {
        const at = this.views.indexOf(view);
        for (const v of this.views.splice(at === -1 ? this.views.length : at)) {
            clearInterval(v.countdown);
            v.el.remove();
        }
    }

    /** Steps `view`'s message to its previous (-1) or next (+1) sibling and shows that branch. */
    async switchSibling(view, delta) {
        if (this.streaming || !this.conv || !view.id) {
            return;
        }
        const convId = this.conv.id;
        const position = this.views.indexOf(view);
        this.notice(null);
        this.switching = true;
        try {
            const target = await switchToSibling(convId, { id: view.id, parent_id: view.parentId, sibling_index: view.siblingIndex }, delta);
            if (!target || this.conv?.id !== convId) {
                return;
            }
            const conv = (await api.json("GET", `/api/v1/conversations/${convId}`)).data;
            if (this.conv?.id !== convId || this.streaming) {
                return;
            }
            this.showBranch(conv);
            // Keep the reader where they were: the message in the same place, its arrow focused.
            const same = this.views[position];
            if (same) {
                same.el.scrollIntoView({ block: "nearest" });
                const arrow = same.el.querySelector(delta < 0 ? ".sib-prev" : ".sib-next");
                (arrow && !arrow.disabled ? arrow : same.el.querySelector(".sib-prev:not(:disabled), .sib-next:not(:disabled)"))?.focus();
            }
        } catch (err) {
            this.notice(`Could not switch to that branch: ${err.message}`);
        } finally {
            this.switching = false;
        }
    }

    /**
     * The conversation's active leaf changed elsewhere (another tab or device switched branches):
     * shows the branch now active, unless this tab is busy with its own turn, switch or edit.
     */
    async followLeaf(leaf) {
        const last = this.views[this.views.length - 1];
        if (!leaf || !last?.id || last.id === leaf || this.streaming || this.switching || this.views.some((v) => v.editor)) {
            return;
        }
        const convId = this.conv.id;
        try {
            const conv = (await api.json("GET", `/api/v1/conversations/${convId}`)).data;
            if (this.conv?.id === convId && !this.streaming && !this.switching && !this.views.some((v) => v.editor)) {
                this.showBranch(conv);
            }
        } catch {
            // the page keeps the branch it shows; the next change or a reload brings the new one
        }
    }

    /** A new conversation holding the path up to `view`'s message, added to the list and opened. */
    async fork(view) {
        if (!this.conv || !view.id) {
            return;
        }
        this.notice(null);
        try {
            const { messages, ...conv } = (await api.json("POST", `/api/v1/conversations/${this.conv.id}/fork`, { message_id: view.id })).data;
            this.events({ type: "updated", conversation: conv });
            location.hash = `#/c/${conv.id}`;
        } catch (err) {
            this.notice(`Could not fork: ${err.message}`);
        }
    }

    /**
     * One streamed turn on `route` (under the conversation): `content` is the new question (null
     * when regenerating: no question is stored), `place.count` the new message's sibling count
     * for an edit or a regeneration (it is the newest sibling). `retry` defaults to answering
     * the stored question again.
     */
    async turn({ content, route, place = null, retry = null }) {
        if (this.streaming) {
            return;
        }
        const model = this.els.model.value || undefined;
        const thinking = this.els.thinking.checked;
        const controller = new AbortController();
        this.streaming = { controller };
        this.setBusy(true);
        const before = this.views[this.views.length - 1] ?? null;
        let user = null;
        if (content !== null) {
            user = new MessageView("user", { actions: this });
            user.setText(content);
            this.append(user);
        }
        const bot = new MessageView("assistant", { model, actions: this });
        bot.setStreaming(true);
        this.append(bot);
        this.streaming = { controller, user, bot };
        if (!retry) {
            retry = () => (bot.id ? this.regenerate(bot) : this.turn({ content, route, place }));
        }
        bot.retry = retry;
        try {
            if (!this.conv) {
                const spec = { model };
                if (this.draftSystem.trim()) {
                    spec.system_prompt = this.draftSystem;
                }
                this.conv = (await api.json("POST", "/api/v1/conversations", spec)).data;
                this.events({ type: "created", conversation: this.conv });
                this.startFeed(this.conv.id);
            }
            const convId = this.conv.id;
            const res = await api.fetch(`/api/v1/conversations/${convId}/${route}`, {
                method: "POST",
                headers: { "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify(content !== null ? { content, model, thinking } : { model, thinking }),
                signal: controller.signal,
            });
            if (!res.ok) {
                const err = await errorOf(res);
                bot.setStatus("error", describeError(err), { retry, retryAfter: err.retryAfter });
                if (user && (err.status === 429 || err.status === 401 || err.status === 403)) {
                    user.el.classList.add("not-sent");
                }
                return;
            }
            await this.consume(res.body, user, bot, retry);
        } catch (err) {
            if (err.name === "AbortError") {
                bot.setStatus("partial", "stopped before the end");
            } else {
                bot.setStatus("error", describeError(err), { retry, retryAfter: err.retryAfter });
            }
        } finally {
            // The new messages' places: the question follows what was last on the page, the
            // answer its question; an edited question or a regenerated answer is the newest of
            // its siblings.
            const question = user ?? before;
            if (user) {
                user.setPlace(before?.id, place?.count ?? 1, (place?.count ?? 1) - 1);
            }
            bot.setPlace(question?.id, user ? 1 : place?.count ?? 1, user ? 0 : (place?.count ?? 1) - 1);
            bot.setStreaming(false);
            this.streaming = null;
            this.setBusy(false);
            if (!bot.text && !bot.thinking && bot.el.dataset.status === undefined) {
                bot.setStatus("error", "The answer was empty.", { retry });
            }
        }
    }

    /** Reads the answer's SSE events into the views. */
    async consume(body, user, bot, retry) {
        const blocks = new Map();
        for await (const { data } of readSse(body)) {
            let e;
            try {
                e = JSON.parse(data);
            } catch {
                continue;
            }
            switch (e.type) {
                case "message_start": {
                    const p = e.message?.parley ?? {};
                    if (p.user_message_id && user && !user.id) {
                        user.setId(p.user_message_id);
                    }
                    if (p.message_id && !bot.id) {
                        bot.setId(p.message_id);
                    }
                    bot.setModel(e.message?.model);
                    break;
                }
                case "content_block_start": {
                    const b = e.content_block ?? {};
                    blocks.set(e.index, b);
                    if (b.type === "tool_use") {
                        bot.toolCard(b.id, b.name);
                        if (b.input && Object.keys(b.input).length > 0) {
                            bot.setToolArguments(b.id, b.name, b.input);
                        }
                    } else if (b.type === "thinking") {
                        bot.thinkingBlock();
                    }
                    break;
                }
                case "content_block_delta": {
                    const d = e.delta ?? {};
                    if (d.type === "text_delta") {
                        bot.appendText(d.text ?? "");
                        this.scrollToEnd();
                    } else if (d.type === "thinking_delta") {
                        bot.appendThinking(d.thinking ?? "");
                    } else if (d.type === "input_json_delta") {
                        bot.appendToolInput(blocks.get(e.index)?.id, d.partial_json ?? "");
                    }
                    break;
                }
                case "content_block_stop": {
                    const b = blocks.get(e.index);
                    if (b?.type === "tool_use") {
                        bot.finishToolInput(b.id);
                    }
                    break;
                }
                case "message_stop":
                    if (bot.el.dataset.status === undefined) {
                        bot.setStatus("complete");
                    }
                    break;
                case "tool_result":
                    bot.setToolResult(e.tool_use_id, e.name, e.result);
                    break;
                case "message_delta": {
                    const p = e.parley ?? {};
                    if (p.message_id && !bot.id) {
                        bot.setId(p.message_id);
                    }
                    if (p.status === "partial") {
                        bot.setStatus("partial", "the answer was cut short");
                    }
                    break;
                }
                case "error": {
                    const status = e.parley?.status === "partial" ? "partial" : "error";
                    const err = { type: e.error?.type, message: e.error?.message ?? "error", status: 0 };
                    bot.setStatus(status, describeError(err), { retry });
                    break;
                }
                default:
                    break;
            }
        }
    }

    /** Stops the answer being streamed (the server keeps what arrived, as "partial"). */
    stop() {
        if (this.streaming) {
            this.streaming.controller.abort();
        }
    }

    // --- the conversation's live feed ---------------------------------------------------------

    startFeed(id) {
        this.stopFeed();
        const controller = new AbortController();
        this.feed = controller;
        (async () => {
            let delay = 1000;
            while (!controller.signal.aborted) {
                try {
                    const res = await api.fetch(`/api/v1/conversations/${id}/events`, {
                        headers: { accept: "text/event-stream" },
                        signal: controller.signal,
                    });
                    if (res.status === 403 || res.status === 404 || res.status === 401) {
                        return;
                    }
                    if (res.ok) {
                        delay = 1000;
                        for await (const ev of readSse(res.body)) {
                            this.onFeedEvent(id, ev);
                        }
                    }
                } catch {
                    if (controller.signal.aborted) {
                        return;
                    }
                }
                await sleep(delay);
                delay = Math.min(delay * 2, 15_000);
            }
        })();
    }

    stopFeed() {
        this.feed?.abort();
        this.feed = null;
    }

    onFeedEvent(convId, { event, data }) {
        let d;
        try {
            d = JSON.parse(data);
        } catch {
            return;
        }
        const current = this.conv?.id === convId;
        switch (event) {
            case "new_message":
            case "message.completed":
                if (current && d.conversation_id === convId) {
                    this.upsert(d);
                }
                this.events({ type: "touched", id: convId, at: d.created_at });
                break;
            case "title.updated":
                if (current) {
                    this.conv.title = d.title;
                    this.setTitle();
                }
                this.events({ type: "title", id: convId, title: d.title });
                break;
            case "conversation.updated":
                if (current) {
                    this.conv = { ...this.conv, ...d };
                    this.setTitle();
                    this.followLeaf(d.active_leaf_id);
                }
                this.events({ type: "updated", conversation: d });
                break;
            case "conversation.deleted":
                this.events({ type: "deleted", id: convId });
                if (current) {
                    this.stopFeed();
                    this.events({ type: "gone", id: convId });
                }
                break;
            default:
                break;
        }
    }

    /** A stored message from the feed: updates the view showing it, or adds one. */
    upsert(m) {
        let view = this.views.find((v) => v.id === m.id);
        if (!view) {
            // This tab's own message before the stream told its id: adopt it.
            view = this.views.find((v) => !v.id && v.role === m.role && (m.role !== "user" || v.text === m.content));
            if (view) {
                view.setId(m.id);
            }
        }
        if (view) {
            if (!view.streaming) {
                view.update(m);
            }
            return;
        }
        // Another branch's message (an edit or regeneration made elsewhere) is not on this page.
        const last = this.views[this.views.length - 1];
        if (last?.id && m.parent_id !== undefined && (m.parent_id ?? null) !== last.id) {
            return;
        }
        this.addView(m);
    }
}
