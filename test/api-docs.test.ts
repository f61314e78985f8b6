/**
 * The API reference (`npm run docs`, TypeDoc over every entry point) builds without a
 * warning: no undocumented export, no public type that is referenced but not exported,
 * no broken `{@link}`. Run with `--emit none`: the check needs TypeDoc's model, not HTML.
 */
import { execFile } from 'node:child_process'
import { readFileSync } from 'node:fs'
import { join } from 'node:path'
import { promisify } from 'node:util'
import { describe, expect, it } from 'vitest'
import { ROOT } from './helpers/run-node.js'

const readJson = <T>(file: string) => JSON.parse(readFileSync(join(ROOT, file), 'utf8')) as T

interface TypeDocConfig {
  entryPoints: string[]
  validation: Record<string, boolean>
  treatValidationWarningsAsErrors: boolean
  requiredToBeDocumented: string[]
}

describe('the API reference', () => {
  const config = readJson<TypeDocConfig>('typedoc.json')

  it('covers every entry point of package.json exports', () => {
    const { exports } = readJson<{ exports: Record<string, unknown> }>('package.json')
    // tsconfig.json's `paths` maps each public specifier to its source file (tests and examples use it).
    const { compilerOptions } = readJson<{ compilerOptions: { paths: Record<string, string[]> } }>('tsconfig.json')
    const specifiers = Object.keys(exports)
      .filter((key) => !key.endsWith('.json'))
      .map((key) => (key === '.' ? 'promptline' : `promptline/${key.slice(2)}`))
    const sources = specifiers.map((specifier) => compilerOptions.paths[specifier]?.[0]?.replace(/^\.\//, '') ?? `no tsconfig path for ${specifier}`)
    expect([...config.entryPoints].sort()).toEqual(sources.sort())
  })

  it('validates what the issue asks for, and fails on a warning', () => {
    expect(config.validation).toEqual({ notExported: true, invalidLink: true, notDocumented: true })
    expect(config.treatValidationWarningsAsErrors).toBe(true)
    expect(config.requiredToBeDocumented).toEqual(expect.arrayContaining(['Class', 'Interface', 'Function', 'Variable', 'TypeAlias']))
  })

  it('builds with no warning (typedoc --emit none)', { timeout: 120_000 }, async () => {
    const typedoc = join(ROOT, 'node_modules/typedoc/bin/typedoc')
    const run = promisify(execFile)
    const result = await run(process.execPath, [typedoc, '--emit', 'none', '--treatWarningsAsErrors'], { cwd: ROOT, env: { ...process.env, NO_COLOR: '1' } })
      .then(({ stdout, stderr }) => ({ code: 0, output: stdout + stderr }))
      .catch((error: { code?: number; stdout?: string; stderr?: string }) => ({ code: error.code, output: `${error.stdout ?? ''}${error.stderr ?? ''}` }))
    expect(result.output.split('\n').filter((line) => /warning|error/i.test(line))).toEqual([])
    expect(result.code).toBe(0)
  })
})
