import { defineConfig } from 'vitest/config'

export default defineConfig({
  resolve: {
    // Resolve `promptline` (self-reference in examples) to the TypeScript sources.
    conditions: ['promptline-source'],
  },
  test: {
    include: ['test/**/*.test.ts'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Redis servers are started per suite; two cores are plenty for a few forks.
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
  },
})
