import { ITEM_HEADER, ROUTES, routePath, UPLOAD_DIGEST_HEADER } from "@custody/api";
import { CustodyError } from "@custody/core";
import { itemFromHeader, verifiedContent } from "./content.js";
import { header } from "./problem.js";
import { itemInput } from "./route-call.js";
import type { Transport } from "./transport.js";
import type { ItemRead, ItemSelector } from "./types.js";

/** `GET /v1/items/:id/content`: the item it names must be the one asked for, and its bytes hash to its id. */
export async function readItem(
  transport: Transport,
  selector: ItemSelector,
  ownSignal: AbortSignal | undefined,
): Promise<ItemRead> {
  const abortSignal = transport.signalFor(ownSignal);
  const input = itemInput(selector);
  const asked = input.params?.id ?? "";
  const response = await transport.send({
    method: "GET",
    path: routePath(ROUTES.read.path, { id: asked }),
    ...(input.query === undefined ? {} : { query: new URLSearchParams(input.query) }),
    abortSignal,
  });
  const item = itemFromHeader(header(response, ITEM_HEADER));
  if (
    item === undefined ||
    !item.id.startsWith(asked) ||
    header(response, UPLOAD_DIGEST_HEADER) !== item.id
  ) {
    response.destroy();
    throw new CustodyError(
      "ERR_INTEGRITY_MISMATCH",
      `the server's answer for item ${asked} does not name that item (${ITEM_HEADER}, ${UPLOAD_DIGEST_HEADER})`,
      { details: { id: asked } },
    );
  }
  return verifiedContent(response, item, abortSignal);
}
