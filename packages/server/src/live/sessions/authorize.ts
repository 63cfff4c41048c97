import type { AuditRecord } from "@custody/audit";
import { CustodyError } from "@custody/core";
import type { AuthenticatedPrincipal, Vault } from "@custody/vault";
import type { LiveSession } from "./session.js";

/** The three routes to execution: a command submitted, a queued one leaving for the device, a `-auto` prerequisite. */
export type AuthorizationPhase = "submit" | "dispatch" | "prerequisite";

/** What is being authorized: the command and the registry action it needs. */
export interface CommandToAuthorize {
  cmdId: string;
  name: string;
  line: string;
  action: "live.basic" | "live.advanced";
  prerequisiteOf?: string;
}

export interface AuthorizerDeps {
  vault: Vault;
  /** The vault's live-response setting, read at each decision. */
  isLiveResponseOn(): Promise<boolean>;
  /** A session past its idle limit is closed, even if its timer has not fired yet. */
  isExpired(session: LiveSession): boolean;
}

/**
 * The one authorization every route to execution calls, at every phase: live response on, the session
 * the principal's own and open, and the registry action granted on BOTH the device and the session's
 * case. The decision (allow or deny) is in the audit log, as `live.command`, before this returns; a
 * denial throws and nothing is sent.
 */
export async function authorizeCommand(
  deps: AuthorizerDeps,
  principal: AuthenticatedPrincipal,
  command: CommandToAuthorize,
  session: LiveSession,
  phase: AuthorizationPhase,
): Promise<AuditRecord> {
  const refusal = await refusalOf(deps, principal, session);
  return deps.vault.decideLive(principal, {
    auditAction: "live.command",
    checks: [
      { action: command.action, resource: { kind: "device", deviceId: session.deviceId } },
      { action: command.action, resource: { kind: "case", caseId: session.caseId } },
    ],
    target: `device:${session.deviceId}`,
    details: {
      sessionId: session.id,
      caseId: session.caseId,
      cmdId: command.cmdId,
      command: command.name,
      line: command.line,
      phase,
      ...(command.prerequisiteOf === undefined ? {} : { prerequisiteOf: command.prerequisiteOf }),
    },
    ...(refusal === undefined ? {} : { refusal }),
  });
}

/** The refusal while the vault's live-response setting is off (sessions and commands alike). */
export function liveResponseOff(): CustodyError {
  return new CustodyError(
    "ERR_LIVE_RESPONSE_OFF",
    "live response is off in this vault (a custodian turns it on)",
  );
}

async function refusalOf(
  deps: AuthorizerDeps,
  principal: AuthenticatedPrincipal,
  session: LiveSession,
): Promise<CustodyError | undefined> {
  if (!(await deps.isLiveResponseOn())) return liveResponseOff();
  if (session.principal.id !== principal.id) {
    return new CustodyError("ERR_ACCESS_DENIED", `session ${session.id} is not ${principal.id}'s`);
  }
  if (session.closedAt !== undefined || deps.isExpired(session)) {
    return new CustodyError("ERR_SESSION_CLOSED", `session ${session.id} is closed`, {
      details: { sessionId: session.id, reason: session.closeReason ?? "idle" },
    });
  }
  return undefined;
}
