import { mkdirSync, rmSync, symlinkSync, writeFileSync } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { RowFormat } from "../src/linux/row-format.js";
import { walk } from "../src/linux/temp.js";
import { Share, WalkPool } from "../src/linux/temp-pool.js";
import type { WalkContext } from "../src/linux/temp-walk.js";
import { type FromWorker, serveListings } from "../src/linux/temp-worker.js";
import { SafeDir } from "../src/safe-fs.js";

const linux = process.platform === "linux";
const sleep = (ms: number) => new Promise((resolve) => setTimeout(resolve, ms));
const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

const OWNERS: [number, string][] = [[process.getuid?.() ?? 0, "me, myself"]];
const owner = (uid: number) => new Map(OWNERS).get(uid) ?? String(uid);

// Names that take every path of the row writer: quotes, commas, CR/LF, tabs, formula-like, backslashes,
// non-ASCII, bytes that are not UTF-8 (Buffer paths), and a long one.
const ODD = [
  'q"uote',
  "com,ma",
  "new\nline",
  "cr\rlf",
  "\ttab",
  "=formula",
  "back\\slash",
  "ünï-日本",
  "x".repeat(200),
];

/** Twelve top-level folders (so the worker gets some), nested, odd names in each; the root path. */
async function oddTree(): Promise<string> {
  const root = await mkdtemp(join(tmpdir(), "collect-parallel-"));
  dirs.push(root);
  for (let d = 0; d < 12; d++) {
    const top = join(root, d % 3 === 0 ? `${ODD[d % ODD.length]}-${d}` : `dir-${d}`);
    const inner = join(top, `inner ${d}`, "deeper");
    mkdirSync(inner, { recursive: true });
    for (const [i, name] of ODD.entries())
      writeFileSync(join(d % 2 ? inner : top, `${name}-${i}`), "x".repeat(i));
    for (let f = 0; f < 40 * d; f++) writeFileSync(join(top, `file-${f}`), "");
    writeFileSync(Buffer.from(`${top}/not-utf8-\xff\xfe`, "latin1"), "x");
    symlinkSync("/etc/shadow", join(top, "link"));
  }
  return root;
}

function context(maxListEntries = Number.MAX_SAFE_INTEGER) {
  const problems: string[] = [];
  const ctx: WalkContext = {
    abortSignal: new AbortController().signal,
    limits: { maxListEntries },
    problem: (source, code, reason) => problems.push(`${source} ${code} ${reason}`),
  };
  return { ctx, problems };
}

/**
 * The listing of `root` as walk() writes it, with or without a second thread. (Listing a folder may set
 * its access time once, relatime: compare listings after a first one.)
 */
async function listed(root: string, pool?: WalkPool, maxListEntries?: number) {
  const top = await SafeDir.openTrusted(root);
  if (!(top instanceof SafeDir)) throw new Error("no folder");
  const { ctx, problems } = context(maxListEntries);
  const budget = { left: ctx.limits.maxListEntries };
  const chunks: Buffer[] = [];
  try {
    for await (const chunk of walk(ctx, top, "/tmp", new RowFormat(owner), budget, pool)) chunks.push(chunk);
  } finally {
    await top.close();
  }
  return { bytes: Buffer.concat(chunks), problems, left: budget.left };
}

describe.runIf(linux)("TempDirectories listing on two threads", () => {
  test("the listing shared with a worker thread is byte for byte the one-thread listing, odd names included", async () => {
    const root = await oddTree();
    const pool = new WalkPool(OWNERS);
    try {
      await pool.ready();
      await listed(root);
      const alone = await listed(root);
      const shared = await listed(root, pool);
      expect(pool.treesFromWorker).toBeGreaterThan(0);
      expect(shared.bytes.equals(alone.bytes)).toBe(true);
      expect(shared.problems).toEqual(alone.problems);
      expect(shared.left).toBe(alone.left);
      expect(alone.bytes.toString()).toContain('"/tmp/dir-1/inner 1/deeper/new\nline-2"');
    } finally {
      await pool.close();
    }
  });

  test("an entry budget cuts the shared listing where one thread would, in the worker's sub-trees too", async () => {
    const root = await oddTree();
    const pool = new WalkPool(OWNERS);
    try {
      await pool.ready();
      const all = await listed(root);
      const entries = all.bytes.toString().split("\r\n").length - 2;
      const before = pool.treesFromWorker;
      for (let max = 150; max < entries; max += 350) {
        const alone = await listed(root, undefined, max);
        const shared = await listed(root, pool, max);
        expect(shared.bytes.equals(alone.bytes)).toBe(true);
        expect(shared.problems).toEqual(alone.problems);
        expect(shared.problems.filter((p) => p.includes("ERR_SIZE_LIMIT"))).toHaveLength(1);
      }
      expect(pool.treesFromWorker).toBeGreaterThan(before);
    } finally {
      await pool.close();
    }
  });

  test("a sub-folder that vanishes before the worker opens it is left out, like find does", async () => {
    const root = await oddTree();
    const top = await SafeDir.openTrusted(root);
    if (!(top instanceof SafeDir) || top.descriptor === undefined) throw new Error("no folder");
    const names = ["dir-1", "dir-2", "gone", "dir-4"];
    const posted: FromWorker[] = [];
    const finished = new Promise<void>((resolve) => {
      const serve = serveListings(OWNERS, (message) => {
        posted.push(message);
        if (message.kind === "done") resolve();
      });
      const counters = new SharedArrayBuffer(8);
      new Int32Array(counters)[0] = 1; // the first is the main thread's
      const { dev, ino } = top;
      const fd = top.descriptor ?? -1;
      serve({
        kind: "share",
        id: 7,
        fd,
        path: "/tmp",
        prefix: "/tmp/",
        dev,
        ino,
        names,
        counters,
        capBytes: 1 << 30,
      });
    });
    await finished;
    await top.close();
    const trees = posted.flatMap((m) => (m.kind === "tree" ? [m] : []));
    expect(trees.map((t) => t.index)).toEqual([1, 2, 3]);
    expect(trees.find((t) => t.index === 2)).toMatchObject({ entries: 0, chunks: [], problems: [] });
    const text = Buffer.concat(trees.find((t) => t.index === 1)?.chunks ?? []).toString();
    expect(trees.map((t) => t.problems)).toEqual([[], [], []]);
    expect(text.startsWith("/tmp/dir-2/")).toBe(true);
    expect(posted.at(-1)).toEqual({ kind: "done", id: 7 });
  });

  test("the worker takes no new sub-tree while the main thread has its cap of rows still to take in", async () => {
    const root = await oddTree();
    const top = await SafeDir.openTrusted(root);
    if (!(top instanceof SafeDir)) throw new Error("no folder");
    const names = ["dir-1", "dir-2", "dir-4", "dir-5"];
    const counters = new Int32Array(new SharedArrayBuffer(8));
    const trees: number[] = [];
    let finished = false;
    const serve = serveListings(OWNERS, (message) => {
      if (message.kind === "tree") trees.push(message.index);
      if (message.kind === "done") finished = true;
    });
    const { dev, ino } = top;
    const fd = top.descriptor ?? -1;
    const share = { kind: "share", id: 1, fd, path: "/tmp", prefix: "/tmp/", dev, ino, names } as const;
    serve({ ...share, counters: counters.buffer as SharedArrayBuffer, capBytes: 1 });
    // Until `count` sub-trees have come (or 10 s), then a while longer: no more may come meanwhile.
    const settle = async (count: number) => {
      for (let waited = 0; trees.length < count && waited < 10_000; waited += 20) await sleep(20);
      await sleep(150);
    };
    try {
      await settle(1);
      expect(trees).toEqual([0]);
      // The main thread took sub-trees 0 and 1 in (1 being its own): the worker goes on, one at a time.
      Atomics.store(counters, 0, 2);
      Atomics.store(counters, 1, 2);
      await settle(2);
      expect(trees).toEqual([0, 2]);
      Atomics.store(counters, 1, 3);
      await settle(3);
      expect(trees).toEqual([0, 2, 3]);
      Atomics.store(counters, 1, 4);
      for (let waited = 0; !finished && waited < 10_000; waited += 20) await sleep(20);
      expect(finished).toBe(true);
    } finally {
      serve({ kind: "stop", id: 1 });
      await top.close();
    }
  });

  test("an abort does not wait for the worker's sub-tree to end", async () => {
    const share = new Share(() => undefined);
    const abort = new AbortController();
    const waiting = share.result(0, abort.signal);
    setTimeout(() => abort.abort(), 10);
    await expect(waiting).resolves.toBeUndefined();
    await expect(share.result(1, abort.signal)).resolves.toBeUndefined();
  });

  test("a folder removed while the listing runs is left out, the rest listed", async () => {
    const root = await oddTree();
    const top = await SafeDir.openTrusted(root);
    if (!(top instanceof SafeDir)) throw new Error("no folder");
    const { ctx, problems } = context();
    const chunks: Buffer[] = [];
    try {
      for await (const chunk of walk(ctx, top, "/tmp", new RowFormat(owner), { left: 1e9 })) {
        // After the first chunk (the top folder and the first sub-trees), a later sub-tree goes.
        if (chunks.length === 0) rmSync(join(root, "dir-8"), { recursive: true });
        chunks.push(chunk);
      }
    } finally {
      await top.close();
    }
    const text = Buffer.concat(chunks).toString();
    expect(text).toContain("/tmp/dir-8,dir,");
    expect(text).not.toContain("/tmp/dir-8/");
    expect(text).toContain("/tmp/dir-11/file-439,");
    expect(problems).toEqual([]);
  });

  test("a descriptor that no longer holds the folder is refused, never listed", async () => {
    const root = await oddTree();
    const top = await SafeDir.openTrusted(root);
    const other = await SafeDir.openTrusted(join(root, "dir-1"));
    if (!(top instanceof SafeDir) || !(other instanceof SafeDir)) throw new Error("no folder");
    try {
      const reopened = SafeDir.openDescriptorNow(other.descriptor ?? -1, "/tmp", top.dev, top.ino);
      expect(reopened).toMatchObject({ kind: "refused", code: "ERR_CONFLICT" });
    } finally {
      await top.close();
      await other.close();
    }
  });
});
