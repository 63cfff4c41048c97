#!/usr/bin/env node
// The functions with the most self time in a V8 .cpuprofile (node --cpu-prof), with their share.
//   node scripts/bench/lib/profile-top.mjs FILE.cpuprofile [--top 30] [--callers FUNCTION] [--packages]
// --packages: self time summed per package (@custody/x, a dependency, node internals, native)
import { readFileSync } from "node:fs";
import { parseArgs } from "node:util";

const { values, positionals } = parseArgs({
  allowPositionals: true,
  options: {
    top: { type: "string", default: "30" },
    callers: { type: "string" },
    packages: { type: "boolean", default: false },
  },
});
const profile = JSON.parse(readFileSync(positionals[0], "utf8"));
const byId = new Map(profile.nodes.map((node) => [node.id, node]));
const self = new Map();
const deltas = profile.timeDeltas;
for (let i = 0; i < profile.samples.length; i++) {
  const node = byId.get(profile.samples[i]);
  const { functionName, url, lineNumber } = node.callFrame;
  const key = `${functionName || "(anonymous)"} ${url.replace(/^.*node_modules\//, "").replace(/^file:\/\/.*\/packages\//, "")}:${lineNumber + 1}`;
  self.set(key, (self.get(key) ?? 0) + (deltas[i] ?? 0));
}
const sampled = [...self.values()].reduce((a, b) => a + b, 0);
const idle = [...self.entries()].filter(([key]) => key.startsWith("(idle)")).reduce((a, [, v]) => a + v, 0);
const total = sampled - idle;
const rows = [...self.entries()]
  .filter(([key]) => !key.startsWith("(idle)"))
  .sort((a, b) => b[1] - a[1])
  .slice(0, Number(values.top));
console.log(
  `${(sampled / 1000).toFixed(0)} ms sampled, ${(total / 1000).toFixed(0)} ms busy (shares of busy time)`,
);
for (const [key, micros] of rows) {
  console.log(
    `${((100 * micros) / total).toFixed(1).padStart(5)}%  ${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`,
  );
}

// --callers NAME: the call paths (4 frames up) that spend self time in functions named NAME
if (values.callers !== undefined) {
  const parent = new Map();
  for (const node of profile.nodes) for (const child of node.children ?? []) parent.set(child, node.id);
  const paths = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    let node = byId.get(profile.samples[i]);
    if (node.callFrame.functionName !== values.callers) continue;
    const frames = [];
    for (let up = 0; up < 6 && node !== undefined; up++) {
      frames.push(
        `${node.callFrame.functionName || "(anonymous)"}@${node.callFrame.url.split("/").slice(-2).join("/")}:${node.callFrame.lineNumber + 1}`,
      );
      node = byId.get(parent.get(node.id));
    }
    const key = frames.join(" < ");
    paths.set(key, (paths.get(key) ?? 0) + (deltas[i] ?? 0));
  }
  console.log(`\ncallers of ${values.callers}:`);
  for (const [key, micros] of [...paths.entries()].sort((a, b) => b[1] - a[1]).slice(0, 12)) {
    console.log(`${(micros / 1000).toFixed(0).padStart(6)} ms  ${key}`);
  }
}

if (values.packages) {
  const owner = (url) => {
    if (url === "") return "(native)";
    if (url.startsWith("node:")) return "node";
    const dependency = /node_modules\/(?:\.pnpm\/[^/]+\/node_modules\/)?((?:@[^/]+\/)?[^/]+)/.exec(url)?.[1];
    if (dependency !== undefined) return dependency;
    return /\/packages\/([^/]+)\//.exec(url)?.[1] ?? url;
  };
  const sums = new Map();
  for (let i = 0; i < profile.samples.length; i++) {
    const { functionName, url } = byId.get(profile.samples[i]).callFrame;
    if (functionName === "(idle)") continue;
    const key = owner(url);
    sums.set(key, (sums.get(key) ?? 0) + (deltas[i] ?? 0));
  }
  console.log("\nself time per package:");
  for (const [key, micros] of [...sums.entries()].sort((a, b) => b[1] - a[1]).slice(0, 20)) {
    console.log(`${((100 * micros) / total).toFixed(1).padStart(5)}%  ${key}`);
  }
}
