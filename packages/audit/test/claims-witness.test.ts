import { mkdir, readdir } from "node:fs/promises";
import { join } from "node:path";
import { DirectoryCheckpointWitness } from "@custody/audit";
import { expectCode } from "@custody/audit/conformance";
import { afterAll, describe, expect, it } from "vitest";
import { tempDir } from "./fixtures.js";

// packages/audit/README.md: the witness writes create-only; the same bytes again are accepted (a retry
// is harmless), a file of that tree size with other content is ERR_ALREADY_EXISTS.
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

describe("DirectoryCheckpointWitness", () => {
  it("accepts the same checkpoint again and refuses other bytes for a tree it holds", async () => {
    const temp = await tempDir("witness-claims");
    cleanups.push(temp.remove);
    const dir = join(temp.dir, "witness");
    await mkdir(dir);
    const witness = new DirectoryCheckpointWitness(dir);
    const body = Buffer.from('{"treeSize":3}');
    const signature = Buffer.from("signature bytes");
    await witness.write(3, body, signature);
    await witness.write(3, body, signature);
    expect((await readdir(dir)).sort()).toEqual(["000000000003.json", "000000000003.p7s"]);
    await expectCode(witness.write(3, body, Buffer.from("another signature")), "ERR_ALREADY_EXISTS");
    await expectCode(witness.write(3, Buffer.from('{"treeSize":3,"x":1}'), signature), "ERR_ALREADY_EXISTS");
    expect(await witness.readLatest()).toEqual({ bytes: body, signature });
  });
});
