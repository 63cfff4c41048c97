import type { CommandSpec } from "./command.js";

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
    "One process at a time writes a vault; others wait for it up to `CUSTODY_LOCK_TIMEOUT_MS` (10 s).",
    "",
    "| exit code | meaning |",
    "|---|---|",
    "| 0 | success |",
    "| 1 | verification or integrity failure |",
    "| 2 | usage error |",
    "| 3 | access denied |",
    "| 4 | not found |",
    "| 5 | conflict or immutable (exists, held, retained, third custodian) |",
    "| 6 | backend unavailable |",
    "| 10 | internal error |",
    "",
    ...sections,
  ].join("\n");
}
