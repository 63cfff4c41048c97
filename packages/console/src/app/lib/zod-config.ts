import { config } from "zod";

// zod probes for eval with `new Function` when it builds an object schema; the CSP forbids eval, so the
// probe would only be refused and reported. main.ts imports this first (and uses the value, so the
// package's `sideEffects: false` cannot drop it): the interpreted parser is chosen before any schema exists.
export const ZOD_JITLESS: boolean = config({ jitless: true }).jitless === true;
