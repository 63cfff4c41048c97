import { createHash, X509Certificate } from "node:crypto";
import { createReadStream } from "node:fs";
import { stat } from "node:fs/promises";
import { type Clock, CustodyError, fixedClock, isCustodyError, toCustodyError } from "@custody/core";
import {
  parseCrl,
  type SignatureInfo,
  type SignatureTimestampOptions,
  signatureDigestAlgorithm,
  verifyDetachedDigest,
} from "@custody/manifest";
import type { CommandContext } from "../command.js";
import { absolute, readText } from "./key-files.js";
import { signatureTime, tsaTrustFrom } from "./tsa-options.js";

/** Detached signatures are small; anything larger is not one (and is not read into memory). */
const MAX_SIGNATURE_BYTES = 1024 * 1024;

/** Options `custody verify` declares for this half; the archive half may add its own. */
export const verifySignatureOptions = {
  signature: { type: "string" },
  ca: { type: "string", multiple: true },
  crl: { type: "string", multiple: true },
  at: { type: "string" },
  "tsa-ca": { type: "string", multiple: true },
} as const;

/**
 * `custody verify FILE [--signature FILE.p7s] --ca ca.pem [--crl crl.pem] [--at TIME] [--json]`: checks a
 * detached CMS signature offline. Exit 0 when valid; 1 with the reason (code and message) when not.
 */
export async function runVerifySignature(ctx: CommandContext): Promise<number> {
  const file = absolute(ctx, ctx.positionals[0] as string);
  const signatureFile = absolute(ctx, ctx.string("signature") ?? `${file}.p7s`);
  const trust = await trustFrom(ctx);
  const signature = await readSignature(signatureFile);
  let info: SignatureInfo;
  try {
    const hash = signatureDigestAlgorithm(signature, trust.allowedAlgorithms);
    const digest = await digestFile(file, hash);
    info = verifyDetachedDigest((wanted) => (wanted === hash ? digest : Buffer.alloc(0)), signature, trust);
  } catch (error) {
    if (!isCustodyError(error) || error.code === "ERR_IO" || error.code === "ERR_NOT_FOUND") throw error;
    return invalid(ctx, file, signatureFile, error);
  }
  const result = {
    ok: true,
    file,
    signature: signatureFile,
    signer: info.signer,
    signingTime: info.signingTime.toISOString(),
    chain: info.certificateChain.map((pem) => subjectOf(pem)),
    timestamp: signatureTime(info).json,
  };
  if (ctx.json) ctx.printJson(result);
  else
    ctx.out(
      `valid: ${file} signed by ${info.signer.subject} at ${result.signingTime}; ${signatureTime(info).text}`,
    );
  return 0;
}

function invalid(ctx: CommandContext, file: string, signature: string, error: CustodyError): number {
  if (ctx.json) ctx.printJson({ ok: false, file, signature, error: error.toJSON() });
  ctx.err(`invalid: ${file}: ${error.code}: ${error.message}`);
  return 1;
}

interface CliTrust {
  trustAnchors: string[];
  crls: string[];
  clock?: Clock;
  allowedAlgorithms?: string[];
  timestamp?: SignatureTimestampOptions;
}

// trust inputs are the user's own files: a broken one is a usage error (exit 2), not an invalid signature
async function trustFrom(ctx: CommandContext): Promise<CliTrust> {
  const caFiles = ctx.strings("ca");
  if (caFiles.length === 0)
    throw new CustodyError("ERR_USAGE", "--ca is required (the CA certificate to trust)");
  const trustAnchors = await Promise.all(caFiles.map((f) => readText(absolute(ctx, f), "CA file")));
  trustAnchors.forEach((pem, i) => {
    if (!pem.includes("-----BEGIN CERTIFICATE-----")) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `--ca ${caFiles[i]} holds no PEM certificate`);
    }
  });
  const crlFiles = ctx.strings("crl");
  const crls = await Promise.all(crlFiles.map((f) => readText(absolute(ctx, f), "CRL file")));
  crls.forEach((pem, i) => {
    try {
      parseCrl(pem);
    } catch (cause) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `--crl ${crlFiles[i]} is not a PEM CRL`, { cause });
    }
  });
  const timestamp = await tsaTrustFrom(ctx);
  const base = { trustAnchors, crls, ...(timestamp === undefined ? {} : { timestamp }) };
  const at = ctx.string("at");
  if (at === undefined) return base;
  if (Number.isNaN(Date.parse(at)))
    throw new CustodyError("ERR_USAGE", `--at ${JSON.stringify(at)} is not a time`);
  return { ...base, clock: fixedClock(at) };
}

async function readSignature(file: string): Promise<Buffer> {
  const info = await stat(file).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot read the signature ${file}`);
  });
  if (info.size > MAX_SIGNATURE_BYTES) {
    throw new CustodyError(
      "ERR_SIZE_LIMIT",
      `${file} is ${info.size} bytes, too large for a detached signature`,
    );
  }
  const chunks: Buffer[] = [];
  for await (const chunk of createReadStream(file)) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

async function digestFile(file: string, algorithm: string): Promise<Buffer> {
  const hash = createHash(algorithm);
  try {
    for await (const chunk of createReadStream(file)) hash.update(chunk as Buffer);
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${file}`);
  }
  return hash.digest();
}

function subjectOf(pem: string): string {
  return new X509Certificate(pem).subject;
}
