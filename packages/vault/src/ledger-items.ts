import type { LedgerItem } from "./ledger.js";
import { type ItemRow, toRow } from "./ledger-buckets.js";

/**
 * Items a sealed ledger snapshot holds, read a bucket at a time: by case (a hash of the case id picks
 * the bucket) and by content address (its first hex digits do). Each bucket is checked against the
 * digest the sealed header states before anything in it is used.
 */
export interface StoredItems {
  readonly caseBuckets: number;
  /** How many items the snapshot holds. */
  readonly layout: { items: number };
  caseBucket(caseId: string): number;
  readCaseBucket(bucket: number): LedgerItem[];
  /** The bucket of pairs `[id, caseId]` for ids starting with `prefix` (at least 8 hex digits). */
  idBucket(prefix: string): number;
  readIdBucket(bucket: number): [string, string][];
}

/**
 * The items as they were at one record, taken synchronously so a snapshot can be written while facts go
 * on: the stored snapshot its unchanged buckets are copied from, the items of every bucket changed since
 * it (or every item, with no stored snapshot), and the ids added since.
 */
export interface ItemsCapture {
  readonly count: number;
  readonly base: StoredItems | undefined;
  /** Case buckets of `base` with an item changed since it: rewritten, the others copied from `base`. */
  readonly changed: ReadonlySet<number>;
  /** The items changed (or stated) since `base`, as they are now; with no `base`, every item. */
  readonly rows: readonly ItemRow[];
  readonly added: readonly (readonly [string, string])[];
  /** Which capture this is: `rebase` forgets only what changed up to it. */
  readonly generation: number;
}

/**
 * The ledger's items: those a snapshot holds, read on first use, and every item a fact stated since.
 * A case's items are read when that case, or one of its items, is asked for: opening a vault of a
 * million items reads none of them.
 */
export class LedgerItems {
  readonly #byKey = new Map<string, LedgerItem>();
  /** The same items by content address (every case's copy): a full id is found without a scan. */
  readonly #byId = new Map<string, LedgerItem[]>();
  /** The same items by case, so a case is listed without walking every item of the vault. */
  readonly #byCase = new Map<string, Map<string, LedgerItem>>();
  #stored: StoredItems | undefined;
  readonly #casesRead = new Set<number>();
  readonly #idsRead = new Set<number>();
  /** `[id, case]` of every item stated since the snapshot whose case had no copy of that id in it. */
  #added: [string, string][] = [];
  /** Items (`case/id`) changed or stated since the snapshot, each with the generation of its latest change. */
  readonly #changed = new Map<string, number>();
  #generation = 0;
  /** With no stored snapshot: items new since the last capture (the capture holds every one before). */
  #addedSinceCapture: [string, string][] | undefined;

  /** Before any item is asked for: the snapshot's items, read from `stored` as they are needed. */
  attach(stored: StoredItems): void {
    this.#stored = stored;
  }

  get(caseId: string, id: string): LedgerItem | undefined {
    this.#readCase(caseId);
    return this.#byKey.get(`${caseId}/${id}`);
  }

  /** `get`, for a fact about to change the item in place: the next snapshot writes it as it is then. */
  getForChange(caseId: string, id: string): LedgerItem | undefined {
    const item = this.get(caseId, id);
    if (item !== undefined) this.#changedItem(`${caseId}/${id}`);
    return item;
  }

  ofCase(caseId: string): Iterable<LedgerItem> {
    this.#readCase(caseId);
    return this.#byCase.get(caseId)?.values() ?? [];
  }

  /** Items whose content address is `prefix` (64 hex digits) or starts with it (at least 8). */
  withId(prefix: string): LedgerItem[] {
    const stored = this.#stored;
    if (stored !== undefined) {
      const bucket = stored.idBucket(prefix);
      if (!this.#idsRead.has(bucket)) {
        for (const [id, caseId] of stored.readIdBucket(bucket))
          if (id.startsWith(prefix)) this.#readCase(caseId);
        this.#idsRead.add(bucket);
      }
    }
    if (prefix.length === 64) return [...(this.#byId.get(prefix) ?? [])];
    const found: LedgerItem[] = [];
    for (const item of this.#byKey.values()) if (item.id.startsWith(prefix)) found.push(item);
    return found;
  }

  /** Every item (a snapshot's are all read). */
  values(): IterableIterator<LedgerItem> {
    const stored = this.#stored;
    if (stored !== undefined) {
      for (let bucket = 0; bucket < stored.caseBuckets; bucket += 1) this.#readBucket(stored, bucket);
    }
    return this.#byKey.values();
  }

  /** How many items (every case's copy, purged ones included). */
  get count(): number {
    return this.#stored === undefined ? this.#byKey.size : this.#stored.layout.items + this.#added.length;
  }

  /**
   * The items now, for a snapshot written while facts go on (synchronous: nothing changes meanwhile).
   * Copies the items changed since the stored snapshot only; with no stored snapshot, every item.
   */
  capture(): ItemsCapture {
    const base = this.#stored;
    this.#generation += 1;
    const changed = new Set<number>();
    const rows: ItemRow[] = [];
    if (base === undefined) {
      for (const item of this.#byKey.values()) rows.push(toRow(item));
      this.#addedSinceCapture = [];
    } else {
      for (const key of this.#changed.keys()) {
        const item = this.#byKey.get(key) as LedgerItem;
        rows.push(toRow(item));
        changed.add(base.caseBucket(item.caseId));
      }
    }
    return {
      count: this.count,
      base,
      changed,
      rows,
      added: this.#added.map(([id, caseId]) => [id, caseId] as const),
      generation: this.#generation,
    };
  }

  /**
   * Once `capture` is written and sealed as `written`: its buckets are read from there on, and only
   * what changed after the capture is written by the next snapshot. Every item read so far stays.
   */
  rebase(capture: ItemsCapture, written: StoredItems): void {
    const before = this.#stored;
    // Every bucket read stays read (its items are here): a bucket of the old layout is these of the new
    // one, as both counts are powers of two; with no stored snapshot before, every item is here.
    const casesRead = new Set<number>();
    if (before === undefined) for (let at = 0; at < written.caseBuckets; at += 1) casesRead.add(at);
    else {
      for (const bucket of this.#casesRead)
        for (let at = bucket; at < written.caseBuckets; at += before.caseBuckets) casesRead.add(at);
    }
    this.#stored = written;
    this.#casesRead.clear();
    for (const bucket of casesRead) this.#casesRead.add(bucket);
    this.#idsRead.clear();
    for (const [key, generation] of this.#changed)
      if (generation <= capture.generation) this.#changed.delete(key);
    this.#added =
      before === undefined ? (this.#addedSinceCapture ?? []) : this.#added.slice(capture.added.length);
    this.#addedSinceCapture = undefined;
  }

  /** An item a fact states; a case's copy ingested again after its purge replaces the purged one. */
  put(item: LedgerItem): void {
    this.#readCase(item.caseId);
    if (!this.#byKey.has(`${item.caseId}/${item.id}`)) {
      if (this.#stored !== undefined) this.#added.push([item.id, item.caseId]);
      else this.#addedSinceCapture?.push([item.id, item.caseId]);
    }
    this.#changedItem(`${item.caseId}/${item.id}`);
    this.#insert(item);
  }

  #changedItem(key: string): void {
    // with no stored snapshot every item is captured: only what changes after a capture is tracked
    if (this.#stored !== undefined || this.#addedSinceCapture !== undefined)
      this.#changed.set(key, this.#generation + 1);
  }

  #insert(item: LedgerItem): void {
    const { caseId, id } = item;
    this.#byKey.set(`${caseId}/${id}`, item);
    const ofCase = this.#byCase.get(caseId) ?? new Map<string, LedgerItem>();
    ofCase.set(id, item);
    this.#byCase.set(caseId, ofCase);
    const copies = this.#byId.get(id) ?? [];
    const at = copies.findIndex((copy) => copy.caseId === caseId);
    if (at >= 0) copies[at] = item;
    else copies.push(item);
    this.#byId.set(id, copies);
  }

  #readCase(caseId: string): void {
    const stored = this.#stored;
    if (stored !== undefined) this.#readBucket(stored, stored.caseBucket(caseId));
  }

  #readBucket(stored: StoredItems, bucket: number): void {
    if (this.#casesRead.has(bucket)) return;
    const items = stored.readCaseBucket(bucket);
    this.#casesRead.add(bucket);
    // an item a fact stated since the snapshot was read with its bucket first: never older than this
    for (const item of items) if (!this.#byKey.has(`${item.caseId}/${item.id}`)) this.#insert(item);
  }
}
