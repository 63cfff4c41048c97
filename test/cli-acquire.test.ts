import { execFileSync, spawnSync } from "node:child_process";
import { randomBytes } from "node:crypto";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { DeviceLab, loopUnavailable } from "../packages/acquire/test/devices.js";

// `custody acquire` end to end: the built CLI, a real vault, a loop device, and the system's sha256sum.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-cli-acquire-"));
const lab = new DeviceLab();

function custody(...args: string[]) {
  const env = { ...process.env, CUSTODY_VAULT: join(work, "vault") };
  return spawnSync(process.execPath, [BIN, ...args], { cwd: work, env, encoding: "utf8" });
}

const sha256sum = (path: string) => execFileSync("sha256sum", [path], { encoding: "utf8" }).split(" ")[0];

beforeAll(() => {
  const init = custody("init", "--name", "alice");
  expect(init.status, init.stderr).toBe(0);
});

afterAll(async () => {
  await lab.cleanup();
  rmSync(work, { recursive: true, force: true });
});

describe("custody acquire", () => {
  it("acquires an image file; get restores it byte-identical and sha256sum agrees with the record", () => {
    const image = join(work, "disk.img");
    writeFileSync(image, randomBytes(5 * 1024 * 1024 + 512));
    const run = custody("acquire", image, "--case", "IR-18", "--verify-source", "--json");
    expect(run.status, run.stderr).toBe(0);
    const item = JSON.parse(run.stdout);
    expect(item).toMatchObject({ id: sha256sum(image), acquisition: { how: "acquire" } });
    expect(item.image.verification.matched).toBe(true);
    const out = join(work, "restored.raw");
    const get = custody("get", item.id, "--out", out);
    expect(get.status, get.stderr).toBe(0);
    expect(sha256sum(out)).toBe(item.id);
    expect(custody("check", item.id).status).toBe(0);
    expect(custody("acquire", image, "--case", "IR-18").status).toBe(5);
  });

  it("refuses a FIFO and an unknown compression with a usage-class exit and a clear code", () => {
    const fifo = join(work, "fifo");
    execFileSync("mkfifo", [fifo]);
    const run = custody("acquire", fifo, "--case", "IR-18");
    expect(run.status).toBe(2);
    expect(run.stderr).toContain("ERR_SOURCE_UNSUPPORTED");
    expect(custody("acquire", join(work, "disk.img"), "--case", "IR-18", "--compress", "xz").status).toBe(2);
    expect(custody("acquire", join(work, "disk.img"), "--case", "IR-18", "--hash", "md5").status).toBe(2);
    const vm = custody("acquire", "azure-vm", "--vm", "web-1", "--case", "IR-18");
    expect(vm.status).toBe(2);
    expect(vm.stderr).toContain("--subscription");
  });

  it.skipIf(loopUnavailable !== undefined)(
    `acquires a loop device, restored image attaches read-only ${loopUnavailable ?? ""}`,
    () => {
      const backing = join(work, "loop-backing.img");
      writeFileSync(backing, randomBytes(4 * 1024 * 1024));
      const device = lab.loop(backing);
      const run = custody("acquire", device, "--case", "IR-18-loop", "--json");
      expect(run.status, run.stderr).toBe(0);
      const item = JSON.parse(run.stdout);
      expect(item.id).toBe(sha256sum(backing));
      expect(item.image.source).toMatchObject({ kind: "block-device", path: device });
      const out = join(work, "loop-restored.raw");
      expect(custody("get", item.id, "--out", out).status).toBe(0);
      const attached = lab.loop(out);
      expect(sha256sum(attached)).toBe(item.id);
    },
  );
});
