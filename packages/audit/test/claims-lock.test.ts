import { spawn } from "node:child_process";
import { writeFile } from "node:fs/promises";
import { join } from "node:path";
import { FileAuditSink } from "@custody/audit";
import { expectCode } from "@custody/audit/conformance";
import { afterAll, describe, it } from "vitest";
import { tempDir } from "./fixtures.js";

// A lock names its host: on a shared filesystem another host's pid says nothing about this machine,
// so such a lock is never taken over, even when that pid is not running here.
const cleanups: (() => Promise<void>)[] = [];
afterAll(async () => {
  for (const cleanup of cleanups) await cleanup();
});

async function deadPid(): Promise<number> {
  const child = spawn(process.execPath, ["-e", ""], { stdio: "ignore" });
  await new Promise((resolve) => child.once("exit", resolve));
  return child.pid as number;
}

describe("audit.lock from another host", () => {
  it("is never presumed stale, even when its pid is not running here", async () => {
    const temp = await tempDir("lock-host");
    cleanups.push(temp.remove);
    const dir = join(temp.dir, "log");
    await (await FileAuditSink.open(dir)).close();
    const owner = { pid: await deadPid(), host: "another-host.invalid", nonce: "elsewhere" };
    await writeFile(join(dir, "audit.lock"), JSON.stringify(owner));
    await expectCode(FileAuditSink.open(dir), "ERR_AUDIT_LOCKED");
  });
});
