import { join } from "node:path";

/** The console's pages, each as the person who would look at it, once the page has settled. */
const PAGES = [
  { file: "devices.png", person: "rita", path: "#/devices", ready: '[data-testid="device-row"]' },
  { file: "actions.png", person: "alice", path: "#/actions" },
  { file: "cases.png", person: "rita", path: "#/cases" },
  { file: "audit.png", person: "alice", path: "#/audit" },
  { file: "access.png", person: "alice", path: "#/access" },
];

async function settle(page, ready) {
  if (ready !== undefined) await page.locator(ready).first().waitFor();
  await page.waitForFunction(
    () => !/Loading|Signing in/.test(document.querySelector("main")?.textContent ?? ""),
  );
  // the last poll's answer drawn, fonts laid out
  await page.evaluate(() => document.fonts.ready);
}

export async function takeScreenshots(h, dir) {
  const written = [];
  for (const { file, person, path, ready } of PAGES) {
    const context = await h.context(person);
    const page = await context.newPage();
    await page.goto(`${h.url}/console/${path}`);
    await settle(page, ready);
    await page.screenshot({ path: join(dir, file), fullPage: true });
    written.push(join(dir, file));
    await context.close();
  }
  return written;
}
