import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import {
  type CertificateAuthority,
  createCertificateAuthority,
  createCrl,
  issueCertificate,
  readKeyPair,
  writeKeyPair,
} from "@custody/manifest";
import { z } from "zod";
import type { CommandContext, CommandSpec } from "../command.js";
import {
  absolute,
  assertAbsent,
  caFiles,
  createFile,
  KEY_ENV,
  KEYS_LAYOUT,
  passphrase,
  positiveInteger,
  readText,
  replaceFile,
  required,
  withPassphraseHint,
} from "./key-files.js";

const PASSPHRASE_OPTION = { "passphrase-file": { type: "string" } } as const;

const revokedListSchema = z.strictObject({
  version: z.literal(1),
  revoked: z.array(
    z.strictObject({
      serialNumber: z.string().regex(/^[0-9a-f]+$/),
      revokedAt: z.iso.datetime(),
      subject: z.string(),
    }),
  ),
});
type RevokedList = z.infer<typeof revokedListSchema>;

export const keysInitCommand: CommandSpec = {
  path: ["keys", "init"],
  summary: "create a vault CA, a signer certificate and an empty CRL in a new keys directory",
  usage: [
    "--dir DIR [--cn NAME] [--key-bits 3072] [--valid-days 3650] [--passphrase-file FILE]",
    "",
    `Writes DIR/ca.{key,pem}, DIR/signer.{key,pem}, DIR/${KEYS_LAYOUT.crl} and DIR/${KEYS_LAYOUT.revoked}.`,
    "Keys are PKCS#8, mode 0600, encrypted with AES-256 when a passphrase is given",
    `(--passphrase-file, or $${KEY_ENV.passphrase}). Existing keys are never replaced.`,
    `Give DIR/ca.pem to whoever verifies; \`custody sign\` finds the signer through $${KEY_ENV.keysDir}.`,
  ].join("\n"),
  options: {
    dir: { type: "string" },
    cn: { type: "string" },
    "key-bits": { type: "string" },
    "valid-days": { type: "string" },
    ...PASSPHRASE_OPTION,
  },
  async run(ctx) {
    const dir = absolute(ctx, required(ctx, "dir"));
    const secret = await passphrase(ctx);
    // refuse before spending seconds on key generation, and before writing anything
    const signerFiles = [`${KEYS_LAYOUT.signerName}.key`, `${KEYS_LAYOUT.signerName}.pem`];
    await assertAbsent(dir, [
      ...Object.values(caFiles(dir)),
      ...signerFiles,
      KEYS_LAYOUT.crl,
      KEYS_LAYOUT.revoked,
    ]);
    const keyBits = positiveInteger(ctx, "key-bits", 3072);
    const commonName = ctx.string("cn") ?? "custody vault CA";
    const ca = await createCertificateAuthority({
      commonName,
      keyBits,
      validDays: positiveInteger(ctx, "valid-days", 3650),
    });
    const withSecret = secret === undefined ? {} : { passphrase: secret };
    const signer = await issueCertificate(ca, {
      commonName: `${commonName} signer`,
      usage: "signer",
      keyBits,
    });
    await writeKeyPair(dir, KEYS_LAYOUT.caName, ca, withSecret);
    await writeKeyPair(dir, KEYS_LAYOUT.signerName, signer, withSecret);
    await createFile(join(dir, KEYS_LAYOUT.crl), createCrl(ca, []));
    await createFile(join(dir, KEYS_LAYOUT.revoked), `${JSON.stringify({ version: 1, revoked: [] })}\n`);
    const result = {
      dir,
      ca: describe(ca.certificatePem),
      signer: describe(signer.certificatePem),
      encrypted: secret !== undefined,
    };
    if (ctx.json) ctx.printJson({ ok: true, ...result });
    else ctx.out(`created CA ${result.ca.subject} and signer ${result.signer.subject} in ${dir}`);
    return 0;
  },
};

export const keysIssueCommand: CommandSpec = {
  path: ["keys", "issue"],
  summary: "issue a signer or client certificate from the vault CA",
  usage: [
    "--dir DIR --name NAME --usage signer|client [--out DIR] [--cn CN] [--key-bits 3072] [--valid-days 730]",
    "",
    "Writes OUT/NAME.key (0600) and OUT/NAME.pem; OUT is DIR when not given.",
    `The CA key and the new key use the same passphrase (--passphrase-file or $${KEY_ENV.passphrase}).`,
  ].join("\n"),
  options: {
    dir: { type: "string" },
    name: { type: "string" },
    usage: { type: "string" },
    out: { type: "string" },
    cn: { type: "string" },
    "key-bits": { type: "string" },
    "valid-days": { type: "string" },
    ...PASSPHRASE_OPTION,
  },
  async run(ctx) {
    const usage = required(ctx, "usage");
    if (usage !== "signer" && usage !== "client")
      throw new CustodyError("ERR_USAGE", "--usage must be signer or client");
    const name = required(ctx, "name");
    const ca = await loadCa(ctx);
    const out = absolute(ctx, ctx.string("out") ?? required(ctx, "dir"));
    const issued = await issueCertificate(ca, {
      commonName: ctx.string("cn") ?? name,
      usage,
      keyBits: positiveInteger(ctx, "key-bits", 3072),
      validDays: positiveInteger(ctx, "valid-days", 730),
    });
    const files = await writeKeyPair(
      out,
      name,
      issued,
      ca.passphrase === undefined ? {} : { passphrase: ca.passphrase },
    );
    const result = { ...files, usage, ...describe(issued.certificatePem) };
    if (ctx.json) ctx.printJson({ ok: true, ...result });
    else
      ctx.out(
        `issued ${usage} certificate ${result.subject} (serial ${result.serialNumber}): ${files.certFile}`,
      );
    return 0;
  },
};

export const keysRevokeCommand: CommandSpec = {
  path: ["keys", "revoke"],
  summary: "revoke a certificate issued by the vault CA and rewrite the CRL",
  usage: [
    "--dir DIR --cert FILE [--passphrase-file FILE]",
    "",
    `Adds the certificate to DIR/${KEYS_LAYOUT.revoked} and replaces DIR/${KEYS_LAYOUT.crl} with a newly signed CRL.`,
    "Revoking a certificate twice is harmless. Pass the CRL to `custody verify --crl`.",
  ].join("\n"),
  options: { dir: { type: "string" }, cert: { type: "string" }, ...PASSPHRASE_OPTION },
  async run(ctx) {
    const dir = absolute(ctx, required(ctx, "dir"));
    const ca = await loadCa(ctx);
    const target = parseCertificate(await readText(absolute(ctx, required(ctx, "cert")), "certificate"));
    const caCert = new X509Certificate(ca.certificatePem);
    if (!target.checkIssued(caCert) || !target.verify(caCert.publicKey)) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", `${target.subject} was not issued by the CA in ${dir}`);
    }
    const list = await readRevoked(dir);
    const serialNumber = target.serialNumber.toLowerCase();
    if (!list.revoked.some((entry) => entry.serialNumber === serialNumber)) {
      list.revoked.push({ serialNumber, revokedAt: new Date().toISOString(), subject: target.subject });
    }
    const crl = createCrl(
      ca,
      list.revoked.map((entry) => ({
        serialNumber: entry.serialNumber,
        revokedAt: new Date(entry.revokedAt),
      })),
    );
    // the list is written first: a crash between the two leaves a CRL that the next revoke rebuilds
    await replaceFile(join(dir, KEYS_LAYOUT.revoked), `${JSON.stringify(list, null, 2)}\n`);
    await replaceFile(join(dir, KEYS_LAYOUT.crl), crl);
    if (ctx.json) ctx.printJson({ ok: true, revoked: list.revoked, crl: join(dir, KEYS_LAYOUT.crl) });
    else
      ctx.out(
        `revoked ${target.subject} (serial ${serialNumber}); ${list.revoked.length} revoked in ${KEYS_LAYOUT.crl}`,
      );
    return 0;
  },
};

async function loadCa(ctx: CommandContext): Promise<CertificateAuthority> {
  const dir = absolute(ctx, required(ctx, "dir"));
  const secret = await passphrase(ctx);
  // the key is opened here, so a passphrase problem is reported before any work
  return withPassphraseHint(async () => {
    const ca = await readKeyPair(dir, KEYS_LAYOUT.caName, secret === undefined ? {} : { passphrase: secret });
    if (secret === undefined) createCrl(ca, []);
    return ca;
  });
}

async function readRevoked(dir: string): Promise<RevokedList> {
  const text = await readText(join(dir, KEYS_LAYOUT.revoked), "revocation list");
  const parsed = revokedListSchema.safeParse(parseJson(text));
  if (!parsed.success) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `${join(dir, KEYS_LAYOUT.revoked)} is not a custody revocation list`,
    );
  }
  return parsed.data;
}

function parseJson(text: string): unknown {
  try {
    return JSON.parse(text);
  } catch {
    return undefined; // reported by the schema check as "not a revocation list"
  }
}

function parseCertificate(pem: string): X509Certificate {
  try {
    return new X509Certificate(pem);
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", "--cert is not a PEM certificate", { cause });
  }
}

function describe(pem: string): { subject: string; serialNumber: string; fingerprintSha256: string } {
  const cert = new X509Certificate(pem);
  return {
    subject: cert.subject,
    serialNumber: cert.serialNumber.toLowerCase(),
    fingerprintSha256: cert.fingerprint256.replaceAll(":", "").toLowerCase(),
  };
}
