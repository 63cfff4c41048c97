import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync, readFileSync } from "node:fs";
import { chmod, mkdtemp, rm, writeFile } from "node:fs/promises";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { PassThrough } from "node:stream";
import { runCli } from "@custody/cli";
import { afterAll, beforeAll, describe, expect, test } from "vitest";
import { LiveTestServer } from "../packages/agent/test/support/live-server.js";

// A real agent process: `custody agent enroll`, then `custody agent run` from the built CLI, against a
// real TLS 1.3 WebSocket server under a test vault CA.
const bin = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
let server: LiveTestServer;
let dir: string;
let agent: ChildProcess | undefined;

async function cli(args: string[]): Promise<{ code: number; stdout: string; stderr: string }> {
  const stdout = new PassThrough();
  const stderr = new PassThrough();
  let out = "";
  let err = "";
  stdout.on("data", (c) => (out += String(c)));
  stderr.on("data", (c) => (err += String(c)));
  const code = await runCli(args, { stdout, stderr, stdin: new PassThrough(), env: {}, cwd: dir });
  return { code, stdout: out, stderr: err };
}

beforeAll(async () => {
  server = await LiveTestServer.start({ chain: true });
  dir = await mkdtemp(join(tmpdir(), "agent-cli-"));
  await chmod(dir, 0o700);
});
afterAll(async () => {
  agent?.kill("SIGKILL");
  await server.close();
  await rm(dir, { recursive: true, force: true });
});

describe("custody agent", () => {
  test("enroll, then run as its own process: hello, a command, and a clean stop on SIGTERM", async () => {
    const enrolled = await cli([
      "agent",
      "enroll",
      "--server",
      server.url,
      "--token",
      server.token(),
      "--dir",
      "state",
      "--json",
    ]);
    expect(enrolled.code, enrolled.stderr).toBe(0);
    const { deviceId } = JSON.parse(enrolled.stdout) as { deviceId: string };
    const policy = join(dir, "policy.json");
    await writeFile(policy, (await cli(["agent", "policy"])).stdout, { mode: 0o600 });
    agent = spawn(process.execPath, [bin, "agent", "run", "--dir", join(dir, "state"), "--policy", policy], {
      stdio: ["ignore", "pipe", "pipe"],
      env: { ...process.env, CUSTODY_LOG_LEVEL: "warn" },
    });
    const link = await server.nextLink(0);
    expect((await link.waitFor((f) => f.t === "hello")).body).toMatchObject({ deviceId, prevNonce: null });
    link.send("welcome", {
      nonce: "n".repeat(43),
      serverTime: new Date().toISOString(),
      maxFrameBytes: 1024 * 1024,
    });
    const pid = String(agent.pid);
    link.send("command", {
      cmdId: "c-1",
      sessionId: "s-1",
      deviceId,
      name: "processes",
      positional: [],
      flags: { pid },
      cwd: null,
      timeoutMs: 60_000,
      notAfter: new Date(Date.now() + 60_000).toISOString(),
      issuedBy: "test",
    });
    const result = await link.result("c-1");
    expect(result.body).toMatchObject({ status: "completed", rows: 1 });
    const rows = link.frames.flatMap((f) => (f.t === "rows" ? f.body.rows : []));
    expect(rows[0]).toMatchObject({ pid: agent.pid, ppid: process.pid });
    agent.kill("SIGTERM");
    const [code] = await once(agent, "exit");
    expect(code).toBe(0);
    expect((await link.waitClosed()).code).toBe(1001);
  });
});

describe("the systemd unit", () => {
  const unit = join(import.meta.dirname, "..", "packages", "agent", "systemd", "custody-agent.service");
  const text = readFileSync(unit, "utf8");

  test("starts custody-agent run with the default folder and policy, writable there only", () => {
    expect(text).toMatch(
      /^ExecStart=\/usr\/bin\/custody-agent run --dir \/var\/lib\/custody-agent --policy \/etc\/custody-agent\/policy\.json$/m,
    );
    expect(text).toMatch(/^ProtectSystem=strict$/m);
    expect(text).toMatch(/^ReadWritePaths=\/var\/lib\/custody-agent$/m);
    expect(text).toMatch(/^CapabilityBoundingSet=CAP_DAC_READ_SEARCH CAP_SYS_PTRACE$/m);
  });

  const analyze = ["/usr/bin/systemd-analyze", "/bin/systemd-analyze"].find((p) => existsSync(p));
  test.runIf(analyze !== undefined)("systemd rates its exposure OK (at most 3.0)", () => {
    const out = execFileSync(analyze as string, ["security", "--offline=true", "--no-pager", unit], {
      encoding: "utf8",
    });
    const exposure = Number(/Overall exposure level for custody-agent\.service: ([\d.]+)/.exec(out)?.[1]);
    expect(exposure).toBeLessThanOrEqual(3);
  });
});
