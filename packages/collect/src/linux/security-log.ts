import type { FileHandle } from "node:fs/promises";
import { toCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { readAccounts } from "./accounts.js";
import {
  COPIED_COLUMNS,
  type CopiedEntry,
  copyDir,
  copyOne,
  listNames,
  nothingPresent,
  rawPath,
} from "./files.js";
import { LASTLOG_RECORD_BYTES, parseLastlogRecord, parseUtmp, UTMP_RECORD_BYTES } from "./utmp.js";

const UTMP_COLUMNS = ["type", "pid", "line", "id", "user", "host", "time", "address"] as const;
const TEXT_LOG = /^(auth\.log|secure|faillog|sudo\.log)(\.\d+)?(\.gz)?$/;

export const linuxSecurityEventLog: Collector = {
  name: "SecurityEventLog",
  platform: "linux",
  volatilityRank: 5,
  source:
    "/var/log/{auth.log*,secure*}; /var/log/{wtmp,btmp,lastlog} parsed and copied; /run/utmp; journald files under /var/log/journal and /run/log/journal (raw, within caps)",
  async collect(ctx) {
    const copied: CopiedEntry[] = [];
    for (const name of (await listNames(ctx, "/var/log")) ?? []) {
      if (TEXT_LOG.test(name))
        copied.push(await copyOne(ctx, rawPath(`/var/log/${name}`), `/var/log/${name}`));
    }
    for (const [name, path] of [
      ["wtmp", "/var/log/wtmp"],
      ["btmp", "/var/log/btmp"],
      ["utmp", "/run/utmp"],
    ] as const) {
      if (await loginRecords(ctx, name, path)) copied.push(await copyOne(ctx, rawPath(path), path));
    }
    if (await lastlog(ctx))
      copied.push({
        source: "/var/log/lastlog",
        kind: "file",
        target: "Lastlog.csv",
        status: "parsed (sparse file not copied)",
        bytes: 0,
      });
    // Persistent journal first, then the volatile one in /run (lost at reboot, so it matters most).
    for (const root of ["/var/log/journal", "/run/log/journal"]) {
      for (const machine of (await listNames(ctx, root)) ?? []) {
        const dir = `${root}/${machine}`;
        const isJournal = (n: string) => n.endsWith(".journal") || n.endsWith(".journal~");
        copied.push(...(await copyDir(ctx, rawPath(dir), dir, isJournal, { scope: root })));
      }
    }
    const present = copied.filter((c) => c.status !== "absent");
    if (present.length === 0) nothingPresent(ctx, "auth logs, login records and journal");
    await ctx.emit("CopiedFiles.csv", toCsv(COPIED_COLUMNS, present), { source: "this collector" });
  },
};

/** Parses a utmp-format file to CSV; false when absent. */
async function loginRecords(ctx: CollectContext, name: string, path: string): Promise<boolean> {
  const buf = await readCapped(ctx, path, 64 * 1024 * 1024);
  if (buf === undefined) return false;
  const { rows, trailingBytes } = parseUtmp(buf);
  if (trailingBytes > 0)
    ctx.problem(
      path,
      "ERR_IO",
      `${trailingBytes} trailing bytes are not a whole ${UTMP_RECORD_BYTES}-byte record`,
    );
  await ctx.emit(`${name[0]?.toUpperCase()}${name.slice(1)}.csv`, toCsv(UTMP_COLUMNS, rows), {
    source: path,
  });
  return true;
}

/** lastlog is sparse (indexed by uid up to 2^32): read only the records of known users. */
async function lastlog(ctx: CollectContext): Promise<boolean> {
  const opened = await ctx.fs.openFile("/var/log/lastlog");
  if (opened.kind !== "open") return false;
  const handle = opened.handle;
  try {
    const accounts = await readAccounts(ctx);
    const rows = [];
    const buf = Buffer.alloc(LASTLOG_RECORD_BYTES);
    for (const user of accounts.users) {
      const { bytesRead } = await handle.read(buf, 0, LASTLOG_RECORD_BYTES, user.uid * LASTLOG_RECORD_BYTES);
      const row = bytesRead === LASTLOG_RECORD_BYTES ? parseLastlogRecord(user.uid, buf) : undefined;
      if (row) rows.push({ user: user.user, ...row });
    }
    await ctx.emit("Lastlog.csv", toCsv(["user", "uid", "time", "line", "host"], rows), {
      source: "/var/log/lastlog",
    });
    return true;
  } finally {
    await handle.close();
  }
}

async function readCapped(ctx: CollectContext, path: string, maxBytes: number): Promise<Buffer | undefined> {
  const opened = await ctx.fs.openFile(path);
  if (opened.kind !== "open") return undefined;
  try {
    return await readStart(ctx, path, opened.handle, maxBytes);
  } catch (error) {
    ctx.problem(path, "ERR_IO", error instanceof Error ? error.message : String(error));
    return undefined;
  } finally {
    await opened.handle.close();
  }
}

async function readStart(ctx: CollectContext, path: string, handle: FileHandle, maxBytes: number) {
  const size = Math.min((await handle.stat()).size, maxBytes);
  const buf = Buffer.alloc(size);
  const { bytesRead } = await handle.read(buf, 0, size, 0);
  if ((await handle.stat()).size > maxBytes)
    ctx.problem(path, "ERR_SIZE_LIMIT", `parsed the first ${maxBytes} bytes`);
  return buf.subarray(0, bytesRead);
}
