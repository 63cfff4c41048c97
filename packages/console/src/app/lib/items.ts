import { ROUTES as API, type ResponseOf } from "@custody/api";
import { api } from "./api.ts";

export type Item = ResponseOf<typeof API.list>["items"][number];

/** Every item of a case the principal may list (or of every case), page after page, up to `max`. */
export async function listItems(caseId: string | undefined, max = 2000): Promise<Item[]> {
  const items: Item[] = [];
  let cursor: string | undefined;
  do {
    const query: Record<string, string> = { limit: "500" };
    if (caseId !== undefined && caseId !== "") query.case = caseId;
    if (cursor !== undefined) query.cursor = cursor;
    const page = await api.call(API.list, { query });
    items.push(...page.items);
    cursor = page.nextCursor;
  } while (cursor !== undefined && items.length < max);
  return items;
}

/** The link to an item's bytes on the server (the browser downloads them with the analyst's certificate). */
export function contentUrl(item: Pick<Item, "id" | "caseId">): string {
  return `/v1/items/${encodeURIComponent(item.id)}/content?case=${encodeURIComponent(item.caseId)}`;
}

/** An item's hold and retention in words. */
export function protection(item: Pick<Item, "legalHold" | "retainUntil">): string {
  const parts = [item.legalHold ? "on hold" : "no hold"];
  parts.push(
    item.retainUntil === undefined
      ? "no retention"
      : `kept until ${new Date(item.retainUntil).toLocaleDateString()}`,
  );
  return parts.join(", ");
}
