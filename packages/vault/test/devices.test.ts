import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { promisify } from "node:util";
import type { Clock } from "@custody/core";
import { parseCrl } from "@custody/manifest";
import { type AuthenticatedPrincipal, DEVICE_ID_PATTERN, Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

const run = promisify(execFile);
const request = { requestId: "r-enroll", clientAddress: "192.0.2.9" };
const facts = { hostname: "ws-017", os: "linux", arch: "x64", agentVersion: "0.1.0" };

let dir: string;
let vault: Vault;
let alice: AuthenticatedPrincipal;
let aliceIdentity: string;
let now = Date.parse("2026-03-01T10:00:00.000Z");
const clock: Clock = { now: () => new Date(now) };

async function csr(name: string, bits = 3072): Promise<string> {
  await run(
    "openssl",
    [
      "req",
      "-new",
      "-newkey",
      `rsa:${bits}`,
      "-nodes",
      "-keyout",
      `${name}.key`,
      "-out",
      `${name}.csr`,
      "-subj",
      "/CN=custodian",
    ],
    { cwd: dir },
  );
  return readFile(join(dir, `${name}.csr`), "utf8");
}

async function records() {
  return vault.showAudit(alice);
}

async function enroll(token: string, csrPem: string) {
  return vault.enroll({ token, csrPem, facts }, request);
}

async function devicePrincipal(certificatePem: string, requestId = "r-device") {
  return vault.authenticatePeer(certificatePem, { requestId, clientAddress: "192.0.2.10" });
}

beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-devices-"));
  const made = await Vault.init(join(dir, "vault"), { custodian: "alice", keyBits: 3072, clock });
  vault = made.vault;
  aliceIdentity = made.identityPem;
  alice = vault.authenticate(aliceIdentity);
}, 60_000);

afterAll(async () => {
  await vault.close();
  await rm(dir, { recursive: true, force: true });
});

describe("enrollment", () => {
  it("enrolls a device from its own key with a one-time token, states it in the log, and refuses the token again", async () => {
    const token = await vault.createEnrollmentToken(alice, { caseId: "C-1" });
    expect(token.token).toMatch(/^cet1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[0-9a-f]{64}$/);
    const caSha256 = new X509Certificate(vault.trustAnchors[0] ?? "").fingerprint256
      .replaceAll(":", "")
      .toLowerCase();
    expect(token.token.endsWith(caSha256)).toBe(true);
    const secret = token.token.split(".")[2] ?? "";
    expect(JSON.stringify(await records())).not.toContain(secret);

    const enrolled = await enroll(token.token, await csr("one"));
    expect(enrolled.deviceId).toMatch(DEVICE_ID_PATTERN);
    expect(new X509Certificate(enrolled.certificatePem).subject).toBe(`CN=${enrolled.deviceId}\nOU=device`);
    const device = await devicePrincipal(enrolled.certificatePem);
    expect(device).toMatchObject({ id: enrolled.deviceId, kind: "device" });
    expect(vault.deviceStanding(device)).toBe("active");

    await expect(enroll(token.token, await csr("two"))).rejects.toMatchObject({
      code: "ERR_ENROLLMENT_TOKEN_INVALID",
    });
    const log = await records();
    expect(log.filter((r) => r.action === "device.enroll").map((r) => r.outcome)).toEqual([
      "allow",
      "allow",
      "deny",
    ]);
    expect(log.find((r) => r.action === "device.enroll" && r.outcome === "deny")?.reason).toBe(
      "no uses left",
    );
    expect(log.find((r) => r.action === "device.enrolled")?.details).toMatchObject({
      deviceId: enrolled.deviceId,
      facts,
      caseId: "C-1",
    });
    const listed = await vault.listDevices(alice);
    expect(listed).toEqual([
      expect.objectContaining({
        deviceId: enrolled.deviceId,
        hostname: "ws-017",
        state: "active",
        online: false,
      }),
    ]);
  }, 60_000);

  it("refuses an expired token, a wrong secret, another vault's CA and garbage, each recorded, nothing enrolled", async () => {
    const before = (await vault.listDevices(alice)).length;
    const csrPem = await csr("three");
    const token = await vault.createEnrollmentToken(alice, { expiresInMs: 60_000, uses: 5 });
    const [prefix, id, secret, ca] = token.token.split(".");
    const wrongSecret = [prefix, id, `${secret?.slice(0, 42)}${secret?.endsWith("A") ? "B" : "A"}`, ca].join(
      ".",
    );
    const wrongCa = [prefix, id, secret, "0".repeat(64)].join(".");
    for (const bad of [wrongSecret, wrongCa, "cet1.garbage", "", `${token.token}x`]) {
      await expect(enroll(bad, csrPem)).rejects.toMatchObject({ code: "ERR_ENROLLMENT_TOKEN_INVALID" });
    }
    now += 61_000;
    await expect(enroll(token.token, csrPem)).rejects.toMatchObject({ code: "ERR_ENROLLMENT_TOKEN_INVALID" });
    const reasons = (await records())
      .filter((r) => r.action === "device.enroll" && r.outcome === "deny")
      .map((r) => r.reason);
    expect(reasons).toEqual(
      expect.arrayContaining([
        "wrong secret",
        "the token names another vault's CA",
        "the token does not parse",
        expect.stringMatching(/^expired at /),
      ]),
    );
    expect((await vault.listDevices(alice)).length).toBe(before);
  }, 60_000);

  it("refuses a weak key without using the token", async () => {
    const token = await vault.createEnrollmentToken(alice, {});
    await expect(enroll(token.token, await csr("weak", 2048))).rejects.toMatchObject({
      code: "ERR_ALGORITHM_NOT_ALLOWED",
    });
    await expect(enroll(token.token, await csr("four"))).resolves.toMatchObject({
      caPem: vault.trustAnchors[0],
    });
  }, 60_000);

  it("a token for two devices enrolls two (each its own id and certificate), then no more, and a reopened vault agrees", async () => {
    const token = await vault.createEnrollmentToken(alice, { uses: 2 });
    const csrPem = await csr("pair");
    const first = await enroll(token.token, csrPem);
    const second = await enroll(token.token, csrPem);
    expect(first.deviceId).not.toBe(second.deviceId);
    await expect(enroll(token.token, csrPem)).rejects.toMatchObject({ code: "ERR_ENROLLMENT_TOKEN_INVALID" });
    await vault.close();
    vault = await Vault.open({ dir: join(dir, "vault"), clock });
    alice = vault.authenticate(aliceIdentity);
    await expect(enroll(token.token, csrPem)).rejects.toMatchObject({ code: "ERR_ENROLLMENT_TOKEN_INVALID" });
  }, 60_000);

  it("refuses a person identity named like a device", async () => {
    await expect(vault.issueIdentity(alice, "D-0123456789ABCDEFGHJKMNPQRS")).rejects.toMatchObject({
      code: "ERR_INVALID_ARGUMENT",
    });
  });
});

describe("connections, quarantine and revocation", () => {
  it("chains nonces; a stale one quarantines the device until a custodian approves it", async () => {
    const token = await vault.createEnrollmentToken(alice, {});
    const enrolled = await enroll(token.token, await csr("five"));
    const device = await devicePrincipal(enrolled.certificatePem);
    const first = await vault.acceptAgentConnection(device, null, request);
    const second = await vault.acceptAgentConnection(device, first.nonce, request);
    await expect(vault.acceptAgentConnection(device, first.nonce, request)).rejects.toMatchObject({
      code: "ERR_DEVICE_QUARANTINED",
    });
    expect(vault.deviceStanding(device)).toBe("quarantined");
    await expect(vault.acceptAgentConnection(device, second.nonce, request)).rejects.toMatchObject({
      code: "ERR_DEVICE_QUARANTINED",
    });
    const log = await records();
    expect(
      log.some((r) => r.action === "device.clone-suspected" && r.target === `device:${enrolled.deviceId}`),
    ).toBe(true);
    await vault.approveDevice(alice, enrolled.deviceId);
    await expect(vault.acceptAgentConnection(device, second.nonce, request)).resolves.toHaveProperty("nonce");
  }, 60_000);

  it("revokes a device: the log refuses it at once, the CRL lists it, and a reopened vault agrees", async () => {
    const token = await vault.createEnrollmentToken(alice, {});
    const enrolled = await enroll(token.token, await csr("six"));
    const device = await devicePrincipal(enrolled.certificatePem);
    const revoked = await vault.revokeDevice(alice, enrolled.deviceId);
    expect(revoked.state).toBe("revoked");
    expect(vault.deviceStanding(device)).toBe("revoked");
    await expect(devicePrincipal(enrolled.certificatePem, "r-after")).rejects.toMatchObject({
      code: "ERR_IDENTITY_INVALID",
    });
    const serial = BigInt(`0x${new X509Certificate(enrolled.certificatePem).serialNumber}`);
    expect(parseCrl(await vault.crl()).revoked.has(serial)).toBe(true);
    await vault.close();
    vault = await Vault.open({ dir: join(dir, "vault"), clock });
    alice = vault.authenticate(aliceIdentity);
    const devices = await vault.listDevices(alice);
    expect(devices.find((d) => d.deviceId === enrolled.deviceId)?.state).toBe("revoked");
    expect(devices.filter((d) => d.state === "active").length).toBeGreaterThan(0);
  }, 60_000);
});

describe("access", () => {
  it("live response is off in a new vault; only settings.manage turns it on, recorded", async () => {
    expect(vault.liveResponseEnabled).toBe(false);
    expect((await vault.liveResponse(alice)).enabled).toBe(false);
    const bob = await vault.issueIdentity(alice, "bob");
    await vault.grant(alice, { name: "bob", role: "responder", scope: "*" });
    const bobPrincipal = vault.authenticate(bob.identityPem);
    await expect(vault.setLiveResponse(bobPrincipal, true)).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    await expect(vault.createEnrollmentToken(bobPrincipal, {})).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    const [anyDevice] = await vault.listDevices(bobPrincipal);
    await expect(vault.revokeDevice(bobPrincipal, anyDevice?.deviceId ?? "")).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    // a case-scoped analyst sees the devices of that case only; someone with no device grant sees none
    const carol = await vault.issueIdentity(alice, "carol");
    await vault.grant(alice, { name: "carol", role: "analyst", scope: "case:C-1" });
    const inCase = await vault.listDevices(vault.authenticate(carol.identityPem));
    expect(inCase.length).toBeGreaterThan(0);
    expect(inCase.every((device) => device.caseId === "C-1")).toBe(true);
    const dave = await vault.issueIdentity(alice, "dave");
    await vault.grant(alice, { name: "dave", role: "auditor", scope: "*" });
    await expect(vault.listDevices(vault.authenticate(dave.identityPem))).rejects.toMatchObject({
      code: "ERR_ACCESS_DENIED",
    });
    expect((await vault.setLiveResponse(alice, true)).enabled).toBe(true);
    expect(vault.liveResponseEnabled).toBe(true);
    const log = await records();
    expect(log.filter((r) => r.action === "settings.live-response").map((r) => r.details.enabled)).toEqual([
      true,
    ]);
    expect(log.some((r) => r.action === "settings.manage" && r.actor === "bob" && r.outcome === "deny")).toBe(
      true,
    );
  }, 60_000);
});
