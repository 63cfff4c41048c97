import { CustodyError } from "@custody/core";
import { checkpointFromWire, checkpointToWire } from "./checkpoint.js";
import { itemFromHeader, verifiedContent } from "./content.js";
import { parseTlsIdentity } from "./identity.js";
import { header, readLimited } from "./problem.js";
import { type Call, Transport } from "./transport.js";
import type { ItemRead, ItemSelector, VaultApi } from "./types.js";
import { uploadFile } from "./upload.js";

export interface VaultClientOptions {
  /** `https://HOST:PORT` of `custody serve`. */
  baseUrl: string;
  /** The identity file's text: certificate, private key, then the vault CA certificate. */
  identityPem: string;
  /** For an encrypted identity key. */
  passphrase?: string;
  /** Trust anchor for the server instead of the CA certificate carried by the identity file. */
  caPem?: string;
  /** Tries after a connection failure, for requests that are safe to repeat (default 2). */
  retries?: number;
  /** A connection silent this long fails with ERR_TIMEOUT (default 120 000). */
  idleTimeoutMs?: number;
}

/** The vault over HTTPS: the same VaultApi as a local vault, plus `close()` for its connections. */
export interface VaultClient extends VaultApi {
  close(): void;
}

/** A JSON answer may be a whole audit log; past this the client stops reading. */
const JSON_LIMIT_BYTES = 512 * 1024 * 1024;
const PAGE_LIMIT = 1000;

type Api = VaultApi;

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const identity = parseTlsIdentity(options.identityPem, options.passphrase);
  const transport = new Transport({
    baseUrl: options.baseUrl,
    identity: options.caPem === undefined ? identity : { ...identity, trustAnchorsPem: [options.caPem] },
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
  });
  const json = async <T>(call: Call): Promise<T> =>
    JSON.parse(await readLimited(await transport.send(call), JSON_LIMIT_BYTES)) as T;
  const get = <T>(path: string, query?: URLSearchParams) => json<T>({ method: "GET", path, ...q(query) });
  const post = <T>(path: string, body?: unknown, query?: URLSearchParams) =>
    json<T>({ method: "POST", path, ...q(query), ...jsonBody(body) });
  const item = (selector: ItemSelector, suffix = "") => itemPath(selector, suffix);

  return {
    ingest: (file, ingestOptions) => uploadFile(transport, file, ingestOptions),
    list: async (listOptions) => listAll(get, listOptions?.caseId),
    show: (selector) => get(...item(selector)),
    read: (selector, readOptions) => readItem(transport, selector, readOptions?.abortSignal),
    hold: (selector) => post(item(selector, "/hold")[0], undefined, item(selector)[1]),
    extendRetention: (selector, until) =>
      post(item(selector, "/retention")[0], { until: until.toISOString() }, item(selector)[1]),
    release: (selector) => post(item(selector, "/release")[0], undefined, item(selector)[1]),
    purge: (selector) => post(item(selector, "/purge")[0], undefined, item(selector)[1]),
    approve: (requestId) => post(`/v1/approvals/${segment(requestId)}`),
    check: (selector) =>
      selector === undefined
        ? post("/v1/check")
        : post(item(selector, "/check")[0], undefined, item(selector)[1]),
    report: (selector) => get(...item(selector, "/report")),
    grant: (grant) => post("/v1/access/grants", grant),
    revoke: (grant) => post("/v1/access/revocations", grant),
    listAccess: () => get("/v1/access"),
    issueIdentity: (name, kind) => post("/v1/identities", { name, kind: kind ?? "person" }),
    revokeIdentity: (name) => json({ method: "DELETE", path: `/v1/identities/${segment(name)}` }),
    whoami: () => get("/v1/whoami"),
    verifyAudit: (verifyOptions) =>
      post("/v1/audit/verify", {
        ...(verifyOptions?.knownCheckpoints === undefined
          ? {}
          : { knownCheckpoints: verifyOptions.knownCheckpoints.map(checkpointToWire) }),
      }),
    showAudit: (since) =>
      get("/v1/audit", since === undefined ? undefined : new URLSearchParams({ since: String(since) })),
    proveAudit: (seq) => get(`/v1/audit/proofs/${segment(String(seq))}`),
    checkpoint: async () => checkpointFromWire(await post("/v1/audit/checkpoints")),
    rotateSigner: () => post("/v1/keys/rotations"),
    close: () => transport.close(),
  } satisfies VaultClient;
}

function q(query: URLSearchParams | undefined): { query?: URLSearchParams } {
  return query === undefined || query.size === 0 ? {} : { query };
}

function jsonBody(body: unknown): Pick<Call, "body" | "headers"> {
  if (body === undefined) return {};
  const text = JSON.stringify(body);
  return { body: () => text, headers: { "content-type": "application/json" } };
}

/** `/v1/items/:id…` and `?case=` for a selector. */
export function itemPath(selector: ItemSelector, suffix = ""): [string, URLSearchParams] {
  const ref = typeof selector === "string" ? { id: selector } : selector;
  const query = new URLSearchParams();
  if (ref.caseId !== undefined) query.set("case", ref.caseId);
  return [`/v1/items/${segment(ref.id)}${suffix}`, query];
}

/** One path segment: never a '/', '.' or '..' that would name another route. */
function segment(value: string): string {
  if (value === "" || value === "." || value === "..") {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `'${value}' is not a valid name or id`);
  }
  return encodeURIComponent(value);
}

async function listAll(
  get: <T>(path: string, query?: URLSearchParams) => Promise<T>,
  caseId: string | undefined,
): ReturnType<Api["list"]> {
  const items: Awaited<ReturnType<Api["list"]>> = [];
  const seen = new Set<string>();
  for (let cursor: string | undefined; ; ) {
    const query = new URLSearchParams({ limit: String(PAGE_LIMIT) });
    if (caseId !== undefined) query.set("case", caseId);
    if (cursor !== undefined) query.set("cursor", cursor);
    const page = await get<{ items: Awaited<ReturnType<Api["list"]>>; nextCursor?: string }>(
      "/v1/items",
      query,
    );
    items.push(...page.items);
    if (page.nextCursor === undefined) return items;
    // A server that hands back a cursor twice would keep the client paging for ever.
    if (seen.has(page.nextCursor))
      throw new CustodyError("ERR_INTERNAL", "the server repeated a list cursor");
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}

async function readItem(
  transport: Transport,
  selector: ItemSelector,
  abortSignal: AbortSignal | undefined,
): Promise<ItemRead> {
  const [path, query] = itemPath(selector, "/content");
  const response = await transport.send({ method: "GET", path, ...q(query), abortSignal });
  const item = itemFromHeader(header(response, "x-custody-item"));
  const asked = (typeof selector === "string" ? selector : selector.id).trim().toLowerCase();
  // The item is the one asked for, and the bytes to come are measured against its id, never the header's word.
  if (item === undefined || !item.id.startsWith(asked) || header(response, "x-custody-sha256") !== item.id) {
    response.destroy();
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the server's answer for item ${asked} does not name that item (x-custody-item, x-custody-sha256)`,
      { details: { id: asked } },
    );
  }
  return verifiedContent(response, item);
}
