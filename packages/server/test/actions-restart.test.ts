import { type ChildProcess, spawn } from "node:child_process";
import { join } from "node:path";
import { startServer } from "@custody/server";
import { Vault } from "@custody/vault";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { type ActionBench, actionBench } from "./action-bench.js";
import { auditRecords, eventually, type Identity, type Served } from "./helpers.js";
import { TestAgent } from "./live-helpers.js";

// The queue's memory is the signed log: a server stopped with actions pending takes them up when it
// starts again on the same vault, under the identity of the person who queued each, checked again.
let bench: ActionBench;
let bob: Identity;
let dave: Identity;
const CASE = "IR-91";

beforeAll(async () => {
  bench = await actionBench(CASE, ["bob", "dave"]);
  ({ bob, dave } = bench.people as { bob: Identity; dave: Identity });
}, 60_000);
afterAll(async () => {
  await bench.served.cleanup();
});

const as = (...args: Parameters<ActionBench["as"]>) => bench.as(...args);
const queue = (...args: Parameters<ActionBench["queue"]>) => bench.queue(...args);

/** Stops the server (its vault closes with it) and serves the same vault again on a new port. */
async function restart(): Promise<void> {
  await bench.served.server.close();
  await serveAgain();
}

async function serveAgain(): Promise<void> {
  const vault = await Vault.open({ dir: bench.served.vaultDir });
  const server = await startServer({
    names: ["localhost", "127.0.0.1"],
    port: 0,
    vault,
    actionLimits: { pollMs: 50 },
  });
  bench.served = { ...bench.served, vault, server, url: server.urls[0] ?? "" };
}

describe("queued actions across a server restart", () => {
  it("a pending action survives the restart and runs when the device comes; a running one ends cancelled; a revocation after the restart still stops one", async () => {
    const running = await queue(bob, "processes");
    const waiting = await queue(bob, "dir /tmp");
    const davesWaiting = await queue(dave, "connections");
    const agent = new TestAgent(bench.served, bench.device);
    let nonce: string;
    try {
      nonce = await agent.hello(bench.device.deviceId, null);
      const frame = await agent.next("command");
      expect(frame.body.name).toBe("processes");
      agent.send("ack", { cmdId: frame.body.cmdId, accepted: true });
      // the server stops while the first action runs: it is not taken up again half-way
      await restart();
    } finally {
      agent.close();
    }

    // the new process knows the pending actions from the log alone, with their queued facts
    const listed = (await as(bob, "GET", "/v1/actions")).json() as { id: string; state: string }[];
    expect(listed.map((a) => [a.id, a.state])).toEqual([[waiting.id, "pending"]]);
    const shown = (await as(bob, "GET", `/v1/actions/${waiting.id}`)).json();
    expect(shown).toMatchObject({ queuedBy: "bob", caseId: CASE, steps: [{ line: "dir /tmp" }] });
    expect((await as(dave, "GET", `/v1/actions/${waiting.id}`)).status).toBe(404);
    expect((await as(bench.served.alice, "DELETE", "/v1/identities/dave")).status).toBe(200);

    const again = new TestAgent(bench.served, bench.device);
    try {
      savedNonce = await again.hello(bench.device.deviceId, nonce);
      const next = await again.next("command");
      expect(next.body).toMatchObject({ name: "dir", issuedBy: "bob" });
      again.send("ack", { cmdId: next.body.cmdId, accepted: true });
      again.send("rows", { cmdId: next.body.cmdId, chunk: 0, rows: [{ name: "a" }] });
      again.send("result", { cmdId: next.body.cmdId, status: "completed", rows: 1, durationMs: 2 });
      await eventually(async () => {
        const action = (await as(bob, "GET", `/v1/actions/${waiting.id}`)).json() as { state: string };
        return action.state === "succeeded" ? action : undefined;
      }, "the adopted action succeeded");
      // dave's comes next in line, while the device is still connected
      await eventually(
        async () =>
          (await auditRecords(bench.served)).some(
            (r) => r.action === "action.ended" && r.details.actionId === davesWaiting.id,
          ) || undefined,
        "dave's action ended",
      );
    } finally {
      again.close();
    }

    const records = await auditRecords(bench.served);
    const ended = (id: string) =>
      records.find((r) => r.action === "action.ended" && r.details.actionId === id)?.details;
    expect(ended(running.id)).toMatchObject({ state: "cancelled", cancelledBy: "server" });
    expect(ended(waiting.id)).toMatchObject({ state: "succeeded" });
    // dave was revoked after the restart: his action never reached the device
    expect(ended(davesWaiting.id)).toMatchObject({ state: "failed", error: "ERR_IDENTITY_INVALID" });
    expect(records.filter((r) => r.action === "action.ended").map((r) => r.details.actionId)).toHaveLength(3);
    // each start names the process that claimed it: two processes, one claim each
    const runners = records
      .filter((r) => r.action === "action.started" && r.outcome === "allow")
      .map((r) => [r.details.actionId, r.details.runner]);
    expect(runners).toEqual([
      [running.id, expect.stringMatching(/^R-/)],
      [waiting.id, expect.stringMatching(/^R-/)],
    ]);
    expect(runners[0]?.[1]).not.toBe(runners[1]?.[1]);
  }, 60_000);

  it("an action the server was running when it died ends failed at the next start, never resumed", async () => {
    const interrupted = await queue(bob, "processes");
    const after = await queue(bob, "dir /var");
    await bench.served.server.close();
    // `custody serve` on the same vault, killed while the first action runs on the device
    const BIN = join(import.meta.dirname, "..", "..", "cli", "dist", "bin.js");
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--vault", bench.served.vaultDir, "--listen", "127.0.0.1:0"],
      {
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    try {
      const port = await listening(child);
      const agent = new TestAgent({ ...bench.served, server: { port } } as unknown as Served, bench.device);
      try {
        await agent.hello(bench.device.deviceId, savedNonce);
        const frame = await agent.next("command");
        expect(frame.body.name).toBe("processes");
        child.kill("SIGKILL");
        await new Promise((resolve) => child.once("exit", resolve));
      } finally {
        agent.close();
      }
    } finally {
      child.kill("SIGKILL");
    }
    await serveAgain();
    const records = await eventually(async () => {
      const all = await auditRecords(bench.served);
      return all.some((r) => r.action === "action.ended" && r.details.actionId === interrupted.id)
        ? all
        : undefined;
    }, "the interrupted action ended");
    expect(
      records.find((r) => r.action === "action.ended" && r.details.actionId === interrupted.id),
    ).toMatchObject({ outcome: "error", details: { state: "failed", error: "ERR_ABORTED" } });
    // it was never sent again; the one behind it still waits for the device
    expect(((await as(bob, "GET", `/v1/actions/${after.id}`)).json() as { state: string }).state).toBe(
      "pending",
    );
    expect(
      records.filter((r) => r.action === "action.started" && r.details.actionId === interrupted.id),
    ).toHaveLength(1);
  }, 60_000);
});

/** The nonce the device was last welcomed with: its next hello names it. */
let savedNonce: string | null = null;

function listening(child: ChildProcess): Promise<number> {
  let output = "";
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      const port = /https:\/\/[^:\s]+:(\d+)/.exec(output)?.[1];
      if (/listening on/.test(output) && port !== undefined) resolve(Number(port));
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`custody serve exited ${code}: ${output}`)));
  });
}
