// Imported by a child process that root started, AFTER the child has loaded every module it needs:
// the child then becomes an unprivileged user for good before it does any work. Loading first is what
// makes such a test independent of where the checkout lives: node and the sources may sit in a private
// 0700 folder that the unprivileged user could never enter, yet what runs is the same code, as that user.

/** Becomes `uid`:`gid` with no supplementary groups; setuid as root also drops every capability. */
export function becomeUser(uid, gid) {
  process.setgroups([]);
  process.setgid(gid);
  process.setuid(uid);
  if (process.getuid() !== uid || process.geteuid() !== uid || process.getegid() !== gid) {
    throw new Error(`still running as ${process.geteuid()}:${process.getegid()}`);
  }
}

/** `CUSTODY_TEST_BECOME=uid:gid` (set by runAsUnprivileged's caller) -> becomeUser, else nothing. */
export function becomeUserFromEnv() {
  const wanted = process.env.CUSTODY_TEST_BECOME;
  if (wanted === undefined) return;
  const [uid, gid] = wanted.split(":").map(Number);
  becomeUser(uid, gid);
}
