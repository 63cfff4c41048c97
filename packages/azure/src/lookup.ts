import type { BlobGetPropertiesResponse, ContainerClient } from "@azure/storage-blob";
import { CustodyError } from "@custody/core";
import { type BlobRecord, metadataToRecord, type ObjectState } from "./blob-record.js";
import { readLibraryState, serviceState } from "./state.js";

export interface LiveObject {
  record: BlobRecord;
  state: ObjectState;
  props: BlobGetPropertiesResponse;
}

/**
 * The record and current state of a live object. A tombstoned one (a library-mode delete cut short)
 * is ERR_NOT_FOUND, and its blob is removed on the way, conditioned on the etag just read.
 */
export async function readLive(
  container: ContainerClient,
  key: string,
  service: boolean,
): Promise<LiveObject> {
  const blob = container.getBlobClient(key);
  const props = await blob.getProperties();
  const record = metadataToRecord(key, props.metadata);
  const state = service ? serviceState(props) : (await readLibraryState(container, record)).state;
  if (state.deleted) {
    await blob.delete({ conditions: { ifMatch: props.etag } }).catch(() => undefined);
    throw new CustodyError("ERR_NOT_FOUND", `no object with key ${JSON.stringify(key)}`, {
      details: { key },
    });
  }
  return { record, state, props };
}

/** The early create-only check, made before a byte of the body is sent. */
export async function assertKeyFree(
  container: ContainerClient,
  key: string,
  service: boolean,
): Promise<void> {
  const existing = await readLive(container, key, service).catch((error: unknown) => {
    if ((error as { statusCode?: number }).statusCode === 404) return undefined;
    if ((error as CustodyError).code === "ERR_NOT_FOUND") return undefined;
    throw error;
  });
  if (existing !== undefined) {
    throw new CustodyError("ERR_ALREADY_EXISTS", `an object with key ${JSON.stringify(key)} already exists`, {
      details: { key },
    });
  }
}
