import type { BlobClient, BlobGetPropertiesResponse, ContainerClient } from "@azure/storage-blob";
import { CustodyError, isoTimestampSchema } from "@custody/core";
import { z } from "zod";
import { type BlobRecord, INTERNAL_PREFIX, type ObjectState } from "./blob-record.js";
import { azureErrorCode, statusOf } from "./errors.js";

/*
 * Library-enforced state (legal hold, retention, deletion) when the service enforces nothing: each
 * change is a new numbered blob under .custody/state/<key>/<version>/, created with ifNoneMatch "*",
 * so two writers racing for one revision cannot both win (compare-and-swap on the service).
 */
const stateSchema = z.strictObject({
  legalHold: z.boolean(),
  retainUntil: isoTimestampSchema.optional(),
  deleted: z.boolean(),
  changedAt: isoTimestampSchema,
});

export interface VersionedState {
  state: ObjectState;
  revision: number;
}

export function statePrefix(record: Pick<BlobRecord, "key" | "version">): string {
  return `${INTERNAL_PREFIX}state/${record.key}/${record.version}/`;
}

export async function readLibraryState(
  container: ContainerClient,
  record: BlobRecord,
): Promise<VersionedState> {
  let latest: string | undefined;
  for await (const item of container.listBlobsFlat({ prefix: statePrefix(record) })) latest = item.name;
  if (latest === undefined) return { state: record.initial, revision: 0 };
  const body = await container.getBlobClient(latest).downloadToBuffer();
  const parsed = stateSchema.safeParse(JSON.parse(body.toString("utf8")));
  if (!parsed.success) {
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the state of ${JSON.stringify(record.key)} is damaged`,
      {
        details: { key: record.key, blob: latest },
      },
    );
  }
  const { changedAt: _changedAt, ...state } = parsed.data;
  return { state, revision: Number(latest.slice(-10)) };
}

/** Writes revision `revision`; false when another writer took it first. */
export async function writeLibraryState(
  container: ContainerClient,
  record: BlobRecord,
  revision: number,
  state: ObjectState,
  now: Date,
): Promise<boolean> {
  const name = `${statePrefix(record)}${String(revision).padStart(10, "0")}`;
  const body = JSON.stringify({ ...state, changedAt: now.toISOString() });
  try {
    await container
      .getBlockBlobClient(name)
      .upload(body, Buffer.byteLength(body), { conditions: { ifNoneMatch: "*" } });
    return true;
  } catch (error) {
    if (azureErrorCode(error) === "BlobAlreadyExists" || statusOf(error) === 409 || statusOf(error) === 412)
      return false;
    throw error;
  }
}

export async function removeLibraryState(container: ContainerClient, record: BlobRecord): Promise<void> {
  for await (const item of container.listBlobsFlat({ prefix: statePrefix(record) })) {
    await container.deleteBlob(item.name).catch(() => undefined);
  }
}

/** The state the service itself enforces, as it reports it. */
export function serviceState(
  props: Pick<BlobGetPropertiesResponse, "legalHold" | "immutabilityPolicyExpiresOn">,
): ObjectState {
  const until = props.immutabilityPolicyExpiresOn;
  return {
    legalHold: props.legalHold === true,
    ...(until ? { retainUntil: until.toISOString() } : {}),
    deleted: false,
  };
}

/** Sets hold and/or retention on the service and reads them back: a protection is reported only once confirmed. */
export async function applyServiceProtection(
  blob: BlobClient,
  wanted: { legalHold?: boolean; retainUntil?: Date },
  lockRetention: boolean,
): Promise<ObjectState> {
  if (wanted.retainUntil !== undefined) {
    await blob.setImmutabilityPolicy({
      expiriesOn: wanted.retainUntil,
      policyMode: lockRetention ? "Locked" : "Unlocked",
    });
  }
  if (wanted.legalHold !== undefined) await blob.setLegalHold(wanted.legalHold);
  const state = serviceState(await blob.getProperties());
  const holdOk = wanted.legalHold === undefined || state.legalHold === wanted.legalHold;
  const retainOk =
    wanted.retainUntil === undefined ||
    (state.retainUntil !== undefined &&
      new Date(state.retainUntil).getTime() >= wanted.retainUntil.getTime() - 1000);
  if (!holdOk || !retainOk) {
    throw new CustodyError(
      "ERR_BACKEND_UNAVAILABLE",
      "the service did not confirm the requested protection",
      {
        details: { wanted: { ...wanted, retainUntil: wanted.retainUntil?.toISOString() }, reported: state },
      },
    );
  }
  return state;
}
