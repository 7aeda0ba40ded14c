// Sharing a conversation and moving it in and out: the Share dialog (make a read-only link to the
// active branch, copy it, list and revoke the caller's links), the public snapshot page a link
// opens (#/share/TOKEN, no account needed: it reads GET /share/{token}), Export (Parley's JSON
// with every branch, or the branch as Markdown, downloaded as a file) and Import (a file picker:
// Parley's JSON or ChatGPT's conversations.json; the server validates, errors show in place).
import { api, errorOf } from "./api.js";
import { MessageView } from "./chat.js";
import { $, copyText, fmtTime, h } from "./dom.js";

/** The page a share link opens: served by this client, it reads the snapshot without credentials. */
export function shareLink(token) {
    return `${location.origin}/app/#/share/${encodeURIComponent(token)}`;
}

// --- the Share dialog ------------------------------------------------------------------------------

let currentConversation = () => null;

async function listShares() {
    const status = $("share-status");
    const list = $("share-list");
    let shares;
    try {
        shares = (await api.json("GET", "/api/v1/shares")).data ?? [];
    } catch (err) {
        status.textContent = `Could not load your links: ${err.message}`;
        return;
    }
    const convId = currentConversation()?.id;
    list.replaceChildren(...shares.map((s) => shareItem(s, s.conversation_id === convId)));
    $("share-empty").hidden = shares.length > 0;
}

function shareItem(share, current) {
    const link = shareLink(share.token);
    const url = h("a", { class: "share-url", href: link, target: "_blank", rel: "noopener noreferrer" }, link);
    const copy = h("button", { type: "button", class: "share-copy", "aria-label": `Copy the link to ${share.title ?? "Untitled"}` }, "Copy");
    copy.addEventListener("click", () => copyText(link, url, copy));
    const revoke = h("button", { type: "button", class: "danger share-revoke", "aria-label": `Revoke the link to ${share.title ?? "Untitled"}` }, "Revoke");
    revoke.addEventListener("click", async () => {
        try {
            await api.json("DELETE", `/api/v1/shares/${share.id}`);
            $("share-status").textContent = "Revoked: the link answers “not found” from now on.";
            await listShares();
        } catch (err) {
            $("share-status").textContent = `Not revoked: ${err.message}`;
        }
    });
    const li = h(
        "li",
        { class: current ? "share current" : "share" },
        h("div", { class: "share-title" }, share.title ?? "Untitled", current ? h("span", { class: "muted small" }, " (this conversation)") : null),
        h("div", { class: "muted small" }, `Shared ${fmtTime(share.created_at)}`),
        url,
        h("div", { class: "row" }, copy, revoke)
    );
    li.dataset.shareId = share.id;
    li.dataset.token = share.token;
    return li;
}

async function createShare() {
    const conv = currentConversation();
    if (!conv) {
        return;
    }
    const status = $("share-status");
    try {
        const share = (await api.json("POST", `/api/v1/conversations/${conv.id}/share`)).data;
        status.textContent = "Link created: a snapshot of this branch as it is now.";
        await listShares();
        $("share-list").querySelector(`[data-share-id="${share.id}"] .share-copy`)?.focus();
    } catch (err) {
        status.textContent = `No link made: ${err.message}`;
    }
}

async function download(format) {
    const conv = currentConversation();
    if (!conv) {
        return;
    }
    const status = $("export-status");
    status.textContent = "";
    try {
        const res = await api.fetch(`/api/v1/conversations/${conv.id}/export?format=${format}`);
        if (!res.ok) {
            throw await errorOf(res);
        }
        const blob = await res.blob();
        const given = /filename="?([^";]+)"?/.exec(res.headers.get("content-disposition") ?? "")?.[1];
        const name = given ?? `conversation.${format === "markdown" ? "md" : "json"}`;
        const href = URL.createObjectURL(blob);
        const a = h("a", { href, download: name, hidden: true });
        document.body.append(a);
        a.click();
        a.remove();
        setTimeout(() => URL.revokeObjectURL(href), 60_000);
        $("export-menu").open = false;
    } catch (err) {
        status.textContent = `Export failed: ${err.message}`;
    }
}

/**
 * Wires Share, Export and Import. `conversation()` is the conversation shown; `imported(list)`
 * gets the conversations an import made.
 */
export function wireSharing({ conversation, imported }) {
    currentConversation = conversation;
    const dialog = $("share-dialog");
    $("share-button").addEventListener("click", async () => {
        $("share-status").textContent = "";
        dialog.showModal();
        $("share-create").focus();
        await listShares();
    });
    $("share-create").addEventListener("click", createShare);
    // The Export menu closes on a click elsewhere and on Esc (which then stops nothing else).
    const menu = $("export-menu");
    document.addEventListener("click", (ev) => {
        if (menu.open && !menu.contains(ev.target)) {
            menu.open = false;
        }
    });
    menu.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape" && menu.open) {
            ev.stopPropagation();
            menu.open = false;
            menu.querySelector("summary").focus();
        }
    });
    $("export-json").addEventListener("click", () => download("json"));
    $("export-markdown").addEventListener("click", () => download("markdown"));

    const file = $("import-file");
    $("import-button").addEventListener("click", () => file.click());
    file.addEventListener("change", async () => {
        const chosen = file.files?.[0];
        file.value = "";
        if (chosen) {
            await importFile(chosen, imported);
        }
    });
}

async function importFile(chosen, imported) {
    const status = $("import-status");
    status.classList.remove("error");
    status.textContent = `Importing ${chosen.name}…`;
    try {
        const text = await chosen.text();
        const made = (await api.json("POST", "/api/v1/conversations/import", text, { raw: true })).data ?? [];
        status.textContent = `Imported ${made.length} conversation${made.length === 1 ? "" : "s"}.`;
        imported(made);
    } catch (err) {
        status.classList.add("error");
        status.textContent = `${chosen.name} was not imported: ${err.message}`;
    }
}

// --- the public snapshot page --------------------------------------------------------------------

/** Shows the snapshot behind `token` read-only, without signing in. */
export async function showShared(token) {
    $("auth-view").hidden = true;
    $("app-view").hidden = true;
    $("shared-view").hidden = false;
    const list = $("shared-messages");
    list.replaceChildren();
    const res = await fetch(`/share/${encodeURIComponent(token)}`, { headers: { accept: "application/json" } }).catch(() => null);
    if (!res?.ok) {
        const err = res ? await errorOf(res) : null;
        $("shared-title").textContent = res?.status === 404 ? "This link does not exist or was revoked" : "The snapshot could not be loaded";
        $("shared-meta").textContent = err?.message ?? "The server could not be reached.";
        document.title = "Shared conversation · Parley";
        return;
    }
    const snap = (await res.json()).data;
    $("shared-title").textContent = snap.title ?? "Untitled";
    $("shared-meta").textContent = `A read-only snapshot shared ${fmtTime(snap.shared_at)}.`;
    document.title = `${snap.title ?? "Shared conversation"} · Parley`;
    for (const m of snap.messages ?? []) {
        const view = new MessageView(m.role, { model: m.role === "assistant" ? m.model : null });
        view.setText(m.content);
        list.append(view.el);
    }
}
