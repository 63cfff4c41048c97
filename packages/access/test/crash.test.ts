import { type ChildProcess, spawn } from "node:child_process";
import { mkdtemp, readdir, rm, truncate } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { AccessPolicyStore } from "@custody/access";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const fixtures = fileURLToPath(new URL("./fixtures/", import.meta.url));
let root: string;

beforeAll(async () => {
  root = await mkdtemp(join(tmpdir(), "custody-access-crash-"));
});
const running = new Set<ChildProcess>();
afterAll(async () => {
  for (const child of running) child.kill("SIGKILL");
  await rm(root, { recursive: true, force: true });
});

interface Killed {
  /** The highest version the writer reported durable. */
  durable: number;
  /** Each reported version and the principal it granted. */
  written: Map<number, string>;
}

/** Runs a writer until it has reported `atLeast` durable versions plus a moment, then SIGKILLs it. */
function writeThenKill(dir: string, atLeast: number, extraMs: number, prefix = "p"): Promise<Killed> {
  return new Promise((resolve, reject) => {
    const args = [
      "--import",
      join(fixtures, "ts-hooks.mjs"),
      join(fixtures, "crash-writer.mjs"),
      dir,
      prefix,
    ];
    const child = spawn(process.execPath, args, { stdio: ["ignore", "pipe", "pipe"] });
    running.add(child);
    const written = new Map<number, string>();
    let stderr = "";
    let killing = false;
    child.stderr.setEncoding("utf8").on("data", (chunk: string) => {
      stderr += chunk;
    });
    child.stdout.setEncoding("utf8").on("data", (chunk: string) => {
      for (const line of chunk.split("\n")) {
        const [version, principal] = line.split(" ");
        if (version !== undefined && principal !== undefined) written.set(Number(version), principal);
      }
      if (written.size >= atLeast && !killing) {
        killing = true;
        setTimeout(() => child.kill("SIGKILL"), extraMs);
      }
    });
    child.on("error", reject);
    child.on("exit", (_code, signal) => {
      running.delete(child);
      const durable = Math.max(0, ...written.keys());
      if (signal === "SIGKILL") resolve({ durable, written });
      else reject(new Error(`writer exited on its own: ${stderr}`));
    });
  });
}

describe("a writer killed mid-write", () => {
  it.each([
    [3, 0],
    [5, 3],
    [8, 7],
    [4, 11],
  ])("leaves a loadable history (after %i versions + %i ms)", async (atLeast, extraMs) => {
    const dir = join(root, `${atLeast}-${extraMs}`);
    await AccessPolicyStore.init(dir, "alice");
    const { durable } = await writeThenKill(dir, atLeast, extraMs);
    const store = await AccessPolicyStore.open(dir);
    // Everything reported durable survived; at most a temp file of the write in flight is left over.
    expect(store.version).toBeGreaterThanOrEqual(durable);
    expect((await store.history()).map((p) => p.version)).toEqual(
      Array.from({ length: store.version }, (_, i) => i + 1),
    );
    const next = await store.apply(
      { kind: "grant", principal: "after", role: "analyst", scope: "*" },
      { id: "alice", kind: "person" },
    );
    expect(next.version).toBe(store.version);
    const names = (await readdir(dir)).filter((name) => !name.endsWith(".tmp"));
    expect(names).toHaveLength(next.version);
  });

  it("loses no write when two processes race, each retrying on ERR_CONFLICT", async () => {
    const dir = join(root, "race");
    await AccessPolicyStore.init(dir, "alice");
    const [a, b] = await Promise.all([writeThenKill(dir, 6, 5, "a"), writeThenKill(dir, 6, 5, "b")]);
    const history = await (await AccessPolicyStore.open(dir)).history();
    const granted = new Map(
      history.map((p) => [p.version, p.event.change?.kind === "grant" ? p.event.change.principal : ""]),
    );
    // Every version a writer was told it wrote holds that writer's grant: nothing overwritten.
    for (const [version, principal] of [...a.written, ...b.written])
      expect(granted.get(version)).toBe(principal);
  });

  it("refuses a torn version file rather than guessing", async () => {
    const dir = join(root, "torn");
    const store = await AccessPolicyStore.init(dir, "alice");
    await store.apply(
      { kind: "grant", principal: "ivan", role: "analyst", scope: "*" },
      { id: "alice", kind: "person" },
    );
    await truncate(join(dir, "000002.json"), 40);
    await expect(AccessPolicyStore.open(dir)).rejects.toMatchObject({ code: "ERR_POLICY_INVALID" });
  });
});
