import { readFile } from "node:fs/promises";
import { join } from "node:path";
import { CustodyError, writeFileAtomic } from "@custody/core";
import { FILES } from "./state.js";

const MAX_REMEMBERED = 10_000;

/**
 * The command ids this device has taken, each kept until its `notAfter` passes (after that the command
 * is refused as expired anyway). Persisted, so a restart does not reopen the window for a replay.
 */
export class ExecutedCommands {
  readonly #file: string;
  #seen = new Map<string, number>();

  private constructor(dir: string) {
    this.#file = join(dir, FILES.executed);
  }

  static async open(dir: string): Promise<ExecutedCommands> {
    const executed = new ExecutedCommands(dir);
    const text = await readFile(executed.#file, "utf8").catch(() => "{}");
    try {
      const entries = Object.entries(JSON.parse(text) as Record<string, number>);
      executed.#seen = new Map(entries.filter(([, until]) => typeof until === "number"));
    } catch {
      executed.#seen = new Map();
    }
    return executed;
  }

  /** Records `cmdId` as taken, or refuses it with ERR_REPLAY when it was taken before. */
  async take(cmdId: string, notAfter: Date, now: Date): Promise<void> {
    for (const [id, until] of this.#seen) if (until < now.getTime()) this.#seen.delete(id);
    if (this.#seen.has(cmdId))
      throw new CustodyError("ERR_REPLAY", `command ${cmdId} was already received`, { details: { cmdId } });
    if (this.#seen.size >= MAX_REMEMBERED)
      throw new CustodyError("ERR_SIZE_LIMIT", "too many commands in flight to remember");
    this.#seen.set(cmdId, notAfter.getTime());
    await writeFileAtomic(this.#file, JSON.stringify(Object.fromEntries(this.#seen)), { mode: 0o600 });
  }
}
