// Small DOM helpers. Everything the client shows is built with these (text goes in as text nodes),
// except model output and search snippets, which pass DOMPurify first (markdown.js).

/** An element: h("button", {class: "x", onclick: fn, "aria-label": "…"}, "text", child…). */
export function h(tag, props = {}, ...children) {
    const el = document.createElement(tag);
    setProps(el, props);
    appendAll(el, children);
    return el;
}

const SVG_NS = "http://www.w3.org/2000/svg";

/** An SVG element, same calling convention as h(). */
export function s(tag, props = {}, ...children) {
    const el = document.createElementNS(SVG_NS, tag);
    setProps(el, props);
    appendAll(el, children);
    return el;
}

function setProps(el, props) {
    for (const [k, v] of Object.entries(props ?? {})) {
        if (v === undefined || v === null || v === false) {
            continue;
        }
        if (k === "class") {
            el.setAttribute("class", v);
        } else if (k === "text") {
            el.textContent = v;
        } else if (k === "dataset") {
            Object.assign(el.dataset, v);
        } else if (k.startsWith("on") && typeof v === "function") {
            el.addEventListener(k.slice(2), v);
        } else if (v === true) {
            el.setAttribute(k, "");
        } else {
            el.setAttribute(k, String(v));
        }
    }
}

function appendAll(el, children) {
    for (const c of children.flat(Infinity)) {
        if (c === null || c === undefined || c === false) {
            continue;
        }
        el.append(c instanceof Node ? c : String(c));
    }
}

/** document.getElementById, shorter. */
export const $ = (id) => document.getElementById(id);

/** A number with thousands separators. */
export const fmtInt = (n) => Number(n ?? 0).toLocaleString("en-US");

/** Dollars: exact to the micro-dollar the API gives, trailing zeros trimmed past the cents. */
export function fmtUsd(x) {
    const v = Number(x ?? 0);
    if (v === 0) {
        return "$0.00";
    }
    const fixed = v.toFixed(6).replace(/0{1,4}$/, "");
    return `$${fixed}`;
}

/** A short local date-time, or "—". */
export function fmtTime(iso) {
    if (!iso) {
        return "—";
    }
    const d = new Date(iso);
    return Number.isNaN(d.getTime()) ? "—" : d.toLocaleString();
}

/** Shows the confirmation dialog; resolves true when the user confirms. */
export function confirmDialog(text, okLabel = "Delete") {
    const dialog = $("confirm-dialog");
    $("confirm-text").textContent = text;
    $("confirm-ok").textContent = okLabel;
    dialog.returnValue = "";
    return new Promise((resolve) => {
        dialog.addEventListener("close", () => resolve(dialog.returnValue === "ok"), { once: true });
        dialog.showModal();
        $("confirm-cancel").focus();
    });
}

/**
 * Copies `text` to the clipboard and says so on `button`; without the permission (or outside a
 * secure context) selects `el`'s text instead, for Ctrl+C.
 */
export async function copyText(text, el, button) {
    try {
        await navigator.clipboard.writeText(text);
        button.textContent = "Copied";
    } catch {
        const range = document.createRange();
        range.selectNodeContents(el);
        const sel = getSelection();
        sel.removeAllRanges();
        sel.addRange(range);
        button.textContent = "Selected: press Ctrl+C";
    }
}
