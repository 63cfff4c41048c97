// The JavaScript and CSS the web console ships to a browser, raw and gzipped (level 9), from the built
// packages/console/dist (run `pnpm run build` first).
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { gzipSync } from "node:zlib";

const dir = new URL("../../packages/console/dist/assets/", import.meta.url).pathname;
const totals = { js: [0, 0], css: [0, 0] };
for (const name of readdirSync(dir)) {
  const kind = name.endsWith(".js") ? "js" : name.endsWith(".css") ? "css" : undefined;
  if (kind === undefined) continue;
  const body = readFileSync(join(dir, name));
  totals[kind][0] += body.length;
  totals[kind][1] += gzipSync(body, { level: 9 }).length;
}
for (const [kind, [raw, gz]] of Object.entries(totals))
  console.log(`console ${kind}: ${(raw / 1024).toFixed(1)} KiB raw, ${(gz / 1024).toFixed(1)} KiB gzipped`);
