import { isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import { DEVICE_FACT, deviceFactSchemas } from "./device-facts.js";
import { LIBRARY_FACT, libraryFactSchemas } from "./library-facts.js";
import { REMEDIATION_FACT, remediationFactSchemas } from "./remediation-facts.js";
import { RESPONSE_FACT, responseFactSchemas } from "./response-facts.js";

/**
 * The records that state a fact. The vault appends one after each change has really happened, and
 * everything it states later (an item's record and protection, the access policy head, which
 * certificates may log in) is rebuilt from these records alone: a file edited on disk that no fact
 * names is a finding, never a fact.
 */
export const FACT = {
  vaultInit: "vault.init",
  ingested: "evidence.ingested",
  holdSet: "evidence.hold-set",
  holdReleased: "evidence.hold-released",
  retentionExtended: "evidence.retention-extended",
  purged: "evidence.purged",
  policyChanged: "access.policy-changed",
  identityIssued: "identity.issued",
  identityActivated: "identity.activated",
  identityRevoked: "identity.revoked",
  signerInstalled: "keys.signer-installed",
  tailAccepted: "audit.tail-accepted",
  tsaAdded: "timestamp.tsa-added",
  ...DEVICE_FACT,
  ...LIBRARY_FACT,
  ...RESPONSE_FACT,
  ...REMEDIATION_FACT,
} as const;

export type FactAction = (typeof FACT)[keyof typeof FACT];

/** The facts about one item (the item index and a ledger snapshot hold their result, not the records). */
export const ITEM_FACTS: ReadonlySet<string> = new Set([
  FACT.ingested,
  FACT.holdSet,
  FACT.holdReleased,
  FACT.retentionExtended,
  FACT.purged,
]);

const approvalSchema = {
  requestId: z.string().optional(),
  proposedBy: z.string().optional(),
  approvedBy: z.string().optional(),
};

export const factSchemas = {
  [FACT.vaultInit]: z.object({
    vaultId: z.string().min(1),
    witness: z.object({ kind: z.literal("dir"), dir: z.string() }).optional(),
    /** What vault.json says that changes what the vault does (retention given to new items, its store). */
    settings: z.record(z.string(), z.unknown()).optional(),
    /** sha256 of the audit seal key: a key swapped on disk would let its maker seal a forged tail. */
    sealKeySha256: sha256HexSchema.optional(),
  }),
  [FACT.ingested]: z.object({
    record: z.record(z.string(), z.unknown()),
    recordSha256: sha256HexSchema,
    legalHold: z.boolean(),
    retainUntil: isoTimestampSchema.optional(),
  }),
  [FACT.holdSet]: z.object({ legalHold: z.literal(true) }),
  [FACT.holdReleased]: z.object({ legalHold: z.literal(false), ...approvalSchema }),
  [FACT.retentionExtended]: z.object({ retainUntil: isoTimestampSchema }),
  [FACT.purged]: z.object(approvalSchema),
  [FACT.policyChanged]: z.object({ version: z.number().int().positive(), hash: sha256HexSchema }),
  [FACT.identityIssued]: z.object({
    name: z.string().min(1),
    serialNumber: z.string().regex(/^[0-9A-F]+$/),
    fingerprintSha256: sha256HexSchema,
    kind: z.enum(["person", "device"]),
    active: z.boolean(),
    requestId: z.string().optional(),
  }),
  [FACT.identityActivated]: z.object({ serialNumber: z.string(), ...approvalSchema }),
  [FACT.identityRevoked]: z.object({ serialNumbers: z.array(z.string()).min(1), ...approvalSchema }),
  [FACT.signerInstalled]: z.object({ serialNumber: z.string(), fingerprintSha256: sha256HexSchema }),
  [FACT.tailAccepted]: z.object({
    fromSeq: z.number().int().nonnegative(),
    count: z.number().int().positive(),
  }),
  // the TSA and the anchors its tokens are checked against live in the log, never in a file beside it
  [FACT.tsaAdded]: z.object({
    url: z.url({ protocol: /^https?$/ }),
    trustAnchorsPem: z
      .array(
        z
          .string()
          .min(1)
          .max(64 * 1024),
      )
      .min(1)
      .max(8),
    policy: z
      .string()
      .regex(/^[0-2](\.(0|[1-9][0-9]*))+$/)
      .optional(),
  }),
  ...deviceFactSchemas,
  ...libraryFactSchemas,
  ...responseFactSchemas,
  ...remediationFactSchemas,
} as const;

export type FactDetails<A extends FactAction> = z.infer<(typeof factSchemas)[A]>;

/** The audit target of one item: a case's copy of some bytes. */
export function itemTarget(caseId: string, id: string): string {
  return `item:${caseId}/${id}`;
}
