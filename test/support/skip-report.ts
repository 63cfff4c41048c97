import { relative } from "node:path";
import type { Reporter, TestModule } from "vitest/node";

/**
 * Skips that are a choice, not a missing tool: tests that need an opt-in (hours of I/O, or many GiB
 * of disk) and so never run by default, on CI either.
 */
const OPT_IN = [/ZIP64 for real \(set CUSTODY_ZIP64_LARGE=1\)/];

interface Skipped {
  file: string;
  name: string;
  note: string | undefined;
}

/**
 * Lists every skipped test with its reason at the end of a run, so a machine that silently lacks a
 * tool cannot pass for one that ran everything. Under CI (CI set), a skip that is not an opt-in fails
 * the run: CI's machine is set up to run every test.
 */
export default class SkipReport implements Reporter {
  onTestRunEnd(modules: ReadonlyArray<TestModule>): void {
    const skipped = modules.flatMap((module) => skippedIn(module));
    if (skipped.length === 0) return;
    const unexpected = skipped.filter(({ name }) => !OPT_IN.some((pattern) => pattern.test(name)));
    const lines = skipped.map(({ file, name, note }) => `  ${file} > ${name}${note ? ` (${note})` : ""}`);
    process.stdout.write(`\nskipped tests (${skipped.length}):\n${lines.join("\n")}\n`);
    if (process.env.CI && unexpected.length > 0) {
      process.stdout.write(`CI runs every test: ${unexpected.length} skipped that are not opt-ins\n`);
      process.exitCode = 1;
    }
  }
}

function skippedIn(module: TestModule): Skipped[] {
  const file = relative(process.cwd(), module.moduleId);
  const out: Skipped[] = [];
  for (const test of module.children.allTests()) {
    const result = test.result();
    if (result.state === "skipped") out.push({ file, name: test.fullName, note: result.note });
  }
  return out;
}
