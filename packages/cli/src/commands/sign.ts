import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { join } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";
import { loadSignerFromFiles, type Signer } from "@custody/manifest";
import type { CommandContext, CommandSpec } from "../command.js";
import {
  absolute,
  assertAbsent,
  createFile,
  KEY_ENV,
  KEYS_LAYOUT,
  passphrase,
  withPassphraseHint,
} from "./key-files.js";

export const signCommand: CommandSpec = {
  path: ["sign"],
  summary: "write a detached CMS signature (FILE.p7s) over a file",
  usage: [
    "FILE [--key KEY --cert CERT | --keys-dir DIR] [--out FILE.p7s] [--passphrase-file F]",
    "",
    "The signer is taken from, in order: --key and --cert; $CUSTODY_SIGNER_KEY and $CUSTODY_SIGNER_CERT;",
    `signer.key and signer.pem in --keys-dir or $${KEY_ENV.keysDir} (made by \`custody keys init\`).`,
    `An encrypted key is opened with --passphrase-file or $${KEY_ENV.passphrase}.`,
    "The file is hashed as a stream; the signature is DER CMS SignedData (SHA-256, signingTime) that",
    "`openssl cms -verify -binary -inform DER -content FILE -in FILE.p7s -CAfile ca.pem` accepts (add",
    "`-purpose any` for a script signer's signature or a certificate without emailProtection).",
    "An existing signature file is never replaced. Only a signing certificate (collector, vault-signer,",
    "script-signer) may sign: an identity (person, device, server) is refused before anything is signed.",
  ].join("\n"),
  options: {
    key: { type: "string" },
    cert: { type: "string" },
    "keys-dir": { type: "string" },
    out: { type: "string" },
    "passphrase-file": { type: "string" },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = absolute(ctx, ctx.positionals[0] as string);
    const out = absolute(ctx, ctx.string("out") ?? `${file}.p7s`);
    const files = signerFiles(ctx);
    // refused before the key is opened or the file read
    await assertAbsent(ctx.cwd, [out], "a signature file is never replaced");
    const signer = await resolveSigner(ctx, files);
    const signature = await signFile(signer, file);
    await createFile(out, signature);
    if (ctx.json) ctx.printJson({ ok: true, file, signature: out, bytes: signature.length });
    else ctx.out(`signed ${file}: ${out}`);
    return 0;
  },
};

async function resolveSigner(
  ctx: CommandContext,
  files: { keyFile: string; certFile: string },
): Promise<Signer> {
  const secret = await passphrase(ctx);
  return withPassphraseHint(() =>
    loadSignerFromFiles({ ...files, ...(secret === undefined ? {} : { passphrase: secret }) }),
  );
}

function signerFiles(ctx: CommandContext): { keyFile: string; certFile: string } {
  const key = ctx.string("key") ?? ctx.env[KEY_ENV.signerKey];
  const cert = ctx.string("cert") ?? ctx.env[KEY_ENV.signerCert];
  if (key !== undefined || cert !== undefined) {
    if (key === undefined || cert === undefined) {
      throw new CustodyError("ERR_USAGE", "give both a key and a certificate (--key and --cert)");
    }
    return { keyFile: absolute(ctx, key), certFile: absolute(ctx, cert) };
  }
  const dir = ctx.string("keys-dir") ?? ctx.env[KEY_ENV.keysDir];
  if (dir === undefined) {
    throw new CustodyError(
      "ERR_USAGE",
      `no signer: give --key and --cert, --keys-dir, or set $${KEY_ENV.keysDir}`,
    );
  }
  const base = join(absolute(ctx, dir), KEYS_LAYOUT.signerName);
  return { keyFile: `${base}.key`, certFile: `${base}.pem` };
}

/** Streams the file through SHA-256 and signs the digest: memory stays flat whatever the file size. */
async function signFile(signer: Signer, file: string): Promise<Buffer> {
  const hash = createHash("sha256");
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${file}`);
  }
  const digest = hash.digest();
  if (signer.signDigest !== undefined) return signer.signDigest(digest);
  throw new CustodyError("ERR_INTERNAL", "this signer cannot sign a streamed digest");
}
