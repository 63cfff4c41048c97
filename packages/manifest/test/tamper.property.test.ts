import { CustodyError } from "@custody/core";
import { createCrl, createKeySigner, type TrustOptions, verifyDetached } from "@custody/manifest";
import fc from "fast-check";
import { beforeAll, describe, expect, it } from "vitest";
import { createTestPki } from "./fixtures.js";

type Edit =
  | { kind: "change"; at: number; xor: number }
  | { kind: "insert"; at: number; byte: number }
  | { kind: "delete"; at: number };

function apply(bytes: Buffer, edit: Edit): Buffer {
  const at = edit.at % (edit.kind === "insert" ? bytes.length + 1 : bytes.length);
  switch (edit.kind) {
    case "change": {
      const copy = Buffer.from(bytes);
      copy[at] = (copy[at] ?? 0) ^ edit.xor;
      return copy;
    }
    case "insert":
      return Buffer.concat([bytes.subarray(0, at), Buffer.from([edit.byte]), bytes.subarray(at)]);
    case "delete":
      return Buffer.concat([bytes.subarray(0, at), bytes.subarray(at + 1)]);
    default:
      return edit satisfies never;
  }
}

const index = fc.nat({ max: 1_000_000 });
const edit: fc.Arbitrary<Edit> = fc.oneof(
  fc.record({ kind: fc.constant("change" as const), at: index, xor: fc.integer({ min: 1, max: 255 }) }),
  fc.record({ kind: fc.constant("insert" as const), at: index, byte: fc.integer({ min: 0, max: 255 }) }),
  fc.record({ kind: fc.constant("delete" as const), at: index }),
);

function rejected(content: Buffer, signature: Buffer, trust: TrustOptions): boolean {
  try {
    verifyDetached(content, signature, trust);
    return false;
  } catch (error) {
    // a tampered input must be refused with a coded error, never crash the verifier
    if (!(error instanceof CustodyError)) throw error;
    return true;
  }
}

describe("any single changed, inserted or deleted byte is rejected", () => {
  const content = Buffer.from(
    JSON.stringify({ items: [{ path: "data/a.txt", size: 3 }], version: "custody.manifest/v1" }),
  );
  let signature: Buffer;
  let trust: TrustOptions;
  let crl: string;

  beforeAll(async () => {
    const pki = await createTestPki();
    signature = await createKeySigner({
      keyPem: pki.signer.keyPem,
      certificatePem: pki.signer.certificatePem,
    }).sign(content);
    trust = { trustAnchors: [pki.ca.certificatePem] };
    crl = createCrl(pki.ca, [{ serialNumber: "1234", revokedAt: new Date("2024-01-01T00:00:00Z") }]);
    expect(rejected(content, signature, trust)).toBe(false);
  });

  it("in the content", () => {
    fc.assert(
      fc.property(edit, (e) => rejected(apply(content, e), signature, trust)),
      { numRuns: 300 },
    );
  });

  it("in the signature", () => {
    fc.assert(
      fc.property(edit, (e) => rejected(content, apply(signature, e), trust)),
      { numRuns: 700 },
    );
  });

  it("at every position of a CRL given to the verifier (each byte flipped once)", () => {
    const der = Buffer.from(crl.replace(/-----[A-Z0-9 ]+-----|\s/g, ""), "base64");
    const toPem = (bytes: Buffer) =>
      `-----BEGIN X509 CRL-----\n${bytes.toString("base64")}\n-----END X509 CRL-----\n`;
    expect(verifyDetached(content, signature, { ...trust, crls: [toPem(der)] }).signer.subject).toBe(
      "CN=collector-01",
    );
    const survivors: number[] = [];
    for (let at = 0; at < der.length; at++) {
      const crls = [toPem(apply(der, { kind: "change", at, xor: 0x01 }))];
      if (!rejected(content, signature, { ...trust, crls })) survivors.push(at);
    }
    expect(survivors).toEqual([]);
  });

  it("at every position of the signature (each byte flipped once)", () => {
    const survivors: number[] = [];
    for (let at = 0; at < signature.length; at++) {
      if (!rejected(content, apply(signature, { kind: "change", at, xor: 0x01 }), trust)) survivors.push(at);
    }
    expect(survivors).toEqual([]);
  });
});
