/**
 * What the first turn of a fresh process costs when its provider reports no usage,
 * with `estimateUsage: false` (the baseline: nothing counted) and `true` (gpt-tokenizer
 * counts, loading its encoding first). Runs on the built JavaScript that
 * bench/import-cost.ts leaves in .tmp/bench-dist, one child process per sample.
 */
import { execFileSync } from 'node:child_process'
import { fileURLToPath, pathToFileURL } from 'node:url'

const ROOT = fileURLToPath(new URL('..', import.meta.url))
const INDEX = fileURLToPath(new URL('../.tmp/bench-dist/src/index.js', import.meta.url))

export interface EstimateCost {
  setting: 'false' | 'true'
  ms: number
  rssMb: number
}

function median(values: number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] ?? Number.NaN
}

function firstTurn(setting: 'false' | 'true'): [number, number] {
  // A Claude model: gpt-tokenizer does not know it, so `true` loads gpt-4o's encoding (o200k).
  const code = `const { Pipeline } = await import(${JSON.stringify(pathToFileURL(INDEX).href)});
const provider = { name: 'quiet', complete: async () => ({ message: { role: 'assistant', content: 'No usage here.' }, model: 'claude-haiku-4-5' }) };
const pipe = new Pipeline({ provider, estimateUsage: ${setting} });
const rss = process.memoryUsage().rss; const t = performance.now();
await pipe.execute('s', 'user', 'Hi');
console.log(JSON.stringify({ ms: performance.now() - t, rss: process.memoryUsage().rss - rss }));
await pipe.shutdown();`
  const out = execFileSync(process.execPath, ['--input-type=module', '-e', code], { cwd: ROOT, encoding: 'utf8' })
  const { ms, rss } = JSON.parse(out.trim().split('\n').at(-1) ?? '{}') as { ms: number; rss: number }
  return [ms, rss / 1024 / 1024]
}

/** The median of `runs` fresh processes per setting; call after `measureImportCosts` built the JavaScript. */
export function measureEstimateCosts(runs: number): EstimateCost[] {
  return (['false', 'true'] as const).map((setting) => {
    const samples = Array.from({ length: runs }, () => firstTurn(setting))
    return { setting, ms: median(samples.map((s) => s[0])), rssMb: median(samples.map((s) => s[1])) }
  })
}
