import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { type AddressInfo, createServer as createNetServer, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createAlertEngine,
  createSyslogSink,
  createWebhookSink,
  verifyWebhookSignature,
} from "@custody/alerts";
import { Vault } from "@custody/vault";
import { afterAll, describe, expect, it } from "vitest";
import { startReceiver } from "./receiver.js";
import { FrameReader, parseSyslogMessage, type SyslogMessage } from "./syslog-parser.js";

const work = mkdtempSync(join(tmpdir(), "custody-alerts-e2e-"));
afterAll(() => rmSync(work, { recursive: true, force: true }));
const secret = "the webhook secret shared with the SIEM, 32+ bytes";

/** A plain-TCP syslog listener that parses strictly and can be told to stop reading (a stuck receiver). */
async function syslogListener() {
  const messages: SyslogMessage[] = [];
  let notify = () => {};
  const server = createNetServer((socket: Socket) => {
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      for (const frame of reader.push(chunk)) messages.push(parseSyslogMessage(frame));
      notify();
    });
    socket.on("error", () => {});
  });
  await new Promise<void>((resolve) => server.listen(0, "127.0.0.1", resolve));
  return {
    messages,
    port: (server.address() as AddressInfo).port,
    received: (count: number) =>
      new Promise<void>((resolve) => {
        notify = () => messages.length >= count && resolve();
        notify();
      }),
    close: () => new Promise<void>((resolve) => server.close(() => resolve())),
  };
}

describe("a vault whose alert receivers hang, fail and recover", () => {
  it("finishes every operation at once, and the alerts arrive once the receivers answer", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    // The webhook receiver holds every request until the test releases it, then fails once with 503.
    const receiver = await startReceiver(({ n }, response) => {
      void gate.then(() => response.writeHead(n === 1 ? 503 : 200).end());
    });
    const listener = await syslogListener();
    const webhook = createWebhookSink({
      url: receiver.url,
      secret,
      baseDelayMs: 5,
      maxDelayMs: 20,
      timeoutMs: 600_000,
    });
    const syslog = createSyslogSink({ host: "127.0.0.1", port: listener.port, transport: "tcp" });
    const engine = createAlertEngine({ sinks: [webhook, syslog] });
    const dir = join(work, "vault");
    const created = await Vault.init(dir, { custodian: "alice", keyBits: 2048 });
    await created.vault.close();
    const vault = await Vault.open({ dir, onAuditRecord: (record) => engine.observe(record) });
    const alice = vault.authenticate(created.identityPem);
    const file = join(work, "evidence.txt");
    writeFileSync(file, "evidence\n");
    const item = await vault.ingest(alice, file, { caseId: "A", retainDays: 0, legalHold: true });
    // Both resolve while the webhook receiver holds the first alert's request open.
    await vault.release(alice, item.id);
    await vault.purge(alice, item.id);
    await receiver.requests(1);
    expect(receiver.received).toHaveLength(1);
    expect(webhook.stats().queued).toBe(2);
    await listener.received(2);
    expect(listener.messages.map((m) => m.msgId)).toEqual(["legal-hold-released", "evidence-purged"]);
    release();
    await engine.flush();
    const bodies = receiver.received.map((r) => r.body);
    for (const [i, r] of receiver.received.entries()) {
      verifyWebhookSignature(String(r.headers["x-custody-signature"]), bodies[i] ?? "", { secret });
    }
    const delivered = [...new Set(bodies.map((b) => JSON.parse(b).rule))];
    expect(delivered).toEqual(["legal-hold-released", "evidence-purged"]);
    expect(engine.stats().sinks.map((s) => [s.name, s.delivered, s.retries])).toEqual([
      ["webhook", 2, 1],
      ["syslog", 2, 0],
    ]);
    await vault.close();
    await engine.close();
    await receiver.close();
    await listener.close();
  });
});
