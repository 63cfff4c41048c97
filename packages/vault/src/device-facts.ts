import { scopeIdSchema } from "@custody/access";
import type { AuditRecord } from "@custody/audit";
import { CustodyError, isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";

/** The facts of live response: enrollment tokens, devices and the vault's live-response setting. */
export const DEVICE_FACT = {
  tokenMade: "device.token-made",
  tokenUsed: "device.token-used",
  enrolled: "device.enrolled",
  /** One per agent connection: the hash of the nonce it was given, which it must show next time. */
  connected: "device.connected",
  quarantined: "device.quarantined",
  approved: "device.approved",
  revoked: "device.revoked",
  liveResponseSet: "settings.live-response",
} as const;

export type DeviceFactAction = (typeof DEVICE_FACT)[keyof typeof DEVICE_FACT];

/** `D-` and 26 Crockford base32 characters: 128 random bits. */
export const DEVICE_ID_PATTERN = /^D-[0-9A-HJKMNP-TV-Z]{26}$/;
const deviceIdSchema = z.string().regex(DEVICE_ID_PATTERN);
const serialSchema = z.string().regex(/^[0-9A-F]+$/);

/** What an agent says of its device at enrollment (shown by `devices list`; not trusted for anything). */
export const deviceFactsSchema = z.strictObject({
  hostname: z.string().min(1).max(255),
  os: z.string().min(1).max(64),
  arch: z.string().min(1).max(32),
  agentVersion: z.string().min(1).max(64),
});

export type DeviceFacts = z.infer<typeof deviceFactsSchema>;

export const deviceFactSchemas = {
  [DEVICE_FACT.tokenMade]: z.object({
    tokenId: z.string().regex(/^[A-Za-z0-9_-]{16}$/),
    secretSha256: sha256HexSchema,
    caseId: scopeIdSchema.optional(),
    expiresAt: isoTimestampSchema,
    uses: z.number().int().positive(),
  }),
  [DEVICE_FACT.tokenUsed]: z.object({
    tokenId: z.string(),
    deviceId: deviceIdSchema,
    usesLeft: z.number().int().nonnegative(),
  }),
  [DEVICE_FACT.enrolled]: z.object({
    deviceId: deviceIdSchema,
    serialNumber: serialSchema,
    fingerprintSha256: sha256HexSchema,
    publicKeySha256: sha256HexSchema,
    facts: deviceFactsSchema,
    factsSha256: sha256HexSchema,
    tokenId: z.string(),
    caseId: scopeIdSchema.optional(),
  }),
  [DEVICE_FACT.connected]: z.object({ deviceId: deviceIdSchema, nonceSha256: sha256HexSchema }),
  [DEVICE_FACT.quarantined]: z.object({ deviceId: deviceIdSchema, reason: z.string().min(1).max(500) }),
  [DEVICE_FACT.approved]: z.object({ deviceId: deviceIdSchema }),
  [DEVICE_FACT.revoked]: z.object({ deviceId: deviceIdSchema, serialNumbers: z.array(serialSchema).min(1) }),
  [DEVICE_FACT.liveResponseSet]: z.object({ enabled: z.boolean() }),
} as const;

type Details<A extends DeviceFactAction> = z.infer<(typeof deviceFactSchemas)[A]>;

export interface LedgerToken {
  readonly tokenId: string;
  readonly secretSha256: string;
  readonly caseId: string | undefined;
  readonly expiresAt: string;
  readonly madeBy: string;
  usesLeft: number;
}

export type DeviceState = "active" | "quarantined" | "revoked";

export interface LedgerDevice {
  readonly deviceId: string;
  readonly facts: DeviceFacts;
  readonly caseId: string | undefined;
  readonly tokenId: string;
  readonly enrolledAt: string;
  serialNumbers: string[];
  state: DeviceState;
  quarantineReason: string | undefined;
  /** sha256 of the last nonce the server handed the agent; undefined until it connects, and after approval. */
  nonceSha256: string | undefined;
  lastConnectedAt: string | undefined;
}

/** An identity the enrollment issued: the ledger registers it so the device logs in like any identity. */
export interface EnrolledIdentity {
  name: string;
  serialNumber: string;
  fingerprintSha256: string;
}

/** What the log states of devices, tokens and the live-response setting (part of the Ledger). */
export class DeviceLedger {
  readonly tokens = new Map<string, LedgerToken>();
  readonly devices = new Map<string, LedgerDevice>();
  liveResponse = false;
  liveResponseChangedAt: string | undefined;
  liveResponseChangedBy: string | undefined;

  /**
   * Applies one device fact. Returns the identity an enrollment issued and the serials a revocation
   * revoked, which the ledger records beside every other identity.
   */
  apply(record: AuditRecord): { issued?: EnrolledIdentity; revoked?: string[] } {
    const action = record.action as DeviceFactAction;
    switch (action) {
      case DEVICE_FACT.tokenMade: {
        const facts = parse(record, action);
        this.tokens.set(facts.tokenId, {
          tokenId: facts.tokenId,
          secretSha256: facts.secretSha256,
          caseId: facts.caseId,
          expiresAt: facts.expiresAt,
          madeBy: record.actor,
          usesLeft: facts.uses,
        });
        return {};
      }
      case DEVICE_FACT.tokenUsed: {
        const facts = parse(record, action);
        const token = this.tokens.get(facts.tokenId);
        if (token === undefined || token.usesLeft <= 0) throw malformed(record, "uses a token it cannot");
        // counted, not copied: two replicas' uses each take one
        token.usesLeft -= 1;
        return {};
      }
      case DEVICE_FACT.enrolled:
        return { issued: this.#enrolled(record, parse(record, action)) };
      case DEVICE_FACT.connected: {
        const facts = parse(record, action);
        const device = this.#device(record, facts.deviceId);
        device.nonceSha256 = facts.nonceSha256;
        device.lastConnectedAt = record.time;
        return {};
      }
      case DEVICE_FACT.quarantined: {
        const facts = parse(record, action);
        const device = this.#device(record, facts.deviceId);
        if (device.state === "revoked") return {};
        device.state = "quarantined";
        device.quarantineReason = facts.reason;
        return {};
      }
      case DEVICE_FACT.approved: {
        const device = this.#device(record, parse(record, action).deviceId);
        if (device.state === "revoked") throw malformed(record, "approves a revoked device");
        device.state = "active";
        device.quarantineReason = undefined;
        // the custodian vouched for whoever connects next: the nonce chain starts again
        device.nonceSha256 = undefined;
        return {};
      }
      case DEVICE_FACT.revoked: {
        const facts = parse(record, action);
        this.#device(record, facts.deviceId).state = "revoked";
        return { revoked: facts.serialNumbers };
      }
      case DEVICE_FACT.liveResponseSet:
        this.liveResponse = parse(record, action).enabled;
        this.liveResponseChangedAt = record.time;
        this.liveResponseChangedBy = record.actor;
        return {};
    }
  }

  #enrolled(record: AuditRecord, facts: Details<typeof DEVICE_FACT.enrolled>): EnrolledIdentity {
    if (this.devices.has(facts.deviceId)) throw malformed(record, "enrolls a device that exists");
    this.devices.set(facts.deviceId, {
      deviceId: facts.deviceId,
      facts: facts.facts,
      caseId: facts.caseId,
      tokenId: facts.tokenId,
      enrolledAt: record.time,
      serialNumbers: [facts.serialNumber],
      state: "active",
      quarantineReason: undefined,
      nonceSha256: undefined,
      lastConnectedAt: undefined,
    });
    return {
      name: facts.deviceId,
      serialNumber: facts.serialNumber,
      fingerprintSha256: facts.fingerprintSha256,
    };
  }

  #device(record: AuditRecord, deviceId: string): LedgerDevice {
    const device = this.devices.get(deviceId);
    if (device === undefined) throw malformed(record, `names device ${deviceId} the log never enrolled`);
    return device;
  }
}

const DEVICE_FACT_ACTIONS: ReadonlySet<string> = new Set(Object.values(DEVICE_FACT));

export function isDeviceFact(action: string): action is DeviceFactAction {
  return DEVICE_FACT_ACTIONS.has(action);
}

function parse<A extends DeviceFactAction>(record: AuditRecord, action: A): Details<A> {
  const parsed = deviceFactSchemas[action].safeParse(record.details);
  if (!parsed.success) throw malformed(record, "has malformed details");
  return parsed.data as Details<A>;
}

function malformed(record: AuditRecord, what: string): CustodyError {
  return new CustodyError(
    "ERR_AUDIT_RECORD_INVALID",
    `audit record ${record.seq} (${record.action}) ${what}`,
    { details: { seq: record.seq, action: record.action } },
  );
}
