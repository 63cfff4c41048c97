import { createPublicKey, generateKeyPair, type KeyObject, sign, X509Certificate } from "node:crypto";
import { access, rm } from "node:fs/promises";
import { arch, hostname, platform } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { CustodyError, writeFileAtomic } from "@custody/core";
import forge from "node-forge";
import { z } from "zod";
import { deviceIdSchema } from "../schemas.js";
import { AGENT_VERSION } from "../version.js";
import { httpsCall, problemError } from "./http.js";
import { certificateSha256, fetchPinnedCa } from "./pin.js";
import { type AgentState, FILES, prepareDir } from "./state.js";

const SHA256_WITH_RSA = "1.2.840.113549.1.1.11";

export interface EnrollmentToken {
  tokenId: string;
  caSha256: string;
  raw: string;
}

/** `cet1.<tokenId>.<secret, base64url of 32 bytes>.<sha256 hex of the vault CA certificate>`. */
export function parseEnrollmentToken(token: string): EnrollmentToken {
  const match = /^cet1\.([A-Za-z0-9_-]{1,64})\.([A-Za-z0-9_-]{43})\.([0-9a-f]{64})$/.exec(token.trim());
  if (match === null)
    throw new CustodyError(
      "ERR_ENROLLMENT_TOKEN_INVALID",
      "not an enrollment token (cet1.<id>.<secret>.<ca sha256>)",
    );
  return { tokenId: match[1] as string, caSha256: match[3] as string, raw: token.trim() };
}

export function parseServerUrl(server: string): URL {
  let url: URL;
  try {
    url = new URL(server);
  } catch (cause) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `not a URL: ${server}`, { cause });
  }
  if (
    url.protocol !== "https:" ||
    url.username !== "" ||
    url.password !== "" ||
    (url.pathname !== "/" && url.pathname !== "") ||
    url.search !== ""
  )
    throw new CustodyError("ERR_INVALID_ARGUMENT", `the server must be https://HOST:PORT, not ${server}`);
  return new URL(url.origin);
}

/** A PKCS#10 request for `key`, laid out by forge and signed by node:crypto (proof of possession). */
export function createCsr(key: KeyObject, commonName: string): string {
  const csr = forge.pki.createCertificationRequest();
  csr.publicKey = forge.pki.publicKeyFromPem(
    createPublicKey(key).export({ type: "spki", format: "pem" }).toString(),
  );
  csr.setSubject([{ name: "commonName", value: commonName.slice(0, 64) || "custody-agent" }]);
  csr.signatureOid = SHA256_WITH_RSA;
  // present in forge, missing from its type declarations
  const info = (
    forge.pki as unknown as {
      getCertificationRequestInfo(c: forge.pki.CertificateSigningRequest): forge.asn1.Asn1;
    }
  ).getCertificationRequestInfo(csr);
  const der = Buffer.from(forge.asn1.toDer(info).getBytes(), "binary");
  csr.signature = sign("sha256", der, key).toString("binary");
  (csr as unknown as { certificationRequestInfo: forge.asn1.Asn1 }).certificationRequestInfo = info;
  return forge.pki.certificationRequestToPem(csr);
}

const enrolledSchema = z.object({
  deviceId: deviceIdSchema,
  certificatePem: z.string().max(64 * 1024),
  caPem: z.string().max(64 * 1024),
});

export interface EnrollOptions {
  server: string;
  token: string;
  dir: string;
  /** The vault CA certificate, when the server does not present it in its TLS chain; checked against the token. */
  caPem?: string;
  signal?: AbortSignal;
}

function checkIssued(answer: z.infer<typeof enrolledSchema>, key: KeyObject, caSha256: string): void {
  if (certificateSha256(answer.caPem) !== caSha256)
    throw new CustodyError("ERR_UNTRUSTED_SIGNER", "the server returned a CA other than the token's");
  const cert = new X509Certificate(answer.certificatePem);
  const ca = new X509Certificate(answer.caPem);
  if (!cert.checkPrivateKey(key))
    throw new CustodyError("ERR_MALFORMED_CERTIFICATE", "the certificate is not for this device's key");
  if (!cert.verify(ca.publicKey))
    throw new CustodyError("ERR_UNTRUSTED_SIGNER", "the device certificate is not signed by the vault CA");
  if (!cert.subject.split("\n").includes(`CN=${answer.deviceId}`))
    throw new CustodyError("ERR_MALFORMED_CERTIFICATE", "the certificate does not name the device id");
}

/**
 * Enrolls this device: makes its RSA-3072 key here (it never leaves), pins the vault CA by the token's
 * fingerprint before the token is sent, posts a CSR to /v1/enroll and stores certificate, CA, server
 * and device id in `dir`. A folder that already holds an enrollment is refused.
 */
export async function enrollAgent(options: EnrollOptions): Promise<AgentState> {
  const token = parseEnrollmentToken(options.token);
  const url = parseServerUrl(options.server);
  const exists = await access(join(options.dir, FILES.state)).then(
    () => true,
    () => false,
  );
  if (exists)
    throw new CustodyError(
      "ERR_ALREADY_EXISTS",
      `${options.dir} already holds an enrolled agent; use another --dir or remove it first`,
    );
  // fetchPinnedCa finds the CA by this very digest; only one given with --ca is checked here
  if (options.caPem !== undefined && certificateSha256(options.caPem) !== token.caSha256)
    throw new CustodyError("ERR_UNTRUSTED_SIGNER", "the CA certificate given is not the one the token names");
  const caPem = options.caPem ?? (await fetchPinnedCa(url, token.caSha256, options.signal));
  const { privateKey: key } = await promisify(generateKeyPair)("rsa", {
    modulusLength: 3072,
    publicExponent: 0x10001,
  });
  await prepareDir(options.dir);
  const keyPath = join(options.dir, FILES.key);
  await writeFileAtomic(keyPath, key.export({ type: "pkcs8", format: "pem" }).toString(), { mode: 0o600 });
  try {
    const body = JSON.stringify({
      token: token.raw,
      csrPem: createCsr(key, hostname()),
      facts: {
        hostname: hostname().slice(0, 255),
        os: platform(),
        arch: arch(),
        agentVersion: AGENT_VERSION,
      },
    });
    const { status, text } = await httpsCall({
      url: new URL("/v1/enroll", url),
      method: "POST",
      tls: { ca: [caPem], rejectUnauthorized: true },
      headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
      body,
      ...(options.signal === undefined ? {} : { signal: options.signal }),
    });
    if (status !== 201) throw problemError(status, text);
    const answer = enrolledSchema.parse(JSON.parse(text));
    checkIssued(answer, key, token.caSha256);
    const state: AgentState = {
      format: "custody.agent.state/v1",
      deviceId: answer.deviceId,
      serverUrl: url.origin,
      caSha256: token.caSha256,
      enrolledAt: new Date().toISOString(),
    };
    await writeFileAtomic(join(options.dir, FILES.certificate), answer.certificatePem, { mode: 0o644 });
    await writeFileAtomic(join(options.dir, FILES.ca), answer.caPem, { mode: 0o644 });
    await writeFileAtomic(join(options.dir, FILES.state), `${JSON.stringify(state, null, 2)}\n`, {
      mode: 0o600,
      exclusive: true,
    });
    return state;
  } catch (error) {
    await rm(keyPath, { force: true });
    throw error instanceof CustodyError
      ? error
      : new CustodyError("ERR_BACKEND_UNAVAILABLE", `enrollment failed: ${(error as Error).message}`, {
          cause: error,
        });
  }
}
