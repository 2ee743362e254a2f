/**
 * The last lines of every test run, after vitest's own report: each failing test named with the first
 * lines of its error, errors outside any test, then one plain count line ("N passed, N failed,
 * N skipped", where an error outside a test, in a file's hooks or anywhere else, counts as a failure).
 * A failure in a long CI log is then read at its end, not searched for.
 */
import { relative } from 'node:path';
import type { Reporter, SerializedError, TestModule } from 'vitest/node';

const ERROR_LINES = 4;

function firstLines(error: SerializedError | undefined): string[] {
  if (!error) return ['(no error message)'];
  const text = [error.name && !String(error.message).startsWith(error.name) ? `${error.name}: ` : '', error.message ?? String(error)].join('');
  return text.split('\n').filter((line) => line.trim() !== '').slice(0, ERROR_LINES);
}

export default class SummaryReporter implements Reporter {
  onTestRunEnd(testModules: ReadonlyArray<TestModule>, unhandledErrors: ReadonlyArray<SerializedError>): void {
    const counts = { passed: 0, failed: 0, skipped: 0 };
    const failures: string[] = [];
    for (const module of testModules) {
      const file = relative(process.cwd(), module.moduleId);
      for (const test of module.children.allTests()) {
        const result = test.result();
        if (result.state === 'passed') counts.passed++;
        else if (result.state === 'failed') {
          counts.failed++;
          failures.push(`  FAIL ${file} > ${test.fullName}`, ...firstLines(result.errors?.[0]).map((line) => `       ${line}`));
        } else counts.skipped++;
      }
      // A file that failed before or around its tests (an import, a beforeAll or afterAll) has errors of its own.
      for (const error of module.errors()) {
        counts.failed++;
        failures.push(`  FAIL ${file} (outside its tests)`, ...firstLines(error).map((line) => `       ${line}`));
      }
    }
    for (const error of unhandledErrors) {
      counts.failed++;
      failures.push('  ERROR outside any test', ...firstLines(error).map((line) => `       ${line}`));
    }

    const out: string[] = [''];
    if (failures.length > 0) out.push(`Failed: ${counts.failed} (the whole error of each is above)`, ...failures, '');
    out.push(`${counts.passed} passed, ${counts.failed} failed, ${counts.skipped} skipped`);
    process.stdout.write(`${out.join('\n')}\n`);
  }
}
