import { createPrivateKey, createPublicKey, type KeyObject, X509Certificate } from "node:crypto";
import { CustodyError } from "@custody/core";

/** The TLS material of an identity file: who the caller is, and whom it trusts as the server's CA. */
export interface TlsIdentity {
  /** The caller's certificate: the one whose public key matches the private key. */
  certificatePem: string;
  keyPem: string;
  /** The other certificates of the file: the vault CA that issued the identity (and the server's cert). */
  trustAnchorsPem: string[];
}

const PEM_BLOCK = /-----BEGIN ([A-Z0-9 ]+)-----[\s\S]+?-----END \1-----/g;

/**
 * Splits an identity file (certificate, private key, then the vault CA certificate) into TLS options.
 * The leaf is chosen by its key, never by position, so an extra certificate cannot change who logs in.
 */
export function parseTlsIdentity(bundle: string, passphrase?: string): TlsIdentity {
  const blocks = [...bundle.matchAll(PEM_BLOCK)];
  const keyPem = blocks.find((b) => b[1]?.endsWith("PRIVATE KEY"))?.[0];
  if (keyPem === undefined) throw invalid("an identity file needs a PRIVATE KEY block");
  const publicDer = publicKeyDer(privateKey(keyPem, passphrase));
  const certificates = blocks.filter((b) => b[1] === "CERTIFICATE").map((b) => b[0]);
  const leaves = [...new Set(certificates.filter((pem) => certificatePublicDer(pem).equals(publicDer)))];
  if (leaves.length !== 1) {
    throw invalid(
      leaves.length === 0
        ? "the identity file holds no certificate for its private key"
        : "the identity file holds several certificates for its private key",
    );
  }
  const leaf = leaves[0] as string;
  return {
    certificatePem: leaf,
    keyPem,
    trustAnchorsPem: [...new Set(certificates.filter((pem) => pem !== leaf))],
  };
}

function privateKey(keyPem: string, passphrase: string | undefined): KeyObject {
  if (keyPem.includes("ENCRYPTED") && passphrase === undefined) {
    throw new CustodyError(
      "ERR_PASSPHRASE_REQUIRED",
      "the identity key is encrypted: set CUSTODY_IDENTITY_PASSPHRASE",
    );
  }
  try {
    return createPrivateKey(passphrase === undefined ? keyPem : { key: keyPem, passphrase });
  } catch (cause) {
    throw invalid("the identity key cannot be read (wrong passphrase?)", cause);
  }
}

function publicKeyDer(key: KeyObject): Buffer {
  return createPublicKey(key).export({ type: "spki", format: "der" });
}

function certificatePublicDer(pem: string): Buffer {
  try {
    return new X509Certificate(pem).publicKey.export({ type: "spki", format: "der" });
  } catch (cause) {
    throw invalid("a certificate of the identity file cannot be parsed", cause);
  }
}

function invalid(message: string, cause?: unknown): CustodyError {
  return new CustodyError("ERR_IDENTITY_INVALID", message, cause === undefined ? {} : { cause });
}
