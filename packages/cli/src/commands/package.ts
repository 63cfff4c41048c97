import { hostname, userInfo } from "node:os";
import { basename, extname, join } from "node:path";
import { packageDirectory } from "@custody/archive";
import { CustodyError } from "@custody/core";
import { loadSignerFromFiles, type Signer } from "@custody/manifest";
import type { CommandContext, CommandSpec } from "../command.js";
import { assertOutputAbsent } from "../out-file.js";
import { formatBytes } from "../progress.js";
import { absolute, KEY_ENV, KEYS_LAYOUT, passphrase, required, withPassphraseHint } from "./key-files.js";
import { reportOutcomes, timestampedSigner, tsaAuthoritiesFrom, tsaOptions } from "./tsa-options.js";

export const packageCommand: CommandSpec = {
  path: ["package"],
  summary: "package a folder as a signed investigation package (a BagIt bag in a ZIP)",
  usage: [
    "DIR --out P.zip [--case ID] [--device ID] [--name NAME] [--key K --cert C | --keys-dir DIR] [--level 0-9]",
    "    [--tsa URL --tsa-ca FILE]",
    "",
    "Every regular file under DIR becomes data/<path> of a BagIt 1.0 bag named NAME (default: the",
    "--out file name without .zip), with manifest-sha256.txt, bag-info.txt, CollectionSummary.csv and a",
    "custody manifest signed by the signer (--key/--cert, $CUSTODY_SIGNER_KEY/$CUSTODY_SIGNER_CERT, or",
    "signer.key/signer.pem in --keys-dir or $CUSTODY_KEYS_DIR). Links in DIR are refused. P.zip appears",
    "only when complete and is never replaced. Progress is shown on a terminal.",
    "--tsa (repeatable, tried in order) puts an RFC 3161 token from that TSA, checked against --tsa-ca, in",
    "the manifest signature. When no TSA gives one, the package is still written, without a token, and a",
    'warning says so (JSON: timestamp.status "missing").',
  ].join("\n"),
  options: {
    out: { type: "string" },
    case: { type: "string" },
    device: { type: "string" },
    name: { type: "string" },
    operator: { type: "string" },
    key: { type: "string" },
    cert: { type: "string" },
    "keys-dir": { type: "string" },
    "passphrase-file": { type: "string" },
    level: { type: "string" },
    ...tsaOptions,
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const dir = absolute(ctx, ctx.positionals[0] as string);
    const out = absolute(ctx, required(ctx, "out"));
    const name = ctx.string("name") ?? basename(out, extname(out));
    await assertOutputAbsent(out);
    const authorities = await tsaAuthoritiesFrom(ctx);
    const { signer, outcomes } = timestampedSigner(await packageSigner(ctx), authorities);
    const progress = ctx.progress();
    const started = Date.now();
    const caseId = ctx.string("case");
    const result = await packageDirectory(dir, out, {
      name,
      ...(caseId === undefined ? {} : { caseId }),
      device: { id: ctx.string("device") ?? hostname(), hostname: hostname() },
      collector: {
        operator: ctx.string("operator") ?? userInfo().username,
        tool: "custody package",
        toolVersion: "0.1.0",
        host: hostname(),
      },
      signer,
      level: level(ctx),
      onProgress: ({ files, bytes }) =>
        progress.update(`${files} files, ${formatBytes(bytes)}, ${rate(bytes, started)}`),
    });
    progress.done();
    const [timestamp] = reportOutcomes(ctx, outcomes);
    if (ctx.json) ctx.printJson({ ok: true, ...result, ...(timestamp === undefined ? {} : { timestamp }) });
    else
      ctx.out(
        `wrote ${result.file}: ${result.items} files, ${formatBytes(result.payloadBytes)} payload, manifest sha256 ${result.manifestSha256}`,
      );
    return 0;
  },
};

export function rate(bytes: number, startedMs: number): string {
  const seconds = Math.max((Date.now() - startedMs) / 1000, 0.001);
  return `${formatBytes(bytes / seconds)}/s`;
}

function level(ctx: CommandContext): number {
  const text = ctx.string("level") ?? "6";
  const value = Number(text);
  if (!Number.isInteger(value) || value < 0 || value > 9)
    throw new CustodyError("ERR_USAGE", `--level ${text} is not 0-9`);
  return value;
}

async function packageSigner(ctx: CommandContext): Promise<Signer> {
  const key = ctx.string("key") ?? ctx.env[KEY_ENV.signerKey];
  const cert = ctx.string("cert") ?? ctx.env[KEY_ENV.signerCert];
  let files: { keyFile: string; certFile: string };
  if (key !== undefined && cert !== undefined) {
    files = { keyFile: absolute(ctx, key), certFile: absolute(ctx, cert) };
  } else if (key !== undefined || cert !== undefined) {
    throw new CustodyError("ERR_USAGE", "give both a key and a certificate (--key and --cert)");
  } else {
    const dir = ctx.string("keys-dir") ?? ctx.env[KEY_ENV.keysDir];
    if (dir === undefined)
      throw new CustodyError(
        "ERR_USAGE",
        "no signer: give --key and --cert, --keys-dir, or set $CUSTODY_KEYS_DIR",
      );
    const base = join(absolute(ctx, dir), KEYS_LAYOUT.signerName);
    files = { keyFile: `${base}.key`, certFile: `${base}.pem` };
  }
  const secret = await passphrase(ctx);
  return withPassphraseHint(() =>
    loadSignerFromFiles({ ...files, ...(secret === undefined ? {} : { passphrase: secret }) }),
  );
}
