// The conversation sidebar: the caller's conversations (pinned first, then the most recently
// active), loaded page by page on the cursor API as the list scrolls, with pin, rename, archive
// and delete; and the message search box (GET /api/v1/search) whose hits open a conversation at
// the message.
import { api } from "./api.js";
import { $, confirmDialog, fmtTime, h } from "./dom.js";
import { renderSnippet } from "./markdown.js";

const PAGE = 20;

function byPinnedThenRecent(a, b) {
    if (a.is_pinned !== b.is_pinned) {
        return a.is_pinned ? -1 : 1;
    }
    if (a.updated_at !== b.updated_at) {
        return a.updated_at < b.updated_at ? 1 : -1;
    }
    return a.id < b.id ? 1 : -1;
}

export class Sidebar {
    constructor() {
        this.items = new Map();
        this.cursor = null;
        this.hasMore = true;
        this.loading = false;
        this.archived = false;
        this.currentId = null;
        this.editing = null;
        this.generation = 0;
        this.els = {
            list: $("conv-list"),
            status: $("conv-status"),
            sentinel: $("conv-sentinel"),
            archived: $("show-archived"),
            search: $("search-input"),
            results: $("search-results"),
            resultList: $("search-list"),
            searchStatus: $("search-status"),
            conversations: $("conversations"),
            scroller: $("sidebar"),
        };
        this.els.archived.addEventListener("change", () => {
            this.archived = this.els.archived.checked;
            this.reset();
        });
        this.observer = new IntersectionObserver(
            (entries) => {
                if (entries.some((e) => e.isIntersecting)) {
                    this.loadMore();
                }
            },
            { root: this.els.scroller, rootMargin: "200px" }
        );
        this.observer.observe(this.els.sentinel);
        this.wireSearch();
    }

    /** Forgets what is loaded and loads the first page again. */
    async reset() {
        this.generation += 1;
        this.items.clear();
        this.cursor = null;
        this.hasMore = true;
        this.loading = false;
        this.render();
        await this.loadMore();
    }

    query(cursor) {
        const q = new URLSearchParams({ limit: String(PAGE), is_archived: String(this.archived) });
        if (cursor) {
            q.set("cursor", cursor);
        }
        return `/api/v1/conversations?${q}`;
    }

    /** The next page, if any (called when the end of the list scrolls into view). */
    async loadMore() {
        if (this.loading || !this.hasMore) {
            return;
        }
        this.loading = true;
        const generation = this.generation;
        this.els.status.textContent = "Loading…";
        try {
            const body = await api.json("GET", this.query(this.cursor));
            if (generation !== this.generation) {
                return;
            }
            for (const c of body.data ?? []) {
                this.items.set(c.id, c);
            }
            this.cursor = body.next_cursor ?? null;
            this.hasMore = Boolean(this.cursor);
            this.els.status.textContent = this.items.size === 0 ? (this.archived ? "No archived conversations." : "No conversations yet.") : "";
            this.render();
        } catch (err) {
            this.els.status.textContent = `Could not load conversations: ${err.message}`;
            this.hasMore = false;
        } finally {
            if (generation === this.generation) {
                this.loading = false;
            }
        }
        // The observer fires on changes only: if the end is still in view, keep going.
        if (this.hasMore && generation === this.generation && this.sentinelVisible()) {
            await this.loadMore();
        }
    }

    sentinelVisible() {
        const s = this.els.sentinel.getBoundingClientRect();
        const r = this.els.scroller.getBoundingClientRect();
        return s.top < r.bottom + 200 && r.height > 0;
    }

    /** The first page again, merged in: conversations created or changed in another tab. */
    async refreshTop() {
        if (this.loading) {
            return;
        }
        try {
            const body = await api.json("GET", this.query(null));
            for (const c of body.data ?? []) {
                this.items.set(c.id, c);
            }
            if (this.items.size > 0) {
                this.els.status.textContent = "";
            }
            this.render();
        } catch {
            // the next refresh tries again
        }
    }

    upsert(c) {
        if (Boolean(c.is_archived) !== this.archived) {
            this.items.delete(c.id);
        } else {
            this.items.set(c.id, { ...this.items.get(c.id), ...c });
        }
        this.els.status.textContent = "";
        this.render();
    }

    setTitle(id, title) {
        const c = this.items.get(id);
        if (c) {
            c.title = title;
            this.render();
        }
    }

    touch(id, at) {
        const c = this.items.get(id);
        if (c && at && at > c.updated_at) {
            c.updated_at = at;
            this.render();
        }
    }

    remove(id) {
        this.items.delete(id);
        this.render();
    }

    select(id) {
        this.currentId = id;
        for (const li of this.els.list.children) {
            const a = li.querySelector("a");
            if (li.dataset.id === id) {
                a?.setAttribute("aria-current", "page");
            } else {
                a?.removeAttribute("aria-current");
            }
        }
    }

    render() {
        if (this.editing) {
            return;
        }
        const sorted = [...this.items.values()].sort(byPinnedThenRecent);
        this.els.list.replaceChildren(...sorted.map((c) => this.itemView(c)));
        this.select(this.currentId);
    }

    itemView(c) {
        const title = c.title ?? "Untitled";
        const link = h(
            "a",
            { href: `#/c/${c.id}`, class: "conv-link", title },
            c.is_pinned ? h("span", { class: "pin", "aria-label": "Pinned", role: "img" }, "★ ") : null,
            h("span", { class: "conv-title" }, title)
        );
        const action = (label, name, fn) =>
            h("button", {
                type: "button",
                role: "menuitem",
                dataset: { action: name },
                onclick: (ev) => {
                    ev.currentTarget.closest("details").open = false;
                    fn();
                },
            }, label);
        const menu = h(
            "details",
            { class: "conv-menu" },
            h("summary", { "aria-label": `Actions for ${title}`, title: "Actions" }, "⋯"),
            h(
                "div",
                { class: "menu", role: "menu" },
                action(c.is_pinned ? "Unpin" : "Pin", "pin", () => this.patch(c, { is_pinned: !c.is_pinned })),
                action("Rename", "rename", () => this.rename(c, li)),
                action(c.is_archived ? "Unarchive" : "Archive", "archive", () => this.patch(c, { is_archived: !c.is_archived })),
                action("Delete", "delete", () => this.remove_(c))
            )
        );
        const li = h("li", { class: c.is_pinned ? "conv pinned" : "conv", dataset: { id: c.id } }, link, menu);
        return li;
    }

    async patch(c, change) {
        try {
            const updated = (await api.json("PATCH", `/api/v1/conversations/${c.id}`, change)).data;
            this.upsert(updated);
        } catch (err) {
            this.els.status.textContent = `Could not update: ${err.message}`;
        }
    }

    rename(c, li) {
        const input = h("input", { class: "rename", value: c.title ?? "", "aria-label": "New title", maxlength: "200" });
        let done = false;
        const finish = async (save) => {
            if (done) {
                return;
            }
            done = true;
            this.editing = null;
            const title = input.value.trim();
            if (save && title && title !== c.title) {
                await this.patch(c, { title });
            } else {
                this.render();
            }
        };
        input.addEventListener("keydown", (ev) => {
            if (ev.key === "Enter") {
                ev.preventDefault();
                finish(true);
            } else if (ev.key === "Escape") {
                ev.preventDefault();
                ev.stopPropagation();
                finish(false);
            }
        });
        input.addEventListener("blur", () => finish(true));
        this.editing = c.id;
        li.replaceChildren(input);
        input.focus();
        input.select();
    }

    async remove_(c) {
        const ok = await confirmDialog(`Delete “${c.title ?? "Untitled"}” and all its messages? This cannot be undone.`);
        if (!ok) {
            return;
        }
        try {
            await api.json("DELETE", `/api/v1/conversations/${c.id}`);
            this.remove(c.id);
            if (this.currentId === c.id) {
                location.hash = "#/";
            }
        } catch (err) {
            this.els.status.textContent = `Could not delete: ${err.message}`;
        }
    }

    // --- search --------------------------------------------------------------------------------

    wireSearch() {
        let timer = null;
        this.els.search.addEventListener("input", () => {
            clearTimeout(timer);
            timer = setTimeout(() => this.search(this.els.search.value.trim()), 250);
        });
        this.els.search.addEventListener("keydown", (ev) => {
            if (ev.key === "Escape") {
                this.els.search.value = "";
                this.search("");
            } else if (ev.key === "Enter") {
                clearTimeout(timer);
                this.search(this.els.search.value.trim());
            }
        });
    }

    async search(q) {
        const searching = q.length > 0;
        this.els.results.hidden = !searching;
        this.els.conversations.hidden = searching;
        if (!searching) {
            this.els.resultList.replaceChildren();
            return;
        }
        const asked = q;
        this.lastQuery = q;
        this.els.searchStatus.textContent = "Searching…";
        let res;
        try {
            res = await api.fetch(`/api/v1/search?${new URLSearchParams({ q, limit: "20" })}`, { headers: { accept: "application/json" } });
        } catch (err) {
            this.els.searchStatus.textContent = `Search failed: ${err.message}`;
            return;
        }
        if (asked !== this.lastQuery) {
            return;
        }
        if (res.status === 404) {
            this.els.searchStatus.textContent = "Search is not available on this server.";
            this.els.resultList.replaceChildren();
            return;
        }
        const body = await res.json().catch(() => null);
        if (!res.ok) {
            this.els.searchStatus.textContent = `Search failed: ${body?.error?.message ?? res.status}`;
            return;
        }
        const hits = body?.data ?? [];
        this.els.searchStatus.textContent = hits.length === 0 ? "No messages match." : `${hits.length}${body.next_cursor ? "+" : ""} match${hits.length === 1 ? "" : "es"}`;
        this.els.resultList.replaceChildren(
            ...hits.map((hit) =>
                h(
                    "li",
                    { class: "hit" },
                    h(
                        "a",
                        { href: `#/c/${hit.conversation_id}/m/${hit.message_id}`, class: "hit-link", dataset: { messageId: hit.message_id } },
                        h("span", { class: "hit-title" }, hit.conversation_title ?? "Untitled"),
                        h("span", { class: "hit-snippet" }, renderSnippet(hit.snippet)),
                        h("span", { class: "hit-meta muted small" }, `${hit.role === "user" ? "You" : "Assistant"} · ${fmtTime(hit.created_at)}`)
                    )
                )
            )
        );
    }
}
