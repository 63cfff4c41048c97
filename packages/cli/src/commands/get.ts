import { createWriteStream } from "node:fs";
import { link, rm } from "node:fs/promises";
import { dirname, resolve } from "node:path";
import { pipeline } from "node:stream/promises";
import { CustodyError, syncDirectory, toCustodyError } from "@custody/core";
import type { CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { ITEM_OPTIONS, itemSelector, withVaultApi } from "../vault-context.js";

export const getCommand: CommandSpec = {
  path: ["get"],
  summary: "copy an item out of the vault, verifying every byte against its recorded digest",
  usage: `ID --out FILE [--case ID]
The copy is written to a temporary name and appears under FILE only when all of it matched the
SHA-256 it is named by (computed as the bytes stream, never taken from stored metadata); an existing
FILE is never overwritten. --out - writes to stdout (no such guarantee).`,
  options: { ...ITEM_OPTIONS, out: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const out = ctx.string("out");
    if (out === undefined)
      throw new CustodyError("ERR_USAGE", "get needs --out FILE (or --out - for stdout)");
    if (out !== "-") await assertOutputAbsent(resolve(ctx.cwd, out));
    const { item, sha256 } = await withVaultApi(ctx, async (api) => {
      const read = await api.read(itemSelector(ctx));
      if (out === "-") await pipeline(read.stream, ctx.stdout);
      else await copyVerified(read.stream, resolve(ctx.cwd, out));
      return { item: read.item, sha256: read.computedSha256() };
    });
    if (ctx.json) ctx.printJson({ ok: true, id: item.id, caseId: item.caseId, sha256, size: item.size, out });
    else if (out !== "-")
      ctx.err(`wrote ${item.size} bytes to ${out}; computed sha256 ${sha256}, the item's id: verified`);
    return 0;
  },
};

/** Streams to a temporary name, then links it to `target` (never over an existing file) and syncs its folder. */
export async function copyVerified(stream: NodeJS.ReadableStream, target: string): Promise<void> {
  const temp = `${target}.partial-${process.pid}`;
  try {
    await pipeline(stream, createWriteStream(temp, { flags: "wx", mode: 0o600, flush: true }));
    await link(temp, target);
    await syncDirectory(dirname(target));
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot write ${target}`);
  } finally {
    await rm(temp, { force: true });
  }
}
