import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import {
  CHECKPOINT_FORMAT,
  CONSISTENCY_BUNDLE_FORMAT,
  type SignedCheckpointJson,
  signedCheckpointToJson,
  verifyConsistencyBundle,
} from "@custody/audit";
import { beforeAll, describe, expect, it } from "vitest";
import { signCheckpoint } from "../src/checkpoint.js";
import { createTestPki, type TestPki } from "./fixtures.js";

// The RFC 9162 consistency vectors (kept with the hash package's tests, which run the bare
// verifiers once) are run here through the audit's own bundle verifier: each vector's two tree heads
// become checkpoints signed by a vault signer, so a fork between two signed checkpoints is caught by
// the code a third party runs, not only by the Merkle function underneath it.
const ROOT = fileURLToPath(new URL("../../hash/test/fixtures/rfc9162-merkle/consistency/", import.meta.url));

interface ConsistencyVector {
  size1: number;
  size2: number;
  root1: string;
  root2: string;
  proof: string[] | null;
  wantErr: boolean;
}

const vectors = readdirSync(ROOT, { recursive: true, encoding: "utf8" })
  .filter((name) => name.endsWith(".json"))
  .sort()
  .map((name) => ({ name, data: JSON.parse(readFileSync(join(ROOT, name), "utf8")) as ConsistencyVector }));

const hex = (b64: string): string => Buffer.from(b64, "base64").toString("hex");
const isSha256 = (b64: string): boolean => Buffer.from(b64, "base64").length === 32;

let pki: TestPki;
const signed = new Map<string, SignedCheckpointJson>();

/** A signed checkpoint for one tree head; cached, since many vectors share heads. */
async function head(treeSize: number, rootB64: string): Promise<SignedCheckpointJson> {
  const key = `${treeSize}:${rootB64}`;
  const cached = signed.get(key);
  if (cached !== undefined) return cached;
  const checkpoint = await signCheckpoint(
    {
      format: CHECKPOINT_FORMAT,
      treeSize,
      rootHash: hex(rootB64),
      time: new Date().toISOString(),
      prevCheckpoint: null,
    },
    pki.signer,
  );
  const json = signedCheckpointToJson(checkpoint);
  signed.set(key, json);
  return json;
}

/** Vectors a signed checkpoint can carry: a tree of at least one leaf and a 32-byte root. */
const signable = vectors.filter(
  ({ data }) => data.size1 > 0 && data.size2 > 0 && isSha256(data.root1) && isSha256(data.root2),
);

beforeAll(async () => {
  pki = await createTestPki();
});

describe("audit consistency bundles against the RFC 9162 vectors", () => {
  it("carries both outcomes among the vectors a checkpoint can hold", () => {
    expect(signable.filter(({ data }) => data.wantErr).length).toBeGreaterThan(20);
    expect(signable.filter(({ data }) => !data.wantErr).length).toBeGreaterThanOrEqual(5);
  });

  it.each(signable)("consistency $name", async ({ data }) => {
    const bundle = {
      format: CONSISTENCY_BUNDLE_FORMAT,
      from: await head(data.size1, data.root1),
      to: await head(data.size2, data.root2),
      proof: (data.proof ?? []).map(hex),
    };
    const run = () => verifyConsistencyBundle(bundle, { trust: pki.trust });
    if (data.wantErr) expect(run).toThrow(expect.objectContaining({ code: "ERR_PROOF_INVALID" }));
    else expect(run().to.checkpoint.treeSize).toBe(data.size2);
  });
});
