import { describe, expect, it } from "vitest";
import { CONSOLE_CSP } from "../src/console.js";
import { call, serveVault } from "./helpers.js";

describe("the web console", () => {
  it("is served with a strict CSP to a valid certificate, and to nobody without one", async () => {
    const served = await serveVault();
    try {
      const page = await call(served.url, "/console/", { identity: served.alice, ca: served.ca });
      expect(page.status).toBe(200);
      expect(page.headers["content-security-policy"]).toBe(CONSOLE_CSP);
      expect(page.headers["x-content-type-options"]).toBe("nosniff");
      expect(page.headers["cache-control"]).toBe("private, no-cache");
      const script = /src="(\/console\/assets\/[^"]+\.js)"/.exec(page.body.toString())?.[1] ?? "";
      const asset = await call(served.url, script, { identity: served.alice, ca: served.ca });
      expect(asset.status).toBe(200);
      expect(asset.headers["cache-control"]).toContain("immutable");
      const anonymous = await call(served.url, script, { ca: served.ca });
      expect(anonymous.status).toBe(401);
      expect(anonymous.body.toString()).not.toContain("svelte");
    } finally {
      await served.cleanup();
    }
  });
});
