import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActionBench, actionBench } from "./action-bench.js";
import { auditRecords, eventually, type Identity } from "./helpers.js";
import { TestAgent } from "./live-helpers.js";

// The action queue over real TLS with a scripted agent on the real WebSocket: the test sees every
// frame the server sends the device, so what runs, in which order, and what never leaves is observed.
let bench: ActionBench;
let bob: Identity;
let dave: Identity;
const CASE = "IR-88";

beforeAll(async () => {
  bench = await actionBench(CASE, ["bob", "dave"]);
  ({ bob, dave } = bench.people as { bob: Identity; dave: Identity });
}, 60_000);
afterAll(async () => {
  await bench.served.cleanup();
});

const as = (...args: Parameters<ActionBench["as"]>) => bench.as(...args);
const queue = (...args: Parameters<ActionBench["queue"]>) => bench.queue(...args);

async function settled(who: Identity, id: string) {
  return eventually(async () => {
    const action = (await as(who, "GET", `/v1/actions/${id}`)).json() as { state: string };
    return ["succeeded", "failed", "timed-out", "cancelled"].includes(action.state) ? action : undefined;
  }, `${id} settled`) as Promise<Record<string, unknown> & { steps: Record<string, unknown>[] }>;
}

describe("the action queue", () => {
  it("runs a device's actions in order when it connects; a revoked identity's never leaves; a running one is cancelled at its step", async () => {
    const daves = await queue(dave, "connections");
    const first = await queue(bob, "processes");
    const second = await queue(bob, "dir /tmp");
    expect([daves.state, first.state, second.state]).toEqual(["pending", "pending", "pending"]);
    // bad input changes nothing and gets its code
    const bad = await as(bob, "POST", "/v1/actions", {
      deviceId: bench.device.deviceId,
      caseId: "../x",
      line: "dir",
    });
    expect(bad.json()).toMatchObject({ code: expect.stringMatching(/ERR_INVALID_ARGUMENT|ERR_VALIDATION/) });
    const extra = await as(bob, "POST", "/v1/actions", {
      deviceId: bench.device.deviceId,
      caseId: CASE,
      line: "dir",
      x: 1,
    });
    expect(extra.status).toBe(400);
    expect(((await as(bob, "GET", "/v1/actions")).json() as unknown[]).length).toBe(2);

    expect((await as(bench.served.alice, "DELETE", "/v1/identities/dave")).status).toBe(200);
    const agent = new TestAgent(bench.served, bench.device);
    try {
      await agent.hello(bench.device.deviceId, null);
      const frame = await agent.next("command");
      // dave's action was first in line, but his identity is revoked: it failed without a frame
      expect(frame.body.name).toBe("processes");
      expect(frame.body.issuedBy).toBe("bob");
      const cancelling = as(bob, "POST", `/v1/actions/${first.id}/cancel`, { reason: "wrong host" });
      const cancel = await agent.next("cancel");
      expect(cancel.body.cmdId).toBe(frame.body.cmdId);
      agent.send("result", { cmdId: frame.body.cmdId, status: "cancelled", rows: 0, durationMs: 3 });
      expect((await cancelling).json()).toMatchObject({ state: "cancelled", cancelledBy: "bob" });
      expect((await settled(bob, first.id)).steps[0]).toMatchObject({ state: "cancelled" });

      const next = await agent.next("command");
      expect(next.body.name).toBe("dir");
      agent.send("ack", { cmdId: next.body.cmdId, accepted: true });
      agent.send("rows", { cmdId: next.body.cmdId, chunk: 0, rows: [{ name: "a" }] });
      agent.send("result", { cmdId: next.body.cmdId, status: "completed", rows: 1, durationMs: 2 });
      const done = await settled(bob, second.id);
      expect(done).toMatchObject({ state: "succeeded" });
      expect(done.steps[0]).toMatchObject({ state: "succeeded", rows: 1, cmdId: next.body.cmdId });
    } finally {
      agent.close();
    }
    const records = await auditRecords(bench.served);
    const ended = records.find((r) => r.action === "action.ended" && r.details.actionId === daves.id);
    expect(ended).toMatchObject({
      outcome: "error",
      details: { error: "ERR_IDENTITY_INVALID", caseId: CASE },
    });
    expect(records.some((r) => r.action === "live.session-open" && r.details.actionId === daves.id)).toBe(
      false,
    );
    const cancelled = records.find((r) => r.action === "action.ended" && r.details.actionId === first.id);
    expect(cancelled).toMatchObject({ details: { state: "cancelled", cancelledBy: "bob" } });
  });

  it("refuses an expiry past the server's maximum, and a batch of other commands, before anything is recorded", async () => {
    const actionFacts = async () =>
      (await auditRecords(bench.served)).filter((r) => r.action.startsWith("action.")).length;
    const before = await actionFacts();
    const long = await as(bob, "POST", "/v1/actions", {
      deviceId: bench.device.deviceId,
      caseId: CASE,
      line: "processes",
      expiresInMs: 31 * 24 * 3_600_000,
    });
    expect(long.json()).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    const batch = await as(bob, "POST", "/v1/actions/batches", {
      deviceId: bench.device.deviceId,
      caseId: CASE,
      steps: [{ line: "run a.sh" }, { line: "isolate" }],
    });
    expect(batch.json()).toMatchObject({ code: "ERR_USAGE" });
    expect(await actionFacts()).toBe(before);
  });
});
