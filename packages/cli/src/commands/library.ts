import { readFile, stat } from "node:fs/promises";
import { basename } from "node:path";
import { CustodyError, toCustodyError } from "@custody/core";
import { assertLibraryName, type LibraryFile } from "@custody/vault";
import type { CommandContext, CommandSpec } from "../command.js";
import { formatTable } from "../table.js";
import { VAULT_OPTIONS, withVaultApi } from "../vault-context.js";
import { absolute } from "./key-files.js";

// the vault refuses more; read no further than that
const MAX_FILE_BYTES = 2 * 1024 * 1024;
const MAX_SIGNATURE_BYTES = 64 * 1024;

async function readBounded(file: string, max: number, what: string): Promise<Buffer> {
  const info = await stat(file).catch((cause: unknown) => {
    throw toCustodyError(cause, "ERR_IO", `cannot read the ${what} ${file}`);
  });
  if (!info.isFile()) throw new CustodyError("ERR_INVALID_ARGUMENT", `${file} is not a regular file`);
  if (info.size > max) throw new CustodyError("ERR_SIZE_LIMIT", `the ${what} ${file} is over ${max} bytes`);
  return readFile(file);
}

async function exists(file: string): Promise<boolean> {
  return stat(file).then(
    (info) => info.isFile(),
    () => false,
  );
}

function describe(file: LibraryFile): string {
  const signed = file.signed ? `signed by ${file.signer ?? "?"}` : "unsigned";
  return `${file.name} v${file.version} (${file.size} bytes, sha256 ${file.sha256}, ${signed})`;
}

export const libraryUploadCommand: CommandSpec = {
  path: ["library", "upload"],
  summary: "add a script or file to the live-response library (library.manage)",
  usage: `FILE [--name NAME] [--description TEXT] [--parameters "EXAMPLE"] [--overwrite] [--signature F]
The library's name is FILE's base name unless --name is given: letters, digits, '-', '_', '.', not
starting with '.' or '-', at most 128 (ERR_LIBRARY_NAME_INVALID). A name in the library is refused
(ERR_FILE_EXISTS) unless --overwrite, which adds a new version; every version stays an item of the
case 'library'. The detached CMS signature FILE.p7s beside the file is taken when present (or
--signature F): it must verify against the vault CA with a script-signer certificate
(\`custody keys issue --usage code-signing\`, then \`custody sign FILE\`), or nothing is stored
(ERR_SCRIPT_SIGNATURE). A file without a signature is stored unsigned: it runs only where the vault
setting unsigned-scripts is on and the device's local policy allows it. At most 2 MiB.`,
  options: {
    ...VAULT_OPTIONS,
    name: { type: "string" },
    description: { type: "string" },
    parameters: { type: "string" },
    overwrite: { type: "boolean" },
    signature: { type: "string" },
  },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const file = absolute(ctx, ctx.positionals[0] as string);
    const content = await readBounded(file, MAX_FILE_BYTES, "file");
    const given = ctx.string("signature");
    const signatureFile = given === undefined ? `${file}.p7s` : absolute(ctx, given);
    const signature =
      given !== undefined || (await exists(signatureFile))
        ? await readBounded(signatureFile, MAX_SIGNATURE_BYTES, "signature")
        : undefined;
    const description = ctx.string("description");
    const parameters = ctx.string("parameters");
    const uploaded = await withVaultApi(ctx, (api) =>
      api.uploadLibrary({
        name: ctx.string("name") ?? basename(file),
        content,
        ...(signature === undefined ? {} : { signature }),
        ...(description === undefined ? {} : { description }),
        ...(parameters === undefined ? {} : { parameters }),
        overwrite: ctx.flag("overwrite"),
      }),
    );
    if (ctx.json) ctx.printJson(uploaded);
    else ctx.out(`uploaded ${describe(uploaded)}`);
    return 0;
  },
};

export const libraryRemoveCommand: CommandSpec = {
  path: ["library", "remove"],
  summary: "take a name out of the live-response library (library.manage)",
  usage: `NAME
Its versions stay items of the case 'library' and can still be produced; the removal is a fact in the
audit log. Uploading the name again starts the next version.`,
  options: { ...VAULT_OPTIONS },
  positionals: { min: 1, max: 1 },
  async run(ctx) {
    const name = ctx.positionals[0] as string;
    // checked here too: over HTTP a name like '..' would change the URL before the vault saw it
    assertLibraryName(name);
    const removed = await withVaultApi(ctx, (api) => api.removeLibrary(name));
    if (ctx.json) ctx.printJson(removed);
    else ctx.out(`removed ${describe(removed)}`);
    return 0;
  },
};

export const libraryListCommand: CommandSpec = {
  path: ["library", "list"],
  summary: "the live-response library: each name's current version, its digest and signer",
  usage: `
Anyone with library.manage, live.basic or live.advanced may list it. The library's state is read from
the signed audit log, never from files beside it.`,
  options: { ...VAULT_OPTIONS },
  async run(ctx) {
    const files = await withVaultApi(ctx, (api) => api.listLibrary());
    printLibrary(ctx, files);
    return 0;
  },
};

export function printLibrary(ctx: CommandContext, files: readonly LibraryFile[]): void {
  if (ctx.json) {
    ctx.printJson(files);
    return;
  }
  const header = ["name", "version", "size", "sha256", "signed", "parameters", "description"];
  const rows = files.map((f) => [
    f.name,
    String(f.version),
    String(f.size),
    f.sha256.slice(0, 16),
    f.signed ? (f.signer ?? "yes") : "no",
    f.parameters ?? "",
    f.description ?? "",
  ]);
  ctx.out(formatTable(header, rows));
}
