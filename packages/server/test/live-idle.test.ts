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

// A session nobody uses is closed by the server, with its transcript stored, as an idle console would be.
let served: Served;
let agent: TestAgent;
let bob: Identity;
let deviceId: string;

beforeAll(async () => {
  served = await serveVault({ liveLimits: { idleMs: 300 } });
  const issued = await call(served.url, "/v1/identities", {
    method: "POST",
    identity: served.alice,
    ca: served.ca,
    json: { name: "bob", kind: "person" },
  });
  bob = identityOf((issued.json() as { identityPem: string }).identityPem);
  await call(served.url, "/v1/access/grants", {
    method: "POST",
    identity: served.alice,
    ca: served.ca,
    json: { name: "bob", role: "responder", scope: "*" },
  });
  await call(served.url, "/v1/settings/live-response", {
    method: "POST",
    identity: served.alice,
    ca: served.ca,
    json: { enabled: true },
  });
  const device = await enrolledDevice(served, "idle");
  deviceId = device.deviceId;
  agent = new TestAgent(served, device);
  await agent.hello(deviceId, null);
}, 60_000);
afterAll(async () => {
  agent?.close();
  await served.cleanup();
});

describe("an idle live session", () => {
  it("is closed by the server after its idle limit, its transcript stored and the close recorded", async () => {
    const opened = await call(served.url, "/v1/sessions", {
      method: "POST",
      identity: bob,
      ca: served.ca,
      json: { deviceId, caseId: "IDLE-1" },
    });
    const { id } = opened.json() as { id: string };
    const closed = await eventually(async () => {
      const view = (
        await call(served.url, `/v1/sessions/${id}`, { identity: bob, ca: served.ca })
      ).json() as {
        closeReason?: string;
        transcriptItemId?: string;
      };
      return view.transcriptItemId === undefined ? undefined : view;
    }, "the idle session closed");
    expect(closed.closeReason).toBe("idle");
    const close = (await auditRecords(served)).find((r) => r.action === "live.session-close");
    expect(close).toMatchObject({ outcome: "allow", details: { sessionId: id, reason: "idle" } });
    // a command on the closed session is refused
    const refused = await call(served.url, `/v1/sessions/${id}/commands`, {
      method: "POST",
      identity: bob,
      ca: served.ca,
      json: { line: "processes" },
    });
    expect(refused.json()).toMatchObject({ code: "ERR_SESSION_CLOSED" });
  }, 60_000);
});
