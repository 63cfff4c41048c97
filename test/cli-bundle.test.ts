import { execFile } from "node:child_process";
import { copyFile, mkdir, mkdtemp, readFile, rm, stat, utimes, writeFile } from "node:fs/promises";
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
    expect(bin).toContain('"../bundle/"');
    expect(bin).toContain('"custody.js"');
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
});

describe("which code dist/bin.js runs", () => {
  // A miniature checkout: bin.js beside a compiled main.js and a bundle that each say which one ran, and
  // one package's build stamp as the bundle recorded it.
  async function checkout(name: string) {
    const top = join(work, name);
    for (const dir of ["cli/dist", "cli/bundle", "core/dist"])
      await mkdir(join(top, dir), { recursive: true });
    await writeFile(join(top, "package.json"), '{ "type": "module" }');
    await copyFile(BIN, join(top, "cli", "dist", "bin.js"));
    await writeFile(join(top, "cli", "dist", "main.js"), 'console.log("modules");\n');
    await writeFile(join(top, "cli", "bundle", "custody.js"), 'console.log("bundle");\n');
    const stamp = join(top, "core", "dist", ".tsbuildinfo");
    await writeFile(stamp, "{}");
    const record = { stamps: { "../../core/dist/.tsbuildinfo": (await stat(stamp)).mtimeMs } };
    await writeFile(join(top, "cli", "bundle", "built-from.json"), JSON.stringify(record));
    return { top, stamp };
  }

  async function ran(top: string): Promise<string> {
    const { stdout } = await run(process.execPath, [join(top, "cli", "dist", "bin.js")], { env: childEnv() });
    return stdout.trim();
  }

  it("runs the bundle made from the packages' current build", async () => {
    const { top } = await checkout("current");
    expect(await ran(top)).toBe("bundle");
  });

  it("runs the compiled modules once a package was built again after the bundle (tsc -b alone)", async () => {
    const { top, stamp } = await checkout("rebuilt");
    const later = new Date(Date.now() + 60_000);
    await utimes(stamp, later, later);
    expect(await ran(top)).toBe("modules");
  });

  it("runs the compiled modules where there is no bundle", async () => {
    const { top } = await checkout("no-bundle");
    await rm(join(top, "cli", "bundle", "custody.js"));
    expect(await ran(top)).toBe("modules");
  });

  it("runs the compiled modules when the bundle's record of its build is missing or unreadable", async () => {
    for (const [name, record] of [
      ["no-record", undefined],
      ["bad-record", "not json"],
      ["odd-record", '{ "stamps": 7 }'],
    ] as const) {
      const { top } = await checkout(name);
      const file = join(top, "cli", "bundle", "built-from.json");
      if (record === undefined) await rm(file);
      else await writeFile(file, record);
      expect(await ran(top), name).toBe("modules");
    }
  });

  it("runs the bundle when a recorded stamp is absent (an installed package has none)", async () => {
    const { top, stamp } = await checkout("installed");
    await rm(stamp);
    expect(await ran(top)).toBe("bundle");
  });

  it("is current in this checkout, so the CLI's end-to-end tests run the bundle", async () => {
    const dir = join(ROOT, "packages", "cli", "bundle");
    const { stamps } = JSON.parse(await readFile(join(dir, "built-from.json"), "utf8")) as {
      stamps: Record<string, number>;
    };
    expect(Object.keys(stamps)).toContain("../../vault/dist/.tsbuildinfo");
    for (const [path, mtimeMs] of Object.entries(stamps)) {
      expect((await stat(join(dir, path))).mtimeMs, path).toBeLessThanOrEqual(mtimeMs);
    }
  });
});
