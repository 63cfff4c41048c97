import { type ChildProcess, spawn } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readdir, readFile, rm, writeFile } from "node:fs/promises";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { CustodyError, type ErrorCode, fixedClock } from "@custody/core";
import {
  createCertificateAuthority,
  createCrl,
  createKeySigner,
  initRevocationList,
  issueCertificate,
  parseCrl,
  readRevokedSerials,
  revokeCertificates,
  verifyDetached,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { createTestPki, openssl, PKI_EPOCH, type TestPki, tempDir } from "./fixtures.js";

const CHILD = fileURLToPath(new URL("./child/revoker.ts", import.meta.url));
const REGISTER = fileURLToPath(new URL("./child/register.mjs", import.meta.url));

let pki: TestPki;
let work: { dir: string; remove(): Promise<void> };
const live = new Set<ChildProcess>();

beforeAll(async () => {
  pki = await createTestPki();
  work = await tempDir("revocation");
  await writeFile(join(work.dir, "ca.pem"), pki.ca.certificatePem);
  await writeFile(join(work.dir, "ca.key"), pki.ca.keyPem, { mode: 0o600 });
});
afterAll(async () => {
  for (const child of live) child.kill("SIGKILL");
  await work?.remove();
});

async function codeOf(action: () => unknown): Promise<ErrorCode | "no error"> {
  try {
    await action();
    return "no error";
  } catch (error) {
    expect(error).toBeInstanceOf(CustodyError);
    return (error as CustodyError).code;
  }
}

async function freshCrl(name: string): Promise<string> {
  const crlPath = join(work.dir, name);
  await initRevocationList({ crlPath, ca: pki.ca, clock: PKI_EPOCH });
  return crlPath;
}

describe("revokeCertificates", () => {
  it("adds serials to the signed CRL, keeps the first revocation date, and raises the CRL number", async () => {
    const crlPath = await freshCrl("basic.pem");
    const serial = new X509Certificate(pki.signer.certificatePem).serialNumber;
    const first = await revokeCertificates({
      crlPath,
      ca: pki.ca,
      entries: [{ serialNumber: pki.signer.serialNumber }],
      clock: fixedClock("2021-01-01T00:00:00.000Z"),
    });
    expect(first.added).toEqual([serial]);
    const again = await revokeCertificates({
      crlPath,
      ca: pki.ca,
      entries: [{ serialNumber: serial }, { serialNumber: "0a:bc" }],
      clock: fixedClock("2021-01-01T00:00:00.000Z"),
    });
    expect(again.added).toEqual(["0ABC"]);
    expect(again.crlNumber).toBeGreaterThan(first.crlNumber);
    expect(again.revoked).toEqual([
      { serialNumber: serial, revokedAt: new Date("2021-01-01T00:00:00.000Z") },
      { serialNumber: "0ABC", revokedAt: new Date("2021-01-01T00:00:00.000Z") },
    ]);
    const pem = await readFile(crlPath, "utf8");
    expect(pem).toBe(again.crlPem);
    expect(readRevokedSerials(pem, pki.ca.certificatePem)).toEqual(new Set([serial, "0ABC"]));
    const checked = await openssl(
      ["crl", "-in", crlPath, "-CAfile", join(work.dir, "ca.pem"), "-noout"],
      work.dir,
    );
    expect(checked.stderr).toContain("verify OK");
  });

  it("is what the verifier reads: a revoked signer is ERR_CERT_REVOKED", async () => {
    const crlPath = await freshCrl("verifier.pem");
    const signer = createKeySigner({ keyPem: pki.signer.keyPem, certificatePem: pki.signer.certificatePem });
    const signature = await signer.sign(Buffer.from("x"));
    await revokeCertificates({ crlPath, ca: pki.ca, entries: [{ serialNumber: pki.signer.serialNumber }] });
    const trust = { trustAnchors: [pki.ca.certificatePem], crls: [await readFile(crlPath, "utf8")] };
    expect(await codeOf(() => verifyDetached(Buffer.from("x"), signature, trust))).toBe("ERR_CERT_REVOKED");
  });

  it("serializes concurrent calls in one process: no revocation is lost", async () => {
    const crlPath = await freshCrl("concurrent.pem");
    const serials = ["11", "22", "33", "44", "55", "66"];
    await Promise.all(
      serials.map((serialNumber) => revokeCertificates({ crlPath, ca: pki.ca, entries: [{ serialNumber }] })),
    );
    expect(readRevokedSerials(await readFile(crlPath, "utf8"), pki.ca.certificatePem)).toEqual(
      new Set(serials),
    );
  });

  it("initRevocationList never replaces a CRL; a missing CRL is ERR_NOT_FOUND, not an empty list", async () => {
    const crlPath = await freshCrl("init.pem");
    expect(await codeOf(() => initRevocationList({ crlPath, ca: pki.ca }))).toBe("ERR_ALREADY_EXISTS");
    const missing = join(work.dir, "missing.pem");
    expect(await codeOf(() => revokeCertificates({ crlPath: missing, ca: pki.ca, entries: [] }))).toBe(
      "ERR_NOT_FOUND",
    );
  });

  it("refuses bad serials before writing anything", async () => {
    const crlPath = await freshCrl("serials.pem");
    const before = await readFile(crlPath, "utf8");
    const entries = [{ serialNumber: "not hex" }];
    expect(await codeOf(() => revokeCertificates({ crlPath, ca: pki.ca, entries }))).toBe(
      "ERR_INVALID_ARGUMENT",
    );
    expect(await readFile(crlPath, "utf8")).toBe(before);
  });
});

describe("a CRL file someone else wrote (folder write access, no CA key)", () => {
  it("a forged, foreign, tampered or corrupt CRL is ERR_MALFORMED_CRL, and revoking never launders it", async () => {
    const crlPath = await freshCrl("hostile.pem");
    await revokeCertificates({
      crlPath,
      ca: pki.ca,
      entries: [{ serialNumber: "AA" }, { serialNumber: "BB" }],
    });
    const genuine = await readFile(crlPath, "utf8");
    // an impostor CA with the same name signs a list without "AA": the revoked identity would log in again
    const impostor = await createCertificateAuthority({ commonName: "Test Vault CA", keyBits: 2048 });
    const forged = createCrl(impostor, [{ serialNumber: "BB", revokedAt: new Date() }]);
    const der = Buffer.from(genuine.replace(/-----[^-]+-----|\s/g, ""), "base64");
    const flipped = Buffer.from(der);
    flipped[flipped.length - 40] = (flipped[flipped.length - 40] ?? 0) ^ 0x01;
    const edited = `-----BEGIN X509 CRL-----\n${flipped.toString("base64")}\n-----END X509 CRL-----\n`;
    for (const hostile of [forged, edited, genuine.slice(0, 200), "junk", ""]) {
      expect(await codeOf(() => readRevokedSerials(hostile, pki.ca.certificatePem))).toBe(
        "ERR_MALFORMED_CRL",
      );
      await writeFile(crlPath, hostile);
      const revoke = () => revokeCertificates({ crlPath, ca: pki.ca, entries: [{ serialNumber: "CC" }] });
      expect(await codeOf(revoke)).toBe("ERR_MALFORMED_CRL");
      expect(await readFile(crlPath, "utf8")).toBe(hostile);
    }
  });

  it("readRevokedSerials refuses a CRL checked against the wrong CA", async () => {
    const other = await issueCertificate(pki.ca, {
      commonName: "not a CA",
      usage: "collector",
      keyBits: 2048,
    });
    const pem = await readFile(await freshCrl("wrong-ca.pem"), "utf8");
    expect(await codeOf(() => readRevokedSerials(pem, other.certificatePem))).toBe("ERR_MALFORMED_CRL");
    expect(await codeOf(() => readRevokedSerials(pem, "junk"))).toBe("ERR_MALFORMED_CERTIFICATE");
  });
});

describe("crash safety: a revoking process killed with SIGKILL at random points", () => {
  interface Run {
    acked: string[];
    stderr: () => string;
    exit: Promise<void>;
    ackedAtLeast(count: number): Promise<void>;
  }

  function startRevoker(crlPath: string): Run {
    // the sources run as they are: Node strips the types, the hooks resolve the workspace packages
    const flags = ["--experimental-transform-types", "--no-warnings", "--import", REGISTER];
    const child = spawn(
      process.execPath,
      [...flags, CHILD, crlPath, join(work.dir, "ca.pem"), join(work.dir, "ca.key")],
      { stdio: ["ignore", "pipe", "pipe"] },
    );
    live.add(child);
    const acked: string[] = [];
    const waiters: { count: number; resolve: () => void }[] = [];
    let partial = "";
    let stderr = "";
    child.stderr?.setEncoding("utf8").on("data", (text: string) => (stderr += text));
    child.stdout?.setEncoding("utf8").on("data", (text: string) => {
      const lines = (partial + text).split("\n");
      partial = lines.pop() ?? "";
      acked.push(...lines);
      for (const waiter of waiters) if (acked.length >= waiter.count) waiter.resolve();
    });
    const exit = new Promise<void>((resolve) => child.on("exit", () => resolve()));
    void exit.then(() => {
      live.delete(child);
      for (const waiter of waiters) waiter.resolve();
    });
    return {
      acked,
      stderr: () => stderr,
      exit,
      ackedAtLeast: (count) =>
        new Promise<void>((resolve) => {
          if (acked.length >= count) resolve();
          else waiters.push({ count, resolve });
        }),
    };
  }

  it("leaves a CRL that parses, verifies and holds every revocation that returned", async () => {
    const crlPath = await freshCrl("crash.pem");
    const promised: string[] = [];
    for (let run = 0; run < 6; run += 1) {
      const revoker = startRevoker(crlPath);
      // at least one revocation per run, then a random moment: inside a write, a rename or an fsync
      await revoker.ackedAtLeast(1 + Math.floor(Math.random() * 4));
      await new Promise((resolve) => setTimeout(resolve, Math.random() * 25));
      for (const child of live) child.kill("SIGKILL");
      await revoker.exit;
      expect(revoker.acked.length, revoker.stderr()).toBeGreaterThan(0);
      promised.push(...revoker.acked);
      const pem = await readFile(crlPath, "utf8");
      const revoked = readRevokedSerials(pem, pki.ca.certificatePem);
      for (const serial of promised) expect(revoked.has(serial), serial).toBe(true);
      expect(parseCrl(pem).revoked.size).toBeGreaterThanOrEqual(promised.length);
    }
    const checked = await openssl(
      ["crl", "-in", crlPath, "-CAfile", join(work.dir, "ca.pem"), "-noout"],
      work.dir,
    );
    expect(checked.stderr).toContain("verify OK");
    // a killed writer may leave its private temporary file behind, never a second CRL under the real name
    const leftovers = (await readdir(work.dir)).filter((name) => name.startsWith(".crash.pem."));
    await Promise.all(leftovers.map((name) => rm(join(work.dir, name))));
  }, 120_000);

  it("lets two processes revoke into one CRL at once without losing a revocation (they take turns)", async () => {
    const crlPath = await freshCrl("two.pem");
    const [a, b] = [startRevoker(crlPath), startRevoker(crlPath)];
    await Promise.all([a.ackedAtLeast(8), b.ackedAtLeast(8)]);
    for (const child of live) child.kill("SIGKILL");
    await Promise.all([a.exit, b.exit]);
    const revoked = readRevokedSerials(await readFile(crlPath, "utf8"), pki.ca.certificatePem);
    for (const serial of [...a.acked, ...b.acked]) expect(revoked.has(serial), serial).toBe(true);
  }, 120_000);
});
