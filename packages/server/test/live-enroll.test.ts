import { X509Certificate } from "node:crypto";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { auditRecords, call, type Served, serveVault } from "./helpers.js";
import { deviceRequest, enrolledDevice, enrollmentToken, FACTS, TestAgent } from "./live-helpers.js";

let served: Served;

beforeAll(async () => {
  served = await serveVault({ enrollLimits: { perAddressBurst: 1000 } });
});
afterAll(async () => served.cleanup());

function enroll(body: unknown) {
  return call(served.url, "/v1/enroll", { method: "POST", ca: served.ca, json: body });
}

describe("POST /v1/enroll over real TLS, without a client certificate", () => {
  it("enrolls a device from a real CSR; the token is refused a second time; both attempts recorded", async () => {
    const { csrPem } = await deviceRequest(served.dir, "first");
    const token = await enrollmentToken(served, { caseId: "C-7" });
    const response = await enroll({ token, csrPem, facts: FACTS });
    expect(response.status).toBe(201);
    const enrolled = response.json() as { deviceId: string; certificatePem: string; caPem: string };
    expect(enrolled.caPem).toBe(served.ca);
    expect(new X509Certificate(enrolled.certificatePem).subject).toBe(`CN=${enrolled.deviceId}\nOU=device`);

    const again = await enroll({ token, csrPem, facts: FACTS });
    expect(again.status).toBe(401);
    expect(again.headers["content-type"]).toMatch(/^application\/problem\+json/);
    expect(again.json()).toMatchObject({ code: "ERR_ENROLLMENT_TOKEN_INVALID" });

    const records = (await auditRecords(served)).filter((r) => r.action === "device.enroll");
    expect(records.map((r) => r.outcome).slice(-2)).toEqual(["allow", "deny"]);
    expect(records.at(-1)).toMatchObject({ reason: "no uses left", details: { clientAddress: "127.0.0.1" } });

    const listed = await call(served.url, "/v1/devices", { identity: served.alice, ca: served.ca });
    expect(listed.json()).toEqual(
      expect.arrayContaining([
        expect.objectContaining({
          deviceId: enrolled.deviceId,
          hostname: "ws-017",
          caseId: "C-7",
          online: false,
        }),
      ]),
    );
  }, 60_000);

  it("refuses an expired token and a wrong one (401, recorded), hostile bodies (400), oversized bodies (413)", async () => {
    const { csrPem } = await deviceRequest(served.dir, "second");
    const short = await enrollmentToken(served, { expiresInMs: 1000 });
    await new Promise((resolve) => setTimeout(resolve, 1100));
    const expired = await enroll({ token: short, csrPem, facts: FACTS });
    expect(expired.status).toBe(401);
    const wrong = `${short.slice(0, 30)}${short[30] === "A" ? "B" : "A"}${short.slice(31)}`;
    expect((await enroll({ token: wrong, csrPem, facts: FACTS })).status).toBe(401);
    const reasons = (await auditRecords(served))
      .filter((r) => r.action === "device.enroll" && r.outcome === "deny")
      .map((r) => r.reason);
    expect(reasons).toEqual(expect.arrayContaining([expect.stringMatching(/^expired at/), "wrong secret"]));

    const token = await enrollmentToken(served);
    const hostile = [
      { token, csrPem, facts: { ...FACTS, extra: 1 } },
      { token, csrPem, facts: { ...FACTS, hostname: "a\nb" } },
      { token, csrPem },
      JSON.stringify({ token, csrPem, facts: FACTS, __proto__: { admin: true } }).replace(
        '"facts"',
        '"__proto__":{"x":1},"facts"',
      ),
      "{not json",
    ];
    for (const body of hostile) {
      const response = await enroll(body);
      expect(response.status, String(response.body)).toBe(400);
      expect(response.json()).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    }
    const big = await enroll({ token, csrPem: "x".repeat(17 * 1024), facts: FACTS });
    expect(big.status).toBe(413);
    // nothing above used the token
    expect((await enroll({ token, csrPem, facts: FACTS })).status).toBe(201);
  }, 60_000);

  it("a forged CSR (signature broken) is refused with its code, recorded, and leaves the token unused", async () => {
    const { csrPem } = await deviceRequest(served.dir, "third");
    const der = Buffer.from(csrPem.replace(/-----[A-Z ]+-----|\s/g, ""), "base64");
    der[der.length - 5] = (der[der.length - 5] ?? 0) ^ 0xff;
    const forged = `-----BEGIN CERTIFICATE REQUEST-----\n${der.toString("base64")}\n-----END CERTIFICATE REQUEST-----\n`;
    const token = await enrollmentToken(served);
    const response = await enroll({ token, csrPem: forged, facts: FACTS });
    expect(response.json()).toMatchObject({ code: "ERR_SIGNATURE_INVALID" });
    expect((await enroll({ token, csrPem, facts: FACTS })).status).toBe(201);
  }, 60_000);

  it("a device certificate is refused on a person's route (403, recorded), and a person's on the agent endpoint", async () => {
    const device = await enrolledDevice(served, "fourth");
    const response = await call(served.url, "/v1/whoami", { identity: device, ca: served.ca });
    expect(response.status).toBe(403);
    expect(response.json()).toMatchObject({
      code: "ERR_ACCESS_DENIED",
      detail: expect.stringMatching(/kind-mismatch/),
    });
    const record = (await auditRecords(served)).find(
      (r) => r.action === "identity.login" && r.details.requestId === response.headers["x-request-id"],
    );
    expect(record).toMatchObject({ outcome: "deny", actor: device.deviceId });
  }, 60_000);

  it("an EC P-256 device enrolls and its agent connects with that certificate", async () => {
    const device = await enrolledDevice(served, "p256", "p256");
    const agent = new TestAgent(served, device);
    await expect(agent.hello(device.deviceId, null)).resolves.toEqual(expect.any(String));
    agent.close();
  }, 60_000);

  it("rate-limits enrollment attempts from one address (429 with retry-after)", async () => {
    const strict = await serveVault();
    const enroll = (body: unknown) =>
      call(strict.url, "/v1/enroll", { method: "POST", ca: strict.ca, json: body });
    let limited: Awaited<ReturnType<typeof enroll>> | undefined;
    for (let attempt = 0; attempt < 30 && limited === undefined; attempt += 1) {
      const response = await enroll({ token: "cet1.x", csrPem: "x", facts: FACTS });
      if (response.status === 429) limited = response;
    }
    expect(limited?.json()).toMatchObject({ code: "ERR_RATE_LIMITED" });
    expect(Number(limited?.headers["retry-after"])).toBeGreaterThanOrEqual(1);
    await strict.cleanup();
  });
});
