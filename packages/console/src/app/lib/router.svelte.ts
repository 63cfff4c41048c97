import type { Component } from "svelte";

// A hash router (`#/devices`, `#/sessions/S-…`): the server serves one document, so a reload or a
// shared link never asks it for a path it does not have, and no history fallback route is needed.

export interface Route {
  /** `/devices`, `/sessions/:id`: `:name` matches one path segment. */
  pattern: string;
  /** The page's title, in the document title and the navigation. */
  title: string;
  page: Component<{ params: Record<string, string> }>;
  /** Shown in the header's navigation (pages reached from others are not). */
  nav?: boolean;
}

export interface Match {
  route: Route;
  params: Record<string, string>;
}

/** The route a path matches, with its parameters decoded; undefined when none does. */
export function matchRoute(routes: readonly Route[], path: string): Match | undefined {
  const segments = path.split("/").filter((s) => s !== "");
  for (const route of routes) {
    const parts = route.pattern.split("/").filter((s) => s !== "");
    if (parts.length !== segments.length) continue;
    const params: Record<string, string> = {};
    const ok = parts.every((part, i) => {
      const segment = segments[i] ?? "";
      if (part.startsWith(":")) {
        try {
          params[part.slice(1)] = decodeURIComponent(segment);
        } catch {
          return false;
        }
        return true;
      }
      return part === segment;
    });
    if (ok) return { route, params };
  }
  return undefined;
}

/** The path of the page's hash (`#/devices?x` is `/devices`). */
export function currentPath(): string {
  const hash = globalThis.location?.hash ?? "";
  const path = hash.startsWith("#") ? hash.slice(1) : hash;
  return (path.split("?")[0] ?? "") || "/";
}

/** The query of the page's hash (`#/items/X/report?case=A` gives `case=A`). */
export function currentQuery(): URLSearchParams {
  const hash = globalThis.location?.hash ?? "";
  const at = hash.indexOf("?");
  return new URLSearchParams(at < 0 ? "" : hash.slice(at + 1));
}

/** A link to a path of the console. */
export function href(path: string): string {
  return `#${path}`;
}

/** Goes to a path of the console. */
export function navigate(path: string): void {
  globalThis.location.hash = path;
}

/** The current path, kept in step with the location's hash. */
export const location = $state({ path: currentPath(), query: currentQuery().toString() });
globalThis.addEventListener?.("hashchange", () => {
  location.path = currentPath();
  location.query = currentQuery().toString();
});
