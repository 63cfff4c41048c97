import { execFile } from "node:child_process";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import { fixedClock } from "@custody/core";
import { createCertificateAuthority, type IssuedCertificate, issueCertificate } from "@custody/manifest";

const run = promisify(execFile);

/** A CA valid 2020-2029 and a signer under it; 2048-bit keys keep the suite fast. */
export interface TestPki {
  ca: IssuedCertificate;
  signer: IssuedCertificate;
}

export const PKI_EPOCH = fixedClock("2020-01-01T00:00:00.000Z");

export async function createTestPki(): Promise<TestPki> {
  const ca = await createCertificateAuthority({
    commonName: "Test Vault CA",
    keyBits: 2048,
    clock: PKI_EPOCH,
  });
  const signer = await issueCertificate(ca, {
    commonName: "collector-01",
    usage: "signer",
    keyBits: 2048,
    clock: PKI_EPOCH,
    validDays: 3650,
  });
  return { ca, signer };
}

export async function tempDir(prefix: string): Promise<{ dir: string; remove(): Promise<void> }> {
  const dir = await mkdtemp(join(tmpdir(), `custody-manifest-${prefix}-`));
  return { dir, remove: () => rm(dir, { recursive: true, force: true }) };
}

/** Runs openssl; resolves with its exit code and output instead of throwing, so tests can assert failure. */
export async function openssl(
  args: string[],
  cwd: string,
): Promise<{ code: number; stderr: string; stdout: string }> {
  try {
    const { stdout, stderr } = await run("openssl", args, { cwd, encoding: "utf8" });
    return { code: 0, stdout, stderr };
  } catch (error) {
    const failure = error as { code?: number; stdout?: string; stderr?: string };
    return {
      code: typeof failure.code === "number" ? failure.code : -1,
      stdout: failure.stdout ?? "",
      stderr: failure.stderr ?? "",
    };
  }
}
