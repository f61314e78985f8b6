/**
 * Keeps `npm run bench` working: runs its quick mode and checks the table it
 * prints. No figure is asserted (timings belong to the benchmark, not to tests);
 * the round trips per Redis turn are a count, and must be exactly two.
 */
import { describe, expect, it } from 'vitest'
import { runNode } from './helpers/run-node.js'
import { redisSkipReason } from './helpers/redis-server.js'

describe('npm run bench -- --quick', () => {
  it('prints every row, with two Redis round trips per turn', async () => {
    const { code, stdout, stderr } = await runNode('bench/run.ts', ['--quick'], { timeoutMs: 150_000 })
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
    expect(stdout).toMatch(/\| former cache \(content keys\): heap kept after \d+ distinct 100 kB messages \|/)
    expect(stdout).toMatch(/\| token cache: heap kept after the same messages \(charged [\d.]+ MB\) \|/)
    expect(stdout).toMatch(/\| token cache: heap kept after \d+ distinct 300-character messages \(\d+ kept, charged 16\.00 MB of TOKEN_CACHE_BYTES 16\.00 MB\) \|/)
    if (redisSkipReason('standalone') === undefined) {
      const redisRows = stdout.split('\n').filter((line) => line.startsWith('| RedisStore turn'))
      expect(redisRows).toHaveLength(6)
      for (const row of redisRows) expect(row).toContain('2.00 round trips/turn')
      expect(redisRows.filter((row) => row.startsWith('| RedisStore turn with summary'))).toHaveLength(3)
      // The lease adds its own two: SET NX PX before the load, the release after the save (the fence rides in the append).
      expect(stdout).toMatch(/\| lease \(`lock`\): RedisStore turn holding the session's lease, 4\.00 round trips\/turn \| 10–110 \| [\d.]+ (µs|ms) \(\+-?[\d.]+ (µs|ms)\) \| [\d.]+× \|/)
    }
  }, 160_000)
})
