import type { AuditRecord } from "@custody/audit";
import { CustodyError, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import { DEVICE_ID_PATTERN } from "./device-facts.js";

/**
 * The facts of the live-response actions: the vault-wide hash lists (known-bad, known-good) and the
 * network isolation of devices. Like every fact they are rebuilt from the signed log at open; no file
 * beside the log holds them.
 */
export const RESPONSE_FACT = {
  hashAdded: "hashlist.added",
  hashRemoved: "hashlist.removed",
  isolated: "device.isolated",
  released: "device.released",
} as const;

export type ResponseFactAction = (typeof RESPONSE_FACT)[keyof typeof RESPONSE_FACT];

export const HASH_LISTS = ["known-bad", "known-good"] as const;
export type HashListName = (typeof HASH_LISTS)[number];
export const hashListSchema = z.enum(HASH_LISTS);

const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN);
const liveContext = {
  sessionId: z.string().max(100).optional(),
  cmdId: z.string().max(100).optional(),
  caseId: z.string().max(100).optional(),
};

export const responseFactSchemas = {
  [RESPONSE_FACT.hashAdded]: z.object({
    list: hashListSchema,
    sha256: sha256HexSchema,
    note: z.string().max(500).optional(),
    name: z.string().max(255).optional(),
  }),
  [RESPONSE_FACT.hashRemoved]: z.object({ list: hashListSchema, sha256: sha256HexSchema }),
  [RESPONSE_FACT.isolated]: z.object({
    deviceId: deviceIdSchema,
    /** What the device's firewall still lets through, e.g. `tcp 10.0.0.1:8443`. */
    allowed: z.array(z.string().max(200)).max(16),
    ...liveContext,
  }),
  [RESPONSE_FACT.released]: z.object({ deviceId: deviceIdSchema, ...liveContext }),
} as const;

type Details<A extends ResponseFactAction> = z.infer<(typeof responseFactSchemas)[A]>;

export interface HashEntry {
  list: HashListName;
  sha256: string;
  note?: string;
  name?: string;
  addedAt: string;
  addedBy: string;
}

export interface IsolationState {
  deviceId: string;
  isolated: boolean;
  allowed: string[];
  since: string;
  by: string;
}

/** What the log states of the hash lists and of isolated devices (part of the Ledger). */
export class ResponseLedger {
  readonly hashLists: Record<HashListName, Map<string, HashEntry>> = {
    "known-bad": new Map(),
    "known-good": new Map(),
  };
  readonly isolation = new Map<string, IsolationState>();

  apply(record: AuditRecord): void {
    const action = record.action as ResponseFactAction;
    switch (action) {
      case RESPONSE_FACT.hashAdded: {
        const facts = parse(record, action);
        this.hashLists[facts.list].set(facts.sha256, {
          list: facts.list,
          sha256: facts.sha256,
          ...(facts.note === undefined ? {} : { note: facts.note }),
          ...(facts.name === undefined ? {} : { name: facts.name }),
          addedAt: record.time,
          addedBy: record.actor,
        });
        return;
      }
      case RESPONSE_FACT.hashRemoved: {
        const facts = parse(record, action);
        this.hashLists[facts.list].delete(facts.sha256);
        return;
      }
      case RESPONSE_FACT.isolated: {
        const facts = parse(record, action);
        this.isolation.set(facts.deviceId, {
          deviceId: facts.deviceId,
          isolated: true,
          allowed: facts.allowed,
          since: record.time,
          by: record.actor,
        });
        return;
      }
      case RESPONSE_FACT.released: {
        const facts = parse(record, action);
        this.isolation.set(facts.deviceId, {
          deviceId: facts.deviceId,
          isolated: false,
          allowed: [],
          since: record.time,
          by: record.actor,
        });
        return;
      }
    }
  }

  /** The lists' entries for any of these sha256 digests (the digest a device reported). */
  lookup(sha256: string): HashEntry[] {
    return HASH_LISTS.flatMap((list) => {
      const entry = this.hashLists[list].get(sha256);
      return entry === undefined ? [] : [entry];
    });
  }
}

const RESPONSE_FACT_ACTIONS: ReadonlySet<string> = new Set(Object.values(RESPONSE_FACT));

export function isResponseFact(action: string): action is ResponseFactAction {
  return RESPONSE_FACT_ACTIONS.has(action);
}

function parse<A extends ResponseFactAction>(record: AuditRecord, action: A): Details<A> {
  const parsed = responseFactSchemas[action].safeParse(record.details);
  if (!parsed.success) {
    throw new CustodyError(
      "ERR_AUDIT_RECORD_INVALID",
      `audit record ${record.seq} (${record.action}) has malformed details`,
      { details: { seq: record.seq, action: record.action } },
    );
  }
  return parsed.data as Details<A>;
}
