import { join } from "node:path";
import { toCsv } from "../csv.js";
import type { CollectContext, Collector } from "../types.js";
import { type PasswdEntry, readAccounts, segment, usersWithHomes } from "./accounts.js";
import { type CopiedEntry, copyDir, copyOne, listNames, rawPath } from "./files.js";
import { cronTasks, timerTasks } from "./scheduled.js";
import { scanUnits } from "./systemd.js";

interface AutorunRow {
  location: string;
  kind: string;
  entry: string;
  enabled: string;
  detail: string;
  copy: string;
}

const COLUMNS = ["location", "kind", "entry", "enabled", "detail", "copy"] as const;
const SYSTEM_FILES = [
  "/etc/ld.so.preload",
  "/etc/rc.local",
  "/etc/profile",
  "/etc/bash.bashrc",
  "/etc/bashrc",
  "/etc/zsh/zshrc",
  "/etc/zshenv",
  "/etc/environment",
  "/etc/modules",
  "/etc/inittab",
  "/etc/ld.so.conf",
  "/etc/ssh/sshd_config",
];
const SYSTEM_DIRS = [
  "/etc/profile.d",
  "/etc/modules-load.d",
  "/usr/lib/modules-load.d",
  "/etc/modprobe.d",
  "/etc/udev/rules.d",
  "/etc/xdg/autostart",
  "/etc/init.d",
  "/etc/update-motd.d",
  "/etc/ld.so.conf.d",
  "/etc/ssh/sshd_config.d",
  // PAM modules and stacks: a classic place for credential-stealing or backdoor modules.
  "/etc/pam.d",
  "/etc/systemd/system-generators",
  "/etc/NetworkManager/dispatcher.d",
];
const USER_FILES = [
  ".bashrc",
  ".bash_profile",
  ".bash_login",
  ".bash_logout",
  ".profile",
  ".zshrc",
  ".zshenv",
  ".zprofile",
  ".zlogin",
  ".config/fish/config.fish",
  ".ssh/authorized_keys",
  ".ssh/authorized_keys2",
  ".ssh/rc",
  ".xinitrc",
  ".xprofile",
  ".pam_environment",
];

export const linuxAutoruns: Collector = {
  name: "Autoruns",
  platform: "linux",
  volatilityRank: 5,
  source:
    "systemd units and enablement links, SysV init scripts, cron/anacron/at, shell init files, /etc/ld.so.preload and ld.so.conf.d, modules-load.d, modprobe.d, udev rules, PAM, sshd_config, ~/.ssh/authorized_keys per user",
  async collect(ctx) {
    const rows: AutorunRow[] = [];
    const record = (location: string, kind: string, copied: CopiedEntry, enabled = "yes", detail = "") => {
      if (copied.status === "absent") return;
      rows.push({
        location,
        kind,
        entry: copied.source,
        enabled,
        detail: detail || copied.target,
        copy: copied.status,
      });
    };
    for (const file of SYSTEM_FILES) record(file, "system-file", await copyOne(ctx, rawPath(file), file));
    for (const dir of SYSTEM_DIRS) {
      for (const copied of await copyDir(ctx, rawPath(dir), dir)) record(dir, "system-dir", copied);
    }
    await systemdUnits(ctx, rows);
    const cron = await cronTasks(ctx);
    for (const task of [...cron.rows, ...(await timerTasks(ctx))]) {
      rows.push({
        location: task.source,
        kind: task.kind,
        entry: task.command,
        enabled: task.enabled,
        detail: `${task.schedule} ${task.user}`.trim(),
        copy: "see ScheduledTasks",
      });
    }
    for (const user of usersWithHomes(await readAccounts(ctx))) await userFiles(ctx, user, record);
    await ctx.emit("Autoruns.csv", toCsv(COLUMNS, rows), { source: this.source });
  },
};

async function systemdUnits(ctx: CollectContext, rows: AutorunRow[]): Promise<void> {
  for (const unit of await scanUnits(ctx, [".service", ".socket", ".path", ".mount", ".target"])) {
    if (unit.enabledBy.length === 0 && !unit.path.startsWith("/etc/") && !unit.path.startsWith("/run/"))
      continue;
    // Units an administrator (or an intruder) added under /etc are copied; packaged ones are only listed.
    const copy =
      unit.kind === "file" && unit.path.startsWith("/etc/")
        ? (await copyOne(ctx, rawPath(unit.path), unit.path)).status
        : "listed";
    rows.push({
      location: unit.path,
      kind: `systemd-${unit.kind}`,
      entry: unit.name,
      enabled:
        unit.kind === "masked"
          ? "masked"
          : unit.enabledBy.length > 0
            ? `yes (${unit.enabledBy.join(", ")})`
            : "no",
      detail: unit.settings.get("Service.ExecStart") ?? unit.target,
      copy,
    });
  }
}

type RecordAutorun = (
  location: string,
  kind: string,
  copied: CopiedEntry,
  enabled?: string,
  detail?: string,
) => void;

/**
 * Per-user shell init files and SSH keys, read only from inside the user's own home: a symlinked folder
 * on the way (~/.ssh -> /root/.ssh) is refused, so nobody else's file is attributed to the user.
 */
async function userFiles(ctx: CollectContext, user: PasswdEntry, record: RecordAutorun): Promise<void> {
  const base = `Users/${segment(user.user)}`;
  const inHome = { scope: user.home, followWithin: [user.home] };
  for (const file of USER_FILES) {
    const abs = join(user.home, file);
    record(
      user.home,
      "user-file",
      await copyOne(ctx, `${base}/${file.split("/").map(segment).join("/")}`, abs, inHome),
      "yes",
      user.user,
    );
  }
  const autostart = join(user.home, ".config/autostart");
  for (const name of (await listNames(ctx, autostart, { scope: user.home })) ?? []) {
    const abs = join(user.home, ".config/autostart", name);
    record(
      user.home,
      "user-autostart",
      await copyOne(ctx, `${base}/autostart/${segment(name)}`, abs, inHome),
      "yes",
      user.user,
    );
  }
}
