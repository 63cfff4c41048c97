import { readdir, readFile, stat } from "node:fs/promises";
import { connect as netConnect } from "node:net";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { parseCrl } from "@custody/manifest";
import { Vault } from "@custody/vault";
import { describe, expect, it } from "vitest";
import { auditRecords, call, eventually, type Served, serveVault } from "./helpers.js";

const DAY_MS = 86_400_000;

/** A clock the test moves; the vault and the server read the same one. */
function movableClock(start: number) {
  let now = start;
  const set = (at: number): void => {
    now = at;
  };
  return { clock: { now: () => new Date(now) }, set };
}

async function crlNextUpdate(served: Served): Promise<Date | undefined> {
  return parseCrl(await readFile(join(served.vaultDir, "pki", "crl.pem"), "utf8")).nextUpdate;
}

describe("the allow-list", () => {
  it("closes a connection from outside it before any TLS byte", async () => {
    const served = await serveVault({ allow: ["127.0.0.2/32"] });
    try {
      const socket = netConnect({ host: "127.0.0.1", port: served.server.port });
      const received: Buffer[] = [];
      socket.on("data", (chunk: Buffer) => received.push(chunk));
      socket.on("error", () => {});
      socket.on("connect", () =>
        socket.write(Buffer.from([0x16, 0x03, 0x01, 0x00, 0x05, 0x01, 0x00, 0x00, 0x01, 0x00])),
      );
      await new Promise<void>((resolve) => socket.once("close", () => resolve()));
      expect(Buffer.concat(received).length).toBe(0);
      await expect(call(served.url, "/healthz", { identity: served.alice, ca: served.ca })).rejects.toThrow();
    } finally {
      await served.cleanup();
    }
  });

  it("serves an address inside it", async () => {
    const served = await serveVault({ allow: ["127.0.0.0/8", "::1/128"] });
    try {
      expect((await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca })).status).toBe(
        200,
      );
    } finally {
      await served.cleanup();
    }
  });
});

describe("the CRL handed to TLS never expires", () => {
  it("a vault whose CRL has already expired still serves: the server signs it again first", async () => {
    const time = movableClock(Date.now() - 31 * DAY_MS);
    const served = await serveVault({ initClock: time.clock, clock: { now: () => new Date() } });
    // the CRL made at init is already past its nextUpdate
    try {
      expect(((await crlNextUpdate(served))?.getTime() ?? 0) > Date.now() + 20 * DAY_MS).toBe(true);
      expect((await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca })).status).toBe(
        200,
      );
      const records = await auditRecords(served);
      expect(records.some((r) => r.action === "pki.crl-published")).toBe(true);
    } finally {
      await served.cleanup();
    }
  });

  it("a running server signs the CRL again before it expires, and TLS keeps accepting clients", async () => {
    const time = movableClock(Date.now() - 25 * DAY_MS);
    const served = await serveVault({ clock: time.clock, crlRefreshBeforeMs: 7 * DAY_MS });
    try {
      const before = await crlNextUpdate(served);
      expect((await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca })).status).toBe(
        200,
      );
      time.set(Date.now());
      const refreshed = await served.server.refreshCrl();
      expect(refreshed.nextUpdate?.getTime()).toBeGreaterThan(before?.getTime() ?? 0);
      expect((await crlNextUpdate(served))?.getTime()).toBe(refreshed.nextUpdate?.getTime());
      expect((await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca })).status).toBe(
        200,
      );
      const records = await auditRecords(served);
      expect(records.filter((r) => r.action === "pki.crl-published")).toHaveLength(1);
    } finally {
      await served.cleanup();
    }
  });
});

describe("graceful shutdown", () => {
  it("writes server.json while serving, then drains, closes the log with a signed checkpoint and removes it", async () => {
    const served = await serveVault();
    try {
      const file = join(served.vaultDir, "server.json");
      const content = JSON.parse(await readFile(file, "utf8"));
      expect(content).toMatchObject({
        pid: process.pid,
        urls: [served.url],
        caFingerprintSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
      });
      expect((await stat(file)).mode & 0o777).toBe(0o600);
      const issued = (await auditRecords(served)).find((r) => r.action === "server.certificate-issued");
      expect(issued?.details).toMatchObject({ names: ["localhost", "127.0.0.1"] });
      // an upload in flight when the shutdown begins is finished, not cut
      const body = new PassThrough();
      const inFlight = call(served.url, "/v1/items?case=LAST&name=last.bin", {
        method: "POST",
        identity: served.alice,
        ca: served.ca,
        body,
        headers: { "content-type": "application/octet-stream", "content-length": "8" },
      });
      body.write("half");
      // the upload streams straight into the store's staging area
      const staging = join(served.vaultDir, "store", "tmp");
      await eventually(
        async () =>
          (await readdir(staging).catch(() => [])).some((name) => name.endsWith(".create"))
            ? true
            : undefined,
        "the upload started",
      );
      const closed = served.server.close();
      body.end("done");
      expect((await inFlight).status).toBe(201);
      await closed;
      await expect(stat(file)).rejects.toMatchObject({ code: "ENOENT" });
      await expect(call(served.url, "/healthz", { identity: served.alice, ca: served.ca })).rejects.toThrow();
      const reopened = await Vault.open({ dir: served.vaultDir });
      try {
        const alice = reopened.authenticate(`${served.alice.cert}\n${served.alice.key}\n`);
        const report = await reopened.verifyAudit(alice);
        expect(report.ok).toBe(true);
        // everything before this reopening was signed by the checkpoint written at shutdown
        expect(report.latestCheckpoint?.treeSize).toBe(report.records - report.unsignedRecords);
        expect(report.unsignedRecords).toBeLessThanOrEqual(2);
      } finally {
        await reopened.close();
      }
    } finally {
      await served.cleanup();
    }
  });
});

describe("listening", () => {
  it("a port already taken is ERR_BACKEND_UNAVAILABLE", async () => {
    const first = await serveVault();
    try {
      const second = await serveVault({ port: first.server.port }).catch((error: unknown) => error);
      expect(second).toMatchObject({ code: "ERR_BACKEND_UNAVAILABLE" });
    } finally {
      await first.cleanup();
    }
  });
});
