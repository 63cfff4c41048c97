import { z } from "zod";

/** Every action the vault asks about. The set is closed: a policy naming anything else is refused. */
export const ACTIONS = [
  "evidence.ingest",
  "evidence.list",
  "evidence.read",
  "evidence.export",
  "evidence.hold",
  "evidence.release",
  "evidence.retain",
  "evidence.purge",
  "evidence.check",
  "report.read",
  "audit.read",
  "audit.checkpoint",
  "access.grant",
  "access.revoke",
  "access.read",
  "access.approve",
  "identity.issue",
  "keys.rotate",
  "audit.accept",
  // RFC 3161 timestamps: which TSAs the vault trusts for its trusted time
  "timestamp.configure",
  // live response (issue 13): devices, their enrollment, the vault's settings, and the two command tiers
  "device.enroll",
  "device.read",
  "device.manage",
  "settings.manage",
  "live.basic",
  "live.advanced",
  // live-response actions (issue 14): the script and file library, and the known-bad/known-good hash lists
  "library.manage",
  "hashlist.manage",
] as const;

export type Action = (typeof ACTIONS)[number];

export const actionSchema = z.enum(ACTIONS);

const ACTION_SET: ReadonlySet<string> = new Set(ACTIONS);

export function isAction(value: unknown): value is Action {
  return typeof value === "string" && ACTION_SET.has(value);
}

/** Actions that change who may do what; only the custodian role may hold them. */
export const POLICY_ADMIN_ACTIONS: readonly Action[] = [
  "access.grant",
  "access.revoke",
  "access.approve",
  "keys.rotate",
  "audit.accept",
  "timestamp.configure",
  "device.manage",
  "settings.manage",
];
