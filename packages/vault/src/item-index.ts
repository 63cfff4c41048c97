import { mkdirSync, rmSync } from "node:fs";
import { dirname } from "node:path";
import { DatabaseSync, type StatementSync } from "node:sqlite";
import type { AuditRecord } from "@custody/audit";
import { CustodyError } from "@custody/core";
import { FACT, ITEM_FACTS } from "./facts.js";
import type { Ledger, LedgerItem } from "./ledger.js";

/**
 * The item index: which items exist, by case, device, label and time, in an embedded SQLite database
 * (Node's built-in `node:sqlite`: nothing to install, no native addon to build, one file beside the
 * vault, indexed lookups without reading every record).
 *
 * It is derived data, never the source of truth. Every row comes from a fact record of the signed log
 * (evidence.ingested, hold, retention, purge), applied after that record is durable; a crash in between
 * leaves the index behind the log, never ahead, and the next open catches it up from the log. It
 * remembers the seq and hash of the last fact it applied: a log that does not hold that record there
 * (another history, a restored file) makes the index stale, and it is rebuilt from the log. Nothing the
 * vault decides is read from it: listings take the rows it finds and check each against the ledger,
 * and `custody check` reports any difference between the two (ERR_INDEX_MISMATCH).
 */
export interface IndexedItem {
  caseId: string;
  id: string;
  deviceId: string | null;
  name: string;
  kind: string;
  size: number;
  ingestedSeq: number;
  ingestedAt: string;
  acquiredAt: string;
  recordSha256: string;
  legalHold: boolean;
  retainUntil: string | null;
}

export interface IndexQuery {
  caseId?: string;
  deviceId?: string;
  /** `key` or `key=value`. */
  label?: string;
  /** Acquired at or after / before (ISO 8601, compared as text: the log writes UTC with milliseconds). */
  since?: string;
  until?: string;
  limit?: number;
}

const SCHEMA = `
CREATE TABLE IF NOT EXISTS meta (key TEXT PRIMARY KEY, value TEXT NOT NULL) STRICT;
CREATE TABLE IF NOT EXISTS items (
  case_id TEXT NOT NULL, id TEXT NOT NULL, device_id TEXT, name TEXT NOT NULL, kind TEXT NOT NULL,
  size INTEGER NOT NULL, ingested_seq INTEGER NOT NULL, ingested_at TEXT NOT NULL, acquired_at TEXT NOT NULL,
  record_sha256 TEXT NOT NULL, legal_hold INTEGER NOT NULL, retain_until TEXT,
  PRIMARY KEY (case_id, id)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS items_device ON items (device_id, acquired_at);
CREATE INDEX IF NOT EXISTS items_acquired ON items (acquired_at);
CREATE INDEX IF NOT EXISTS items_case_seq ON items (case_id, ingested_seq);
CREATE TABLE IF NOT EXISTS labels (
  case_id TEXT NOT NULL, id TEXT NOT NULL, key TEXT NOT NULL, value TEXT NOT NULL,
  PRIMARY KEY (case_id, id, key)
) STRICT, WITHOUT ROWID;
CREATE INDEX IF NOT EXISTS labels_key ON labels (key, value);
`;

/** Facts applied per transaction while catching up (one commit per live fact once the vault is open). */
const BATCH = 10_000;
/** SQLITE_CORRUPT, SQLITE_NOTADB: the file is not a database any more. */
const DAMAGED = new Set([11, 26]);
const FORMAT = "custody.item-index/v1";

export class ItemIndex {
  readonly #db: DatabaseSync;
  readonly #put: StatementSync;
  readonly #putLabel: StatementSync;
  readonly #delete: StatementSync;
  readonly #deleteLabels: StatementSync;
  readonly #hold: StatementSync;
  readonly #retain: StatementSync;
  readonly #setMeta: StatementSync;
  #last: { seq: number; hash: string } | undefined;
  #stale: string | undefined;
  #pending = 0;
  #live = false;
  #queued: AuditRecord[] | undefined;

  private constructor(
    readonly path: string,
    db: DatabaseSync,
  ) {
    this.#db = db;
    // Exclusive before WAL: the WAL index then lives in this process's memory, never in a mapped -shm
    // file. A mapped file on FUSE or a network filesystem kills the process with SIGBUS when the
    // filesystem cannot back it (the power-loss tests' filesystem did). One process holds the vault's
    // log lock, and with it the index, at a time, so nobody else needs to read it meanwhile.
    db.exec("PRAGMA locking_mode = EXCLUSIVE; PRAGMA journal_mode = WAL; PRAGMA synchronous = NORMAL;");
    db.exec(SCHEMA);
    this.#put = db.prepare(`INSERT OR REPLACE INTO items VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)`);
    this.#putLabel = db.prepare("INSERT OR REPLACE INTO labels VALUES (?, ?, ?, ?)");
    this.#delete = db.prepare("DELETE FROM items WHERE case_id = ? AND id = ?");
    this.#deleteLabels = db.prepare("DELETE FROM labels WHERE case_id = ? AND id = ?");
    this.#hold = db.prepare("UPDATE items SET legal_hold = ? WHERE case_id = ? AND id = ?");
    this.#retain = db.prepare("UPDATE items SET retain_until = ? WHERE case_id = ? AND id = ?");
    this.#setMeta = db.prepare("INSERT OR REPLACE INTO meta VALUES (?, ?)");
    const meta = new Map(
      (db.prepare("SELECT key, value FROM meta").all() as { key: string; value: string }[]).map((row) => [
        row.key,
        row.value,
      ]),
    );
    const format = meta.get("format");
    if (format !== undefined && format !== FORMAT) this.#stale = `it is ${format}, not ${FORMAT}`;
    const last = meta.get("last");
    if (last !== undefined) this.#last = JSON.parse(last) as { seq: number; hash: string };
  }

  /** Opens (or creates) the index file; an unreadable one is moved out of the way and started afresh. */
  static open(path: string): ItemIndex {
    mkdirSync(dirname(path), { recursive: true });
    let db: DatabaseSync | undefined;
    try {
      db = new DatabaseSync(path);
      return new ItemIndex(path, db);
    } catch (error) {
      if (db?.isOpen === true) db.close();
      // Derived data: a damaged file is dropped and rebuilt from the log, never repaired by hand.
      // Only damage: any other failure (a busy or unreadable file) is the caller's to report.
      if (!DAMAGED.has((error as { errcode?: number }).errcode ?? -1)) throw error;
      for (const suffix of ["", "-wal", "-shm"]) rmSync(`${path}${suffix}`, { force: true });
      return new ItemIndex(path, new DatabaseSync(path));
    }
  }

  /** Why the index cannot be caught up from where it is (it must be rebuilt), if so. */
  get stale(): string | undefined {
    return this.#stale;
  }

  /** The last fact applied. */
  get last(): { seq: number; hash: string } | undefined {
    return this.#last;
  }

  /**
   * Sees every record in order, as the ledger does: during the replay at open (catching up from the
   * last fact it holds), then each durable append. Facts at or before that one are already in.
   */
  observe(record: AuditRecord): void {
    // Appended while a rebuild reads the log: applied once it has read that far.
    if (this.#queued !== undefined) this.#queued.push(record);
    else this.#safely(record);
  }

  #safely(record: AuditRecord): void {
    if (this.#stale !== undefined) return;
    try {
      this.#observe(record);
    } catch (error) {
      // Never fails the append that fed it (the log is the truth): the index is stale until rebuilt.
      this.#stale = `it could not be updated at record ${record.seq}: ${error instanceof Error ? error.message : String(error)}`;
      if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
      this.#pending = 0;
    }
  }

  #observe(record: AuditRecord): void {
    const last = this.#last;
    if (last !== undefined && record.seq <= last.seq) {
      if (record.seq === last.seq && record.hash !== last.hash) {
        this.#stale = `the log's record ${record.seq} is not the one the index was built from`;
      }
      return;
    }
    if (record.outcome !== "allow" || !ITEM_FACTS.has(record.action)) return;
    if (this.#pending === 0) this.#db.exec("BEGIN");
    this.#apply(record);
    this.#last = { seq: record.seq, hash: record.hash };
    this.#pending += 1;
    if (this.#live || this.#pending >= BATCH) this.commit();
  }

  /**
   * The replay at open goes on from a ledger snapshot of `records` records, whose newest item fact is
   * `lastItemFact`: an index that stops at another fact before that point missed facts it will not see.
   */
  resumeAt(snapshot: { records: number; lastItemFact: { seq: number; hash: string } | undefined }): void {
    const last = this.#last;
    if (last !== undefined && last.seq >= snapshot.records) return; // checked as the records come
    const fact = snapshot.lastItemFact;
    if (last?.seq === fact?.seq && last?.hash === fact?.hash) return;
    this.#stale = `it has facts up to record ${last?.seq ?? "none"}, the ledger snapshot up to ${fact?.seq ?? "none"}`;
  }

  /** After the replay at open: an index ahead of the log is stale; from now on each fact commits at once. */
  goLive(records: number): void {
    this.commit();
    if (this.#last !== undefined && this.#last.seq >= records) {
      this.#stale = `the index has facts up to record ${this.#last.seq}, the log only ${records} records`;
    }
    this.#live = true;
  }

  commit(): void {
    if (this.#pending === 0) return;
    this.#setMeta.run("format", FORMAT);
    this.#setMeta.run("last", JSON.stringify(this.#last));
    this.#db.exec("COMMIT");
    this.#pending = 0;
  }

  /** Empties the index, then applies every record of `records` (the whole log, in order). */
  async rebuild(records: AsyncIterable<AuditRecord>): Promise<number> {
    if (this.#queued !== undefined) throw new CustodyError("ERR_CONFLICT", "the item index is being rebuilt");
    if (this.#db.isTransaction) this.#db.exec("ROLLBACK");
    this.#pending = 0;
    this.#db.exec("DELETE FROM items; DELETE FROM labels; DELETE FROM meta;");
    this.#last = undefined;
    this.#stale = undefined;
    const live = this.#live;
    this.#live = false;
    this.#queued = [];
    let count = 0;
    try {
      for await (const record of records) {
        this.#safely(record);
        count += 1;
      }
    } finally {
      this.#live = live;
      const queued = this.#queued;
      this.#queued = undefined;
      for (const record of queued) this.#safely(record);
      this.commit();
    }
    if (this.#stale !== undefined) throw staleIndexError(this);
    return count;
  }

  /** Items matching every given criterion, oldest ingest first. */
  query(query: IndexQuery): IndexedItem[] {
    const where: string[] = [];
    const params: (string | number)[] = [];
    if (query.caseId !== undefined) {
      where.push("i.case_id = ?");
      params.push(query.caseId);
    }
    if (query.deviceId !== undefined) {
      where.push("i.device_id = ?");
      params.push(query.deviceId);
    }
    if (query.since !== undefined) {
      where.push("i.acquired_at >= ?");
      params.push(query.since);
    }
    if (query.until !== undefined) {
      where.push("i.acquired_at < ?");
      params.push(query.until);
    }
    let from = "items i";
    if (query.label !== undefined) {
      const at = query.label.indexOf("=");
      from += " JOIN labels l ON l.case_id = i.case_id AND l.id = i.id AND l.key = ?";
      params.unshift(at < 0 ? query.label : query.label.slice(0, at));
      if (at >= 0) {
        from += " AND l.value = ?";
        params.splice(1, 0, query.label.slice(at + 1));
      }
    }
    const limit = query.limit === undefined ? "" : ` LIMIT ${Math.max(0, Math.floor(query.limit))}`;
    const sql = `SELECT i.* FROM ${from}${where.length === 0 ? "" : ` WHERE ${where.join(" AND ")}`} ORDER BY i.ingested_seq${limit}`;
    return (this.#db.prepare(sql).all(...params) as unknown as Row[]).map(fromRow);
  }

  /** Every difference between the index and the ledger (the log's state), at most `max` of them. */
  differences(ledger: Ledger, max = 20): string[] {
    const found: string[] = [];
    if (this.#stale !== undefined) return [`the index is stale: ${this.#stale}`];
    const live = new Map<string, LedgerItem>();
    for (const item of ledger.items.values()) if (!item.purged) live.set(`${item.caseId}/${item.id}`, item);
    let rows = 0;
    for (const row of this.#db.prepare("SELECT * FROM items").iterate() as Iterable<Row>) {
      rows += 1;
      const item = live.get(`${row.case_id}/${row.id}`);
      const what = `item ${row.case_id}/${row.id}`;
      if (item === undefined) found.push(`${what} is in the index but the log has no such item`);
      else if (
        item.recordSha256 !== row.record_sha256 ||
        (item.deviceId ?? null) !== row.device_id ||
        item.legalHold !== (row.legal_hold === 1) ||
        (item.retainUntil ?? null) !== row.retain_until ||
        item.ingestedSeq !== row.ingested_seq
      ) {
        found.push(`${what}: the index says something else than the log (record, device, hold or retention)`);
      }
      if (found.length >= max) return found;
    }
    if (rows !== live.size) {
      found.push(`the index holds ${rows} items, the log ${live.size}`);
    }
    return found;
  }

  close(): void {
    if (!this.#db.isOpen) return;
    this.commit();
    this.#db.close();
  }

  #apply(record: AuditRecord): void {
    const target = record.target.slice("item:".length);
    const slash = target.lastIndexOf("/");
    const caseId = target.slice(0, slash);
    const id = target.slice(slash + 1);
    switch (record.action) {
      case FACT.ingested: {
        const details = record.details as unknown as {
          record: ItemRecordShape;
          recordSha256: string;
          legalHold: boolean;
          retainUntil?: string;
        };
        const item = details.record;
        this.#deleteLabels.run(caseId, id);
        this.#put.run(
          caseId,
          id,
          item.package?.deviceId ?? null,
          item.name,
          item.kind,
          item.size,
          record.seq,
          record.time,
          item.acquisition.at,
          details.recordSha256,
          details.legalHold ? 1 : 0,
          details.retainUntil ?? null,
        );
        for (const [key, value] of Object.entries(item.labels)) this.#putLabel.run(caseId, id, key, value);
        return;
      }
      case FACT.holdSet:
      case FACT.holdReleased:
        this.#hold.run(record.action === FACT.holdSet ? 1 : 0, caseId, id);
        return;
      case FACT.retentionExtended:
        this.#retain.run((record.details as { retainUntil: string }).retainUntil, caseId, id);
        return;
      case FACT.purged:
        this.#delete.run(caseId, id);
        this.#deleteLabels.run(caseId, id);
        return;
    }
  }
}

/** The fields of an ingest fact's item record the index keeps (the ledger has checked the fact). */
interface ItemRecordShape {
  name: string;
  kind: string;
  size: number;
  labels: Record<string, string>;
  package?: { deviceId?: string };
  acquisition: { at: string };
}

interface Row {
  case_id: string;
  id: string;
  device_id: string | null;
  name: string;
  kind: string;
  size: number;
  ingested_seq: number;
  ingested_at: string;
  acquired_at: string;
  record_sha256: string;
  legal_hold: number;
  retain_until: string | null;
}

function fromRow(row: Row): IndexedItem {
  return {
    caseId: row.case_id,
    id: row.id,
    deviceId: row.device_id,
    name: row.name,
    kind: row.kind,
    size: row.size,
    ingestedSeq: row.ingested_seq,
    ingestedAt: row.ingested_at,
    acquiredAt: row.acquired_at,
    recordSha256: row.record_sha256,
    legalHold: row.legal_hold === 1,
    retainUntil: row.retain_until,
  };
}

/** A stale index met where it must be current. */
export function staleIndexError(index: ItemIndex): CustodyError {
  return new CustodyError(
    "ERR_INDEX_MISMATCH",
    `the item index ${index.path} is stale (${index.stale}); run \`custody index rebuild\``,
  );
}
