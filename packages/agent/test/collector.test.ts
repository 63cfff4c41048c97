import { generateKeyPairSync } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import {
  createCertificateAuthority,
  type IssuedCertificate,
  issueCertificate,
  issueDeviceCollectorCertificate,
} from "@custody/manifest";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { collectorCertificateProblem } from "../src/runtime/collector.js";
import { createCsr } from "../src/runtime/enroll.js";
import type { AgentIdentity } from "../src/runtime/state.js";

// What the agent accepts as its own package signer from the server: anything else is refused before use.
const DEVICE = "D-0123456789ABCDEFGHJKMNPQRS";
const OTHER = "D-ZZZZZZZZZZZZZZZZZZZZZZZZZZ";
let ca: IssuedCertificate;
let foreign: IssuedCertificate;
let work: string;
const key = generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey;

function identity(): AgentIdentity {
  return {
    dir: work,
    state: {
      format: "custody.agent.state/v1",
      deviceId: DEVICE,
      serverUrl: "https://127.0.0.1:1",
      caSha256: "0".repeat(64),
      enrolledAt: new Date().toISOString(),
    },
    keyPem: "",
    certificatePem: "",
    caPem: ca.certificatePem,
  };
}

beforeAll(async () => {
  work = await mkdtemp(join(tmpdir(), "agent-collector-"));
  ca = await createCertificateAuthority({ commonName: "Vault CA", keyBits: 2048 });
  foreign = await createCertificateAuthority({ commonName: "Foreign CA", keyBits: 2048 });
}, 60_000);

afterAll(() => rm(work, { recursive: true, force: true }));

describe("the agent's check of its collector certificate", () => {
  const csr = () => createCsr(key, DEVICE);

  test("takes this device's device-collector certificate for its key from the pinned CA", () => {
    const issued = issueDeviceCollectorCertificate(ca, csr(), { deviceId: DEVICE });
    expect(collectorCertificateProblem(issued.certificatePem, key, identity())).toBeUndefined();
  });

  test("refuses another CA's, another device's, another key's, and one about to expire", async () => {
    const otherKey = generateKeyPairSync("rsa", { modulusLength: 3072 }).privateKey;
    const cases: [string, string][] = [
      [
        issueDeviceCollectorCertificate(foreign, csr(), { deviceId: DEVICE }).certificatePem,
        "pinned vault CA",
      ],
      [issueDeviceCollectorCertificate(ca, csr(), { deviceId: OTHER }).certificatePem, "does not name"],
      [
        issueDeviceCollectorCertificate(ca, createCsr(otherKey, DEVICE), { deviceId: DEVICE }).certificatePem,
        "key",
      ],
      [
        issueDeviceCollectorCertificate(ca, csr(), { deviceId: DEVICE, validDays: 0.5 }).certificatePem,
        "expires",
      ],
    ];
    for (const [pem, problem] of cases)
      expect(collectorCertificateProblem(pem, key, identity())).toContain(problem);
    const collector = await issueCertificate(ca, { commonName: DEVICE, usage: "collector", keyBits: 2048 });
    expect(collectorCertificateProblem(collector.certificatePem, key, identity())).toContain("not only");
  });
});
