// The message tree as the client sees it: GET …/conversations/{id} gives one branch (the path to
// the active leaf) with each message's sibling count and position, but not its siblings' ids. To
// step to the previous or next sibling the client reads every message of the conversation (the
// paged GET …/messages, parent_id included) and picks the neighbour in the server's order, oldest
// first; PATCH {active_leaf} then switches the branch, so a reload shows the same one.
import { api } from "./api.js";

const PER_PAGE = 100;

/** Every message of conversation `convId`, all branches, oldest first. */
export async function allMessages(convId) {
    const out = [];
    for (let page = 1; ; ++page) {
        const body = await api.json("GET", `/api/v1/conversations/${convId}/messages?page=${page}&per_page=${PER_PAGE}`);
        const data = body.data ?? [];
        out.push(...data);
        if (data.length < PER_PAGE || out.length >= Number(body.total ?? 0)) {
            return out;
        }
    }
}

/** The messages that share `parentId` (null: the roots), oldest first, as the server counts them. */
export function siblingsOf(messages, parentId) {
    const parent = parentId ?? null;
    return messages
        .filter((m) => (m.parent_id ?? null) === parent)
        .sort((a, b) => (a.created_at === b.created_at ? (a.id < b.id ? -1 : 1) : a.created_at < b.created_at ? -1 : 1));
}

/**
 * Makes the branch through the sibling `delta` places from `message` ({id, parent_id,
 * sibling_index}) the conversation's active one. Resolves the sibling's id, or null when there is
 * none that way.
 */
export async function switchToSibling(convId, message, delta) {
    const siblings = siblingsOf(await allMessages(convId), message.parent_id);
    let index = siblings.findIndex((m) => m.id === message.id);
    if (index === -1) {
        index = message.sibling_index ?? 0;
    }
    const target = siblings[index + delta];
    if (!target) {
        return null;
    }
    await api.json("PATCH", `/api/v1/conversations/${convId}`, { active_leaf: target.id });
    return target.id;
}
