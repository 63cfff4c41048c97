import { createPrivateKey, generateKeyPair, type KeyObject } from "node:crypto";
import { promisify } from "node:util";
import { CustodyError } from "@custody/core";

const generateKeyPairAsync = promisify(generateKeyPair);

/** RSA keys through OpenSSL (node:crypto), never forge's pure-JS keygen, which takes seconds per key. */
export async function generateRsaKey(bits: number): Promise<KeyObject> {
  if (!Number.isInteger(bits) || bits < 2048 || bits > 8192) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `RSA key size must be 2048 to 8192 bits, not ${bits}`);
  }
  const { privateKey } = await generateKeyPairAsync("rsa", { modulusLength: bits, publicExponent: 0x10001 });
  return privateKey;
}

/** PKCS#8 PEM, encrypted with AES-256-CBC (PBES2) when a passphrase is given. */
export function exportPrivateKey(key: KeyObject, passphrase?: string): string {
  if (passphrase === undefined) return key.export({ type: "pkcs8", format: "pem" }).toString();
  if (passphrase.length === 0) throw new CustodyError("ERR_INVALID_ARGUMENT", "the passphrase is empty");
  return key.export({ type: "pkcs8", format: "pem", cipher: "aes-256-cbc", passphrase }).toString();
}

export function isEncryptedKeyPem(pem: string): boolean {
  return pem.includes("-----BEGIN ENCRYPTED PRIVATE KEY-----") || pem.includes("Proc-Type: 4,ENCRYPTED");
}

/** Loads a private key once; a missing or wrong passphrase is ERR_PASSPHRASE_REQUIRED, junk ERR_MALFORMED_KEY. */
export function loadPrivateKey(pem: string, passphrase?: string): KeyObject {
  const encrypted = isEncryptedKeyPem(pem);
  if (encrypted && passphrase === undefined) {
    throw new CustodyError(
      "ERR_PASSPHRASE_REQUIRED",
      "the private key is encrypted; a passphrase is required",
      {
        details: { reason: "missing" },
      },
    );
  }
  try {
    return createPrivateKey(
      encrypted ? { key: pem, format: "pem", passphrase } : { key: pem, format: "pem" },
    );
  } catch (cause) {
    if (encrypted) {
      throw new CustodyError(
        "ERR_PASSPHRASE_REQUIRED",
        "the private key cannot be decrypted: wrong passphrase",
        {
          cause,
          details: { reason: "wrong" },
        },
      );
    }
    throw new CustodyError(
      "ERR_MALFORMED_KEY",
      "the private key cannot be read (expected PKCS#8 or PKCS#1 PEM)",
      {
        cause,
      },
    );
  }
}
