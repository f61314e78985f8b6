/**
 * Docs that cannot drift: every TypeScript block of README.md and docs/ is either an
 * excerpt of a file (checked in order, gaps marked with `// …`) or a snippet that
 * compiles on its own against the package; every command in a shell block names a
 * script or file that exists. The rules are in test/helpers/doc-blocks.ts.
 */
import { existsSync, readFileSync } from 'node:fs'
import { join } from 'node:path'
import { describe, expect, it } from 'vitest'
import {
  codeBlocks,
  compileSnippets,
  docFiles,
  excerptProblem,
  excerptSource,
  isShell,
  isTypeScript,
  type CodeBlock,
} from './helpers/doc-blocks.js'
import { ROOT } from './helpers/run-node.js'

const DOCS = docFiles()
const TS_BLOCKS = DOCS.flatMap(codeBlocks).filter(isTypeScript)

describe('the checked guides', () => {
  it('include README.md and every guide under docs/', () => {
    for (const doc of ['README.md', 'docs/providers.md', 'docs/redis.md', 'docs/benchmarks.md', 'docs/cli.md']) expect(DOCS).toContain(doc)
    expect(TS_BLOCKS.length).toBeGreaterThan(50)
  })
})

describe('excerpts match their file line by line, in order', () => {
  it.each(DOCS)('%s', (doc) => {
    const problems = codeBlocks(doc)
      .filter((block) => isTypeScript(block) && excerptSource(block) !== undefined)
      .flatMap((block) => {
        const problem = excerptProblem(block)
        return problem === undefined ? [] : [`${doc}:${block.line}: ${problem}`]
      })
    expect(problems).toEqual([])
  })
})

describe('snippets compile on their own against the package', () => {
  it('every TypeScript block that is not an excerpt type-checks as a module', { timeout: 60_000 }, () => {
    const snippets = TS_BLOCKS.filter((block) => excerptSource(block) === undefined)
    expect(snippets.length).toBeGreaterThan(0)
    // A broken snippet compiled in the same program (one compilation, a few seconds) shows
    // that a mistake is reported, at its line in its guide.
    const canary = { doc: 'canary.md', line: 10, lang: 'ts', lines: ["import { Pipeline } from 'promptline'", 'new Pipeline({ provdier: 1 })'] }
    const problems = compileSnippets([...snippets, canary]).map(({ where, message }) => `${where}: ${message}`)
    expect(problems.filter((p) => p.startsWith('canary.md:12: ') && p.includes("'provdier'"))).toHaveLength(1)
    expect(problems.filter((p) => !p.startsWith('canary.md:'))).toEqual([])
  })
})

/** A block as a guide would hold it, for the checker's own tests. */
function block(...lines: string[]): CodeBlock {
  return { doc: 'test.md', line: 1, lang: 'ts', lines }
}

describe('the checker catches drift', () => {
  it.each([
    ['a whole stretch of the file', block('// src/types.ts', 'export interface ProviderRequest {', 'messages: Message[]', 'tools?: ToolDefinition[] | undefined', 'model?: string | undefined')],
    ['a gap marked with // …', block('// src/types.ts', 'export interface ProviderRequest {', 'messages: Message[]', '// …', 'temperature?: number | undefined', '}')],
  ])('accepts %s', (_, excerpt) => {
    expect(excerptProblem(excerpt)).toBeUndefined()
  })

  it.each([
    ['a field left out silently', block('// src/types.ts', 'export interface ProviderRequest {', 'messages: Message[]', 'model?: string | undefined'), '"tools?: ToolDefinition[] | undefined"'],
    ['lines out of order', block('// src/types.ts', 'export interface Provider {', '// …', 'export interface ProviderRequest {'), 'no line "export interface ProviderRequest {"'],
    ['a line the file does not have', block('// src/types.ts', 'export interface ProviderRequest {', 'messages: string[]'), 'the excerpt with "messages: string[]"'],
    ['a file that does not exist', block('// examples/nowhere.ts', 'const a = 1'), 'examples/nowhere.ts does not exist'],
  ])('rejects %s', (_, excerpt, expected) => {
    expect(excerptProblem(excerpt)).toContain(expected)
  })
})

describe('shell blocks name scripts and files that exist', () => {
  const { scripts } = JSON.parse(readFileSync(join(ROOT, 'package.json'), 'utf8')) as { scripts: Record<string, string> }
  it.each(DOCS)('%s', (doc) => {
    const problems: string[] = []
    for (const shell of codeBlocks(doc).filter(isShell)) {
      const text = shell.lines.join('\n')
      for (const [, script = ''] of text.matchAll(/\bnpm run ([\w:-]+)/g)) {
        if (!(script in scripts)) problems.push(`${doc}:${shell.line}: no npm script "${script}"`)
      }
      for (const [, file = ''] of text.matchAll(/\b(?:npx tsx|node(?: --import tsx)?) ((?:examples|bench|test|src)\/[\w./-]+\.ts)\b/g)) {
        if (!existsSync(join(ROOT, file))) problems.push(`${doc}:${shell.line}: no file ${file}`)
      }
    }
    expect(problems).toEqual([])
  })
})
