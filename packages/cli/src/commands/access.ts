import { resolve } from "node:path";
import type { Scope } from "@custody/access";
import { scopeSchema } from "@custody/access";
import { CustodyError } from "@custody/core";
import type { ApprovalOutcome, GrantRequest } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { reserveOutput } from "../out-file.js";
import { formatTable } from "../table.js";
import { parseExpiry, VAULT_OPTIONS, withVaultApi } from "../vault-context.js";

function printOutcome(ctx: CommandContext, outcome: ApprovalOutcome): number {
  if (ctx.json) ctx.printJson(outcome);
  else if (outcome.status === "pending")
    ctx.out(
      `approval required: request ${outcome.request.id} waits for the other custodian (custody access approve ${outcome.request.id})`,
    );
  else ctx.out(outcome.message);
  return 0;
}

function grantRequest(ctx: CommandContext, withExpiry: boolean): GrantRequest {
  const [name, role] = ctx.positionals;
  const scope = ctx.string("scope") ?? "*";
  if (!scopeSchema.safeParse(scope).success) {
    throw new CustodyError("ERR_USAGE", `--scope is case:ID, device:ID or *, got '${scope}'`);
  }
  const expires = withExpiry ? ctx.string("expires") : undefined;
  return {
    name: String(name),
    role: String(role),
    scope: scope as Scope,
    ...(expires === undefined ? {} : { expiresAt: parseExpiry(expires, new Date()) }),
  };
}

export const accessGrantCommand: CommandSpec = {
  path: ["access", "grant"],
  summary: "give NAME a role over a scope (custodian grants need the second custodian's approval)",
  usage:
    "NAME ROLE [--scope case:ID|device:ID|*] [--expires 8h|DATE]\nRoles: custodian, investigator, responder, analyst, auditor, collector.",
  options: { ...VAULT_OPTIONS, scope: { type: "string" }, expires: { type: "string" } },
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const request = grantRequest(ctx, true);
    return printOutcome(ctx, await withVaultApi(ctx, (api) => api.grant(request)));
  },
};

export const accessRevokeCommand: CommandSpec = {
  path: ["access", "revoke"],
  summary: "take a role over a scope away from NAME",
  usage: "NAME ROLE [--scope case:ID|device:ID|*]",
  options: { ...VAULT_OPTIONS, scope: { type: "string" } },
  positionals: { min: 2, max: 2 },
  async run(ctx) {
    const request = grantRequest(ctx, false);
    return printOutcome(ctx, await withVaultApi(ctx, (api) => api.revoke(request)));
  },
};

export const accessListCommand: CommandSpec = {
  path: ["access", "list"],
  summary: "the current grants, custodians and pending approval requests",
  usage: "",
  options: { ...VAULT_OPTIONS },
  async run(ctx) {
    const listing = await withVaultApi(ctx, (api) => api.listAccess());
    if (ctx.json) {
      ctx.printJson(listing);
      return 0;
    }
    ctx.out(
      `policy version ${listing.version} (${listing.hash.slice(0, 16)}); custodians: ${listing.custodians.join(", ")}`,
    );
    const rows = listing.grants.map((g) => [g.principal, g.role, g.scope, g.expiresAt ?? "", g.grantedBy]);
    ctx.out(formatTable(["PRINCIPAL", "ROLE", "SCOPE", "EXPIRES", "GRANTED BY"], rows));
    for (const r of listing.pendingApprovals)
      ctx.out(`pending ${r.id}: ${r.change.kind} proposed by ${r.proposedBy}, expires ${r.expiresAt}`);
    return 0;
  },
};

export const accessApproveCommand: CommandSpec = {
  path: ["access", "approve"],
  summary: "approve another custodian's request (hold release, purge, custodian change)",
  usage: "REQUEST-ID",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    return printOutcome(ctx, await withVaultApi(ctx, (api) => api.approve(String(ctx.positionals[0]))));
  },
};

export const accessIssueIdentityCommand: CommandSpec = {
  path: ["access", "issue-identity"],
  summary: "issue a login identity for NAME (a custodian's needs the other custodian's approval)",
  usage: `NAME --out FILE [--device]
FILE holds the certificate and its private key (mode 0600): hand it to NAME only. The certificate is
bound to NAME in the audit log by its serial and fingerprint; one minted elsewhere with the CA key does
not log in. With two custodians, an identity for a custodian's name works only once the other custodian
approves (custody access approve REQUEST).`,
  options: { ...VAULT_OPTIONS, out: { type: "string" }, device: { type: "boolean" } },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const out = ctx.string("out");
    if (out === undefined) throw new CustodyError("ERR_USAGE", "issue-identity needs --out FILE");
    const name = String(ctx.positionals[0]);
    // The key file exists (empty, 0600) before the vault issues anything: no certificate without its key.
    const output = await reserveOutput(resolve(ctx.cwd, out), 0o600);
    const issued = await withVaultApi(ctx, (api) =>
      api.issueIdentity(name, ctx.flag("device") ? "device" : "person"),
    ).catch(async (error: unknown) => {
      await output.discard();
      throw error;
    });
    await output.fill(issued.identityPem);
    const file = output.file;
    const summary = {
      ok: true,
      name,
      identity: file,
      serialNumber: issued.serialNumber,
      fingerprintSha256: issued.fingerprintSha256,
      status: issued.status,
      ...(issued.request === undefined ? {} : { request: issued.request }),
    };
    if (ctx.json) ctx.printJson(summary);
    else if (issued.status === "pending")
      ctx.out(
        `identity for ${name} written to ${file}; it logs in once the other custodian approves request ${issued.request?.id} (custody access approve ${issued.request?.id})`,
      );
    else ctx.out(`identity for ${name} written to ${file} (certificate ${issued.serialNumber})`);
    return 0;
  },
};

export const accessRevokeIdentityCommand: CommandSpec = {
  path: ["access", "revoke-identity"],
  summary:
    "revoke every identity certificate issued to NAME (a custodian's needs the other custodian's approval)",
  usage: "NAME",
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const name = String(ctx.positionals[0]);
    const outcome = await withVaultApi(ctx, (api) => api.revokeIdentity(name));
    if (ctx.json) ctx.printJson({ ok: true, name, ...outcome });
    else if (outcome.status === "pending")
      ctx.out(
        `approval required: request ${outcome.request.id} waits for the other custodian (custody access approve ${outcome.request.id})`,
      );
    else
      ctx.out(
        `revoked ${outcome.revoked.length} identity certificate(s) of ${name}: ${outcome.revoked.map((r) => r.serialNumber).join(", ")}`,
      );
    return 0;
  },
};

export const accessWhoamiCommand: CommandSpec = {
  path: ["access", "whoami"],
  summary: "who the vault takes you for, and your grants",
  usage: "",
  options: { ...VAULT_OPTIONS },
  async run(ctx) {
    const me = await withVaultApi(ctx, (api) => api.whoami());
    if (ctx.json) ctx.printJson(me);
    else {
      ctx.out(`${me.id} (${me.kind}, certificate ${me.serialNumber}, sha256 ${me.fingerprintSha256})`);
      for (const g of me.grants)
        ctx.out(`  ${g.role} over ${g.scope}${g.expiresAt ? ` until ${g.expiresAt}` : ""}`);
    }
    return 0;
  },
};
