import type { AlertRule } from "./rule-schema.js";

/**
 * The rules an engine runs when it is given none, and that an `alerts.json` starts from. Each names
 * the exact records the vault writes for the event (see the README's table, and the tests that drive a
 * real vault into each one).
 */
export const DEFAULT_RULES: readonly AlertRule[] = Object.freeze([
  {
    id: "denial-burst",
    kind: "burst",
    severity: "high",
    description: "one principal was refused 5 times within a minute",
    when: [{ outcome: ["deny"] }],
    threshold: 5,
    windowMs: 60_000,
    maxActors: 10_000,
  },
  {
    id: "integrity-mismatch",
    kind: "match",
    severity: "critical",
    description: "stored evidence (or its record) does not match what the signed log states",
    when: [{ outcome: ["error"], reasonCode: ["ERR_INTEGRITY_MISMATCH"] }],
  },
  {
    id: "package-verification-failed",
    kind: "match",
    severity: "high",
    description: "an investigation package failed verification at ingest (refused, or kept as unverified)",
    when: [
      { action: ["evidence.ingest"], outcome: ["error"], reasonCode: ["ERR_PACKAGE_INVALID"] },
      { action: ["evidence.ingested"], details: { "record.package.verified": false } },
    ],
  },
  {
    id: "legal-hold-released",
    kind: "match",
    severity: "high",
    description: "a legal hold was released",
    when: [{ action: ["evidence.hold-released"] }],
  },
  {
    id: "evidence-purged",
    kind: "match",
    severity: "high",
    description: "an item was purged",
    when: [{ action: ["evidence.purged"] }],
  },
  {
    id: "access-policy-changed",
    kind: "match",
    severity: "high",
    description: "the access policy changed: a grant, a revocation, a role, a custodian, an approval request",
    when: [{ action: ["access.policy-changed"] }],
  },
  {
    id: "identity-changed",
    kind: "match",
    severity: "high",
    description: "an identity was issued, activated or revoked, or a new vault signer installed",
    when: [
      {
        action: ["identity.issued", "identity.activated", "identity.revoked", "keys.signer-installed"],
      },
    ],
  },
  {
    id: "custodian-limit",
    kind: "match",
    severity: "critical",
    description: "an attempt to make a third custodian (or to leave none), or a refused custodian grant",
    when: [
      { outcome: ["error"], reasonCode: ["ERR_CUSTODIAN_LIMIT"] },
      { action: ["access.grant"], outcome: ["deny"], details: { role: "custodian" } },
    ],
  },
  {
    id: "audit-verify-failed",
    kind: "match",
    severity: "critical",
    description: "a verification of the vault's audit log found a problem",
    when: [{ action: ["audit.read"], target: ["audit:verify"], outcome: ["error"] }],
  },
  {
    id: "audit-log-repaired",
    kind: "match",
    severity: "high",
    description: "the audit log was repaired at open, or an unsealed tail was signed or accepted",
    when: [{ action: ["audit.recover", "audit.tail-signed", "audit.tail-accepted"] }],
  },
]);
