import { z } from "zod";

// zod compiles object parsers with `new Function` where it may, and probes for it on first use; the
// console's CSP forbids eval, so the probe would be reported as a violation on every load. Imported first
// by main.ts, before any module that builds or uses a schema.
z.config({ jitless: true });
