import type { AuditRecord } from "@custody/audit";
import { CustodyError, sha256HexSchema } from "@custody/core";
import { z } from "zod";

/** The facts of the live-response library and of the unsigned-scripts setting. */
export const LIBRARY_FACT = {
  uploaded: "library.uploaded",
  removed: "library.removed",
  unsignedScriptsSet: "settings.unsigned-scripts",
} as const;

export type LibraryFactAction = (typeof LIBRARY_FACT)[keyof typeof LIBRARY_FACT];

/** The case that holds the library's bytes (each version, and each signature, is an item of it). */
export const LIBRARY_CASE = "library";

/** Letters, digits, `-`, `_`, `.`; never starting with `.` or `-` (no `.`, `..`, hidden files or options). */
export const LIBRARY_NAME_PATTERN = /^[A-Za-z0-9_][A-Za-z0-9_.-]{0,127}$/;

export const libraryNameSchema = z.string().regex(LIBRARY_NAME_PATTERN);

const signerSchema = z.object({
  subject: z.string().max(2048),
  fingerprintSha256: sha256HexSchema,
  serialNumber: z.string().max(128),
});

export const libraryFactSchemas = {
  [LIBRARY_FACT.uploaded]: z.object({
    name: libraryNameSchema,
    version: z.number().int().positive(),
    sha256: sha256HexSchema,
    size: z.number().int().nonnegative(),
    description: z.string().max(1000).optional(),
    parameters: z.string().max(1000).optional(),
    /** The detached CMS signature's item (in the library case), when the upload carried one. */
    signatureSha256: sha256HexSchema.optional(),
    /** Who signed it, as the vault verified at upload (a script-signer certificate of the vault CA). */
    signer: signerSchema.optional(),
  }),
  [LIBRARY_FACT.removed]: z.object({ name: libraryNameSchema }),
  [LIBRARY_FACT.unsignedScriptsSet]: z.object({ enabled: z.boolean() }),
} as const;

type Details<A extends LibraryFactAction> = z.infer<(typeof libraryFactSchemas)[A]>;

export interface LibraryVersion {
  readonly version: number;
  readonly sha256: string;
  readonly size: number;
  readonly description: string | undefined;
  readonly parameters: string | undefined;
  readonly signatureSha256: string | undefined;
  readonly signer: Details<typeof LIBRARY_FACT.uploaded>["signer"];
  readonly uploadedAt: string;
  readonly uploadedBy: string;
  readonly seq: number;
}

export interface LibraryEntry {
  readonly name: string;
  /** Every version ever uploaded, oldest first: an overwrite adds one, nothing is dropped. */
  readonly versions: LibraryVersion[];
  removed: boolean;
  removedAt: string | undefined;
  removedBy: string | undefined;
}

/** What the log states of the library and the unsigned-scripts setting (part of the Ledger). */
export class LibraryLedger {
  readonly entries = new Map<string, LibraryEntry>();
  unsignedScripts = false;
  unsignedScriptsChangedAt: string | undefined;
  unsignedScriptsChangedBy: string | undefined;

  /** The current version of a name that is in the library (undefined when absent or removed). */
  current(name: string): LibraryVersion | undefined {
    const entry = this.entries.get(name);
    return entry === undefined || entry.removed ? undefined : entry.versions.at(-1);
  }

  apply(record: AuditRecord): void {
    const action = record.action as LibraryFactAction;
    switch (action) {
      case LIBRARY_FACT.uploaded: {
        const facts = parse(record, action);
        const entry = this.entries.get(facts.name) ?? {
          name: facts.name,
          versions: [],
          removed: false,
          removedAt: undefined,
          removedBy: undefined,
        };
        // numbered by the log's order: two replicas that both stated version N keep both, as N and N+1
        entry.versions.push({
          version: entry.versions.length + 1,
          sha256: facts.sha256,
          size: facts.size,
          description: facts.description,
          parameters: facts.parameters,
          signatureSha256: facts.signatureSha256,
          signer: facts.signer,
          uploadedAt: record.time,
          uploadedBy: record.actor,
          seq: record.seq,
        });
        entry.removed = false;
        entry.removedAt = undefined;
        entry.removedBy = undefined;
        this.entries.set(facts.name, entry);
        return;
      }
      case LIBRARY_FACT.removed: {
        const entry = this.entries.get(parse(record, action).name);
        if (entry === undefined) throw malformed(record, "removes a name never in the library");
        // a second removal (another replica's, at the same time) changes nothing
        if (entry.removed) return;
        entry.removed = true;
        entry.removedAt = record.time;
        entry.removedBy = record.actor;
        return;
      }
      case LIBRARY_FACT.unsignedScriptsSet:
        this.unsignedScripts = parse(record, action).enabled;
        this.unsignedScriptsChangedAt = record.time;
        this.unsignedScriptsChangedBy = record.actor;
        return;
    }
  }
}

const LIBRARY_FACT_ACTIONS: ReadonlySet<string> = new Set(Object.values(LIBRARY_FACT));

export function isLibraryFact(action: string): action is LibraryFactAction {
  return LIBRARY_FACT_ACTIONS.has(action);
}

function parse<A extends LibraryFactAction>(record: AuditRecord, action: A): Details<A> {
  const parsed = libraryFactSchemas[action].safeParse(record.details);
  if (!parsed.success) throw malformed(record, "has malformed details");
  return parsed.data as Details<A>;
}

function malformed(record: AuditRecord, what: string): CustodyError {
  return new CustodyError(
    "ERR_AUDIT_RECORD_INVALID",
    `audit record ${record.seq} (${record.action}) ${what}`,
    { details: { seq: record.seq, action: record.action } },
  );
}
