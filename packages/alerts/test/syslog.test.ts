import { mkdtempSync, rmSync } from "node:fs";
import { type AddressInfo, createServer as createNetServer, type Server, type Socket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createServer as createTlsServer } from "node:tls";
import {
  createSyslogSink,
  formatSyslogMessage,
  MAX_SYSLOG_MESSAGE_BYTES,
  SYSLOG_SD_ID,
} from "@custody/alerts";
import fc from "fast-check";
import { afterAll, describe, expect, it } from "vitest";
import { loopbackCertificate, sampleAlert } from "./fixtures.js";
import { freePort } from "./receiver.js";
import { FrameReader, parseSyslogMessage, type SyslogMessage } from "./syslog-parser.js";

const work = mkdtempSync(join(tmpdir(), "custody-alerts-syslog-"));
const quick = { baseDelayMs: 5, maxDelayMs: 20 };
afterAll(() => rmSync(work, { recursive: true, force: true }));

/** A real syslog listener on 127.0.0.1 (TCP, or TLS) that parses every frame strictly. */
async function startListener(tls?: { cert: string; key: string }, port = 0) {
  const messages: SyslogMessage[] = [];
  const errors: unknown[] = [];
  const waiting: { count: number; resolve: () => void }[] = [];
  const sockets = new Set<Socket>();
  const onSocket = (socket: Socket) => {
    sockets.add(socket);
    socket.on("close", () => sockets.delete(socket));
    const reader = new FrameReader();
    socket.on("data", (chunk: Buffer) => {
      try {
        for (const frame of reader.push(chunk)) messages.push(parseSyslogMessage(frame));
      } catch (error) {
        errors.push(error);
        socket.destroy();
      }
      for (const w of waiting.filter((w) => messages.length >= w.count)) {
        waiting.splice(waiting.indexOf(w), 1);
        w.resolve();
      }
    });
    socket.on("error", () => {});
  };
  const server: Server = tls === undefined ? createNetServer(onSocket) : createTlsServer(tls, onSocket);
  await new Promise<void>((resolve) => server.listen(port, "127.0.0.1", resolve));
  return {
    messages,
    errors,
    port: (server.address() as AddressInfo).port,
    received: (count: number) =>
      new Promise<void>((resolve) => {
        if (messages.length >= count) resolve();
        else waiting.push({ count, resolve });
      }),
    close: () =>
      new Promise<void>((resolve) => {
        for (const socket of sockets) socket.destroy();
        server.close(() => resolve());
      }),
  };
}

const param = (message: SyslogMessage | undefined, name: string) =>
  message?.sd[0]?.params.find(([n]) => n === name)?.[1];

describe("syslog sink: hostile values and receivers first", () => {
  it("escapes '\"', '\\' and ']' in SD values and keeps control characters out, parsed by a strict reader", async () => {
    const listener = await startListener();
    const sink = createSyslogSink({
      host: "127.0.0.1",
      port: listener.port,
      transport: "tcp",
      hostname: "vault-1",
    });
    const hostile = 'ev"il]\\ name\nwith a newline] and ünïcödé';
    const alert = sampleAlert({ severity: "critical", summary: `burst by ${hostile}` });
    alert.record.actor = hostile;
    alert.record.target = "item:A/]]]";
    sink.send(alert);
    sink.send(sampleAlert({ severity: "low" }));
    await listener.received(2);
    expect(listener.errors).toEqual([]);
    const [first, second] = listener.messages;
    expect(first).toMatchObject({
      facility: 13,
      severity: 2,
      timestamp: alert.time,
      hostname: "vault-1",
      appName: "custody",
      procId: String(process.pid),
      msgId: alert.rule,
    });
    expect(first?.sd[0]?.id).toBe(SYSLOG_SD_ID);
    expect(param(first, "actor")).toBe(hostile.replace("\n", "\u{FFFD}"));
    expect(param(first, "target")).toBe("item:A/]]]");
    expect(param(first, "seq")).toBe(String(alert.record.seq));
    expect(param(first, "action")).toBe(alert.record.action);
    expect(param(first, "outcome")).toBe(alert.record.outcome);
    expect(param(first, "alertId")).toBe(alert.id);
    expect(first?.msg).toBe(`burst by ${hostile.replace("\n", "\u{FFFD}")}`);
    expect(second?.severity).toBe(5);
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 2, failed: 0, dropped: 0 });
    await sink.close();
    await listener.close();
  });

  it("keeps alerts while the listener is down at startup, connects when it comes up", async () => {
    const port = await freePort();
    // Retries for several seconds: time enough to open the port again on a loaded machine.
    const sink = createSyslogSink({
      host: "127.0.0.1",
      port,
      transport: "tcp",
      ...quick,
      maxDelayMs: 100,
      maxAttempts: 100,
    });
    sink.send(sampleAlert());
    sink.send(sampleAlert());
    while ((sink.stats().lastError ?? "") === "") await new Promise((r) => setImmediate(r));
    expect(sink.stats().lastError).toContain("ECONNREFUSED");
    const listener = await startListener(undefined, port);
    await listener.received(2);
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 2, dropped: 0, failed: 0 });
    expect(sink.stats().retries).toBeGreaterThan(0);
    await sink.close();
    await listener.close();
  });

  it("gives up on a listener that stays down after maxAttempts, and bounds its queue", async () => {
    const port = await freePort();
    const sink = createSyslogSink({
      host: "127.0.0.1",
      port,
      transport: "tcp",
      ...quick,
      maxAttempts: 2,
      maxQueue: 1,
    });
    for (let i = 0; i < 3; i += 1) sink.send(sampleAlert());
    await sink.flush();
    const stats = sink.stats();
    expect(stats.delivered).toBe(0);
    expect(stats.dropped + stats.failed).toBe(3);
    expect(stats.dropped).toBeGreaterThan(0);
    await sink.close();
  });

  it("refuses bad options when made", () => {
    for (const options of [
      { host: "127.0.0.1", port: 0, transport: "tcp" as const },
      { host: "127.0.0.1", port: 514, transport: "tcp" as const, facility: 24 },
      { host: "", port: 514, transport: "tls" as const },
    ]) {
      expect(() => createSyslogSink(options)).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
    }
  });
});

describe("syslog sink over TLS", () => {
  it("delivers to a listener whose certificate chains to the CA given, and to no other", async () => {
    const tls = loopbackCertificate(work);
    const listener = await startListener(tls);
    const trusted = createSyslogSink({
      host: "127.0.0.1",
      port: listener.port,
      transport: "tls",
      ca: tls.cert,
    });
    trusted.send(sampleAlert({ rule: "integrity-mismatch" }));
    await listener.received(1);
    expect(listener.messages[0]?.msgId).toBe("integrity-mismatch");
    const untrusted = createSyslogSink({
      host: "127.0.0.1",
      port: listener.port,
      transport: "tls",
      ...quick,
      maxAttempts: 2,
    });
    untrusted.send(sampleAlert());
    await untrusted.flush();
    expect(untrusted.stats()).toMatchObject({ delivered: 0, failed: 1 });
    expect(untrusted.stats().lastError).toMatch(/certificate/i);
    expect(listener.messages).toHaveLength(1);
    await trusted.close();
    await untrusted.close();
    await listener.close();
  });
});

describe("formatSyslogMessage", () => {
  it("always makes a message the strict reader accepts, within 8192 octets, whatever the record says", () => {
    const text = fc.string({ unit: "grapheme", maxLength: 2000 });
    fc.assert(
      fc.property(text, text, text, text, (actor, target, action, summary) => {
        const alert = sampleAlert({ summary });
        Object.assign(alert.record, { actor, target, action });
        const message = formatSyslogMessage(alert, { facility: 4, hostname: "h ost\u00e9", procId: "1" });
        expect(Buffer.byteLength(message)).toBeLessThanOrEqual(MAX_SYSLOG_MESSAGE_BYTES);
        const parsed = parseSyslogMessage(Buffer.from(message));
        expect(parsed.hostname).toBe("h_ost_");
        const control = (c: string) =>
          (c.codePointAt(0) ?? 0) < 0x20 ||
          ((c.codePointAt(0) ?? 0) >= 0x7f && (c.codePointAt(0) ?? 0) <= 0x9f);
        const clean = (s: string) => Array.from(s, (c) => (control(c) ? "\u{FFFD}" : c)).join("");
        const actorValue = param(parsed, "actor") ?? "";
        expect(clean(actor).startsWith(actorValue.replace(/…$/, ""))).toBe(true);
      }),
      { numRuns: 200 },
    );
  });
});
