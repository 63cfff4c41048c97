import type { AuditRecord, JsonObject } from "@custody/audit";
import type { JsonValue } from "@custody/core";
import type { AlertMatcher } from "./rule-schema.js";

/** Whether one record satisfies every condition the matcher names. */
export function recordMatches(record: AuditRecord, matcher: AlertMatcher): boolean {
  return (
    listMatches(matcher.action, record.action) &&
    (matcher.outcome === undefined || matcher.outcome.includes(record.outcome)) &&
    (matcher.reasonCode === undefined || matcher.reasonCode.includes(reasonCode(record.reason))) &&
    listMatches(matcher.actor, record.actor) &&
    listMatches(matcher.target, record.target) &&
    detailsMatch(matcher.details, record.details)
  );
}

export function anyMatches(record: AuditRecord, matchers: readonly AlertMatcher[]): boolean {
  return matchers.some((matcher) => recordMatches(record, matcher));
}

/** The vault's error records start their reason with the code: `ERR_INTEGRITY_MISMATCH: …`. */
export function reasonCode(reason: string): string {
  const match = /^(ERR_[A-Z0-9_]+):/.exec(reason);
  return match?.[1] ?? "";
}

function listMatches(patterns: readonly string[] | undefined, value: string): boolean {
  if (patterns === undefined) return true;
  return patterns.some((p) => (p.endsWith("*") ? value.startsWith(p.slice(0, -1)) : value === p));
}

function detailsMatch(conditions: Record<string, JsonValue> | undefined, details: JsonObject): boolean {
  if (conditions === undefined) return true;
  return Object.entries(conditions).every(([path, expected]) => detailAt(details, path) === expected);
}

// Own properties only: a path never reaches a prototype.
function detailAt(details: JsonObject, path: string): JsonValue | undefined {
  let node: JsonValue | undefined = details;
  for (const segment of path.split(".")) {
    if (typeof node !== "object" || node === null || Array.isArray(node)) return undefined;
    if (!Object.hasOwn(node, segment)) return undefined;
    node = (node as JsonObject)[segment];
  }
  return node;
}
