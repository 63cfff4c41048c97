import { svelte } from "@sveltejs/vite-plugin-svelte";
import { defaultClientConditions, defineConfig } from "vite";
import { CONSOLE_BASE_PATH } from "./src/index.ts";

// The console is built into dist/ with every asset as a file under the base path: no inline script or
// style (the server's Content-Security-Policy allows 'self' only), no data: URIs, no CDN, no source maps.
export default defineConfig({
  base: CONSOLE_BASE_PATH,
  root: "src/app",
  // workspace packages are bundled from their TypeScript sources
  resolve: { conditions: ["source", ...defaultClientConditions] },
  plugins: [svelte({ compilerOptions: { css: "external" } })],
  build: {
    outDir: "../../dist",
    emptyOutDir: true,
    assetsInlineLimit: 0,
    modulePreload: { polyfill: false },
    sourcemap: false,
    target: "es2022",
    reportCompressedSize: true,
  },
});
