import { execFileSync, spawnSync } from "node:child_process";
import { mkdirSync, mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// How the `custody` process ends when the world around it fails: a reader that goes away, a full disk,
// a FIFO where a file was expected. Real child processes, real pipes, real /dev/full.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-proc-"));
const many = join(work, "many");
const STACK_LINE = /\n\s+at /;

function bash(script: string, timeoutMs = 60_000) {
  const env = { ...process.env, CUSTODY: `${process.execPath} ${BIN}` };
  const r = spawnSync("bash", ["-c", script], { cwd: work, env, encoding: "utf8", timeout: timeoutMs });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

function custody(args: string[], env: Record<string, string> = {}, timeoutMs = 60_000) {
  const r = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: join(work, "vault"), ...env },
    encoding: "utf8",
    timeout: timeoutMs,
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
}

beforeAll(() => {
  // Far more output than a pipe buffer holds, so the writer is still writing when `head` leaves.
  mkdirSync(many);
  for (let i = 0; i < 3000; i++) writeFileSync(join(many, `file-${i}`), `${i}\n`);
});
afterAll(() => rmSync(work, { recursive: true, force: true }));

describe("a reader that closes the pipe (custody hash -r many | head -1)", () => {
  it("ends custody quietly with 141, as coreutils end (128 + SIGPIPE)", () => {
    const ours = bash(`$CUSTODY hash -r many | head -1; echo "status \${PIPESTATUS[*]}"`);
    expect(ours.stderr).toBe("");
    const [line, status] = ours.stdout.trimEnd().split("\n");
    expect(line).toMatch(/^[0-9a-f]{64} {2}many\/file-/);
    const theirs = bash(`seq 1 1000000 | head -1 >/dev/null; echo "status \${PIPESTATUS[*]}"`);
    expect(theirs.stdout.trim()).toBe("status 141 0");
    expect(status).toBe("status 141 0");
  });

  it("is a success of the pipeline without pipefail, and a visible failure with it", () => {
    expect(bash("$CUSTODY hash -r many | head -1 >/dev/null").code).toBe(0);
    const strict = bash("set -o pipefail; $CUSTODY hash -r many | head -1 >/dev/null");
    expect(strict.code).toBe(141);
    expect(strict.stderr).toBe("");
  });

  it("is quiet for --json output too", () => {
    const ours = bash("set -o pipefail; $CUSTODY hash --json -r many | head -1");
    expect(ours.stdout).toBe("{\n");
    expect(ours.stderr).toBe("");
    expect(ours.code).toBe(141);
  });
});

describe("a full disk (ENOSPC) behind stdout", () => {
  it("is ERR_STORAGE_FULL with exit 7 and no stack, for long and short output", () => {
    for (const args of ["hash -r many", "--help", "hash --json -r many"]) {
      const r = bash(`$CUSTODY ${args} > /dev/full`);
      expect(r.stderr, args).toMatch(/^custody: ERR_STORAGE_FULL: /);
      expect(r.stderr, args).not.toMatch(STACK_LINE);
      expect(r.stderr.trimEnd().split("\n"), args).toHaveLength(1);
      expect(r.code, args).toBe(7);
    }
  });
});

describe("custody hash on something that is not a regular file", () => {
  it("refuses a FIFO with ERR_INVALID_ARGUMENT instead of blocking on its open", () => {
    const fifo = join(work, "pipe");
    execFileSync("mkfifo", [fifo]);
    writeFileSync(join(work, "plain"), "plain\n");
    const r = custody(["hash", "pipe", "plain"], {}, 20_000);
    expect(r.code, "custody hash blocked on the FIFO").toBe(1);
    expect(r.stderr).toBe("custody hash: pipe: ERR_INVALID_ARGUMENT: is a FIFO, not a regular file\n");
    expect(r.stdout).toMatch(/^[0-9a-f]{64} {2}plain\n$/);
  });

  it("refuses a character device and a FIFO met in a folder", () => {
    const device = custody(["hash", "/dev/zero"], {}, 20_000);
    expect(device.code).toBe(1);
    expect(device.stderr).toMatch(/ERR_INVALID_ARGUMENT: is a character device/);
    mkdirSync(join(work, "with-fifo"));
    execFileSync("mkfifo", [join(work, "with-fifo", "p")]);
    const folder = custody(["hash", "-r", "with-fifo"], {}, 20_000);
    expect(folder.code).toBe(1);
    expect(folder.stderr).toMatch(/with-fifo\/p: fifo, not a regular file, skipped/);
  });
});

describe("the logger", () => {
  it("takes --log-level anywhere and CUSTODY_LOG_LEVEL, and reaches the libraries (pino lines on stderr)", () => {
    const init = custody(["init", "--name", "alice"]);
    expect(init.code, init.stderr).toBe(0);
    const quiet = custody(["access", "grant", "bob", "investigator", "--scope", "case:A"]);
    expect(quiet.code, quiet.stderr).toBe(0);
    expect(quiet.stderr).toBe("");
    const loud = custody(["--log-level", "info", "access", "grant", "carol", "analyst", "--scope", "case:A"]);
    expect(loud.code, loud.stderr).toBe(0);
    const lines = loud.stderr
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l));
    expect(lines.some((l) => l.msg === "access policy changed" && l.level === 30)).toBe(true);
    const fromEnv = custody(["access", "grant", "dave", "analyst", "--scope", "case:A"], {
      CUSTODY_LOG_LEVEL: "info",
    });
    expect(fromEnv.stderr).toContain('"msg":"access policy changed"');
    const after = custody(["access", "list", "--log-level=debug", "--json"]);
    expect(JSON.parse(after.stdout).grants.length).toBeGreaterThan(2);
  });

  it("refuses an unknown level as a usage error", () => {
    const r = custody(["list", "--log-level", "loud"]);
    expect(r.code).toBe(2);
    expect(r.stderr).toMatch(/^custody: ERR_USAGE: --log-level/);
  });

  it("shows the stack of a failure only at debug level", () => {
    const plain = custody(["list", "--vault", join(work, "none")]);
    expect(plain.stderr).toMatch(/^custody: ERR_VAULT_NOT_INITIALIZED: /);
    expect(plain.stderr).not.toMatch(STACK_LINE);
    const debug = custody(["list", "--vault", join(work, "none"), "--log-level", "debug"]);
    expect(debug.stderr).toContain('"stack":');
  });
});

describe("a vault file that does not parse", () => {
  it("is a coded error, never ERR_INTERNAL or a stack, for a corrupt revocation list", () => {
    const vault = join(work, "corrupt-vault");
    expect(custody(["init", "--name", "alice"], { CUSTODY_VAULT: vault }).code).toBe(0);
    const revoked = join(vault, "pki", "crl.pem");
    const saved = readFileSync(revoked);
    for (const garbage of [
      "{oops",
      "",
      "-----BEGIN X509 CRL-----\nAAAA\n-----END X509 CRL-----\n",
      "\u0000\u0001",
    ]) {
      writeFileSync(revoked, garbage);
      for (const args of [["list"], ["access", "revoke-identity", "alice"]]) {
        const r = custody(args, { CUSTODY_VAULT: vault });
        expect(r.stderr, `${args.join(" ")} on ${JSON.stringify(garbage)}`).toMatch(
          /^custody: ERR_[A-Z_]+: /,
        );
        expect(r.stderr).not.toMatch(/ERR_INTERNAL|SyntaxError/);
        expect(r.stderr).not.toMatch(STACK_LINE);
        expect(r.code).not.toBe(0);
        expect(r.code).not.toBe(10);
      }
    }
    writeFileSync(revoked, saved);
    expect(custody(["list"], { CUSTODY_VAULT: vault }).code).toBe(0);
  }, 180_000); // seventeen CLI processes: a minute of them on a loaded 2-core machine
});
