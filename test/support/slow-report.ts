import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

/** How many of the slowest files a run lists (CUSTODY_SLOW_FILES overrides; 0 lists none). */
const DEFAULT_LISTED = 15;

/**
 * Lists the slowest test files at the end of a run, with the time each spent importing and running its
 * tests and hooks, and the run's wall time: where `.ci/run`'s time goes as the suite grows.
 */
export default class SlowReport implements Reporter {
  private startedAt = performance.now();

  onTestRunStart(): void {
    this.startedAt = performance.now();
  }

  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const listed = Number(process.env.CUSTODY_SLOW_FILES ?? DEFAULT_LISTED);
    if (!(listed > 0) || modules.length === 0) return;
    const files = modules.map((module) => {
      const { collectDuration, duration } = module.diagnostic();
      return { file: relative(process.cwd(), module.moduleId), importMs: collectDuration, testMs: duration };
    });
    const total = (file: (typeof files)[number]): number => file.importMs + file.testMs;
    files.sort((a, b) => total(b) - total(a));
    const seconds = (ms: number): string => `${(ms / 1000).toFixed(1)} s`;
    const sum = files.reduce((acc, file) => acc + total(file), 0);
    const lines = files
      .slice(0, listed)
      .map((f) => `  ${seconds(total(f)).padStart(8)}  ${f.file} (import ${seconds(f.importMs)})`);
    process.stdout.write(
      `\nslowest test files (${Math.min(listed, files.length)} of ${files.length}; ${seconds(sum)} in all files, ` +
        `${seconds(performance.now() - this.startedAt)} wall):\n${lines.join("\n")}\n`,
    );
  }
}
