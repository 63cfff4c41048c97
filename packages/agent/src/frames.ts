import { randomUUID } from "node:crypto";
import type { z } from "zod";
import { protocolError } from "./protocol-error.js";
import {
  AGENT_FRAMES,
  envelopeSchema,
  type Frame,
  type FrameBodies,
  type FrameSender,
  type FrameType,
  MAX_FRAME_BYTES,
  MAX_ROWS_FRAME_BYTES,
  PROTOCOL_VERSION,
  SERVER_FRAMES,
} from "./schemas.js";

export interface EncodeOptions {
  seq: number;
  /** Frame id; a random UUID by default. */
  id?: string;
  /** Injectable clock for the `ts` field. */
  now?: () => Date;
  maxBytes?: number;
}

export interface DecodeOptions {
  /** Who sent the frame: an agent may not send `command`, a server may not send `result`. */
  from: FrameSender;
  maxBytes?: number;
}

const encoder = new TextEncoder();

function schemaFor(type: string, from: FrameSender): z.ZodType | undefined {
  const table: Record<string, z.ZodType> = from === "agent" ? AGENT_FRAMES : SERVER_FRAMES;
  return Object.hasOwn(table, type) ? table[type] : undefined;
}

function senderOf(type: FrameType): FrameSender {
  return Object.hasOwn(AGENT_FRAMES, type) ? "agent" : "server";
}

function frameLimit(type: string, maxBytes: number): number {
  return type === "rows" ? Math.min(maxBytes, MAX_ROWS_FRAME_BYTES) : maxBytes;
}

/** Validates `body` against its type's schema and serializes the frame; refuses what the peer would refuse. */
export function encodeFrame<T extends FrameType>(
  type: T,
  body: FrameBodies[T],
  options: EncodeOptions,
): string {
  const schema = schemaFor(type, senderOf(type));
  const parsed = schema?.safeParse(body);
  if (parsed === undefined || !parsed.success) {
    throw protocolError(
      "body",
      `the ${type} frame body is invalid: ${parsed?.error.message ?? "unknown type"}`,
    );
  }
  const frame = {
    v: PROTOCOL_VERSION,
    t: type,
    id: options.id ?? randomUUID(),
    seq: options.seq,
    ts: (options.now?.() ?? new Date()).toISOString(),
    body: parsed.data,
  };
  const envelope = envelopeSchema.safeParse(frame);
  if (!envelope.success)
    throw protocolError("envelope", `the frame envelope is invalid: ${envelope.error.message}`);
  const text = JSON.stringify(frame);
  const bytes = encoder.encode(text).byteLength;
  const limit = frameLimit(type, options.maxBytes ?? MAX_FRAME_BYTES);
  if (bytes > limit)
    throw protocolError("too-large", `the ${type} frame is ${bytes} bytes, over ${limit}`, { bytes, limit });
  return text;
}

/** Keys that would reach an object's prototype when a parsed value is later merged somewhere. */
function refuseProtoKeys(key: string, value: unknown): unknown {
  if (key === "__proto__" || key === "constructor") throw new SyntaxError(`forbidden key ${key}`);
  return value;
}

/** Parses and validates one text frame from `from`: size first, then JSON, envelope, type, body. */
export function decodeFrame(data: string | Uint8Array, options: DecodeOptions): Frame {
  const maxBytes = options.maxBytes ?? MAX_FRAME_BYTES;
  const bytes = typeof data === "string" ? encoder.encode(data).byteLength : data.byteLength;
  if (bytes > maxBytes)
    throw protocolError("too-large", `frame of ${bytes} bytes, over ${maxBytes}`, { bytes, limit: maxBytes });
  let raw: unknown;
  try {
    const text = typeof data === "string" ? data : new TextDecoder("utf-8", { fatal: true }).decode(data);
    raw = JSON.parse(text, refuseProtoKeys);
  } catch (cause) {
    throw protocolError("not-json", `the frame is not valid JSON: ${(cause as Error).message}`);
  }
  const envelope = envelopeSchema.safeParse(raw);
  if (!envelope.success)
    throw protocolError("envelope", `the frame envelope is invalid: ${envelope.error.message}`);
  const { t } = envelope.data;
  const schema = schemaFor(t, options.from);
  if (schema === undefined)
    throw protocolError("unknown-type", `a ${options.from} may not send a ${t} frame`, { type: t });
  const limit = frameLimit(t, maxBytes);
  if (bytes > limit)
    throw protocolError("too-large", `${t} frame of ${bytes} bytes, over ${limit}`, { bytes, limit });
  const body = schema.safeParse(envelope.data.body);
  if (!body.success)
    throw protocolError("body", `the ${t} frame body is invalid: ${body.error.message}`, { type: t });
  return { ...envelope.data, body: body.data } as Frame;
}
