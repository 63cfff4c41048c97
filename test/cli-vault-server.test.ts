import { describe, expect, it } from "vitest";
import { serverTransport } from "./cli-server-transport.js";
import { vaultScenario } from "./cli-vault-scenario.js";

// The same end-to-end vault scenario as cli-vault.test.ts, every command through `custody serve`.
const server = serverTransport();
const { runLocally } = vaultScenario(server);

describe("the CLI against a server and against the same vault locally", () => {
  it("while the server runs, a local command stops at once and names the server", () => {
    const local = runLocally(["list"], "alice");
    expect(local.code).toBe(5);
    expect(local.stderr).toContain(`holds this vault; use --server ${server.url()}`);
  });

  it("prints the same error message and exit code for a denied command", async () => {
    const denied = ["access", "list"];
    const remote = runLocally([...denied, "--server", server.url()], "mallory");
    await server.stop();
    const local = runLocally(denied, "mallory");
    expect(local.code).toBe(3);
    expect(local.stderr).toMatch(/^custody: ERR_ACCESS_DENIED: .*mallory/);
    expect({ code: remote.code, stderr: remote.stderr }).toEqual({ code: local.code, stderr: local.stderr });
  });
});
