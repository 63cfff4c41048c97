import { createHash } from "node:crypto";
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  caseItemRow,
  openSession,
  reportVerdict,
  run,
  runAndCancel,
  sessionItem,
  terminalText,
} from "./flows.js";
import { browserMissing, type Harness, startHarness } from "./harness.js";
import { describeViolations, seriousViolations, serveTestScripts, watchCsp } from "./page-checks.js";

// The walk-through of the web console in Chromium, every part real: rita opens a live-response session
// on the device, runs `processes`, takes a file with `getfile -auto`, cancels a long command with Ctrl+C;
// the item is in its case with its custody report, checked in the page and printed to PDF; alice holds it
// and asks for its release, and bob, the second custodian in his own browser, approves.

let h: Harness;
let itemId = "";

async function signedIn(person: "alice" | "bob" | "rita"): Promise<Page> {
  const context = await h.context(person);
  await serveTestScripts(context, h.url);
  const page = await context.newPage();
  return page;
}

async function accessible(page: Page, where: string): Promise<void> {
  const violations = await seriousViolations(page);
  expect(violations, `${where}\n${describeViolations(violations)}`).toEqual([]);
}

describe.skipIf(browserMissing !== undefined)(
  `the console walk-through in Chromium ${browserMissing ?? ""}`,
  () => {
    beforeAll(async () => {
      h = await startHarness();
    }, 240_000);
    afterAll(async () => {
      await h?.close();
    });

    it("a responder opens a session, runs processes, takes a file and cancels a long command", async () => {
      const page = await signedIn("rita");
      const csp = await watchCsp(page);
      const sessionId = await openSession(page, h.url, h.deviceId, h.caseId);
      expect(await page.getByTestId("session-created-by").textContent()).toContain("rita");
      expect(await page.getByTestId("session-case-id").textContent()).toContain(h.caseId);

      const processes = await run(page, "processes");
      expect(processes.status).toBe("completed");
      // the device listed its processes (at least the agent and its parent)
      const listed = new RegExp(`\\[${processes.id}\\] completed, \\d+ ms, (\\d+) rows`).exec(
        await terminalText(page),
      );
      expect(Number(listed?.[1])).toBeGreaterThan(1);

      const dropper = join(h.deviceFiles, "dropper.sh");
      const taken = await run(page, `getfile ${dropper} -auto`);
      expect(taken.status).toBe("completed");
      itemId = createHash("sha256").update(readFileSync(dropper)).digest("hex");

      const cancelled = await runAndCancel(page, "findfile no-such-name-anywhere.xyz -root /");
      expect(cancelled.status).toBe("cancelled");
      // the session goes on after the cancel
      expect((await run(page, `fileinfo ${join(h.deviceFiles, "notes.txt")}`)).status).toBe("completed");
      await accessible(page, "the session's console");

      // the command log lists each command with its status; the file taken is the session's evidence
      await page.getByTestId("session-tab-log").click();
      const row = (id: string) => page.locator(`[data-testid="command-row"][data-command-id="${id}"]`);
      await row(cancelled.id).waitFor();
      expect(await row(cancelled.id).getAttribute("data-status")).toBe("cancelled");
      expect(await row(taken.id).getAttribute("data-status")).toBe("completed");
      await row(taken.id).getByTestId("command-open").click();
      expect(await page.getByTestId("command-item").textContent()).toContain(itemId);
      await accessible(page, "the command log");
      const item = await sessionItem(page, itemId);
      expect(await item.getByTestId("digest-sha256").textContent()).toContain(itemId);
      await accessible(page, "the session's evidence");
      expect(await csp.violations()).toEqual([]);

      // on record: the commands, by rita, in the session, with the cancel
      const audit = await h.alice.showAudit();
      const commands = audit.filter((r) => r.actor === "rita" && r.action === "live.command");
      expect(commands.every((r) => r.details.sessionId === sessionId)).toBe(true);
      const lines = commands.map((r) => r.details.line);
      expect(lines).toEqual(
        expect.arrayContaining([
          "processes",
          `getfile ${dropper} -auto`,
          "findfile no-such-name-anywhere.xyz -root /",
        ]),
      );
      expect(commands.some((r) => r.details.cmdId === cancelled.id)).toBe(true);
      await page.context().close();
    }, 300_000);

    it("the item is in its case; its custody report verifies in the page and prints to PDF", async () => {
      expect(itemId).not.toBe("");
      const page = await signedIn("rita");
      const csp = await watchCsp(page);
      const row = await caseItemRow(page, h.url, h.caseId, itemId);
      expect(await row.textContent()).toContain("dropper.sh");
      await row.getByTestId("item-report").click();
      await page.waitForURL(new RegExp(`#/items/${itemId}/report`));
      expect(await reportVerdict(page)).toBe("ok");
      const events = page.getByTestId("report-event");
      expect(await events.count()).toBeGreaterThan(1);
      expect(await page.getByTestId("report-events").textContent()).toContain("live.command");
      await accessible(page, "the custody report");
      expect(await csp.violations()).toEqual([]);

      const pdf = await page.pdf({ format: "A4", printBackground: true });
      expect(pdf.subarray(0, 5).toString()).toBe("%PDF-");
      expect(pdf.length).toBeGreaterThan(10_000);
      // printed, the page is the report: the navigation and the buttons are not on paper
      await page.emulateMedia({ media: "print" });
      expect(await page.getByTestId("report-print").isVisible()).toBe(false);
      await page.context().close();
    }, 180_000);

    it("a custodian holds the item and asks for its release; the second custodian approves in his browser", async () => {
      expect(itemId).not.toBe("");
      const alice = await signedIn("alice");
      let row = await caseItemRow(alice, h.url, h.caseId, itemId);
      await row.getByTestId("item-hold").click();
      await expect.poll(() => row.getAttribute("data-legal-hold"), { timeout: 60_000 }).toBe("true");
      row = alice.locator(`[data-testid="item-row"][data-item-id="${itemId}"]`);
      await row.getByTestId("item-release").click();
      const outcome = row.getByTestId("item-action-outcome");
      await outcome.waitFor({ timeout: 60_000 });
      const requestId = /request (\S+) waits for the second custodian/.exec(
        (await outcome.textContent()) ?? "",
      )?.[1];
      expect(requestId, (await outcome.textContent()) ?? "").toBeDefined();
      // still held until bob approves; alice cannot approve her own request
      expect((await h.alice.show({ id: itemId, caseId: h.caseId })).legalHold).toBe(true);
      const ownRequest = alice.locator(`[data-testid="approval-row"][data-request-id="${requestId}"]`);
      await ownRequest.waitFor({ timeout: 60_000 });
      await expect.poll(() => ownRequest.getByTestId("approval-approve").isDisabled()).toBe(true);
      await accessible(alice, "cases, as a custodian");

      const bob = await signedIn("bob");
      await bob.goto(`${h.url}/console/#/access`);
      const request = bob.locator(`[data-testid="approval-row"][data-request-id="${requestId}"]`);
      await request.waitFor({ timeout: 60_000 });
      await accessible(bob, "access and approvals, as the second custodian");
      await request.getByTestId("approval-approve").click();
      // approved, the request leaves bob's inbox (its row, and the outcome shown in it, go with it)
      await request.waitFor({ state: "detached", timeout: 60_000 });
      await expect
        .poll(async () => (await h.alice.show({ id: itemId, caseId: h.caseId })).legalHold, {
          timeout: 60_000,
        })
        .toBe(false);
      const audit = await h.alice.showAudit();
      expect(audit.some((r) => r.actor === "bob" && r.outcome === "allow" && /approve/.test(r.action))).toBe(
        true,
      );
      await alice.context().close();
      await bob.context().close();
    }, 180_000);
  },
);
