import { createHash } from "node:crypto";
import { readdirSync, readFileSync } from "node:fs";
import { join, relative, sep } from "node:path";
import { CONSOLE_ASSETS_DIR, CONSOLE_BASE_PATH } from "@custody/console";
import type { FastifyInstance, FastifyReply } from "fastify";

/** Same origin only, no inline script or style, no eval, never framed. */
export const CONSOLE_CSP =
  "default-src 'self'; script-src 'self'; style-src 'self'; img-src 'self'; font-src 'self'; " +
  "connect-src 'self'; object-src 'none'; base-uri 'none'; form-action 'self'; frame-ancestors 'none'";

const TYPES: Record<string, string> = {
  html: "text/html; charset=utf-8",
  js: "text/javascript; charset=utf-8",
  css: "text/css; charset=utf-8",
  svg: "image/svg+xml",
  woff2: "font/woff2",
};

interface Asset {
  body: Buffer;
  type: string;
  etag: string;
  immutable: boolean;
}

/** The built console read once into memory, by URL path; an empty map when it was not built. */
export function loadConsoleAssets(dir: string = CONSOLE_ASSETS_DIR): Map<string, Asset> {
  const assets = new Map<string, Asset>();
  let entries: string[];
  try {
    entries = readdirSync(dir, { recursive: true, encoding: "utf8" });
  } catch {
    return assets;
  }
  for (const entry of entries) {
    const type = TYPES[entry.split(".").pop() ?? ""];
    if (type === undefined) continue;
    const body = readFileSync(join(dir, entry));
    const path = relative(dir, join(dir, entry)).split(sep).join("/");
    const etag = `"${createHash("sha256").update(body).digest("base64url").slice(0, 22)}"`;
    assets.set(`${CONSOLE_BASE_PATH}${path}`, { body, type, etag, immutable: path.startsWith("assets/") });
  }
  return assets;
}

/** `/console/…` for people with a valid certificate (the same guard as the API), with strict headers. */
export function consoleRoutes(app: FastifyInstance, assets: Map<string, Asset>): void {
  const config = { config: { authenticated: true, principal: "person" } };
  app.get("/", config, async (_request, reply) => reply.redirect(CONSOLE_BASE_PATH, 303));
  app.get(`${CONSOLE_BASE_PATH}*`, config, async (request, reply) => {
    const path = (request.url.split("?")[0] ?? "").replace(/\/$/, "/index.html");
    const asset = assets.get(path);
    if (asset === undefined) return reply.callNotFound();
    secure(reply);
    reply.header("etag", asset.etag);
    reply.header(
      "cache-control",
      asset.immutable ? "private, max-age=31536000, immutable" : "private, no-cache",
    );
    if (request.headers["if-none-match"] === asset.etag) return reply.code(304).send();
    return reply.type(asset.type).send(asset.body);
  });
}

function secure(reply: FastifyReply): void {
  reply.header("content-security-policy", CONSOLE_CSP);
  reply.header("x-content-type-options", "nosniff");
  reply.header("referrer-policy", "no-referrer");
  reply.header("x-frame-options", "DENY");
  reply.header("cross-origin-opener-policy", "same-origin");
  reply.header("cross-origin-resource-policy", "same-origin");
}
