import { availableParallelism } from "node:os";
import { fileURLToPath } from "node:url";
import { defineConfig } from "vitest/config";

const packages = fileURLToPath(new URL("./packages/", import.meta.url));

// Tests run against the TypeScript sources: `@custody/x` is packages/x/src/index.ts and a subpath
// export `@custody/x/y` is packages/x/src/y.ts. The built dist/ is what the CLI end-to-end tests run.
export default defineConfig({
  resolve: {
    alias: [
      { find: /^@custody\/([a-z-]+)$/, replacement: `${packages}$1/src/index.ts` },
      { find: /^@custody\/([a-z-]+)\/([a-z-]+)$/, replacement: `${packages}$1/src/$2.ts` },
    ],
  },
  test: {
    include: ["packages/*/test/**/*.test.ts", "test/**/*.test.ts", "examples/*/test/**/*.test.ts"],
    testTimeout: 60_000,
    hookTimeout: 120_000,
    pool: "forks",
    // Files run in parallel, one forked process each. Vitest's default on a 2-core machine is a single
    // worker (cores - 1); most files wait on child processes, sockets and fsync rather than the CPU, so
    // one more worker than cores keeps both busy. CUSTODY_TEST_WORKERS overrides (1: one file at a time).
    maxWorkers: Number(process.env.CUSTODY_TEST_WORKERS) || availableParallelism() + 1,
    // One Azurite for the whole run (test/support/azurite-setup.ts); files share it by container names.
    globalSetup: ["./test/support/azurite-setup.ts"],
    reporters: ["default", "./test/support/skip-report.ts", "./test/support/slow-report.ts"],
  },
});
