import type { Page } from "playwright-core";

// What a person does in the console, step by step, through its stable `data-testid` hooks
// (docs/web-console.md § Test hooks). Shared by the walk-through and scripts/console-screenshots.mjs.

const RESULT = /\[(C-[0-9A-Za-z-]+)\] (completed|failed|cancelled|timed-out)/g;
const LONG = { timeout: 120_000 };

/** Opens a live-response session from the Devices page; the session's id. */
export async function openSession(page: Page, origin: string, deviceId: string, caseId: string) {
  await page.goto(`${origin}/console/#/devices`);
  const row = page.locator(`[data-testid="device-row"][data-device-id="${deviceId}"]`);
  await row.getByTestId("session-case").fill(caseId);
  await row.getByTestId("open-session").click();
  await page.waitForURL(/#\/sessions\/[^/]+$/, LONG);
  await page.getByTestId("session-dashboard").waitFor(LONG);
  await page.locator('[data-testid="terminal"] .xterm-rows').waitFor(LONG);
  return decodeURIComponent(new URL(page.url()).hash.replace("#/sessions/", ""));
}

/** What the terminal shows now (its visible rows). */
export async function terminalText(page: Page): Promise<string> {
  // biome-ignore lint/performance/useDomNodeTextContent: the rendered rows, one line each, as a person reads them
  return (await page.locator('[data-testid="terminal"] .xterm-rows').innerText()).replaceAll("\u00a0", " ");
}

function results(text: string): Map<string, string> {
  return new Map([...text.matchAll(RESULT)].map((m) => [m[1] as string, m[2] as string]));
}

/** Types a line into the terminal as keystrokes, then Enter. */
export async function typeLine(page: Page, line: string): Promise<void> {
  await page.getByTestId("terminal").click();
  await page.keyboard.type(line);
  await page.keyboard.press("Enter");
}

/** Types a device command and waits for its result line; its id and status. */
export async function run(page: Page, line: string): Promise<{ id: string; status: string }> {
  const before = results(await terminalText(page));
  await typeLine(page, line);
  return waitForResult(page, before);
}

async function waitForResult(page: Page, before: Map<string, string>) {
  for (let i = 0; i < 2400; i++) {
    for (const [id, status] of results(await terminalText(page))) if (!before.has(id)) return { id, status };
    await page.waitForTimeout(50);
  }
  throw new Error(`no result line in the terminal: ${await terminalText(page)}`);
}

/** Starts a long command, waits until it runs on the device, then Ctrl+C; its id and final status. */
export async function runAndCancel(page: Page, line: string): Promise<{ id: string; status: string }> {
  const before = results(await terminalText(page));
  await typeLine(page, line);
  const status = page.getByTestId("terminal-status");
  for (let i = 0; (await status.getAttribute("data-running")) === "" && i < 2400; i++)
    await page.waitForTimeout(50);
  const running = await status.getAttribute("data-running");
  if (!running) throw new Error(`${line} never ran in the foreground`);
  await page.getByTestId("terminal").click();
  await page.keyboard.press("Control+C");
  const result = await waitForResult(page, before);
  if (result.id !== running) throw new Error(`${running} was running, ${result.id} ended`);
  return result;
}

/** The item the session's evidence tab lists for a file taken with getfile (by its sha256 id). */
export async function sessionItem(page: Page, itemId: string) {
  await page.getByTestId("session-tab-evidence").click();
  const item = page.locator(`[data-testid="session-item"][data-item-id="${itemId}"]`);
  await item.waitFor(LONG);
  return item;
}

/** Waits until an item's custody report has been checked in the page; "ok" or "failed". */
export async function reportVerdict(page: Page): Promise<string> {
  const verdict = page.getByTestId("report-verdict");
  await verdict.waitFor(LONG);
  for (let i = 0; (await verdict.getAttribute("data-verdict")) === "checking" && i < 2400; i++)
    await page.waitForTimeout(50);
  return (await verdict.getAttribute("data-verdict")) ?? "";
}

/** An item's row on the Cases page of its case. */
export async function caseItemRow(page: Page, origin: string, caseId: string, itemId: string) {
  await page.goto(`${origin}/console/#/cases?case=${encodeURIComponent(caseId)}`);
  const row = page.locator(`[data-testid="item-row"][data-item-id="${itemId}"]`);
  await row.waitFor(LONG);
  return row;
}
