// Launches the real parley binary for integration tests, plus raw-socket helpers.
//
//   const server = await startServer({ env: { HSTS_MAX_AGE: "60" } });
//   const res = await fetch(`${server.baseUrl}/health`);
//   await server.stop();
//
// The binary is $PARLEY_BIN, or build/ci/parley relative to the repository root.

import assert from "node:assert/strict";
import { spawn } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import net from "node:net";
import { tmpdir } from "node:os";
import path from "node:path";
import { fileURLToPath } from "node:url";

const here = path.dirname(fileURLToPath(import.meta.url));

export const PARLEY_BIN = process.env.PARLEY_BIN ?? path.resolve(here, "../../build/ci/parley");

// Every setting the server reads from the environment (src/app/config.cpp). None is inherited
// from the test runner's environment; a test sets what it needs through `env`.
export const PARLEY_SETTINGS = [
    "HOST", "PORT", "DATA_DIR", "ENVIRONMENT", "WORKERS", "BLOCKING_THREADS", "DATABASE_URL",
    "MIGRATE_ON_START", "REDIS_URL", "JWT_SECRET", "JWT_ACCESS_TOKEN_EXPIRE_MINUTES",
    "JWT_REFRESH_TOKEN_EXPIRE_DAYS", "GROQ_API_KEY", "GOOGLE_AI_API_KEY", "OPENAI_API_KEY",
    "OPENAI_BASE_URL", "ANTHROPIC_API_KEY", "DEFAULT_MODEL", "FALLBACK_MODEL", "ALLOWED_ORIGINS",
    "RATE_LIMIT_STANDARD", "RATE_LIMIT_AI", "RATE_LIMIT_AUTH", "MAX_HEADER_BYTES", "MAX_HEADER_FIELDS",
    "MAX_BODY_BYTES", "HEADER_TIMEOUT_S", "BODY_TIMEOUT_S", "IDLE_TIMEOUT_S", "JSON_MAX_DEPTH",
    "MAX_CONNECTIONS", "WS_MAX_MESSAGE_BYTES", "SHUTDOWN_TIMEOUT_S", "HSTS_MAX_AGE", "LOG_LEVEL", "ACCESS_LOG",
    "ADMIN_EMAILS", "ACCOUNT_CACHE_TTL_MS", "KNOWLEDGE_DIR", "TOOL_TIMEOUT_S", "TOOL_MAX_ROUNDS",
    "STREAM_RESUME_WINDOW_S",
];

const READY_TIMEOUT_MS = 20_000;
const HEALTH_POLL_MS = 25;

/**
 * The PostgreSQL server the suite runs on, if any: PARLEY_TEST_DATABASE_URL, or the URL in the file
 * PARLEY_TEST_DATABASE_URL_FILE names (the CTest fixture's server, whose port is chosen at start).
 */
export function testDatabaseServer() {
    if (process.env.PARLEY_TEST_DATABASE_URL) {
        return process.env.PARLEY_TEST_DATABASE_URL;
    }
    const file = process.env.PARLEY_TEST_DATABASE_URL_FILE;
    return file ? readFileSync(file, "utf8").trim() : undefined;
}

/** A fresh temporary directory (caller removes it). */
export function makeTempDir(prefix = "parley-test-") {
    return mkdtempSync(path.join(tmpdir(), prefix));
}

/**
 * The environment for a parley child process: the runner's environment without any Parley
 * setting, ASan options that keep leak detection on, LOG_LEVEL=info, then `env` on top.
 */
export function childEnv(env = {}) {
    const out = { ...process.env };
    for (const name of PARLEY_SETTINGS) {
        delete out[name];
    }
    return {
        ...out,
        ASAN_OPTIONS: "detect_leaks=1:abort_on_error=0",
        LOG_LEVEL: "info",
        ...env,
    };
}

/**
 * Resolves `{ code, signal }` once `proc` has exited and its stdio has closed (so every output
 * line has been collected). Resolves at once for a process that already finished.
 */
export function waitForExit(proc) {
    if (proc.parleyExited) {
        return proc.parleyExited;
    }
    if (proc.exitCode !== null || proc.signalCode !== null) {
        return Promise.resolve({ code: proc.exitCode, signal: proc.signalCode });
    }
    return new Promise((resolve) => {
        proc.once("close", (code, signal) => resolve({ code, signal }));
    });
}

// Tracks the exit of a process we spawn from the moment it starts, so waitForExit never misses it.
function trackExit(proc) {
    proc.parleyExited = new Promise((resolve) => {
        proc.once("close", (code, signal) => resolve({ code, signal }));
    });
    return proc.parleyExited;
}

// Splits a stream into lines pushed onto `lines`; calls onLine for each.
function collectLines(stream, lines, onLine) {
    let partial = "";
    stream.setEncoding("utf8");
    stream.on("data", (chunk) => {
        partial += chunk;
        let nl;
        while ((nl = partial.indexOf("\n")) !== -1) {
            const line = partial.slice(0, nl);
            partial = partial.slice(nl + 1);
            lines.push(line);
            onLine?.(line);
        }
    });
    stream.on("end", () => {
        if (partial) {
            lines.push(partial);
            onLine?.(partial);
            partial = "";
        }
    });
}

/** Parses a JSON log line; undefined for anything else (ASan output, partial lines). */
export function parseLogLine(line) {
    if (!line.startsWith("{")) {
        return undefined;
    }
    try {
        return JSON.parse(line);
    } catch {
        return undefined;
    }
}

/**
 * Runs the binary to completion (for `version`, `migrate`, configuration errors). Resolves
 * `{ code, signal, stdout, stderr, elapsedMs }`; kills it and rejects after timeoutMs.
 */
export function runParley(args, { env = {}, cwd, timeoutMs = 15_000 } = {}) {
    const ownCwd = cwd === undefined ? makeTempDir("parley-cwd-") : undefined;
    const started = Date.now();
    return new Promise((resolve, reject) => {
        const proc = spawn(PARLEY_BIN, args, {
            cwd: cwd ?? ownCwd,
            env: childEnv(env),
            stdio: ["ignore", "pipe", "pipe"],
        });
        let stdout = "";
        let stderr = "";
        proc.stdout.setEncoding("utf8").on("data", (c) => (stdout += c));
        proc.stderr.setEncoding("utf8").on("data", (c) => (stderr += c));
        const timer = setTimeout(() => {
            proc.kill("SIGKILL");
            reject(new Error(`parley ${args.join(" ")} did not exit within ${timeoutMs} ms\n${stdout}${stderr}`));
        }, timeoutMs);
        proc.on("error", (err) => {
            clearTimeout(timer);
            reject(err);
        });
        proc.on("close", (code, signal) => {
            clearTimeout(timer);
            if (ownCwd) {
                rmSync(ownCwd, { recursive: true, force: true });
            }
            resolve({ code, signal, stdout, stderr, elapsedMs: Date.now() - started });
        });
    });
}

/**
 * Starts `parley serve --port 0 --data-dir <fresh temp dir> ...args` and waits until it is
 * listening and GET /health answers 200.
 *
 * Returns `{ port, baseUrl, proc, lines, dataDir, databaseUrl, stop }`. `lines` collects every stdout and
 * stderr line. `stop(signal, timeoutMs)` signals the process, resolves `{ code, signal }` when it
 * has exited (SIGKILL and reject on timeout) and removes the data directory.
 */
/** What a sanitizer prints when it finds something (ASan, LSan, UBSan). */
export const SANITIZER_REPORT = /(LeakSanitizer|AddressSanitizer|UndefinedBehaviorSanitizer|runtime error:)/;

/**
 * Stops `server` with SIGTERM and asserts it exited 0 with no sanitizer report in its output: the
 * end of every suite that starts a server.
 */
export async function stopCleanly(server) {
    const result = await server.stop("SIGTERM");
    assert.deepEqual(server.lines.filter((l) => SANITIZER_REPORT.test(l)), [], `sanitizer output at exit:\n${server.lines.join("\n")}`);
    assert.deepEqual(result, { code: 0, signal: null }, `exit status; output:\n${server.lines.slice(-40).join("\n")}`);
}

/**
 * Two instances on one database (a SQLite file, or the PostgreSQL database of the run) with the
 * same environment, as behind a load balancer: `[a, b]`. Give them one JWT_SECRET in `env`.
 */
export async function startTwoInstances(env) {
    const a = await startServer({ env });
    const shared = a.databaseUrl ?? `sqlite://${a.dataDir}/parley.db`;
    const b = await startServer({ env: { ...env, DATABASE_URL: shared } });
    return [a, b];
}

export async function startServer({ env = {}, args = [] } = {}) {
    // The PostgreSQL run of the integration suite (CTest `integration_pg.*`): every server gets
    // a fresh database on the server named by PARLEY_TEST_DATABASE_URL, unless the test chose
    // its own DATABASE_URL.
    const pgServer = testDatabaseServer();
    if (pgServer && env.DATABASE_URL === undefined) {
        const { createDatabase } = await import("./services.mjs");
        env = { ...env, DATABASE_URL: await createDatabase(pgServer) };
    }
    const dataDir = makeTempDir();
    const lines = [];
    // The working directory is the (empty) data dir, so no stray ./.env is read.
    const proc = spawn(PARLEY_BIN, ["serve", "--port", "0", "--data-dir", dataDir, ...args], {
        cwd: dataDir,
        env: childEnv(env),
        stdio: ["ignore", "pipe", "pipe"],
    });
    const exited = trackExit(proc);

    let removed = false;
    const cleanup = () => {
        if (!removed) {
            removed = true;
            rmSync(dataDir, { recursive: true, force: true });
        }
    };

    let stopping;
    const stop = (signal = "SIGTERM", timeoutMs = 15_000) => {
        if (stopping) {
            return stopping;
        }
        stopping = new Promise((resolve, reject) => {
            const timer = setTimeout(() => {
                proc.kill("SIGKILL");
                exited.then(cleanup);
                reject(
                    new Error(
                        `parley did not exit within ${timeoutMs} ms of ${signal}\n${lines.join("\n")}`
                    )
                );
            }, timeoutMs);
            exited.then((result) => {
                clearTimeout(timer);
                cleanup();
                resolve(result);
            });
            if (proc.exitCode === null && proc.signalCode === null) {
                proc.kill(signal);
            }
        });
        return stopping;
    };

    const port = await new Promise((resolve, reject) => {
        let done = false;
        const finish = (err, value) => {
            if (done) {
                return;
            }
            done = true;
            clearTimeout(timer);
            if (err) {
                reject(err);
            } else {
                resolve(value);
            }
        };
        const onLine = (line) => {
            const entry = parseLogLine(line);
            if (entry?.msg === "listening" && Number.isInteger(entry.port)) {
                finish(null, entry.port);
            }
        };
        collectLines(proc.stdout, lines, onLine);
        collectLines(proc.stderr, lines);
        const timer = setTimeout(() => {
            finish(new Error(`parley did not log "listening" within ${READY_TIMEOUT_MS} ms\n${lines.join("\n")}`));
        }, READY_TIMEOUT_MS);
        proc.on("error", (err) => finish(err));
        exited.then(({ code, signal }) => {
            finish(
                new Error(`parley exited early (code ${code}, signal ${signal}) before listening\n${lines.join("\n")}`)
            );
        });
    }).catch(async (err) => {
        if (proc.exitCode === null && proc.signalCode === null) {
            proc.kill("SIGKILL");
        }
        await exited;
        cleanup();
        throw err;
    });

    const baseUrl = `http://127.0.0.1:${port}`;
    const deadline = Date.now() + READY_TIMEOUT_MS;
    for (;;) {
        let status;
        try {
            const res = await fetch(`${baseUrl}/health`);
            await res.arrayBuffer();
            status = res.status;
        } catch {
            status = undefined;
        }
        if (status === 200) {
            break;
        }
        if (proc.exitCode !== null || proc.signalCode !== null || Date.now() > deadline) {
            await stop("SIGKILL").catch(() => {});
            throw new Error(`GET /health never answered 200 (last: ${status})\n${lines.join("\n")}`);
        }
        await new Promise((r) => setTimeout(r, HEALTH_POLL_MS));
    }

    return { port, baseUrl, proc, lines, dataDir, databaseUrl: env.DATABASE_URL, stop };
}

/**
 * Opens a TCP connection to 127.0.0.1:port, writes `text` (string or Buffer), and collects what
 * the server sends until it closes the connection or timeoutMs passes. Resolves
 * `{ data, closed, elapsedMs, error }`: closed is true when the server ended or reset the
 * connection, false on timeout; elapsedMs counts from the write.
 */
export function rawRequest(port, text, { timeoutMs = 5_000 } = {}) {
    return new Promise((resolve, reject) => {
        const chunks = [];
        let started = Date.now();
        let settled = false;
        const socket = net.connect({ port, host: "127.0.0.1" });
        const finish = (closed, error) => {
            if (settled) {
                return;
            }
            settled = true;
            clearTimeout(timer);
            socket.destroy();
            resolve({
                data: Buffer.concat(chunks).toString("latin1"),
                closed,
                elapsedMs: Date.now() - started,
                error: error?.code,
            });
        };
        const timer = setTimeout(() => finish(false), timeoutMs);
        socket.on("connect", () => {
            started = Date.now();
            socket.write(text);
        });
        socket.on("data", (chunk) => chunks.push(chunk));
        socket.on("end", () => finish(true));
        socket.on("close", () => finish(true));
        socket.on("error", (err) => {
            if (!settled && chunks.length === 0 && err.code === "ECONNREFUSED") {
                settled = true;
                clearTimeout(timer);
                reject(err);
                return;
            }
            // A reset after (or instead of) a response still means the server closed it.
            finish(true, err);
        });
    });
}

/**
 * Parses every complete HTTP/1.1 response in `data` (as returned by rawRequest). Each is
 * `{ status, reason, headers (lower-case names; repeated ones joined with ", "), body }`.
 * `headOnly` marks responses to HEAD requests (no body despite Content-Length), by index.
 */
export function parseResponses(data, { headOnly = [] } = {}) {
    const out = [];
    let rest = data;
    while (rest.length > 0) {
        const end = rest.indexOf("\r\n\r\n");
        if (end === -1) {
            break;
        }
        const [statusLine, ...headerLines] = rest.slice(0, end).split("\r\n");
        const m = /^HTTP\/1\.[01] (\d{3}) ?(.*)$/.exec(statusLine);
        if (!m) {
            throw new Error(`not an HTTP response: ${JSON.stringify(statusLine)}`);
        }
        const headers = {};
        for (const line of headerLines) {
            const colon = line.indexOf(":");
            const name = line.slice(0, colon).trim().toLowerCase();
            const value = line.slice(colon + 1).trim();
            headers[name] = name in headers ? `${headers[name]}, ${value}` : value;
        }
        const status = Number(m[1]);
        let length = Number(headers["content-length"] ?? 0);
        if (headOnly.includes(out.length) || status === 204 || status === 304 || (status >= 100 && status < 200)) {
            length = 0;
        }
        const bodyStart = end + 4;
        if (rest.length < bodyStart + length) {
            break;
        }
        const body = rest.slice(bodyStart, bodyStart + length);
        if (status !== 100) {
            out.push({ status, reason: m[2], headers, body });
        }
        rest = rest.slice(bodyStart + length);
    }
    return out;
}

/** Opens a TCP connection and resolves the socket once connected. */
export function connect(port) {
    return new Promise((resolve, reject) => {
        const socket = net.connect({ port, host: "127.0.0.1" });
        socket.once("connect", () => {
            socket.off("error", reject);
            resolve(socket);
        });
        socket.once("error", reject);
    });
}

/**
 * Follows a connected socket: `data()` is everything received so far, `closed` resolves with
 * the time (Date.now()) the server ended or reset the connection.
 */
export function watchSocket(socket) {
    const chunks = [];
    let ended = false;
    const closed = new Promise((resolve) => {
        const done = () => {
            if (!ended) {
                ended = true;
                resolve(Date.now());
            }
        };
        socket.on("end", done);
        socket.on("close", done);
        socket.on("error", done);
    });
    socket.on("data", (c) => chunks.push(c));
    return {
        data: () => Buffer.concat(chunks).toString("latin1"),
        closed,
        isClosed: () => ended,
    };
}

/** Resolves when `predicate()` is truthy (polled every intervalMs); rejects after timeoutMs. */
export async function waitUntil(predicate, { timeoutMs = 5_000, intervalMs = 20, what = "condition" } = {}) {
    const deadline = Date.now() + timeoutMs;
    for (;;) {
        const value = await predicate();
        if (value) {
            return value;
        }
        if (Date.now() > deadline) {
            throw new Error(`timed out after ${timeoutMs} ms waiting for ${what}`);
        }
        await new Promise((r) => setTimeout(r, intervalMs));
    }
}
