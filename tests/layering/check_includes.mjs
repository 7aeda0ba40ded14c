// Checks every #include in src/ against the layering of ARCHITECTURE §2: a folder includes only
// itself and the folders below it; Beast and Asio's networking headers stay in http/, net/ and
// boost_impl/; database client headers stay in store/ (hiredis's also in redis/, ratelimit/ and
// events/). Prints each violation; exit 1 if any.
import { readdirSync, readFileSync, statSync } from "node:fs";
import { join, relative, sep } from "node:path";

const root = process.argv[2];
if (!root) {
  console.error("usage: check_includes.mjs SRC_DIR");
  process.exit(2);
}

// folder → the project folders it may include (besides itself).
const allowed = {
  common: [],
  boost_impl: [],
  async: ["common"],
  net: ["common", "async"],
  store: ["common", "async"],
  http: ["common", "async"],
  redis: ["common", "async"],
  ratelimit: ["common", "async", "store", "redis"],
  events: ["common", "async", "redis"],
  llm: ["common", "async", "net"],
  tools: ["common", "async", "store", "llm"],
  sessions: ["common"],
  auth: ["common", "async", "store", "http", "ratelimit"],
  system: ["common", "async", "store", "http"],
  conversations: ["common", "async", "store", "http", "llm", "auth", "events"],
  messages: ["common", "async", "store", "http", "llm", "auth", "events", "conversations", "tools", "sessions"],
  search: ["common", "async", "store", "http", "llm", "auth", "events", "conversations"],
  usage: ["common", "async", "store", "http", "llm", "auth"],
  compat: ["common", "async", "store", "http", "llm", "auth", "messages", "usage"],
  admin: ["common", "async", "store", "http", "auth"],
  app: null, // the composition root may include anything
  "": ["app", "common"], // main.cpp
};
const networkHeaders = /^<boost\/(beast|asio\/ip|asio\/ssl)/;
const networkFolders = new Set(["http", "net", "boost_impl"]);
const databaseHeaders = /^<(sqlite3\.h|libpq-fe\.h|hiredis\/)/;
const databaseFolders = new Set(["store", "redis", "ratelimit", "events"]);

function* files(dir) {
  for (const name of readdirSync(dir)) {
    const p = join(dir, name);
    if (statSync(p).isDirectory()) yield* files(p);
    else if (/\.(hpp|cpp)$/.test(name)) yield p;
  }
}

const problems = [];
let checked = 0;
for (const file of files(root)) {
  const rel = relative(root, file);
  const folder = rel.includes(sep) ? rel.split(sep)[0] : "";
  if (!(folder in allowed)) {
    problems.push(`${rel}: folder "${folder}" is not in the layering table of check_includes.mjs`);
    continue;
  }
  const lines = readFileSync(file, "utf8").split("\n");
  lines.forEach((line, i) => {
    const m = line.match(/^\s*#\s*include\s+([<"][^>"]+[>"])/);
    if (!m) return;
    checked++;
    const target = m[1];
    const where = `${rel}:${i + 1}`;
    if (target.startsWith('"')) {
      const dep = target.slice(1).split("/")[0];
      const ok = allowed[folder] === null || dep === folder || allowed[folder].includes(dep);
      if (!ok) problems.push(`${where}: ${folder || "main"} may not include ${target}`);
    } else if (networkHeaders.test(target) && !networkFolders.has(folder)) {
      problems.push(`${where}: ${target} belongs in http/, net/ or boost_impl/ only`);
    } else if (databaseHeaders.test(target) && !databaseFolders.has(folder)) {
      problems.push(`${where}: ${target} belongs in store/ (hiredis: redis/) only`);
    }
  });
}

if (problems.length) {
  console.error(problems.join("\n"));
  process.exit(1);
}
console.log(`layering ok: ${checked} includes checked`);
