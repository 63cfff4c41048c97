import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { basename, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { CustodyError, toCustodyError } from "@custody/core";
import type { HashEntry, HashListName } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { formatTable } from "../table.js";
import { VAULT_OPTIONS, withVaultApi } from "../vault-context.js";

const LISTS: readonly string[] = ["known-bad", "known-good"];

function listName(value: string | undefined): HashListName {
  if (value === undefined || !LISTS.includes(value))
    throw new CustodyError("ERR_USAGE", `the list is known-bad or known-good, not '${value ?? ""}'`);
  return value as HashListName;
}

function sha256Of(value: string): string {
  const lower = value.toLowerCase();
  if (!/^[0-9a-f]{64}$/.test(lower))
    throw new CustodyError("ERR_USAGE", `'${value}' is not a sha256 (64 hex digits)`);
  return lower;
}

async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  try {
    await pipeline(createReadStream(path), hash);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${path}`);
  }
  return hash.digest("hex");
}

function printEntries(ctx: CommandContext, entries: HashEntry[]): number {
  if (ctx.json) ctx.printJson(entries);
  else
    ctx.out(
      formatTable(
        ["LIST", "SHA256", "NAME", "NOTE", "ADDED", "BY"],
        entries.map((e) => [e.list, e.sha256, e.name ?? "", e.note ?? "", e.addedAt, e.addedBy]),
      ),
    );
  return 0;
}

export const hashlistAddCommand: CommandSpec = {
  path: ["hashlist", "add"],
  summary: "add files (by their sha256) or digests to the known-bad or known-good list (custodians)",
  usage: `known-bad|known-good FILE... | --sha256 H [--name LABEL] [--note TEXT]
Each FILE is hashed here (its bytes never leave this machine) and its sha256 added, named after the
file unless --name says otherwise; or give the digest itself with --sha256 (repeatable). Each addition
is a fact of the signed audit log: the lists are rebuilt from it when the vault opens. A digest is on
one list at most: remove it from the other first (ERR_CONFLICT). Needs hashlist.manage.`,
  options: {
    ...VAULT_OPTIONS,
    sha256: { type: "string", multiple: true },
    name: { type: "string" },
    note: { type: "string" },
  },
  positionals: { min: 1 },
  async run(ctx) {
    const [first, ...files] = ctx.positionals;
    const list = listName(first);
    const given = ctx.strings("sha256").map(sha256Of);
    if ((files.length === 0) === (given.length === 0))
      throw new CustodyError("ERR_USAGE", "give FILE... or --sha256 H, one of the two");
    const name = ctx.string("name");
    const note = ctx.string("note");
    const wanted: { sha256: string; name?: string }[] = [];
    for (const file of files)
      wanted.push({ sha256: await fileSha256(resolve(ctx.cwd, file)), name: name ?? basename(file) });
    for (const sha256 of given) wanted.push({ sha256, ...(name === undefined ? {} : { name }) });
    const added = await withVaultApi(ctx, async (api) => {
      const out: HashEntry[] = [];
      for (const entry of wanted)
        out.push(await api.addHash({ list, ...entry, ...(note === undefined ? {} : { note }) }));
      return out;
    });
    if (ctx.json) ctx.printJson(added);
    else for (const entry of added) ctx.out(`${entry.sha256} on ${entry.list}`);
    return 0;
  },
};

export const hashlistRemoveCommand: CommandSpec = {
  path: ["hashlist", "remove"],
  summary: "remove a sha256 from the known-bad or known-good list (custodians)",
  usage: `known-bad|known-good SHA256
The removal is a fact of the signed audit log; a digest that is not on the list is ERR_NOT_FOUND.`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const list = listName(ctx.positionals[0]);
    const sha256 = sha256Of(String(ctx.positionals[1]));
    const removed = await withVaultApi(ctx, (api) => api.removeHash(list, sha256));
    if (ctx.json) ctx.printJson(removed);
    else ctx.out(`${removed.sha256} removed from ${removed.list}`);
    return 0;
  },
};

export const hashlistListCommand: CommandSpec = {
  path: ["hashlist", "list"],
  summary: "the entries of the hash lists analyze matches against",
  usage: `[known-bad|known-good]
Readable by whoever manages the lists or may run advanced live-response commands.`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 0, max: 1 },
  async run(ctx) {
    const first = ctx.positionals[0];
    const list = first === undefined ? undefined : listName(first);
    return printEntries(ctx, await withVaultApi(ctx, (api) => api.listHashes(list)));
  },
};
