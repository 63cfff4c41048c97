import { mkdirSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";

// One machine-wide lock between the tests that change the host's network (network namespaces: a veth
// appears and goes) and the tests that drive Chromium, which aborts a navigation or a fetch in flight
// with net::ERR_NETWORK_CHANGED whenever an interface or address changes. Held for a whole test file.
// A directory is the lock (mkdir is atomic); it names its holder, and a holder that died loses it.
const LOCK = join(tmpdir(), "custody-tests-network.lock");
const WAIT_MS = 15 * 60_000; // past this the test goes on without the lock rather than fail for it
const POLL_MS = 200;

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (error) {
    return (error as NodeJS.ErrnoException).code === "EPERM";
  }
}

function tryTake(): boolean {
  try {
    mkdirSync(LOCK);
  } catch (error) {
    if ((error as NodeJS.ErrnoException).code !== "EEXIST") throw error;
    let holder = 0;
    try {
      holder = Number(readFileSync(join(LOCK, "pid"), "utf8"));
    } catch {
      return false; // being taken right now
    }
    if (holder > 0 && !alive(holder)) rmSync(LOCK, { recursive: true, force: true });
    return false;
  }
  writeFileSync(join(LOCK, "pid"), String(process.pid));
  return true;
}

function release(): void {
  try {
    if (Number(readFileSync(join(LOCK, "pid"), "utf8")) === process.pid) rmSync(LOCK, { recursive: true });
  } catch {
    // not ours any more
  }
}

/** Takes the lock, waiting for it (synchronously: a namespace is made while its test file loads). */
export function takeNetworkLockSync(): () => void {
  const sleeper = new Int32Array(new SharedArrayBuffer(4));
  const until = Date.now() + WAIT_MS;
  while (!tryTake() && Date.now() < until) Atomics.wait(sleeper, 0, 0, POLL_MS);
  return release;
}

/** Takes the lock, waiting for it. */
export async function takeNetworkLock(): Promise<() => void> {
  const until = Date.now() + WAIT_MS;
  while (!tryTake() && Date.now() < until) await new Promise((resolve) => setTimeout(resolve, POLL_MS));
  return release;
}
