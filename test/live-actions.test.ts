import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { type ActionView, createLiveClient, createVaultClient, type VaultClient } from "@custody/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";

// The offline action queue end to end, every part a real process: `custody serve`, an agent enrolled
// with `custody agent enroll` and started only after actions were queued for it, and the analyst's
// `custody actions ...` through --server.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-actions-"));
const vault = join(work, "vault");
const CASE = "IR-2026-77";
const children: ChildProcess[] = [];
const EVIDENCE = join(work, "evidence.txt");
const HELLO = "#!/bin/sh\nprintf 'hello %s\\n' \"$@\"\n";
let url = "";
let alice: VaultClient;
let deviceId = "";
let agentStarted = false;

function custody(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

const as = (who: string) => ["--server", url, "--identity", join(work, `${who}.pem`)];

function start(args: string[], ready: RegExp): Promise<ChildProcess> {
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
      if (ready.test(output)) resolve(child);
    };
    child.stdout?.on("data", seen);
    child.stderr?.on("data", seen);
    child.once("exit", (code) => reject(new Error(`${args[0]} exited ${code}: ${output}`)));
  });
}

async function until<T>(check: () => Promise<T | undefined>, what: string): Promise<T> {
  for (let i = 0; i < 1200; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`never happened: ${what}`);
}

function show(who: string, id: string): ActionView {
  const shown = custody(["actions", "show", id, "--json", ...as(who)]);
  expect(shown.code, shown.stderr).toBe(0);
  return JSON.parse(shown.stdout) as ActionView;
}

/** Waits until the action is settled (the server's own view, through @custody/client), then shows it with the CLI. */
async function settled(who: string, id: string): Promise<ActionView> {
  const client = createLiveClient({
    baseUrl: url,
    identityPem: readFileSync(join(work, `${who}.pem`), "utf8"),
  });
  try {
    await until(async () => {
      const action = await client.action(id);
      return ["succeeded", "failed", "timed-out", "cancelled"].includes(action.state) ? action : undefined;
    }, `${id} settled`);
  } finally {
    client.close();
  }
  return show(who, id);
}

/** A client of its own for each use: an idle keep-alive connection may have been closed meanwhile. */
async function asAlice<T>(use: (client: VaultClient) => Promise<T>): Promise<T> {
  const client = createVaultClient({
    baseUrl: url,
    identityPem: readFileSync(join(work, "alice.pem"), "utf8"),
  });
  try {
    return await use(client);
  } finally {
    client.close();
  }
}

function queue(who: string, words: string[], extra: string[] = []) {
  return custody(["actions", "queue", deviceId, "--case", CASE, ...extra, ...as(who), "--", ...words]);
}

async function startAgent(): Promise<void> {
  await start(
    ["agent", "run", "--dir", join(work, "agent"), "--policy", join(work, "policy.json")],
    /welcome|connected|agent starting/,
  );
  agentStarted = true;
}

beforeAll(async () => {
  expect(custody(["init", "--name", "alice", "--identity-out", join(work, "alice.pem")]).code).toBe(0);
  await start(["serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"], /listening on/);
  url = (JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as { urls: string[] }).urls[0] ?? "";
  alice = createVaultClient({ baseUrl: url, identityPem: readFileSync(join(work, "alice.pem"), "utf8") });
  for (const name of ["rita", "sam"]) {
    const issued = await alice.issueIdentity(name, "person");
    writeFileSync(join(work, `${name}.pem`), issued.identityPem, { mode: 0o600 });
  }
  await alice.setLiveResponse(true);
  await alice.setUnsignedScripts(true);
  await alice.uploadLibrary({ name: "hello.sh", content: Buffer.from(HELLO) });
  const { token } = await alice.createEnrollmentToken({ caseId: CASE });
  writeFileSync(join(work, "ca.pem"), readFileSync(join(vault, "pki", "ca.pem")));
  alice.close();
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
  const policy = { ...JSON.parse(custody(["agent", "policy"]).stdout), unsignedScripts: true };
  writeFileSync(join(work, "policy.json"), JSON.stringify(policy), { mode: 0o600 });
  // a GET first: the client's idle connection may have been closed meanwhile, and a GET is retried
  await asAlice(async (admin) => {
    for (const name of ["rita", "sam"]) {
      for (const scope of [`device:${deviceId}`, `case:${CASE}`])
        await admin.grant({ name, role: "responder", scope });
    }
    await admin.grant({ name: "rita", role: "investigator", scope: `case:${CASE}` });
  });
  writeFileSync(EVIDENCE, "what the intruder left behind\n");
}, 180_000);

afterAll(async () => {
  for (const child of children.reverse()) {
    child.kill("SIGTERM");
    if (child.exitCode === null) await new Promise((resolve) => child.once("exit", resolve));
  }
  rmSync(work, { recursive: true, force: true });
});

describe("the action queue, end to end", { timeout: 300_000 }, () => {
  const ids: Record<string, string> = {};

  it("queues actions for a device that is offline: authorized and recorded now, pending", async () => {
    expect((await asAlice((admin) => admin.listDevices())).find((d) => d.deviceId === deviceId)?.online).toBe(
      false,
    );
    const queued = queue("rita", ["fileinfo", EVIDENCE]);
    expect(queued.code, queued.stderr).toBe(0);
    ids.command = queued.stdout.trim();
    expect(ids.command).toMatch(/^A-/);
    const pending = show("rita", ids.command);
    expect(pending).toMatchObject({ state: "pending", kind: "command", queuedBy: "rita", caseId: CASE });
    expect(Date.parse(pending.expiresAt) - Date.parse(pending.queuedAt)).toBe(3 * 24 * 3_600_000);
    // hostile input changes nothing: unknown command, console command, an unknown device
    expect(queue("rita", ["format", "c:"]).stderr).toMatch(/ERR_UNKNOWN_COMMAND/);
    expect(queue("rita", ["jobs"]).stderr).toMatch(/ERR_USAGE/);
    const unknown = custody([
      "actions",
      "queue",
      "D-NOSUCHDEVICE",
      "--case",
      CASE,
      ...as("rita"),
      "--",
      "processes",
    ]);
    expect(unknown.stderr).toMatch(/ERR_NOT_FOUND/);
    const listed = custody(["actions", "list", "--state", "pending", "--json", ...as("rita")]);
    expect((JSON.parse(listed.stdout) as ActionView[]).map((a) => a.id)).toEqual([ids.command]);
    // another person's action is not found
    expect(custody(["actions", "show", ids.command, ...as("sam")]).stderr).toMatch(/ERR_NOT_FOUND/);
  });

  it("times out an action whose device does not come back in time", async () => {
    const queued = queue("rita", ["processes"], ["--expires", "1s"]);
    expect(queued.code, queued.stderr).toBe(0);
    const expired = await settled("rita", queued.stdout.trim());
    expect(expired.state).toBe("timed-out");
    expect(expired.error?.code).toBe("ERR_ACTION_EXPIRED");
    expect(expired.steps[0]?.state).toBe("not-run");
  });

  it("cancels a pending action: it never runs", () => {
    const queued = queue("rita", ["processes"]);
    ids.cancelled = queued.stdout.trim();
    const cancelled = custody(["actions", "cancel", ids.cancelled, "--json", ...as("rita")]);
    expect(cancelled.code, cancelled.stderr).toBe(0);
    expect(JSON.parse(cancelled.stdout)).toMatchObject({ state: "cancelled", cancelledBy: "rita" });
  });

  it("holds one pending batch per device: a second is refused, and so is a batch out of order", () => {
    writeFileSync(
      join(work, "batch.json"),
      JSON.stringify({
        steps: [{ line: 'run hello.sh -parameters "queued world"' }, { line: `getfile ${EVIDENCE} -auto` }],
      }),
    );
    const first = custody([
      "actions",
      "batch",
      deviceId,
      "--case",
      CASE,
      "--file",
      "batch.json",
      ...as("rita"),
    ]);
    expect(first.code, first.stderr).toBe(0);
    ids.batch = first.stdout.trim();
    const second = custody([
      "actions",
      "batch",
      deviceId,
      "--case",
      CASE,
      "--file",
      "batch.json",
      ...as("rita"),
    ]);
    expect(second.code).not.toBe(0);
    expect(second.stderr).toMatch(/ERR_BATCH_PENDING/);
    writeFileSync(join(work, "order.json"), JSON.stringify(["run hello.sh", "putfile hello.sh"]));
    const order = custody([
      "actions",
      "batch",
      deviceId,
      "--case",
      CASE,
      "--file",
      "order.json",
      ...as("sam"),
    ]);
    expect(order.code).not.toBe(0);
    expect(order.stderr).toMatch(/ERR_PREREQUISITE/);
  });

  it("fails an action whose analyst lost the grant before it ran", async () => {
    const queued = queue("sam", ["processes"]);
    expect(queued.code, queued.stderr).toBe(0);
    ids.revoked = queued.stdout.trim();
    await asAlice((admin) => admin.revoke({ name: "sam", role: "responder", scope: `case:${CASE}` }));
  });

  it("runs the queued actions in order when the agent connects", async () => {
    await startAgent();
    const command = await settled("rita", ids.command as string);
    expect(command.state, JSON.stringify(command.error)).toBe("succeeded");
    expect(command.steps[0]).toMatchObject({ state: "succeeded", name: "fileinfo" });
    expect(command.steps[0]?.data?.sha256).toMatch(/^[0-9a-f]{64}$/);
    expect(command.transcriptItemId).toMatch(/^[0-9a-f]{64}$/);
    const revoked = await settled("sam", ids.revoked as string);
    expect(revoked.state).toBe("failed");
    expect(revoked.error?.code).toBe("ERR_ACCESS_DENIED");
    expect(show("rita", ids.cancelled as string).state).toBe("cancelled");
  });

  it("runs a batch's steps in order, each result downloadable as an item of the case", async () => {
    const batch = await settled("rita", ids.batch as string);
    expect(batch.state, JSON.stringify(batch.error)).toBe("succeeded");
    const [run, getfile] = batch.steps;
    expect(run?.state).toBe("succeeded");
    expect(getfile?.state).toBe("succeeded");
    const out = join(work, "run-output.txt");
    const got = custody([
      "actions",
      "result",
      ids.batch as string,
      "--step",
      "1",
      "--out",
      out,
      ...as("rita"),
    ]);
    expect(got.code, got.stderr).toBe(0);
    expect(readFileSync(out, "utf8")).toBe("hello queued\nhello world\n");
    const file = join(work, "taken.txt");
    expect(
      custody(["get", getfile?.itemId as string, "--case", CASE, "--out", file, ...as("rita")]).code,
    ).toBe(0);
    expect(readFileSync(file)).toEqual(readFileSync(EVIDENCE));
    const shown = custody(["actions", "show", ids.batch as string, ...as("rita")]);
    expect(shown.stdout).toContain(run?.itemId as string);
  });

  it("stops a batch at its first failure: the later steps do not run", async () => {
    writeFileSync(
      join(work, "failing.json"),
      JSON.stringify([`getfile ${join(work, "absent.txt")} -auto`, "run hello.sh"]),
    );
    const queued = custody([
      "actions",
      "batch",
      deviceId,
      "--case",
      CASE,
      "--file",
      "failing.json",
      ...as("rita"),
    ]);
    expect(queued.code, queued.stderr).toBe(0);
    const batch = await settled("rita", queued.stdout.trim());
    expect(batch.state).toBe("failed");
    expect(batch.steps.map((s) => s.state)).toEqual(["failed", "not-run"]);
    expect(batch.steps[1]?.cmdId).toBeUndefined();
    expect(batch.error?.message).toMatch(/step 1/);
  });

  it("states every change as a fact of the signed log, bound to the case", async () => {
    const records = (await asAlice((admin) => admin.showAudit())).filter((r) =>
      r.action.startsWith("action."),
    );
    const of = (id: string) =>
      records.filter((r) => r.details?.actionId === id).map((r) => `${r.action}:${r.outcome}`);
    expect(of(ids.command as string)).toEqual([
      "action.queued:allow",
      "action.started:allow",
      "action.step:allow",
      "action.ended:allow",
    ]);
    expect(of(ids.revoked as string)).toEqual([
      "action.queued:allow",
      "action.started:deny",
      "action.ended:error",
    ]);
    expect(of(ids.cancelled as string)).toEqual(["action.queued:allow", "action.ended:error"]);
    expect(
      records.filter((r) => r.action === "action.queued" && r.outcome === "deny").length,
    ).toBeGreaterThanOrEqual(2);
    for (const record of records) expect(record.details?.caseId).toBe(CASE);
    expect(agentStarted).toBe(true);
  });
});
