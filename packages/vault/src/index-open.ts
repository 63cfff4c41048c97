import { join } from "node:path";
import type { AuditLog } from "@custody/audit";
import type { Logger } from "@custody/core";
import { ItemIndex } from "./item-index.js";
import type { Ledger } from "./ledger.js";

/** Where a local vault keeps its item index: derived data, safe to delete (it is rebuilt from the log). */
export function itemIndexPath(dir: string): string {
  return join(dir, "index", "items.sqlite");
}

/** The index, opened on first use (under the audit log's lock); `close` closes it if it was opened. */
export function lazyItemIndex(dir: string, logger: Logger) {
  let tried = false;
  let index: ItemIndex | undefined;
  return {
    get(): ItemIndex | undefined {
      if (!tried) {
        tried = true;
        index = openItemIndex(dir, logger);
      }
      return index;
    },
    close(): void {
      index?.close();
    },
  };
}

function openItemIndex(dir: string, logger: Logger): ItemIndex | undefined {
  try {
    return ItemIndex.open(itemIndexPath(dir));
  } catch (error) {
    // The vault works without it (listings read the ledger and the store); `check` reports it missing.
    logger.warn({ err: error }, "the item index cannot be opened; listings fall back to the ledger");
    return undefined;
  }
}

/**
 * After the replay at open has caught the index up: one ahead of the log, or built from another
 * history, is rebuilt from the log now (a second pass over it, only then).
 */
export async function catchUpIndex(index: ItemIndex, audit: AuditLog, ledger: Ledger, logger: Logger) {
  index.goLive(ledger.records);
  if (index.stale === undefined) return;
  logger.warn(
    { reason: index.stale, path: index.path },
    "the item index is stale; rebuilding it from the log",
  );
  await index.rebuild(audit.read());
}
