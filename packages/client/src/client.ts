import { MAX_LIST_LIMIT, ROUTES } from "@custody/api";
import { CustodyError } from "@custody/core";
import { checkpointFromWire, checkpointToWire } from "./checkpoint.js";
import { parseTlsIdentity } from "./identity.js";
import { readItem } from "./read.js";
import { type CallInput, callRoute, itemInput } from "./route-call.js";
import { Transport } from "./transport.js";
import type { ListedItem, VaultApi } from "./types.js";
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
  /** Stops every call of this client with ERR_ABORTED (`read` and `ingest` also take their own). */
  abortSignal?: AbortSignal;
}

/** The vault over HTTPS: the same VaultApi as a local vault, plus `close()` for its connections. */
export interface VaultClient extends VaultApi {
  close(): void;
}

export function createVaultClient(options: VaultClientOptions): VaultClient {
  const identity = parseTlsIdentity(options.identityPem, options.passphrase);
  const transport = new Transport({
    baseUrl: options.baseUrl,
    identity: options.caPem === undefined ? identity : { ...identity, trustAnchorsPem: [options.caPem] },
    ...(options.passphrase === undefined ? {} : { passphrase: options.passphrase }),
    ...(options.retries === undefined ? {} : { retries: options.retries }),
    ...(options.idleTimeoutMs === undefined ? {} : { idleTimeoutMs: options.idleTimeoutMs }),
    ...(options.abortSignal === undefined ? {} : { abortSignal: options.abortSignal }),
  });
  // The answer was checked against the route's schema; its type is the VaultApi method's.
  const call = <T>(route: keyof typeof ROUTES, input: CallInput = {}) =>
    callRoute(transport, ROUTES[route], input) as Promise<T>;

  return {
    ingest: (file, ingestOptions) => uploadFile(transport, file, ingestOptions),
    list: (listOptions) => listAll(call, listOptions?.caseId),
    show: (item) => call("show", itemInput(item)),
    read: (item, readOptions) => readItem(transport, item, readOptions?.abortSignal),
    hold: (item) => call("hold", itemInput(item)),
    extendRetention: (item, until) =>
      call("extendRetention", { ...itemInput(item), body: { until: until.toISOString() } }),
    release: (item) => call("release", itemInput(item)),
    purge: (item) => call("purge", itemInput(item)),
    approve: (requestId) => call("approve", { params: { requestId } }),
    refuse: (requestId) => call("refuse", { params: { requestId } }),
    check: (item) => (item === undefined ? call("check") : call("checkItem", itemInput(item))),
    report: (item) => call("report", itemInput(item)),
    grant: (grant) => call("grant", { body: grantBody(grant) }),
    revoke: (grant) => call("revoke", { body: grantBody(grant) }),
    listAccess: () => call("listAccess"),
    issueIdentity: (name, kind) => call("issueIdentity", { body: { name, kind: kind ?? "person" } }),
    revokeIdentity: (name) => call("revokeIdentity", { params: { name } }),
    whoami: () => call("whoami"),
    verifyAudit: (verifyOptions) =>
      call("verifyAudit", {
        body:
          verifyOptions?.knownCheckpoints === undefined
            ? {}
            : { knownCheckpoints: verifyOptions.knownCheckpoints.map(checkpointToWire) },
      }),
    showAudit: (since) => call("showAudit", since === undefined ? {} : { query: { since: String(since) } }),
    proveAudit: (seq) => call("proveAudit", { params: { seq: String(seq) } }),
    checkpoint: async () => checkpointFromWire(await callRoute(transport, ROUTES.checkpoint, {})),
    rotateSigner: () => call("rotateSigner"),
    createEnrollmentToken: (request) => call("createEnrollmentToken", { body: request ?? {} }),
    listDevices: () => call("listDevices"),
    showDevice: (deviceId) => call("showDevice", { params: { id: deviceId } }),
    approveDevice: (deviceId) => call("approveDevice", { params: { id: deviceId } }),
    revokeDevice: (deviceId) => call("revokeDevice", { params: { id: deviceId } }),
    liveResponse: () => call("liveResponse"),
    setLiveResponse: (enabled) => call("setLiveResponse", { body: { enabled } }),
    listLibrary: () => call("listLibrary"),
    uploadLibrary: (upload) =>
      call("uploadLibrary", {
        body: {
          name: upload.name,
          contentBase64: upload.content.toString("base64"),
          ...(upload.signature === undefined ? {} : { signatureBase64: upload.signature.toString("base64") }),
          ...(upload.description === undefined ? {} : { description: upload.description }),
          ...(upload.parameters === undefined ? {} : { parameters: upload.parameters }),
          ...(upload.overwrite === undefined ? {} : { overwrite: upload.overwrite }),
        },
      }),
    removeLibrary: (name) => call("removeLibrary", { params: { name } }),
    unsignedScripts: () => call("unsignedScripts"),
    setUnsignedScripts: (enabled) => call("setUnsignedScripts", { body: { enabled } }),
    addHash: ({ list, ...body }) => call("addHash", { params: { list }, body }),
    removeHash: (list, sha256) => call("removeHash", { params: { list, digest: sha256 } }),
    listHashes: (list) => call("listHashes", list === undefined ? {} : { query: { list } }),
    close: () => transport.close(),
  } satisfies VaultClient;
}

function grantBody(grant: Parameters<VaultApi["grant"]>[0]): Record<string, string> {
  const { expiresAt, ...rest } = grant;
  return { ...rest, ...(expiresAt === undefined ? {} : { expiresAt: expiresAt.toISOString() }) };
}

async function listAll(
  call: (route: "list", input: CallInput) => Promise<unknown>,
  caseId: string | undefined,
): Promise<ListedItem[]> {
  const items: ListedItem[] = [];
  const seen = new Set<string>();
  for (let cursor: string | undefined; ; ) {
    const query: Record<string, string> = { limit: String(MAX_LIST_LIMIT) };
    if (caseId !== undefined) query.case = caseId;
    if (cursor !== undefined) query.cursor = cursor;
    const page = (await call("list", { query })) as { items: ListedItem[]; nextCursor?: string };
    items.push(...page.items);
    if (page.nextCursor === undefined) return items;
    // A server that hands back a cursor twice would keep the client paging for ever.
    if (seen.has(page.nextCursor))
      throw new CustodyError("ERR_BACKEND_UNAVAILABLE", "the server repeated a list cursor");
    seen.add(page.nextCursor);
    cursor = page.nextCursor;
  }
}
