import { posix } from "node:path";
import type { ParsedCommandLine } from "@custody/agent/protocol";
import { CustodyError } from "@custody/core";
import type { LiveSession } from "./session.js";
import type { Tracked } from "./tracked.js";

/** The command a remediation of TYPE needs first in the session (`-auto` runs it). */
export function remediationPrerequisite(parsed: ParsedCommandLine): ParsedCommandLine {
  const type = String(parsed.flags.type ?? parsed.positional[0] ?? "");
  const target = String(parsed.flags.target ?? parsed.positional[1] ?? "");
  const line = (name: string, positional: string[] = [], flags: Record<string, string> = {}) => ({
    name,
    positional,
    flags,
    background: false,
  });
  switch (type) {
    case "file":
      return line("fileinfo", [target]);
    case "process":
      return line("processes", [], { pid: target });
    case "service":
      return line("services", [target.replace(/\.service$/, "")]);
    case "scheduledtask":
      return line("scheduledtasks");
    case "startupitem":
      return line("persistence");
    default:
      throw new CustodyError(
        "ERR_USAGE",
        `remediate TYPE is one of file, process, service, scheduledtask, startupitem (usage: remediate TYPE TARGET [-auto])`,
        { details: { type } },
      );
  }
}

const completed = new WeakMap<LiveSession, Map<string, number>>();

function key(session: LiveSession, parsed: ParsedCommandLine): string {
  const { name, positional, flags } = parsed;
  // a relative path means the session's folder at the time
  const resolved = positional.map((p) =>
    name === "fileinfo" && session.cwd !== null && !p.startsWith("/") ? posix.join(session.cwd, p) : p,
  );
  return JSON.stringify([name, resolved, Object.entries(flags).sort()]);
}

/** Notes a completed command, so a later remediate finds its prerequisite. */
export function rememberCompleted(tracked: Tracked): void {
  const map = completed.get(tracked.session) ?? new Map<string, number>();
  map.set(key(tracked.session, tracked.parsed), Date.now());
  completed.set(tracked.session, map);
}

/** Whether the prerequisite ran (and completed) in the session within `windowMs`. */
export function prerequisiteRan(session: LiveSession, parsed: ParsedCommandLine, windowMs: number): boolean {
  const at = completed.get(session)?.get(key(session, parsed));
  return at !== undefined && at >= Date.now() - windowMs;
}
