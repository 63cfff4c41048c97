import { execFileSync } from "node:child_process";
import { existsSync } from "node:fs";
import { chmod, mkdtemp, readFile, rm } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, test } from "vitest";
import { becomeUserModule, unprivilegedUser } from "../../../test/support/unprivileged.js";

// Runs part of a real collection as an unprivileged uid in a child process, against the built dist/
// (CI builds with tsc -b before the tests run). The child loads the package as root, then becomes nobody
// before it collects: it runs from a checkout in a private 0700 folder too.
const dist = new URL("../dist/index.js", import.meta.url);
const nobody = unprivilegedUser();
const canRun = nobody !== undefined && existsSync(dist);

const dirs: string[] = [];
afterAll(async () => {
  for (const dir of dirs) await rm(dir, { recursive: true, force: true });
});

describe.runIf(canRun)("collection without root", () => {
  test("records what it could not read as partial, with ERR_PERMISSION, and still writes the rest", async () => {
    const out = await mkdtemp(join(tmpdir(), "collect-nobody-"));
    dirs.push(out);
    await chmod(out, 0o777);
    const script = `
      const { collectDevice, directorySink } = await import(${JSON.stringify(dist.href)});
      const { becomeUserFromEnv } = await import(${JSON.stringify(becomeUserModule)});
      becomeUserFromEnv();
      const result = await collectDevice({ sink: directorySink(process.argv[1]), only: ["Processes", "UsersAndGroups", "NetworkConnections"] });
      process.stdout.write(JSON.stringify({ uid: process.getuid(), rows: result.rows }));
    `;
    const stdout = execFileSync(process.execPath, ["--input-type=module", "-e", script, out], {
      encoding: "utf8",
      timeout: 60_000,
      env: { ...process.env, ...nobody?.env },
    });
    const { uid, rows } = JSON.parse(stdout) as {
      uid: number;
      rows: { dataPoint: string; status: string; errorCode?: string }[];
    };
    expect(uid).toBe(nobody?.uid);
    const byName = Object.fromEntries(rows.map((r) => [r.dataPoint, r]));
    // Other users' /proc/<pid>/exe and fd links are closed to nobody: recorded, not hidden.
    expect(byName.Processes).toMatchObject({ status: "partial", errorCode: "ERR_PERMISSION" });
    expect(byName.NetworkConnections).toMatchObject({ status: "partial", errorCode: "ERR_PERMISSION" });
    expect(["ok", "partial"]).toContain(byName.UsersAndGroups?.status);
    expect(byName.Autoruns?.status).toBe("skipped");
    const processes = await readFile(join(out, "Processes/Processes.csv"), "utf8");
    expect(processes).toMatch(/ERR_PERMISSION/);
    expect(processes.split("\r\n").length).toBeGreaterThan(3);
  });
});
