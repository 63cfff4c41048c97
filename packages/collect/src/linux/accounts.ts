import type { CollectFs } from "../safe-fs.js";

export interface PasswdEntry {
  user: string;
  uid: number;
  gid: number;
  gecos: string;
  home: string;
  shell: string;
  /** "x" means the hash lives in shadow; anything else is recorded only as its kind, never its value. */
  passwordField: "shadow" | "empty" | "locked" | "inline-hash";
}

export interface GroupEntry {
  group: string;
  gid: number;
  members: string[];
}

/** Parses /etc/passwd lines; malformed lines are skipped, hashes are never kept. */
export function parsePasswd(text: string): PasswdEntry[] {
  const out: PasswdEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 7) continue;
    const uid = Number(f[2]);
    const gid = Number(f[3]);
    if (!Number.isInteger(uid) || !Number.isInteger(gid)) continue;
    out.push({
      user: f[0] ?? "",
      uid,
      gid,
      gecos: f[4] ?? "",
      home: f[5] ?? "",
      shell: f.slice(6).join(":"),
      passwordField: passwordKind(f[1] ?? ""),
    });
  }
  return out;
}

function passwordKind(field: string): PasswdEntry["passwordField"] {
  if (field === "x") return "shadow";
  if (field === "") return "empty";
  if (field.startsWith("!") || field.startsWith("*")) return "locked";
  return "inline-hash";
}

/** Parses /etc/group lines (name:password:gid:member,member). */
export function parseGroup(text: string): GroupEntry[] {
  const out: GroupEntry[] = [];
  for (const line of text.split("\n")) {
    if (line.trim() === "" || line.startsWith("#")) continue;
    const f = line.split(":");
    if (f.length < 4) continue;
    const gid = Number(f[2]);
    if (!Number.isInteger(gid)) continue;
    const members = (f[3] ?? "")
      .split(",")
      .map((m) => m.trim())
      .filter((m) => m !== "");
    out.push({ group: f[0] ?? "", gid, members });
  }
  return out;
}

export interface Accounts {
  users: PasswdEntry[];
  groups: GroupEntry[];
  userName(uid: number): string;
  groupName(gid: number): string;
}

/** The local accounts, for uid/gid names and per-user home folders. */
export async function readAccounts(ctx: { fs: CollectFs }): Promise<Accounts> {
  const users = parsePasswd((await ctx.fs.readText("/etc/passwd")) ?? "");
  const groups = parseGroup((await ctx.fs.readText("/etc/group")) ?? "");
  const byUid = new Map(users.map((u) => [u.uid, u.user]));
  const byGid = new Map(groups.map((g) => [g.gid, g.group]));
  return {
    users,
    groups,
    userName: (uid) => byUid.get(uid) ?? String(uid),
    groupName: (gid) => byGid.get(gid) ?? String(gid),
  };
}

/** Users whose home folder is worth reading: real folders, once each (root included). */
export function usersWithHomes(accounts: Accounts): PasswdEntry[] {
  const seen = new Set<string>();
  return accounts.users.filter((u) => {
    if (!u.home.startsWith("/") || u.home === "/" || u.home === "/nonexistent" || seen.has(u.home))
      return false;
    seen.add(u.home);
    return true;
  });
}

/** A file name that is safe as one path segment in the package. */
export function segment(name: string): string {
  const cleaned = name.replace(/[^A-Za-z0-9._@+-]/g, "_").replace(/^\.+/, (dots) => "_".repeat(dots.length));
  return cleaned === "" ? "_" : cleaned.slice(0, 200);
}
