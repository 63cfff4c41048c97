import type { Page } from "playwright-core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { browserMissing, type Harness, type PersonName, startHarness } from "./harness.js";
import {
  CSP_PROBE_PATH,
  describeViolations,
  seriousViolations,
  serveTestScripts,
  watchCsp,
} from "./page-checks.js";

// The console in Debian's Chromium against a real `custody serve` and a real agent on loopback: who
// signs in, what a person without a grant gets (and that it is on record), what a browser without a
// certificate gets, and every page checked by axe-core and against its Content-Security-Policy.

let h: Harness;

/** Every page of the console; the two with an id get one that does not exist (they say so). */
const PAGES = [
  "#/devices",
  "#/actions",
  "#/cases",
  "#/audit",
  "#/access",
  "#/sessions/S-does-not-exist",
  `#/items/${"0".repeat(64)}/report`,
];

async function signedIn(person: PersonName, path = "#/devices"): Promise<Page> {
  const context = await h.context(person);
  await serveTestScripts(context, h.url);
  const page = await context.newPage();
  await page.goto(`${h.url}/console/${path}`);
  await expect.poll(() => page.getByTestId("principal").textContent()).toContain(person);
  return page;
}

/** The page has settled: nothing says it is still loading. */
async function settled(page: Page): Promise<void> {
  await expect
    .poll(() => page.locator("main").textContent(), { timeout: 30_000 })
    .not.toMatch(/Loading|Signing in/);
}

describe.skipIf(browserMissing !== undefined)(`the web console in Chromium ${browserMissing ?? ""}`, () => {
  beforeAll(async () => {
    h = await startHarness();
  }, 240_000);
  afterAll(async () => {
    await h?.close();
  });

  it("signs a person in with their client certificate and shows their grants", async () => {
    const page = await signedIn("rita");
    await expect
      .poll(() => page.getByTestId("principal").textContent())
      .toMatch(/rita\s*\(responder, analyst\)/);
    const row = page.locator(`[data-testid="device-row"][data-device-id="${h.deviceId}"]`);
    await expect.poll(() => row.getByTestId("device-online").textContent()).toContain("online");
    await page.context().close();
  });

  it("serves nothing to a browser without a certificate", async () => {
    const context = await h.context();
    const page = await context.newPage();
    const answer = await page.goto(`${h.url}/console/`);
    expect(answer?.status()).toBe(401);
    const body = (await answer?.text()) ?? "";
    expect(body).not.toMatch(/<script|console\/assets/);
    // the app's own files are refused too, by name
    const html = await (await h.context("alice")).request.get(`${h.url}/console/`);
    const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(await html.text())?.[1];
    expect(script).toBeDefined();
    const asset = await page.goto(`${h.url}${script}`);
    expect(asset?.status()).toBe(401);
    expect(await asset?.text()).not.toContain("svelte");
    await context.close();
  });

  it("shows a person with no grant nothing, and their attempts are in the audit log", async () => {
    const before = (await h.alice.showAudit()).length;
    const page = await signedIn("eve");
    await settled(page);
    expect(await page.getByTestId("device-row").count()).toBe(0);
    expect(await page.locator("main").textContent()).not.toContain(h.deviceId);
    for (const path of PAGES.slice(1)) {
      await page.goto(`${h.url}/console/${path}`);
      await settled(page);
      const text = (await page.locator("main").textContent()) ?? "";
      expect(text).not.toContain(h.deviceId);
      expect(text).not.toContain(h.caseId);
    }
    // a session on rita's device, tried by hand from eve's page: refused and recorded
    const opened = await page.evaluate(
      async ([deviceId, caseId]) =>
        (
          await fetch("/v1/sessions", {
            method: "POST",
            headers: { "content-type": "application/json" },
            body: JSON.stringify({ deviceId, caseId }),
          })
        ).status,
      [h.deviceId, h.caseId],
    );
    expect([403, 404]).toContain(opened);
    const records = (await h.alice.showAudit()).slice(before).filter((r) => r.actor === "eve");
    expect(records.some((r) => r.outcome === "deny" && r.action === "device.read")).toBe(true);
    expect(records.filter((r) => r.outcome === "deny").length).toBeGreaterThan(1);
    await page.context().close();
  });

  it("finds no serious or critical accessibility violation on any page", async () => {
    for (const person of ["alice", "rita", "eve"] as const) {
      const page = await signedIn(person);
      for (const path of PAGES) {
        await page.goto(`${h.url}/console/${path}`);
        await settled(page);
        const violations = await seriousViolations(page);
        expect(violations, `${person} ${path}\n${describeViolations(violations)}`).toEqual([]);
      }
      await page.context().close();
    }
  }, 180_000);

  it("serves every page with its strict CSP, which the app never breaks and the browser enforces", async () => {
    const context = await h.context("alice");
    await serveTestScripts(context, h.url);
    const page = await context.newPage();
    const csp = await watchCsp(page);
    const answer = await page.goto(`${h.url}/console/`);
    const policy = answer?.headers()["content-security-policy"] ?? "";
    for (const directive of [
      "default-src 'self'",
      "script-src 'self'",
      "style-src 'self'",
      "object-src 'none'",
      "frame-ancestors 'none'",
    ])
      expect(policy).toContain(directive);
    expect(policy).not.toMatch(/unsafe-inline|unsafe-eval|\*/);
    for (const path of PAGES) {
      await page.goto(`${h.url}/console/${path}`);
      await settled(page);
    }
    expect(await csp.violations()).toEqual([]);
    // the policy holds in this browser: a script of the origin may not eval or add an inline script
    const probe = await page.evaluate(
      (src) =>
        new Promise((resolve, reject) => {
          const script = Object.assign(document.createElement("script"), { src });
          script.onload = () => resolve((window as unknown as { __probe: unknown }).__probe);
          script.onerror = reject;
          document.head.append(script);
        }),
      CSP_PROBE_PATH,
    );
    expect(probe).toEqual({ evaluated: false, inline: false });
    await expect.poll(async () => (await csp.violations()).length).toBeGreaterThan(1);
    await context.close();
  });
});
