import { fileURLToPath } from "node:url";

// The Node side of the console package: where `vite build` put the app, for `custody serve` to serve.
// The app itself (src/app) runs in the browser and is never imported from Node.

/** The path the console is served under, on the server's own origin. */
export const CONSOLE_BASE_PATH = "/console/";

/** The directory of the built app (index.html and assets/), made by `pnpm run build`. */
export const CONSOLE_ASSETS_DIR: string = fileURLToPath(new URL("../dist/", import.meta.url));
