// Runs before the app's modules: zod reads this configuration when it builds a schema. Jitless, it never
// probes for eval with `new Function`, which the console's CSP (no eval) would refuse and report.
globalThis.__zod_globalConfig = Object.assign(globalThis.__zod_globalConfig ?? {}, { jitless: true });
