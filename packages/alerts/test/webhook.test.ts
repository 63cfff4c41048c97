import { execFileSync } from "node:child_process";
import { mkdtempSync, rmSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createWebhookSink, SIGNATURE_HEADER, verifyWebhookSignature } from "@custody/alerts";
import { fixedClock, isCustodyError } from "@custody/core";
import { afterAll, describe, expect, it } from "vitest";
import { loopbackCertificate, sampleAlert } from "./fixtures.js";
import { freePort, startReceiver } from "./receiver.js";

const work = mkdtempSync(join(tmpdir(), "custody-alerts-webhook-"));
const secret = "a shared secret of at least 32 bytes, made for this test";
// Fast retries for tests: the back-off itself is what is being exercised, not its length.
const quick = { secret, baseDelayMs: 5, maxDelayMs: 20 };

afterAll(() => rmSync(work, { recursive: true, force: true }));

const header = (value: string | string[] | undefined) => (Array.isArray(value) ? value[0] : value);

describe("webhook sink: hostile receivers first", () => {
  it("retries a receiver that fails with 500 (and an endless body), then succeeds; same alert id each time", async () => {
    const receiver = await startReceiver(({ n }, response) => {
      if (n >= 3) return void response.writeHead(204).end();
      response.writeHead(500, { "content-type": "text/plain" });
      // An endless answer: the sink must read the status and hang up, never the body.
      const pump = () => {
        while (response.write("x".repeat(65_536))) {}
      };
      response.on("drain", pump);
      response.on("error", () => {});
      pump();
    });
    const sink = createWebhookSink({ url: receiver.url, ...quick });
    const alert = sampleAlert();
    sink.send(alert);
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 1, retries: 2, failed: 0, dropped: 0, queued: 0 });
    expect(receiver.received.map((r) => header(r.headers["x-custody-alert-id"]))).toEqual([
      alert.id,
      alert.id,
      alert.id,
    ]);
    expect(JSON.parse(receiver.received[2]?.body ?? "")).toEqual(alert);
    await sink.close();
    await receiver.close();
  });

  it("gives up on a receiver that hangs, attempt by attempt, then delivers to it once it answers", async () => {
    const receiver = await startReceiver(({ n }, response) => {
      if (n >= 2) response.writeHead(200).end("ok");
      // the first request is never answered
    });
    const sink = createWebhookSink({ url: receiver.url, ...quick, timeoutMs: 200 });
    sink.send(sampleAlert());
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 1, failed: 0 });
    expect(sink.stats().retries).toBeGreaterThanOrEqual(1);
    expect(sink.stats().lastError).toContain("did not answer in time");
    await sink.close();
    await receiver.close();
  });

  it("keeps alerts for a receiver that is down at startup, and delivers them when it comes up", async () => {
    const port = await freePort();
    // Retries for several seconds: time enough to open the port again on a loaded machine.
    const sink = createWebhookSink({
      url: `http://127.0.0.1:${port}/alerts`,
      ...quick,
      maxDelayMs: 100,
      maxAttempts: 100,
    });
    const alerts = [sampleAlert(), sampleAlert()];
    for (const alert of alerts) sink.send(alert);
    const stats = sink.stats();
    expect(stats.queued).toBe(2);
    // Waits for the sink to have failed at least once against the closed port, then opens it.
    while ((sink.stats().lastError ?? "") === "") await new Promise((r) => setImmediate(r));
    expect(sink.stats().lastError).toContain("ECONNREFUSED");
    const receiver = await startReceiver((_r, response) => response.writeHead(200).end(), undefined, port);
    await sink.flush();
    expect(receiver.received.map((r) => JSON.parse(r.body).id)).toEqual(alerts.map((a) => a.id));
    expect(sink.stats()).toMatchObject({ delivered: 2, failed: 0, dropped: 0 });
    await sink.close();
    await receiver.close();
  });

  it("counts a receiver that stays down as failed after maxAttempts, without throwing", async () => {
    const port = await freePort();
    const sink = createWebhookSink({ url: `http://127.0.0.1:${port}/alerts`, ...quick, maxAttempts: 3 });
    expect(() => sink.send(sampleAlert())).not.toThrow();
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 0, failed: 1, retries: 2, queued: 0 });
    await sink.close();
  });

  it("does not retry what the receiver refuses (4xx) or redirects", async () => {
    const receiver = await startReceiver(({ n }, response) => {
      if (n === 1) response.writeHead(401).end("bad signature");
      else response.writeHead(302, { location: "https://elsewhere.example/" }).end();
    });
    const sink = createWebhookSink({ url: receiver.url, ...quick });
    sink.send(sampleAlert());
    sink.send(sampleAlert());
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 0, failed: 2, retries: 0 });
    expect(receiver.received).toHaveLength(2);
    await sink.close();
    await receiver.close();
  });

  it("bounds its queue behind a slow receiver: drops the oldest and counts them; close drops the rest", async () => {
    const receiver = await startReceiver(() => {}); // never answers
    const sink = createWebhookSink({ url: receiver.url, ...quick, timeoutMs: 600_000, maxQueue: 2 });
    const alerts = Array.from({ length: 5 }, () => sampleAlert());
    for (const alert of alerts) sink.send(alert);
    await receiver.requests(1);
    expect(sink.stats()).toMatchObject({ queued: 3, dropped: 2 });
    await sink.close({ timeoutMs: 50 });
    expect(sink.stats()).toMatchObject({ queued: 0, delivered: 0 });
    expect(sink.stats().dropped + sink.stats().failed).toBe(5);
    sink.send(sampleAlert());
    expect(sink.stats().dropped + sink.stats().failed).toBe(6);
    await receiver.close();
  });

  it("when full, drops the oldest alert of the lowest severity: a flood of minor alerts cannot push out a critical one", async () => {
    let release = () => {};
    const gate = new Promise<void>((resolve) => {
      release = resolve;
    });
    const receiver = await startReceiver(
      (_r, response) => void gate.then(() => response.writeHead(200).end()),
    );
    const sink = createWebhookSink({ url: receiver.url, ...quick, timeoutMs: 600_000, maxQueue: 2 });
    const low = () => sampleAlert({ severity: "low" });
    const first = low();
    const critical = sampleAlert({ severity: "critical", rule: "integrity-mismatch" });
    sink.send(first);
    await receiver.requests(1); // in flight, held
    const later = [low(), critical, low(), low()];
    for (const alert of later) sink.send(alert);
    expect(sink.stats()).toMatchObject({ queued: 3, dropped: 2 });
    release();
    await sink.flush();
    const ids = receiver.received.map((r) => JSON.parse(r.body).id);
    expect(ids).toEqual([first.id, critical.id, later[3]?.id]);
    await sink.close();
    await receiver.close();
  });

  it("drops an alert larger than maxBodyBytes instead of sending it", async () => {
    const receiver = await startReceiver((_r, response) => response.writeHead(200).end());
    const sink = createWebhookSink({ url: receiver.url, ...quick, maxBodyBytes: 1024 });
    sink.send(sampleAlert({ summary: "x".repeat(2000) }));
    sink.send(sampleAlert());
    await sink.flush();
    expect(sink.stats()).toMatchObject({ delivered: 1, dropped: 1 });
    expect(receiver.received).toHaveLength(1);
    await sink.close();
    await receiver.close();
  });

  it("refuses bad options when made", () => {
    const bad = [
      { url: "http://siem.example/hook", secret },
      { url: "https://siem.example/hook", secret: "short" },
      { url: "https://siem.example/hook", secret, maxAttempts: 0 },
      { url: "not a url", secret },
    ];
    for (const options of bad) {
      expect(() => createWebhookSink(options)).toThrow(
        expect.objectContaining({ code: "ERR_INVALID_ARGUMENT" }),
      );
    }
  });
});

describe("webhook sink: signatures and TLS", () => {
  it("signs each attempt so that the receiver's check and openssl agree, and a replay or an edit is refused", async () => {
    const receiver = await startReceiver((_r, response) => response.writeHead(200).end());
    const clock = fixedClock("2026-12-06T05:00:00Z");
    const sink = createWebhookSink({ url: receiver.url, ...quick, clock });
    sink.send(sampleAlert());
    await sink.flush();
    const [request] = receiver.received;
    const signature = header(request?.headers[SIGNATURE_HEADER]) ?? "";
    const body = request?.body ?? "";
    expect(signature).toMatch(/^t=1796533200,v1=[0-9a-f]{64}$/);
    verifyWebhookSignature(signature, body, { secret, clock });
    const byOpenssl = execFileSync("openssl", ["dgst", "-sha256", "-hmac", secret], {
      input: `1796533200.${body}`,
    }).toString();
    expect(byOpenssl.trim().split(" ").at(-1)).toBe(signature.split("v1=")[1]);
    const codeOf = (f: () => void) => {
      try {
        f();
        return undefined;
      } catch (error) {
        return isCustodyError(error) ? error.code : String(error);
      }
    };
    const later = fixedClock("2026-12-06T05:10:00Z");
    expect(codeOf(() => verifyWebhookSignature(signature, body, { secret, clock: later }))).toBe(
      "ERR_SIGNATURE_INVALID",
    );
    expect(codeOf(() => verifyWebhookSignature(signature, `${body} `, { secret, clock }))).toBe(
      "ERR_SIGNATURE_INVALID",
    );
    expect(codeOf(() => verifyWebhookSignature(undefined, body, { secret, clock }))).toBe(
      "ERR_SIGNATURE_INVALID",
    );
    expect(codeOf(() => verifyWebhookSignature(signature, body, { secret: `${secret}!`, clock }))).toBe(
      "ERR_SIGNATURE_INVALID",
    );
    await sink.close();
    await receiver.close();
  });

  it("posts over HTTPS to a receiver whose certificate chains to the given CA, and only then", async () => {
    const tls = loopbackCertificate(work);
    const receiver = await startReceiver((_r, response) => response.writeHead(200).end(), tls);
    const trusted = createWebhookSink({ url: receiver.url, ...quick, ca: tls.cert });
    trusted.send(sampleAlert());
    await trusted.flush();
    expect(trusted.stats()).toMatchObject({ delivered: 1, failed: 0 });
    const untrusted = createWebhookSink({ url: receiver.url, ...quick, maxAttempts: 2 });
    untrusted.send(sampleAlert());
    await untrusted.flush();
    expect(untrusted.stats()).toMatchObject({ delivered: 0, failed: 1 });
    expect(untrusted.stats().lastError).toMatch(/certificate/i);
    expect(receiver.received).toHaveLength(1);
    await trusted.close();
    await untrusted.close();
    await receiver.close();
  });
});
