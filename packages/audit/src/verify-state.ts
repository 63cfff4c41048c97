import { isCustodyError } from "@custody/core";
import type { SignatureInfo } from "@custody/manifest";
import type { AuditProblem } from "./chain.js";
import { checkpointDigest, type SignedCheckpoint, verifyCheckpointSignature } from "./checkpoint.js";
import type { AuditVerifyReport, VerifyAuditOptions } from "./verify.js";

/** What checkpoint checks read of a walk over the records: the sequential scanner or the parallel join. */
export interface ScanPosition {
  readonly lines: number;
  readonly count: number;
  readonly accumulator: { root(): Buffer };
}

export type Stored = Map<number, SignedCheckpoint | { unusable: string }>;

/** Checkpoint bookkeeping for one verification. */
export class VerifyState {
  checked = 0;
  latest: SignedCheckpoint | undefined;
  signer: SignatureInfo["signer"] | undefined;
  readonly #digests = new Set<string>();
  readonly #children = new Map<string, number>();
  readonly #times = new Map<string, string>();
  readonly #known = new Map<number, SignedCheckpoint[]>();
  #mismatch: AuditProblem | undefined;

  constructor(
    private readonly options: VerifyAuditOptions,
    private readonly stored: Stored,
  ) {
    for (const known of options.knownCheckpoints ?? []) {
      const list = this.#known.get(known.checkpoint.treeSize) ?? [];
      list.push(known);
      this.#known.set(known.checkpoint.treeSize, list);
    }
  }

  sizes(): number[] {
    return [...new Set([...this.stored.keys(), ...this.#known.keys()])].sort((a, b) => a - b);
  }

  checkpointAt(size: number, scanner: ScanPosition): AuditProblem | undefined {
    const at = { treeSize: size, line: scanner.lines, seq: size - 1 };
    const root = scanner.accumulator.root().toString("hex");
    const stored = this.stored.get(size);
    if (stored !== undefined && "unusable" in stored) {
      const message = `checkpoint ${size} is unusable: ${stored.unusable}`;
      return { code: "ERR_AUDIT_CHECKPOINT_INVALID", kind: "checkpoint-invalid", message, ...at };
    }
    const problem =
      stored === undefined ? undefined : (this.checkSignature(stored, at) ?? this.checkChain(stored, at));
    if (problem !== undefined) return problem;
    for (const known of this.#known.get(size) ?? []) {
      const bad = this.checkSignature(known, at);
      if (bad !== undefined) return bad;
      if (
        known.checkpoint.rootHash !== root ||
        (stored && stored.checkpoint.rootHash !== known.checkpoint.rootHash)
      ) {
        const message = `a checkpoint held outside the log at ${size} disagrees with the log`;
        return { code: "ERR_AUDIT_FORK", kind: "fork", message, ...at };
      }
    }
    return stored === undefined ? undefined : this.checkStoredRoot(stored, root, at);
  }

  private checkSignature(signed: SignedCheckpoint, at: object): AuditProblem | undefined {
    try {
      this.signer = verifyCheckpointSignature(signed, this.options.trust).signer;
      return undefined;
    } catch (error) {
      const signatureCode = isCustodyError(error)
        ? String(error.details.signatureCode ?? error.code)
        : undefined;
      const message = error instanceof Error ? error.message : String(error);
      return {
        code: "ERR_AUDIT_CHECKPOINT_INVALID",
        kind: "checkpoint-invalid",
        message,
        signatureCode,
        ...at,
      };
    }
  }

  private checkChain(signed: SignedCheckpoint, at: object): AuditProblem | undefined {
    const prev = signed.checkpoint.prevCheckpoint;
    const size = signed.checkpoint.treeSize;
    if (prev === null ? this.#digests.size > 0 : !this.#digests.has(prev)) {
      const message = `checkpoint ${size} does not link to an earlier stored checkpoint (one is missing or foreign)`;
      return { code: "ERR_AUDIT_CHECKPOINT_INVALID", kind: "checkpoint-chain", message, ...at };
    }
    const before = prev === null ? undefined : this.#times.get(prev);
    if (before !== undefined && signed.checkpoint.time < before) {
      const message = `checkpoint ${size} is dated ${signed.checkpoint.time}, before the checkpoint it follows (${before})`;
      return { code: "ERR_AUDIT_CHECKPOINT_INVALID", kind: "checkpoint-chain", message, ...at };
    }
    const sibling = this.#children.get(prev ?? "genesis");
    if (sibling !== undefined) {
      const message = `checkpoints ${sibling} and ${size} both follow the same checkpoint: two histories`;
      return { code: "ERR_AUDIT_FORK", kind: "fork", message, ...at };
    }
    this.#children.set(prev ?? "genesis", size);
    const digest = checkpointDigest(signed.bytes);
    this.#digests.add(digest);
    this.#times.set(digest, signed.checkpoint.time);
    return undefined;
  }

  private checkStoredRoot(signed: SignedCheckpoint, root: string, at: object): AuditProblem | undefined {
    const size = signed.checkpoint.treeSize;
    if (signed.checkpoint.rootHash === root) {
      this.checked += 1;
      this.latest = signed;
      if (this.#mismatch !== undefined) {
        // A later signed checkpoint matches the log, so the earlier one describes another history.
        const fork = { ...this.#mismatch, code: "ERR_AUDIT_FORK" as const, kind: "fork" as const };
        fork.message = `checkpoint ${fork.treeSize} is not consistent with checkpoint ${size}, which matches the log`;
        return fork;
      }
      return undefined;
    }
    this.#mismatch ??= {
      code: "ERR_AUDIT_CHAIN_BROKEN",
      kind: "rewritten",
      message: `the records up to ${size} do not match their signed checkpoint (edited and re-hashed)`,
      ...at,
    };
    return undefined;
  }

  /** A root mismatch stays pending until a later checkpoint shows whether it is a fork. */
  resolve(problem: AuditProblem | undefined): AuditProblem | undefined {
    return this.#mismatch ?? problem;
  }

  /**
   * Checkpoints beyond the last record: each is still checked (signature, chain), so a checkpoint from
   * another history is reported as the fork it is rather than as a cut log.
   */
  finish(count: number, beyond: number[]): AuditProblem | undefined {
    const first = beyond[0];
    if (first === undefined) return undefined;
    for (const size of beyond) {
      const stored = this.stored.get(size);
      const own = stored === undefined || "unusable" in stored ? [] : [stored];
      // A known copy of the stored checkpoint is the same checkpoint, not a second child of its parent.
      const known = (this.#known.get(size) ?? []).filter((k) => !own.some((o) => o.bytes.equals(k.bytes)));
      const candidates = [...own, ...known];
      for (const signed of candidates) {
        const at = { treeSize: size, line: count, seq: count };
        const problem = this.checkSignature(signed, at) ?? this.checkChain(signed, at);
        if (problem?.kind === "fork") return problem;
      }
    }
    return {
      code: "ERR_AUDIT_TRUNCATED",
      kind: "truncated",
      message: `the log has ${count} records but a signed checkpoint covers ${first}`,
      line: count + 1,
      seq: count,
      treeSize: first,
    };
  }

  /** The largest stored tree size: past it every record is unsigned whatever else is found. */
  storedMax(): number {
    return Math.max(0, ...this.stored.keys());
  }

  report(
    scanner: ScanPosition,
    problem: AuditProblem | undefined,
    sealed: { from: number; count: number } | undefined,
  ): AuditVerifyReport {
    const covered = this.latest?.checkpoint.treeSize ?? 0;
    return {
      ok: problem === undefined,
      records: scanner.count,
      checkpoints: this.checked,
      ...(this.latest === undefined ? {} : { latestCheckpoint: this.latest.checkpoint }),
      ...(this.signer === undefined ? {} : { signer: this.signer }),
      rootHash: scanner.accumulator.root().toString("hex"),
      unsignedRecords: scanner.count - covered,
      // Exact only when the latest verified checkpoint is the newest stored one (otherwise there is a problem).
      ...(sealed !== undefined && sealed.from === covered ? { sealedUnsignedRecords: sealed.count } : {}),
      ...(problem === undefined ? {} : { problem }),
    };
  }
}
