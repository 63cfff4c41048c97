import type { AuditRecord } from "@custody/audit";
import { CustodyError, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import { DEVICE_ID_PATTERN } from "./device-facts.js";

/**
 * The facts of remediations: what a device reported it did (its claim), the quarantine items the
 * vault itself stored before anything was deleted (the vault's fact), and the undo. Rebuilt from the
 * signed log at open like every fact.
 */
export const REMEDIATION_FACT = {
  recorded: "remediation.recorded",
  undone: "remediation.undone",
} as const;

export type RemediationFactAction = (typeof REMEDIATION_FACT)[keyof typeof REMEDIATION_FACT];

const quarantineItemSchema = z.object({
  itemId: sha256HexSchema,
  path: z.string().max(4096),
  sha256: sha256HexSchema,
  size: z.number().int().nonnegative(),
  mode: z.number().int().min(0).max(0o7777).optional(),
});

const context = {
  remediationId: z.string().min(1).max(100),
  caseId: z.string().min(1).max(100),
  deviceId: z.string().regex(DEVICE_ID_PATTERN),
  sessionId: z.string().max(100),
  cmdId: z.string().max(100),
  /** Every quarantine item the remediation holds: each item's custody report shows this record. */
  itemIds: z.array(sha256HexSchema).max(64),
};

export const remediationFactSchemas = {
  [REMEDIATION_FACT.recorded]: z.object({
    ...context,
    type: z.string().max(32),
    target: z.string().max(4096),
    /** The steps as the device reported them: its claims. */
    steps: z.array(z.record(z.string(), z.unknown())).max(128),
    /** The bytes the vault stored before the device deleted anything. */
    items: z.array(quarantineItemSchema).max(64),
  }),
  [REMEDIATION_FACT.undone]: z.object({
    ...context,
    steps: z.array(z.record(z.string(), z.unknown())).max(128),
  }),
} as const;

export type QuarantineItem = z.infer<typeof quarantineItemSchema>;

export interface RemediationState {
  id: string;
  caseId: string;
  deviceId: string;
  type: string;
  target: string;
  steps: Record<string, unknown>[];
  items: QuarantineItem[];
  recordedAt: string;
  recordedBy: string;
  undone?: { at: string; by: string; cmdId: string };
}

/** What the log states of remediations, by id (part of the Ledger). */
export class RemediationLedger {
  readonly byId = new Map<string, RemediationState>();

  apply(record: AuditRecord): void {
    const action = record.action as RemediationFactAction;
    if (action === REMEDIATION_FACT.recorded) {
      const facts = parse(record, action) as z.infer<
        (typeof remediationFactSchemas)[typeof REMEDIATION_FACT.recorded]
      >;
      this.byId.set(facts.remediationId, {
        id: facts.remediationId,
        caseId: facts.caseId,
        deviceId: facts.deviceId,
        type: facts.type,
        target: facts.target,
        steps: facts.steps,
        items: facts.items,
        recordedAt: record.time,
        recordedBy: record.actor,
      });
    } else if (action === REMEDIATION_FACT.undone) {
      const facts = parse(record, action);
      const state = this.byId.get(facts.remediationId);
      if (state !== undefined) state.undone = { at: record.time, by: record.actor, cmdId: facts.cmdId };
    }
  }
}

const ACTIONS: ReadonlySet<string> = new Set(Object.values(REMEDIATION_FACT));

export function isRemediationFact(action: string): action is RemediationFactAction {
  return ACTIONS.has(action);
}

function parse(record: AuditRecord, action: RemediationFactAction) {
  const parsed = remediationFactSchemas[action].safeParse(record.details);
  if (!parsed.success)
    throw new CustodyError(
      "ERR_AUDIT_RECORD_INVALID",
      `audit record ${record.seq} (${record.action}) has malformed details`,
      { details: { seq: record.seq, action: record.action } },
    );
  return parsed.data;
}
