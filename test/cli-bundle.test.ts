import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { openFileAuditLog } from "@custody/audit";
import { createCertificateAuthority, createKeySigner, issueCertificate } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `custody` runs a bundle of the CLI (packages/cli/README.md, "How `custody` starts"). What the code finds
// at run time instead of importing must still be found from the bundle: each case below breaks if its
// lookup goes back to being relative to the file that makes it.
const ROOT = join(import.meta.dirname, "..");
const BIN = join(ROOT, "packages", "cli", "dist", "bin.js");
const run = promisify(execFile);

let work: string;
beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-cli-bundle-"));
});
afterAll(() => rm(work, { recursive: true, force: true }));

// Without NODE_PATH, which `pnpm exec` sets to pnpm's hidden hoisting folder: there, a package the bundle
// cannot resolve by itself would still be found (and a user's shell has no such thing).
function childEnv(): NodeJS.ProcessEnv {
  const { NODE_PATH: _hoisted, ...env } = process.env;
  return env;
}

async function custody(args: string[]) {
  try {
    const { stdout, stderr } = await run(process.execPath, [BIN, ...args], {
      cwd: work,
      env: childEnv(),
      maxBuffer: 64 * 1024 * 1024,
    });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failed = error as { code: number; stdout: string; stderr: string };
    return { code: failed.code, stdout: failed.stdout, stderr: failed.stderr };
  }
}

describe("the bundled CLI", () => {
  it("is what dist/bin.js runs: one bundle file, not the compiled modules", async () => {
    expect((await stat(join(ROOT, "packages", "cli", "bundle", "custody.js"))).isFile()).toBe(true);
    const bin = await readFile(BIN, "utf8");
    expect(bin).toContain("../bundle/custody.js");
    expect(bin).not.toMatch(/from "\.\/cli\.js"/);
  });

  it("prints the CLI package's version (found from the package, not from the bundle's folder)", async () => {
    const pkg = JSON.parse(await readFile(join(ROOT, "packages", "cli", "package.json"), "utf8")) as {
      version: string;
    };
    const result = await custody(["--version"]);
    expect(result.code).toBe(0);
    expect(result.stdout.trim()).toContain(pkg.version);
  });

  it("loads node-forge to issue certificates (a lazy require)", async () => {
    const result = await custody(["init", "--vault", join(work, "vault"), "--name", "alice"]);
    expect(result.stderr).not.toMatch(/Cannot find/);
    expect(result.code).toBe(0);
  }, 60_000);

  it("loads pino for a debug line, whose stack names the compiled files, not the bundle", async () => {
    const result = await custody(["list", "--vault", join(work, "nowhere"), "--log-level", "debug"]);
    expect(result.code).toBe(4);
    // pino writes JSON lines when stderr is not a terminal
    const line = result.stderr.split("\n").find((text) => text.startsWith('{"level":20'));
    expect(line, result.stderr).toBeDefined();
    const stack = (JSON.parse(line as string) as { err: { stack: string } }).err.stack;
    expect(stack).toMatch(/packages\/vault\/dist\/config\.js/);
    expect(stack).not.toMatch(/packages\/cli\/bundle\//);
  });

  it("verifies a log large enough for the worker threads (their module sits beside the bundle)", async () => {
    const ca = await createCertificateAuthority({ commonName: "Bundle CA", keyBits: 2048 });
    const leaf = await issueCertificate(ca, { commonName: "vault", usage: "vault-signer", keyBits: 2048 });
    const dir = join(work, "big-log");
    await writeFile(join(work, "ca.pem"), ca.certificatePem);
    const signer = createKeySigner({ keyPem: leaf.keyPem, certificatePem: leaf.certificatePem });
    const audit = await openFileAuditLog({ dir, signer, checkpointIntervalMs: 0, checkpointEvery: 1000 });
    // ~6 MiB of records: over the 4 MiB that the verifier checks inline
    const reason = "r".repeat(3000);
    for (let i = 0; i < 2000; i += 1) {
      await audit.append({
        actor: "alice",
        action: "item.read",
        target: `item-${i}`,
        outcome: "allow",
        reason,
      });
    }
    await audit.close();
    expect((await stat(join(dir, "audit.log"))).size).toBeGreaterThan(5 * 1024 * 1024);
    const result = await custody(["audit", "verify", "--log", dir, "--ca", join(work, "ca.pem"), "--json"]);
    expect(result.stderr).toBe("");
    expect(result.code).toBe(0);
    expect(JSON.parse(result.stdout)).toMatchObject({ ok: true });
  }, 120_000);

  it("says the bundle is missing, with ERR_INTERNAL, when only the compiled code is there", async () => {
    const lone = join(work, "lone", "dist");
    await mkdir(lone, { recursive: true });
    await copyFile(BIN, join(lone, "bin.js"));
    await writeFile(join(work, "lone", "package.json"), '{ "type": "module" }');
    const result = await run(process.execPath, [join(lone, "bin.js"), "--version"], {
      env: childEnv(),
    }).catch((error: { code: number; stderr: string }) => error);
    expect("code" in result ? result.code : 0).toBe(10);
    expect(result.stderr).toContain("ERR_INTERNAL");
    expect(result.stderr).toContain("pnpm run build");
  });
});
