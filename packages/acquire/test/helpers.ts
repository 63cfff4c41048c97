import { execFileSync } from "node:child_process";
import { createHash } from "node:crypto";
import { createReadStream } from "node:fs";
import { mkdtemp, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Writable } from "node:stream";
import { pipeline } from "node:stream/promises";
import { isCustodyError } from "@custody/core";
import { type AuthenticatedPrincipal, Vault } from "@custody/vault";
import { expect } from "vitest";

export interface TestVault {
  work: string;
  vault: Vault;
  alice: AuthenticatedPrincipal;
  cleanup(): Promise<void>;
}

export async function makeVault(prefix: string): Promise<TestVault> {
  const work = await mkdtemp(join(tmpdir(), prefix));
  const { vault, identityPem } = await Vault.init(join(work, "vault"), { custodian: "alice", keyBits: 2048 });
  const alice = vault.authenticate(identityPem);
  return {
    work,
    vault,
    alice,
    cleanup: async () => {
      await vault.close();
      await rm(work, { recursive: true, force: true });
    },
  };
}

export async function expectCode(promise: Promise<unknown>, code: string): Promise<void> {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(isCustodyError(error) ? error.code : error).toBe(code);
}

/** Digests of a file as the system's own tools compute them. */
export function systemDigests(path: string): { sha256: string; sha1: string; md5: string } {
  const digest = (tool: string) => execFileSync(tool, [path], { encoding: "utf8" }).split(" ")[0] ?? "";
  return { sha256: digest("sha256sum"), sha1: digest("sha1sum"), md5: digest("md5sum") };
}

/** The sha256 of what the vault returns for an item (its stream fails on any mismatch). */
export async function readBack(t: TestVault, id: string): Promise<{ sha256: string; size: number }> {
  const read = await t.vault.read(t.alice, id);
  const hash = createHash("sha256");
  let size = 0;
  await pipeline(
    read.stream,
    new Writable({
      write(chunk: Buffer, _encoding, done) {
        hash.update(chunk);
        size += chunk.length;
        done();
      },
    }),
  );
  return { sha256: hash.digest("hex"), size };
}

export async function fileSha256(path: string): Promise<string> {
  const hash = createHash("sha256");
  for await (const chunk of createReadStream(path)) hash.update(chunk as Buffer);
  return hash.digest("hex");
}

/** Stored objects under the vault's items/ (nothing half-stored after a failure). */
export function storedObjectCount(t: TestVault): number {
  const out = execFileSync("find", [join(t.work, "vault"), "-name", "data", "-type", "f"], {
    encoding: "utf8",
  });
  return out.split("\n").filter((line) => line !== "").length;
}
