import { spawn } from "node:child_process";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The built `custody`, run as a child while this process holds the vault's audit lock (as a server would).
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-lock-hint-"));
const dir = join(work, "vault");
let vault: Vault;

function custody(args: string[], env: Record<string, string> = {}) {
  return new Promise<{ code: number | null; stdout: string; stderr: string }>((resolve) => {
    const child = spawn(process.execPath, [BIN, ...args], {
      cwd: work,
      env: {
        ...process.env,
        CUSTODY_VAULT: dir,
        CUSTODY_IDENTITY: join(dir, "identities", "owner.pem"),
        ...env,
      },
    });
    let stdout = "";
    let stderr = "";
    child.stdout.on("data", (d) => (stdout += d));
    child.stderr.on("data", (d) => (stderr += d));
    child.on("close", (code) => resolve({ code, stdout, stderr }));
  });
}

const serverFile = (pid: number) =>
  writeFileSync(
    join(dir, "server.json"),
    JSON.stringify({ pid, urls: ["https://127.0.0.1:8443"], caFingerprintSha256: "00", startedAt: "x" }),
    { mode: 0o600 },
  );

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  await created.vault.close();
  const { mkdirSync } = await import("node:fs");
  mkdirSync(join(dir, "identities"), { recursive: true });
  writeFileSync(join(dir, "identities", "owner.pem"), created.identityPem, { mode: 0o600 });
  vault = await Vault.open({ dir });
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

describe("a vault held by a running server", () => {
  it("fails at once with the server to use instead of waiting for the lock", async () => {
    serverFile(process.pid);
    // A wait of ten minutes: only the hint ends this command within the test's time.
    const result = await custody(["list"], { CUSTODY_LOCK_TIMEOUT_MS: "600000" });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain(
      `ERR_AUDIT_LOCKED: a custody server (pid ${process.pid}) holds this vault; use --server https://127.0.0.1:8443`,
    );
  });

  it("keeps the plain lock error when server.json names another process than the lock's holder", async () => {
    serverFile(process.ppid);
    const result = await custody(["list"], { CUSTODY_LOCK_TIMEOUT_MS: "0" });
    expect(result.code).toBe(5);
    expect(result.stderr).toContain("ERR_AUDIT_LOCKED");
    expect(result.stderr).not.toContain("custody server");
  });

  it("ignores a server.json that does not parse or names an address that is not https", async () => {
    writeFileSync(join(dir, "server.json"), JSON.stringify({ pid: process.pid, urls: ["http://evil\n"] }));
    const result = await custody(["list"], { CUSTODY_LOCK_TIMEOUT_MS: "0" });
    expect(result.code).toBe(5);
    expect(result.stderr).not.toContain("custody server");
  });
});

describe("commands that need the vault's own files", () => {
  it("refuse --server or CUSTODY_SERVER with a usage error instead of working locally", async () => {
    const server = { CUSTODY_SERVER: "https://127.0.0.1:8443" };
    const init = await custody(["init", "--vault", join(work, "other")], server);
    expect(init.code).toBe(2);
    expect(init.stderr).toContain("ERR_USAGE: init works on a local vault only");
    const tail = await custody(["audit", "accept-tail", "--reason", "test"], server);
    expect(tail.code).toBe(2);
    expect(tail.stderr).toContain("audit accept-tail works on a local vault only");
    const collect = await custody(["collect", "--ingest", "--server", "https://127.0.0.1:8443"]);
    expect(collect.code).toBe(2);
    expect(collect.stderr).toContain("collector key");
  });

  it("need an identity file to reach a server", async () => {
    const result = await custody(["list", "--server", "https://127.0.0.1:8443"], { CUSTODY_IDENTITY: "" });
    expect(result.code).toBe(2);
    expect(result.stderr).toContain("needs your identity file");
  });
});
