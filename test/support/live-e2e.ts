import { type ChildProcess, spawn, spawnSync } from "node:child_process";
import { existsSync, mkdtempSync, readdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { createVaultClient, type VaultClient } from "@custody/client";

// A live-response bench made of real processes: a vault made by `custody init`, `custody serve` on
// loopback, an agent enrolled with `custody agent enroll` and run as `custody agent run`, and analysts'
// `custody live connect` consoles. Every process it starts is stopped by `close()`.
export const CUSTODY_BIN = join(import.meta.dirname, "..", "..", "packages", "cli", "dist", "bin.js");

export interface CliResult {
  code: number | null;
  stdout: string;
  stderr: string;
}

export async function until<T>(check: () => Promise<T | undefined>, what: string, tries = 1200): Promise<T> {
  for (let i = 0; i < tries; i += 1) {
    const value = await check();
    if (value !== undefined) return value;
    await new Promise((resolve) => setTimeout(resolve, 50));
  }
  throw new Error(`never happened: ${what}`);
}

export interface LiveBenchOptions {
  /** The address `custody serve` listens on and is named by: loopback unless the agent is elsewhere. */
  host?: string;
  /** The argv that runs `argv` on the device (the agent's enroll and run), e.g. in a network namespace. */
  onDevice?: (argv: string[]) => string[];
  /** The server URL the device enrolls with, given the server's own (a relay in front of it); that by default. */
  serverForDevice?: (url: string) => Promise<string>;
}

export class LiveBench {
  readonly work = mkdtempSync(join(tmpdir(), "custody-live-e2e-"));
  readonly vault = join(this.work, "vault");
  readonly #children: ChildProcess[] = [];
  readonly #host: string;
  readonly #onDevice: (argv: string[]) => string[];
  readonly #serverForDevice: (url: string) => Promise<string>;
  url = "";
  deviceId = "";
  alice: VaultClient | undefined;
  agent: ChildProcess | undefined;

  constructor(options: LiveBenchOptions = {}) {
    this.#host = options.host ?? "127.0.0.1";
    this.#onDevice = options.onDevice ?? ((argv) => argv);
    this.#serverForDevice = options.serverForDevice ?? (async (url) => url);
  }

  /** alice's client (the custodian's), once `serve` made it. */
  custodian(): VaultClient {
    if (this.alice === undefined) throw new Error("the bench is not served yet");
    return this.alice;
  }

  /** `custody ARGS` to completion, in the bench's folder, with the local vault as CUSTODY_VAULT. */
  custody(args: string[]): CliResult {
    const result = spawnSync(process.execPath, [CUSTODY_BIN, ...args], {
      cwd: this.work,
      env: { ...process.env, CUSTODY_VAULT: this.vault },
      encoding: "utf8",
    });
    return { code: result.status, stdout: result.stdout, stderr: result.stderr };
  }

  /** `custody ARGS` without blocking this process (a relay in it keeps moving the bytes meanwhile). */
  custodyAsync(args: string[]): Promise<CliResult> {
    return this.#runAsync([process.execPath, CUSTODY_BIN, ...args]);
  }

  #runAsync([file, ...args]: string[]): Promise<CliResult> {
    const child = spawn(file as string, args, {
      cwd: this.work,
      env: { ...process.env, CUSTODY_VAULT: this.vault },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#children.push(child);
    let stdout = "";
    let stderr = "";
    child.stdout?.on("data", (c: Buffer) => (stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (stderr += c.toString()));
    return new Promise((resolve) => {
      child.once("error", (error) => resolve({ code: null, stdout, stderr: `${stderr}${error.message}` }));
      child.once("close", (code) => resolve({ code, stdout, stderr }));
    });
  }

  /** The options that send a CLI command to the server as `who` (an identity file in the bench's folder). */
  as(who: string): string[] {
    return ["--server", this.url, "--identity", join(this.work, `${who}.pem`)];
  }

  /** Starts `custody ARGS` and resolves once its output matches `ready`. */
  start(args: string[], ready: RegExp): Promise<ChildProcess> {
    return this.#start([process.execPath, CUSTODY_BIN, ...args], ready);
  }

  #start(argv: string[], ready: RegExp): Promise<ChildProcess> {
    const child = spawn(argv[0] as string, argv.slice(1), {
      cwd: this.work,
      env: { ...process.env, CUSTODY_LOG_LEVEL: "info" },
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#children.push(child);
    let output = "";
    return new Promise((resolve, reject) => {
      const seen = (chunk: Buffer) => {
        output += chunk.toString();
        if (ready.test(output)) resolve(child);
      };
      child.stdout?.on("data", seen);
      child.stderr?.on("data", seen);
      child.once("exit", (code) => reject(new Error(`${argv.join(" ")} exited ${code}: ${output}`)));
    });
  }

  /** `custody init`: the vault with alice as custodian (`serve` does it when a test did not, first). */
  init(): void {
    const init = this.custody(["init", "--name", "alice", "--identity-out", join(this.work, "alice.pem")]);
    if (init.code !== 0) throw new Error(init.stderr);
  }

  /** A vault with alice as custodian, served on `host`, live response on, and `people` issued. */
  async serve(people: string[], caseId: string): Promise<void> {
    if (!existsSync(this.vault)) this.init();
    await this.start(
      ["serve", "--vault", this.vault, "--listen", `${this.#host}:0`, "--name", this.#host],
      /listening on/,
    );
    const server = JSON.parse(readFileSync(join(this.vault, "server.json"), "utf8")) as { urls: string[] };
    this.url = server.urls[0] ?? "";
    const alice = createVaultClient({
      baseUrl: this.url,
      identityPem: readFileSync(join(this.work, "alice.pem"), "utf8"),
    });
    this.alice = alice;
    for (const name of people) {
      const issued = await alice.issueIdentity(name, "person");
      writeFileSync(join(this.work, `${name}.pem`), issued.identityPem, { mode: 0o600 });
    }
    await alice.setLiveResponse(true);
    writeFileSync(join(this.work, "ca.pem"), readFileSync(join(this.vault, "pki", "ca.pem")));
    const { token } = await alice.createEnrollmentToken({ caseId });
    // not spawnSync: a relay in this process (serverForDevice) has to move the enrollment's bytes
    const enrolled = await this.#runAsync(
      this.#onDevice([
        process.execPath,
        CUSTODY_BIN,
        "agent",
        "enroll",
        "--server",
        await this.#serverForDevice(this.url),
        "--token",
        token,
        "--dir",
        join(this.work, "agent"),
        "--ca",
        join(this.work, "ca.pem"),
        "--json",
      ]),
    );
    if (enrolled.code !== 0) throw new Error(enrolled.stderr);
    this.deviceId = (JSON.parse(enrolled.stdout) as { deviceId: string }).deviceId;
    const policy = JSON.parse(this.custody(["agent", "policy"]).stdout) as Record<string, unknown>;
    writeFileSync(join(this.work, "policy.json"), JSON.stringify(policy), { mode: 0o600 });
  }

  /** Sets `settings` in the agent's local policy (the default from `custody agent policy`), before `startAgent`. */
  amendPolicy(settings: Record<string, unknown>): void {
    const file = join(this.work, "policy.json");
    const policy = JSON.parse(readFileSync(file, "utf8")) as Record<string, unknown>;
    writeFileSync(file, JSON.stringify({ ...policy, ...settings }), { mode: 0o600 });
  }

  /** Starts the agent and waits until the server lists the device online. */
  async startAgent(): Promise<void> {
    const argv = this.#onDevice([
      process.execPath,
      CUSTODY_BIN,
      "agent",
      "run",
      "--dir",
      join(this.work, "agent"),
      "--policy",
      join(this.work, "policy.json"),
    ]);
    this.agent = await this.#start(argv, /welcome|connected|agent starting/);
    await this.#online(true);
  }

  /** Stops the agent (SIGTERM) and waits until the server lists the device offline. */
  async stopAgent(): Promise<void> {
    const agent = this.agent;
    if (agent === undefined) return;
    this.agent = undefined;
    agent.kill("SIGTERM");
    if (agent.exitCode === null) await new Promise((resolve) => agent.once("exit", resolve));
    await this.#online(false);
  }

  async #online(wanted: boolean): Promise<void> {
    await until(
      async () => {
        const devices = (await this.alice?.listDevices()) ?? [];
        return devices.find((d) => d.deviceId === this.deviceId)?.online === wanted ? true : undefined;
      },
      `agent ${wanted ? "online" : "offline"}`,
    );
  }

  /** `custody live connect DEVICE --case ID` as `who`, once its first prompt is shown. */
  async connect(who: string, caseId: string): Promise<LiveConsole> {
    const args = ["live", "connect", this.deviceId, "--case", caseId, ...this.as(who)];
    const con = spawnConsole(this.work, args, this.deviceId, this.#children);
    return until(async () => (con.prompts() > 0 ? con : undefined), "the first prompt");
  }

  async close(): Promise<void> {
    this.alice?.close();
    for (const child of this.#children.reverse()) {
      if (child.exitCode !== null || child.signalCode !== null) continue;
      child.kill("SIGTERM");
      await new Promise((resolve) => child.once("exit", resolve));
    }
    rmSync(this.work, { recursive: true, force: true });
  }
}

/** An analyst's interactive console: each line waits for the next prompt; stdout and stderr are kept. */
export class LiveConsole {
  stdout = "";
  stderr = "";
  readonly exited: Promise<number | null>;

  constructor(
    readonly child: ChildProcess,
    readonly deviceId: string,
  ) {
    child.stdout?.on("data", (c: Buffer) => (this.stdout += c.toString()));
    child.stderr?.on("data", (c: Buffer) => (this.stderr += c.toString()));
    this.exited = new Promise((resolve) => child.once("exit", resolve));
  }

  prompts(): number {
    return this.stderr.split(`${this.deviceId}:`).length - 1;
  }

  async run(line: string): Promise<{ out: string; err: string }> {
    const before = this.prompts();
    const [out, err] = [this.stdout.length, this.stderr.length];
    this.child.stdin?.write(`${line}\n`);
    await until(async () => (this.prompts() > before ? true : undefined), `the prompt after ${line}`);
    return { out: this.stdout.slice(out), err: this.stderr.slice(err) };
  }

  /** Waits until the console's stderr matches `pattern` (an end it prints without a new prompt). */
  async waitFor(pattern: RegExp): Promise<void> {
    await until(async () => (pattern.test(this.stderr) ? true : undefined), String(pattern));
  }

  /** Ctrl+D: ends the session; resolves with the console's exit code. */
  end(): Promise<number | null> {
    this.child.stdin?.end();
    return this.exited;
  }
}

/** `custody ARGS` as an interactive console in `cwd`, its process added to `children` to be stopped. */
export function spawnConsole(
  cwd: string,
  args: string[],
  deviceId: string,
  children: ChildProcess[],
): LiveConsole {
  const child = spawn(process.execPath, [CUSTODY_BIN, ...args], { cwd, stdio: ["pipe", "pipe", "pipe"] });
  children.push(child);
  return new LiveConsole(child, deviceId);
}

/** Processes of process group `pgid` that are not zombies, from /proc. */
export function groupMembers(pgid: number): number[] {
  return readdirSync("/proc")
    .filter((name) => /^\d+$/.test(name))
    .filter((name) => {
      let text = "";
      try {
        text = readFileSync(`/proc/${name}/stat`, "utf8");
      } catch {
        return false;
      }
      const fields = text.slice(text.lastIndexOf(")") + 2).split(" ");
      return fields[0] !== "Z" && Number(fields[2]) === pgid;
    })
    .map(Number);
}
