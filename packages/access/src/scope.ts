import { z } from "zod";
import type { ScopeKind } from "./roles.js";

/** Case, device and item ids: printable, no separators a path or a scope string could trip over. */
export const scopeIdSchema = z
  .string()
  .regex(
    /^[A-Za-z0-9][A-Za-z0-9._@-]{0,127}$/,
    "ids are letters, digits, '.', '_', '@' and '-', at most 128",
  );

/** `*`, `case:ID` or `device:ID`. */
export const scopeSchema = z.union([
  z.literal("*"),
  z.templateLiteral(["case:", scopeIdSchema]),
  z.templateLiteral(["device:", scopeIdSchema]),
]);

export type Scope = "*" | `case:${string}` | `device:${string}`;

export const RESOURCE_KINDS = ["case", "device", "item", "audit", "policy", "vault"] as const;
export type ResourceKind = (typeof RESOURCE_KINDS)[number];

export const resourceSchema = z.strictObject({
  kind: z.enum(RESOURCE_KINDS),
  caseId: scopeIdSchema.optional(),
  deviceId: scopeIdSchema.optional(),
  itemId: z.string().min(1).max(200).optional(),
});

/** What an action is done to. An item carries the case and device it belongs to. */
export type Resource = z.infer<typeof resourceSchema>;

export function scopeKind(scope: Scope): ScopeKind {
  if (scope === "*") return "*";
  return scope.startsWith("case:") ? "case" : "device";
}

/** A scope covers a resource when it is `*` or names the resource's case or device. */
export function scopeCovers(scope: Scope, resource: Resource): boolean {
  switch (scopeKind(scope)) {
    case "*":
      return true;
    case "case":
      return resource.caseId !== undefined && scope === `case:${resource.caseId}`;
    case "device":
      return resource.deviceId !== undefined && scope === `device:${resource.deviceId}`;
  }
}

/** `item i1 (case A, device h1)`, `case A`, `audit`: for reasons a person reads. */
export function describeResource(resource: Resource): string {
  const { kind, caseId, deviceId, itemId } = resource;
  if (kind === "case" && caseId !== undefined)
    return deviceId === undefined ? `case ${caseId}` : `case ${caseId} (device ${deviceId})`;
  if (kind === "device" && deviceId !== undefined)
    return caseId === undefined ? `device ${deviceId}` : `device ${deviceId} (case ${caseId})`;
  const context = [
    caseId === undefined ? "" : `case ${caseId}`,
    deviceId === undefined ? "" : `device ${deviceId}`,
  ];
  const where = context.filter((part) => part !== "").join(", ");
  const head = itemId === undefined ? kind : `${kind} ${itemId}`;
  return where === "" ? head : `${head} (${where})`;
}
