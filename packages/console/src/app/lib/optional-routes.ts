// Some routes are being added to the server while the console is built (the action queue, collect).
// A page offers what they do only when the server that served it has them: its OpenAPI document
// (`/openapi.json`, same origin) lists every route it serves.

let document: Promise<Set<string>> | undefined;

/** `METHOD /path/{param}` of every route the server serves. */
export function serverRoutes(
  doFetch: typeof fetch = (i, init) => globalThis.fetch(i, init),
): Promise<Set<string>> {
  document ??= doFetch("/openapi.json", {
    credentials: "same-origin",
    headers: { accept: "application/json" },
  })
    .then((response) => (response.ok ? response.json() : { paths: {} }))
    .then((doc: { paths?: Record<string, Record<string, unknown>> }) => routesOf(doc))
    .catch(() => new Set<string>());
  return document;
}

export function routesOf(doc: { paths?: Record<string, Record<string, unknown>> }): Set<string> {
  const routes = new Set<string>();
  for (const [path, operations] of Object.entries(doc.paths ?? {}))
    for (const method of Object.keys(operations)) routes.add(`${method.toUpperCase()} ${path}`);
  return routes;
}

/** The first route matching a method and a path pattern, e.g. `POST` and `/^\/v1\/devices\/\{id\}\/collect/`. */
export function findRoute(routes: Set<string>, method: string, path: RegExp): string | undefined {
  for (const route of routes) {
    const [m, p] = route.split(" ");
    if (m === method && p !== undefined && path.test(p)) return p;
  }
  return undefined;
}

/** A route's path with its `{name}` parameters filled in, each URL-encoded. */
export function fillPath(path: string, params: Record<string, string>): string {
  return path.replace(/\{([A-Za-z]+)\}/g, (_m, name: string) => encodeURIComponent(params[name] ?? ""));
}
