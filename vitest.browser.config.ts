import { defineConfig } from 'vitest/config'
import base from './vitest.config.js'

// The headless-browser tests: `npm run test:browser` (they need Chromium; .ci/run installs it).
export default defineConfig({
  ...base,
  test: { ...base.test, include: ['test/browser/**/*.test.ts'], exclude: ['**/node_modules/**'], reporters: ['default'] },
})
