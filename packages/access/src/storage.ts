import {
  ensureDirectory,
  listVersions,
  readVersionFile,
  removeDeadTempFiles,
  writeVersionFile,
} from "./files.js";

/**
 * Where a policy's numbered versions live: a directory (the default) or a container shared by several
 * processes (`@custody/azure`). Versions are written create-only, so of two writers racing for the next
 * version exactly one wins and the other gets ERR_CONFLICT: a concurrent change is never lost.
 */
export interface PolicyVersionStorage {
  /** A name for messages (a path, a container URL). */
  readonly description: string;
  /** The version numbers stored, ascending. */
  list(): Promise<number[]>;
  /** One version's exact bytes (ERR_POLICY_INVALID when larger than MAX_POLICY_FILE_BYTES). */
  read(version: number): Promise<Buffer>;
  /** Stores a version whole or not at all; ERR_CONFLICT when it exists. */
  create(version: number, bytes: Uint8Array): Promise<void>;
  /** Makes the storage ready for a first version (a directory is created). */
  prepare(): Promise<void>;
}

/** Versions as `000001.json`, ... in a directory, linked into place create-only. */
export class DirectoryPolicyStorage implements PolicyVersionStorage {
  readonly description: string;

  constructor(dir: string) {
    this.description = dir;
  }

  list(): Promise<number[]> {
    return listVersions(this.description);
  }

  read(version: number): Promise<Buffer> {
    return readVersionFile(this.description, version);
  }

  create(version: number, bytes: Uint8Array): Promise<void> {
    return writeVersionFile(this.description, version, bytes);
  }

  async prepare(): Promise<void> {
    await ensureDirectory(this.description);
    await removeDeadTempFiles(this.description);
  }
}

export function toPolicyStorage(where: string | PolicyVersionStorage): PolicyVersionStorage {
  return typeof where === "string" ? new DirectoryPolicyStorage(where) : where;
}
