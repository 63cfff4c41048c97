import { CustodyError } from "@custody/core";

export type CommandTier = "basic" | "advanced";
export type CommandPlatform = "linux" | "win32";

/** One live-response command: who may run it, where it runs, how long it may take, what it prints. */
export interface CommandSpec {
  tier: CommandTier;
  action: "live.basic" | "live.advanced";
  /** `agent` commands are sent to the device; `console` ones are answered by the console and server. */
  where: "agent" | "console";
  timeoutMs: number;
  /** Must have run on the same path in the session first (`-auto` runs it). */
  prerequisite?: string;
  platforms: readonly CommandPlatform[];
  /** Default table columns; `-output json` shows every field. */
  columns: readonly string[];
  summary: string;
  usage: string;
  /** Positional parameters in their fixed order; each may also be given as `-name value`. */
  params: readonly string[];
  /** How many leading params are required. */
  required: number;
  /** Flags that take no value. */
  switches: readonly string[];
  /** Flags that take a value and are not positional. */
  options: readonly string[];
  /** `-reason TEXT` must be given, not blank (ERR_REASON_REQUIRED): the source document asks it of collect. */
  reasonRequired?: boolean;
}

const MINUTE = 60_000;
const ALL: readonly CommandPlatform[] = ["linux", "win32"];

type Basic = Omit<
  CommandSpec,
  "tier" | "action" | "where" | "timeoutMs" | "platforms" | "required" | "switches" | "options" | "params"
> &
  Partial<CommandSpec>;

function basic(spec: Basic): CommandSpec {
  return {
    tier: "basic",
    action: "live.basic",
    where: "agent",
    timeoutMs: 10 * MINUTE,
    platforms: ALL,
    params: [],
    required: 0,
    switches: [],
    options: [],
    ...spec,
  };
}

function consoleCommand(spec: Basic): CommandSpec {
  return basic({ where: "console", ...spec });
}

function advanced(spec: Basic): CommandSpec {
  return basic({ tier: "advanced", action: "live.advanced", ...spec });
}

/** The commands of this release, by name (the source document's names and syntax). */
export const COMMANDS: Readonly<Record<string, CommandSpec>> = Object.freeze({
  cd: basic({
    summary: "Changes the session's current directory.",
    usage: "cd PATH",
    params: ["path"],
    required: 1,
    columns: ["cwd"],
  }),
  dir: basic({
    summary: "Lists the files and subdirectories of a directory (not following symlinks).",
    usage: "dir [PATH] [-recursive]",
    params: ["path"],
    switches: ["recursive"],
    columns: ["type", "mode", "owner", "size", "mtime", "name"],
  }),
  fileinfo: basic({
    summary: "Shows a file's metadata and its sha256; -hash sha1,md5 adds those digests (one read).",
    usage: "fileinfo PATH [-hash sha1,md5]",
    params: ["path"],
    required: 1,
    options: ["hash"],
    columns: ["path", "type", "size", "mode", "owner", "mtime", "sha256"],
  }),
  findfile: basic({
    summary: "Finds files whose name matches a glob (* ? [..]) under a root, bounded.",
    usage: "findfile NAME [-root PATH] [-max_results N] [-max_depth N]",
    timeoutMs: 30 * MINUTE,
    params: ["name"],
    required: 1,
    options: ["root", "max_results", "max_depth"],
    columns: ["path", "size", "mtime"],
  }),
  connections: basic({
    summary: "Shows the active network connections and listening sockets with their processes.",
    usage: "connections",
    columns: [
      "protocol",
      "localAddress",
      "localPort",
      "remoteAddress",
      "remotePort",
      "state",
      "pid",
      "processName",
    ],
  }),
  processes: basic({
    summary: "Shows the running processes.",
    usage: "processes [-pid PID] [-name NAME]",
    options: ["pid", "name"],
    columns: ["pid", "ppid", "user", "name", "startTime", "commandLine"],
  }),
  services: basic({
    summary: "Shows the services (systemd units and init scripts on Linux).",
    usage: "services [NAME]",
    params: ["name"],
    columns: ["name", "manager", "enabled", "active", "pids", "description"],
  }),
  scheduledtasks: basic({
    summary: "Shows the scheduled tasks (cron, anacron, at and systemd timers on Linux).",
    usage: "scheduledtasks [NAME]",
    params: ["name"],
    columns: ["kind", "source", "schedule", "user", "command"],
  }),
  persistence: basic({
    summary: "Shows the known persistence locations and what they start.",
    usage: "persistence",
    columns: ["location", "kind", "entry", "enabled"],
  }),
  drivers: basic({
    summary: "Shows the loaded drivers (kernel modules on Linux).",
    usage: "drivers",
    columns: ["name", "size", "instances", "usedBy", "state"],
  }),
  registry: basic({
    summary: "Shows registry keys and values (Windows only).",
    usage: "registry KEY[\\VALUE]",
    platforms: ["win32"],
    params: ["key"],
    required: 1,
    columns: ["key", "name", "type", "data"],
  }),
  trace: consoleCommand({
    summary: "Sets the console's logging mode (protocol events shown).",
    usage: "trace [on|off]",
    params: ["state"],
    columns: ["trace"],
  }),
  help: consoleCommand({
    summary: "Shows the commands, or one command's usage.",
    usage: "help [COMMAND]",
    params: ["command"],
    columns: ["command", "usage", "summary"],
  }),
  status: consoleCommand({
    summary: "Shows a command's state and output summary.",
    usage: "status [ID]",
    params: ["id"],
    columns: ["id", "command", "status", "durationMs"],
  }),
  jobs: consoleCommand({
    summary: "Lists the background commands of the session.",
    usage: "jobs",
    columns: ["id", "command", "status"],
  }),
  fg: consoleCommand({
    summary: "Brings a background command to the console.",
    usage: "fg ID",
    params: ["id"],
    required: 1,
    columns: ["id", "command", "status"],
  }),
  library: consoleCommand({
    summary: "Lists the scripts and files of the vault's live-response library.",
    usage: "library",
    columns: ["name", "version", "size", "sha256", "signed", "parameters", "description"],
  }),
  run: advanced({
    summary:
      "Runs a signed library script on the device in its own process group; its output becomes an item.",
    usage: 'run SCRIPT [-parameters "ARGS"]',
    params: ["script"],
    required: 1,
    options: ["parameters"],
    platforms: ["linux"],
    columns: ["script", "version", "signed", "exitCode", "stdoutBytes", "stderrBytes"],
  }),
  putfile: advanced({
    summary: "Copies a library file to the device's working folder (0600, removed when the agent restarts).",
    usage: "putfile NAME [-overwrite]",
    params: ["name"],
    required: 1,
    switches: ["overwrite"],
    columns: ["name", "path", "size", "sha256"],
  }),
  remediate: advanced({
    summary:
      "Remediates an entity (file, process, service, scheduledtask, startupitem); its bytes go into the vault first.",
    usage: "remediate TYPE TARGET [-auto]",
    params: ["type", "target"],
    required: 2,
    switches: ["auto"],
    platforms: ["linux"],
    columns: ["id", "type", "target", "step", "outcome", "itemId"],
  }),
  undo: advanced({
    summary: "Restores what a remediation removed, byte-identical, from its quarantine item.",
    usage: "undo ID",
    params: ["id"],
    required: 1,
    platforms: ["linux"],
    columns: ["id", "type", "target", "step", "outcome"],
  }),
  analyze: advanced({
    summary:
      "A static verdict on a file with its reasons: digests, type, entropy, headers, hash lists, YARA.",
    usage: "analyze PATH",
    params: ["path"],
    required: 1,
    columns: ["path", "verdict", "sha256", "type", "entropy", "reasons"],
  }),
  collect: advanced({
    summary: "Collects the device's investigation package into the session's case, with a reason.",
    usage: "collect [-only A,B] -reason TEXT",
    timeoutMs: 60 * MINUTE,
    options: ["only", "reason"],
    reasonRequired: true,
    columns: ["itemId", "size", "sha256", "dataPoints", "reason"],
  }),
  isolate: advanced({
    summary: "Contains the device's network: everything dropped except the vault server (nftables on Linux).",
    usage: "isolate",
    platforms: ["linux"],
    columns: ["isolated", "allowed"],
  }),
  release: advanced({
    summary: "Undoes isolate: the device's network as it was before.",
    usage: "release",
    platforms: ["linux"],
    columns: ["isolated"],
  }),
  getfile: {
    tier: "advanced",
    action: "live.advanced",
    where: "agent",
    timeoutMs: 30 * MINUTE,
    prerequisite: "fileinfo",
    platforms: ALL,
    columns: ["path", "size", "sha256", "itemId"],
    summary: "Takes a file from the device straight into the vault as an item of the session's case.",
    usage: "getfile PATH [-auto]",
    params: ["path"],
    required: 1,
    switches: ["auto"],
    options: [],
  },
});

export function commandNames(): string[] {
  return Object.keys(COMMANDS);
}

function usageError(spec: CommandSpec, message: string, details: Record<string, unknown>): CustodyError {
  return new CustodyError("ERR_USAGE", `${message} (usage: ${spec.usage})`, { details });
}

/**
 * Binds a command's positional arguments and flags to its parameters by name: each positional fills the
 * next parameter, `-name value` fills a named one. Unknown flags, a parameter given twice, extra
 * positionals and missing required parameters are refused with ERR_USAGE.
 */
/** The largest reason an action records. */
export const MAX_REASON_CHARS = 1000;

function assertReason(name: string, reason: string | true | undefined): void {
  if (typeof reason !== "string" || reason.trim() === "")
    throw new CustodyError(
      "ERR_REASON_REQUIRED",
      `${name} needs -reason TEXT: why this is done, for the record`,
    );
  if (reason.length > MAX_REASON_CHARS)
    throw new CustodyError("ERR_INVALID_ARGUMENT", `a reason is at most ${MAX_REASON_CHARS} characters`);
}

export function bindArguments(
  name: string,
  positional: readonly string[],
  flags: Readonly<Record<string, string | true>>,
): Record<string, string | true> {
  const spec = Object.hasOwn(COMMANDS, name) ? COMMANDS[name] : undefined;
  if (spec === undefined)
    throw new CustodyError("ERR_UNKNOWN_COMMAND", `unknown command ${JSON.stringify(name)}`);
  const bound: Record<string, string | true> = Object.create(null);
  for (const [flag, value] of Object.entries(flags)) {
    const isSwitch = spec.switches.includes(flag);
    if (!isSwitch && !spec.params.includes(flag) && !spec.options.includes(flag))
      throw usageError(spec, `${name} has no -${flag}`, { flag });
    if (isSwitch !== (value === true))
      throw usageError(spec, isSwitch ? `-${flag} takes no value` : `-${flag} needs a value`, { flag });
    bound[flag] = value;
  }
  const free = spec.params.filter((param) => !(param in bound));
  if (positional.length > free.length)
    throw usageError(spec, `${name} takes at most ${free.length} positional arguments here`, {
      positional: positional.length,
    });
  positional.forEach((value, index) => {
    bound[free[index] as string] = value;
  });
  for (const param of spec.params.slice(0, spec.required)) {
    if (!(param in bound)) throw usageError(spec, `${name} needs ${param}`, { param });
  }
  if (spec.reasonRequired === true) assertReason(name, bound.reason);
  return bound;
}
