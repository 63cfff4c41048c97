import { createHash } from "node:crypto";
import { readdir, readFile, stat } from "node:fs/promises";
import { join, relative } from "node:path";

/**
 * An independent BagIt 1.0 validator written from RFC 8493 for the tests, because no packaged validator
 * is reachable here (Debian has none; bagit-python is on PyPI, which this machine cannot reach). It shares
 * no code with the library: it walks the extracted folder and returns every problem it finds.
 */
export async function validateBagDirectory(bag: string): Promise<string[]> {
  const problems: string[] = [];
  const bagit = await readText(join(bag, "bagit.txt"));
  if (!/^BagIt-Version: 1\.0\r?\nTag-File-Character-Encoding: UTF-8\r?\n$/.test(bagit)) {
    problems.push("bagit.txt must declare BagIt-Version 1.0 and UTF-8 (RFC 8493 §2.1.1)");
  }
  const files = await walk(bag);
  const payload = files.filter((file) => file.startsWith("data/"));
  const manifests = files.filter((file) => /^manifest-[a-z0-9]+\.txt$/.test(file));
  if (manifests.length === 0) problems.push("no payload manifest (§2.1.3)");
  for (const manifest of manifests) {
    const listed = await checkManifest(bag, manifest, problems);
    for (const file of payload) if (!listed.has(file)) problems.push(`${file} is not in ${manifest} (§3)`);
    for (const file of listed)
      if (!file.startsWith("data/")) problems.push(`${manifest} lists ${file} outside data/`);
  }
  for (const tagManifest of files.filter((file) => /^tagmanifest-[a-z0-9]+\.txt$/.test(file))) {
    const listed = await checkManifest(bag, tagManifest, problems);
    for (const file of listed)
      if (file.startsWith("data/")) problems.push(`${tagManifest} lists payload ${file}`);
  }
  const info = await readText(join(bag, "bag-info.txt"));
  const oxum = /^Payload-Oxum: (\d+)\.(\d+)$/m.exec(info);
  if (oxum !== null) {
    let bytes = 0;
    for (const file of payload) bytes += (await stat(join(bag, file))).size;
    if (Number(oxum[1]) !== bytes || Number(oxum[2]) !== payload.length) {
      problems.push(
        `Payload-Oxum ${oxum[1]}.${oxum[2]} but the payload is ${bytes}.${payload.length} (§2.2.2)`,
      );
    }
  }
  return problems;
}

async function checkManifest(bag: string, manifest: string, problems: string[]): Promise<Set<string>> {
  const algorithm = /-([a-z0-9]+)\.txt$/.exec(manifest)?.[1] ?? "sha256";
  const listed = new Set<string>();
  for (const line of (await readText(join(bag, manifest))).split("\n")) {
    if (line === "") continue;
    const match = /^([0-9a-f]+)\s+(.+)$/.exec(line);
    if (match === null) {
      problems.push(`${manifest}: malformed line ${JSON.stringify(line)}`);
      continue;
    }
    const path = (match[2] as string).replace(/%0D/gi, "\r").replace(/%0A/gi, "\n").replace(/%25/g, "%");
    listed.add(path);
    const data = await readFile(join(bag, path)).catch(() => undefined);
    if (data === undefined) problems.push(`${manifest} lists ${path}, which is missing`);
    else if (createHash(algorithm).update(data).digest("hex") !== match[1])
      problems.push(`${path}: ${algorithm} differs`);
  }
  return listed;
}

async function walk(root: string, dir = root): Promise<string[]> {
  const files: string[] = [];
  for (const entry of await readdir(dir, { withFileTypes: true })) {
    const path = join(dir, entry.name);
    if (entry.isDirectory()) files.push(...(await walk(root, path)));
    else files.push(relative(root, path).split("\\").join("/"));
  }
  return files;
}

function readText(path: string): Promise<string> {
  return readFile(path, "utf8").catch(() => "");
}
