import { assertSafeRelativePath, CustodyError, pathCollisionKey } from "@custody/core";
import { merkleLeafHash, merkleRoot } from "@custody/hash";

/**
 * Admits item paths one at a time and refuses any that would clash when extracted: unsafe or
 * non-portable paths (ERR_UNSAFE_PATH), paths equal after Unicode NFC and case folding, a file that is
 * also another item's directory, and one directory spelled two ways ("Data/a", "data/b": one folder on
 * a case-insensitive disk, two elsewhere) (all ERR_DUPLICATE_PATH).
 */
export class PathRegistry {
  private readonly files = new Map<string, string>();
  /** Folder key -> the first item path under it (its spelling is that path's prefix). */
  private readonly directories = new Map<string, string>();

  add(path: string): void {
    assertSafeRelativePath(path, "item path");
    const key = pathCollisionKey(path);
    const earlier = this.files.get(key) ?? this.directories.get(key);
    if (earlier !== undefined) throw duplicate(earlier, path);
    const segments = key.split("/");
    const spelled = path.split("/");
    for (let i = 1; i < segments.length; i++) {
      const directory = segments.slice(0, i).join("/");
      const file = this.files.get(directory);
      if (file !== undefined) throw duplicate(file, path);
      const first = this.directories.get(directory);
      if (first === undefined) this.directories.set(directory, path);
      else if (prefix(first, i) !== spelled.slice(0, i).join("/")) throw duplicate(first, path);
    }
    this.files.set(key, path);
  }
}

const prefix = (path: string, segments: number) => path.split("/").slice(0, segments).join("/");

function duplicate(earlier: string, path: string): CustodyError {
  const how = earlier === path ? "appears twice" : `collides with ${JSON.stringify(earlier)}`;
  return new CustodyError("ERR_DUPLICATE_PATH", `item path ${JSON.stringify(path)} ${how}`, {
    details: { path, other: earlier },
  });
}

/** Item order: by path in UTF-16 code units, the order RFC 8785 and JavaScript's `<` use. */
export function comparePaths(a: string, b: string): number {
  return a < b ? -1 : a > b ? 1 : 0;
}

/** The manifest's Merkle root: RFC 9162 leaves over the raw sha256 digests of the items, in order. */
export function computeMerkleRoot(items: readonly { sha256: string }[]): string {
  return merkleRoot(items.map((item) => merkleLeafHash(Buffer.from(item.sha256, "hex")))).toString("hex");
}
