import type { ErrorCode } from "@custody/core";
import type { CommandSpec } from "./command.js";
import { EXIT_CODE_BY_ERROR, EXIT_MEANINGS } from "./exit-codes.js";

/** docs/cli.md, generated from the command registry so the reference never drifts from the code. */
export function renderCliReference(commands: readonly CommandSpec[]): string {
  const sections = [...commands]
    .sort((a, b) => a.path.join(" ").localeCompare(b.path.join(" ")))
    .map((command) => {
      const [synopsis = "", ...body] = command.usage.split("\n");
      const options = Object.entries(command.options)
        .map(
          ([name, o]) =>
            `\`--${name}${o.type === "string" ? " VALUE" : ""}\`${o.multiple ? " (repeatable)" : ""}`,
        )
        .join(", ");
      return [
        `## custody ${command.path.join(" ")}`,
        "",
        command.summary,
        "",
        "```",
        `custody ${command.path.join(" ")} ${synopsis}`.trimEnd(),
        "```",
        ...(body.length > 0 ? ["", ...body] : []),
        ...(options ? ["", `Options: ${options}, \`--json\`, \`--help\`.`] : []),
        "",
      ].join("\n");
    });
  return [
    "# The `custody` command",
    "",
    "Generated from the command registry (`node scripts/cli-docs.mjs`); a test fails when it is stale.",
    "",
    "Every command takes `--json` (data for programs on stdout, nothing else there) and `--help`. Messages",
    "for people go to stderr. Vault commands take `--vault DIR` (or `CUSTODY_VAULT`, default `./.custody`)",
    "and `--identity FILE` (or `CUSTODY_IDENTITY`; an encrypted key reads `CUSTODY_IDENTITY_PASSPHRASE`).",
    "One process at a time writes a vault; others wait for it up to `CUSTODY_LOCK_TIMEOUT_MS` (10 s), except",
    "when a running `custody serve` holds it: then they stop at once and name the server to use.",
    "`--server https://HOST:PORT` (or `CUSTODY_SERVER`) sends every vault command to that server instead, with",
    "the same output and exit codes; the identity file is the TLS client certificate and the vault CA",
    "certificate it carries is the only trust anchor for the server, unless `--ca FILE` names another.",
    "Commands that need the vault's own files or keys (`init`, `triage`, `collect` into the vault,",
    "`audit accept-tail`) refuse `--server` with a usage error (exit 2).",
    "`--log-level LEVEL` (anywhere on the line; or `CUSTODY_LOG_LEVEL`; default `warn`) sets what the",
    "libraries log to stderr as pino JSON lines; at `debug` a failure's stack and causes are logged too.",
    "",
    "A failure prints one line, `custody: ERR_…: message`, on stderr (with `--json`, also the error as",
    "JSON on stdout) and never a stack; the exit code says which kind of failure it was. When the reader",
    "of stdout goes away (`custody list | head -1`), custody stops quietly with 141, as coreutils do",
    "(killed by SIGPIPE): the pipeline succeeds without `pipefail` and fails with it.",
    "",
    ...exitCodeTable(),
    "",
    ...sections,
  ].join("\n");
}

/** Every exit code with its meaning and every error code that ends with it. */
function exitCodeTable(): string[] {
  const byExit = new Map<number, ErrorCode[]>();
  for (const [code, exit] of Object.entries(EXIT_CODE_BY_ERROR) as [ErrorCode, number][]) {
    byExit.set(exit, [...(byExit.get(exit) ?? []), code]);
  }
  const rows = Object.entries(EXIT_MEANINGS).map(([exit, meaning]) => {
    const codes = (byExit.get(Number(exit)) ?? []).map((c) => `\`${c}\``).join(", ");
    return `| ${exit} | ${meaning} | ${codes} |`;
  });
  return ["| exit code | meaning | error codes |", "|---|---|---|", ...rows];
}
