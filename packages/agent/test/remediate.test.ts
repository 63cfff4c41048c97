import { type ChildProcess, spawn } from "node:child_process";
import { createHash } from "node:crypto";
import {
  chmod,
  copyFile,
  lstat,
  mkdir,
  mkdtemp,
  readFile,
  readlink,
  realpath,
  rm,
  stat,
  symlink,
  writeFile,
} from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { Readable, Writable } from "node:stream";
import { CustodyError } from "@custody/core";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import {
  type FileBody,
  type Row,
  type RunCommandOptions,
  runCommand,
  type ServerExchange,
} from "../src/commands/index.js";
import type { AgentPolicy } from "../src/policy-types.js";
import type { DownloadBody, RemediationStep, RestoreBody, TransferBody } from "../src/schemas.js";

// remediate, undo and putfile on a real filesystem: the system's configuration under a test root (the
// policy's `systemRoot`), a real process for `remediate process`. The server's side is a small store of
// bytes by digest that hashes what it receives, as the vault does.
let base: string;
let root: string;
let agentDir: string;
let policy: AgentPolicy;
const held = new Map<string, Buffer>();
const announced: { path: string; sha256: string }[] = [];
const children: ChildProcess[] = [];

const sha = (bytes: Buffer | string) => createHash("sha256").update(bytes).digest("hex");

const exchange: ServerExchange = {
  async announce(_slot, file) {
    announced.push({ path: file.path, sha256: file.sha256 });
    return {
      id: `T-${announced.length}`,
      path: `/v1/agent/transfers/T-${announced.length}`,
      expectedSha256: file.sha256,
      expectedSize: file.size,
      maxBytes: file.size,
    };
  },
  async download(download: DownloadBody) {
    const bytes = held.get(download.sha256);
    if (bytes === undefined) throw new CustodyError("ERR_NOT_FOUND", "no such bytes");
    return Readable.from([bytes]);
  },
};

async function upload(transfer: TransferBody, body: FileBody) {
  const chunks: Buffer[] = [];
  // the agent reuses a chunk's buffer once its write is done: keep a copy
  const sink = new Writable({
    write(chunk: Buffer, _encoding, done) {
      chunks.push(Buffer.from(chunk));
      done();
    },
  });
  await body(0, sink);
  const bytes = Buffer.concat(chunks);
  if (sha(bytes) !== transfer.expectedSha256) throw new CustodyError("ERR_INTEGRITY_MISMATCH", "differs");
  held.set(transfer.expectedSha256, bytes);
}

let counter = 0;
function options(extra: Partial<RunCommandOptions> = {}): RunCommandOptions {
  counter += 1;
  return {
    cwd: null,
    signal: new AbortController().signal,
    policy,
    cmdId: `C-test-${counter}`,
    agentDir,
    own: [agentDir],
    exchange,
    upload,
    quarantine: { path: "/v1/agent/quarantine/Q-1", maxFiles: 16, maxBytes: 1 << 30 },
    ...extra,
  };
}

async function run(name: string, positional: string[], extra: Partial<RunCommandOptions> = {}) {
  const rows: Row[] = [];
  const generator = runCommand({ name, positional, flags: {} }, options(extra));
  for (;;) {
    const next = await generator.next();
    if (next.done) return { rows, data: next.value as Row & { id: string; steps: RemediationStep[] } };
    rows.push(next.value);
  }
}

async function fails(promise: Promise<unknown>, code: string) {
  const error = await promise.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(error, `expected ${code}`).toBeInstanceOf(CustodyError);
  expect((error as CustodyError).code).toBe(code);
}

/** The restore frame the server would build from the remediation's steps and the bytes it holds. */
function restoreOf(id: string, steps: RemediationStep[]): RestoreBody {
  return {
    remediationId: id,
    type: "x",
    steps: steps.map((step) => ({
      step,
      ...(step.action === "quarantine" && step.sha256 !== undefined
        ? {
            download: {
              id: `D-${step.sha256.slice(0, 8)}`,
              path: `/v1/agent/downloads/D-${step.sha256.slice(0, 8)}`,
              sha256: step.sha256,
              size: step.size ?? 0,
            },
          }
        : {}),
    })),
  };
}

async function undo(id: string, steps: RemediationStep[]) {
  return run("undo", [id], { restore: restoreOf(id, steps) });
}

beforeAll(async () => {
  base = await realpath(await mkdtemp(join(tmpdir(), "agent-remediate-")));
  root = join(base, "root");
  agentDir = join(base, "agent");
  await mkdir(agentDir, { mode: 0o700 });
  for (const dir of [
    "etc/systemd/system/multi-user.target.wants",
    "etc/systemd/system/timers.target.wants",
    "etc/cron.d",
    "etc/xdg/autostart",
    "home/eve/.config/autostart",
    "opt/evil",
    "usr/bin",
  ])
    await mkdir(join(root, dir), { recursive: true });
  policy = {
    format: "custody.agent.policy/v1",
    tiers: { basic: true, advanced: true },
    paths: { deny: [join(base, "secret")] },
    maxGetfileBytes: 1 << 30,
    remediation: { systemRoot: root },
  };
});
afterAll(async () => {
  for (const child of children) child.kill("SIGKILL");
  await rm(base, { recursive: true, force: true });
});

describe("remediate file and undo", () => {
  test("the bytes are quarantined before the delete, and undo brings them back byte-identical with their mode", async () => {
    const path = join(base, "dropper.bin");
    const bytes = Buffer.from("MZ malicious payload\n".repeat(500));
    await writeFile(path, bytes);
    await chmod(path, 0o751);
    const { rows, data } = await run("remediate", ["file", path]);
    expect(data.steps.map((s) => s.action)).toEqual(["quarantine", "delete"]);
    expect(rows[0]).toMatchObject({ type: "file", target: path, step: "quarantine", sha256: sha(bytes) });
    expect(held.get(sha(bytes))?.equals(bytes)).toBe(true);
    await expect(lstat(path)).rejects.toThrow();

    const restored = await undo(data.id, data.steps);
    expect(restored.data.steps.map((s) => s.action)).toEqual(["delete"]);
    expect((await readFile(path)).equals(bytes)).toBe(true);
    expect((await stat(path)).mode & 0o7777).toBe(0o751);
    // a second undo is refused on the device too
    await fails(undo(data.id, data.steps), "ERR_REMEDIATION_REFUSED");
  });

  test("the prerequisite's digest is announced without another read, and a file changed since then is neither stored nor deleted", async () => {
    const path = join(base, "hinted.bin");
    const bytes = Buffer.from("reported by fileinfo\n");
    await writeFile(path, bytes);
    const slot = (sha256: string) => ({
      path: "/v1/agent/quarantine/Q-2",
      maxFiles: 16,
      maxBytes: 1 << 30,
      expected: [{ path, sha256, size: bytes.length }],
    });
    // the same size, other bytes than fileinfo saw: the upload's own check stops it
    const stale = sha("Reported by fileinfo\n");
    await fails(run("remediate", ["file", path], { quarantine: slot(stale) }), "ERR_FILE_CHANGED");
    expect(held.has(stale)).toBe(false);
    expect((await readFile(path)).equals(bytes)).toBe(true);
    const { data } = await run("remediate", ["file", path], { quarantine: slot(sha(bytes)) });
    expect(data.steps[0]).toMatchObject({ action: "quarantine", sha256: sha(bytes) });
    expect(held.get(sha(bytes))?.equals(bytes)).toBe(true);
    await expect(lstat(path)).rejects.toThrow();
  });

  test("undo never writes over a file that is there again, and only restores what this device removed", async () => {
    const path = join(base, "again.txt");
    await writeFile(path, "first");
    const { data } = await run("remediate", ["file", path]);
    await writeFile(path, "someone else's file");
    await fails(undo(data.id, data.steps), "ERR_FILE_EXISTS");
    expect(await readFile(path, "utf8")).toBe("someone else's file");
    await fails(undo("C-never-ran-here", data.steps), "ERR_REMEDIATION_REFUSED");
  });

  test("undo refuses bytes other than the ones quarantined", async () => {
    const path = join(base, "swap.txt");
    await writeFile(path, "original");
    const { data } = await run("remediate", ["file", path]);
    const forged = restoreOf(data.id, data.steps);
    for (const s of forged.steps) if (s.download !== undefined) s.download.sha256 = sha("forged");
    await fails(run("undo", [data.id], { restore: forged }), "ERR_PROTOCOL");
    await expect(lstat(path)).rejects.toThrow();
  });

  test("path tricks are refused and change nothing: '..', a symlinked folder, a symlink, protected and denied paths", async () => {
    await mkdir(join(base, "real"), { recursive: true });
    await writeFile(join(base, "real", "keep.txt"), "keep");
    await symlink(join(base, "real"), join(base, "via"));
    await symlink(join(base, "real", "keep.txt"), join(base, "link.txt"));
    await writeFile(join(base, "secret"), "never");
    await fails(run("remediate", ["file", `${base}/x/../real/keep.txt`]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["file", join(base, "via", "keep.txt")]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["file", join(base, "link.txt")]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["file", join(base, "secret")]), "ERR_AGENT_POLICY");
    await fails(run("remediate", ["file", "/etc/passwd"]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["file", join(agentDir, "state.json")]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["file", join(base, "missing")]), "ERR_NOT_FOUND");
    await fails(run("remediate", ["registrykey", "x"]), "ERR_USAGE");
    expect(await readFile(join(base, "real", "keep.txt"), "utf8")).toBe("keep");
    expect(await readFile(join(base, "secret"), "utf8")).toBe("never");
  });

  test("a cron or autostart target outside its locations is refused (the command names the kind of entry)", async () => {
    await writeFile(join(root, "etc", "passwd-like"), "root:x:0:0\n");
    await fails(run("remediate", ["scheduledtask", "/etc/passwd-like"]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["scheduledtask", "/etc/cron.d/../passwd-like"]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["startupitem", "/etc/passwd-like:1"]), "ERR_REMEDIATION_REFUSED");
    await fails(
      run("remediate", ["startupitem", "/etc/xdg/autostart/../../passwd-like"]),
      "ERR_REMEDIATION_REFUSED",
    );
    await fails(run("remediate", ["process", "1"]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["process", String(process.pid)]), "ERR_REMEDIATION_REFUSED");
    await fails(run("remediate", ["process", "12x"]), "ERR_REMEDIATION_REFUSED");
    expect(await readFile(join(root, "etc", "passwd-like"), "utf8")).toBe("root:x:0:0\n");
  });
});

describe("remediate the other entity types", () => {
  test("process: its image is quarantined, the process stopped and the image deleted", async () => {
    const image = join(root, "opt", "evil", "beacon");
    await copyFile("/bin/sleep", image);
    await chmod(image, 0o755);
    const child = spawn(image, ["300"], { stdio: "ignore" });
    children.push(child);
    await new Promise((resolve) => child.once("spawn", resolve));
    const exited = new Promise((resolve) => child.once("exit", resolve));
    const { data } = await run("remediate", ["process", String(child.pid)]);
    expect(data.steps.map((s) => s.action)).toEqual(["quarantine", "kill", "delete"]);
    await exited;
    await expect(lstat(image)).rejects.toThrow();
    expect(held.get(data.steps[0]?.sha256 ?? "")?.equals(await readFile("/bin/sleep"))).toBe(true);
    await undo(data.id, data.steps);
    expect((await readFile(image)).equals(await readFile("/bin/sleep"))).toBe(true);
  });

  test("service: enablement links, unit file and image go; undo puts them back", async () => {
    const unit = join(root, "etc/systemd/system/evil.service");
    const image = join(root, "opt/evil/svc");
    const text = "[Service]\nExecStart=-/opt/evil/svc --daemon\n[Install]\nWantedBy=multi-user.target\n";
    await writeFile(unit, text);
    await writeFile(image, "#!/bin/sh\nsleep 1\n", { mode: 0o700 });
    const wants = join(root, "etc/systemd/system/multi-user.target.wants/evil.service");
    await symlink("/etc/systemd/system/evil.service", wants);
    const { data } = await run("remediate", ["service", "evil"]);
    expect(data.steps.map((s) => `${s.action}:${s.outcome}`)).toEqual([
      "quarantine:done",
      "quarantine:done",
      "stop:skipped",
      "disable:skipped",
      "unlink:done",
      "delete:done",
      "delete:done",
      "reload:skipped",
    ]);
    for (const p of [unit, image, wants]) await expect(lstat(p)).rejects.toThrow();
    await undo(data.id, data.steps);
    expect(await readFile(unit, "utf8")).toBe(text);
    expect((await stat(image)).mode & 0o777).toBe(0o700);
    expect(await readlink(wants)).toBe("/etc/systemd/system/evil.service");
  });

  test("scheduledtask: a cron file, one line of a crontab, and a systemd timer", async () => {
    await writeFile(join(root, "etc/cron.d/evil"), "* * * * * root /opt/evil/svc\n");
    const file = await run("remediate", ["scheduledtask", "/etc/cron.d/evil"]);
    expect(file.data.steps.map((s) => s.action)).toEqual(["quarantine", "delete"]);
    await expect(lstat(join(root, "etc/cron.d/evil"))).rejects.toThrow();

    const crontab = "SHELL=/bin/sh\n17 * * * * root run-parts /etc/cron.hourly\n* * * * * root /tmp/x\n";
    await writeFile(join(root, "etc/crontab"), crontab);
    const line = await run("remediate", ["scheduledtask", "/etc/crontab:3"]);
    const rewrite = line.data.steps.find((s) => s.action === "rewrite");
    expect(rewrite).toMatchObject({ line: 3, text: "* * * * * root /tmp/x" });
    expect(await readFile(join(root, "etc/crontab"), "utf8")).toBe(
      "SHELL=/bin/sh\n17 * * * * root run-parts /etc/cron.hourly\n",
    );
    await undo(line.data.id, line.data.steps);
    expect(await readFile(join(root, "etc/crontab"), "utf8")).toBe(crontab);
    await fails(run("remediate", ["scheduledtask", "/etc/crontab"]), "ERR_REMEDIATION_REFUSED");

    await writeFile(join(root, "etc/systemd/system/evil.timer"), "[Timer]\nOnCalendar=hourly\n");
    await symlink(
      "/etc/systemd/system/evil.timer",
      join(root, "etc/systemd/system/timers.target.wants/evil.timer"),
    );
    const timer = await run("remediate", ["scheduledtask", "evil.timer"]);
    expect(timer.data.steps.filter((s) => s.outcome === "done").map((s) => s.action)).toEqual([
      "quarantine",
      "unlink",
      "delete",
    ]);
  });

  test("startupitem: an autostart entry, and one line of a shell init file (undo refuses over a later change)", async () => {
    const desktop = join(root, "home/eve/.config/autostart/evil.desktop");
    await writeFile(desktop, "[Desktop Entry]\nExec=/opt/evil/svc\n");
    const entry = await run("remediate", ["startupitem", "/home/eve/.config/autostart/evil.desktop"]);
    expect(entry.data.steps.map((s) => s.action)).toEqual(["quarantine", "delete"]);
    await fails(
      run("remediate", ["startupitem", "/home/eve/.config/autostart/other.txt"]),
      "ERR_REMEDIATION_REFUSED",
    );

    const bashrc = join(root, "home/eve/.bashrc");
    await writeFile(bashrc, "alias ll='ls -l'\n/opt/evil/svc &\n");
    const line = await run("remediate", ["startupitem", "/home/eve/.bashrc:2"]);
    expect(await readFile(bashrc, "utf8")).toBe("alias ll='ls -l'\n");
    await writeFile(bashrc, "alias ll='ls -l'\nalias la='ls -a'\n");
    await fails(undo(line.data.id, line.data.steps), "ERR_FILE_CHANGED");
    expect(await readFile(bashrc, "utf8")).toBe("alias ll='ls -l'\nalias la='ls -a'\n");
  });
});

describe("putfile", () => {
  test("writes the library file 0600 into the working folder, checks its digest, refuses an existing name", async () => {
    const bytes = Buffer.from("#!/bin/sh\necho tool\n");
    held.set(sha(bytes), bytes);
    const download = { id: "D-1", path: "/v1/agent/downloads/D-1", sha256: sha(bytes), size: bytes.length };
    const { data } = await run("putfile", ["tool.sh"], { download });
    expect(data).toMatchObject({ name: "tool.sh", path: join(agentDir, "work", "tool.sh") });
    expect((await readFile(join(agentDir, "work", "tool.sh"))).equals(bytes)).toBe(true);
    expect((await stat(join(agentDir, "work", "tool.sh"))).mode & 0o777).toBe(0o600);
    await fails(run("putfile", ["tool.sh"], { download }), "ERR_FILE_EXISTS");
    // bytes that are not the digest the frame names never take the name
    const other = Buffer.from("other");
    held.set(sha("claimed"), other);
    const lying = { id: "D-2", path: "/v1/agent/downloads/D-2", sha256: sha("claimed"), size: other.length };
    await fails(run("putfile", ["lie.sh"], { download: lying }), "ERR_INTEGRITY_MISMATCH");
    await expect(lstat(join(agentDir, "work", "lie.sh"))).rejects.toThrow();
    await fails(run("putfile", ["../escape"], { download }), "ERR_LIBRARY_NAME_INVALID");
  });
});
