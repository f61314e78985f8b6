/**
 * Keeps `npm run bench` working: runs its quick mode and checks the table it
 * prints. No figure is asserted (timings belong to the benchmark, not to tests);
 * the round trips per Redis turn are a count, and must be exactly two. Every row
 * of issue 13 (Redis cost, throughput, the memory turn's shares, LangChain side
 * by side) must be there with a figure and a ratio.
 */
import { describe, expect, it } from 'vitest'
import { runNode } from './helpers/run-node.js'
import { redisSkipReason } from './helpers/redis-server.js'

const escape = (text: string) => text.replace(/[.*+?^${}()|[\]\\/]/g, '\\$&')

describe('npm run bench -- --quick', () => {
  it('prints every row, with two Redis round trips per turn', async () => {
    const figure = String.raw`[\d.]+ (µs|ms|turns/s)`
    const { code, stdout, stderr } = await runNode('bench/run.ts', ['--quick'], { timeoutMs: 300_000 })
    expect(stderr).not.toMatch(/Error/)
    expect(code).toBe(0)
    expect(stdout).toMatch(/\| tokenizer alone: encodeChat of a 21-message view \| — \| [\d.]+ (µs|ms) \| 1\.00× \|/)
    for (const length of ['10–110', '1000–1100', '10000–10100']) {
      expect(stdout).toContain(`| MemoryStore turn (window 20, token limit) | ${length} |`)
    }
    // Issue 9: each policy against the plain turn of the same run, and the summariser's input size, at each length.
    for (const length of ['10–110', '1000–1100', '10000–10100']) {
      expect(stdout).toMatch(new RegExp(`\\| MemoryStore plain turn \\(window 20, token limit\\) \\| ${length} \\| [\\d.]+ (µs|ms) \\| 1\\.00× of plain turn \\|`))
      expect(stdout).toMatch(new RegExp(`\\| MemoryStore summary \\(background, after 30\\) \\| ${length} \\| [\\d.]+ (µs|ms) \\| [\\d.]+× of plain turn \\|`))
      expect(stdout).toMatch(new RegExp(`\\| MemoryStore toolResults \\(keepLast 2\\) \\+ keepFirst 2 \\| ${length} \\| [\\d.]+ (µs|ms) \\| [\\d.]+× of plain turn \\|`))
      expect(stdout).toMatch(new RegExp(`\\| summariser's largest request \\(characters\\) \\| ${length} \\| \\d+ \\| — \\|`))
    }
    for (const entry of ['`promptline`', '`promptline/redis`', '`promptline/openai`', 'all three (0.1.0’s root)']) {
      expect(stdout).toMatch(new RegExp(`\\| ${entry.replace(/[/.()]/g, '\\$&')} \\| \\d+ \\| [\\d.]+ ms \\| [\\d.]+ MB \\| [\\d.]+×, [\\d.]+× of promptline \\|`))
    }
    // estimateUsage: the first turn of a provider without usage, counted or not.
    for (const setting of ['false', 'true']) {
      expect(stdout).toMatch(new RegExp(`\\| \`estimateUsage: ${setting}\` \\| [\\d.]+ ms \\| -?[\\d.]+ MB \\| [\\d.]+× of false \\|`))
    }
    // Counting bounds (issue 14): the tokenizer's worst stall on 1 MB inputs against its one-call baseline, and the cache's memory.
    expect(stdout).toMatch(/\| tokenizer alone: encode 1 MB of prose in one call \(wall [\d.]+ ms\) \| 1 MB \| [\d.]+ ms \| 1\.00× \|/)
    for (const input of ['base64', 'minified JS', '`x` repeated']) {
      expect(stdout).toMatch(new RegExp(`\\| countAsync: worst stall counting 1 MB of ${input} \\([^|]*\\) \\| 1 MB \\| [\\d.]+ ms \\| [\\d.]+× \\|`))
    }
    for (const row of [
      'MemoryStore turn, default, CPU time (A/B base for the next rows) | 1000',
      "… without a deadline (timeoutMs: false): the deadline's timer and AbortController | 1000",
      '… without tokenLimit: counting through the token cache | 1000',
      '… garbage collection during the default turns (PerformanceObserver gc) | 1000',
      '… one AbortController with a listener added and removed, alone | —',
    ]) {
      expect(stdout).toMatch(new RegExp(`\\| ${escape(row)} \\| ${figure} \\| -?[\\d.]+(×|% of the turn) \\|`))
    }
    expect(stdout).toMatch(new RegExp(String.raw`\| LangChain trimMessages \(strategy 'last', cached gpt-tokenizer counter\), 8000 tokens: keeps \d+ \| 1000 \| ${figure} \| \d+× of promptline \|`))
    expect(stdout).toMatch(new RegExp(String.raw`\| promptline token-truncation, same view and budget: keeps \d+ \| 1000 \| ${figure} \| 1\.00× \|`))
    expect(stdout).toMatch(/\| former cache \(content keys\): heap kept after \d+ distinct 100 kB messages \|/)
    expect(stdout).toMatch(/\| token cache: heap kept after the same messages \(charged [\d.]+ MB\) \|/)
    expect(stdout).toMatch(/\| token cache: heap kept after \d+ distinct 300-character messages \(\d+ kept, charged 16\.00 MB of TOKEN_CACHE_BYTES 16\.00 MB\) \|/)
    if (redisSkipReason('standalone') === undefined) {
      const redisRows = stdout.split('\n').filter((line) => line.startsWith('| RedisStore turn'))
      expect(redisRows).toHaveLength(6)
      for (const row of redisRows) expect(row).toContain('2.00 round trips/turn')
      for (const length of ['10', '1000', '10000']) {
        expect(stdout).toMatch(new RegExp(String.raw`\| raw ioredis floor: LRANGE -20 -1 \+ RPUSH \(A/B with the next row\) \| ${length} \| ${figure} \| 1\.00× \|`))
        expect(stdout).toMatch(new RegExp(String.raw`\| RedisStore turn \(window 20, token limit\), 2\.00 round trips/turn \| ${length} \| ${figure} \| [\d.]+× of floor \|`))
        expect(stdout).toMatch(new RegExp(String.raw`\| LangChain RedisChatMessageHistory: getMessages \+ addMessages \| ${length} \| ${figure} \| [\d.]+× of RedisStore \|`))
      }
      for (const row of [
        'Redis time per turn (commandstats), RedisStore load + append',
        'Redis time per turn (commandstats), RedisStore load + append, ttlSeconds (raw: no EXPIRE)',
        'Redis process CPU per turn (INFO cpu, I/O included), RedisStore',
      ]) {
        expect(stdout).toMatch(new RegExp(String.raw`\| ${escape(row)} \| 1000 \| ${figure} \| [\d.]+× of raw \|`))
      }
      expect(stdout).toMatch(new RegExp(String.raw`\| 200 sessions × 20 turns in flight, one connection: RedisStore turns \(p99 [\d.]+ ms\) \| 20 \| \d+ turns/s \| [\d.]+× of raw \|`))
      expect(stdout).toMatch(
        new RegExp(String.raw`\| 8 processes × 200 sessions × \d+ turns: RedisStore turns \(Redis CPU ${figure}/turn, \d+% of a core; worst p99 \d+ ms\) \| 20 \| \d+ turns/s \| [\d.]+× of raw; Redis CPU/turn [\d.]+× \|`),
      )
      expect(redisRows.filter((row) => row.startsWith('| RedisStore turn with summary'))).toHaveLength(3)
      // The lease adds its own two: SET NX PX before the load, the release after the save (the fence rides in the append).
      expect(stdout).toMatch(/\| lease \(`lock`\): RedisStore turn holding the session's lease, 4\.00 round trips\/turn \| 10–110 \| [\d.]+ (µs|ms) \(\+-?[\d.]+ (µs|ms)\) \| [\d.]+× \|/)
    }
  }, 310_000)
})
