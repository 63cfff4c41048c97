import { X509Certificate } from "node:crypto";
import { join } from "node:path";
import { CustodyError } from "@custody/core";
import {
  CERTIFICATE_ROLES,
  type CertificateAuthority,
  type CertificateUsage,
  certificateRoles,
  createCertificateAuthority,
  createCrl,
  initRevocationList,
  issueCertificate,
  readKeyPair,
  revokeCertificates,
  writeKeyPair,
} from "@custody/manifest";
import type { CommandContext, CommandSpec } from "../command.js";
import {
  absolute,
  assertAbsent,
  caFiles,
  KEY_ENV,
  KEYS_LAYOUT,
  passphrase,
  positiveInteger,
  readText,
  required,
  withPassphraseHint,
} from "./key-files.js";

const PASSPHRASE_OPTION = { "passphrase-file": { type: "string" } } as const;

// "signer" and "client" are the names older scripts use for a collector and a person; "code-signing" names
// the script signer (its own role OID: collector and vault-signer certificates never sign scripts)
const USAGES: readonly string[] = [...CERTIFICATE_ROLES, "signer", "client", "code-signing"];

export const keysInitCommand: CommandSpec = {
  path: ["keys", "init"],
  summary: "create a vault CA, a collector (signer) certificate and an empty CRL in a new keys directory",
  usage: [
    "--dir DIR [--cn NAME] [--key-bits 3072] [--valid-days 3650] [--passphrase-file FILE]",
    "",
    `Writes DIR/ca.{key,pem}, DIR/signer.{key,pem} (a collector certificate) and DIR/${KEYS_LAYOUT.crl}.`,
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
    await assertAbsent(dir, [...Object.values(caFiles(dir)), ...signerFiles, KEYS_LAYOUT.crl]);
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
      usage: "collector",
      keyBits,
    });
    await writeKeyPair(dir, KEYS_LAYOUT.caName, ca, withSecret);
    await writeKeyPair(dir, KEYS_LAYOUT.signerName, signer, withSecret);
    await initRevocationList({ crlPath: join(dir, KEYS_LAYOUT.crl), ca });
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
  summary:
    "issue a certificate for one role (collector, vault signer, script signer, person, device, server)",
  usage: [
    "--dir DIR --name NAME --usage ROLE [--out DIR] [--cn CN] [--key-bits 3072] [--valid-days 730]",
    "",
    "ROLE is what the certificate may do; each role carries its own extended key usage OID:",
    "  collector      signs investigation packages (digitalSignature, nonRepudiation; emailProtection)",
    "  vault-signer   signs audit checkpoints and custody reports (as collector, its own OID)",
    "  script-signer  signs library scripts (digitalSignature; codeSigning)",
    "  person         logs a person in; never signs (digitalSignature, keyEncipherment; clientAuth)",
    "  device         an enrolled device's identity; never signs (as person, its own OID)",
    "  server         a server's TLS identity; never signs (digitalSignature, keyEncipherment; serverAuth)",
    "`signer` is accepted for collector, `client` for person and `code-signing` for script-signer.",
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
    if (!USAGES.includes(usage))
      throw new CustodyError("ERR_USAGE", `--usage must be one of ${USAGES.join(", ")}`);
    const name = required(ctx, "name");
    const ca = await loadCa(ctx);
    const out = absolute(ctx, ctx.string("out") ?? required(ctx, "dir"));
    const issued = await issueCertificate(ca, {
      commonName: ctx.string("cn") ?? name,
      usage: usage as CertificateUsage,
      keyBits: positiveInteger(ctx, "key-bits", 3072),
      validDays: positiveInteger(ctx, "valid-days", 730),
    });
    const files = await writeKeyPair(
      out,
      name,
      issued,
      ca.passphrase === undefined ? {} : { passphrase: ca.passphrase },
    );
    const [role] = certificateRoles(issued.certificatePem);
    const result = { ...files, usage, role, ...describe(issued.certificatePem) };
    if (ctx.json) ctx.printJson({ ok: true, ...result });
    else
      ctx.out(
        `issued ${role} certificate ${result.subject} (serial ${result.serialNumber}): ${files.certFile}`,
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
    `Adds the certificate's serial to DIR/${KEYS_LAYOUT.crl}, the signed list that is the only record of`,
    "revocations: the list is checked against the CA first (a corrupt or foreign one is refused), then",
    "replaced whole and durably, so a crash leaves the old list or the new one. Revoking twice is harmless.",
    "Pass the CRL to `custody verify --crl`. A signature by a revoked certificate is refused whatever its date.",
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
    const crl = join(dir, KEYS_LAYOUT.crl);
    const serialNumber = target.serialNumber.toLowerCase();
    const result = await revokeCertificates({ crlPath: crl, ca, entries: [{ serialNumber }] });
    const revoked = result.revoked.map((entry) => ({
      serialNumber: entry.serialNumber.toLowerCase(),
      revokedAt: entry.revokedAt.toISOString(),
    }));
    const added = result.added.length > 0;
    if (ctx.json) {
      ctx.printJson({
        ok: true,
        certificate: { subject: target.subject, serialNumber },
        added,
        revoked,
        crl,
      });
    } else {
      const already = added ? "" : " (already revoked)";
      ctx.out(
        `revoked ${target.subject} (serial ${serialNumber})${already}; ${revoked.length} revoked in ${crl}`,
      );
    }
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
