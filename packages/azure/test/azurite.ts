import { type ChildProcess, spawn } from "node:child_process";
import { randomUUID } from "node:crypto";
import { mkdtemp, rm } from "node:fs/promises";
import { request } from "node:http";
import { createServer } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { fileURLToPath } from "node:url";

/** A running Azurite blob service for one test file (or shared by the run); always stop it in afterAll. */
export interface AzuriteInstance {
  connectionString: string;
  blobEndpoint: string;
  port: number;
  /** Graceful stop (SIGTERM, SIGKILL after a grace period), then removes the workspace folder. */
  stop(): Promise<void>;
  /** Immediate SIGKILL, for tests that simulate the service dying mid-request. */
  kill(): void;
}

const AZURITE_BIN = fileURLToPath(new URL("../../../node_modules/.bin/azurite-blob", import.meta.url));
const ACCOUNT = "devstoreaccount1";
// The well-known Azurite development key (public, documented by Microsoft; not a secret).
const ACCOUNT_KEY =
  "Eby8vdM02xNOcqFlqUwJPLlmEtlCDXJ1OUzFT50uSRZ6IFsuFq2UVErCz4I6tq/K1SZFPTOtr/KBHBeksoGMGw==";
const READY_TIMEOUT_MS = 30_000;
const STOP_GRACE_MS = 5_000;
const live = new Set<ChildProcess>();

// A test runner that dies between start and stop must not leave Azurite behind.
process.once("exit", () => {
  for (const child of live) child.kill("SIGKILL");
});

export interface StartAzuriteOptions {
  /** Persist to this folder (kept on stop) instead of memory, so a restarted Azurite sees the same data. */
  location?: string;
  /** Listen on this port (to restart on the same endpoint); default a free one. */
  port?: number;
}

/**
 * Set by the test run's global setup (test/support/azurite-setup.ts): the one Azurite every file of the
 * run shares, as JSON `{port, blobEndpoint, connectionString}`.
 */
export const SHARED_AZURITE_ENV = "CUSTODY_TEST_AZURITE";

/**
 * The run's shared Azurite when the global setup started one, else one started for this file. Files that
 * share it keep apart by container names (`uniqueContainer`); stop() leaves a shared one running (the
 * global setup stops it), and a test that kills or restarts Azurite starts its own with `startAzurite`.
 */
export async function useAzurite(): Promise<AzuriteInstance> {
  const shared = process.env[SHARED_AZURITE_ENV];
  if (shared === undefined || shared === "") return startAzurite();
  const { port, blobEndpoint, connectionString } = JSON.parse(shared) as AzuriteInstance;
  return {
    port,
    blobEndpoint,
    connectionString,
    stop: async () => {},
    kill: () => {
      throw new Error("the run's shared Azurite is not this file's to kill: use startAzurite()");
    },
  };
}

/** A container name no other file of the run uses: `base` and 8 random hex digits. */
export function uniqueContainer(base: string): string {
  return `${base}-${randomUUID().slice(0, 8)}`;
}

/** Starts `azurite-blob` (in memory unless `location` is given) on loopback and resolves once it answers HTTP. */
export async function startAzurite(options: StartAzuriteOptions = {}): Promise<AzuriteInstance> {
  let lastError: unknown;
  // A port found free can be taken before Azurite binds it; try a few.
  for (let attempt = 0; attempt < 3; attempt += 1) {
    try {
      return await startOnce(options.port ?? (await freePort()), options.location);
    } catch (error) {
      lastError = error;
    }
  }
  throw new Error("could not start Azurite", { cause: lastError });
}

async function startOnce(port: number, persistAt: string | undefined): Promise<AzuriteInstance> {
  const location = persistAt ?? (await mkdtemp(join(tmpdir(), "custody-azurite-")));
  const storage = persistAt === undefined ? ["--inMemoryPersistence"] : ["--location", persistAt];
  const removeWorkspace = () =>
    persistAt === undefined ? rm(location, { recursive: true, force: true }) : Promise.resolve();
  const child = spawn(
    AZURITE_BIN,
    [
      "--blobHost",
      "127.0.0.1",
      "--blobPort",
      String(port),
      ...storage,
      "--skipApiVersionCheck",
      "--disableTelemetry",
      "--silent",
    ],
    // Azurite refuses --location together with --inMemoryPersistence; a temp cwd keeps its stray files out of the repo.
    { cwd: location, stdio: ["ignore", "ignore", "pipe"] },
  );
  live.add(child);
  let stderr = "";
  child.stderr?.setEncoding("utf8").on("data", (chunk: string) => {
    stderr = (stderr + chunk).slice(-4000);
  });
  const exited = new Promise<void>((resolve) => child.once("exit", () => resolve()));
  exited.then(() => live.delete(child));
  try {
    await waitUntilAnswering(port, child);
  } catch (error) {
    child.kill("SIGKILL");
    await exited;
    await removeWorkspace();
    throw new Error(`Azurite did not start on port ${port}: ${stderr}`, { cause: error });
  }
  const blobEndpoint = `http://127.0.0.1:${port}/${ACCOUNT}`;
  return {
    port,
    blobEndpoint,
    connectionString: `DefaultEndpointsProtocol=http;AccountName=${ACCOUNT};AccountKey=${ACCOUNT_KEY};BlobEndpoint=${blobEndpoint};`,
    kill: () => {
      if (child.exitCode === null && child.signalCode === null) child.kill("SIGKILL");
    },
    stop: async () => {
      if (child.exitCode === null && child.signalCode === null) {
        child.kill("SIGTERM");
        const timer = setTimeout(() => child.kill("SIGKILL"), STOP_GRACE_MS);
        await exited;
        clearTimeout(timer);
      }
      await removeWorkspace();
    },
  };
}

function freePort(): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer();
    server.once("error", reject);
    server.listen(0, "127.0.0.1", () => {
      const address = server.address();
      const port = typeof address === "object" && address !== null ? address.port : 0;
      server.close(() => resolve(port));
    });
  });
}

async function waitUntilAnswering(port: number, child: ChildProcess): Promise<void> {
  const deadline = Date.now() + READY_TIMEOUT_MS;
  while (Date.now() < deadline) {
    if (child.exitCode !== null || child.signalCode !== null) {
      throw new Error(`Azurite exited early (${child.exitCode ?? child.signalCode})`);
    }
    if (await answers(port)) return;
    await new Promise((resolve) => setTimeout(resolve, 100));
  }
  throw new Error(`Azurite did not answer within ${READY_TIMEOUT_MS} ms`);
}

// Any HTTP status (Azurite answers 400/403 to an unsigned request) proves the listener is up.
function answers(port: number): Promise<boolean> {
  return new Promise((resolve) => {
    const req = request({ host: "127.0.0.1", port, path: `/${ACCOUNT}?comp=list`, timeout: 1000 });
    req.once("response", (res) => {
      res.resume();
      resolve(true);
    });
    req.once("timeout", () => req.destroy());
    req.once("error", () => resolve(false));
    req.end();
  });
}
