import { CustodyError } from "@custody/core";
import { verifyDetached } from "@custody/manifest";
import type { AuthenticatedPrincipal } from "./authenticate.js";
import type { VaultContext } from "./context.js";
import {
  LIBRARY_CASE,
  LIBRARY_FACT,
  LIBRARY_NAME_PATTERN,
  type LibraryEntry,
  type LibraryVersion,
} from "./library-facts.js";
import { storeLibraryBytes } from "./library-store.js";
import { grantedAnywhere } from "./listing.js";

/** Largest library file: it travels in one request and, for a script, inline in one command frame. */
export const MAX_LIBRARY_FILE_BYTES = 2 * 1024 * 1024;
/** Largest detached signature kept with a file (a signer certificate and its chain fit many times over). */
export const MAX_SIGNATURE_BYTES = 64 * 1024;

export interface LibraryUpload {
  name: string;
  content: Buffer;
  /** A detached CMS signature (DER) over `content`, by a script-signer certificate of the vault CA. */
  signature?: Buffer;
  description?: string;
  /** An example of the parameters the script takes (shown by `library`). */
  parameters?: string;
  /** Add a new version of a name in the library; without it an existing name is refused (ERR_FILE_EXISTS). */
  overwrite?: boolean;
}

export interface LibraryFile {
  name: string;
  version: number;
  versions: number;
  size: number;
  sha256: string;
  signed: boolean;
  signer?: string;
  signerFingerprintSha256?: string;
  signatureSha256?: string;
  description?: string;
  parameters?: string;
  uploadedAt: string;
  uploadedBy: string;
  /** The item that holds this version's bytes (case `library`). */
  caseId: string;
}

/** Refuses names with path tricks, separators, control characters, or over 128 characters. */
export function assertLibraryName(name: string): void {
  if (typeof name !== "string" || !LIBRARY_NAME_PATTERN.test(name)) {
    throw new CustodyError(
      "ERR_LIBRARY_NAME_INVALID",
      `${JSON.stringify(String(name).slice(0, 200))} is not a library name (letters, digits, '-', '_', '.'; not starting with '.' or '-'; at most 128)`,
    );
  }
}

function view(entry: LibraryEntry, version: LibraryVersion): LibraryFile {
  return {
    name: entry.name,
    version: version.version,
    versions: entry.versions.length,
    size: version.size,
    sha256: version.sha256,
    signed: version.signatureSha256 !== undefined,
    ...(version.signer === undefined
      ? {}
      : { signer: version.signer.subject, signerFingerprintSha256: version.signer.fingerprintSha256 }),
    ...(version.signatureSha256 === undefined ? {} : { signatureSha256: version.signatureSha256 }),
    ...(version.description === undefined ? {} : { description: version.description }),
    ...(version.parameters === undefined ? {} : { parameters: version.parameters }),
    uploadedAt: version.uploadedAt,
    uploadedBy: version.uploadedBy,
    caseId: LIBRARY_CASE,
  };
}

async function verifyScriptSignature(ctx: VaultContext, content: Buffer, signature: Buffer) {
  if (signature.length > MAX_SIGNATURE_BYTES) {
    throw new CustodyError("ERR_SCRIPT_SIGNATURE", `the signature is over ${MAX_SIGNATURE_BYTES} bytes`);
  }
  try {
    return verifyDetached(content, signature, {
      trustAnchors: [ctx.pki.caCertificatePem],
      crls: [await ctx.revocations.read()],
      requiredRole: "script-signer",
      clock: ctx.clock,
    });
  } catch (cause) {
    const message = cause instanceof Error ? cause.message : String(cause);
    throw new CustodyError("ERR_SCRIPT_SIGNATURE", `the script's signature is refused: ${message}`, {
      cause,
    });
  }
}

/** Uploads a file (a new version with `overwrite`); its signature is verified before anything is stored. */
export async function uploadLibraryFile(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  upload: LibraryUpload,
): Promise<LibraryFile> {
  assertLibraryName(upload.name);
  if (upload.content.length > MAX_LIBRARY_FILE_BYTES) {
    throw new CustodyError("ERR_SIZE_LIMIT", `library files are at most ${MAX_LIBRARY_FILE_BYTES} bytes`);
  }
  const { name } = upload;
  const request = {
    principal,
    action: "library.manage",
    resource: { kind: "vault" },
    target: `library:${name}`,
    details: { size: upload.content.length, signed: upload.signature !== undefined },
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([`library:${name}`], async () => {
      const entry = ctx.ledger.library.entries.get(name);
      if (entry !== undefined && !entry.removed && upload.overwrite !== true) {
        throw new CustodyError(
          "ERR_FILE_EXISTS",
          `${name} is in the library; add --overwrite for a new version`,
          {
            details: { name, version: entry.versions.length },
          },
        );
      }
      const signed =
        upload.signature === undefined
          ? undefined
          : await verifyScriptSignature(ctx, upload.content, upload.signature);
      const version = (entry?.versions.length ?? 0) + 1;
      const sha256 = await storeLibraryBytes(ctx, principal, upload.content, name, {
        library: name,
        version: String(version),
      });
      const signatureSha256 =
        upload.signature === undefined
          ? undefined
          : await storeLibraryBytes(ctx, principal, upload.signature, `${name}.p7s`, {
              library: name,
              version: String(version),
              signatureOf: sha256,
            });
      await ctx.guard.fact(principal.id, LIBRARY_FACT.uploaded, `library:${name}`, `${name} v${version}`, {
        name,
        version,
        sha256,
        size: upload.content.length,
        ...(upload.description === undefined ? {} : { description: upload.description.slice(0, 1000) }),
        ...(upload.parameters === undefined ? {} : { parameters: upload.parameters.slice(0, 1000) }),
        ...(signatureSha256 === undefined ? {} : { signatureSha256 }),
        ...(signed === undefined ? {} : { signer: signed.signer }),
      });
      const stated = ctx.ledger.library.entries.get(name) as LibraryEntry;
      return view(stated, stated.versions.at(-1) as LibraryVersion);
    }),
  );
}

/** Takes a name out of the library; its versions stay items of the library case. */
export async function removeLibraryFile(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
  name: string,
): Promise<LibraryFile> {
  assertLibraryName(name);
  const request = {
    principal,
    action: "library.manage",
    resource: { kind: "vault" },
    target: `library:${name}`,
  } as const;
  return ctx.guard.run(request, () =>
    ctx.locks.with([`library:${name}`], async () => {
      const entry = ctx.ledger.library.entries.get(name);
      if (entry === undefined || entry.removed) {
        throw new CustodyError("ERR_NOT_FOUND", `${name} is not in the library`, { details: { name } });
      }
      await ctx.guard.fact(principal.id, LIBRARY_FACT.removed, `library:${name}`, `${name} removed`, {
        name,
      });
      return view(entry, entry.versions.at(-1) as LibraryVersion);
    }),
  );
}

/** The library's current files: for whoever may manage it or run live-response commands anywhere. */
export async function listLibrary(
  ctx: VaultContext,
  principal: AuthenticatedPrincipal,
): Promise<LibraryFile[]> {
  ctx.guard.assertAuthenticated(principal);
  const policy = await ctx.guard.policy();
  const now = ctx.clock.now();
  const may = (["library.manage", "live.basic", "live.advanced"] as const).some((action) =>
    grantedAnywhere(policy, principal.id, action, now),
  );
  if (!may) await ctx.guard.refuse(principal, "library.manage", "library", "no grant reads the library");
  const files = [...ctx.ledger.library.entries.values()]
    .filter((entry) => !entry.removed)
    .map((entry) => view(entry, entry.versions.at(-1) as LibraryVersion))
    .sort((a, b) => a.name.localeCompare(b.name));
  await ctx.guard.note(principal, "library.manage", "library", `listed ${files.length} library file(s)`, {
    returned: files.length,
  });
  return files;
}
