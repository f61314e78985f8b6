/**
 * What Redis itself spends, read from `INFO`: the time its commands took
 * (`INFO commandstats`, usec per command name) and the CPU its process used
 * (`INFO cpu`, user + system seconds, network I/O and parsing included).
 *
 * A script's `usec` includes the commands it runs, and those commands are also
 * counted under their own names; so is `EXEC`'s. Summing every name would count
 * them twice: callers name the commands their client sends (top level) and sum
 * only those.
 */
import type { Redis } from 'ioredis'

export interface CommandStat {
  calls: number
  usec: number
}

export async function commandStats(client: Redis): Promise<Map<string, CommandStat>> {
  const stats = new Map<string, CommandStat>()
  for (const line of (await client.info('commandstats')).split('\n')) {
    const match = /^cmdstat_([^:]+):calls=(\d+),usec=(\d+)/.exec(line)
    if (match !== null) stats.set(match[1] as string, { calls: Number(match[2]), usec: Number(match[3]) })
  }
  return stats
}

/** Microseconds spent in the named commands between two `commandStats` snapshots. */
export function usecBetween(before: Map<string, CommandStat>, after: Map<string, CommandStat>, names: readonly string[]): number {
  let usec = 0
  for (const name of names) usec += (after.get(name)?.usec ?? 0) - (before.get(name)?.usec ?? 0)
  return usec
}

/** CPU seconds (user + system) the Redis process has used since it started. */
export async function serverCpuSeconds(client: Redis): Promise<number> {
  const info = await client.info('cpu')
  const user = Number(/used_cpu_user:([\d.]+)/.exec(info)?.[1])
  const system = Number(/used_cpu_sys:([\d.]+)/.exec(info)?.[1])
  return user + system
}

export function median(values: readonly number[]): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.floor(sorted.length / 2)] as number
}

/** The `p`-th percentile (0–100) of `values`, nearest rank. */
export function percentile(values: readonly number[], p: number): number {
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.max(0, Math.ceil((p / 100) * sorted.length) - 1))] as number
}
