import { readFileSync } from 'node:fs'
import { dirname, join } from 'node:path'
import { fileURLToPath } from 'node:url'

/**
 * The version in promptline's own package.json, found by walking up from this file:
 * the same code runs from `src/cli/` (tsx) and from the built package, whatever
 * the depth of its build layout.
 */
export function packageVersion(from: string = import.meta.url): string {
  let dir = dirname(fileURLToPath(from))
  for (;;) {
    try {
      const manifest = JSON.parse(readFileSync(join(dir, 'package.json'), 'utf8')) as { name?: unknown; version?: unknown }
      if (manifest.name === 'promptline' && typeof manifest.version === 'string') return manifest.version
    } catch {
      // No package.json here (or not ours): keep walking up.
    }
    const parent = dirname(dir)
    if (parent === dir) return 'unknown'
    dir = parent
  }
}
