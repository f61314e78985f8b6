/**
 * examples/ai-sdk.ts, run as users run it (a child `node`), on the AI SDK's mock model:
 * its output is what its comments say; and docs/providers.md quotes it.
 */
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import { ROOT, runNode } from './helpers/run-node.js'

describe('examples/ai-sdk.ts', { timeout: 60_000 }, () => {
  it('streams, calls a tool and answers with its result, printing what its comments say', async () => {
    const { code, stdout, stderr } = await runNode('examples/ai-sdk.ts', [], { nodeArgs: ['--conditions=promptline-source'] })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const source = readFileSync(join(ROOT, 'examples/ai-sdk.ts'), 'utf8')
    const commented = [...source.matchAll(/^\/\/ ((?:Hello|\[|tool_calls|Sunny|system →).*)$/gm)].map((m) => m[1])
    expect(commented).toHaveLength(5)
    expect(stdout.split('\n').filter((line) => line.length > 0)).toEqual(commented)
  })

  it('is quoted by docs/providers.md', () => {
    expect(readFileSync(join(ROOT, 'docs/providers.md'), 'utf8')).toContain('```ts\n// examples/ai-sdk.ts\n')
  })
})
