import { type ChildProcess, execFileSync, spawn } from "node:child_process";
import { once } from "node:events";
import { existsSync } from "node:fs";
import { fileURLToPath } from "node:url";

const FAULTY_FS = fileURLToPath(new URL("./fixtures/faulty-fs.py", import.meta.url));
const SYSTEM_PYTHON = "/usr/bin/python3";

function commandWorks(command: string, args: string[]): boolean {
  try {
    execFileSync(command, args, { stdio: "ignore" });
    return true;
  } catch {
    return false;
  }
}

const isRoot = process.getuid?.() === 0;

/** Why loop-device tests cannot run here, or undefined when they can. */
export const loopUnavailable: string | undefined = !isRoot
  ? "loop devices need root"
  : !commandWorks("losetup", ["--version"]) || !existsSync("/dev/loop-control")
    ? "no losetup or /dev/loop-control"
    : undefined;

/** Why the FUSE bad-sector fixture cannot run here (it needs /dev/fuse and python3-fusepy). */
export const faultyFsUnavailable: string | undefined =
  loopUnavailable ??
  (!existsSync("/dev/fuse")
    ? "no /dev/fuse"
    : !commandWorks(SYSTEM_PYTHON, ["-c", "import fusepy"]) &&
        !commandWorks(SYSTEM_PYTHON, ["-c", "import fuse"])
      ? "python3-fusepy is not installed (./dev test installs it as root)"
      : undefined);

/** Why device-mapper tests cannot run here: the kernel must have it (many VM kernels do not). */
export const deviceMapperUnavailable: string | undefined =
  loopUnavailable ??
  (!commandWorks("dmsetup", ["version"])
    ? "dmsetup cannot reach a device-mapper driver in this kernel"
    : undefined);

/** Every device and mount a test made, released in reverse order in afterAll even when a test failed. */
export class DeviceLab {
  readonly #undo: (() => Promise<void> | void)[] = [];

  /** A read-only loop device over `file`. */
  loop(file: string, options: { readOnly?: boolean } = { readOnly: true }): string {
    const args = ["--find", "--show", ...(options.readOnly === false ? [] : ["--read-only"]), file];
    const device = execFileSync("losetup", args, { encoding: "utf8" }).trim();
    this.#undo.push(() => quietly("losetup", ["--detach", device]));
    return device;
  }

  /** A device-mapper device from a table (e.g. with an `error` target), removed in cleanup. */
  deviceMapper(name: string, table: string): string {
    execFileSync("dmsetup", ["create", name], { input: table });
    this.#undo.push(() => quietly("dmsetup", ["remove", "--retry", name]));
    return `/dev/mapper/${name}`;
  }

  /** Mounts the faulty FUSE filesystem over `backing` at `mountpoint`; resolves once it serves. */
  async faultyFs(backing: string, mountpoint: string, bad: [number, number][]): Promise<string> {
    const ranges = bad.map(([start, length]) => `${start}:${length}`).join(",");
    const child = spawn(SYSTEM_PYTHON, [FAULTY_FS, backing, mountpoint, ranges], {
      stdio: ["ignore", "pipe", "pipe"],
    });
    this.#undo.push(() => stopFuse(child, mountpoint));
    let stderr = "";
    child.stderr.on("data", (chunk: Buffer) => {
      stderr += chunk.toString();
    });
    const ready = once(child.stdout, "data");
    const exited = once(child, "exit").then(() => {
      throw new Error(`the FUSE fixture exited: ${stderr}`);
    });
    await Promise.race([ready, exited]);
    return `${mountpoint}/disk.img`;
  }

  async cleanup(): Promise<void> {
    for (const undo of this.#undo.reverse()) await undo();
  }
}

async function stopFuse(child: ChildProcess, mountpoint: string): Promise<void> {
  quietly("umount", [mountpoint]);
  if (child.exitCode === null && child.signalCode === null) {
    const exited = once(child, "exit");
    child.kill("SIGTERM");
    await exited;
  }
}

function quietly(command: string, args: string[]): void {
  try {
    execFileSync(command, args, { stdio: "ignore" });
  } catch {
    // Cleanup goes on: one device that is already gone must not keep the others attached.
  }
}
