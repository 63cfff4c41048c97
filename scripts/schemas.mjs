// Writes the JSON Schemas of custody's file formats into docs/schemas/ from the zod schemas in the built
// packages. Run `pnpm exec tsc -b` first, then `pnpm schemas`. Add a row per format.
import { mkdir, writeFile } from "node:fs/promises";

const SCHEMAS = [
  {
    file: "custody-manifest-v1.json",
    module: "../packages/manifest/dist/index.js",
    build: (m) => m.custodyManifestJsonSchema(),
  },
  ...[
    "custody-audit-record",
    "custody-audit-checkpoint-v1",
    "custody-audit-inclusion-v1",
    "custody-audit-consistency-v1",
  ].map((name) => ({
    file: `${name}.json`,
    module: "../packages/audit/dist/index.js",
    build: (m) => m.auditJsonSchemas()[name],
  })),
  ...["custody-report-v2", "custody-item-v1"].map((name) => ({
    file: `${name}.json`,
    module: "../packages/audit/dist/index.js",
    build: (m) => m.custodyReportJsonSchemas()[name],
  })),
  ...["custody-alerts-v1", "custody-alert-v1"].map((name) => ({
    file: `${name}.json`,
    module: "../packages/alerts/dist/index.js",
    build: (m) => m.alertJsonSchemas()[name],
  })),
];

const out = new URL("../docs/schemas/", import.meta.url);
await mkdir(out, { recursive: true });
for (const { file, module, build } of SCHEMAS) {
  const schema = build(await import(new URL(module, import.meta.url).href));
  await writeFile(new URL(file, out), `${JSON.stringify(schema, null, 2)}\n`);
  process.stdout.write(`wrote docs/schemas/${file}\n`);
}
