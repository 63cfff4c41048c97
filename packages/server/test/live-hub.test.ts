import { encodeFrame } from "@custody/agent/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type AuditLine, auditRecords, call, eventually, type Served, serveVault } from "./helpers.js";
import { enrolledDevice, TestAgent } from "./live-helpers.js";

let served: Served;

beforeAll(async () => {
  served = await serveVault({ enrollLimits: { perAddressBurst: 1000 } });
});
afterAll(async () => served.cleanup());

async function recorded(match: (record: AuditLine) => boolean, what: string): Promise<AuditLine> {
  return eventually(async () => (await auditRecords(served)).find(match), what);
}

async function deviceState(deviceId: string) {
  const response = await call(served.url, `/v1/devices/${deviceId}`, {
    identity: served.alice,
    ca: served.ca,
  });
  return response.json() as { state: string; online: boolean; lastSeen: string | null };
}

describe("the agent endpoint wss://…/v1/agent", () => {
  it("accepts an enrolled device: hello, welcome with a nonce, frames both ways, online in devices list", async () => {
    const device = await enrolledDevice(served, "live-1");
    const agent = new TestAgent(served, device);
    const nonce = await agent.hello(device.deviceId, null);
    expect(nonce.length).toBeGreaterThanOrEqual(16);
    expect(served.server.hub.isOnline(device.deviceId)).toBe(true);
    expect(await deviceState(device.deviceId)).toMatchObject({ online: true, state: "active" });
    const seen: unknown[] = [];
    const stop = served.server.hub.onFrame((deviceId, type, body) => seen.push({ deviceId, type, body }));
    served.server.hub.send(device.deviceId, "cancel", { cmdId: "c-1", reason: "test" });
    expect((await agent.next("cancel")).body).toEqual({ cmdId: "c-1", reason: "test" });
    agent.send("ack", { cmdId: "c-1", accepted: true });
    await eventually(async () => (seen.length > 0 ? true : undefined), "the ack reaches the listener");
    expect(seen[0]).toEqual({
      deviceId: device.deviceId,
      type: "ack",
      body: { cmdId: "c-1", accepted: true },
    });
    stop();
    const gone = new Promise<string>((resolve) => served.server.hub.onDisconnect(resolve));
    agent.close();
    expect(await gone).toBe(device.deviceId);
    expect(() => served.server.hub.send(device.deviceId, "cancel", { cmdId: "c-2", reason: "x" })).toThrow(
      expect.objectContaining({ code: "ERR_DEVICE_OFFLINE" }),
    );
    const after = await deviceState(device.deviceId);
    expect(after).toMatchObject({ online: false });
    expect(after.lastSeen).not.toBeNull();
    const connected = await recorded(
      (r) => r.action === "device.connected" && r.details.deviceId === device.deviceId,
      "the connection fact",
    );
    expect(connected.details.nonceSha256).toMatch(/^[0-9a-f]{64}$/);
  }, 60_000);

  it("refuses a person's certificate (403, recorded as kind-mismatch), no certificate, and another path", async () => {
    const person = new TestAgent(served, served.alice);
    await expect(person.opened).rejects.toThrow(/HTTP 403/);
    await recorded((r) => r.action === "identity.login" && /kind-mismatch/.test(r.reason), "kind-mismatch");
    await expect(new TestAgent(served, undefined).opened).rejects.toThrow(/HTTP 401/);
    const device = await enrolledDevice(served, "live-2");
    await expect(new TestAgent(served, device, { path: "/v1/agents" }).opened).rejects.toThrow(/HTTP 404/);
    await expect(new TestAgent(served, device, { protocol: "chat" }).opened).rejects.toThrow();
  }, 60_000);

  it("a second live connection without the current nonce (a copied key) quarantines it: both cut, recorded, refused until approved", async () => {
    const device = await enrolledDevice(served, "clone");
    const first = new TestAgent(served, device);
    const nonce = await first.hello(device.deviceId, null);
    const second = new TestAgent(served, device);
    await expect(second.hello(device.deviceId, null)).rejects.toThrow(/closed before a welcome/);
    expect((await second.closed).code).toBe(1008);
    expect((await first.closed).code).toBe(1008);
    expect(await deviceState(device.deviceId)).toMatchObject({ state: "quarantined", online: false });
    await recorded(
      (r) => r.action === "device.clone-suspected" && r.target === `device:${device.deviceId}`,
      "the clone record",
    );
    await expect(new TestAgent(served, device).opened).rejects.toThrow(/HTTP 403/);
    const approved = await call(served.url, `/v1/devices/${device.deviceId}/approve`, {
      method: "POST",
      identity: served.alice,
      ca: served.ca,
    });
    expect(approved.json()).toMatchObject({ state: "active" });
    const back = new TestAgent(served, device);
    await expect(back.hello(device.deviceId, nonce)).resolves.toEqual(expect.any(String));
    back.close();
  }, 60_000);

  it("the same agent reconnecting with the current nonce while its old socket looks alive replaces it", async () => {
    const device = await enrolledDevice(served, "reconnect");
    const old = new TestAgent(served, device);
    const nonce = await old.hello(device.deviceId, null);
    const fresh = new TestAgent(served, device);
    await fresh.hello(device.deviceId, nonce);
    expect((await old.closed).code).toBe(1008);
    expect(await deviceState(device.deviceId)).toMatchObject({ state: "active", online: true });
    served.server.hub.send(device.deviceId, "cancel", { cmdId: "c-9", reason: "to the new socket" });
    expect((await fresh.next("cancel")).body.cmdId).toBe("c-9");
    await recorded((r) => r.action === "agent.replaced" && r.actor === device.deviceId, "the replacement");
    fresh.close();
  }, 60_000);

  it("a stale nonce on reconnect (the key used elsewhere meanwhile) quarantines the device", async () => {
    const device = await enrolledDevice(served, "stale");
    const agent = new TestAgent(served, device);
    const first = await agent.hello(device.deviceId, null);
    agent.close();
    await eventually(async () => (served.server.hub.isOnline(device.deviceId) ? undefined : true), "offline");
    const again = new TestAgent(served, device);
    const second = await again.hello(device.deviceId, first);
    again.close();
    await eventually(async () => (served.server.hub.isOnline(device.deviceId) ? undefined : true), "offline");
    const clone = new TestAgent(served, device);
    await expect(clone.hello(device.deviceId, first)).rejects.toThrow(/closed before a welcome/);
    expect((await clone.closed).code).toBe(1008);
    expect(await deviceState(device.deviceId)).toMatchObject({ state: "quarantined" });
    expect(second).not.toBe(first);
  }, 60_000);

  it("revoking a device cuts its live socket and refuses it afterwards", async () => {
    const device = await enrolledDevice(served, "revoked");
    const agent = new TestAgent(served, device);
    await agent.hello(device.deviceId, null);
    const revoked = await call(served.url, `/v1/devices/${device.deviceId}`, {
      method: "DELETE",
      identity: served.alice,
      ca: served.ca,
    });
    expect(revoked.json()).toMatchObject({ state: "revoked" });
    expect((await agent.closed).code).toBe(1008);
    await expect(new TestAgent(served, device).opened).rejects.toThrow();
  }, 60_000);

  it("revoking the device's identity by name (another route) cuts the live socket too", async () => {
    const device = await enrolledDevice(served, "revoked-by-name");
    const agent = new TestAgent(served, device);
    await agent.hello(device.deviceId, null);
    const revoked = await call(served.url, `/v1/identities/${device.deviceId}`, {
      method: "DELETE",
      identity: served.alice,
      ca: served.ca,
    });
    expect(revoked.status).toBe(200);
    expect((await agent.closed).code).toBe(1008);
    expect(served.server.hub.list().some((status) => status.deviceId === device.deviceId)).toBe(false);
  }, 60_000);
});

describe("reconnect floods", () => {
  it("upgrades from one device past its budget are refused with 429 before the vault is asked", async () => {
    const device = await enrolledDevice(served, "flood");
    const statuses: string[] = [];
    for (let attempt = 0; attempt < 15; attempt += 1) {
      const agent = new TestAgent(served, device);
      statuses.push(
        await agent.opened.then(
          () => "open",
          (error: Error) => error.message,
        ),
      );
      agent.close();
      await agent.closed;
    }
    expect(statuses).toContain("HTTP 429");
    expect(statuses[0]).toBe("open");
  }, 60_000);
});

describe("hostile frames close the socket with 1008 and are recorded", () => {
  const hello = (deviceId: string, seq = 1) =>
    encodeFrame(
      "hello",
      {
        deviceId,
        agentVersion: "0.1.0",
        hostname: "h",
        os: "linux",
        arch: "x64",
        policyHash: "0".repeat(64),
        prevNonce: null,
        capabilities: [],
      },
      { seq },
    );
  const cases: [string, (agent: TestAgent, deviceId: string) => Promise<void>, number][] = [
    ["not JSON", async (agent) => agent.raw("{nope"), 1008],
    ["a binary frame", async (agent) => agent.raw(Buffer.from("{}"), true), 1008],
    [
      "a frame before hello",
      async (agent) => agent.raw(encodeFrame("ack", { cmdId: "c", accepted: true }, { seq: 1 })),
      1008,
    ],
    ["a hello for another device", async (agent) => agent.raw(hello("D-0123456789ABCDEFGHJKMNPQRS")), 1008],
    ["a sequence gap", async (agent, id) => agent.raw(hello(id, 2)), 1008],
    [
      "a repeated seq after welcome",
      async (agent, id) => {
        await agent.hello(id, null);
        agent.raw(encodeFrame("ack", { cmdId: "c", accepted: true }, { seq: 1 }));
      },
      1008,
    ],
    [
      "a server frame type",
      async (agent) =>
        agent.raw(
          JSON.stringify({ v: 1, t: "command", id: "x", seq: 1, ts: new Date().toISOString(), body: {} }),
        ),
      1008,
    ],
    [
      "a rows frame over 256 KiB",
      async (agent, id) => {
        await agent.hello(id, null);
        agent.raw(
          JSON.stringify({
            v: 1,
            t: "rows",
            id: "x",
            seq: 2,
            ts: new Date().toISOString(),
            body: { cmdId: "c", chunk: 0, rows: [{ a: "x".repeat(300 * 1024) }] },
          }),
        );
      },
      1008,
    ],
    // past maxPayload the WebSocket layer stops reading; the close is still a policy breach (1008), recorded
    ["a frame over 1 MiB", async (agent) => agent.raw("x".repeat(1024 * 1024 + 1)), 1008],
  ];
  it.each(cases)(
    "%s",
    async (_name, attack, code) => {
      const device = await enrolledDevice(served, `hostile-${code}-${Math.random().toString(36).slice(2)}`);
      const agent = new TestAgent(served, device);
      await agent.opened;
      await attack(agent, device.deviceId);
      expect((await agent.closed).code).toBe(code);
      await recorded(
        (r) => r.action === "agent.protocol-error" && r.actor === device.deviceId && r.outcome === "deny",
        "the protocol error",
      );
      expect(served.server.hub.isOnline(device.deviceId)).toBe(false);
    },
    60_000,
  );
});
