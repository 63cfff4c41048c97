import { z } from "zod";

/** The agent's wire protocol: versioned, zod-validated frames shared by the agent and the server. */
export const PROTOCOL_VERSION = 1;

/** Every frame, in both directions, is this envelope around a body that its type `t` defines. */
export const envelopeSchema = z.strictObject({
  v: z.literal(PROTOCOL_VERSION),
  t: z.string().regex(/^[a-z][a-z-]{0,31}$/),
  id: z.string().min(1).max(64),
  seq: z.number().int().nonnegative(),
  ts: z.iso.datetime(),
  body: z.record(z.string(), z.unknown()),
});

export type Envelope = z.infer<typeof envelopeSchema>;
