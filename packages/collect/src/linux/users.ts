import { toCsv } from "../csv.js";
import type { Collector } from "../types.js";
import { readAccounts } from "./accounts.js";
import { COPIED_COLUMNS, copyDir, copyOne } from "./files.js";

export const linuxUsersAndGroups: Collector = {
  name: "UsersAndGroups",
  platform: "linux",
  volatilityRank: 5,
  source: "/etc/passwd, /etc/group, /etc/sudoers, /etc/sudoers.d (shadow recorded as present/absent only)",
  async collect(ctx) {
    const accounts = await readAccounts(ctx);
    const users = accounts.users.map((u) => ({ ...u, group: accounts.groupName(u.gid) }));
    await ctx.emit(
      "Users.csv",
      toCsv(["user", "uid", "gid", "group", "gecos", "home", "shell", "passwordField"], users),
      { source: "/etc/passwd" },
    );
    // A group's members are its listed members plus the users whose primary group it is.
    const groups = accounts.groups.map((g) => {
      const primary = accounts.users.filter((u) => u.gid === g.gid).map((u) => u.user);
      return {
        group: g.group,
        gid: g.gid,
        members: [...new Set([...g.members, ...primary])].join(" "),
        primaryMembers: primary.join(" "),
      };
    });
    await ctx.emit("Groups.csv", toCsv(["group", "gid", "members", "primaryMembers"], groups), {
      source: "/etc/group + /etc/passwd",
    });
    const copied = [
      await copyOne(ctx, "raw/passwd", "/etc/passwd"),
      await copyOne(ctx, "raw/group", "/etc/group"),
      await copyOne(ctx, "raw/sudoers", "/etc/sudoers"),
      ...(await copyDir(ctx, "raw/sudoers.d", "/etc/sudoers.d")),
    ];
    await ctx.emit("CopiedFiles.csv", toCsv(COPIED_COLUMNS, copied), { source: "this collector" });
    // Never the hashes: only whether the shadow files exist.
    const shadow = [];
    for (const path of ["/etc/shadow", "/etc/gshadow"]) {
      shadow.push({
        path,
        present: (await ctx.fs.lstat(path)).kind === "stat" ? "yes" : "no",
      });
    }
    await ctx.emit("Shadow.csv", toCsv(["path", "present"], shadow), {
      source: "/etc/shadow, /etc/gshadow (existence only)",
    });
  },
};
