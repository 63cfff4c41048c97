import { spawn } from "node:child_process";
import { existsSync } from "node:fs";
import { mkdtemp, readdir, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";
import { isCustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { verifyPackage } from "../src/index.js";
import { createTestPki, type TestPki } from "./fixtures.js";

const ARCHIVE_DIST = fileURLToPath(new URL("../dist/index.js", import.meta.url));
const MANIFEST_DIST = fileURLToPath(new URL("../../manifest/dist/index.js", import.meta.url));
const built = existsSync(ARCHIVE_DIST) && existsSync(MANIFEST_DIST);

let dir: string;
let pki: TestPki;
beforeAll(async () => {
  dir = await mkdtemp(join(tmpdir(), "custody-crash-"));
  pki = await createTestPki();
  await writeFile(join(dir, "signer.key"), pki.signerKeyPem);
  await writeFile(join(dir, "signer.pem"), pki.signerCertPem);
});
afterAll(async () => {
  await rm(dir, { recursive: true, force: true });
});

// The child writes a package from an endless stream and is killed with SIGKILL mid-entry: no cleanup
// code runs, so only the write-to-temporary-then-link design keeps a complete-looking file from existing.
const CHILD = `
const archive = await import(process.argv[1]);
const manifest = await import(process.argv[2]);
const signer = await manifest.loadSignerFromFiles({ keyFile: process.argv[4] + "/signer.key", certFile: process.argv[4] + "/signer.pem" });
const writer = archive.createPackageWriter(process.argv[3], {
  name: "CRASH", device: { id: "d" }, collector: { operator: "o", tool: "t", toolVersion: "1", host: "h" }, signer,
});
await writer.addStream("first.txt", (async function* () { yield Buffer.from("complete entry\\n"); })());
let announced = false;
await writer.addStream("endless.log", (async function* () {
  for (let i = 0; ; i++) {
    yield Buffer.from("line " + i + " of evidence that never ends\\n".repeat(2000));
    if (!announced && i > 200) { announced = true; process.stdout.write("writing\\n"); }
    await new Promise((r) => setImmediate(r));
  }
})());
`;

describe.skipIf(!built)(
  "a writer killed mid-package (needs the built dist/: pnpm exec tsc -b packages/archive)",
  () => {
    it("leaves no file under the package's name, only an unreadable hidden .partial", async () => {
      const out = join(dir, "crash.zip");
      const child = spawn(
        process.execPath,
        ["--input-type=module", "-e", CHILD, ARCHIVE_DIST, MANIFEST_DIST, out, dir],
        {
          stdio: ["ignore", "pipe", "pipe"],
        },
      );
      let stderr = "";
      child.stderr.on("data", (chunk: Buffer) => (stderr += chunk));
      await new Promise<void>((resolve, reject) => {
        child.stdout.on("data", (chunk: Buffer) => {
          if (chunk.toString().includes("writing")) resolve();
        });
        child.on("exit", (code) => reject(new Error(`child exited early (${code}): ${stderr}`)));
      });
      child.kill("SIGKILL");
      await new Promise((resolve) => child.on("close", resolve));
      const names = await readdir(dir);
      expect(names).not.toContain("crash.zip");
      const partial = names.filter((name) => name.endsWith(".partial"));
      expect(partial).toHaveLength(1);
      const verify = verifyPackage(join(dir, partial[0] as string), { trust: { trustAnchors: [pki.caPem] } });
      await expect(verify).rejects.toSatisfy((error) => isCustodyError(error, "ERR_ARCHIVE_MALFORMED"));
    });
  },
);
