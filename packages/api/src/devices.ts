import { isoTimestampSchema } from "@custody/core";
import { z } from "zod";
import { caseIdSchema } from "./requests.js";

// Requests and answers of the device and live-response settings routes (issue 13).

/** `D-` and 26 Crockford base32 characters. */
export const deviceIdSchema = z
  .string()
  .regex(/^D-[0-9A-HJKMNP-TV-Z]{26}$/, "a device id is D- and 26 characters");

export const deviceParamsSchema = z.strictObject({ id: deviceIdSchema });

const WEEK_MS = 7 * 24 * 3_600_000;

export const enrollmentTokenBodySchema = z
  .strictObject({
    caseId: caseIdSchema.optional(),
    expiresInMs: z.number().int().min(1000).max(WEEK_MS).optional(),
    uses: z.number().int().min(1).max(1000).optional(),
  })
  .nullish();

export const liveResponseBodySchema = z.strictObject({ enabled: z.boolean() });

/** What an agent says of its device: bounded text without control characters; shown, trusted for nothing. */
const factText = (max: number) =>
  z
    .string()
    .regex(new RegExp(`^[^\\p{Cc}]{1,${max}}$`, "u"), `1 to ${max} characters, no control characters`);

export const deviceFactsBodySchema = z.strictObject({
  hostname: factText(255),
  os: factText(64),
  arch: factText(32),
  agentVersion: factText(64),
});

/** `POST /v1/enroll`: the token, the device's PKCS#10 request (PEM), and its facts. */
export const enrollBodySchema = z.strictObject({
  token: z.string().min(1).max(200),
  csrPem: z
    .string()
    .min(1)
    .max(12 * 1024),
  facts: deviceFactsBodySchema,
});

export const enrollmentSchema = z.object({
  deviceId: deviceIdSchema,
  certificatePem: z.string(),
  caPem: z.string(),
});

export const enrollmentTokenSchema = z.object({
  token: z.string(),
  tokenId: z.string(),
  expiresAt: isoTimestampSchema,
  uses: z.number().int(),
  caseId: z.string().optional(),
});

export const deviceRecordSchema = z.object({
  deviceId: deviceIdSchema,
  hostname: z.string(),
  os: z.string(),
  arch: z.string(),
  agentVersion: z.string(),
  state: z.enum(["active", "quarantined", "revoked"]),
  quarantineReason: z.string().optional(),
  caseId: z.string().optional(),
  enrolledAt: isoTimestampSchema,
  tokenId: z.string(),
  serialNumbers: z.array(z.string()),
  online: z.boolean(),
  lastSeen: isoTimestampSchema.nullable(),
});

export const deviceRecordsSchema = z.array(deviceRecordSchema);

export const liveResponseSettingSchema = z.object({
  enabled: z.boolean(),
  changedAt: isoTimestampSchema.optional(),
  changedBy: z.string().optional(),
});
