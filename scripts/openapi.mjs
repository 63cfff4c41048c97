// Writes docs/openapi.json, the OpenAPI 3.1 document the server serves at /openapi.json, from the route
// table in the built @custody/api. Run `pnpm exec tsc -b` first, then `node scripts/openapi.mjs`.
import { writeFile } from "node:fs/promises";

const api = await import(new URL("../packages/api/dist/index.js", import.meta.url).href);
await writeFile(
  new URL("../docs/openapi.json", import.meta.url),
  `${JSON.stringify(api.openApiDocument(), null, 2)}\n`,
);
process.stdout.write("wrote docs/openapi.json\n");
