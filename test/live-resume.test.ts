import { createHash, randomBytes } from "node:crypto";
import { writeFileSync } from "node:fs";
import { connect, createServer, type Server, type Socket } from "node:net";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench } from "./support/live-e2e.ts";

// An interrupted getfile resumes: a real `custody agent run` reaches a real `custody serve` through a
// TCP relay on loopback (TLS end to end, the relay sees only ciphertext), and the relay cuts the agent's
// upload connection once it has carried a third of the file. The agent asks the server how much it
// holds and sends only the rest; the item is the whole file under its digest.
const bench = new LiveBench({
  serverForDevice: async (url) => `https://127.0.0.1:${await startRelay(Number(new URL(url).port))}`,
});
const { work } = bench;
const CASE = "IR-2026-13R";
const MiB = 1024 * 1024;
let url = "";
let deviceId = "";
let relay: Server;

/** Bytes each relayed connection carried from the agent; `cutAfter` arms one cut. */
const relayed: { bytes: number; cut: boolean }[] = [];
let cutAfter: number | undefined;

function startRelay(port: number): Promise<number> {
  relay = createServer((client: Socket) => {
    const upstream = connect(port, "127.0.0.1");
    const seen = { bytes: 0, cut: false };
    relayed.push(seen);
    client.on("data", (chunk: Buffer) => {
      seen.bytes += chunk.length;
      // what the relay counts has reached the server's socket: a busy server is not outrun by
      // bytes waiting in the relay, which the cut would throw away
      if (!upstream.write(chunk)) {
        client.pause();
        upstream.once("drain", () => client.resume());
      }
      if (cutAfter !== undefined && seen.bytes > cutAfter) {
        cutAfter = undefined;
        seen.cut = true;
        client.destroy();
        upstream.destroy();
      }
    });
    upstream.on("data", (chunk: Buffer) => client.write(chunk));
    client.on("close", () => upstream.destroy());
    upstream.on("close", () => client.destroy());
    client.on("error", () => undefined);
    upstream.on("error", () => undefined);
  });
  return new Promise((resolve) =>
    relay.listen(0, "127.0.0.1", () => resolve((relay.address() as { port: number }).port)),
  );
}

const custodyAsync = (args: string[]) => bench.custodyAsync(args);
const alice = () => bench.custodian();

beforeAll(async () => {
  await bench.serve([], CASE);
  url = bench.url;
  deviceId = bench.deviceId;
  await bench.startAgent();
}, 180_000);

afterAll(async () => {
  await bench.close();
  relay?.close();
});

describe("getfile over a connection that is cut", () => {
  it("resumes from what the server staged and stores the whole file under its digest", async () => {
    const bytes = randomBytes(24 * MiB);
    const file = join(work, "memory.dump");
    writeFileSync(file, bytes);
    const sha256 = createHash("sha256").update(bytes).digest("hex");
    const before = relayed.length;
    cutAfter = 8 * MiB;
    const taken = await custodyAsync([
      ...["live", "run", deviceId, "--case", CASE, "--server", url, "--identity", join(work, "alice.pem")],
      ...["--", "getfile", file, "-auto"],
    ]);
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stdout.trim()).toBe(sha256);
    // one upload connection was cut past 8 MiB; the next one carried less than the whole file
    const uploads = relayed.slice(before);
    const cut = uploads.filter((c) => c.cut);
    expect(cut.length).toBe(1);
    const after = uploads.slice(uploads.indexOf(cut[0] as (typeof uploads)[number]) + 1);
    const resumed = Math.max(...after.map((c) => c.bytes));
    expect(resumed).toBeGreaterThan(0);
    expect(resumed).toBeLessThan(bytes.length - 2 * MiB);
    // the item is the whole file
    const read = await alice().read({ id: sha256, caseId: CASE });
    const hash = createHash("sha256");
    let size = 0;
    for await (const chunk of read.stream) {
      hash.update(chunk as Buffer);
      size += (chunk as Buffer).length;
    }
    expect({ size, sha256: hash.digest("hex") }).toEqual({ size: bytes.length, sha256 });
  }, 180_000);
});
