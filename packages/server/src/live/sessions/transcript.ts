import { createHash } from "node:crypto";
import { canonicalJson, type JsonValue } from "@custody/core";
import type { LiveLimits } from "./limits.js";
import type { CommandEntry, LiveSession } from "./session.js";

export const TRANSCRIPT_FORMAT = "custody.live.transcript/v1";

/**
 * The session's transcript: canonical JSON lines, a header (device, analyst, case, times, limits), one
 * line per command of the log (outputs by digest), and a closing line with the count and the reason.
 */
export function buildTranscript(
  session: LiveSession,
  commands: readonly CommandEntry[],
  limits: LiveLimits,
): { bytes: Buffer; sha256: string } {
  const closedAt = session.closedAt ?? new Date();
  const lines: JsonValue[] = [
    {
      format: TRANSCRIPT_FORMAT,
      kind: "header",
      sessionId: session.id,
      deviceId: session.deviceId,
      caseId: session.caseId,
      analyst: session.principal.id,
      analystFingerprintSha256: session.principal.fingerprintSha256,
      openedAt: session.createdAt.toISOString(),
      limits: {
        idleMs: limits.idleMs,
        maxGetfileBytes: limits.maxGetfileBytes,
        sessionsPerUser: limits.sessionsPerUser,
        sessionsPerDevice: limits.sessionsPerDevice,
      },
    },
    ...commands.map(
      (entry) => ({ kind: "command", ...(JSON.parse(JSON.stringify(entry)) as object) }) as JsonValue,
    ),
    {
      kind: "close",
      sessionId: session.id,
      closedAt: closedAt.toISOString(),
      reason: session.closeReason ?? "closed",
      durationMs: closedAt.getTime() - session.createdAt.getTime(),
      commands: commands.length,
    },
  ];
  const bytes = Buffer.from(lines.map((line) => `${canonicalJson(line)}\n`).join(""), "utf8");
  return { bytes, sha256: createHash("sha256").update(bytes).digest("hex") };
}
