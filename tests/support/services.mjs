// Real backing services for the scale-out and PostgreSQL test runs, each on loopback and on a free
// port, through the same scripts the benchmarks use: scripts/pg-temp (PostgreSQL),
// scripts/redis-temp (Redis) and deploy/render-nginx (nginx in front of Parley instances).
//
//   const pg = await startPostgres();        // { url, dir, halt(), resume(), restart(), stop() }
//   const db = await createDatabase(pg.url); // a fresh database on that server: its URL
//   const redis = await startRedis();        // { url, dir, halt(), resume(), stop() }
//   const lb = await startNginx([a.port, b.port]); // { port, baseUrl, stop() }

import { execFile, spawn } from "node:child_process";
import { chmodSync, mkdirSync, writeFileSync } from "node:fs";
import net from "node:net";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { promisify } from "node:util";

import { connect, makeTempDir, waitUntil } from "./server.mjs";

const run = promisify(execFile);
const root = path.resolve(path.dirname(fileURLToPath(import.meta.url)), "../..");
const script = (name) => path.join(root, "scripts", name);

async function lastLine(cmd, args) {
    const { stdout } = await run(cmd, args, { timeout: 120_000 });
    return stdout.trim().split("\n").pop();
}

/** A throw-away PostgreSQL cluster (scripts/pg-temp). */
export async function startPostgres() {
    const dir = makeTempDir("parley-pg-");
    const url = await lastLine(script("pg-temp"), ["start", dir]);
    const pg = (verb) => run(script("pg-temp"), [verb, dir], { timeout: 120_000 });
    return {
        url,
        dir,
        halt: () => pg("halt"),
        resume: () => pg("resume"),
        restart: () => pg("restart"),
        stop: () => pg("stop"),
    };
}

let databases = 0;

/** Creates a new, empty database on the server at `serverUrl`; resolves its URL. */
export async function createDatabase(serverUrl) {
    const name = `parley_t${process.pid}_${Date.now().toString(36)}_${databases++}`;
    await run("psql", [serverUrl, "-v", "ON_ERROR_STOP=1", "-q", "-c", `CREATE DATABASE ${name}`], {
        timeout: 60_000,
    });
    const u = new URL(serverUrl);
    u.pathname = `/${name}`;
    return u.toString();
}

/** A throw-away Redis server (scripts/redis-temp). */
export async function startRedis() {
    const dir = makeTempDir("parley-redis-");
    const url = await lastLine(script("redis-temp"), ["start", dir]);
    const port = new URL(url).port;
    return {
        url,
        dir,
        // An outage: the server goes away (its port stays free) …
        halt: () => run("redis-cli", ["-p", port, "shutdown", "nosave"], { timeout: 30_000 }).catch(() => {}),
        // … and comes back on the same port, empty (nothing is persisted).
        resume: () => run(script("redis-temp"), ["start", "--port", port, dir], { timeout: 60_000 }),
        stop: () => run(script("redis-temp"), ["stop", dir], { timeout: 60_000 }),
    };
}

function freePort() {
    return new Promise((resolve, reject) => {
        const srv = net.createServer();
        srv.once("error", reject);
        srv.listen(0, "127.0.0.1", () => {
            const { port } = srv.address();
            srv.close(() => resolve(port));
        });
    });
}

/** nginx with deploy/nginx.conf.template in front of Parley instances on `ports`. */
export async function startNginx(ports) {
    const prefix = makeTempDir("parley-nginx-");
    // nginx's workers drop root privileges: let them into the prefix.
    chmodSync(prefix, 0o755);
    for (const d of ["client_body", "proxy", "fastcgi", "uwsgi", "scgi"]) {
        mkdirSync(path.join(prefix, d), { mode: 0o777 });
    }
    const port = await freePort();
    const { stdout } = await run(path.join(root, "deploy", "render-nginx"), [
        prefix,
        `127.0.0.1:${port}`,
        ...ports.map((p) => `127.0.0.1:${p}`),
    ]);
    const conf = path.join(prefix, "nginx.conf");
    writeFileSync(conf, stdout);
    const proc = spawn("nginx", ["-p", prefix, "-c", conf, "-g", "daemon off;"], {
        stdio: ["ignore", "pipe", "pipe"],
    });
    let output = "";
    proc.stdout.on("data", (c) => (output += c));
    proc.stderr.on("data", (c) => (output += c));
    const exited = new Promise((resolve) => proc.once("close", resolve));
    await Promise.race([
        waitUntil(() => connect(port).then(
                (socket) => {
                    socket.destroy();
                    return true;
                },
                () => false,
            ), {
            timeoutMs: 10_000,
            intervalMs: 50,
            what: `nginx on port ${port}`,
        }),
        exited.then(() => {
            throw new Error(`nginx exited: ${output}`);
        }),
    ]);
    return {
        port,
        baseUrl: `http://127.0.0.1:${port}`,
        prefix,
        stop: async () => {
            proc.kill("SIGQUIT");
            await exited;
        },
    };
}
