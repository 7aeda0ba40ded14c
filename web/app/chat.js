// The chat page: a conversation's messages, the composer, the model picker and system prompt,
// answers streamed token by token (POST …/messages/stream, Anthropic's SSE events), Stop, retry,
// thinking and tool cards, and the conversation's live feed (GET …/events) so that another tab's
// messages and titles appear here without a reload.
import { api, errorOf } from "./api.js";
import { $, h } from "./dom.js";
import { renderMarkdown } from "./markdown.js";
import { readSse } from "./sse.js";

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

/** One message on screen: its role, thinking block, tool cards, body and status line. */
class MessageView {
    constructor(role, { id = null, model = null } = {}) {
        this.role = role;
        this.id = null;
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
        this.el = h(
            "article",
            { class: `msg msg-${role}`, "aria-label": role === "user" ? "Your message" : "Assistant's answer", tabindex: "-1" },
            this.head,
            this.toolsEl,
            this.body,
            this.statusEl
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

    setTitle() {
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
            this.els.title.textContent = err.status === 404 ? "Conversation not found" : err.status === 403 ? "Not your conversation" : "Could not load the conversation";
            this.els.messages.append(h("p", { class: "error", role: "alert" }, err.message));
            return;
        }
        const conv = body.data;
        this.conv = conv;
        this.clearMessages();
        for (const m of conv.messages ?? []) {
            this.addView(m);
        }
        this.setTitle();
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
        const view = new MessageView(m.role, { id: m.id, model: m.model });
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
    async send(content) {
        if (this.streaming) {
            return;
        }
        const model = this.els.model.value || undefined;
        const thinking = this.els.thinking.checked;
        const controller = new AbortController();
        this.streaming = { controller };
        this.setBusy(true);
        const user = new MessageView("user");
        user.setText(content);
        this.append(user);
        const bot = new MessageView("assistant", { model });
        bot.setStreaming(true);
        this.append(bot);
        this.streaming = { controller, user, bot };
        const retry = () => this.send(content);
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
            const res = await api.fetch(`/api/v1/conversations/${convId}/messages/stream`, {
                method: "POST",
                headers: { "content-type": "application/json", accept: "text/event-stream" },
                body: JSON.stringify({ content, model, thinking }),
                signal: controller.signal,
            });
            if (!res.ok) {
                const err = await errorOf(res);
                bot.setStatus("error", describeError(err), { retry, retryAfter: err.retryAfter });
                if (err.status === 429 || err.status === 401 || err.status === 403) {
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
                    if (p.user_message_id && !user.id) {
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
        this.addView(m);
    }
}
