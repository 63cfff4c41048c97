import { readFileSync } from "node:fs";
import { createRequire } from "node:module";
import type { BrowserContext, Page } from "playwright-core";

// What every page of the console is held to in the browser: axe-core finds no serious or critical
// accessibility violation, and the page breaks no rule of its Content-Security-Policy.

const AXE_SOURCE = readFileSync(createRequire(import.meta.url).resolve("axe-core/axe.min.js"), "utf8");
/** Where axe-core is served from inside the page's origin, so the CSP's `script-src 'self'` admits it. */
const AXE_PATH = "/console/__test__/axe.min.js";
/** A script of the page's own origin that tries what the CSP forbids a script: eval, inline script. */
export const CSP_PROBE_PATH = "/console/__test__/csp-probe.js";
const CSP_PROBE = `
let evaluated = false;
try { evaluated = new Function("return true")(); } catch {}
const inline = document.createElement("script");
inline.textContent = "window.__inlineRan = true";
document.head.append(inline);
window.__probe = { evaluated, inline: "__inlineRan" in window };
`;

export interface AxeViolation {
  id: string;
  impact: string | null;
  help: string;
  nodes: { target: unknown[]; html: string }[];
}

/**
 * axe-core as a script file of the console's own origin: the browser fetches it like any asset (the
 * request is answered in the browser and never reaches the server), so no inline script and no CSP
 * exception is needed. The page's CSP still applies to it.
 */
export async function serveTestScripts(context: BrowserContext, origin: string): Promise<void> {
  for (const [path, body] of [
    [AXE_PATH, AXE_SOURCE],
    [CSP_PROBE_PATH, CSP_PROBE],
  ] as const)
    await context.route(`${origin}${path}`, (route) =>
      route.fulfill({ status: 200, contentType: "text/javascript; charset=utf-8", body }),
    );
}

/** The serious and critical violations of the page as it is now (WCAG 2.x A and AA rules). */
export async function seriousViolations(page: Page): Promise<AxeViolation[]> {
  if (!(await page.evaluate(() => "axe" in window))) await page.addScriptTag({ url: AXE_PATH });
  const checked = await page.evaluate(async () => {
    const axe = (window as unknown as { axe: { run: (...args: unknown[]) => Promise<unknown> } }).axe;
    const result = (await axe.run(document, {
      runOnly: { type: "tag", values: ["wcag2a", "wcag2aa", "wcag21a", "wcag21aa", "best-practice"] },
      resultTypes: ["violations"],
    })) as { violations: AxeViolation[]; passes: unknown[] };
    return { violations: result.violations, ran: result.passes.length };
  });
  // a page axe could not look at would pass silently
  if (checked.ran === 0) throw new Error("axe-core checked nothing on the page");
  return checked.violations
    .filter((v) => v.impact === "serious" || v.impact === "critical")
    .map((v) => ({ ...v, nodes: v.nodes.map((n) => ({ target: n.target, html: n.html })) }));
}

/** One line per violation and element, to read in a failed assertion. */
export function describeViolations(violations: AxeViolation[]): string {
  return violations
    .flatMap((v) => v.nodes.map((n) => `${v.impact} ${v.id}: ${v.help} at ${JSON.stringify(n.target)}`))
    .join("\n");
}

export interface CspWatch {
  /** Violations the page's `securitypolicyviolation` events and the browser's console reported. */
  violations(): Promise<string[]>;
}

/** Records every CSP violation of a page from its first script on (an init script is not page code). */
export async function watchCsp(page: Page): Promise<CspWatch> {
  const fromConsole: string[] = [];
  page.on("console", (message) => {
    if (/Content Security Policy/i.test(message.text())) fromConsole.push(message.text());
  });
  await page.addInitScript(() => {
    const seen: string[] = [];
    (window as unknown as { __cspViolations: string[] }).__cspViolations = seen;
    document.addEventListener("securitypolicyviolation", (event) =>
      seen.push(
        `${event.violatedDirective} blocked ${event.blockedURI || "inline"} at ${event.sourceFile}:${event.lineNumber}:${event.columnNumber}`,
      ),
    );
  });
  return {
    violations: async () => [
      ...(await page.evaluate(
        () => (window as unknown as { __cspViolations?: string[] }).__cspViolations ?? [],
      )),
      ...fromConsole,
    ],
  };
}
