import { access, readFile } from "node:fs/promises";
import { isAbsolute, join, resolve } from "node:path";
import { CustodyError, toCustodyError, writeFileAtomic } from "@custody/core";
import type { CommandContext } from "../command.js";

/** Files of a keys directory made by `custody keys init`. */
export const KEYS_LAYOUT = {
  caName: "ca",
  signerName: "signer",
  crl: "crl.pem",
} as const;

/** Environment variables the key commands read (documented in `custody keys init --help`). */
export const KEY_ENV = {
  passphrase: "CUSTODY_KEY_PASSPHRASE",
  keysDir: "CUSTODY_KEYS_DIR",
  signerKey: "CUSTODY_SIGNER_KEY",
  signerCert: "CUSTODY_SIGNER_CERT",
} as const;

export function absolute(ctx: CommandContext, path: string): string {
  return isAbsolute(path) ? path : resolve(ctx.cwd, path);
}

export function required(ctx: CommandContext, name: string): string {
  const value = ctx.string(name);
  if (value === undefined || value.length === 0) throw new CustodyError("ERR_USAGE", `--${name} is required`);
  return value;
}

/** The key passphrase: --passphrase-file (first line), else $CUSTODY_KEY_PASSPHRASE, else none. */
export async function passphrase(ctx: CommandContext): Promise<string | undefined> {
  const file = ctx.string("passphrase-file");
  if (file !== undefined) {
    const text = await readFile(absolute(ctx, file), "utf8").catch((cause: unknown) => {
      throw toCustodyError(cause, "ERR_IO", `cannot read the passphrase file ${file}`);
    });
    const line = text.split(/\r?\n/)[0] ?? "";
    if (line.length === 0) throw new CustodyError("ERR_USAGE", `the passphrase file ${file} is empty`);
    return line;
  }
  const fromEnv = ctx.env[KEY_ENV.passphrase];
  return fromEnv === undefined || fromEnv.length === 0 ? undefined : fromEnv;
}

/** A missing or wrong passphrase is the caller's to fix: a usage error that says how, keeping the cause. */
export async function withPassphraseHint<T>(load: () => Promise<T>): Promise<T> {
  try {
    return await load();
  } catch (error) {
    if (error instanceof CustodyError && error.code === "ERR_PASSPHRASE_REQUIRED") {
      throw new CustodyError(
        "ERR_USAGE",
        `${error.message} (give --passphrase-file FILE or set $${KEY_ENV.passphrase})`,
        { cause: error, details: { code: error.code } },
      );
    }
    throw error;
  }
}

export function positiveInteger(ctx: CommandContext, name: string, fallback: number): number {
  const text = ctx.string(name);
  if (text === undefined) return fallback;
  const value = Number(text);
  if (!Number.isSafeInteger(value) || value <= 0) {
    throw new CustodyError("ERR_USAGE", `--${name} must be a positive integer, not ${JSON.stringify(text)}`);
  }
  return value;
}

/** Creates `file` whole and durably, and never replaces an existing one (ERR_ALREADY_EXISTS). */
export function createFile(file: string, data: string | Uint8Array, mode = 0o644): Promise<void> {
  return writeFileAtomic(file, data, { mode, exclusive: true });
}

export async function readText(file: string, what: string): Promise<string> {
  try {
    return await readFile(file, "utf8");
  } catch (cause) {
    throw toCustodyError(cause, "ERR_IO", `cannot read the ${what} ${file}`);
  }
}

export function caFiles(dir: string): { keyFile: string; certFile: string } {
  return {
    keyFile: join(dir, `${KEYS_LAYOUT.caName}.key`),
    certFile: join(dir, `${KEYS_LAYOUT.caName}.pem`),
  };
}

/** ERR_ALREADY_EXISTS when any of `names` (relative to `dir`, or absolute) exists. */
export async function assertAbsent(
  dir: string,
  names: string[],
  reason = "keys are never replaced",
): Promise<void> {
  for (const name of names) {
    const file = isAbsolute(name) ? name : join(dir, name);
    const exists = await access(file).then(
      () => true,
      () => false,
    );
    if (exists) throw new CustodyError("ERR_ALREADY_EXISTS", `${file} already exists; ${reason}`);
  }
}
