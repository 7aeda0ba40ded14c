// The API-keys page: the caller's keys, a form to create one (name, scopes, expiry) whose secret
// is shown once with a copy button, and revoke (with confirmation).
import { api } from "./api.js";
import { $, confirmDialog, copyText, fmtTime, h } from "./dom.js";

let wired = false;

function wire() {
    if (wired) {
        return;
    }
    wired = true;
    $("key-form").addEventListener("submit", async (ev) => {
        ev.preventDefault();
        const error = $("key-error");
        error.hidden = true;
        const name = $("key-name").value.trim();
        const scopes = [...document.querySelectorAll("#key-form input[name=scope]:checked")].map((i) => i.value);
        if (!name) {
            error.textContent = "Give the key a name.";
            error.hidden = false;
            return;
        }
        if (scopes.length === 0) {
            error.textContent = "Choose at least one scope.";
            error.hidden = false;
            return;
        }
        const body = { name, scopes };
        const days = Number($("key-expiry").value);
        if (days > 0) {
            body.expires_at = new Date(Date.now() + days * 86_400_000).toISOString();
        }
        try {
            const created = (await api.json("POST", "/api/v1/api-keys", body)).data;
            $("key-secret-value").textContent = created.key;
            $("key-secret").hidden = false;
            $("key-copy").textContent = "Copy";
            $("key-name").value = "";
            $("key-copy").focus();
            await loadKeys();
        } catch (err) {
            error.textContent = err.message;
            error.hidden = false;
        }
    });
    $("key-copy").addEventListener("click", () => copyText($("key-secret-value").textContent, $("key-secret-value"), $("key-copy")));
    $("key-secret-close").addEventListener("click", () => {
        $("key-secret-value").textContent = "";
        $("key-secret").hidden = true;
    });
}

async function revoke(key) {
    const ok = await confirmDialog(`Revoke the key “${key.name}” (${key.prefix}…)? Programs using it stop working at once.`, "Revoke");
    if (!ok) {
        return;
    }
    try {
        await api.json("DELETE", `/api/v1/api-keys/${key.id}`);
        $("key-status").textContent = `Revoked “${key.name}”.`;
    } catch (err) {
        $("key-status").textContent = `Could not revoke: ${err.message}`;
    }
    await loadKeys();
}

async function loadKeys() {
    let keys;
    try {
        keys = (await api.json("GET", "/api/v1/api-keys")).data ?? [];
    } catch (err) {
        $("key-status").textContent = `Could not load keys: ${err.message}`;
        return;
    }
    if (keys.length === 0) {
        $("key-rows").replaceChildren(h("tr", {}, h("td", { colspan: "7", class: "muted" }, "No keys yet.")));
        return;
    }
    $("key-rows").replaceChildren(
        ...keys.map((k) =>
            h(
                "tr",
                { dataset: { keyId: k.id } },
                h("td", { class: "key-name" }, k.name),
                h("td", {}, h("code", {}, `${k.prefix}…`)),
                h("td", {}, (k.scopes ?? []).join(", ")),
                h("td", {}, fmtTime(k.created_at)),
                h("td", {}, fmtTime(k.last_used_at)),
                h("td", {}, k.expires_at ? fmtTime(k.expires_at) : "never"),
                h("td", {}, h("button", { type: "button", class: "danger", "aria-label": `Revoke ${k.name}`, onclick: () => revoke(k) }, "Revoke"))
            )
        )
    );
}

export async function showKeys() {
    wire();
    await loadKeys();
}
