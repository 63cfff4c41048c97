import { type Clock, CustodyError, type Logger, toCustodyError } from "@custody/core";
import type { MerkleAccumulator } from "@custody/hash";
import type { Signer } from "@custody/manifest";
import type { AuditProblem, ChainScanner } from "./chain.js";
import {
  CHECKPOINT_FORMAT,
  checkpointDigest,
  parseCheckpointBytes,
  type SignedCheckpoint,
  signCheckpoint,
} from "./checkpoint.js";
import type { AuditSink, AuditSource, SharedAuditSink } from "./sink.js";
import type { CheckpointWitness } from "./witness.js";

interface CheckpointPolicy {
  signer: Signer;
  clock: Clock;
  logger: Logger;
  every: number;
  intervalMs: number;
  witness: CheckpointWitness | undefined;
  /** Other writers sign checkpoints of the same log: link to the newest stored one, claimed first. */
  shared?: SharedAuditSink | undefined;
}

/** How many times a shared writer looks again for the newest checkpoint while another writer makes it. */
const CLAIM_ATTEMPTS = 50;

/** Makes the writer's checkpoints one at a time, each linked to the one before. */
export class CheckpointWriter {
  #tail: Promise<unknown> = Promise.resolve();
  #auto: Promise<unknown> | undefined;
  #timer: NodeJS.Timeout | undefined;
  /** The witness's newest checkpoint as far as this writer knows (read at open, then each one written). */
  witnessed: SignedCheckpoint | undefined;

  constructor(
    private readonly sink: AuditSink,
    private readonly accumulator: MerkleAccumulator,
    public latest: SignedCheckpoint | undefined,
    private readonly policy: CheckpointPolicy,
  ) {
    if (!(Number.isSafeInteger(policy.every) && policy.every > 0)) {
      throw new CustodyError("ERR_INVALID_ARGUMENT", "checkpointEvery must be a positive integer");
    }
  }

  /** The newest stored checkpoint (signature not checked: the writer trusts its own directory). */
  static async loadLatest(source: AuditSource): Promise<SignedCheckpoint | undefined> {
    const size = (await source.listCheckpoints()).at(-1);
    if (size === undefined) return undefined;
    const { bytes, signature } = await source.readCheckpoint(size);
    return parseCheckpointBytes(bytes, signature);
  }

  /** Whether the records replayed so far match the stored checkpoint of that size. */
  static compare(latest: SignedCheckpoint, scanner: ChainScanner): AuditProblem | undefined {
    if (scanner.accumulator.root().toString("hex") === latest.checkpoint.rootHash) return undefined;
    return {
      code: "ERR_AUDIT_CHAIN_BROKEN",
      kind: "rewritten",
      message: `the records do not match the signed checkpoint ${latest.checkpoint.treeSize}`,
      line: scanner.lines,
      treeSize: latest.checkpoint.treeSize,
    };
  }

  /** `atTreeSize`: called synchronously once the tree size it signs is fixed (see AuditLog.checkpoint). */
  checkpoint(atTreeSize?: () => void): Promise<SignedCheckpoint> {
    const run = this.#tail.then(() => this.make(atTreeSize));
    this.#tail = run.catch(() => {});
    return run;
  }

  /** Called after each durable batch: a checkpoint when `every` new records have accumulated. */
  recordsDurable(): void {
    const covered = this.latest?.checkpoint.treeSize ?? 0;
    if (this.#auto !== undefined || this.accumulator.size - covered < this.policy.every) return;
    this.#auto = this.background();
  }

  startTimer(): void {
    if (this.policy.intervalMs <= 0) return;
    this.#timer = setInterval(() => {
      if (this.#auto === undefined && this.accumulator.size > (this.latest?.checkpoint.treeSize ?? 0)) {
        this.#auto = this.background();
      }
    }, this.policy.intervalMs);
    this.#timer.unref();
  }

  stopTimer(): void {
    clearInterval(this.#timer);
  }

  /** Resolves when no checkpoint is being made. */
  async idle(): Promise<void> {
    await this.#auto;
    await this.#tail;
  }

  private async background(): Promise<void> {
    try {
      await this.checkpoint();
    } catch (error) {
      // The next trigger retries; records stay durable without it, and close() reports a lasting failure.
      this.policy.logger.error({ err: error, log: this.sink.description }, "audit checkpoint failed");
    } finally {
      this.#auto = undefined;
    }
  }

  /** Set while an unsealed tail opened with `acceptUnsealedTail` waits for the caller's acceptance. */
  unsealedTailPending = false;

  private async make(atTreeSize?: () => void): Promise<SignedCheckpoint> {
    if (this.unsealedTailPending) {
      throw new CustodyError(
        "ERR_AUDIT_UNSEALED_TAIL",
        "the log ends in unsealed records nobody has accepted yet: no checkpoint may sign them",
      );
    }
    const treeSize = this.accumulator.size;
    if (treeSize === 0)
      throw new CustodyError("ERR_INVALID_ARGUMENT", "an empty audit log has no checkpoint");
    atTreeSize?.();
    if (this.latest !== undefined && this.latest.checkpoint.treeSize === treeSize) return this.latest;
    // The root is taken now: appends continue while a shared writer claims its checkpoint.
    const rootHash = this.accumulator.root().toString("hex");
    if (this.policy.shared !== undefined) {
      const newest = await this.claimNext(this.policy.shared, treeSize);
      if (newest !== undefined) return newest;
    }
    const signed = await signCheckpoint(
      {
        format: CHECKPOINT_FORMAT,
        treeSize,
        rootHash,
        time: this.policy.clock.now().toISOString(),
        prevCheckpoint: this.latest === undefined ? null : checkpointDigest(this.latest.bytes),
      },
      this.policy.signer,
    );
    await this.sink.writeCheckpoint(treeSize, signed.bytes, signed.signature);
    this.latest = signed;
    await this.witness(signed);
    return signed;
  }

  /**
   * Links to the newest checkpoint any writer stored and claims its successor. Returns a stored checkpoint
   * when it already covers `treeSize` (nothing to sign), undefined once this writer holds the claim.
   */
  private async claimNext(shared: SharedAuditSink, treeSize: number): Promise<SignedCheckpoint | undefined> {
    for (let attempt = 0; attempt < CLAIM_ATTEMPTS; attempt += 1) {
      const stored = await CheckpointWriter.loadLatest(shared);
      if (stored !== undefined) this.latest = stored;
      if (stored !== undefined && stored.checkpoint.treeSize >= treeSize) return stored;
      if (await shared.claimCheckpoint(stored?.checkpoint.treeSize ?? 0, treeSize)) return undefined;
      // Another writer is signing the successor right now: wait for it to appear, then link to it.
      await new Promise((resolve) => setTimeout(resolve, 20 + Math.random() * 30));
    }
    throw new CustodyError(
      "ERR_AUDIT_RACE",
      `another writer holds the next checkpoint of ${shared.description}`,
    );
  }

  /**
   * The witness copy is what shows a log cut back with its checkpoints, so a checkpoint the witness
   * lacks is reported as failed (the sink's copy stays; the next checkpoint or open repeats the copy).
   */
  private async witness(signed: SignedCheckpoint): Promise<void> {
    const { witness } = this.policy;
    const held = this.witnessed?.checkpoint;
    if (witness === undefined) return;
    // The witness already states this tree (its copy of a sink checkpoint that was deleted): nothing to add.
    if (held?.treeSize === signed.checkpoint.treeSize && held.rootHash === signed.checkpoint.rootHash) return;
    try {
      await witness.write(signed.checkpoint.treeSize, signed.bytes, signed.signature);
      this.witnessed = signed;
    } catch (error) {
      const treeSize = signed.checkpoint.treeSize;
      this.policy.logger.error(
        { err: error, log: this.sink.description, treeSize },
        "audit checkpoint witness failed",
      );
      throw toCustodyError(
        error,
        "ERR_IO",
        `checkpoint ${treeSize} is stored but ${witness.description} failed`,
      );
    }
  }

  /** At open: gives the witness the sink's latest checkpoint when it holds an older one (or none). */
  async catchUpWitness(): Promise<void> {
    const latest = this.latest;
    if (latest === undefined || (this.witnessed?.checkpoint.treeSize ?? 0) >= latest.checkpoint.treeSize)
      return;
    await this.witness(latest);
  }
}
