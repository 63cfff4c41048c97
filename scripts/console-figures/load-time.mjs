import { spawnSync } from "node:child_process";
import { join } from "node:path";
import { ms, summary } from "./stats.mjs";

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");

/**
 * The console's first load as rita: a fresh browser profile each time (no cache, a new TLS connection
 * with her certificate), from navigation until the devices table lists the device. The page's own
 * navigation timing gives the document and the load event. The peer: `custody devices list --json`,
 * the same list in a terminal (a process start, a TLS connection, one request).
 */
export async function measureLoad(h, runs) {
  const wall = [];
  const domContentLoaded = [];
  const loaded = [];
  for (let i = 0; i < runs + 2; i++) {
    const context = await h.context("rita");
    const page = await context.newPage();
    const start = performance.now();
    await page.goto(`${h.url}/console/#/devices`);
    await page.locator(`[data-testid="device-row"][data-device-id="${h.deviceId}"]`).waitFor();
    const took = performance.now() - start;
    const timing = await page.evaluate(() => performance.getEntriesByType("navigation")[0]?.toJSON());
    await context.close();
    if (i < 2) continue; // warm-up: the server's and the browser's first connections
    wall.push(took);
    domContentLoaded.push(timing.domContentLoadedEventEnd);
    loaded.push(timing.loadEventEnd);
  }
  const cli = [];
  const args = [
    BIN,
    "devices",
    "list",
    "--server",
    h.url,
    "--identity",
    h.people.rita.identityPath,
    "--json",
  ];
  for (let i = 0; i < runs + 2; i++) {
    const start = performance.now();
    const run = spawnSync(process.execPath, args, { encoding: "utf8" });
    const took = performance.now() - start;
    if (run.status !== 0 || !run.stdout.includes(h.deviceId)) throw new Error(`devices list: ${run.stderr}`);
    if (i >= 2) cli.push(took);
  }
  const rows = [
    ["first load until the devices table shows (fresh profile)", summary(wall)],
    ["  of which: the document's DOMContentLoaded", summary(domContentLoaded)],
    ["  of which: the load event", summary(loaded)],
    ["`custody devices list --json` (peer: the same list from the CLI)", summary(cli)],
  ];
  const peer = summary(cli).median;
  return [
    `${runs} runs each after 2 warm-up; Chromium ${h.browser.version()} headless, loopback`,
    "",
    "| what | median ms | min ms | max ms | median / peer |",
    "| --- | ---: | ---: | ---: | ---: |",
    ...rows.map(
      ([name, s]) =>
        `| ${name} | ${ms(s.median)} | ${ms(s.min)} | ${ms(s.max)} | ${(s.median / peer).toFixed(2)}x |`,
    ),
  ].join("\n");
}
