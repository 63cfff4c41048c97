import { createPrivateKey, generateKeyPair, type KeyObject, X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { promisify } from "node:util";
import { CustodyError, writeFileAtomic } from "@custody/core";
import { CERTIFICATE_ROLE_OIDS, certificateRoles, createKeySigner, type Signer } from "@custody/manifest";
import { z } from "zod";
import type { CollectorSignerSource } from "../commands/collect.js";
import { createCsr } from "./enroll.js";
import { httpsCall, problemError } from "./http.js";
import { type AgentIdentity, FILES } from "./state.js";

/** A certificate this close to its end is renewed before it signs. */
const RENEW_BEFORE_MS = 24 * 3_600_000;
export const COLLECTOR_CERTIFICATE_PATH = "/v1/agent/collector-certificate";

const issuedSchema = z.object({ certificatePem: z.string().max(64 * 1024) });

/**
 * Why `certificatePem` is not this device's usable collector certificate for `key`, or undefined: signed
 * by the pinned vault CA, CN this device's id, the device-collector role (and no other), this key, and
 * valid for at least another day.
 */
export function collectorCertificateProblem(
  certificatePem: string,
  key: KeyObject,
  identity: AgentIdentity,
  now = Date.now(),
): string | undefined {
  let cert: X509Certificate;
  try {
    cert = new X509Certificate(certificatePem);
  } catch {
    return "not a certificate";
  }
  if (!cert.verify(new X509Certificate(identity.caPem).publicKey)) return "not signed by the pinned vault CA";
  if (!cert.subject.split("\n").includes(`CN=${identity.state.deviceId}`)) return "does not name this device";
  const roles = certificateRoles(cert);
  if (roles.length !== 1 || roles[0] !== "device-collector")
    return `holds ${roles.join(", ") || "no role"}, not only ${CERTIFICATE_ROLE_OIDS["device-collector"]}`;
  if (!cert.checkPrivateKey(key)) return "is not for this device's collector key";
  if (Date.parse(cert.validTo) - RENEW_BEFORE_MS < now) return "expires within a day";
  if (Date.parse(cert.validFrom) > now + 5 * 60_000) return "is not valid yet";
  return undefined;
}

async function readKept(
  identity: AgentIdentity,
): Promise<{ key: KeyObject; certificatePem: string } | undefined> {
  try {
    const [keyPem, certificatePem] = await Promise.all([
      readFile(join(identity.dir, FILES.collectorKey), "utf8"),
      readFile(join(identity.dir, FILES.collectorCertificate), "utf8"),
    ]);
    const key = createPrivateKey(keyPem);
    return collectorCertificateProblem(certificatePem, key, identity) === undefined
      ? { key, certificatePem }
      : undefined;
  } catch {
    return undefined;
  }
}

/** A new key made here, a CSR for it, and the certificate the server's vault CA issues to this device. */
async function obtain(identity: AgentIdentity, signal: AbortSignal) {
  const { privateKey: key } = await promisify(generateKeyPair)("rsa", {
    modulusLength: 3072,
    publicExponent: 0x10001,
  });
  const body = JSON.stringify({ csrPem: createCsr(key, identity.state.deviceId) });
  const { status, text } = await httpsCall({
    url: new URL(COLLECTOR_CERTIFICATE_PATH, identity.state.serverUrl),
    method: "POST",
    tls: {
      cert: identity.certificatePem,
      key: identity.keyPem,
      ca: [identity.caPem],
      rejectUnauthorized: true,
    },
    headers: { "content-type": "application/json", "content-length": Buffer.byteLength(body) },
    body,
    signal,
  });
  if (status !== 201) throw problemError(status, text);
  const { certificatePem } = issuedSchema.parse(JSON.parse(text));
  const problem = collectorCertificateProblem(certificatePem, key, identity);
  if (problem !== undefined)
    throw new CustodyError(
      "ERR_UNTRUSTED_SIGNER",
      `the collector certificate the server returned ${problem}`,
    );
  await writeFileAtomic(
    join(identity.dir, FILES.collectorKey),
    key.export({ type: "pkcs8", format: "pem" }).toString(),
    { mode: 0o600 },
  );
  await writeFileAtomic(join(identity.dir, FILES.collectorCertificate), certificatePem, { mode: 0o644 });
  return { key, certificatePem };
}

/**
 * This device's package signer: the key and device-collector certificate kept in the agent's folder,
 * or, when there is none or it is about to expire, a new key and a certificate asked of the server
 * (`POST /v1/agent/collector-certificate` with the device's mTLS identity). One request at a time.
 */
export function collectorSigner(identity: AgentIdentity): CollectorSignerSource {
  let pending: Promise<Signer> | undefined;
  const load = async (signal: AbortSignal): Promise<Signer> => {
    const kept = (await readKept(identity)) ?? (await obtain(identity, signal));
    return createKeySigner({
      keyPem: kept.key.export({ type: "pkcs8", format: "pem" }).toString(),
      certificatePem: kept.certificatePem,
    });
  };
  return (signal) => {
    pending ??= load(signal).finally(() => {
      pending = undefined;
    });
    return pending;
  };
}
