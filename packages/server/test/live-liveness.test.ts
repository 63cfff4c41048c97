import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { eventually, type Served, serveVault } from "./helpers.js";
import { enrolledDevice, TestAgent } from "./live-helpers.js";

// Short timeouts so the liveness rules run within a test; the defaults are 20 s, 10 s and 10 s.
let served: Served;

beforeAll(async () => {
  served = await serveVault({
    agentTimeouts: { pingIntervalMs: 200, pongTimeoutMs: 200, helloTimeoutMs: 300 },
  });
});
afterAll(async () => served.cleanup());

describe("agent liveness", () => {
  it("an agent that answers pings stays online across many ping rounds", async () => {
    const device = await enrolledDevice(served, "alive");
    const agent = new TestAgent(served, device);
    await agent.hello(device.deviceId, null);
    let pings = 0;
    agent.ws.on("ping", () => {
      pings += 1;
    });
    await eventually(async () => (pings >= 5 ? true : undefined), "five pings");
    expect(served.server.hub.isOnline(device.deviceId)).toBe(true);
    agent.close();
  }, 60_000);

  it("an agent that stops answering (its socket no longer read) is cut and reported offline", async () => {
    const device = await enrolledDevice(served, "silent");
    const agent = new TestAgent(served, device);
    await agent.hello(device.deviceId, null);
    const gone = new Promise<string>((resolve) => served.server.hub.onDisconnect(resolve));
    agent.ws.pause();
    expect(await gone).toBe(device.deviceId);
    expect(served.server.hub.isOnline(device.deviceId)).toBe(false);
    agent.close();
  }, 60_000);

  it("an agent that never says hello is cut with 1008", async () => {
    const device = await enrolledDevice(served, "mute");
    const agent = new TestAgent(served, device);
    await agent.opened;
    expect((await agent.closed).code).toBe(1008);
  }, 60_000);
});
