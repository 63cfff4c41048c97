import type { LedgerItem } from "./ledger.js";

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
  readonly #added: [string, string][] = [];

  /** Before any item is asked for: the snapshot's items, read from `stored` as they are needed. */
  attach(stored: StoredItems): void {
    this.#stored = stored;
  }

  get(caseId: string, id: string): LedgerItem | undefined {
    this.#readCase(caseId);
    return this.#byKey.get(`${caseId}/${id}`);
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
   * What a snapshot writer needs to copy what did not change: the stored items, the case buckets read
   * (every item stated since lies in one of them), the items read or stated, the ids added.
   */
  changes() {
    return {
      stored: this.#stored,
      casesRead: this.#casesRead as ReadonlySet<number>,
      loaded: this.#byKey.values(),
      added: this.#added as readonly [string, string][],
    };
  }

  /** An item a fact states; a case's copy ingested again after its purge replaces the purged one. */
  put(item: LedgerItem): void {
    const added = this.#stored !== undefined && !this.#byKey.has(`${item.caseId}/${item.id}`);
    if (added) this.#added.push([item.id, item.caseId]);
    this.#insert(item);
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
