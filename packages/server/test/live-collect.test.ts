import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { certificateRoles, createKeySigner } from "@custody/manifest";
import { collectPackage } from "@custody/triage";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditRecords,
  call,
  eventually,
  type Identity,
  identityOf,
  type Served,
  serveVault,
} from "./helpers.js";
import { deviceRequest, enrolledDevice, TestAgent } from "./live-helpers.js";

// collect at the server: the device's own collector certificate, issued through the route, and the
// package upload verified against the vault CA and that device before anything is stored. A scripted
// agent speaks for the device (its real key over mutual TLS), so each attack is what a device could send.
let served: Served;
let bob: Identity;
let device: Identity & { deviceId: string };
let other: Identity & { deviceId: string };
let agent: TestAgent;
let sessionId: string;
let ownSigner: { keyPem: string; certificatePem: string };
let otherSigner: { keyPem: string; certificatePem: string };
const CASE = "IR-77";
let made = 0;

beforeAll(async () => {
  served = await serveVault();
  const issued = await as(served.alice, "POST", "/v1/identities", { name: "bob", kind: "person" });
  bob = identityOf((issued.json() as { identityPem: string }).identityPem);
  device = await enrolledDevice(served, "ws");
  other = await enrolledDevice(served, "other");
  for (const scope of [`device:${device.deviceId}`, `case:${CASE}`]) {
    const granted = await as(served.alice, "POST", "/v1/access/grants", {
      name: "bob",
      role: "responder",
      scope,
    });
    expect(granted.json()).toMatchObject({ status: "done" });
  }
  await as(served.alice, "POST", "/v1/settings/live-response", { enabled: true });
  agent = new TestAgent(served, device);
  await agent.hello(device.deviceId, null);
  const opened = await as(bob, "POST", "/v1/sessions", { deviceId: device.deviceId, caseId: CASE });
  expect(opened.status, opened.body.toString()).toBe(201);
  sessionId = (opened.json() as { id: string }).id;
  ownSigner = await collectorCertificate(device, "ws-collector");
  otherSigner = await collectorCertificate(other, "other-collector");
}, 120_000);

afterAll(async () => {
  agent?.close();
  await served.cleanup();
});

function as(who: Identity, method: string, path: string, json?: unknown) {
  return call(served.url, path, {
    method,
    identity: who,
    ca: served.ca,
    ...(json === undefined ? {} : { json }),
  });
}

/** A device's own collector certificate, asked of the server with that device's mutual-TLS identity. */
async function collectorCertificate(who: Identity & { deviceId: string }, name: string) {
  const { csrPem, keyPem } = await deviceRequest(served.dir, name);
  const response = await as(who, "POST", "/v1/agent/collector-certificate", { csrPem });
  expect(response.status, response.body.toString()).toBe(201);
  return { keyPem, certificatePem: (response.json() as { certificatePem: string }).certificatePem };
}

/** A real investigation package of this machine (one fast data point), signed by `signer`. */
async function makePackage(signer: { keyPem: string; certificatePem: string }, deviceId = device.deviceId) {
  const out = join(served.dir, `package-${made++}.zip`);
  await collectPackage({
    out,
    signer: createKeySigner(signer),
    only: ["SystemInformation"],
    caseId: CASE,
    deviceId,
  });
  return readFile(out);
}

async function packages(): Promise<string[]> {
  const listed = await as(served.alice, "GET", `/v1/items?case=${CASE}`);
  const page = listed.json() as { items: { id: string; kind: string }[] };
  return page.items.filter((item) => item.kind === "package").map((item) => item.id);
}

/** bob's collect, answered by the scripted device: it uploads `body` (as `uploader`), then reports done. */
async function collect(body: Buffer, uploader: Identity = device) {
  const submitted = await as(bob, "POST", `/v1/sessions/${sessionId}/commands`, {
    line: 'collect -only SystemInformation -reason "alert 9: beacon to 203.0.113.9"',
  });
  expect(submitted.status, submitted.body.toString()).toBe(202);
  const frame = await agent.next("command");
  const { cmdId } = frame.body;
  expect(frame.body.package?.caseId).toBe(CASE);
  agent.send("ack", { cmdId, accepted: true });
  const put = await call(served.url, frame.body.package?.path ?? "", {
    method: "PUT",
    identity: uploader,
    ca: served.ca,
    body,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
  });
  agent.send("result", {
    cmdId,
    status: "completed",
    rows: 0,
    durationMs: 5,
    data: { package: "p", dataPoints: "1/1" },
  });
  const entry = await eventually(async () => {
    const shown = (await as(bob, "GET", `/v1/commands/${cmdId}`)).json() as Record<string, unknown>;
    return ["completed", "failed"].includes(String(shown.status)) ? shown : undefined;
  }, `${cmdId} settled`);
  return { put, entry, cmdId };
}

describe("the device collector certificate", () => {
  it("is issued to the calling device only, bound to its id, with the device-collector role alone", async () => {
    const cert = new X509Certificate(ownSigner.certificatePem);
    expect(cert.subject.split("\n")).toEqual(
      expect.arrayContaining([`CN=${device.deviceId}`, "OU=device-collector"]),
    );
    expect(certificateRoles(cert)).toEqual(["device-collector"]);
    expect(cert.verify(new X509Certificate(served.ca).publicKey)).toBe(true);
    const { csrPem } = await deviceRequest(served.dir, "person-asks");
    const asPerson = await as(bob, "POST", "/v1/agent/collector-certificate", { csrPem });
    expect(asPerson.status).toBe(403);
    const records = await auditRecords(served);
    const issued = records.filter((r) => r.action === "device.collector-certificate");
    expect(issued.map((r) => r.actor).sort()).toEqual([device.deviceId, other.deviceId].sort());
  });
});

describe("collect's package upload", () => {
  it("refuses a collect without a reason: nothing is sent to the device", async () => {
    for (const line of ["collect -only SystemInformation", 'collect -reason "  "']) {
      const refused = await as(bob, "POST", `/v1/sessions/${sessionId}/commands`, { line });
      expect(refused.status).toBe(400);
      expect(refused.json()).toMatchObject({ code: "ERR_REASON_REQUIRED" });
    }
    expect(agent.frames.filter((frame) => frame.t === "command")).toEqual([]);
  });

  it("stores a package signed by this device's own certificate, with the device, session, command, analyst and reason", async () => {
    const { put, entry, cmdId } = await collect(await makePackage(ownSigner));
    expect(put.status, put.body.toString()).toBe(201);
    expect(entry.status).toBe("completed");
    const itemId = String(entry.itemId);
    expect(await packages()).toEqual([itemId]);
    const ingested = (await auditRecords(served)).find(
      (r) => r.action === "evidence.ingested" && r.target.endsWith(itemId),
    );
    expect(ingested).toBeDefined();
    const { record } = (ingested?.details ?? {}) as {
      record: { labels: Record<string, string>; package: { verified: boolean; signer: string } };
    };
    expect(record.labels).toMatchObject({
      device: device.deviceId,
      session: sessionId,
      command: cmdId,
      analyst: "bob",
      reason: "alert 9: beacon to 203.0.113.9",
    });
    expect(record.package.verified).toBe(true);
    expect(record.package.signer).toContain(`CN=${device.deviceId}`);
  }, 120_000);

  it("refuses a package changed after signing, records it, and stores nothing", async () => {
    const before = await packages();
    const tampered = Buffer.from(await makePackage(ownSigner));
    const at = Math.floor(tampered.length / 2);
    tampered[at] = (tampered[at] ?? 0) ^ 0xff;
    const { put, entry } = await collect(tampered);
    expect(put.status).toBeGreaterThanOrEqual(400);
    expect(put.json()).toMatchObject({ code: "ERR_PACKAGE_INVALID" });
    expect(entry.status).toBe("failed");
    expect(await packages()).toEqual(before);
    const failed = (await auditRecords(served)).filter(
      (r) => r.action === "evidence.ingest" && r.outcome === "error" && r.actor === "bob",
    );
    expect(failed.length).toBeGreaterThan(0);
  }, 120_000);

  it("refuses a package signed by another device's collector certificate, or by the vault's own collector", async () => {
    const before = await packages();
    const foreign = await collect(await makePackage(otherSigner));
    expect(foreign.put.json()).toMatchObject({ code: "ERR_PACKAGE_INVALID" });
    expect(JSON.stringify(foreign.put.json())).toContain(`not by ${device.deviceId}`);
    const vaultCollector = {
      keyPem: await readFile(join(served.vaultDir, "pki", "collector.key"), "utf8"),
      certificatePem: await readFile(join(served.vaultDir, "pki", "collector.pem"), "utf8"),
    };
    const lent = await collect(await makePackage(vaultCollector));
    expect(lent.put.json()).toMatchObject({ code: "ERR_PACKAGE_INVALID" });
    // its own certificate, but a manifest that names another device
    const misnamed = await collect(await makePackage(ownSigner, other.deviceId));
    expect(misnamed.put.json()).toMatchObject({ code: "ERR_PACKAGE_INVALID" });
    for (const attempt of [foreign, lent, misnamed]) expect(attempt.entry.status).toBe("failed");
    expect(await packages()).toEqual(before);
  }, 180_000);

  it("takes the upload only from the device the command went to", async () => {
    const before = await packages();
    const { put, entry } = await collect(await makePackage(otherSigner, other.deviceId), other);
    expect(put.status).toBe(403);
    expect(entry.status).toBe("failed");
    expect(await packages()).toEqual(before);
  }, 120_000);
});
