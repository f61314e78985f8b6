import { readFileSync } from 'node:fs'
import { fileURLToPath } from 'node:url'
import { defineConfig } from 'vitest/config'

// `promptline` and its subpaths resolve to the TypeScript sources through tsconfig.json's
// `paths` (which tsx follows for examples too); the published package.json names only dist/.
const { compilerOptions } = JSON.parse(readFileSync(new URL('./tsconfig.json', import.meta.url), 'utf8')) as {
  compilerOptions: { paths: Record<string, [string]> }
}
const alias = Object.entries(compilerOptions.paths).map(([name, [target]]) => ({
  find: new RegExp(`^${name}$`),
  replacement: fileURLToPath(new URL(target, import.meta.url)),
}))

export default defineConfig({
  resolve: { alias },
  test: {
    include: ['test/**/*.test.ts'],
    // The headless-browser tests have their own script (npm run test:browser).
    exclude: ['test/browser/**', '**/node_modules/**'],
    testTimeout: 20_000,
    hookTimeout: 60_000,
    // Redis servers are started per suite; two cores are plenty for a few forks.
    pool: 'forks',
    maxWorkers: 2,
    // The JSON report lets .ci/run print a plain "N passed, N failed" closing line.
    reporters: ['default', ['json', { outputFile: '.tmp/vitest-report.json' }]],
  },
})
