import { ERROR_CODES } from "@custody/core";
import { z } from "zod";

/** The agent's wire protocol: versioned, zod-validated frames shared by the agent and the server. */
export const PROTOCOL_VERSION = 1;
/** The WebSocket subprotocol both ends insist on. */
export const AGENT_SUBPROTOCOL = "custody.agent.v1";
/** Largest frame either end accepts (the WebSocket `maxPayload`). */
export const MAX_FRAME_BYTES = 1024 * 1024;
/** Largest `rows` frame: output is chunked so a cancel is never stuck behind a huge frame. */
export const MAX_ROWS_FRAME_BYTES = 256 * 1024;

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

const id = z.string().regex(/^[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/);
const text = (max: number) => z.string().max(max);
const errorCode = z.enum(ERROR_CODES);
/** `D-` and 26 Crockford base32 characters: 128 random bits (the contract's device id). */
export const deviceIdSchema = z.string().regex(/^D-[0-9A-HJKMNP-TV-Z]{26}$/);
const sha256 = z.string().regex(/^[0-9a-f]{64}$/);

export const helloSchema = z.strictObject({
  deviceId: deviceIdSchema,
  agentVersion: text(64).min(1),
  hostname: text(255),
  os: text(64),
  arch: text(32),
  policyHash: sha256,
  prevNonce: text(128).min(1).nullable(),
  capabilities: z.array(text(32)).max(128),
});

export const welcomeSchema = z.strictObject({
  nonce: z.string().min(16).max(128),
  serverTime: z.iso.datetime(),
  maxFrameBytes: z.number().int().min(1024).max(MAX_FRAME_BYTES),
});

export const transferSchema = z.strictObject({
  id,
  path: z.string().regex(/^\/v1\/agent\/transfers\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  expectedSha256: sha256,
  expectedSize: z.number().int().nonnegative(),
  maxBytes: z.number().int().positive(),
});

/**
 * `collect`: where the device PUTs the investigation package it made and signed with its own collector
 * certificate (the server verifies it before storing), the case the manifest names, and the size cap.
 */
export const packageUploadSchema = z.strictObject({
  id,
  path: z.string().regex(/^\/v1\/agent\/packages\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  caseId: text(128).min(1),
  maxBytes: z.number().int().positive(),
});

/** Largest library script sent inline in a command frame (base64 in a frame of at most 1 MiB). */
export const MAX_INLINE_SCRIPT_BYTES = 256 * 1024;
/** Largest detached signature sent with a script. */
export const MAX_SCRIPT_SIGNATURE_BYTES = 64 * 1024;
const base64 = (bytes: number) =>
  z
    .string()
    .max(Math.ceil(bytes / 3) * 4)
    .regex(/^[A-Za-z0-9+/]*={0,2}$/);

/**
 * `run`: the library script and its detached CMS signature, which the agent verifies itself against its
 * pinned vault CA (script-signer role) and the vault's CRL. `allowUnsigned` is the vault's setting; an unsigned script runs
 * only when it is true AND the device's local policy allows unsigned scripts.
 */
export const scriptSchema = z.strictObject({
  name: z.string().regex(/^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/),
  version: z.number().int().positive(),
  sha256,
  contentBase64: base64(MAX_INLINE_SCRIPT_BYTES),
  signatureBase64: base64(MAX_SCRIPT_SIGNATURE_BYTES).optional(),
  /** The vault's current CRL (PEM): a signed script needs one, signed by the pinned CA and not stale. */
  crlPem: z
    .string()
    .max(256 * 1024)
    .optional(),
  allowUnsigned: z.boolean(),
});

/** `remediate`: where the agent announces each file it quarantines before deleting (a transfer comes back). */
export const quarantineSchema = z.strictObject({
  path: z.string().regex(/^\/v1\/agent\/quarantine\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  maxFiles: z.number().int().positive().max(64),
  maxBytes: z.number().int().positive(),
  /**
   * What the session's prerequisite (`fileinfo`) reported of a file: the agent announces that digest
   * without hashing the file once more, and the upload checks the whole file against it all the same.
   */
  expected: z
    .array(z.strictObject({ path: text(4096), sha256, size: z.number().int().nonnegative() }))
    .max(16)
    .optional(),
});

/** Bytes the agent fetches from the server (putfile's library file, undo's quarantine items), by digest. */
export const downloadSchema = z.strictObject({
  id,
  path: z.string().regex(/^\/v1\/agent\/downloads\/[A-Za-z0-9][A-Za-z0-9._:-]{0,127}$/),
  sha256,
  size: z.number().int().nonnegative(),
});

/** One step a remediation took, as the agent reports it; undo gets the steps back (with downloads). */
export const remediationStepSchema = z.strictObject({
  action: z.enum(["quarantine", "delete", "rewrite", "kill", "stop", "disable", "unlink", "reload"]),
  outcome: z.enum(["done", "skipped"]),
  path: text(4096).optional(),
  pid: z.number().int().positive().optional(),
  unit: text(256).optional(),
  sha256: sha256.optional(),
  size: z.number().int().nonnegative().optional(),
  mode: z.number().int().min(0).max(0o7777).optional(),
  /** rewrite: the file's digest once the line was taken out (undo puts the original back only over it). */
  afterSha256: sha256.optional(),
  /** rewrite: the line taken out (1-based) and its text. */
  line: z.number().int().positive().optional(),
  text: text(4096).optional(),
  linkTarget: text(4096).optional(),
  note: text(1024).optional(),
});

/** undo: the remediation's steps, each quarantined file with the download of its bytes. */
export const restoreSchema = z.strictObject({
  remediationId: id,
  type: z.string().max(32),
  steps: z
    .array(z.strictObject({ step: remediationStepSchema, download: downloadSchema.optional() }))
    .max(128),
});

export const commandSchema = z.strictObject({
  cmdId: id,
  sessionId: id,
  deviceId: deviceIdSchema,
  name: z.string().regex(/^[a-z][a-z0-9]{0,31}$/),
  positional: z.array(text(8192)).max(64),
  flags: z.record(z.string().regex(/^[a-z][a-z0-9_]{0,31}$/), z.union([text(8192), z.literal(true)])),
  cwd: text(4096).min(1).nullable(),
  timeoutMs: z
    .number()
    .int()
    .positive()
    .max(24 * 3600 * 1000),
  notAfter: z.iso.datetime(),
  issuedBy: text(256).min(1),
  transfer: transferSchema.optional(),
  script: scriptSchema.optional(),
  package: packageUploadSchema.optional(),
  quarantine: quarantineSchema.optional(),
  download: downloadSchema.optional(),
  restore: restoreSchema.optional(),
});

export const ackSchema = z.union([
  z.strictObject({ cmdId: id, accepted: z.literal(true) }),
  z.strictObject({ cmdId: id, accepted: z.literal(false), code: errorCode, message: text(4096) }),
]);

export const rowsSchema = z.strictObject({
  cmdId: id,
  chunk: z.number().int().nonnegative(),
  rows: z.array(z.record(z.string(), z.unknown())),
});

export const resultSchema = z.strictObject({
  cmdId: id,
  status: z.enum(["completed", "failed", "timed-out", "cancelled"]),
  error: z.strictObject({ code: errorCode, message: text(4096) }).optional(),
  rows: z.number().int().nonnegative(),
  durationMs: z.number().nonnegative(),
  data: z.record(z.string(), z.unknown()).optional(),
  survivors: z.array(z.number().int().positive()).optional(),
});

export const cancelSchema = z.strictObject({ cmdId: id, reason: text(1024) });
export const closeSessionSchema = z.strictObject({ sessionId: id });

/** Frame types by who may send them: a frame from the wrong side is a protocol error. */
export const AGENT_FRAMES = {
  hello: helloSchema,
  ack: ackSchema,
  rows: rowsSchema,
  result: resultSchema,
} as const;
export const SERVER_FRAMES = {
  welcome: welcomeSchema,
  command: commandSchema,
  cancel: cancelSchema,
  "close-session": closeSessionSchema,
} as const;

export type HelloBody = z.infer<typeof helloSchema>;
export type WelcomeBody = z.infer<typeof welcomeSchema>;
export type CommandBody = z.infer<typeof commandSchema>;
export type TransferBody = z.infer<typeof transferSchema>;
export type ScriptBody = z.infer<typeof scriptSchema>;
export type PackageUploadBody = z.infer<typeof packageUploadSchema>;
export type QuarantineBody = z.infer<typeof quarantineSchema>;
export type DownloadBody = z.infer<typeof downloadSchema>;
export type RemediationStep = z.infer<typeof remediationStepSchema>;
export type RestoreBody = z.infer<typeof restoreSchema>;
export type AckBody = z.infer<typeof ackSchema>;
export type RowsBody = z.infer<typeof rowsSchema>;
export type ResultBody = z.infer<typeof resultSchema>;
export type CancelBody = z.infer<typeof cancelSchema>;
export type CloseSessionBody = z.infer<typeof closeSessionSchema>;

export type AgentFrameType = keyof typeof AGENT_FRAMES;
export type ServerFrameType = keyof typeof SERVER_FRAMES;
export type FrameType = AgentFrameType | ServerFrameType;
export type FrameSender = "agent" | "server";

export interface FrameBodies {
  hello: HelloBody;
  welcome: WelcomeBody;
  command: CommandBody;
  ack: AckBody;
  rows: RowsBody;
  result: ResultBody;
  cancel: CancelBody;
  "close-session": CloseSessionBody;
}

/** A decoded frame: the envelope with its body typed by `t` (a tagged union). */
export type Frame = {
  [T in FrameType]: { v: 1; t: T; id: string; seq: number; ts: string; body: FrameBodies[T] };
}[FrameType];

export type AgentFrame = Extract<Frame, { t: AgentFrameType }>;
export type ServerFrame = Extract<Frame, { t: ServerFrameType }>;
