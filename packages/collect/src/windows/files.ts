import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { captureTool } from "../command.js";
import { toCsv } from "../csv.js";
import { segment } from "../linux/accounts.js";
import { COPIED_COLUMNS, type CopiedEntry, copyDir, copyOne, listNames } from "../linux/files.js";
import { listing } from "../linux/temp.js";
import type { Collector } from "../types.js";

const systemRoot = (): string => process.env.SystemRoot ?? "C:\\Windows";
const usersRoot = (): string => join(process.env.SystemDrive ?? "C:", "\\Users");

/** Windows data points read from files rather than commands: event log export, prefetch, temp listings. */
export function windowsFileCollectors(): Collector[] {
  return [
    {
      name: "TempDirectories",
      platform: "win32",
      volatilityRank: 2,
      source: "listing of %LOCALAPPDATA%\\Temp per user profile and %SystemRoot%\\Temp (never contents)",
      async collect(ctx) {
        const budget = { left: ctx.limits.maxListEntries };
        const owner = () => "";
        await listing(ctx, "SystemTemp.csv", join(systemRoot(), "Temp"), owner, budget);
        for (const user of (await listNames(ctx, usersRoot())) ?? []) {
          await listing(
            ctx,
            `Users/${segment(user)}.csv`,
            join(usersRoot(), user, "AppData", "Local", "Temp"),
            owner,
            budget,
          );
        }
      },
    },
    {
      name: "Prefetch",
      platform: "win32",
      volatilityRank: 5,
      source: "%SystemRoot%\\Prefetch\\*.pf copied, with PrefetchFilesList",
      async collect(ctx) {
        const copied = await copyDir(ctx, "Prefetch", join(systemRoot(), "Prefetch"), (n) =>
          n.toLowerCase().endsWith(".pf"),
        );
        await ctx.emit("PrefetchFilesList.csv", toCsv(COPIED_COLUMNS, copied), { source: "this collector" });
      },
    },
    {
      name: "SecurityEventLog",
      platform: "win32",
      volatilityRank: 5,
      source: "wevtutil epl Security",
      async collect(ctx) {
        // wevtutil can only export to a file: the one place collection goes through a temp copy,
        // removed as soon as it is in the package.
        const dir = await mkdtemp(join(tmpdir(), "custody-evtx-"));
        try {
          const target = join(dir, "Security.evtx");
          await captureTool(ctx, "wevtutil-output.txt", "wevtutil", ["epl", "Security", target]);
          const copied: CopiedEntry = await copyOne(ctx, "Security.evtx", target);
          if (copied.status !== "copied")
            ctx.problem(target, "ERR_COLLECT_FAILED", `export ${copied.status}`);
        } finally {
          await rm(dir, { recursive: true, force: true });
        }
      },
    },
  ];
}
