import { auditOutcomeSchema } from "@custody/audit";
import { z } from "zod";
import { ALERT_SEVERITIES } from "./alert.js";

/** Rule ids are also syslog MSGIDs (at most 32 printable ASCII characters). */
export const ruleIdSchema = z
  .string()
  .regex(/^[a-z0-9][a-z0-9-]{0,31}$/, "a rule id is 1-32 characters: a-z, 0-9 and '-'");

/** An exact value, or a prefix ending in `*`: no regular expressions, so no rule can be made slow. */
const patternSchema = z
  .string()
  .min(1)
  .max(1024)
  .regex(/^[^*]+\*?$/, "an exact value, or a prefix followed by one '*' at the end");

const FORBIDDEN_SEGMENTS = new Set(["__proto__", "constructor", "prototype"]);

/** A path into the record's details, e.g. `record.package.verified`. */
const detailPathSchema = z
  .string()
  .regex(/^[A-Za-z0-9_-]{1,64}(\.[A-Za-z0-9_-]{1,64}){0,7}$/, "a dotted path of at most 8 names")
  .refine((path) => !path.split(".").some((s) => FORBIDDEN_SEGMENTS.has(s)), "a reserved name in the path");

const scalarSchema = z.union([z.string().max(1024), z.number(), z.boolean(), z.null()]);

const list = <T extends z.ZodType>(item: T) => z.array(item).min(1).max(50);

/**
 * One condition on a record; every field given must hold. `reasonCode` matches the `ERR_…` code the
 * vault writes at the start of the reason of an `error` record.
 */
export const matcherSchema = z
  .strictObject({
    action: list(patternSchema).optional(),
    outcome: list(auditOutcomeSchema).optional(),
    reasonCode: list(z.string().regex(/^ERR_[A-Z0-9_]{1,64}$/)).optional(),
    actor: list(patternSchema).optional(),
    target: list(patternSchema).optional(),
    details: z
      .record(detailPathSchema, scalarSchema)
      .refine((d) => Object.keys(d).length <= 16, "at most 16 detail conditions")
      .optional(),
  })
  .refine((m) => Object.keys(m).length > 0, "a matcher must name at least one condition");

const ruleBase = {
  id: ruleIdSchema,
  severity: z.enum(ALERT_SEVERITIES),
  description: z.string().min(1).max(500),
  /** Any one matcher matching is enough. */
  when: z.array(matcherSchema).min(1).max(20),
};

export const matchRuleSchema = z.strictObject({ ...ruleBase, kind: z.literal("match") });

/** N matching records by one actor within a sliding window; tracks at most `maxActors` actors. */
export const burstRuleSchema = z.strictObject({
  ...ruleBase,
  kind: z.literal("burst"),
  threshold: z.number().int().min(2).max(10_000),
  windowMs: z.number().int().min(1_000).max(86_400_000),
  maxActors: z.number().int().min(1).max(100_000).default(10_000),
});

export const alertRuleSchema = z.discriminatedUnion("kind", [matchRuleSchema, burstRuleSchema]);

export type AlertMatcher = z.infer<typeof matcherSchema>;
export type MatchRule = z.infer<typeof matchRuleSchema>;
export type BurstRule = z.infer<typeof burstRuleSchema>;
export type AlertRule = MatchRule | BurstRule;
