import { createHash } from "node:crypto";
import { existsSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SignedCustodyReport, verifyCustodyReport } from "@custody/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupMembers, LiveBench, until } from "./support/live-e2e.ts";

// The actions issue's scripted console session: one analyst's `custody live connect` console drives a real
// agent through the library, a signed run, a refused unsigned run, a cancelled long run, putfile, analyze,
// getfile, remediate followed by undo, and collect; then, with the agent stopped, an action is queued and
// runs when the agent reconnects. Isolation is in live-isolate.test.ts: it needs a network namespace,
// never the machine running the tests.
const CASE = "IR-2026-14";
const bench = new LiveBench();
const sha256 = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");
const EVIL = Buffer.concat([Buffer.from("\x7fELF"), Buffer.alloc(64_000, 0x41), Buffer.from("dropper\n")]);
const LONG = '#!/bin/sh\necho $$ > "$1"\nsleep 300 &\nsleep 301\n';
let evil = "";

function ok(result: { code: number | null; stderr: string }): void {
  expect(result.code, result.stderr).toBe(0);
}

beforeAll(async () => {
  await bench.serve(["rita"], CASE);
  const { work, vault } = bench;
  await bench.startAgent();
  for (const scope of [`device:${bench.deviceId}`, `case:${CASE}`])
    await bench.alice?.grant({ name: "rita", role: "responder", scope });
  // signed scripts: a script-signer certificate from the vault CA, detached CMS beside each script
  ok(
    bench.custody([
      "keys",
      "issue",
      "--dir",
      join(vault, "pki"),
      "--name",
      "scripts",
      "--usage",
      "code-signing",
      "--out",
      join(work, "keys"),
    ]),
  );
  writeFileSync(join(work, "hello.sh"), "#!/bin/sh\nprintf 'hello %s\\n' \"$@\"\n");
  writeFileSync(join(work, "long.sh"), LONG);
  writeFileSync(join(work, "unsigned.sh"), "#!/bin/sh\necho unsigned ran\n");
  for (const file of ["hello.sh", "long.sh"]) {
    ok(
      bench.custody([
        "sign",
        file,
        "--key",
        join(work, "keys", "scripts.key"),
        "--cert",
        join(work, "keys", "scripts.pem"),
      ]),
    );
  }
  for (const file of ["hello.sh", "long.sh", "unsigned.sh"])
    ok(bench.custody(["library", "upload", file, ...bench.as("alice")]));
  evil = join(work, "evil.bin");
  writeFileSync(evil, EVIL, { mode: 0o750 });
  ok(bench.custody(["hashlist", "add", "known-bad", evil, "--name", "dropper", ...bench.as("alice")]));
}, 300_000);

afterAll(async () => {
  await bench.close();
});

describe("a scripted console session runs every live-response action against a real agent", () => {
  let quarantined = "";

  it("library, run (signed, unsigned refused, long cancelled), putfile, analyze, getfile, remediate and undo, collect", async () => {
    const con = await bench.connect("rita", CASE);
    expect((await con.run("help")).out).toMatch(/remediate/);
    expect((await con.run("library")).out).toMatch(/hello\.sh[\s\S]*long\.sh[\s\S]*unsigned\.sh/);

    const ran = await con.run('run hello.sh -parameters "world"');
    expect(ran.err).toMatch(/\] completed/);
    expect(ran.out).toContain("hello world");
    expect(/item ([0-9a-f]{64})/.exec(ran.err)?.[1]).toBe(sha256("hello world\n"));
    expect((await con.run("run unsigned.sh")).err).toMatch(/\] failed.*ERR_SCRIPT_UNSIGNED/);

    // a long run, cancelled with Ctrl+C: its process group is gone from the device
    const pidFile = join(bench.work, "long.pid");
    const promptsBefore = con.prompts();
    con.child.stdin?.write(`run long.sh -parameters ${pidFile}\n`);
    const pgid = await until(async () => {
      const value = existsSync(pidFile) ? Number(readFileSync(pidFile, "utf8").trim()) : 0;
      return value > 0 && groupMembers(value).length >= 2 ? value : undefined;
    }, "the long script started");
    con.child.kill("SIGINT");
    await until(async () => (/\] cancelled/.test(con.stderr) ? true : undefined), "the run cancelled");
    await until(
      async () => (con.prompts() > promptsBefore ? true : undefined),
      "the prompt after the cancel",
    );
    expect(groupMembers(pgid)).toEqual([]);

    const put = await con.run("putfile hello.sh");
    expect(put.err).toMatch(/\] completed/);
    expect(statSync(join(bench.work, "agent", "work", "hello.sh")).mode & 0o777).toBe(0o600);

    const analyzed = await con.run(`analyze ${evil}`);
    expect(analyzed.err).toMatch(/\] completed/);
    expect(analyzed.out).toMatch(/malicious/);

    const taken = await con.run(`getfile ${evil} -auto`);
    expect(taken.err).toMatch(/\] completed/);
    expect(/item ([0-9a-f]{64})/.exec(taken.err)?.[1]).toBe(sha256(EVIL));

    const remediated = await con.run(`remediate file ${evil} -auto`);
    expect(remediated.err).toMatch(/\] completed/);
    const remediationId = /\[(C-[0-9a-f-]+)\] completed/.exec(remediated.err)?.[1] as string;
    quarantined = /item ([0-9a-f]{64})/.exec(remediated.err)?.[1] as string;
    expect(quarantined).toBe(sha256(EVIL));
    expect(existsSync(evil)).toBe(false);
    expect((await con.run(`undo ${remediationId}`)).err).toMatch(/\] completed/);
    expect(readFileSync(evil).equals(EVIL)).toBe(true);
    expect(statSync(evil).mode & 0o777).toBe(0o750);

    expect((await con.run("collect -only SystemInformation")).err).toMatch(/ERR_REASON_REQUIRED/);
    const collected = await con.run('collect -only SystemInformation -reason "EDR alert 4411"');
    expect(collected.err).toMatch(/\] completed/);
    const packageId = /item ([0-9a-f]{64})/.exec(collected.err)?.[1] as string;
    const item = await bench.alice?.show({ id: packageId, caseId: CASE });
    expect(item?.package?.verified).toBe(true);
    expect(item?.labels).toMatchObject({ reason: "EDR alert 4411", analyst: "rita" });
    expect(await con.end()).toBe(0);
  }, 600_000);

  it("the quarantined item's custody report holds the remediation and its undo, and verifies offline", async () => {
    const report = (await bench.alice?.report({ id: quarantined, caseId: CASE })) as SignedCustodyReport;
    const actions = report.report.events.map((e) => e.action);
    expect(actions).toEqual(expect.arrayContaining(["remediation.recorded", "remediation.undone"]));
    const ca = readFileSync(join(bench.vault, "pki", "ca.pem"), "utf8");
    expect(verifyCustodyReport(report, { trustAnchors: [ca] }).events).toBe(report.report.events.length);
  });

  it("an action queued while the agent is offline runs when it reconnects", async () => {
    await bench.stopAgent();
    const queued = bench.custody([
      "actions",
      "queue",
      bench.deviceId,
      "--case",
      CASE,
      ...bench.as("rita"),
      "--",
      "fileinfo",
      evil,
    ]);
    ok(queued);
    const id = queued.stdout.trim();
    const state = () => {
      const shown = bench.custody(["actions", "show", id, "--json", ...bench.as("rita")]);
      return (JSON.parse(shown.stdout) as { state: string }).state;
    };
    expect(state()).toBe("pending");
    await bench.startAgent();
    const final = await until(async () => {
      const now = state();
      return now === "pending" || now === "in-progress" ? undefined : now;
    }, "the queued action settled");
    expect(final).toBe("succeeded");
  }, 300_000);
});
