import { join } from "node:path";
import { toCsv } from "../csv.js";
import type { Collector } from "../types.js";
import { readAccounts, segment, usersWithHomes } from "./accounts.js";
import { COPIED_COLUMNS, type CopiedEntry, copyDir, copyOne, rawPath } from "./files.js";

const HISTORIES = [
  ".bash_history",
  ".zsh_history",
  ".zhistory",
  ".sh_history",
  ".ash_history",
  ".local/share/fish/fish_history",
  ".python_history",
  ".node_repl_history",
  ".mysql_history",
  ".psql_history",
  ".sqlite_history",
  ".lesshst",
  ".viminfo",
  ".wget-hsts",
  ".local/share/recently-used.xbel",
];
const ACCOUNTING = ["/var/log/account/pacct", "/var/account/pacct", "/var/log/pacct"];

export const linuxPrefetch: Collector = {
  name: "Prefetch",
  platform: "linux",
  volatilityRank: 5,
  source:
    "evidence of execution: shell and REPL histories per user; /var/log/audit; process accounting (pacct)",
  async collect(ctx) {
    const copied: CopiedEntry[] = [];
    for (const user of usersWithHomes(await readAccounts(ctx))) {
      // Read from inside the user's home only: a symlinked folder there is refused, never followed.
      const inHome = { scope: user.home, followWithin: [user.home] };
      for (const file of HISTORIES) {
        const rel = `Histories/${segment(user.user)}/${file.split("/").map(segment).join("/")}`;
        copied.push(await copyOne(ctx, rel, join(user.home, file), inHome));
      }
    }
    copied.push(
      ...(await copyDir(ctx, rawPath("/var/log/audit"), "/var/log/audit", (n) => n.startsWith("audit.log"))),
    );
    for (const path of ACCOUNTING) copied.push(await copyOne(ctx, rawPath(path), path));
    // Like PrefetchFilesList.txt: what was copied and what failed, so a missing copy is visible.
    await ctx.emit(
      "PrefetchFilesList.csv",
      toCsv(
        COPIED_COLUMNS,
        copied.filter((c) => c.status !== "absent"),
      ),
      { source: "this collector" },
    );
  },
};
