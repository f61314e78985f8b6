/**
 * What importing each entry point costs a fresh process: modules loaded, milliseconds
 * and resident memory, measured on the built JavaScript (as published) in child
 * processes. The root entry is the baseline; `node` with no import shows the floor.
 */
import { execFileSync } from 'node:child_process'
import { rmSync } from 'node:fs'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
// Inside the repository, so the built files resolve openai, ioredis… from its node_modules.
const OUT = fileURLToPath(new URL('../.tmp/bench-dist/', import.meta.url))
const RECORDER = fileURLToPath(new URL('../test/fixtures/consumer/record-imports.mjs', import.meta.url))

export const IMPORT_ENTRIES = [
  ['promptline', 'src/index.js'],
  ['promptline/redis', 'src/redis.js'],
  ['promptline/openai', 'src/openai.js'],
] as const

export interface ImportCost {
  entry: string
  modules: number
  ms: number
  rssMb: number
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

function runChild(files: readonly string[], record: boolean): string[] {
  const imports = files.map((file) => `await import(${JSON.stringify(pathToFileURL(file).href)})`).join('; ')
  const code = `const t = performance.now(); ${imports};
const ms = performance.now() - t; console.log(JSON.stringify({ ms, rss: process.memoryUsage().rss }))`
  const args = [...(record ? ['--import', RECORDER] : []), '--input-type=module', '-e', code]
  return execFileSync(process.execPath, args, { cwd: ROOT, encoding: 'utf8' })
    .split('\n')
    .filter((line) => line.length > 0)
}

/** The module files importing `file` loads (the resolve hook slows a process, so it is counted apart). */
function modulesOf(files: readonly string[]): number {
  const modules = JSON.parse(runChild(files, true).at(-1) ?? '[]') as string[]
  return modules.filter((path) => path !== RECORDER && !path.endsWith('record-imports-hooks.mjs')).length
}

/** One fresh process importing `files` in turn: [ms, RSS in MB]. */
function importOnce(files: readonly string[]): [number, number] {
  const { ms, rss } = JSON.parse(runChild(files, false).at(-1) ?? '{}') as { ms: number; rss: number }
  return [ms, rss / 1024 / 1024]
}

/** Builds into .tmp/bench-dist, then the median of `runs` fresh processes per entry. */
export function measureImportCosts(runs: number): ImportCost[] {
  rmSync(OUT, { recursive: true, force: true })
  execFileSync(process.execPath, [fileURLToPath(new URL('../node_modules/typescript/bin/tsc', import.meta.url)), '-p', 'tsconfig.build.json', '--outDir', OUT], {
    cwd: ROOT,
    stdio: 'inherit',
  })
  const targets: [string, string[]][] = [
    ['node, no import', []],
    ...IMPORT_ENTRIES.map(([entry, file]): [string, string[]] => [entry, [OUT + file]]),
    // What importing `promptline` cost before the split: 0.1.0's root loaded all three.
    ['all three (0.1.0’s root)', IMPORT_ENTRIES.map(([, file]) => OUT + file)],
  ]
  return targets.map(([entry, files]) => {
    const samples = Array.from({ length: runs }, () => importOnce(files))
    return { entry, modules: modulesOf(files), ms: median(samples.map((s) => s[0])), rssMb: median(samples.map((s) => s[1])) }
  })
}
