import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import { DEVICE_FACT } from "./device-facts.js";
import type { Ledger } from "./ledger.js";
import { LIBRARY_FACT } from "./library-facts.js";

// The vault's on/off settings: each stated by a fact of the signed log, read with `device.read`,
// changed by custodians (`settings.manage`), off in a new vault.

/** A setting that is on or off, and who turned it so, when (absent: never changed). */
export interface SwitchSetting {
  enabled: boolean;
  changedAt?: string;
  changedBy?: string;
}

interface Switch {
  /** The audit target of a change (reads name "settings"). */
  readonly target: `settings:${string}`;
  readonly fact: typeof DEVICE_FACT.liveResponseSet | typeof LIBRARY_FACT.unsignedScriptsSet;
  /** What the log states of it now. */
  state(ledger: Ledger): { enabled: boolean; at: string | undefined; by: string | undefined };
  /** The audit reason of a change. */
  reason(enabled: boolean): string;
}

/** Live response: off until a custodian turns it on, as the source document's settings page requires. */
export const LIVE_RESPONSE: Switch = {
  target: "settings:live-response",
  fact: DEVICE_FACT.liveResponseSet,
  state: ({ live }) => ({
    enabled: live.liveResponse,
    at: live.liveResponseChangedAt,
    by: live.liveResponseChangedBy,
  }),
  reason: (enabled) => `live response ${enabled ? "on" : "off"}`,
};

/** Whether library scripts without a signature may run. */
export const UNSIGNED_SCRIPTS: Switch = {
  target: "settings:unsigned-scripts",
  fact: LIBRARY_FACT.unsignedScriptsSet,
  state: ({ library }) => ({
    enabled: library.unsignedScripts,
    at: library.unsignedScriptsChangedAt,
    by: library.unsignedScriptsChangedBy,
  }),
  reason: (enabled) => `unsigned scripts ${enabled ? "allowed" : "refused"}`,
};

function current(ctx: VaultContext, setting: Switch): SwitchSetting {
  const { enabled, at, by } = setting.state(ctx.ledger);
  return {
    enabled,
    ...(at === undefined ? {} : { changedAt: at }),
    ...(by === undefined ? {} : { changedBy: by }),
  };
}

export function readSwitch(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  setting: Switch,
): Promise<SwitchSetting> {
  const request = {
    principal,
    action: "device.read",
    resource: { kind: "vault" },
    target: "settings",
  } as const;
  return ctx.guard.run(request, async () => current(ctx, setting));
}

/** Turns the setting on or off; a change is a fact of the log, setting it as it is states nothing. */
export function setSwitch(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  setting: Switch,
  enabled: boolean,
): Promise<SwitchSetting> {
  const request = {
    principal,
    action: "settings.manage",
    resource: { kind: "vault" },
    target: setting.target,
    details: { enabled },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with(["settings"], async () => {
      if (setting.state(ctx.ledger).enabled !== enabled) {
        await ctx.guard.fact(principal.id, setting.fact, setting.target, setting.reason(enabled), {
          enabled,
        });
      }
      return current(ctx, setting);
    }),
  );
}
