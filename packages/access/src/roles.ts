import { z } from "zod";
import { ACTIONS, type Action, actionSchema } from "./actions.js";

/** The kinds of scope a grant may carry: every resource, one case, or one device. */
export const SCOPE_KINDS = ["*", "case", "device"] as const;
export type ScopeKind = (typeof SCOPE_KINDS)[number];

export const roleNameSchema = z
  .string()
  .regex(/^[a-z][a-z0-9-]{0,63}$/, "role names are lower-case letters, digits and '-', at most 64");

export const roleDefinitionSchema = z.strictObject({
  description: z.string().max(500).optional(),
  permissions: z
    .array(actionSchema)
    .min(1)
    .refine((list) => new Set(list).size === list.length, "permissions must not repeat"),
  /** Which scope kinds a grant of this role may carry; absent means any. */
  scopeKinds: z
    .array(z.enum(SCOPE_KINDS))
    .min(1)
    .refine((list) => new Set(list).size === list.length, "scope kinds must not repeat")
    .optional(),
});

export type RoleDefinition = z.infer<typeof roleDefinitionSchema>;

/** The role that changes grants; the two-custodian rule counts its holders. */
export const CUSTODIAN_ROLE = "custodian";

const readOnlyAudit: Action[] = ["audit.read", "audit.checkpoint", "access.read"];

/** The default role table a new policy starts with. A policy may add roles or redefine the others. */
export const DEFAULT_ROLES: Readonly<Record<string, RoleDefinition>> = Object.freeze({
  custodian: {
    description: "changes grants; holds, releases, retention and purge; reads everything",
    permissions: [...ACTIONS],
    scopeKinds: ["*"],
  },
  investigator: {
    description: "lists, reads and exports evidence of the cases in scope; reads their custody reports",
    permissions: ["evidence.list", "evidence.read", "evidence.export", "evidence.check", "report.read"],
  },
  responder: {
    description:
      "collects and ingests evidence into its scope; basic and advanced live-response commands there",
    permissions: ["evidence.ingest", "evidence.list", "device.read", "live.basic", "live.advanced"],
  },
  analyst: {
    description:
      "lists evidence and reads custody reports in scope, never evidence content; basic live-response commands there",
    permissions: ["evidence.list", "report.read", "device.read", "live.basic"],
  },
  auditor: {
    description: "reads the audit log, the policy and every custody report, never evidence content",
    permissions: ["evidence.list", "evidence.check", "report.read", ...readOnlyAudit],
    scopeKinds: ["*"],
  },
  collector: {
    description: "a device or agent identity: ingests into its own device scope only",
    permissions: ["evidence.ingest"],
    scopeKinds: ["device"],
  },
} satisfies Record<string, RoleDefinition>);
