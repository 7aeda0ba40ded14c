// Converts api/openapi.yaml to the JSON document the server embeds and serves at /openapi.json.
// Usage: node scripts/openapi-to-json.mjs IN.yaml OUT.json
import { readFileSync, writeFileSync } from "node:fs";
import yaml from "js-yaml";

const [input, output] = process.argv.slice(2);
if (!input || !output) {
  console.error("usage: openapi-to-json.mjs IN.yaml OUT.json");
  process.exit(2);
}
const doc = yaml.load(readFileSync(input, "utf8"));
writeFileSync(output, JSON.stringify(doc));
