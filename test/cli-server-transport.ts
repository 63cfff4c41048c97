import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { join } from "node:path";
import { BIN, type Transport } from "./cli-vault-scenario.js";

/**
 * `custody serve` as a child process of the built CLI on 127.0.0.1 (a free port), and every scenario
 * command sent to it with --server. The URL is the one the server prints once it listens.
 */
export function serverTransport(): Transport & {
  url(): string;
  vaultCa(): string;
  foreignCa(): string;
} {
  let child: ChildProcess | undefined;
  let url = "";
  let output = "";
  let vaultDir = "";
  let workDir = "";
  return {
    name: "custody serve",
    async start(vault, work) {
      vaultDir = vault;
      workDir = work;
      const env = { ...process.env, CUSTODY_LOG_LEVEL: "warn" };
      delete env.CUSTODY_SERVER;
      const server = spawn(
        process.execPath,
        [BIN, "serve", "--vault", vault, "--listen", "127.0.0.1:0", "--name", "127.0.0.1"],
        { cwd: work, env, stdio: ["ignore", "pipe", "pipe"] },
      );
      child = server;
      url = await new Promise<string>((resolve, reject) => {
        const seen = (chunk: Buffer) => {
          output = `${output}${chunk}`.slice(-20_000);
          const found = /listening on (https:\/\/127\.0\.0\.1:\d+)/.exec(output);
          if (found?.[1] !== undefined) resolve(found[1]);
        };
        server.stdout?.on("data", seen);
        server.stderr?.on("data", seen);
        server.once("exit", (code) => reject(new Error(`custody serve exited ${code}: ${output}`)));
      });
    },
    args: () => ["--server", url],
    url: () => url,
    vaultCa: () => join(vaultDir, "pki", "ca.pem"),
    /** A CA certificate of no vault (made with openssl). */
    foreignCa: () => {
      const file = join(workDir, "foreign-ca.pem");
      execFileSync(
        "openssl",
        [
          "req",
          "-x509",
          "-newkey",
          "rsa:2048",
          "-nodes",
          "-keyout",
          join(workDir, "foreign-ca.key"),
          "-out",
          file,
          "-subj",
          "/CN=foreign",
          "-days",
          "1",
        ],
        { stdio: "pipe" },
      );
      return file;
    },
    async stop() {
      const server = child;
      child = undefined;
      if (server === undefined || server.exitCode !== null) return;
      const exited = new Promise((resolve) => server.once("exit", resolve));
      server.kill("SIGTERM");
      await exited;
    },
  };
}
