import { join } from "node:path";
import { toCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { parseAnacrontab, parseCrontab } from "./cron.js";
import { COPIED_COLUMNS, type CopiedEntry, copyOne, listNames, rawPath } from "./files.js";
import { scanUnits, timerLastRun } from "./systemd.js";

export interface TaskRow {
  kind: string;
  source: string;
  schedule: string;
  user: string;
  command: string;
  enabled: string;
  lastRun: string;
}

export const TASK_COLUMNS = ["kind", "source", "schedule", "user", "command", "enabled", "lastRun"] as const;
const PERIODIC = ["hourly", "daily", "weekly", "monthly"];
const USER_SPOOLS = ["/var/spool/cron/crontabs", "/var/spool/cron/tabs", "/var/spool/cron"];
const AT_SPOOLS = ["/var/spool/cron/atjobs", "/var/spool/at"];

/** Cron, anacron and at: the tasks and the files they came from. */
export async function cronTasks(ctx: CollectContext): Promise<{ rows: TaskRow[]; files: string[] }> {
  const rows: TaskRow[] = [];
  const files: string[] = [];
  const add = async (
    path: string,
    parse: (text: string) => Omit<TaskRow, "source" | "enabled" | "lastRun" | "kind">[],
    kind: string,
  ) => {
    const text = await ctx.fs.readText(path, { maxBytes: 1024 * 1024 });
    if (text === undefined) return;
    files.push(path);
    for (const entry of parse(text)) rows.push({ kind, source: path, enabled: "yes", lastRun: "", ...entry });
  };
  await add("/etc/crontab", (t) => parseCrontab(t, { systemFormat: true }), "cron");
  for (const name of (await listNames(ctx, "/etc/cron.d")) ?? [])
    await add(join("/etc/cron.d", name), (t) => parseCrontab(t, { systemFormat: true }), "cron");
  for (const spool of USER_SPOOLS) {
    for (const name of (await listNames(ctx, spool)) ?? []) {
      if (["crontabs", "atjobs", "atspool", "tabs"].includes(name)) continue;
      await add(join(spool, name), (t) => parseCrontab(t, { systemFormat: false, owner: name }), "cron");
    }
  }
  await add("/etc/anacrontab", parseAnacrontab, "anacron");
  for (const period of PERIODIC) {
    const dir = `/etc/cron.${period}`;
    for (const name of (await listNames(ctx, dir)) ?? []) {
      rows.push({
        kind: "cron-periodic",
        source: join(dir, name),
        schedule: period,
        user: "root",
        command: join(dir, name),
        enabled: "yes",
        lastRun: "",
      });
      files.push(join(dir, name));
    }
  }
  for (const spool of AT_SPOOLS) {
    for (const name of (await listNames(ctx, spool)) ?? []) {
      if (name.startsWith(".")) continue;
      rows.push({
        kind: "at",
        source: join(spool, name),
        schedule: "at job",
        user: "",
        command: join(spool, name),
        enabled: "yes",
        lastRun: "",
      });
      files.push(join(spool, name));
    }
  }
  return { rows, files };
}

/** systemd timers with their schedule, the unit they start, enablement and last run. */
export async function timerTasks(ctx: CollectContext): Promise<TaskRow[]> {
  const rows: TaskRow[] = [];
  for (const unit of await scanUnits(ctx, [".timer"])) {
    const s = unit.settings;
    const schedule = [
      "OnCalendar",
      "OnBootSec",
      "OnStartupSec",
      "OnUnitActiveSec",
      "OnUnitInactiveSec",
      "OnActiveSec",
    ]
      .filter((k) => s.has(`Timer.${k}`))
      .map((k) => `${k}=${s.get(`Timer.${k}`)}`)
      .join(" ");
    rows.push({
      kind: "systemd-timer",
      source: unit.path,
      schedule,
      user: "",
      command: s.get("Timer.Unit") ?? unit.name.replace(/\.timer$/, ".service"),
      enabled: unit.kind === "masked" ? "masked" : unit.enabledBy.length > 0 ? "yes" : "no",
      lastRun: await timerLastRun(ctx, unit.name),
    });
  }
  return rows;
}

export const linuxScheduledTasks: Collector = {
  name: "ScheduledTasks",
  platform: "linux",
  volatilityRank: 4,
  source:
    "/etc/crontab, /etc/cron.d, /etc/cron.{hourly,daily,weekly,monthly}, /var/spool/cron, /etc/anacrontab, at spools, systemd *.timer units",
  async collect(ctx) {
    const cron = await cronTasks(ctx);
    const rows = [...cron.rows, ...(await timerTasks(ctx))];
    await ctx.emit("ScheduledTasks.csv", toCsv(TASK_COLUMNS, rows), { source: this.source });
    const copied: CopiedEntry[] = [];
    for (const file of cron.files) copied.push(await copyOne(ctx, rawPath(file), file));
    for (const row of rows.filter((r) => r.kind === "systemd-timer"))
      copied.push(await copyOne(ctx, rawPath(row.source), row.source));
    await ctx.emit("CopiedFiles.csv", toCsv(COPIED_COLUMNS, copied), { source: "this collector" });
  },
};
