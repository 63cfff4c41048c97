import { spawn } from "node:child_process";
import { join } from "node:path";
import { openSession, typeLine } from "../../test/browser/flows.ts";
import { ms, summary } from "./stats.mjs";

const BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");
/** The end of the page's `help` (terminal-text.ts): once it is drawn, the whole answer is on screen. */
const PAGE_END = "ends the session";

/**
 * Enter after `help` until the help is drawn in the page's terminal (xterm.js's rows in the DOM), timed
 * inside the page: a keydown listener and a MutationObserver on the rows, both at performance.now().
 */
async function pageSamples(h, runs) {
  const context = await h.context("rita");
  const page = await context.newPage();
  await openSession(page, h.url, h.deviceId, h.caseId);
  await page.evaluate((end) => {
    const rows = document.querySelector('[data-testid="terminal"] .xterm-rows');
    const state = { armed: false, start: 0, end: 0 };
    window.__helpTiming = state;
    const drawn = () => rows.textContent.replaceAll("\u00a0", " ").includes(end);
    new MutationObserver(() => {
      if (state.start !== 0 && state.end === 0 && drawn()) state.end = performance.now();
    }).observe(rows, { childList: true, subtree: true, characterData: true });
    document.addEventListener(
      "keydown",
      (event) => {
        if (event.key !== "Enter" || !state.armed) return;
        state.armed = false;
        state.start = performance.now();
      },
      true,
    );
  }, PAGE_END);
  const samples = [];
  for (let i = 0; i < runs + 5; i++) {
    await typeLine(page, "clear");
    await page.waitForFunction(
      (end) =>
        !document
          .querySelector('[data-testid="terminal"] .xterm-rows')
          .textContent.replaceAll("\u00a0", " ")
          .includes(end),
      PAGE_END,
    );
    await page.keyboard.type("help");
    await page.evaluate(() => Object.assign(window.__helpTiming, { armed: true, start: 0, end: 0 }));
    await page.keyboard.press("Enter");
    await page.waitForFunction(() => window.__helpTiming.end !== 0);
    const { start, end } = await page.evaluate(() => window.__helpTiming);
    if (i >= 5) samples.push(end - start); // warm-up: JIT, fonts
  }
  // one session at a time: this one ends before the CLI opens its own
  await page.getByTestId("session-disconnect").click();
  await page.getByTestId("session-closed").waitFor({ state: "attached" });
  await context.close();
  return samples;
}

/** The CLI console (`custody live connect`): the line in on stdin until its next prompt on stderr. */
async function cliSamples(h, runs) {
  const args = ["live", "connect", h.deviceId, "--case", h.caseId, "--server", h.url];
  const child = spawn(process.execPath, [BIN, ...args, "--identity", h.people.rita.identityPath], {
    stdio: ["pipe", "pipe", "pipe"],
  });
  let stderr = "";
  let stdout = "";
  const waiters = [];
  const prompts = () => stderr.split(`${h.deviceId}:`).length - 1;
  const check = () => {
    for (const w of waiters.splice(0)) if (!w()) waiters.push(w);
  };
  child.stderr.on("data", (chunk) => {
    stderr += chunk.toString();
    check();
  });
  child.stdout.on("data", (chunk) => {
    stdout += chunk.toString();
    check();
  });
  let exited = false;
  child.once("exit", (code) => {
    exited = true;
    for (const w of waiters.splice(0)) w(new Error(`custody live connect exited ${code}: ${stderr}`));
  });
  const until = (done) =>
    new Promise((resolve, reject) => {
      const w = (error) => {
        if (error) reject(error);
        else if (done()) resolve(performance.now());
        else return false;
        return true;
      };
      if (exited) reject(new Error(`custody live connect exited: ${stderr}`));
      else if (!w()) waiters.push(w);
    });
  await until(() => prompts() > 0);
  const samples = [];
  for (let i = 0; i < runs + 5; i++) {
    const before = prompts();
    const start = performance.now();
    child.stdin.write("help\n");
    const end = await until(() => prompts() > before);
    if (i >= 5) samples.push(end - start);
  }
  if (!/getfile/.test(stdout)) throw new Error(`the CLI printed no help: ${stdout.slice(0, 200)}`);
  child.stdin.end();
  await new Promise((resolve) => child.once("exit", resolve));
  return samples;
}

export async function measureHelp(h, runs) {
  const page = summary(await pageSamples(h, runs));
  const cli = summary(await cliSamples(h, runs));
  return [
    `\`help\`, Enter to the whole answer on screen; ${runs} runs each after 5 warm-up`,
    "",
    "| console | median ms | min ms | max ms | median / CLI |",
    "| --- | ---: | ---: | ---: | ---: |",
    `| web console (Chromium, xterm.js rows drawn) | ${ms(page.median)} | ${ms(page.min)} | ${ms(page.max)} | ${(page.median / cli.median).toFixed(2)}x |`,
    `| \`custody live connect\` (stdin to the next prompt, peer) | ${ms(cli.median)} | ${ms(cli.min)} | ${ms(cli.max)} | 1.00x |`,
  ].join("\n");
}
