import { readFileSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { type ActionView, createLiveClient } from "@custody/client";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench, until } from "./support/live-e2e.ts";

// The offline action queue end to end, every part a real process: `custody serve`, an agent enrolled
// with `custody agent enroll` and started only after actions were queued for it, and the analyst's
// `custody actions ...` through --server.
const bench = new LiveBench();
const { work } = bench;
const CASE = "IR-2026-77";
const EVIDENCE = join(work, "evidence.txt");
const HELLO = "#!/bin/sh\nprintf 'hello %s\\n' \"$@\"\n";
let deviceId = "";
let agentStarted = false;

const custody = (args: string[]) => bench.custody(args);
const alice = () => bench.custodian();
const as = (who: string) => bench.as(who);

function show(who: string, id: string): ActionView {
  const shown = custody(["actions", "show", id, "--json", ...as(who)]);
  expect(shown.code, shown.stderr).toBe(0);
  return JSON.parse(shown.stdout) as ActionView;
}

/** Waits until the action is settled (the server's own view, through @custody/client), then shows it with the CLI. */
async function settled(who: string, id: string): Promise<ActionView> {
  const client = createLiveClient({
    baseUrl: bench.url,
    identityPem: readFileSync(join(work, `${who}.pem`), "utf8"),
  });
  try {
    await until(
      async () => {
        const action = await client.action(id);
        return ["succeeded", "failed", "timed-out", "cancelled"].includes(action.state) ? action : undefined;
      },
      `${id} settled`,
      2400,
    );
  } finally {
    client.close();
  }
  return show(who, id);
}

function queue(who: string, words: string[], extra: string[] = []) {
  return custody(["actions", "queue", deviceId, "--case", CASE, ...extra, ...as(who), "--", ...words]);
}

async function startAgent(): Promise<void> {
  await bench.startAgent();
  agentStarted = true;
}

beforeAll(async () => {
  await bench.serve(["rita", "sam"], CASE);
  deviceId = bench.deviceId;
  await alice().setUnsignedScripts(true);
  await alice().uploadLibrary({ name: "hello.sh", content: Buffer.from(HELLO) });
  bench.amendPolicy({ unsignedScripts: true });
  for (const name of ["rita", "sam"]) {
    for (const scope of [`device:${deviceId}`, `case:${CASE}`])
      await alice().grant({ name, role: "responder", scope });
  }
  await alice().grant({ name: "rita", role: "investigator", scope: `case:${CASE}` });
  writeFileSync(EVIDENCE, "what the intruder left behind\n");
}, 180_000);

afterAll(async () => {
  await bench.close();
});

describe("the action queue, end to end", { timeout: 300_000 }, () => {
  const ids: Record<string, string> = {};

  it("queues actions for a device that is offline: authorized and recorded now, pending", async () => {
    expect((await alice().listDevices()).find((d) => d.deviceId === deviceId)?.online).toBe(false);
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
    await alice().revoke({ name: "sam", role: "responder", scope: `case:${CASE}` });
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
    const records = (await alice().showAudit()).filter((r) => r.action.startsWith("action."));
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
