import { mkdir, readFile, unlink } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, toCustodyError, writeFileAtomic } from "@custody/core";
import { exportPrivateKey, isEncryptedKeyPem, loadPrivateKey } from "./keys.js";

export interface KeyPair {
  certificatePem: string;
  keyPem: string;
}

export interface KeyPairFiles {
  keyFile: string;
  certFile: string;
}

const NAME = /^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$/;

/** Where `name`'s files live in `dir`: NAME.key (0600) and NAME.pem. */
export function keyPairFiles(dir: string, name: string): KeyPairFiles {
  if (!NAME.test(name) || name.includes("..")) {
    throw new CustodyError(
      "ERR_INVALID_ARGUMENT",
      `key name ${JSON.stringify(name)} must match ${NAME.source}`,
    );
  }
  return { keyFile: join(dir, `${name}.key`), certFile: join(dir, `${name}.pem`) };
}

/**
 * Writes a key pair without ever replacing one (ERR_ALREADY_EXISTS). The key file is created 0600 and, with a
 * passphrase, holds encrypted PKCS#8; both files appear whole or not at all.
 */
export async function writeKeyPair(
  dir: string,
  name: string,
  pair: KeyPair,
  options: { passphrase?: string } = {},
): Promise<KeyPairFiles> {
  const files = keyPairFiles(dir, name);
  const keyPem =
    options.passphrase !== undefined && !isEncryptedKeyPem(pair.keyPem)
      ? exportPrivateKey(loadPrivateKey(pair.keyPem), options.passphrase)
      : pair.keyPem;
  await mkdir(dir, { recursive: true, mode: 0o700 }).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot create ${dir}`);
  });
  await writeFileAtomic(files.keyFile, keyPem, { mode: 0o600, exclusive: true });
  try {
    await writeFileAtomic(files.certFile, pair.certificatePem, { mode: 0o644, exclusive: true });
  } catch (error) {
    await unlink(files.keyFile).catch(() => undefined);
    throw error;
  }
  return files;
}

/**
 * Reads NAME.key and NAME.pem as stored (the key stays encrypted). With a passphrase, the key is opened once
 * to prove it (ERR_PASSPHRASE_REQUIRED otherwise) and the passphrase is carried along, so the result can be
 * handed to issueCertificate or createCrl as a CertificateAuthority, or to createKeySigner.
 */
export async function readKeyPair(
  dir: string,
  name: string,
  options: { passphrase?: string } = {},
): Promise<KeyPair & KeyPairFiles & { passphrase?: string }> {
  const files = keyPairFiles(dir, name);
  const [keyPem, certificatePem] = await Promise.all([readText(files.keyFile), readText(files.certFile)]);
  if (options.passphrase === undefined) return { ...files, keyPem, certificatePem };
  loadPrivateKey(keyPem, options.passphrase);
  return { ...files, keyPem, certificatePem, passphrase: options.passphrase };
}

async function readText(file: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read ${file}`);
  }
}
