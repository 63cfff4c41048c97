import { ITEM_HEADER, MAX_LIST_LIMIT, ROUTES, UPLOAD_DIGEST_HEADER } from "@custody/api";
import { CustodyError } from "@custody/core";
import type { ListedItem } from "@custody/vault";
import type { FastifyInstance } from "fastify";
import { type RouteContext, route, selector } from "./register.js";

export function evidenceRoutes(app: FastifyInstance, ctx: RouteContext): void {
  route(app, ctx, ROUTES.list, async ({ api, query }) => {
    const items = await api.list(query.case === undefined ? {} : { caseId: query.case });
    return page(items, query.limit === undefined ? MAX_LIST_LIMIT : Number(query.limit), query.cursor);
  });
  route(app, ctx, ROUTES.show, ({ api, params, query }) => api.show(selector(params, query)));
  route(app, ctx, ROUTES.read, async ({ api, params, query, reply }) => {
    // the client going away stops the read (the response closing before it finished)
    const abort = new AbortController();
    reply.raw.once("close", () => {
      if (!reply.raw.writableFinished) abort.abort();
    });
    const read = await api.read(selector(params, query), { abortSignal: abort.signal });
    reply
      .code(200)
      .type("application/octet-stream")
      .header("content-length", String(read.item.size))
      .header(UPLOAD_DIGEST_HEADER, read.item.id)
      .header(ITEM_HEADER, Buffer.from(JSON.stringify(read.item)).toString("base64url"));
    // a digest mismatch found mid-stream errors the stream: the response is cut, never completed
    return reply.send(read.stream);
  });
  route(app, ctx, ROUTES.hold, ({ api, params, query }) => api.hold(selector(params, query)));
  route(app, ctx, ROUTES.extendRetention, ({ api, params, query, body }) =>
    api.extendRetention(selector(params, query), new Date(body.until)),
  );
  route(app, ctx, ROUTES.release, ({ api, params, query }) => api.release(selector(params, query)));
  route(app, ctx, ROUTES.purge, ({ api, params, query }) => api.purge(selector(params, query)));
  route(app, ctx, ROUTES.checkItem, ({ api, params, query }) => api.check(selector(params, query)));
  route(app, ctx, ROUTES.check, ({ api }) => api.check());
  route(app, ctx, ROUTES.report, ({ api, params, query }) => api.report(selector(params, query)));
}

/** One page of a listing, in a stable order; the cursor names the last item of the page. */
/** A listing page as the server sends it (the items are the vault's own objects, serialized as JSON). */
export interface ItemPage {
  items: ListedItem[];
  nextCursor?: string;
}

export function page(items: ListedItem[], limit: number, cursor: string | undefined): ItemPage {
  if (!Number.isSafeInteger(limit) || limit < 1 || limit > MAX_LIST_LIMIT) {
    throw new CustodyError("ERR_INVALID_ARGUMENT", `limit must be 1 to ${MAX_LIST_LIMIT}`);
  }
  const key = (item: ListedItem) => `${item.caseId}/${item.id}`;
  const sorted = [...items].sort((a, b) => (key(a) < key(b) ? -1 : key(a) > key(b) ? 1 : 0));
  const after = cursor === undefined ? undefined : Buffer.from(cursor, "base64url").toString("utf8");
  const start = after === undefined ? 0 : sorted.findIndex((item) => key(item) > after);
  const rest = start < 0 ? [] : sorted.slice(start);
  const pageItems = rest.slice(0, limit);
  const last = pageItems.at(-1);
  return rest.length > limit && last !== undefined
    ? { items: pageItems, nextCursor: Buffer.from(key(last)).toString("base64url") }
    : { items: pageItems };
}
