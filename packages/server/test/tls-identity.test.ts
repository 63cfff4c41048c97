import { execFile } from "node:child_process";
import { X509Certificate } from "node:crypto";
import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { createCertificateAuthority, issueCertificate, revokeCertificates } from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  type AuditLine,
  auditRecords,
  call,
  eventually,
  identityOf,
  keepAliveAgent,
  type Served,
  serveVault,
} from "./helpers.js";

let served: Served;

beforeAll(async () => {
  served = await serveVault();
});
afterAll(async () => served.cleanup());

async function refusalRecorded(match: (record: AuditLine) => boolean): Promise<AuditLine> {
  return eventually(
    async () => (await auditRecords(served)).find((r) => r.action === "identity.login" && match(r)),
    "a recorded refusal",
  );
}

async function vaultCa() {
  return {
    certificatePem: served.ca,
    keyPem: await readFile(join(served.vaultDir, "pki", "ca.key"), "utf8"),
  };
}

describe("mutual TLS refuses callers the vault does not accept, and records each attempt", () => {
  it("a client without a certificate reaches /healthz and /readyz only; any other route is 401, recorded, closed", async () => {
    // node:https, no certificate: the probes answer and say nothing about the vault
    for (const path of ["/healthz", "/readyz"]) {
      const probe = await call(served.url, path, { ca: served.ca });
      expect(probe.status, path).toBe(200);
      expect(probe.json()).toEqual({ status: "ok" });
    }
    expect((await call(served.url, "/healthz", { ca: served.ca, method: "HEAD" })).status).toBe(200);
    const before = (await auditRecords(served)).length;
    for (const path of [
      "/v1/whoami",
      "/v1/items",
      "/openapi.json",
      "/no/such/route",
      "/healthz/../v1/whoami",
    ]) {
      const refused = await call(served.url, path, { ca: served.ca });
      expect(refused.status, path).toBe(401);
      expect(refused.json()).toMatchObject({ code: "ERR_IDENTITY_INVALID" });
      expect(refused.headers.connection).toBe("close");
    }
    const posted = await call(served.url, "/healthz", { ca: served.ca, method: "POST", json: {} });
    expect(posted.status).toBe(401);
    const refused = await call(served.url, "/v1/whoami", { ca: served.ca });
    const record = await refusalRecorded((r) => r.details.requestId === refused.headers["x-request-id"]);
    expect(record).toMatchObject({
      actor: "unauthenticated",
      outcome: "deny",
      reason: expect.stringMatching(/no client certificate/),
      details: { clientAddress: "127.0.0.1" },
    });
    expect(record.seq).toBeGreaterThanOrEqual(before);
  });

  it("curl without --cert: the probes answer 200, a vault route 401", async () => {
    const caFile = join(served.vaultDir, "pki", "ca.pem");
    const curl = (path: string) =>
      new Promise<string>((resolve, reject) => {
        execFile(
          "curl",
          [
            "-sS",
            "--tlsv1.3",
            "--cacert",
            caFile,
            "-o",
            "/dev/null",
            "-w",
            "%{http_code}",
            `${served.url}${path}`,
          ],
          (error, stdout) => (error === null ? resolve(stdout) : reject(error)),
        );
      });
    expect(await curl("/healthz")).toBe("200");
    expect(await curl("/readyz")).toBe("200");
    expect(await curl("/v1/whoami")).toBe("401");
  });

  it("a certificate from another CA is refused", async () => {
    const other = await createCertificateAuthority({ commonName: "someone else's CA", keyBits: 2048 });
    const mallory = await issueCertificate(other, { commonName: "alice", usage: "person", keyBits: 2048 });
    const before = (await auditRecords(served)).length;
    const identity = { cert: mallory.certificatePem, key: mallory.keyPem };
    await expect(call(served.url, "/v1/whoami", { identity, ca: served.ca })).rejects.toThrow();
    const record = await refusalRecorded((r) => r.seq >= before);
    expect(record.reason).toMatch(/TLS handshake refused/);
  });

  it("an expired certificate under the vault CA is refused with 401 and the reason, never served", async () => {
    const past = { now: () => new Date(Date.now() - 10 * 86_400_000) };
    const old = await issueCertificate(await vaultCa(), {
      commonName: "alice",
      usage: "person",
      keyBits: 2048,
      validDays: 1,
      clock: past,
    });
    const response = await call(served.url, "/v1/whoami", {
      identity: { cert: old.certificatePem, key: old.keyPem },
      ca: served.ca,
    });
    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({
      code: "ERR_IDENTITY_INVALID",
      detail: expect.stringMatching(/has expired$/),
    });
    expect(response.headers.connection).toBe("close");
    const record = await refusalRecorded((r) => r.details.requestId === response.headers["x-request-id"]);
    expect(record).toMatchObject({ actor: "alice", reason: expect.stringMatching(/has expired/) });
  });

  it("a certificate minted with the CA key but never issued through the log is refused (401)", async () => {
    const minted = await issueCertificate(await vaultCa(), {
      commonName: "alice",
      usage: "person",
      keyBits: 2048,
    });
    const response = await call(served.url, "/v1/whoami", {
      identity: { cert: minted.certificatePem, key: minted.keyPem },
      ca: served.ca,
    });
    expect(response.status).toBe(401);
    expect(response.json()).toMatchObject({ code: "ERR_IDENTITY_INVALID", status: 401 });
    const requestId = response.headers["x-request-id"];
    const record = await refusalRecorded((r) => r.details.requestId === requestId);
    expect(record).toMatchObject({
      actor: "alice",
      outcome: "deny",
      details: { clientAddress: "127.0.0.1" },
    });
  });

  it("the vault's collector (signing) certificate is not a login", async () => {
    const collector = {
      cert: await readFile(join(served.vaultDir, "pki", "collector.pem"), "utf8"),
      key: await readFile(join(served.vaultDir, "pki", "collector.key"), "utf8"),
    };
    const before = (await auditRecords(served)).length;
    const outcome = await call(served.url, "/v1/whoami", { identity: collector, ca: served.ca }).catch(
      (error: Error) => error,
    );
    if (outcome instanceof Error) {
      await refusalRecorded((r) => r.seq >= before);
    } else {
      expect(outcome.status).toBe(401);
      expect(outcome.json()).toMatchObject({ code: "ERR_IDENTITY_INVALID" });
      const record = await refusalRecorded((r) => r.details.requestId === outcome.headers["x-request-id"]);
      expect(record.reason).toMatch(/not a login identity/);
    }
  });

  it("an identity revoked while its connection is open is refused from its next request, and cannot connect again", async () => {
    const issued = await call(served.url, "/v1/identities", {
      method: "POST",
      identity: served.alice,
      ca: served.ca,
      json: { name: "bob" },
    });
    expect(issued.status).toBe(201);
    const bob = identityOf((issued.json() as { identityPem: string }).identityPem);
    const agent = keepAliveAgent(bob, served.ca);
    try {
      const first = await call(served.url, "/v1/whoami", { identity: bob, ca: served.ca, agent });
      expect(first.status).toBe(200);
      expect(first.json()).toMatchObject({ id: "bob" });
      const revoked = await call(served.url, "/v1/identities/bob", {
        method: "DELETE",
        identity: served.alice,
        ca: served.ca,
      });
      expect(revoked.status).toBe(200);
      const again = await call(served.url, "/v1/whoami", { identity: bob, ca: served.ca, agent });
      expect(again.status).toBe(401);
      expect(again.json()).toMatchObject({ code: "ERR_IDENTITY_INVALID" });
      expect((again.json() as { detail: string }).detail).toMatch(/revoked/);
      const record = await refusalRecorded((r) => r.details.requestId === again.headers["x-request-id"]);
      expect(record.actor).toBe("bob");
      // a new connection: TLS now finds bob on the CRL; the answer says so and nothing is served
      await served.server.refreshCrl();
      const anew = await call(served.url, "/v1/whoami", { identity: bob, ca: served.ca });
      expect(anew.status).toBe(401);
      expect(anew.json()).toMatchObject({
        code: "ERR_IDENTITY_INVALID",
        detail: expect.stringMatching(/is revoked$/),
      });
      expect(anew.json()).toMatchObject({ details: { tls: "CERT_REVOKED" } });
    } finally {
      agent.destroy();
    }
  });

  it("a certificate put on the CRL outside the vault's log is not served either (TLS's verdict stands)", async () => {
    const issued = await call(served.url, "/v1/identities", {
      method: "POST",
      identity: served.alice,
      ca: served.ca,
      json: { name: "carol" },
    });
    const carol = identityOf((issued.json() as { identityPem: string }).identityPem);
    expect((await call(served.url, "/v1/whoami", { identity: carol, ca: served.ca })).status).toBe(200);
    const serialNumber = new X509Certificate(carol.cert).serialNumber;
    await revokeCertificates({
      crlPath: join(served.vaultDir, "pki", "crl.pem"),
      ca: await vaultCa(),
      entries: [{ serialNumber }],
    });
    await served.server.refreshCrl();
    const refused = await call(served.url, "/v1/whoami", { identity: carol, ca: served.ca });
    expect(refused.status).toBe(401);
    expect(refused.json()).toMatchObject({ code: "ERR_IDENTITY_INVALID", details: { tls: "CERT_REVOKED" } });
    // not even the operational routes answer a revoked certificate
    expect((await call(served.url, "/healthz", { identity: carol, ca: served.ca })).status).toBe(401);
  });

  it("writes the request id and client address into the audit record of every request", async () => {
    const response = await call(served.url, "/v1/whoami", { identity: served.alice, ca: served.ca });
    expect(response.status).toBe(200);
    const requestId = response.headers["x-request-id"];
    expect(requestId).toMatch(/^[0-9a-f-]{36}$/);
    const records = await auditRecords(served);
    const mine = records.filter((r) => r.details.requestId === requestId);
    expect(mine.length).toBeGreaterThan(0);
    expect(mine[0]).toMatchObject({ actor: "alice", details: { clientAddress: "127.0.0.1" } });
  });
});
