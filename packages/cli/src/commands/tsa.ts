import { readFile } from "node:fs/promises";
import { CustodyError, toCustodyError } from "@custody/core";
import { addTimestampToken, requestTimestampFromAny, signatureTimestampImprint } from "@custody/manifest";
import type { CommandContext, CommandSpec } from "../command.js";
import { VAULT_OPTIONS, withLocalVault } from "../vault-context.js";
import { absolute, assertAbsent, createFile, readText, required } from "./key-files.js";
import { describeTimestamp, timestampJson, tsaAuthoritiesFrom, tsaOptions } from "./tsa-options.js";

export const tsaAddCommand: CommandSpec = {
  path: ["tsa", "add"],
  summary: "make the vault timestamp its checkpoints and reports with an RFC 3161 TSA (custodians only)",
  usage: `URL --ca FILE [--policy OID] [--vault DIR --identity FILE]
URL answers application/timestamp-query (http or https); --ca is the TSA's CA certificate (PEM, may hold
several), the only anchor its tokens are checked against. The TSA is asked for one token first: a URL that
does not answer, or whose token does not verify under --ca, is refused and nothing is recorded. The
configuration is a fact in the signed audit log. Several TSAs are asked in the order they were added.`,
  options: { ...VAULT_OPTIONS, ca: { type: "string", multiple: true }, policy: { type: "string" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const url = String(ctx.positionals[0]);
    const caFiles = ctx.strings("ca");
    if (caFiles.length === 0) throw new CustodyError("ERR_USAGE", "tsa add needs --ca FILE (the TSA's CA)");
    const trustAnchorsPem = await Promise.all(
      caFiles.map((file) => readText(absolute(ctx, file), "TSA CA file")),
    );
    const policy = ctx.string("policy");
    const added = await withLocalVault(ctx, "tsa add", (vault, principal) =>
      vault.addTimestampAuthority(principal, {
        url,
        trustAnchorsPem,
        ...(policy === undefined ? {} : { policy }),
      }),
    );
    if (ctx.json) ctx.printJson({ ok: true, ...added });
    else
      ctx.out(
        `TSA ${added.url} added: probe token from ${added.probe.tsa} at ${added.probe.time}, policy ${added.probe.policy}`,
      );
    return 0;
  },
};

export const tsaListCommand: CommandSpec = {
  path: ["tsa", "list"],
  summary: "the TSAs the vault's audit log configured, in the order they are asked",
  usage: "[--vault DIR --identity FILE]",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 0, max: 0 },
  async run(ctx) {
    const list = await withLocalVault(ctx, "tsa list", async (vault) => [...vault.timestampAuthorities]);
    if (ctx.json)
      ctx.printJson(
        list.map(({ url, policy, trustAnchorsPem }) => ({ url, policy, anchors: trustAnchorsPem.length })),
      );
    else if (list.length === 0) ctx.out("no TSA configured: checkpoints and reports carry no trusted time");
    else
      for (const tsa of list) ctx.out(`${tsa.url}${tsa.policy === undefined ? "" : ` policy ${tsa.policy}`}`);
    return 0;
  },
};

export const timestampCommand: CommandSpec = {
  path: ["timestamp"],
  summary: "add RFC 3161 trusted time to what lacks it: the vault's audit log, or a detached signature",
  usage: `[--vault DIR --identity FILE]
FILE.p7s --tsa URL --tsa-ca FILE --out OUT.p7s
Without FILE: the vault signs a new checkpoint with a token from its TSAs (custody tsa add); its Merkle
root covers every record so far, so checkpoints and reports made while no TSA answered are anchored too:
they existed no later than the token's time. No TSA answering is ERR_TIMESTAMP_MISSING (recorded).
With FILE.p7s (a detached signature, e.g. from custody sign): OUT.p7s is the same signature with a token
over its signature value in the SignerInfo; the signed bytes are unchanged and FILE.p7s is left as it is.`,
  options: { ...VAULT_OPTIONS, ...tsaOptions, out: { type: "string" } },
  positionals: { min: 0, max: 1 },
  async run(ctx) {
    if (ctx.positionals.length === 1) return timestampSignatureFile(ctx);
    const stamp = await withLocalVault(ctx, "timestamp", (vault, principal) =>
      vault.timestampAuditLog(principal),
    );
    if (ctx.json) ctx.printJson({ ok: true, ...stamp });
    else
      ctx.out(
        `audit log timestamped: records 0-${stamp.treeSize - 1} existed no later than ${stamp.time} (${stamp.tsa}, policy ${stamp.policy})`,
      );
    return 0;
  },
};

async function timestampSignatureFile(ctx: CommandContext): Promise<number> {
  const file = absolute(ctx, String(ctx.positionals[0]));
  const out = absolute(ctx, required(ctx, "out"));
  await assertAbsent(ctx.cwd, [out], "a signature file is never replaced");
  const authorities = await tsaAuthoritiesFrom(ctx);
  if (authorities === undefined)
    throw new CustodyError("ERR_USAGE", "a signature file needs --tsa URL --tsa-ca FILE");
  const signature = await readFile(file).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${file}`);
  });
  const stamp = await requestTimestampFromAny(signatureTimestampImprint(signature), authorities);
  await createFile(out, addTimestampToken(signature, stamp.token));
  if (ctx.json) ctx.printJson({ ok: true, signature: out, url: stamp.url, ...timestampJson(stamp.info) });
  else ctx.out(`${out}: ${describeTimestamp(stamp.info)}`);
  return 0;
}
