import { CustodyError, canonicalJson, isCustodyError } from "@custody/core";
import { createInitialPolicy, isPolicyChange, policyHash } from "./policy.js";
import type { AccessPolicy, PolicyEvent } from "./schema.js";
import { type PolicyVersionStorage, toPolicyStorage } from "./storage.js";
import { applyTransition, approveTransition, cancelTransition, proposeTransition } from "./transitions.js";
import { parsePolicy } from "./validate.js";

/** One stored version and its hash. */
export interface PolicyVersion {
  policy: AccessPolicy;
  hash: string;
}

/**
 * Reads and checks versions after `from` (or all of them): each file is the canonical form of a valid
 * policy, numbered as its name says, names its predecessor's hash, and is exactly what its recorded
 * event does to its predecessor, so a hand edit anywhere is refused with ERR_POLICY_INVALID.
 */
export async function loadVersions(
  where: string | PolicyVersionStorage,
  from?: PolicyVersion,
): Promise<PolicyVersion[]> {
  const storage = toPolicyStorage(where);
  const numbers = await storage.list();
  const start = from === undefined ? 1 : from.policy.version + 1;
  const wanted = numbers.filter((n) => n >= start);
  if (from === undefined && numbers.length === 0) {
    throw new CustodyError("ERR_NOT_FOUND", `no access policy in ${storage.description}`, {
      details: { dir: storage.description },
    });
  }
  const loaded: PolicyVersion[] = [];
  let previous = from;
  for (const [index, version] of wanted.entries()) {
    if (version !== start + index) throw invalid(version, `version ${start + index} is missing`);
    const current = await loadOne(storage, version, previous);
    loaded.push(current);
    previous = current;
  }
  return loaded;
}

async function loadOne(
  storage: PolicyVersionStorage,
  version: number,
  previous: PolicyVersion | undefined,
): Promise<PolicyVersion> {
  const bytes = await storage.read(version);
  const policy = parseFile(bytes, version);
  if (policy.version !== version) throw invalid(version, `the file says it is version ${policy.version}`);
  const hash = policyHash(policy);
  if (previous === undefined) {
    if (version !== 1) throw invalid(version, "the history does not start at version 1");
    const initial = createInitialPolicy({
      custodian: policy.event.by,
      at: new Date(policy.event.at),
      roles: policy.roles,
    });
    if (canonicalJson(initial) !== canonicalJson(policy))
      throw invalid(version, "it is not a freshly initialized policy");
    return { policy, hash };
  }
  if (policy.previous !== previous.hash) {
    throw invalid(
      version,
      `it names ${policy.previous} as its predecessor, but version ${version - 1} hashes to ${previous.hash}`,
    );
  }
  const replayed = replay(previous.policy, policy.event, policy, version);
  if (canonicalJson(replayed) !== canonicalJson(policy)) {
    throw invalid(
      version,
      "it is not what its recorded change makes of the previous version (edited by hand?)",
    );
  }
  return { policy, hash };
}

/** What a full check of a policy directory found: the number of versions and the newest one. */
export interface PolicyHistoryReport {
  versions: number;
  hash: string;
  policy: AccessPolicy;
}

/** Checks a policy directory offline, as `AccessPolicyStore.open` does, without opening a store. */
export async function verifyPolicyHistory(dir: string | PolicyVersionStorage): Promise<PolicyHistoryReport> {
  const versions = await loadVersions(dir);
  const head = versions.at(-1);
  if (head === undefined) throw new CustodyError("ERR_NOT_FOUND", `no access policy in ${dir}`);
  return { versions: versions.length, hash: head.hash, policy: head.policy };
}

function parseFile(bytes: Buffer, version: number): AccessPolicy {
  const text = bytes.toString("utf8");
  let value: unknown;
  try {
    value = JSON.parse(text);
  } catch (cause) {
    throw invalid(version, "it is not JSON", cause);
  }
  let policy: AccessPolicy;
  try {
    policy = parsePolicy(value);
  } catch (cause) {
    throw invalid(version, isCustodyError(cause) ? cause.message : String(cause), cause);
  }
  // Files are written canonical; any other byte sequence was not written by this store.
  if (canonicalJson(policy) !== text) throw invalid(version, "it is not in canonical form (edited by hand?)");
  return policy;
}

function replay(
  previous: AccessPolicy,
  event: PolicyEvent,
  stored: AccessPolicy,
  version: number,
): AccessPolicy {
  const by = { id: event.by, kind: "person" as const };
  const at = new Date(event.at);
  try {
    switch (event.kind) {
      case "init":
        throw invalid(version, "only version 1 is made by init");
      case "apply":
        if (event.change === undefined || !isPolicyChange(event.change))
          throw invalid(version, "no policy change recorded");
        return applyTransition(previous, event.change, by, at).policy;
      case "propose": {
        const request = stored.pendingApprovals.find((r) => r.id === event.requestId);
        if (request === undefined || event.change === undefined)
          throw invalid(version, "the proposed request is missing");
        const input = { at, id: request.id, expiresAt: new Date(request.expiresAt) };
        return proposeTransition(previous, event.change, by, input).policy;
      }
      case "approve":
        return approveTransition(previous, requestIdOf(event, version), by, at).policy;
      case "cancel":
        return cancelTransition(previous, requestIdOf(event, version), by, at).policy;
    }
  } catch (cause) {
    if (isCustodyError(cause, "ERR_POLICY_INVALID")) throw cause;
    throw invalid(
      version,
      `its recorded change does not apply to version ${version - 1}: ${String((cause as Error).message)}`,
      cause,
    );
  }
}

function requestIdOf(event: PolicyEvent, version: number): string {
  if (event.requestId === undefined) throw invalid(version, "no request id recorded");
  return event.requestId;
}

function invalid(version: number, why: string, cause?: unknown): CustodyError {
  return new CustodyError("ERR_POLICY_INVALID", `policy version ${version} is refused: ${why}`, {
    cause,
    details: { version },
  });
}
