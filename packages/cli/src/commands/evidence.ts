import { CustodyError } from "@custody/core";
import { type EvidenceItem, type IngestHash, type ListOptions, resolveIngestHashes } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { formatBytes } from "../progress.js";
import { formatTable } from "../table.js";
import {
  assertLocalVault,
  ITEM_OPTIONS,
  intOption,
  itemSelector,
  parseLabels,
  VAULT_OPTIONS,
  withVaultApi,
} from "../vault-context.js";

export function printItem(ctx: CommandContext, item: EvidenceItem): void {
  if (ctx.json) {
    ctx.printJson(item);
    return;
  }
  const lines: [string, unknown][] = [
    ["id", item.id],
    ["name", item.name],
    ["case", item.caseId],
    [
      "kind",
      item.package === undefined
        ? item.kind
        : `${item.kind} (${item.package.verified ? "verified" : "UNVERIFIED"})`,
    ],
    ["size", `${item.size} (${formatBytes(item.size)})`],
    ["sha1", item.digests.sha1],
    ["md5", item.digests.md5],
    ["stored", item.storedAt],
    ["retained until", item.retainUntil ?? "-"],
    ["legal hold", item.legalHold ? "yes" : "no"],
    [
      "acquired",
      `${item.acquisition.at} by ${item.acquisition.by} on ${item.acquisition.where} (${item.acquisition.how})`,
    ],
    [
      "labels",
      Object.entries(item.labels)
        .map(([k, v]) => `${k}=${v}`)
        .join(", ") || "-",
    ],
  ];
  for (const [label, value] of lines)
    if (value !== undefined) ctx.out(`${label.padEnd(15)} ${String(value)}`);
}

export const ingestCommand: CommandSpec = {
  path: ["ingest"],
  summary: "store a file or an investigation package in the vault (packages are verified first)",
  usage: `FILE --case ID [--retain-days N] [--legal-hold] [--label K=V]... [--unverified] [--kind auto|package|file] [--hash sha1,md5]
A ZIP holding a custody manifest is verified against the vault CA before it is stored; a package that
fails is refused unless --unverified, which stores it marked unverified (recorded in the audit log).
The item's digest is its sha256 (its id); --hash adds others to its record, computed in the same read
(any of sha1, md5, sha512, comma-separated; an unknown name is refused before a byte is read).
A file that changes while a filesystem store copies it (its size, times or inode) is refused with
ERR_INTEGRITY_MISMATCH and nothing is stored: ingest it again once nothing writes to it.`,
  options: {
    ...VAULT_OPTIONS,
    case: { type: "string" },
    "retain-days": { type: "string" },
    "legal-hold": { type: "boolean" },
    label: { type: "string", multiple: true },
    unverified: { type: "boolean" },
    kind: { type: "string" },
    hash: { type: "string" },
  },
  positionals: { min: 1, max: 1 },
  copiesFileEarly: true,
  async run(ctx) {
    const caseId = ctx.string("case");
    if (caseId === undefined) throw new CustodyError("ERR_USAGE", "ingest needs --case ID");
    const kind = ctx.string("kind") ?? "auto";
    if (kind !== "auto" && kind !== "package" && kind !== "file")
      throw new CustodyError("ERR_USAGE", "--kind is auto, package or file");
    const retainDays = intOption(ctx, "retain-days");
    const hashes = hashesOption(ctx.string("hash"));
    const item = await withVaultApi(ctx, (api) =>
      api.ingest(String(ctx.positionals[0]), {
        caseId,
        kind,
        labels: parseLabels(ctx.strings("label")),
        legalHold: ctx.flag("legal-hold"),
        allowUnverified: ctx.flag("unverified"),
        ...(retainDays === undefined ? {} : { retainDays }),
        ...(hashes === undefined ? {} : { hashes }),
        ...(ctx.earlyCopy === undefined ? {} : { earlyCopy: ctx.earlyCopy }),
      }),
    );
    printItem(ctx, item);
    return 0;
  },
};

/** `--hash sha1,md5`: the names checked here and again by the vault (a server checks its own copy). */
function hashesOption(value: string | undefined): IngestHash[] | undefined {
  if (value === undefined) return undefined;
  const names = value.split(",").map((name) => name.trim());
  resolveIngestHashes(names);
  return names as IngestHash[];
}

export const listCommand: CommandSpec = {
  path: ["list"],
  summary: "list the evidence items you may see (in one case with --case), oldest first",
  usage: `[--case ID] [--device ID] [--label KEY[=VALUE]] [--since TIME] [--until TIME]
--device, --label, --since and --until (acquisition time, ISO 8601 UTC) are answered from the vault's
item index (derived from the audit log; see \`custody index rebuild\`), on a local vault only.`,
  options: {
    ...VAULT_OPTIONS,
    case: { type: "string" },
    device: { type: "string" },
    label: { type: "string" },
    since: { type: "string" },
    until: { type: "string" },
  },
  async run(ctx) {
    const options = listOptions(ctx);
    const listed = await withVaultApi(ctx, (api) => api.list(options));
    // Oldest first, whichever way the vault was reached (a server pages in its own order).
    const items = [...listed].sort(
      (a, b) =>
        a.storedAt.localeCompare(b.storedAt) || a.id.localeCompare(b.id) || a.caseId.localeCompare(b.caseId),
    );
    if (ctx.json) {
      ctx.printJson(items);
      return 0;
    }
    const rows = items.map((i) => [
      i.id.slice(0, 16),
      i.caseId,
      i.kind,
      formatBytes(i.size),
      i.legalHold ? "hold" : "",
      i.retainUntil?.slice(0, 10) ?? "",
      i.name,
      i.finding === undefined ? "" : `FINDING: ${i.finding}`,
    ]);
    ctx.out(formatTable(["ID", "CASE", "KIND", "SIZE", "HOLD", "RETAINED", "NAME", ""], rows));
    return 0;
  },
};

function listOptions(ctx: CommandContext): ListOptions {
  const options: ListOptions = {};
  const caseId = ctx.string("case");
  if (caseId !== undefined) options.caseId = caseId;
  const deviceId = ctx.string("device");
  if (deviceId !== undefined) options.deviceId = deviceId;
  const label = ctx.string("label");
  if (label !== undefined) {
    if (label.length === 0 || label.startsWith("="))
      throw new CustodyError("ERR_USAGE", "--label takes KEY or KEY=VALUE");
    options.label = label;
  }
  for (const name of ["since", "until"] as const) {
    const value = ctx.string(name);
    if (value === undefined) continue;
    const time = Date.parse(value);
    if (Number.isNaN(time)) throw new CustodyError("ERR_USAGE", `--${name} is not a time: ${value}`);
    options[name] = new Date(time).toISOString();
  }
  if (Object.keys(options).some((key) => key !== "caseId")) {
    assertLocalVault(ctx, "list --device/--label/--since/--until", "the server's listing takes a case only");
  }
  return options;
}

export const showCommand: CommandSpec = {
  path: ["show"],
  summary: "show one item's record: digests, acquisition, retention, hold",
  usage: "ID [--case ID]",
  options: ITEM_OPTIONS,
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    printItem(ctx, await withVaultApi(ctx, (api) => api.show(itemSelector(ctx))));
    return 0;
  },
};
