import { join } from "node:path";
import { caseItemRow, openSession, reportVerdict, run } from "../../test/browser/flows.ts";

// Each page photographed as the person who would look at it, with something on it: rita's session
// (processes, a file taken, a fileinfo), the item's custody report, alice's case with the item held and
// its release asked for, bob's approvals, the audit log.

async function settle(page) {
  await page.waitForFunction(
    () => !/Loading|Signing in|Checking/.test(document.querySelector("main")?.textContent ?? ""),
  );
  await page.evaluate(() => document.fonts.ready);
}

/** Long pages (the audit log) are cut here, so the pictures stay small. */
const MAX_HEIGHT = 1600;

async function shot(page, dir, file, written) {
  await settle(page);
  const height = Math.min(MAX_HEIGHT, await page.evaluate(() => document.documentElement.scrollHeight));
  await page.screenshot({ path: join(dir, file), fullPage: true, clip: { x: 0, y: 0, width: 1280, height } });
  written.push(join(dir, file));
}

async function session(h, dir, written) {
  const page = await (await h.context("rita")).newPage();
  await page.goto(`${h.url}/console/#/devices`);
  await page.locator('[data-testid="device-row"]').first().waitFor();
  await shot(page, dir, "devices.png", written);
  await openSession(page, h.url, h.deviceId, h.caseId);
  await run(page, `cd ${h.deviceFiles}`);
  await run(page, "dir");
  const taken = await run(page, "getfile dropper.sh -auto");
  await run(page, "fileinfo notes.txt");
  await shot(page, dir, "session.png", written);
  await page.getByTestId("session-tab-log").click();
  const row = page.locator(`[data-testid="command-row"][data-command-id="${taken.id}"]`);
  await row.getByTestId("command-open").click();
  await shot(page, dir, "session-log.png", written);
  await page.getByTestId("session-tab-evidence").click();
  await page.locator('[data-testid="session-item"]').first().waitFor();
  await shot(page, dir, "session-evidence.png", written);
  const itemId = await page.locator('[data-testid="session-item"]').first().getAttribute("data-item-id");
  await page.getByTestId("session-disconnect").click();
  await page.getByTestId("session-closed").waitFor({ state: "attached" });
  await page.goto(`${h.url}/console/#/items/${itemId}/report?case=${encodeURIComponent(h.caseId)}`);
  await reportVerdict(page);
  await shot(page, dir, "report.png", written);
  await page.context().close();
  return itemId;
}

export async function takeScreenshots(h, dir) {
  const written = [];
  const itemId = await session(h, dir, written);
  const alice = await (await h.context("alice")).newPage();
  const row = await caseItemRow(alice, h.url, h.caseId, itemId);
  await row.getByTestId("item-hold").click();
  await alice.waitForFunction(
    (id) =>
      document.querySelector(`[data-testid="item-row"][data-item-id="${id}"]`)?.dataset.legalHold === "true",
    itemId,
  );
  await alice
    .locator(`[data-testid="item-row"][data-item-id="${itemId}"]`)
    .getByTestId("item-release")
    .click();
  await alice.locator('[data-testid="approval-row"]').first().waitFor();
  await shot(alice, dir, "cases.png", written);
  for (const [file, path] of [
    ["actions.png", "#/actions"],
    ["audit.png", "#/audit"],
  ]) {
    await alice.goto(`${h.url}/console/${path}`);
    await shot(alice, dir, file, written);
  }
  await alice.context().close();
  const bob = await (await h.context("bob")).newPage();
  await bob.goto(`${h.url}/console/#/access`);
  await bob.locator('[data-testid="approval-row"]').first().waitFor();
  await shot(bob, dir, "access.png", written);
  await bob.context().close();
  return written;
}
