import { defineConfig } from 'vitest/config';

export default defineConfig({
  test: {
    // vitest's report, then each failure and the counts again as the last lines (test/support/summary-reporter.ts).
    reporters: ['default', './test/support/summary-reporter.ts'],
    projects: [
      {
        test: { name: 'unit', include: ['test/unit/**/*.test.ts'], environment: 'node', testTimeout: 60_000 },
      },
      {
        test: {
          name: 'browser',
          include: ['test/browser/**/*.test.ts'],
          environment: 'node',
          // One Chromium at a time: the machine has two cores and SwiftShader uses both.
          fileParallelism: false,
          globalSetup: ['test/browser/global-setup.ts'],
          testTimeout: 240_000,
          hookTimeout: 240_000,
          // expect.poll waits for a value, not for a time: its deadline is that of every other wait of a
          // browser test (WAIT_MS in test/browser/harness.ts), not vitest's one second.
          expect: { poll: { timeout: 120_000, interval: 50 } },
        },
      },
    ],
  },
});
