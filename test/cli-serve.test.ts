import { spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readFileSync, rmSync } from "node:fs";
import { request } from "node:https";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { afterAll, describe, expect, it } from "vitest";

// `custody serve` as an operator runs it: the built binary, a real port on 127.0.0.1, SIGTERM to stop.
const BIN = join(import.meta.dirname, "..", "packages", "cli", "dist", "bin.js");
const work = mkdtempSync(join(tmpdir(), "custody-serve-"));
const vault = join(work, "vault");
const owner = join(work, "alice.pem");

afterAll(() => rmSync(work, { recursive: true, force: true }));

function custody(args: string[]) {
  const result = spawnSync(process.execPath, [BIN, ...args], {
    cwd: work,
    env: { ...process.env, CUSTODY_VAULT: vault },
    encoding: "utf8",
  });
  return { code: result.status, stdout: result.stdout, stderr: result.stderr };
}

function https(
  url: string,
  pem: string,
  ca: string,
  method = "GET",
  path = "/v1/whoami",
  json?: unknown,
): Promise<{ status: number; body: string }> {
  const cert = /-----BEGIN CERTIFICATE-----[\s\S]+?-----END CERTIFICATE-----/.exec(pem)?.[0];
  const key = /-----BEGIN PRIVATE KEY-----[\s\S]+?-----END PRIVATE KEY-----/.exec(pem)?.[0];
  return new Promise((resolve, reject) => {
    const headers = json === undefined ? {} : { "content-type": "application/json" };
    const req = request(new URL(path, url), { method, headers, cert, key, ca, agent: false });
    req.on("error", reject);
    req.on("response", (res) => {
      let body = "";
      res.on("data", (chunk: Buffer) => {
        body += chunk.toString();
      });
      res.on("end", () => resolve({ status: res.statusCode ?? 0, body }));
    });
    req.end(json === undefined ? undefined : JSON.stringify(json));
  });
}

describe("custody serve", () => {
  it("serves the vault, writes server.json, and on SIGTERM drains, signs a checkpoint and removes it", async () => {
    expect(custody(["init", "--name", "alice", "--identity-out", owner]).code).toBe(0);
    const child = spawn(
      process.execPath,
      [BIN, "serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"],
      {
        cwd: work,
        env: { ...process.env, CUSTODY_LOG_LEVEL: "info" },
        stdio: ["ignore", "pipe", "pipe"],
      },
    );
    let stderr = "";
    let stdout = "";
    child.stdout.on("data", (chunk: Buffer) => {
      stdout += chunk.toString();
    });
    const exited = new Promise<number | null>((resolve) => child.once("exit", (code) => resolve(code)));
    await new Promise<void>((resolve, reject) => {
      child.stderr.on("data", (chunk: Buffer) => {
        stderr += chunk.toString();
        if (stderr.includes("listening on")) resolve();
      });
      child.once("exit", () => reject(new Error(`serve exited: ${stderr}`)));
    });
    const info = JSON.parse(readFileSync(join(vault, "server.json"), "utf8")) as {
      pid: number;
      urls: string[];
    };
    expect(info.pid).toBe(child.pid);
    const ca = readFileSync(join(vault, "pki", "ca.pem"), "utf8");
    const url = info.urls[0] ?? "";
    const response = await https(url, readFileSync(owner, "utf8"), ca);
    expect(response.status).toBe(200);
    expect(JSON.parse(response.body)).toMatchObject({ id: "alice" });
    // the default alert rules watch every record: an identity issued through the server raises one
    const issued = await https(url, readFileSync(owner, "utf8"), ca, "POST", "/v1/identities", {
      name: "bob",
    });
    expect(issued.status).toBe(201);
    child.kill("SIGTERM");
    expect(await exited).toBe(0);
    expect(existsSync(join(vault, "server.json"))).toBe(false);
    expect(stdout).toContain('"msg":"custody server listening"');
    expect(stdout).toMatch(/custody alert identity-changed \(high\)/);
    const verify = custody(["audit", "verify", "--identity", owner, "--json"]);
    expect(verify.code, verify.stderr).toBe(0);
  });

  it("refuses an alert configuration it cannot read, before serving", () => {
    const result = custody(["serve", "--vault", vault, "--alerts", join(work, "missing.json")]);
    expect(result.code).toBe(4);
    expect(result.stderr).toMatch(/ERR_NOT_FOUND/);
    expect(existsSync(join(vault, "server.json"))).toBe(false);
  });

  it("refuses a --listen it cannot read", () => {
    const result = custody(["serve", "--listen", "nowhere"]);
    expect(result.code).toBe(2);
    expect(result.stderr).toMatch(/HOST:PORT/);
  });
});
