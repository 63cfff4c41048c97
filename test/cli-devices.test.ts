import { type ChildProcess, execFileSync, spawn, spawnSync } from "node:child_process";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { createRequire } from "node:module";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { AGENT_SUBPROTOCOL, encodeFrame } from "@custody/agent/protocol";
import { afterAll, beforeAll, describe, expect, it } from "vitest";
import { BIN } from "./cli-vault-scenario.js";

// the WebSocket client the server package depends on (the repository root does not)
const WebSocket = createRequire(join(import.meta.dirname, "..", "packages", "server", "package.json"))(
  "ws",
) as typeof import("ws").default;

// `custody devices …` and `custody settings …` on a local vault, then the same vault behind `custody serve`,
// with a real device enrolling over HTTPS and connecting its agent socket.
const work = mkdtempSync(join(tmpdir(), "custody-devices-cli-"));
const vault = join(work, "vault");
const alice = join(work, "alice.pem");
let server: ChildProcess | undefined;
let url = "";

function custody(args: string[]) {
  const env = { ...process.env, CUSTODY_VAULT: vault };
  delete env.CUSTODY_SERVER;
  delete env.CUSTODY_IDENTITY;
  const result = spawnSync(process.execPath, [BIN, ...args, "--identity", alice], {
    cwd: work,
    env,
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function ok(args: string[]) {
  const result = custody(args);
  if (result.code !== 0) throw new Error(`custody ${args.join(" ")} exited ${result.code}: ${result.stderr}`);
  return result;
}

function post(path: string, body: unknown): Promise<{ status: number; json: Record<string, string> }> {
  const ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
  return new Promise((resolve, reject) => {
    const req = request(new URL(path, url), {
      method: "POST",
      ca,
      headers: { "content-type": "application/json" },
    });
    req.on("error", reject);
    req.on("response", (res) => {
      let text = "";
      res.on("data", (chunk: Buffer) => {
        text += chunk;
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, json: JSON.parse(text) }));
    });
    req.end(JSON.stringify(body));
  });
}

beforeAll(() => {
  const made = spawnSync(process.execPath, [BIN, "init", "--name", "alice", "--identity-out", alice], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
  });
  if (made.status !== 0) throw new Error(made.stderr);
}, 60_000);

afterAll(async () => {
  server?.kill("SIGTERM");
  rmSync(work, { recursive: true, force: true });
});

describe("custody devices and custody settings", () => {
  it("works on a local vault: live response off until turned on, tokens printed once", () => {
    expect(ok(["settings", "show"]).stdout).toBe("live-response: off\nunsigned-scripts: off\n");
    expect(custody(["settings", "set", "live-response", "maybe"]).code).toBe(2);
    expect(ok(["settings", "set", "live-response", "on", "--json"]).stdout).toContain('"enabled": true');
    const token = ok(["devices", "enroll-token", "--case", "C-1", "--expires", "2h"]);
    expect(token.stdout).toMatch(/^cet1\.[A-Za-z0-9_-]{16}\.[A-Za-z0-9_-]{43}\.[0-9a-f]{64}\n$/);
    expect(token.stderr).toMatch(/1 enrollment\(s\) until/);
    expect(JSON.parse(ok(["devices", "list", "--json"]).stdout)).toEqual([]);
    expect(custody(["devices", "approve", "D-0123456789ABCDEFGHJKMNPQRS"]).code).toBe(3);
  });

  it("through --server: a device enrolls, its agent connects, devices list shows it online, revoke cuts it", async () => {
    const env = { ...process.env, CUSTODY_LOG_LEVEL: "warn" };
    server = spawn(
      process.execPath,
      [BIN, "serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"],
      {
        cwd: work,
        env,
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    url = await new Promise<string>((resolve, reject) => {
      let output = "";
      const seen = (chunk: Buffer) => {
        output += chunk;
        const found = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(output);
        if (found?.[1] !== undefined) resolve(found[1]);
      };
      server?.stdout?.on("data", seen);
      server?.stderr?.on("data", seen);
      server?.once("exit", (code) => reject(new Error(`custody serve exited ${code}: ${output}`)));
    });
    const token = ok(["devices", "enroll-token", "--json", "--server", url]);
    execFileSync(
      "openssl",
      ["req", "-new", "-newkey", "rsa:3072", "-nodes", "-keyout", "d.key", "-out", "d.csr", "-subj", "/CN=x"],
      {
        cwd: work,
        stdio: "pipe",
      },
    );
    const facts = { hostname: "ws-042", os: "linux", arch: "x64", agentVersion: "0.1.0" };
    const enrolled = await post("/v1/enroll", {
      token: JSON.parse(token.stdout).token,
      csrPem: readFileSync(join(work, "d.csr"), "utf8"),
      facts,
    });
    expect(enrolled.status).toBe(201);
    const deviceId = enrolled.json.deviceId ?? "";
    const offline = JSON.parse(ok(["devices", "list", "--json", "--server", url]).stdout);
    expect(offline).toEqual([expect.objectContaining({ deviceId, hostname: "ws-042", online: false })]);

    const ws = new WebSocket(`${url.replace("https", "wss")}/v1/agent`, AGENT_SUBPROTOCOL, {
      ca: enrolled.json.caPem,
      cert: enrolled.json.certificatePem,
      key: readFileSync(join(work, "d.key"), "utf8"),
    });
    const closed = new Promise<number>((resolve) => ws.on("close", resolve));
    const welcomed = new Promise((resolve) => ws.once("message", resolve));
    await new Promise((resolve, reject) => {
      ws.once("open", resolve);
      ws.once("error", reject);
    });
    const hello = { ...facts, deviceId, policyHash: "0".repeat(64), prevNonce: null, capabilities: [] };
    ws.send(encodeFrame("hello", hello, { seq: 1 }));
    await welcomed;
    const table = ok(["devices", "list", "--server", url]).stdout;
    expect(table).toMatch(
      new RegExp(`${deviceId}\\s+ws-042\\s+linux/x64\\s+0\\.1\\.0\\s+online\\s+\\d+s ago\\s+active`),
    );
    expect(ok(["devices", "revoke", deviceId, "--server", url]).stdout).toBe(
      `${deviceId} revoked (state revoked)\n`,
    );
    expect(await closed).toBe(1008);
    expect(ok(["settings", "show", "--server", url]).stdout).toMatch(
      /^live-response: on \(since .* by alice\)\nunsigned-scripts: off\n$/,
    );
  }, 120_000);
});
