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

  it("refuses a server certificate under a foreign --ca, and trusts the vault CA given with --ca", () => {
    const foreign = runLocally(["list", "--server", server.url(), "--ca", server.foreignCa()], "bob");
    expect(foreign.code).toBe(1);
    expect(foreign.stderr).toContain("ERR_UNTRUSTED_SIGNER");
    const own = runLocally(["list", "--server", server.url(), "--ca", server.vaultCa()], "bob");
    expect(own.code).toBe(0);
  });

  it("takes --server before the command too, as the issue writes it (custody --server URL --identity FILE list)", () => {
    const leading = runLocally(["--server", server.url(), "list", "--json"], "bob");
    const trailing = runLocally(["list", "--json", "--server", server.url()], "bob");
    expect(leading.code, leading.stderr).toBe(0);
    expect(leading).toEqual(trailing);
  });

  it("prints the same output, error messages and exit codes as locally", async () => {
    const commands: [string[], string][] = [
      [["access", "list"], "mallory"],
      [["list", "--case", "B"], "bob"],
      [["list"], "alice"],
      [["list", "--json"], "bob"],
      [["access", "whoami", "--json"], "bob"],
      [["access", "list"], "alice"],
      [["show", "0123456789abcdef"], "alice"],
    ];
    const remote = commands.map(([args, as]) => runLocally([...args, "--server", server.url()], as));
    await server.stop();
    const local = commands.map(([args, as]) => runLocally(args, as));
    expect(local[0]?.code).toBe(3);
    expect(local[0]?.stderr).toMatch(/^custody: ERR_ACCESS_DENIED: .*mallory/);
    expect(local.map((r) => r.code)).toEqual([3, 3, 0, 0, 0, 0, 4]);
    expect(remote).toEqual(local);
  });
});
