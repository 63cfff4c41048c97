import { createHash, randomBytes } from "node:crypto";
import { existsSync } from "node:fs";
import { mkdir, readdir, readFile, writeFile } from "node:fs/promises";
import { request as httpsRequest } from "node:https";
import { join } from "node:path";
import { type SignedCustodyReport, verifyCustodyReport } from "@custody/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import {
  auditRecords,
  call,
  eventually,
  type Identity,
  identityOf,
  type Served,
  serveVault,
} from "./helpers.js";
import { enrolledDevice, TestAgent } from "./live-helpers.js";

// Sessions and commands over real TLS, with a scripted agent on the real WebSocket: the test sees every
// frame the server sends to the device, so "nothing was sent" is observed, not assumed.
let served: Served;
let bob: Identity;
let carol: Identity;
let device: Identity & { deviceId: string };
let agent: TestAgent;
let sessionId: string;
const CASE = "IR-42";
const staleRun = () => join(served.vaultDir, "server", "transfers", "run-crashed");

beforeAll(async () => {
  served = await serveVault({
    liveLimits: { runningPerSession: 1, cancelGraceMs: 300, commandTimeoutsMs: { connections: 1_000 } },
  });
  bob = await person("bob");
  carol = await person("carol");
  device = await enrolledDevice(served, "ws");
  agent = new TestAgent(served, device);
  agent.ws.on("message", (data: Buffer) => received.push(JSON.parse(data.toString("utf8"))));
  await agent.hello(device.deviceId, null);
  // partial files a crashed server left behind: swept when this server stages its first transfer
  await mkdir(staleRun(), { recursive: true });
  await writeFile(join(staleRun(), "T-left.part"), "half a file from a server that died");
}, 60_000);
afterAll(async () => {
  agent?.close();
  await served.cleanup();
});

async function as(who: Identity, method: string, path: string, json?: unknown) {
  return call(served.url, path, {
    method,
    identity: who,
    ca: served.ca,
    ...(json === undefined ? {} : { json }),
  });
}

async function person(name: string): Promise<Identity> {
  const issued = await as(served.alice, "POST", "/v1/identities", { name, kind: "person" });
  return identityOf((issued.json() as { identityPem: string }).identityPem);
}

async function grant(name: string, role: string, scope: string, revoke = false) {
  const path = revoke ? "/v1/access/revocations" : "/v1/access/grants";
  const response = await as(served.alice, "POST", path, { name, role, scope });
  expect(response.json()).toMatchObject({ status: "done" });
}

/** The store's creates under way (or left behind): a cut transfer's bytes wait in one. */
async function createsInStore(): Promise<string[]> {
  const tmp = join(served.vaultDir, "store", "tmp");
  return (await readdir(tmp).catch(() => [])).filter((name) => name.endsWith(".create"));
}

async function submit(line: string) {
  return as(bob, "POST", `/v1/sessions/${sessionId}/commands`, { line });
}

async function settled(cmdId: string) {
  return eventually(async () => {
    const entry = (await as(bob, "GET", `/v1/commands/${cmdId}`)).json() as { status: string };
    return ["completed", "failed", "cancelled", "timed-out"].includes(entry.status) ? entry : undefined;
  }, `${cmdId} settled`) as Promise<Record<string, unknown>>;
}

/** Every frame the server sent the device, in order (TestAgent.next takes frames off its own list). */
const received: { t: string; body: Record<string, unknown> }[] = [];

function commandsSent(): string[] {
  return received.filter((f) => f.t === "command").map((f) => String(f.body.name));
}

async function liveDecisions(cmdId: string) {
  return (await auditRecords(served)).filter((r) => r.action === "live.command" && r.details.cmdId === cmdId);
}

/** Answers the next command frame as the device would, with `rows` and a completed result. */
async function answer(rows: Record<string, unknown>[], data?: Record<string, unknown>) {
  const frame = await agent.next("command");
  const cmdId = frame.body.cmdId;
  agent.send("ack", { cmdId, accepted: true });
  if (rows.length > 0) agent.send("rows", { cmdId, chunk: 0, rows });
  agent.send("result", {
    cmdId,
    status: "completed",
    rows: rows.length,
    durationMs: 1,
    ...(data === undefined ? {} : { data }),
  });
  return frame;
}

describe("live-response sessions", () => {
  it("opens a session only with live response on and grants on the device and the case; one per device, naming who holds it", async () => {
    await grant("bob", "responder", `device:${device.deviceId}`);
    await grant("bob", "analyst", `case:${CASE}`);
    await grant("carol", "analyst", "*");
    const open = { deviceId: device.deviceId, caseId: CASE };
    const off = await as(bob, "POST", "/v1/sessions", open);
    expect(off.status).toBe(403);
    expect(off.json()).toMatchObject({ code: "ERR_LIVE_RESPONSE_OFF" });
    await as(served.alice, "POST", "/v1/settings/live-response", { enabled: true });
    const noCase = await as(bob, "POST", "/v1/sessions", { ...open, caseId: "OTHER" });
    expect(noCase.json()).toMatchObject({ code: "ERR_ACCESS_DENIED" });
    const opened = await as(bob, "POST", "/v1/sessions", open);
    expect(opened.status).toBe(201);
    const session = opened.json() as { id: string; createdBy: string; limits: { idleMs: number } };
    expect(session).toMatchObject({
      createdBy: "bob",
      limits: { idleMs: 30 * 60_000, maxGetfileBytes: 750 * 1024 ** 2 },
    });
    sessionId = session.id;
    const held = await as(carol, "POST", "/v1/sessions", open);
    expect(held.status).toBe(429);
    expect(held.json()).toMatchObject({
      code: "ERR_SESSION_LIMIT",
      details: { limit: "per-device", heldBy: "bob" },
    });
    // sessions are bound to their person: another's is not found
    expect((await as(carol, "GET", `/v1/sessions/${sessionId}`)).status).toBe(404);
    expect(
      (await as(carol, "POST", `/v1/sessions/${sessionId}/commands`, { line: "processes" })).status,
    ).toBe(404);
    const opens = (await auditRecords(served)).filter((r) => r.action === "live.session-open");
    expect(opens.map((r) => r.outcome)).toEqual(["deny", "deny", "allow", "deny"]);
    expect(commandsSent()).toEqual([]);
  }, 60_000);

  it("calls authorizeCommand on every route to the device: submit, dispatch of a queued command, the -auto prerequisite", async () => {
    // submit: getfile needs live.advanced on the case too, and bob is an analyst there
    const refused = await submit("getfile /etc/hostname -auto");
    expect(refused.status).toBe(403);
    expect(refused.json()).toMatchObject({ code: "ERR_ACCESS_DENIED" });
    const submitDenials = (await auditRecords(served)).filter(
      (r) => r.action === "live.command" && r.outcome === "deny" && r.details.phase === "submit",
    );
    expect(submitDenials).toHaveLength(1);
    expect(submitDenials[0]?.details).toMatchObject({
      sessionId,
      command: "getfile",
      line: "getfile /etc/hostname -auto",
    });
    expect(commandsSent()).toEqual([]);
    await grant("bob", "responder", `case:${CASE}`);

    // dispatch: a command queued behind a running one, whose grant is revoked before it leaves the queue
    const running = (await submit("processes")).json() as { id: string };
    const frame = await agent.next("command");
    expect(frame.body).toMatchObject({ cmdId: running.id, name: "processes", issuedBy: "bob" });
    const queued = (await submit("dir /tmp")).json() as { id: string; status: string };
    expect(queued.status).toBe("queued");
    await grant("bob", "responder", `device:${device.deviceId}`, true);
    await as(bob, "POST", `/v1/commands/${running.id}/cancel`, { reason: "make room" });
    const cancel = await agent.next("cancel");
    expect(cancel.body.cmdId).toBe(running.id);
    agent.send("result", { cmdId: running.id, status: "cancelled", rows: 0, durationMs: 5 });
    expect(await settled(running.id)).toMatchObject({ status: "cancelled" });
    expect(await settled(queued.id)).toMatchObject({
      status: "failed",
      error: { code: "ERR_ACCESS_DENIED" },
    });
    expect((await liveDecisions(queued.id)).map((r) => [r.details.phase, r.outcome])).toEqual([
      ["submit", "allow"],
      ["dispatch", "deny"],
    ]);

    // prerequisite: getfile -auto queued, then live.basic on the device revoked: its fileinfo never leaves
    await grant("bob", "responder", `device:${device.deviceId}`);
    const blocker = (await submit("processes")).json() as { id: string };
    await agent.next("command");
    const getfile = (await submit("getfile /etc/hostname -auto")).json() as { id: string };
    await grant("bob", "responder", `device:${device.deviceId}`, true);
    await as(bob, "POST", `/v1/commands/${blocker.id}/cancel`, {});
    await agent.next("cancel");
    agent.send("result", { cmdId: blocker.id, status: "cancelled", rows: 0, durationMs: 5 });
    expect(await settled(getfile.id)).toMatchObject({
      status: "failed",
      error: { code: "ERR_ACCESS_DENIED" },
    });
    const prerequisite = (await auditRecords(served)).find(
      (r) => r.action === "live.command" && r.details.prerequisiteOf === getfile.id,
    );
    expect(prerequisite).toMatchObject({
      outcome: "deny",
      details: { phase: "prerequisite", command: "fileinfo" },
    });
    // the device saw the two processes commands and their cancels, nothing else
    expect(commandsSent()).toEqual(["processes", "processes"]);
    await grant("bob", "responder", `device:${device.deviceId}`);
  }, 60_000);

  it("times out a command whose agent never answers; the session stays usable", async () => {
    const silent = (await submit("connections")).json() as { id: string };
    await agent.next("command");
    const cancel = await agent.next("cancel");
    expect(cancel.body.cmdId).toBe(silent.id);
    expect(await settled(silent.id)).toMatchObject({ status: "timed-out", error: { code: "ERR_TIMEOUT" } });
    const next = (await submit("dir /")).json() as { id: string };
    await answer([{ name: "etc", type: "dir" }]);
    expect(await settled(next.id)).toMatchObject({ status: "completed", rows: 1 });
  }, 60_000);

  it("refuses hostile command lines and bodies with a clear code, sending nothing", async () => {
    const before = commandsSent().length;
    const cases: [string, string][] = [
      [JSON.stringify({ line: "nosuch -x 1" }), "ERR_UNKNOWN_COMMAND"],
      [JSON.stringify({ line: "dir /tmp\u001b]52;c;x\u0007" }), "ERR_USAGE"],
      [JSON.stringify({ line: "processes; rm -rf /" }), "ERR_USAGE"],
      ['{"line":"dir /tmp","__proto__":{"admin":true}}', "ERR_INVALID_ARGUMENT"],
      [JSON.stringify({ line: "x".repeat(9000) }), "ERR_INVALID_ARGUMENT"],
      [JSON.stringify({ line: "help" }), "ERR_USAGE"],
    ];
    for (const [body, code] of cases) {
      const response = await call(served.url, `/v1/sessions/${sessionId}/commands`, {
        method: "POST",
        identity: bob,
        ca: served.ca,
        body,
        headers: { "content-type": "application/json" },
      });
      expect(response.status, body).toBeGreaterThanOrEqual(400);
      expect(response.json(), body).toMatchObject({ code });
    }
    expect(commandsSent().length).toBe(before);
  }, 60_000);

  it("getfile needs a fileinfo of the path; the file streams into the case create-only under its digest, from that device only", async () => {
    const without = (await submit("getfile /srv/a.bin")).json() as { id: string };
    expect(await settled(without.id)).toMatchObject({
      status: "failed",
      error: { code: "ERR_PREREQUISITE" },
    });
    const bytes = Buffer.from("the suspicious file\n");
    const facts = fileFacts("/srv/a.bin", bytes);
    const info = (await submit("fileinfo /srv/a.bin")).json() as { id: string };
    await answer([facts], facts);
    await settled(info.id);
    const taking = (await submit("getfile /srv/a.bin")).json() as { id: string };
    const frame = await agent.next("command");
    const transfer = frame.body.transfer as { path: string; expectedSha256: string; expectedSize: number };
    expect(transfer).toMatchObject({ expectedSha256: facts.sha256, expectedSize: bytes.length });
    expect(existsSync(staleRun()), "a crashed server's staging folder is swept").toBe(false);
    // a person, or another device, may not upload it
    expect((await as(bob, "PUT", transfer.path, undefined)).status).toBe(403);
    const other = await enrolledDevice(served, "other");
    const foreign = await call(served.url, transfer.path, {
      method: "PUT",
      identity: other,
      ca: served.ca,
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(foreign.status).toBe(403);
    const put = await call(served.url, transfer.path, {
      method: "PUT",
      identity: device,
      ca: served.ca,
      body: bytes,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(put.status).toBe(201);
    agent.send("result", {
      cmdId: taking.id,
      status: "completed",
      rows: 0,
      durationMs: 2,
      data: { sha256: facts.sha256, size: bytes.length },
    });
    const taken = await settled(taking.id);
    expect(taken).toMatchObject({ status: "completed", itemId: facts.sha256 });
    const item = (await as(served.alice, "GET", `/v1/items/${facts.sha256}?case=${CASE}`)).json() as {
      labels: Record<string, string>;
      digests: Record<string, string>;
    };
    expect(item.labels).toMatchObject({
      device: device.deviceId,
      path: "/srv/a.bin",
      command: taking.id,
      fileinfo: info.id,
      session: sessionId,
      analyst: "bob",
      // the device's sha1/md5 are its claims, kept as such; the vault's digest is the sha256 it computed
      "file.sha1": facts.sha1,
      "file.md5": facts.md5,
    });
    expect(item.digests).toEqual({ sha256: facts.sha256 });
  }, 60_000);

  it("refuses a body whose digest differs from the one fileinfo reported: nothing stored, recorded, the command fails", async () => {
    const claimed = Buffer.from("what fileinfo read\n");
    const facts = fileFacts("/srv/b.bin", claimed);
    const info = (await submit("fileinfo /srv/b.bin")).json() as { id: string };
    await answer([facts], facts);
    await settled(info.id);
    const taking = (await submit("getfile /srv/b.bin")).json() as { id: string };
    const frame = await agent.next("command");
    const transfer = frame.body.transfer as { path: string };
    const forged = Buffer.from("WHAT FILEINFO READ\n");
    expect(forged.length).toBe(claimed.length);
    const put = await call(served.url, transfer.path, {
      method: "PUT",
      identity: device,
      ca: served.ca,
      body: forged,
      headers: { "content-type": "application/octet-stream" },
    });
    expect(put.json()).toMatchObject({ code: "ERR_INTEGRITY_MISMATCH" });
    agent.send("result", { cmdId: taking.id, status: "completed", rows: 0, durationMs: 2 });
    expect(await settled(taking.id)).toMatchObject({
      status: "failed",
      error: { code: "ERR_INTEGRITY_MISMATCH" },
    });
    const missing = await as(served.alice, "GET", `/v1/items/${facts.sha256}?case=${CASE}`);
    expect(missing.status).toBe(404);
    const recorded = (await auditRecords(served)).filter(
      (r) => r.action === "evidence.ingest" && r.outcome === "error",
    );
    expect(recorded.at(-1)?.reason).toMatch(/ERR_INTEGRITY_MISMATCH/);
    // over the size limit: refused before anything is sent
    const huge = { ...fileFacts("/srv/huge.img", claimed), size: 751 * 1024 ** 2 };
    const hugeInfo = (await submit("fileinfo /srv/huge.img")).json() as { id: string };
    await answer([huge], huge);
    await settled(hugeInfo.id);
    const before = commandsSent().length;
    const tooBig = (await submit("getfile /srv/huge.img")).json() as { id: string };
    expect(await settled(tooBig.id)).toMatchObject({ status: "failed", error: { code: "ERR_SIZE_LIMIT" } });
    expect(commandsSent().length).toBe(before);
  }, 60_000);

  it("a device's fileinfo of one path never stands for another: the path it reports is only its claim", async () => {
    const facts = fileFacts("/etc/elsewhere", Buffer.from("the device says another path\n"));
    const info = (await submit("fileinfo /srv/asked.bin")).json() as { id: string };
    await answer([facts], facts);
    await settled(info.id);
    const before = commandsSent().length;
    const other = (await submit("getfile /etc/elsewhere")).json() as { id: string };
    expect(await settled(other.id)).toMatchObject({ status: "failed", error: { code: "ERR_PREREQUISITE" } });
    expect(commandsSent().length).toBe(before);
    const asked = (await submit("getfile /srv/asked.bin")).json() as { id: string };
    const frame = await agent.next("command");
    expect(frame.body.cmdId).toBe(asked.id);
    agent.send("result", {
      cmdId: asked.id,
      status: "failed",
      rows: 0,
      durationMs: 1,
      error: { code: "ERR_ABORTED", message: "not sent" },
    });
    await settled(asked.id);
  }, 60_000);

  it("resumes a cut transfer from what the server staged; a resumed body that differs from the digest stores nothing", async () => {
    /** getfile of `bytes` at `path`: its fileinfo answered, then the transfer the command frame carries. */
    async function taking(path: string, bytes: Buffer) {
      const facts = fileFacts(path, bytes);
      const info = (await submit(`fileinfo ${path}`)).json() as { id: string };
      await answer([facts], facts);
      await settled(info.id);
      const cmd = (await submit(`getfile ${path}`)).json() as { id: string };
      const frame = await agent.next("command");
      return { cmd, facts, transfer: frame.body.transfer as { id: string; path: string } };
    }
    /** A PUT of the whole size that the device's connection drops once `sent` bytes went out. */
    async function cutPut(transfer: { id: string; path: string }, bytes: Buffer, sent: number) {
      const req = httpsRequest(new URL(transfer.path, served.url), {
        method: "PUT",
        ca: served.ca,
        cert: device.cert,
        key: device.key,
        agent: false,
        headers: { "content-type": "application/octet-stream", "content-length": String(bytes.length) },
      });
      req.on("error", () => undefined);
      await new Promise<void>((resolve, reject) =>
        req.write(bytes.subarray(0, sent), (error) => (error ? reject(error) : resolve())),
      );
      // on loopback the server (this process) reads what the kernel took well within this pause
      await new Promise((resolve) => setTimeout(resolve, 300));
      req.destroy();
    }
    const head = (path: string) =>
      call(served.url, path, { method: "HEAD", identity: device, ca: served.ca });
    const put = (path: string, body: Buffer, range?: string) =>
      call(served.url, path, {
        method: "PUT",
        identity: device,
        ca: served.ca,
        body,
        headers: {
          "content-type": "application/octet-stream",
          ...(range === undefined ? {} : { "content-range": range }),
        },
      });
    const MiB = 1024 * 1024;

    // a resumed body whose bytes differ from the digest: refused, nothing stored
    const claimed = randomBytes(3 * MiB);
    const forged = await taking("/srv/resume-forged.bin", claimed);
    await cutPut(forged.transfer, claimed, MiB);
    // only the device the command went to may ask
    const asked = await call(served.url, forged.transfer.path, {
      method: "HEAD",
      identity: bob,
      ca: served.ca,
    });
    expect(asked.status).toBe(403);
    const staged = await head(forged.transfer.path);
    expect(staged.status).toBe(204);
    expect(staged.headers["upload-offset"]).toBe(String(MiB));
    expect(staged.headers["upload-complete"]).toBe("?0");
    // the bytes wait in the store's create, not in a copy of their own
    expect(await createsInStore()).toHaveLength(1);
    expect(existsSync(join(served.vaultDir, "server", "transfers"))).toBe(false);
    // a PUT that starts elsewhere than 0 or the staged offset, or whose length is not the rest: refused
    expect(
      (
        await put(
          forged.transfer.path,
          claimed.subarray(5),
          `bytes 5-${claimed.length - 1}/${claimed.length}`,
        )
      ).json(),
    ).toMatchObject({ code: "ERR_CONFLICT" });
    expect(
      (
        await put(
          forged.transfer.path,
          claimed.subarray(MiB + 1),
          `bytes ${MiB}-${claimed.length - 1}/${claimed.length}`,
        )
      ).json(),
    ).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    expect(
      (await put(forged.transfer.path, claimed, `bytes 0-${claimed.length}/${claimed.length + 1}`)).json(),
    ).toMatchObject({ code: "ERR_INVALID_ARGUMENT" });
    const rest = Buffer.from(claimed.subarray(MiB));
    rest[rest.length - 1] = (rest[rest.length - 1] as number) ^ 0xff;
    const range = `bytes ${MiB}-${claimed.length - 1}/${claimed.length}`;
    expect((await put(forged.transfer.path, rest, range)).json()).toMatchObject({
      code: "ERR_INTEGRITY_MISMATCH",
    });
    // refused for good: no second try with other bytes
    expect((await put(forged.transfer.path, claimed.subarray(MiB), range)).json()).toMatchObject({
      code: "ERR_REPLAY",
    });
    agent.send("result", { cmdId: forged.cmd.id, status: "completed", rows: 0, durationMs: 2 });
    expect(await settled(forged.cmd.id)).toMatchObject({
      status: "failed",
      error: { code: "ERR_INTEGRITY_MISMATCH" },
    });
    expect((await as(served.alice, "GET", `/v1/items/${forged.facts.sha256}?case=${CASE}`)).status).toBe(404);
    expect(await createsInStore()).toEqual([]);

    // the same cut, resumed with the right bytes: stored whole under the digest
    const bytes = randomBytes(3 * MiB + 17);
    const good = await taking("/srv/resume.bin", bytes);
    await cutPut(good.transfer, bytes, 2 * MiB);
    const offset = Number((await head(good.transfer.path)).headers["upload-offset"]);
    expect(offset).toBe(2 * MiB);
    const resumed = await put(
      good.transfer.path,
      bytes.subarray(offset),
      `bytes ${offset}-${bytes.length - 1}/${bytes.length}`,
    );
    expect(resumed.status, resumed.body.toString()).toBe(201);
    agent.send("result", { cmdId: good.cmd.id, status: "completed", rows: 0, durationMs: 2 });
    expect(await settled(good.cmd.id)).toMatchObject({ status: "completed", itemId: good.facts.sha256 });
    const content = await as(served.alice, "GET", `/v1/items/${good.facts.sha256}/content?case=${CASE}`);
    expect(content.body.equals(bytes)).toBe(true);
    expect(await createsInStore()).toEqual([]);

    // a cut transfer whose command ends before the rest comes: the waiting create stores nothing
    const left = randomBytes(2 * MiB);
    const dropped = await taking("/srv/resume-dropped.bin", left);
    await cutPut(dropped.transfer, left, MiB);
    expect(await createsInStore()).toHaveLength(1);
    agent.send("result", {
      cmdId: dropped.cmd.id,
      status: "failed",
      rows: 0,
      durationMs: 2,
      error: { code: "ERR_IO", message: "gone" },
    });
    expect(await settled(dropped.cmd.id)).toMatchObject({ status: "failed" });
    await eventually(async () => ((await createsInStore()).length === 0 ? true : undefined), "create ended");
    expect((await as(served.alice, "GET", `/v1/items/${dropped.facts.sha256}?case=${CASE}`)).status).toBe(
      404,
    );
  }, 120_000);

  it("stores the transcript when the session ends; the reports of its items list the session's commands and verify", async () => {
    const closed = await as(bob, "DELETE", `/v1/sessions/${sessionId}`);
    const view = closed.json() as { transcriptItemId: string; closeReason: string; durationMs: number };
    expect(view.closeReason).toBe("closed");
    const transcript = await as(
      served.alice,
      "GET",
      `/v1/items/${view.transcriptItemId}/content?case=${CASE}`,
    );
    const lines = transcript.body
      .toString("utf8")
      .trimEnd()
      .split("\n")
      .map((l) => JSON.parse(l) as Record<string, unknown>);
    expect(lines[0]).toMatchObject({
      format: "custody.live.transcript/v1",
      kind: "header",
      analyst: "bob",
      deviceId: device.deviceId,
    });
    expect(lines.at(-1)).toMatchObject({ kind: "close", reason: "closed", commands: lines.length - 2 });
    expect(lines.filter((l) => l.kind === "command").map((l) => l.status)).toContain("timed-out");
    for (const id of [
      view.transcriptItemId,
      createHash("sha256").update("the suspicious file\n").digest("hex"),
    ]) {
      const report = (
        await as(served.alice, "GET", `/v1/items/${id}/report?case=${CASE}`)
      ).json() as SignedCustodyReport;
      const actions = report.report.events.map((e) => e.action);
      expect(actions).toEqual(expect.arrayContaining(["live.session-open", "live.command", "live.result"]));
      expect(verifyCustodyReport(report, { trustAnchors: [served.ca] }).events).toBe(
        report.report.events.length,
      );
    }
    const close = (await auditRecords(served)).find((r) => r.action === "live.session-close");
    expect(close?.details).toMatchObject({ sessionId, transcriptItemId: view.transcriptItemId });
    expect(received.some((f) => f.t === "close-session")).toBe(true);
  }, 60_000);

  it("checks and reserves the limits with no await in between: of parallel opens on one device exactly one succeeds", async () => {
    const people = [carol];
    for (const name of ["dave", "erin", "frank"]) {
      people.push(await person(name));
      await grant(name, "analyst", "*");
    }
    const opens = await Promise.all(
      people.map((who) => as(who, "POST", "/v1/sessions", { deviceId: device.deviceId, caseId: CASE })),
    );
    expect(opens.map((r) => r.status).sort()).toEqual([201, 429, 429, 429]);
    const winner = opens.findIndex((r) => r.status === 201);
    const holder = ["carol", "dave", "erin", "frank"][winner];
    for (const refused of opens.filter((r) => r.status === 429)) {
      expect(refused.json()).toMatchObject({
        code: "ERR_SESSION_LIMIT",
        details: { limit: "per-device", heldBy: holder },
      });
    }
    const id = ((opens[winner] as { json(): unknown }).json() as { id: string }).id;
    expect((await as(people[winner] as Identity, "DELETE", `/v1/sessions/${id}`)).status).toBe(200);
  }, 60_000);
  it("cuts off a person revoked while holding a session: the session closes, its running command is cancelled", async () => {
    const dave = await person("dave2");
    await grant("dave2", "analyst", "*");
    const opened = await as(dave, "POST", "/v1/sessions", { deviceId: device.deviceId, caseId: CASE });
    const { id } = opened.json() as { id: string };
    const running = (await as(dave, "POST", `/v1/sessions/${id}/commands`, { line: "services" })).json() as {
      id: string;
    };
    await agent.next("command");
    await as(served.alice, "DELETE", "/v1/identities/dave2");
    const cancel = await agent.next("cancel");
    expect(cancel.body.cmdId).toBe(running.id);
    agent.send("result", { cmdId: running.id, status: "cancelled", rows: 0, durationMs: 3 });
    const close = await eventually(
      async () =>
        (await auditRecords(served)).find(
          (r) => r.action === "live.session-close" && r.details.sessionId === id,
        ),
      "the revoked session closed",
    );
    expect(close.details).toMatchObject({
      reason: "revoked",
      transcriptSha256: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
    // a revoked identity is refused from its next request on
    expect((await as(dave, "GET", `/v1/sessions/${id}`)).status).toBe(401);
  }, 60_000);

  it("closes an open session with its transcript when the server shuts down", async () => {
    const opened = await call(served.url, "/v1/sessions", {
      method: "POST",
      identity: carol,
      ca: served.ca,
      json: { deviceId: device.deviceId, caseId: CASE },
    });
    const { id } = opened.json() as { id: string };
    await served.server.close();
    // the vault is closed with the server: its log file is read as it was left
    const text = await readFile(join(served.vaultDir, "audit", "audit.log"), "utf8");
    const records = text
      .split("\n")
      .filter((line) => line.includes(id))
      .map((line) => JSON.parse(line) as { action: string; details: Record<string, unknown> });
    expect(
      records.find((r) => r.action === "live.session-close")?.details,
      JSON.stringify(records.map((r) => r.action)),
    ).toMatchObject({
      reason: "server-restart",
      transcriptItemId: expect.stringMatching(/^[0-9a-f]{64}$/),
    });
  }, 60_000);
});

function fileFacts(path: string, bytes: Buffer) {
  const digest = (name: string) => createHash(name).update(bytes).digest("hex");
  return {
    path,
    type: "file",
    size: bytes.length,
    sha256: digest("sha256"),
    sha1: digest("sha1"),
    md5: digest("md5"),
    mode: "0644",
    owner: "root",
  };
}
