import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdir, mkdtemp, readFile, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AccessPolicyStore } from "@custody/access";
import { openFileAuditLog, verifyAuditLog } from "@custody/audit";
import { FsEvidenceStore } from "@custody/store";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, type TestPki } from "../packages/audit/test/fixtures.js";

// A power cut, not a crash: SIGKILL of a writer keeps everything it wrote in the page cache, so it can
// never show a missing fsync. Here the writer works on a filesystem that drops, at the cut, every byte
// and directory entry that was not flushed (power-loss/volatile_fs.py); what survives is rebuilt and
// opened. Every object, record and policy version the writer acknowledged must be there, whole.
const PYTHON = "/usr/bin/python3";
const VOLATILE_FS = fileURLToPath(new URL("./power-loss/volatile_fs.py", import.meta.url));
const packages = fileURLToPath(new URL("../packages/", import.meta.url));
const HERE = fileURLToPath(new URL("./power-loss/", import.meta.url));
/** Runs a writer on the TypeScript sources, as the tests do (the hooks map @custody/x to its src/). */
const SOURCES = [
  "--experimental-transform-types",
  "--no-warnings",
  "--import",
  join(packages, "access/test/fixtures/ts-hooks.mjs"),
];

const fuseReady =
  process.platform === "linux" &&
  process.getuid?.() === 0 &&
  existsSync("/dev/fuse") &&
  spawnSync(PYTHON, ["-c", "import fusepy"]).status === 0;

const live = new Set<ChildProcess>();
let work: string;
let pki: TestPki;

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "custody-power-"));
  pki = await createTestPki();
});

afterAll(async () => {
  for (const child of live) child.kill("SIGKILL");
  await rm(work, { recursive: true, force: true });
});

interface Cut {
  /** Every line the writer printed: each one a promise that something is durable. */
  acks: string[];
  /** The writer's folder as a reboot after the cut finds it. */
  after: string;
}

/**
 * Mounts a volatile filesystem, runs `writer` on a folder inside it until it has acknowledged `acks`
 * things, then cuts the power (SIGKILL of the filesystem, then of the writer) and rebuilds what survived.
 */
async function runUntilPowerCut(
  name: string,
  acks: number,
  prepare: (dir: string) => Promise<void>,
  writer: (dir: string) => string[],
): Promise<Cut> {
  const base = join(work, name);
  const [liveDir, durable, mount] = ["live", "durable", "mnt"].map((sub) => join(base, sub)) as [
    string,
    string,
    string,
  ];
  for (const dir of [liveDir, durable, mount]) await mkdir(dir, { recursive: true });
  await prepare(join(liveDir, "data"));
  const fs = start(PYTHON, [VOLATILE_FS, "mount", liveDir, durable, mount]);
  try {
    await fs.line((line) => line === "mounted");
    const run = start(process.execPath, writer(join(mount, "data")));
    await run.line(() => run.lines.length >= acks);
    fs.child.kill("SIGKILL");
    run.child.kill("SIGKILL");
    await Promise.all([fs.exit, run.exit]);
    const after = join(base, "after");
    const rebuilt = spawnSync(PYTHON, [VOLATILE_FS, "materialize", durable, after], { encoding: "utf8" });
    expect(rebuilt.status, rebuilt.stderr).toBe(0);
    return { acks: run.lines, after: join(after, "data") };
  } finally {
    spawnSync("umount", ["-l", mount]);
  }
}

function start(command: string, args: string[]) {
  const child = spawn(command, args, { stdio: ["ignore", "pipe", "pipe"] });
  live.add(child);
  const lines: string[] = [];
  const waiters: { test: (line: string) => boolean; resolve: () => void }[] = [];
  let partial = "";
  let stderr = "";
  child.stdout.setEncoding("utf8").on("data", (text: string) => {
    const split = (partial + text).split("\n");
    partial = split.pop() ?? "";
    for (const line of split) {
      lines.push(line);
      for (const waiter of [...waiters]) {
        if (!waiter.test(line)) continue;
        waiters.splice(waiters.indexOf(waiter), 1);
        waiter.resolve();
      }
    }
  });
  child.stderr.setEncoding("utf8").on("data", (text: string) => {
    stderr += text;
  });
  let ended = "";
  const exit = new Promise<void>((resolve) =>
    child.once("exit", (code, signal) => {
      ended = signal === null ? `exit code ${code}` : `signal ${signal}`;
      live.delete(child);
      resolve();
    }),
  );
  /** Resolves at the first line that passes `test`; rejects if the process ends first. */
  const line = (test: (line: string) => boolean) =>
    new Promise<void>((resolve, reject) => {
      if (lines.some(test)) return resolve();
      waiters.push({ test, resolve });
      exit.then(() => reject(new Error(`${command} ended (${ended}) before the awaited line: ${stderr}`)));
    });
  return { child, lines, exit, line };
}

/** Runs a flooding audit writer until `acks` appends were acknowledged, cuts the power, checks the log. */
async function auditSurvivesPowerCut(acks: number, mode: "flood" | "flood-blocking"): Promise<void> {
  const keyFile = join(work, `signer-${mode}-${acks}.key`);
  const certFile = join(work, `signer-${mode}-${acks}.pem`);
  await writeFile(keyFile, pki.leaf.keyPem, { mode: 0o600 });
  await writeFile(certFile, pki.leaf.certificatePem);
  const child = join(packages, "audit/test/child");
  const cut = await runUntilPowerCut(
    `audit-${mode}-${acks}`,
    acks,
    async () => {},
    (dir) => [
      ...["--experimental-transform-types", "--no-warnings", "--import", join(child, "register.mjs")],
      ...[join(child, "appender.ts"), dir, keyFile, certFile, mode, "5"],
    ],
  );
  const acked = cut.acks.map((line) => line.split(" ")).filter(([seq, hash]) => seq && hash);
  expect(acked.length).toBeGreaterThanOrEqual(acks);
  const log = await openFileAuditLog({ dir: cut.after, signer: pki.signer });
  const hashes = new Map<number, string>();
  for await (const record of log.read()) hashes.set(record.seq, record.hash);
  await log.close();
  for (const [seq, hash] of acked) expect(hashes.get(Number(seq)), `record ${seq}`).toBe(hash);
  const report = await verifyAuditLog({ dir: cut.after }, { trust: pki.trust });
  expect(report.problem).toBeUndefined();
}

describe.skipIf(!fuseReady)("power cuts (needs root, /dev/fuse and Debian's python3-fusepy)", () => {
  it.each([2, 9, 23])(
    "the evidence store keeps every acknowledged object whole (cut after %i)",
    async (acks) => {
      const cut = await runUntilPowerCut(
        `store-${acks}`,
        acks,
        async () => {},
        (dir) => [join(packages, "store/test/fixtures/crash-writer.mjs"), dir, "0"],
      );
      const created = cut.acks.filter((l) => l.startsWith("created ")).map((l) => l.slice(8));
      const deleting = new Set(cut.acks.filter((l) => l.startsWith("deleting ")).map((l) => l.slice(9)));
      expect(created.length).toBeGreaterThanOrEqual(1);
      const store = await FsEvidenceStore.open(cut.after);
      const present = new Set<string>();
      for await (const object of store.list()) present.add(object.key);
      for (const key of created) if (!deleting.has(key)) expect(present.has(key), key).toBe(true);
      // Whatever is listed, acknowledged or not, must be whole: nothing half-written looks complete.
      const kinds: string[] = [];
      for await (const result of store.verify()) kinds.push(`${result.key} ${result.kind}`);
      expect(kinds.length).toBe(present.size);
      expect(kinds.filter((k) => !k.endsWith(" ok"))).toEqual([]);
    },
  );

  it.each([3, 17])(
    "the audit log keeps every acknowledged record and verifies (cut after %i)",
    async (acks) => auditSurvivesPowerCut(acks, "flood"),
  );

  it.each([9])(
    "with blockingWrites, the audit log keeps every acknowledged record and verifies (cut after %i)",
    async (acks) => auditSurvivesPowerCut(acks, "flood-blocking"),
  );

  it.each([2, 12])("the access policy keeps every acknowledged version (cut after %i)", async (acks) => {
    const cut = await runUntilPowerCut(
      `policy-${acks}`,
      acks,
      async () => {},
      (dir) => [...SOURCES, join(HERE, "policy-writer.mjs"), dir],
    );
    const written = new Map(cut.acks.map((line) => line.split(" ") as [string, string]));
    expect(written.size).toBeGreaterThanOrEqual(acks);
    const history = await (await AccessPolicyStore.open(cut.after)).history();
    const granted = new Map(
      history.map((p) => [
        String(p.version),
        p.event.change?.kind === "grant" ? p.event.change.principal : "",
      ]),
    );
    for (const [version, principal] of written)
      expect(granted.get(version), `version ${version}`).toBe(principal);
  });

  it.each([4, 13])(
    "a vault keeps every acknowledged item and hold, and its log verifies (cut after %i)",
    async (acks) => {
      const outside = join(work, `vault-${acks}-outside`);
      await mkdir(outside);
      const cut = await runUntilPowerCut(
        `vault-${acks}`,
        acks,
        async () => {},
        (dir) => [...SOURCES, join(HERE, "vault-writer.mjs"), dir, outside],
      );
      const ingested = cut.acks.filter((l) => l.startsWith("ingested ")).map((l) => l.slice(9));
      const held = cut.acks.filter((l) => l.startsWith("held ")).map((l) => l.slice(5));
      expect(ingested.length).toBeGreaterThanOrEqual(1);
      const vault = await Vault.open({ dir: cut.after });
      try {
        const alice = vault.authenticate(await readFile(join(outside, "alice.pem"), "utf8"));
        const listed = new Map((await vault.list(alice, { caseId: "POWER" })).map((item) => [item.id, item]));
        for (const id of ingested) expect(listed.has(id), `item ${id}`).toBe(true);
        for (const id of held) expect(listed.get(id)?.legalHold, `hold on ${id}`).toBe(true);
        expect((await vault.check(alice)).filter((result) => !result.ok)).toEqual([]);
        expect((await vault.verifyAudit(alice)).problem).toBeUndefined();
      } finally {
        await vault.close();
      }
    },
  );
});

// The filesystem itself must lose what was not flushed, or the tests above prove nothing.
describe.skipIf(!fuseReady)("the volatile filesystem (needs root, /dev/fuse and python3-fusepy)", () => {
  it("drops unflushed bytes and unflushed directory entries at the cut, keeps flushed ones", async () => {
    const cut = await runUntilPowerCut(
      "self-test",
      1,
      async (dir) => void (await mkdir(dir)),
      (dir) => [fileURLToPath(new URL("./power-loss/flush-probe.cjs", import.meta.url)), dir],
    );
    expect(cut.acks).toEqual(["done"]);
    expect(await readFile(join(cut.after, "synced"), "utf8")).toBe("kept");
    expect(await readFile(join(cut.after, "unsynced"), "utf8")).toBe("");
    expect(existsSync(join(cut.after, "late"))).toBe(false);
  });
});
