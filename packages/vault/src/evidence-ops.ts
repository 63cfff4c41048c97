import type { Readable } from "node:stream";
import type { AccessPolicy, Action, Resource } from "@custody/access";
import { isCustodyError } from "@custody/core";
import type { AuthenticatedPrincipal } from "./identity.js";
import { assertIngestable, examineForIngest, type IngestOptions, openForStore } from "./ingest.js";
import {
  deviceOf,
  type EvidenceItem,
  encodeItemRecord,
  itemKey,
  itemResource,
  RECORD_METADATA_KEY,
  toItem,
} from "./item.js";
import type { Vault } from "./vault.js";

const DAY_MS = 86_400_000;

export async function ingestItem(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  file: string,
  options: IngestOptions,
): Promise<EvidenceItem> {
  const record = await examineForIngest(vault.ingestContext(await vault.crl()), principal, file, options);
  const resource: Resource = { kind: "case", caseId: record.caseId, ...deviceOf(record) };
  const details = {
    source: file,
    size: record.size,
    sha256: record.id,
    kind: record.kind,
    caseId: record.caseId,
  };
  const request = {
    principal,
    action: "evidence.ingest",
    resource,
    target: `item:${record.id}`,
    details,
  } as const;
  return vault.run(request, async () => {
    assertIngestable(record, options);
    const retainDays = options.retainDays ?? vault.config.defaultRetentionDays;
    const stored = await vault.store.create(itemKey(record.id), openForStore(file), {
      expectedSha256: record.id,
      ...(retainDays > 0 ? { retainUntil: new Date(vault.clock.now().getTime() + retainDays * DAY_MS) } : {}),
      legalHold: options.legalHold === true,
      metadata: { [RECORD_METADATA_KEY]: encodeItemRecord(record) },
      ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
    });
    return toItem(stored);
  });
}

/** Items the principal may list (in `caseId` when given); one audit record for the listing. */
export async function listItems(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  options: { caseId?: string } = {},
): Promise<EvidenceItem[]> {
  const resource: Resource =
    options.caseId === undefined ? { kind: "vault" } : { kind: "case", caseId: options.caseId };
  const target = options.caseId === undefined ? "vault" : `case:${options.caseId}`;
  if (options.caseId !== undefined) {
    return vault.run({ principal, action: "evidence.list", resource, target }, () =>
      vault.allItems(options.caseId),
    );
  }
  vault.assertAuthenticated(principal);
  const policy = await vault.policy.refresh();
  if (!holdsActionAnywhere(policy, principal.id, "evidence.list", vault.clock.now())) {
    // Nobody without a listing grant learns even how many items there are.
    return vault.run({ principal, action: "evidence.list", resource, target }, async () => []);
  }
  const all = await vault.allItems();
  const visible = all.filter((item) => vault.allows(policy, principal, "evidence.list", itemResource(item)));
  await vault.audit.append({
    actor: principal.id,
    action: "evidence.list",
    target,
    outcome: "allow",
    reason: `listed ${visible.length} item(s) within the principal's scopes`,
    details: { returned: visible.length },
  });
  return visible;
}

function holdsActionAnywhere(policy: AccessPolicy, id: string, action: Action, now: Date): boolean {
  return policy.grants.some(
    (grant) =>
      grant.principal === id &&
      (grant.expiresAt === undefined || Date.parse(grant.expiresAt) > now.getTime()) &&
      policy.roles[grant.role]?.permissions.includes(action) === true,
  );
}

export async function showItem(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
): Promise<EvidenceItem> {
  const item = await vault.findItem(id);
  return vault.run(vault.itemRequest(principal, "evidence.list", item), async () => item);
}

/** The item's bytes, verified as they stream; a read that fails mid-way is recorded. */
export async function readItem(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
  options: { abortSignal?: AbortSignal } = {},
): Promise<{ item: EvidenceItem; stream: Readable }> {
  const item = await vault.findItem(id);
  return vault.run(vault.itemRequest(principal, "evidence.read", item), async () => {
    const stream = await vault.store.read(itemKey(item.id), options);
    // A read that fails mid-way (a byte changed on disk) is part of the item's history too.
    stream.once("error", (error) => {
      const code = isCustodyError(error) ? error.code : "ERR_IO";
      vault.audit
        .append({
          actor: principal.id,
          action: "evidence.read",
          target: `item:${item.id}`,
          outcome: "error",
          reason: `${code}: ${error.message}`.slice(0, 2000),
          details: { caseId: item.caseId },
        })
        .catch((auditError: unknown) =>
          vault.logger.error({ err: auditError }, "could not record a failed read"),
        );
    });
    return { item, stream };
  });
}

export async function holdItem(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
): Promise<EvidenceItem> {
  const item = await vault.findItem(id);
  return vault.run(vault.itemRequest(principal, "evidence.hold", item), async () =>
    toItem(await vault.store.setLegalHold(itemKey(item.id), true)),
  );
}

export async function extendItemRetention(
  vault: Vault,
  principal: AuthenticatedPrincipal,
  id: string,
  until: Date,
): Promise<EvidenceItem> {
  const item = await vault.findItem(id);
  const request = vault.itemRequest(principal, "evidence.retain", item, { until: until.toISOString() });
  return vault.run(request, async () => toItem(await vault.store.extendRetention(itemKey(item.id), until)));
}
