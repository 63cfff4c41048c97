import { auditOutcomeSchema } from "@custody/audit";
import { isoTimestampSchema, sha256HexSchema } from "@custody/core";
import { z } from "zod";
import { ALERT_FORMAT, ALERT_SEVERITIES } from "./alert.js";
import { ruleIdSchema } from "./rule-schema.js";

/** An alert as a receiver gets it (the webhook body): validate it before trusting any field. */
export const alertSchema = z.strictObject({
  format: z.literal(ALERT_FORMAT),
  id: z.uuid(),
  rule: ruleIdSchema,
  severity: z.enum(ALERT_SEVERITIES),
  summary: z.string().max(4096),
  time: isoTimestampSchema,
  record: z.strictObject({
    seq: z.number().int().nonnegative(),
    time: isoTimestampSchema,
    actor: z.string().min(1).max(1024),
    action: z.string().min(1).max(1024),
    target: z.string().min(1).max(1024),
    outcome: auditOutcomeSchema,
    reason: z.string().max(500),
    hash: sha256HexSchema,
  }),
  burst: z
    .strictObject({
      count: z.number().int().positive(),
      windowMs: z.number().int().positive(),
      firstSeq: z.number().int().nonnegative(),
    })
    .optional(),
});
