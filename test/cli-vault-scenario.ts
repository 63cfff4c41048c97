import { spawn, spawnSync } from "node:child_process";
import {
  chmodSync,
  existsSync,
  mkdtempSync,
  readdirSync,
  readFileSync,
  rmSync,
  statSync,
  writeFileSync,
} from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Runs the built `custody` binary exactly as a person or a script would, on a temp vault: directly, or
// through `custody serve` (the same commands with --server). The scenario is the same for both.
export const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");

/** How the scenario's commands reach the vault once it exists. */
export interface Transport {
  name: string;
  /** Called once the vault is initialised (a server starts here). */
  start(vault: string, work: string): Promise<void>;
  /** Extra arguments for a command run as someone (`--server URL` for a server). */
  args(): string[];
  stop(): Promise<void>;
}

export const LOCAL: Transport = {
  name: "a local vault",
  start: async () => {},
  args: () => [],
  stop: async () => {},
};

/** Runs `custody ARGS --identity <who>.pem` on the scenario's vault, without the transport's arguments. */
export type LocalRun = (
  args: string[],
  as: string,
) => { code: number | null; stdout: string; stderr: string };

export function vaultScenario(transport: Transport): { runLocally: LocalRun } {
  const work = mkdtempSync(join(tmpdir(), "custody-e2e-"));
  const vault = join(work, "vault");
  const id = (name: string) => join(work, `${name}.pem`);
  const env = () => {
    const values = { ...process.env, CUSTODY_VAULT: vault };
    delete values.CUSTODY_IDENTITY;
    delete values.CUSTODY_SERVER;
    return values;
  };
  const asWho = (args: string[], as: string) => [...args, "--identity", id(as), ...transport.args()];

  function custody(args: string[], as?: string) {
    const full = as === undefined ? args : asWho(args, as);
    const result = spawnSync(process.execPath, [BIN, ...full], { cwd: work, env: env(), encoding: "utf8" });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  function ok(args: string[], as?: string) {
    const result = custody(args, as);
    if (result.code !== 0)
      throw new Error(`custody ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
    return result;
  }

  function auditRecords(): { actor: string; action: string; outcome: string; target: string }[] {
    return readFileSync(join(vault, "audit", "audit.log"), "utf8")
      .trim()
      .split("\n")
      .map((line) => JSON.parse(line));
  }

  let itemA = "";
  let itemB = "";

  beforeAll(async () => {
    ok(["init", "--name", "alice", "--identity-out", id("alice")]);
    await transport.start(vault, work);
    for (const name of ["bob", "mallory", "carol", "dave"])
      ok(["access", "issue-identity", name, "--out", id(name)], "alice");
    ok(["access", "grant", "bob", "investigator", "--scope", "case:A"], "alice");
    writeFileSync(join(work, "a.bin"), "evidence for case A\n");
    writeFileSync(join(work, "b.bin"), "evidence for case B\n");
    itemA = JSON.parse(ok(["ingest", join(work, "a.bin"), "--case", "A", "--json"], "alice").stdout).id;
    itemB = JSON.parse(
      ok(["ingest", join(work, "b.bin"), "--case", "B", "--retain-days", "0", "--json"], "alice").stdout,
    ).id;
  });

  afterAll(async () => {
    await transport.stop();
    rmSync(work, { recursive: true, force: true });
  });

  describe(`custody CLI end to end, through ${transport.name}`, () => {
    // About 80 child processes, one full CLI start each: minutes on a loaded machine.
    it("lets each principal do exactly what its grants give, and records every denial", () => {
      const matrix: [string[], Record<string, number>][] = [
        [["list"], { alice: 0, bob: 0, mallory: 3 }],
        [["list", "--case", "A"], { alice: 0, bob: 0, mallory: 3 }],
        [["list", "--case", "B"], { alice: 0, bob: 3, mallory: 3 }],
        [["show", itemA], { alice: 0, bob: 0, mallory: 3 }],
        [["show", itemB], { alice: 0, bob: 3, mallory: 3 }],
        [["get", itemA, "--out", "-"], { alice: 0, bob: 0, mallory: 3 }],
        [["get", itemB, "--out", "-"], { alice: 0, bob: 3, mallory: 3 }],
        [["check", itemA], { alice: 0, bob: 0, mallory: 3 }],
        [["report", itemA], { alice: 0, bob: 0, mallory: 3 }],
        [["hold", itemA], { alice: 0, bob: 3, mallory: 3 }],
        [["retain", itemA, "--until", "2099-01-01"], { alice: 0, bob: 3, mallory: 3 }],
        [["access", "list"], { alice: 0, bob: 3, mallory: 3 }],
        [["access", "grant", "mallory", "analyst", "--scope", "case:A"], { bob: 3, mallory: 3 }],
        [["access", "issue-identity", "eve", "--out", join(work, "eve-x.pem")], { bob: 3, mallory: 3 }],
        [["check"], { alice: 0, bob: 0, mallory: 0 }],
        [["release", itemA], { bob: 3, mallory: 3 }],
        [["purge", itemA], { bob: 3, mallory: 3 }],
        [["access", "revoke", "bob", "investigator", "--scope", "case:A"], { bob: 3, mallory: 3 }],
        [["access", "approve", "no-such-request"], { bob: 3, mallory: 3 }],
        [["audit", "show"], { alice: 0, bob: 3, mallory: 3 }],
        [["audit", "verify"], { alice: 0, bob: 3, mallory: 3 }],
        [["audit", "checkpoint"], { alice: 0, bob: 3, mallory: 3 }],
        [["audit", "prove", "0"], { alice: 0, bob: 3, mallory: 3 }],
        [["ingest", join(work, "a.bin"), "--case", "A"], { bob: 3, mallory: 3 }],
        [["access", "whoami"], { alice: 0, bob: 0, mallory: 0 }],
      ];
      for (const [args, expected] of matrix) {
        for (const [who, code] of Object.entries(expected)) {
          const before = auditRecords().length;
          const result = custody(args, who);
          expect({
            who,
            args,
            code: result.code,
            stderr: code === 0 ? "" : result.stderr.slice(0, 0),
          }).toEqual({
            who,
            args,
            code,
            stderr: "",
          });
          const added = auditRecords().slice(before);
          if (code === 3) expect(added.some((r) => r.actor === who && r.outcome === "deny")).toBe(true);
        }
      }
    }, 300_000);

    it("refuses a third custodian and needs both custodians to release a hold", () => {
      ok(["access", "grant", "carol", "custodian"], "alice");
      const third = custody(["access", "grant", "dave", "custodian"], "alice");
      expect(third.code).toBe(5);
      expect(third.stderr).toContain("ERR_CUSTODIAN_LIMIT");

      ok(["hold", itemB], "alice");
      const proposal = JSON.parse(ok(["release", itemB, "--json"], "alice").stdout);
      expect(proposal.status).toBe("pending");
      expect(JSON.parse(ok(["show", itemB, "--json"], "alice").stdout).legalHold).toBe(true);
      expect(custody(["access", "approve", proposal.request.id], "alice").code).toBe(3);
      expect(custody(["access", "approve", proposal.request.id], "bob").code).toBe(3);
      ok(["access", "approve", proposal.request.id], "carol");
      expect(JSON.parse(ok(["show", itemB, "--json"], "alice").stdout).legalHold).toBe(false);
    });

    it("refuses to purge a retained item and purges an expired one only with both custodians", () => {
      expect(custody(["purge", itemA], "alice").code).toBe(5);
      const proposal = JSON.parse(ok(["purge", itemB, "--json"], "alice").stdout);
      expect(proposal.status).toBe("pending");
      ok(["access", "approve", proposal.request.id], "carol");
      expect(custody(["show", itemB], "alice").code).toBe(4);
    });

    it("produces a custody report whose signature and proofs verify offline", () => {
      const reportFile = join(work, "report.json");
      ok(["report", itemA, "--out", reportFile], "bob");
      const ca = join(vault, "pki", "ca.pem");
      expect(ok(["report", "verify", reportFile, "--ca", ca]).stdout).toContain("valid");
      const report = JSON.parse(readFileSync(reportFile, "utf8"));
      expect(report.report.events.length).toBeGreaterThan(3);
      report.report.events[0].actor = "someone-else";
      writeFileSync(join(work, "forged.json"), JSON.stringify(report));
      expect(custody(["report", "verify", join(work, "forged.json"), "--ca", ca]).code).toBe(1);
      const html = join(work, "report.html");
      ok(["report", itemA, "--format", "html", "--out", html], "alice");
      expect(readFileSync(html, "utf8")).toContain("Chain of custody report");
    });

    it("catches a stored item tampered with on disk, in check and in get", () => {
      const file = findStoredFile(join(vault, "store"), itemA);
      chmodSync(file, 0o644);
      const bytes = readFileSync(file);
      bytes[0] = (bytes[0] ?? 0) ^ 1;
      writeFileSync(file, bytes);
      const check = custody(["check", itemA], "alice");
      expect(check.code).toBe(1);
      const out = join(work, "copy.bin");
      const get = custody(["get", itemA, "--out", out], "alice");
      expect(get.code).toBe(1);
      expect(get.stderr).toContain("ERR_INTEGRITY_MISMATCH");
      expect(existsSync(out)).toBe(false);
      const failedRead = auditRecords().filter(
        (r) => r.action === "evidence.read" && r.target === `item:A/${itemA}`,
      );
      expect(failedRead.at(-1)?.outcome).toBe("error");
    });

    it("refuses an identity once it is revoked, and only a custodian may revoke", () => {
      ok(["access", "issue-identity", "temp", "--out", id("temp")], "alice");
      expect(custody(["access", "whoami"], "temp").code).toBe(0);
      expect(custody(["access", "revoke-identity", "temp"], "bob").code).toBe(3);
      ok(["access", "revoke-identity", "temp"], "alice");
      const refused = custody(["access", "whoami"], "temp");
      expect(refused.code).toBe(3);
      expect(refused.stderr).toContain("revoked");
    });

    it("serializes parallel commands on one vault instead of failing them (CI steps in parallel)", async () => {
      const runs = [1, 2, 3, 4].map(
        (n) =>
          new Promise<number | null>((resolve) => {
            writeFileSync(join(work, `p${n}.bin`), `parallel ${n}\n`);
            const args = [BIN, ...asWho(["ingest", join(work, `p${n}.bin`), "--case", "A"], "alice")];
            spawn(process.execPath, args, { cwd: work, env: env(), stdio: "ignore" }).on("exit", resolve);
          }),
      );
      expect(await Promise.all(runs)).toEqual([0, 0, 0, 0]);
    });

    it("verifies its audit log, denials included", () => {
      const verify = custody(["audit", "verify", "--json"], "alice");
      expect(verify.code).toBe(0);
      const denials = auditRecords().filter((r) => r.outcome === "deny");
      expect(denials.map((r) => r.actor)).toContain("mallory");
    });
  });
  return {
    runLocally: (args, as) => {
      const result = spawnSync(process.execPath, [BIN, ...args, "--identity", id(as)], {
        cwd: work,
        env: env(),
        encoding: "utf8",
      });
      return { code: result.status, stdout: result.stdout, stderr: result.stderr };
    },
  };
}

function findStoredFile(dir: string, id: string): string {
  for (const name of readdirSync(dir, { recursive: true }) as string[]) {
    const path = join(dir, name);
    if (statSync(path).isFile() && name.includes(id) && readFileSync(path).includes("evidence for case A"))
      return path;
  }
  throw new Error(`no stored file for ${id}`);
}
