import { CustodyError } from "@custody/core";
import type { CommandSpec } from "../command.js";
import { VAULT_OPTIONS, withVault } from "../vault-context.js";
import { absolute, readText } from "./key-files.js";

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
    const added = await withVault(ctx, (vault, principal) =>
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
    const list = await withVault(ctx, async (vault) => [...vault.timestampAuthorities]);
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
