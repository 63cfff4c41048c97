import { join } from "node:path";
import { toCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { listNames } from "./files.js";
import { activeUnits, scanUnits, unitPids } from "./systemd.js";

const COLUMNS = [
  "name",
  "manager",
  "enabled",
  "active",
  "pids",
  "description",
  "execStart",
  "user",
  "path",
  "target",
] as const;

export const linuxServices: Collector = {
  name: "Services",
  platform: "linux",
  volatilityRank: 3,
  source:
    "systemd unit files (/etc, /run, /usr/lib/systemd/system) with state from /run/systemd/units and cgroups; /etc/init.d with /etc/rc?.d links",
  async collect(ctx) {
    const active = await activeUnits(ctx);
    // /run/systemd/system exists only when systemd is the init: otherwise no unit runs under it.
    const booted = (await ctx.fs.lstat("/run/systemd/system")).kind === "stat";
    const rows: Record<(typeof COLUMNS)[number], string>[] = [];
    for (const unit of await scanUnits(ctx, [".service", ".socket"])) {
      const running = active.has(unit.name);
      rows.push({
        name: unit.name,
        manager: "systemd",
        enabled:
          unit.kind === "masked"
            ? "masked"
            : unit.enabledBy.length > 0
              ? "enabled"
              : unit.kind === "alias"
                ? "alias"
                : "disabled",
        active: !booted ? "unknown (systemd not running)" : running ? "active" : "inactive",
        pids: running ? await unitPids(ctx, unit.name) : "",
        description: unit.settings.get("Unit.Description") ?? "",
        execStart: unit.settings.get("Service.ExecStart") ?? unit.settings.get("Socket.ListenStream") ?? "",
        user: unit.settings.get("Service.User") ?? "",
        path: unit.path,
        target: unit.target,
      });
    }
    rows.push(...(await sysvServices(ctx)));
    await ctx.emit("Services.csv", toCsv(COLUMNS, rows), { source: this.source });
  },
};

async function sysvServices(ctx: CollectContext): Promise<Record<(typeof COLUMNS)[number], string>[]> {
  const scripts = (await listNames(ctx, "/etc/init.d")) ?? [];
  const startLinks = new Map<string, string[]>();
  for (const level of ["0", "1", "2", "3", "4", "5", "6", "S"]) {
    for (const link of (await listNames(ctx, `/etc/rc${level}.d`)) ?? []) {
      const match = /^S\d\d(.+)$/.exec(link);
      if (match?.[1] !== undefined) startLinks.set(match[1], [...(startLinks.get(match[1]) ?? []), level]);
    }
  }
  return scripts
    .filter((s) => s !== "README" && !s.startsWith("."))
    .map((s) => ({
      name: s,
      manager: "sysv",
      enabled: startLinks.has(s) ? `runlevels ${(startLinks.get(s) ?? []).join("")}` : "disabled",
      active: "",
      pids: "",
      description: "",
      execStart: join("/etc/init.d", s),
      user: "",
      path: join("/etc/init.d", s),
      target: "",
    }));
}
