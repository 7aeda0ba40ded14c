// Parley's browser client: start-up (open mode, a stored session, or the sign-in page), the hash
// routes (#/ new chat, #/c/ID, #/c/ID/m/MESSAGE, #/usage, #/keys, and #/share/TOKEN: a shared
// snapshot, open to anyone), the pages, and keyboard shortcuts. Plain ES modules, no framework,
// no build step; served by the binary at /app/.
import { api, ApiError } from "./api.js";
import { Chat } from "./chat.js";
import { $ } from "./dom.js";
import { showKeys } from "./keys.js";
import { showShared, wireSharing } from "./sharing.js";
import { Sidebar } from "./sidebar.js";
import { showUsage } from "./usage.js";

const REFRESH_SIDEBAR_MS = 15_000;

let sidebar;
let chat;
let refreshTimer;

function showAuth(message) {
    $("app-view").hidden = true;
    $("auth-view").hidden = false;
    const error = $("auth-error");
    error.hidden = !message;
    error.textContent = message ?? "";
    $("auth-email").focus();
}

async function showApp(user) {
    $("auth-view").hidden = true;
    $("app-view").hidden = false;
    $("user-email").textContent = api.openMode ? "local user" : user?.email ?? "";
    $("sign-out").hidden = api.openMode;
    if (!sidebar) {
        sidebar = new Sidebar();
        chat = new Chat(onChatEvent);
        wireSharing({
            conversation: () => chat.conv,
            imported: (list) => {
                for (const c of list) {
                    sidebar.upsert(c);
                }
                if (list.length > 0) {
                    location.hash = `#/c/${list[0].id}`;
                }
            },
        });
    }
    await chat.loadModels();
    await sidebar.reset();
    clearInterval(refreshTimer);
    refreshTimer = setInterval(() => {
        if (document.visibilityState === "visible") {
            sidebar.refreshTop();
        }
    }, REFRESH_SIDEBAR_MS);
    await route();
}

// What the chat tells the sidebar (and the router).
function onChatEvent(e) {
    switch (e.type) {
        case "created":
            sidebar.upsert(e.conversation);
            sidebar.select(e.conversation.id);
            history.replaceState(null, "", `#/c/${e.conversation.id}`);
            break;
        case "updated":
            sidebar.upsert(e.conversation);
            break;
        case "title":
            sidebar.setTitle(e.id, e.title);
            break;
        case "touched":
            sidebar.touch(e.id, e.at);
            break;
        case "deleted":
            sidebar.remove(e.id);
            break;
        case "gone":
            location.hash = "#/";
            break;
        default:
            break;
    }
}

function showPage(name) {
    for (const page of ["chat", "usage", "keys"]) {
        $(`${page}-view`).hidden = page !== name;
        const link = $(`nav-${page}`);
        if (page === name) {
            link.setAttribute("aria-current", "page");
        } else {
            link.removeAttribute("aria-current");
        }
    }
}

async function route() {
    if ($("app-view").hidden) {
        return;
    }
    closeSidebar();
    const hash = location.hash || "#/";
    let m;
    if (hash === "#/usage") {
        showPage("usage");
        await showUsage();
    } else if (hash === "#/keys") {
        showPage("keys");
        await showKeys();
    } else if ((m = /^#\/c\/([^/]+)(?:\/m\/([^/]+))?$/.exec(hash))) {
        showPage("chat");
        sidebar.select(m[1]);
        await chat.open(m[1], { highlight: m[2] });
    } else {
        showPage("chat");
        sidebar.select(null);
        chat.newChat();
    }
}

function openSidebar() {
    $("app-view").classList.add("sidebar-open");
    $("sidebar-backdrop").hidden = false;
    $("menu-toggle").setAttribute("aria-expanded", "true");
    $("search-input").focus();
}

function closeSidebar() {
    $("app-view").classList.remove("sidebar-open");
    $("sidebar-backdrop").hidden = true;
    $("menu-toggle").setAttribute("aria-expanded", "false");
}

function wire() {
    let mode = "login";
    for (const id of ["sign-in", "sign-up"]) {
        $(id).addEventListener("click", (ev) => {
            mode = ev.currentTarget.dataset.mode;
        });
    }
    $("auth-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const submitter = ev.submitter;
        if (submitter?.dataset.mode) {
            mode = submitter.dataset.mode;
        }
        const email = $("auth-email").value.trim();
        const password = $("auth-password").value;
        if (!email || !password) {
            showAuth("Enter an email and a password.");
            return;
        }
        for (const b of document.querySelectorAll("#auth-form button")) {
            b.disabled = true;
        }
        try {
            const user = await api.signIn(mode, email, password);
            $("auth-password").value = "";
            await showApp(user);
        } catch (err) {
            const msg = err instanceof ApiError ? err.message : "The server could not be reached.";
            showAuth(err.status === 429 && err.retryAfter ? `${msg} Try again in ${err.retryAfter} s.` : msg);
        } finally {
            for (const b of document.querySelectorAll("#auth-form button")) {
                b.disabled = false;
            }
        }
    });
    $("sign-out").addEventListener("click", async () => {
        chat?.stop();
        chat?.stopFeed();
        clearInterval(refreshTimer);
        await api.signOut();
        history.replaceState(null, "", "#/");
        showAuth();
    });
    $("new-chat").addEventListener("click", () => {
        if (location.hash === "#/" || location.hash === "") {
            route();
        } else {
            location.hash = "#/";
        }
    });
    $("menu-toggle").addEventListener("click", () => {
        if ($("app-view").classList.contains("sidebar-open")) {
            closeSidebar();
        } else {
            openSidebar();
        }
    });
    $("sidebar-backdrop").addEventListener("click", closeSidebar);
    window.addEventListener("hashchange", () => {
        const shared = sharedToken();
        if (shared) {
            showShared(shared);
        } else if (!$("shared-view").hidden) {
            location.reload();  // back from a snapshot to the application: start it properly
        } else {
            route();
        }
    });
    document.addEventListener("keydown", (ev) => {
        if (ev.key === "Escape") {
            if (chat?.streaming) {
                ev.preventDefault();
                chat.stop();
            } else if ($("app-view").classList.contains("sidebar-open")) {
                closeSidebar();
            }
        }
    });
    document.addEventListener("visibilitychange", () => {
        if (document.visibilityState === "visible" && sidebar && !$("app-view").hidden) {
            sidebar.refreshTop();
        }
    });
    api.onSignedOut = () => {
        chat?.stop();
        chat?.stopFeed();
        clearInterval(refreshTimer);
        showAuth("Your session ended: sign in again.");
    };
}

/** The token of a #/share/TOKEN address, or null. */
function sharedToken() {
    const m = /^#\/share\/([^/]+)$/.exec(location.hash);
    return m ? decodeURIComponent(m[1]) : null;
}

async function start() {
    wire();
    const shared = sharedToken();
    if (shared) {
        await showShared(shared);
        return;
    }
    const openUser = await api.probeOpenMode();
    if (openUser) {
        await showApp(openUser);
        return;
    }
    const user = await api.resume();
    if (user) {
        await showApp(user);
    } else {
        showAuth();
    }
}

start();
