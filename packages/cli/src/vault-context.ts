import { join } from "node:path";
import { CustodyError, isCustodyError } from "@custody/core";
import {
  type AuthenticatedPrincipal,
  bindVault,
  type ItemSelector,
  readIdentityFile,
  readVaultConfig,
  resolveVaultDir,
  Vault,
  type VaultApi,
} from "@custody/vault";
import { configuredStore } from "./azure-store.js";
import type { CommandContext } from "./command.js";
import { lockHolderHint } from "./lock-hint.js";
import { openRemoteVault } from "./remote.js";
import { serverUrl } from "./server-url.js";

/** Options every vault command takes: a local vault (--vault) or a server (--server, --ca). */
export const VAULT_OPTIONS = {
  vault: { type: "string" },
  identity: { type: "string" },
  server: { type: "string" },
  ca: { type: "string" },
} as const;

/** Where `custody init` leaves the first custodian's identity unless told otherwise. */
export const OWNER_IDENTITY = join("identities", "owner.pem");

export function vaultDir(ctx: CommandContext): string {
  return resolveVaultDir(ctx.string("vault"), ctx.env, ctx.cwd);
}

/** The caller's identity file: --identity, then CUSTODY_IDENTITY, then the owner's file in the vault. */
export function identityFile(ctx: CommandContext, dir: string): string {
  return ctx.string("identity") ?? ctx.env.CUSTODY_IDENTITY ?? join(dir, OWNER_IDENTITY);
}

/** Opens the vault and authenticates the caller: --identity, then CUSTODY_IDENTITY, then the owner's file. */
export async function openVaultAs(
  ctx: CommandContext,
): Promise<{ vault: Vault; principal: AuthenticatedPrincipal }> {
  return openAndAuthenticate(ctx).catch((error: unknown) => {
    throw unparsableVaultFile(error, vaultDir(ctx));
  });
}

async function openAndAuthenticate(
  ctx: CommandContext,
): Promise<{ vault: Vault; principal: AuthenticatedPrincipal }> {
  const dir = vaultDir(ctx);
  const store = await configuredStore((await readVaultConfig(dir)).store, ctx.env, { logger: ctx.logger });
  const vault = await openWhenFree(
    // A command's process serves nobody else: its audit appends may block it (not `custody serve`).
    () =>
      Vault.open({
        dir,
        logger: ctx.logger,
        blockingAuditWrites: true,
        ...(store === undefined ? {} : { store }),
      }),
    dir,
    ctx.env,
  );
  try {
    const principal = vault.authenticate(
      await readIdentityFile(identityFile(ctx, dir)),
      ctx.env.CUSTODY_IDENTITY_PASSPHRASE,
    );
    return { vault, principal };
  } catch (error) {
    await vault.close();
    throw error;
  }
}

const LOCK_POLL_MS = 100;

/**
 * One process writes a vault's audit log at a time. Commands wait their turn (up to
 * CUSTODY_LOCK_TIMEOUT_MS, 10 s by default) instead of failing at once, so parallel CI steps serialize.
 */
async function openWhenFree(open: () => Promise<Vault>, dir: string, env: NodeJS.ProcessEnv): Promise<Vault> {
  const waitMs = Number(env.CUSTODY_LOCK_TIMEOUT_MS ?? 10_000);
  const deadline = Date.now() + (Number.isFinite(waitMs) ? waitMs : 10_000);
  for (;;) {
    try {
      return await open();
    } catch (error) {
      if (!isCustodyError(error, "ERR_AUDIT_LOCKED")) throw error;
      // A server holds the lock for as long as it runs: waiting would only time out.
      const hint = await lockHolderHint(dir, error);
      if (hint !== undefined || Date.now() >= deadline) throw hint ?? error;
      await new Promise((resolve) => setTimeout(resolve, LOCK_POLL_MS));
    }
  }
}

/**
 * Runs `body` with the caller's view of the vault and closes it whatever happens: the local vault
 * (`bindVault`), or the server of --server / CUSTODY_SERVER through `@custody/client`. Commands see
 * only `VaultApi`, so they print the same output and exit with the same codes either way.
 */
export async function withVaultApi<T>(ctx: CommandContext, body: (api: VaultApi) => Promise<T>): Promise<T> {
  if (serverUrl(ctx) !== undefined) {
    const client = await openRemoteVault(ctx);
    try {
      return await body(client);
    } finally {
      client.close();
    }
  }
  try {
    const { vault, principal } = await openVaultAs(ctx);
    try {
      return await body(bindVault(vault, principal));
    } finally {
      await vault.close();
    }
  } catch (error) {
    throw unparsableVaultFile(error, vaultDir(ctx));
  }
}

/**
 * Runs `body` with the local vault itself, for commands the server's API does not carry yet (disk
 * acquisition reads a device on this machine; the TSA settings and timestamping); --server is refused.
 */
export async function withLocalVault<T>(
  ctx: CommandContext,
  command: string,
  body: (vault: Vault, principal: AuthenticatedPrincipal) => Promise<T>,
): Promise<T> {
  assertLocalVault(ctx, command, "the server's API does not carry it yet");
  try {
    const { vault, principal } = await openVaultAs(ctx);
    try {
      return await body(vault, principal);
    } finally {
      await vault.close();
    }
  } catch (error) {
    throw unparsableVaultFile(error, vaultDir(ctx));
  }
}

/** A command that needs the vault's own files or keys (init, triage, accept-tail) refuses --server. */
export function assertLocalVault(ctx: CommandContext, command: string, why: string): void {
  const server = serverUrl(ctx);
  if (server === undefined) return;
  throw new CustodyError(
    "ERR_USAGE",
    `${command} works on a local vault only (${why}); it cannot run through the server ${server}: unset CUSTODY_SERVER or run it on the server's machine with --vault`,
  );
}

/** Options of commands that name one item: its id, and its case when the same bytes sit in several. */
export const ITEM_OPTIONS = { ...VAULT_OPTIONS, case: { type: "string" } } as const;

/** The item a command names: the first positional, and --case when given. */
export function itemSelector(ctx: CommandContext): ItemSelector {
  const id = String(ctx.positionals[0]);
  const caseId = ctx.string("case");
  return caseId === undefined ? id : { id, caseId };
}

/**
 * A vault file that does not parse (JSON or PEM edited or damaged on disk) is an integrity finding
 * with a code, never a raw SyntaxError; the libraries give most such files their own code already.
 */
export function unparsableVaultFile(error: unknown, dir: string): unknown {
  if (!(error instanceof SyntaxError)) return error;
  return new CustodyError(
    "ERR_INTEGRITY_MISMATCH",
    `a file of the vault at ${dir} does not parse (edited or damaged on disk): ${error.message}`,
    { cause: error, details: { vault: dir } },
  );
}

/** `--label K=V` values as a record; a malformed one is a usage error. */
export function parseLabels(values: string[]): Record<string, string> {
  const labels: Record<string, string> = {};
  for (const value of values) {
    const at = value.indexOf("=");
    if (at <= 0) throw new CustodyError("ERR_USAGE", `--label takes KEY=VALUE, got '${value}'`);
    labels[value.slice(0, at)] = value.slice(at + 1);
  }
  return labels;
}

/** A whole number option; a malformed one is a usage error. */
export function intOption(ctx: CommandContext, name: string): number | undefined {
  const value = ctx.string(name);
  if (value === undefined) return undefined;
  if (!/^\d{1,6}$/.test(value))
    throw new CustodyError("ERR_USAGE", `--${name} takes a whole number, got '${value}'`);
  return Number(value);
}

/** `8h`, `30m`, `7d` or an ISO date, as an absolute time. */
export function parseExpiry(value: string, now: Date): Date {
  const relative = /^(\d{1,5})([mhd])$/.exec(value);
  if (relative) {
    const unit = { m: 60_000, h: 3_600_000, d: 86_400_000 }[relative[2] as "m" | "h" | "d"];
    return new Date(now.getTime() + Number(relative[1]) * unit);
  }
  const absolute = Date.parse(value);
  if (Number.isNaN(absolute) || !/^\d{4}-\d{2}-\d{2}/.test(value)) {
    throw new CustodyError(
      "ERR_USAGE",
      `'${value}' is neither a duration (8h, 30m, 7d) nor a date (2027-01-31)`,
    );
  }
  return new Date(absolute);
}
