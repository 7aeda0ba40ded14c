// Model output to DOM: markdown through marked, then DOMPurify. Nothing a model writes can run:
// raw HTML in the markdown is shown as text, DOMPurify drops what is left of script, event
// handlers, forms, frames and images, and links keep only http(s) and mailto targets. The page's
// Content-Security-Policy (no inline script, same-origin only) is the second wall.
import { Marked } from "./marked.esm.js";
import DOMPurify from "./purify.es.mjs";

const escapeHtml = (text) =>
    String(text).replace(/[&<>"']/g, (c) => ({ "&": "&amp;", "<": "&lt;", ">": "&gt;", '"': "&quot;", "'": "&#39;" })[c]);

const marked = new Marked({ gfm: true, breaks: false, async: false });
marked.use({
    renderer: {
        // Raw HTML a model writes is text, not markup.
        html(token) {
            return escapeHtml(token.text ?? token.raw ?? "");
        },
        // Images would make the browser fetch a URL the model chose: show a link instead.
        image(token) {
            const label = token.text || token.href || "image";
            return `<a href="${escapeHtml(token.href ?? "")}">[image: ${escapeHtml(label)}]</a>`;
        },
    },
});

const PURIFY_MARKDOWN = {
    USE_PROFILES: { html: true },
    FORBID_TAGS: ["img", "style", "form", "input", "button", "textarea", "select", "option",
        "iframe", "frame", "object", "embed", "video", "audio", "source", "picture", "svg", "math",
        "link", "meta", "base", "dialog"],
    FORBID_ATTR: ["style", "id", "name", "srcset", "action", "formaction"],
    ALLOWED_URI_REGEXP: /^(?:https?:|mailto:)/i,
    RETURN_DOM_FRAGMENT: true,
};

// Links open elsewhere, never with a handle on this page.
DOMPurify.addHook("afterSanitizeAttributes", (node) => {
    if (node.tagName === "A") {
        if (node.hasAttribute("href")) {
            node.setAttribute("target", "_blank");
            node.setAttribute("rel", "noopener noreferrer nofollow");
        }
    }
});

/** A DocumentFragment of the sanitised rendering of `markdown`. */
export function renderMarkdown(markdown) {
    let html;
    try {
        html = marked.parse(markdown ?? "");
    } catch {
        html = `<pre>${escapeHtml(markdown)}</pre>`;
    }
    return DOMPurify.sanitize(html, PURIFY_MARKDOWN);
}

/**
 * A search snippet (HTML-escaped text with <mark> around matches, from /api/v1/search) as a
 * DocumentFragment: only <mark> survives, without attributes.
 */
export function renderSnippet(snippet) {
    return DOMPurify.sanitize(snippet ?? "", {
        ALLOWED_TAGS: ["mark"],
        ALLOWED_ATTR: [],
        RETURN_DOM_FRAGMENT: true,
    });
}
