import { CustodyError, type Logger } from "@custody/core";
import { z } from "zod";

/** Bounds shared by the sinks' options and the config file, so both refuse the same values. */
export const deliverySchema = {
  maxQueue: z.number().int().min(1).max(100_000).default(1_000),
  maxAttempts: z.number().int().min(1).max(100).default(8),
  baseDelayMs: z.number().int().min(1).max(60_000).default(500),
  maxDelayMs: z.number().int().min(1).max(3_600_000).default(60_000),
};

export const timeoutMsSchema = z.number().int().min(1).max(600_000);

export interface SinkRuntime {
  logger?: Logger;
  /** Jitter source (Math.random by default). */
  random?: () => number;
}

/** Validates options at the edge with `ERR_INVALID_ARGUMENT` naming the first bad field. */
export function parseOptions<S extends z.ZodType>(schema: S, value: unknown, what: string): z.output<S> {
  const parsed = schema.safeParse(value);
  if (parsed.success) return parsed.data;
  const issue = parsed.error.issues[0];
  throw new CustodyError(
    "ERR_INVALID_ARGUMENT",
    `invalid ${what}: ${issue?.path.join(".") || "(root)"}: ${issue?.message}`,
    { details: { issues: parsed.error.issues } },
  );
}
