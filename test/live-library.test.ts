import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SignedCustodyReport, verifyCustodyReport } from "@custody/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { groupMembers, LiveBench, until } from "./support/live-e2e.ts";

// The library, script signing and `run` end to end, every part a real process: `custody serve`, an
// agent enrolled with `custody agent enroll` running as `custody agent run`, the CLI's `keys issue`,
// `sign` and `library upload` through --server, and an analyst's `custody live connect` console.
const bench = new LiveBench();
const { work, vault } = bench;
const CASE = "IR-2026-14";
let deviceId = "";

const custody = (args: string[]) => bench.custody(args);
const alice = () => bench.custodian();
const remote = () => bench.as("alice");

const HELLO = `#!/bin/sh\nprintf 'hello %s\\n' "$@"\n`;
const LONG = '#!/bin/sh\necho $$ > "$1"\nsleep 300 &\n(sleep 301) &\nsleep 302\n';

beforeAll(async () => {
  await bench.serve(["rita"], CASE);
  deviceId = bench.deviceId;
  // this device's owner allows unsigned scripts: whether one runs is then the vault's setting
  bench.amendPolicy({ unsignedScripts: true });
  await bench.startAgent();
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice().grant({ name: "rita", role: "responder", scope });
  writeFileSync(join(work, "hello.sh"), HELLO);
  writeFileSync(join(work, "long.sh"), LONG);
  writeFileSync(join(work, "unsigned.sh"), "#!/bin/sh\necho unsigned ran\n");
  writeFileSync(join(work, "bad.sh"), "#!/bin/sh\necho signed by a collector\n");
}, 180_000);

afterAll(async () => {
  await bench.close();
});

describe("the library and run, end to end", () => {
  it("signs with a script-signer certificate, uploads through the server, refuses a collector's signature and hostile names", () => {
    const issued = custody([
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
    ]);
    expect(issued.code, issued.stderr).toBe(0);
    expect(issued.stdout).toContain("script-signer");
    for (const file of ["hello.sh", "long.sh"]) {
      const signed = custody([
        "sign",
        file,
        "--key",
        join(work, "keys", "scripts.key"),
        "--cert",
        join(work, "keys", "scripts.pem"),
      ]);
      expect(signed.code, signed.stderr).toBe(0);
    }
    const up = custody([
      "library",
      "upload",
      "hello.sh",
      "--description",
      "greets",
      "--parameters",
      "NAME...",
      ...remote(),
    ]);
    expect(up.code, up.stderr).toBe(0);
    expect(up.stdout).toMatch(/uploaded hello\.sh v1 .*signed by CN=scripts/);
    expect(custody(["library", "upload", "long.sh", ...remote()]).code).toBe(0);
    expect(custody(["library", "upload", "unsigned.sh", ...remote()]).stdout).toContain("unsigned");
    // again without --overwrite: refused; with it: version 2 (unsigned), and version 1 stays an item
    const again = custody(["library", "upload", "hello.sh", ...remote()]);
    expect(again.stderr).toContain("ERR_FILE_EXISTS");
    const v2 = custody([
      "library",
      "upload",
      "unsigned.sh",
      "--name",
      "hello.sh",
      "--overwrite",
      ...remote(),
    ]);
    expect(v2.stdout).toMatch(/hello\.sh v2 .*unsigned/);
    // the vault's collector certificate carries a signing purpose, but it is not a script signer
    expect(
      custody([
        "sign",
        "bad.sh",
        "--key",
        join(vault, "pki", "collector.key"),
        "--cert",
        join(vault, "pki", "collector.pem"),
      ]).code,
    ).toBe(0);
    expect(custody(["library", "upload", "bad.sh", ...remote()]).stderr).toContain("ERR_SCRIPT_SIGNATURE");
    for (const name of ["..", "../../etc/cron.d/x", ".profile", "-rf"]) {
      const hostile = custody(["library", "upload", "hello.sh", `--name=${name}`, ...remote()]);
      expect(hostile.stderr, name).toContain("ERR_LIBRARY_NAME_INVALID");
    }
    expect(custody(["library", "remove", "..", ...remote()]).stderr).toContain("ERR_LIBRARY_NAME_INVALID");
    const listed = JSON.parse(custody(["library", "list", "--json", ...remote()]).stdout) as {
      name: string;
    }[];
    expect(listed.map((f) => f.name)).toEqual(["hello.sh", "long.sh", "unsigned.sh"]);
    expect(custody(["library", "upload", "bad.sh", "--signature", "missing.p7s", ...remote()]).code).not.toBe(
      0,
    );
  }, 180_000);

  it("runs a signed script from the console: output item in the case, unsigned refused until the setting is on, a cancelled run leaves nothing", async () => {
    const con = await bench.connect("rita", CASE);
    const library = await con.run("library");
    expect(library.out).toMatch(/hello\.sh\s+2\s+/);
    expect(library.out).toContain("long.sh");

    // version 2 of hello.sh is unsigned: the vault refuses to send it while unsigned scripts are off
    const refused = await con.run(`run hello.sh -parameters "world 'big planet'"`);
    expect(refused.err).toMatch(/\] failed.*ERR_SCRIPT_UNSIGNED/);
    expect(custody(["library", "upload", "hello.sh", "--overwrite", ...remote()]).code).toBe(0);
    const ran = await con.run(`run hello.sh -parameters "world 'big planet'"`);
    const itemId = /item ([0-9a-f]{64})/.exec(ran.err)?.[1] as string;
    expect(itemId, ran.err).toBeDefined();
    const expected = "hello world\nhello big planet\n";
    expect(itemId).toBe(createHash("sha256").update(expected).digest("hex"));
    expect(ran.out).toContain("hello big planet");
    const read = await alice().read({ id: itemId, caseId: CASE });
    const chunks: Buffer[] = [];
    for await (const chunk of read.stream) chunks.push(chunk as Buffer);
    expect(Buffer.concat(chunks).toString()).toBe(expected);
    expect(read.item.labels).toMatchObject({
      kind: "run-output",
      script: "hello.sh",
      scriptVersion: "3",
      signed: "true",
    });

    // the same output again is the same item, and nothing fails in the log for it
    const twice = await con.run(`run hello.sh -parameters "world 'big planet'"`);
    expect(twice.err).toMatch(new RegExp(`\\] completed.*item ${itemId}`));
    expect(
      (await alice().showAudit()).filter((r) => r.outcome === "error" && /ALREADY_EXISTS/.test(r.reason)),
    ).toEqual([]);

    expect((await con.run("run unsigned.sh")).err).toMatch(/ERR_SCRIPT_UNSIGNED/);
    expect(custody(["settings", "set", "unsigned-scripts", "on", ...remote()]).code).toBe(0);
    const unsigned = await con.run("run unsigned.sh");
    expect(unsigned.err).toMatch(/\] completed/);
    expect(unsigned.out).toContain("unsigned ran");

    // a script over what a command frame carries is refused by the server, nothing sent
    writeFileSync(join(work, "big.sh"), `#!/bin/sh\n${"# padding\n".repeat(30_000)}echo big\n`);
    expect(custody(["library", "upload", "big.sh", ...remote()]).code).toBe(0);
    expect((await con.run("run big.sh")).err).toMatch(/\] failed.*ERR_SIZE_LIMIT/);

    // a long run, cancelled with Ctrl+C: its process group is gone from the device
    const pidFile = join(work, "long.pid");
    con.child.stdin?.write(`run long.sh -parameters ${pidFile}\n`);
    const pgid = await until(async () => {
      try {
        const value = Number(readFileSync(pidFile, "utf8").trim());
        return value > 0 && groupMembers(value).length >= 3 ? value : undefined;
      } catch {
        return undefined;
      }
    }, "the long script started");
    con.child.kill("SIGINT");
    await until(async () => (/\] cancelled/.test(con.stderr) ? true : undefined), "the run cancelled");
    expect(con.stderr).not.toMatch(/did not confirm/);
    expect(groupMembers(pgid)).toEqual([]);
    const cancelled = (await alice().showAudit()).find(
      (r) => r.action === "live.result" && r.details.status === "cancelled",
    );
    expect(cancelled, "the cancelled run's result is in the log").toBeDefined();

    con.child.stdin?.end();
    expect(await con.exited).toBe(0);
    const log = await alice().showAudit();
    const runs = log.filter((r) => r.action === "live.script");
    expect(runs.map((r) => [r.details.script, r.details.signed])).toEqual([
      ["hello.sh", true],
      ["hello.sh", true],
      ["unsigned.sh", false],
      ["long.sh", true],
    ]);
    expect(log.some((r) => r.action === "settings.unsigned-scripts" && r.details.enabled === true)).toBe(
      true,
    );
    // the output item's custody report carries the session's runs, signed or not, and verifies offline
    const report = (await alice().report({ id: itemId, caseId: CASE })) as SignedCustodyReport;
    const scripts = report.report.events
      .filter((e) => e.action === "live.script")
      .map((e) => e.details.signed);
    expect(scripts).toEqual(expect.arrayContaining([true, false]));
    const ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
    expect(verifyCustodyReport(report, { trustAnchors: [ca] }).events).toBe(report.report.events.length);
  }, 240_000);
});
