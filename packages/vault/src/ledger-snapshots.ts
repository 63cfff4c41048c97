import { join } from "node:path";
import type { AuditLog } from "@custody/audit";
import type { VaultContext } from "./context.js";
import {
  type CapturedLedger,
  captureLedger,
  removeOtherItemsFiles,
  writeCapturedLedger,
} from "./ledger-snapshot-write.js";

/**
 * When a local vault writes its ledger snapshot (ledger-snapshot.ts): once `every` records were appended
 * since the last one, in the background while the vault stays open (a server that runs for weeks, then
 * crashes, re-reads only what came after it), and at close. One is written at a time; none for a vault
 * whose log other writers share.
 */
export class LedgerSnapshots {
  readonly #ctx: VaultContext;
  readonly #audit: AuditLog;
  readonly #every: number;
  /** Records the last snapshot holds (or at the last attempt that failed: the next waits `every` more). */
  #records: number;
  #writing: Promise<void> | undefined;
  #closing = false;

  constructor(ctx: VaultContext, audit: AuditLog, policy: { every: number; records: number }) {
    this.#ctx = ctx;
    this.#audit = audit;
    this.#every = policy.every;
    this.#records = policy.records;
  }

  /** After each durable record: starts a snapshot in the background when one is due and none is under way. */
  recordAppended(): void {
    if (this.#writing !== undefined || this.#closing || !this.#due()) return;
    // after the batch of records this one belongs to is handed over, never inside it
    this.#writing = Promise.resolve()
      .then(() => this.#write())
      .finally(() => {
        this.#writing = undefined;
      });
  }

  /**
   * At close, before the log closes: waits for the one under way, then writes one if due, over a
   * checkpoint that signs every record. Never fails (the next open reads more of the log, that is all).
   */
  async close(): Promise<void> {
    this.#closing = true;
    await this.#writing;
    if (this.#due()) await this.#write();
  }

  #due(): boolean {
    return !this.#ctx.sharedLog && this.#every > 0 && this.#ctx.ledger.records - this.#records >= this.#every;
  }

  async #write(): Promise<void> {
    const ctx = this.#ctx;
    const attempted = ctx.ledger.records;
    // The ledger is taken at the tree size the checkpoint signs, synchronously: exactly the records it
    // has seen, while appends go on. The snapshot's point is then covered by a signed checkpoint.
    let captured: CapturedLedger | undefined;
    let refused: unknown;
    let captureMs = 0;
    const signed = await this.#audit
      .checkpoint({
        atPoint: (point) => {
          const started = performance.now();
          try {
            captured = captureLedger(ctx.ledger, point);
          } catch (error) {
            refused = error;
          }
          captureMs = performance.now() - started;
        },
      })
      .then(
        () => true,
        // A log that cannot sign now (a failed write, an unsealed tail nobody accepted): no snapshot.
        () => false,
      );
    try {
      if (refused !== undefined) throw refused;
      if (!signed || captured === undefined) return;
      const indexDir = join(ctx.dir, "index");
      const started = performance.now();
      const written = await writeCapturedLedger(indexDir, captured, ctx.pki.sealKey, ctx.config.vaultId);
      ctx.ledger.items.rebase(captured.items, written);
      this.#records = captured.point.treeSize;
      await removeOtherItemsFiles(indexDir, written);
      const records = captured.point.treeSize;
      const writeMs = Math.round(performance.now() - started);
      ctx.logger.info({ records, captureMs: Math.round(captureMs), writeMs }, "ledger snapshot written");
    } catch (error) {
      ctx.logger.warn({ err: error }, "no ledger snapshot was written; the next open reads more of the log");
    } finally {
      // after a failure, the next attempt waits `every` more records, as after a snapshot
      this.#records = Math.max(this.#records, attempted);
    }
  }
}
