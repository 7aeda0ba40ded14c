// The mixed load of bench/soak.sh: CONCURRENCY clients, each looping over a weighted draw of
// sign-ups, conversation CRUD, sends, SSE streams, WebSocket turns and searches against the server at
// BASE, until SECONDS have passed. Prints one JSON line of counts at the end:
//   {"requests":…, "by_kind":{…}, "status":{"2xx":…, "4xx":…, "5xx":…}, "errors":…, "five_xx":[first few]}
//
//   node bench/soak_load.mjs http://127.0.0.1:8000 60 8

import { randomBytes } from "node:crypto";

import WebSocket from "ws";

const [base, secondsArg = "60", concurrencyArg = "8"] = process.argv.slice(2);
const deadline = Date.now() + Number(secondsArg) * 1000;
const CONCURRENCY = Number(concurrencyArg);
const PASSWORD = "SoakPass12345";
const API = `${base}/api/v1`;

const stats = { requests: 0, by_kind: {}, status: { "2xx": 0, "3xx": 0, "4xx": 0, "5xx": 0 }, errors: 0, five_xx: [] };
const WORDS = ["alpha", "bravo", "charlie", "delta", "echo", "foxtrot", "golf", "hotel", "india", "juliet"];
const word = () => WORDS[Math.floor(Math.random() * WORDS.length)];

function count(kind, status, detail) {
    stats.requests += 1;
    stats.by_kind[kind] = (stats.by_kind[kind] ?? 0) + 1;
    stats.status[`${Math.floor(status / 100)}xx`] += 1;
    if (status >= 500 && stats.five_xx.length < 10) {
        stats.five_xx.push({ kind, status, detail: String(detail).slice(0, 200) });
    }
}

async function call(kind, method, url, { token, json } = {}) {
    const headers = {};
    if (token) {
        headers.authorization = `Bearer ${token}`;
    }
    if (json !== undefined) {
        headers["content-type"] = "application/json";
    }
    const res = await fetch(url, { method, headers, body: json === undefined ? undefined : JSON.stringify(json) });
    const text = await res.text();
    count(kind, res.status, text);
    return { status: res.status, body: text ? JSON.parse(text) : undefined };
}

async function signUp() {
    const email = `soak-${randomBytes(6).toString("hex")}@example.com`;
    const r = await call("sign-up", "POST", `${API}/auth/register`, { json: { email, password: PASSWORD } });
    if (r.status !== 201) {
        throw new Error(`sign-up: ${r.status}`);
    }
    return r.body.data.access_token;
}

async function stream(token, id) {
    const res = await fetch(`${API}/conversations/${id}/messages/stream`, {
        method: "POST",
        headers: { authorization: `Bearer ${token}`, "content-type": "application/json" },
        body: JSON.stringify({ content: `tell me about ${word()} and ${word()}` }),
    });
    const text = await res.text(); // the whole stream
    count("stream", res.status, text);
}

function websocketTurn(token) {
    return new Promise((resolve) => {
        const ws = new WebSocket(`${base.replace(/^http/, "ws")}/ws/session/soak-${randomBytes(4).toString("hex")}?token=${token}`);
        const finish = (status, detail) => {
            count("websocket", status, detail);
            ws.terminate();
            resolve();
        };
        ws.once("unexpected-response", (_req, res) => finish(res.statusCode, "upgrade refused"));
        ws.once("error", (err) => finish(599, err.message));
        ws.once("open", () => ws.send(JSON.stringify({ message: `hello ${word()} over a websocket` })));
        ws.on("message", (data) => {
            const f = JSON.parse(data.toString());
            if (f.type === "done") {
                finish(200, "");
            } else if (f.type === "error") {
                finish(500, JSON.stringify(f));
            }
        });
    });
}

// One client: an account of its own, a few conversations, then the weighted draw.
async function client() {
    let token = await signUp();
    const conversations = [];
    while (Date.now() < deadline) {
        try {
            const dice = Math.random();
            if (conversations.length === 0 || dice < 0.1) {
                const r = await call("create", "POST", `${API}/conversations`, { token, json: { title: `soak ${word()}` } });
                if (r.status === 201) {
                    conversations.push(r.body.data.id);
                }
                continue;
            }
            const id = conversations[Math.floor(Math.random() * conversations.length)];
            if (dice < 0.13) {
                token = await signUp();
                conversations.length = 0;
            } else if (dice < 0.25) {
                await call("list", "GET", `${API}/conversations?per_page=20`, { token });
            } else if (dice < 0.35) {
                await call("get", "GET", `${API}/conversations/${id}`, { token });
            } else if (dice < 0.4) {
                await call("update", "PATCH", `${API}/conversations/${id}`, { token, json: { title: `renamed ${word()}` } });
            } else if (dice < 0.43) {
                const r = await call("delete", "DELETE", `${API}/conversations/${id}`, { token });
                if (r.status < 300) {
                    conversations.splice(conversations.indexOf(id), 1);
                }
            } else if (dice < 0.63) {
                await call("send", "POST", `${API}/conversations/${id}/messages`, { token, json: { content: `what is ${word()}?` } });
            } else if (dice < 0.8) {
                await stream(token, id);
            } else if (dice < 0.88) {
                await websocketTurn(token);
            } else {
                await call("search", "GET", `${API}/search?q=${word()}`, { token });
            }
            if (conversations.length > 50) {
                conversations.shift(); // keep a client's working set small; the database grows
            }
        } catch (err) {
            stats.errors += 1;
            if (stats.errors <= 5) {
                console.error(`soak client: ${err.message}`);
            }
        }
    }
}

await Promise.all(Array.from({ length: CONCURRENCY }, () => client()));
console.log(JSON.stringify(stats));
