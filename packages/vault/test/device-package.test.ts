import { mkdtempSync, rmSync } from "node:fs";
import { readFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createPackageWriter } from "@custody/archive";
import { isCustodyError } from "@custody/core";
import { createKeySigner, issueCertificate } from "@custody/manifest";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// `signedByDevice`: a device's package is taken only when its own device-collector certificate signed it.
const work = mkdtempSync(join(tmpdir(), "custody-device-package-"));
const dir = join(work, "vault");
const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";
const OTHER = "D-ZZZZZZZZZZZZZZZZZZZZZZZZZZ";
const CASE = "IR-DEV";
let vault: Vault;
let alice: AuthenticatedPrincipal;
let made = 0;

beforeAll(async () => {
  const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
  vault = created.vault;
  alice = vault.authenticate(created.identityPem);
});

afterAll(async () => {
  await vault.close();
  rmSync(work, { recursive: true, force: true });
});

async function ca() {
  return {
    certificatePem: await readFile(join(dir, "pki", "ca.pem"), "utf8"),
    keyPem: await readFile(join(dir, "pki", "ca.key"), "utf8"),
  };
}

async function packageSignedAs(
  usage: "device-collector" | "collector",
  commonName: string,
  deviceId = DEVICE,
) {
  const issued = await issueCertificate(await ca(), { commonName, usage, keyBits: 2048 });
  const out = join(work, `p-${made++}.zip`);
  const writer = createPackageWriter(out, {
    name: `p-${made}`,
    caseId: CASE,
    device: { id: deviceId, hostname: "ws-017", os: "linux", osVersion: "6.1", architecture: "x64" },
    collector: { operator: "bob", tool: "test", toolVersion: "1", host: "ws-017" },
    signer: createKeySigner({ keyPem: issued.keyPem, certificatePem: issued.certificatePem }),
  });
  await writer.addStream("SystemInformation/SystemInformation.txt", [Buffer.from("Linux ws-017\n")]);
  await writer.finalize();
  return out;
}

async function codeOf(promise: Promise<unknown>): Promise<string> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  return isCustodyError(error) ? error.code : String(error);
}

describe("ingest with signedByDevice", () => {
  it("stores a package signed by that device's collector certificate and naming it", async () => {
    const file = await packageSignedAs("device-collector", DEVICE);
    const item = await vault.ingest(alice, file, { caseId: CASE, kind: "package", signedByDevice: DEVICE });
    expect(item.package?.verified).toBe(true);
    expect(item.package?.signer).toContain(`CN=${DEVICE}`);
  }, 60_000);

  it("refuses another device's certificate, the vault's collector role, or a manifest naming another device, even with allowUnverified", async () => {
    const before = (await vault.list(alice, { caseId: CASE })).length;
    const files = [
      await packageSignedAs("device-collector", OTHER),
      await packageSignedAs("collector", DEVICE),
      await packageSignedAs("device-collector", DEVICE, OTHER),
    ];
    for (const file of files) {
      const options = {
        caseId: CASE,
        kind: "package",
        signedByDevice: DEVICE,
        allowUnverified: true,
      } as const;
      expect(await codeOf(vault.ingest(alice, file, options))).toBe("ERR_PACKAGE_INVALID");
    }
    expect((await vault.list(alice, { caseId: CASE })).length).toBe(before);
  }, 120_000);

  it("keeps refusing a device-collector signature where the vault's collector is asked for", async () => {
    const file = await packageSignedAs("device-collector", DEVICE);
    expect(await codeOf(vault.ingest(alice, file, { caseId: "IR-PLAIN", kind: "package" }))).toBe(
      "ERR_PACKAGE_INVALID",
    );
  }, 60_000);
});
