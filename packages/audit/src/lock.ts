import { acquireFileLock, type FileLock } from "@custody/core";

/** One writer per log directory (see `acquireFileLock`): held elsewhere, ERR_AUDIT_LOCKED. */
export type DirLock = FileLock;

export function acquireLock(path: string): Promise<DirLock> {
  return acquireFileLock(path, { code: "ERR_AUDIT_LOCKED", what: "the audit log" });
}
