/**
 * One of the processes of bench/run.ts's multi-process row: runs `sessions`
 * sessions of `turns` turns each, all sessions at once, over one connection,
 * either through a Pipeline on RedisStore (`store`) or as raw commands (`raw`).
 * Prints `ready` once its sessions are seeded, starts when a line arrives on
 * stdin, then prints `done <turns> <p99 ms>` and exits.
 *
 *   node --import tsx bench/redis-worker.ts <redis url> <store|raw> <sessions> <turns> <prefix>
 */
import { createInterface } from 'node:readline'
import { Redis } from 'ioredis'
import { RedisStore } from '../src/stores/redis.js'
import { history, pipelineOn, rawTurn } from './turns.js'
import { percentile } from './redis-stats.js'

const [url = '', mode = 'store', sessionsArg = '200', turnsArg = '20', prefix = 'worker'] = process.argv.slice(2)
const sessions = Number(sessionsArg)
const turns = Number(turnsArg)
const client = new Redis(url)
const store = new RedisStore(client, { prefix })
const pipe = pipelineOn(store)
const seed = history(20)
for (let s = 0; s < sessions; s++) {
  if (mode === 'store') await store.save(`s${s}`, seed)
  else await client.rpush(`${prefix}:raw:${s}`, ...seed.map((message) => JSON.stringify(message)))
}
// One turn of each kind first, so the scripts are loaded and the code is compiled.
if (mode === 'store') await pipe.execute('warm', 'user', 'warm-up')
else await rawTurn(client, `${prefix}:raw:warm`, 0)
console.log('ready')
const lines = createInterface({ input: process.stdin })
await new Promise<void>((resolve) => lines.once('line', () => resolve()))
lines.close()
const latencies: number[] = []
await Promise.all(
  Array.from({ length: sessions }, async (_, s) => {
    for (let t = 0; t < turns; t++) {
      const started = performance.now()
      if (mode === 'store') await pipe.execute(`s${s}`, 'user', `Question ${t}?`)
      else await rawTurn(client, `${prefix}:raw:${s}`, t)
      latencies.push(performance.now() - started)
    }
  }),
)
console.log(`done ${latencies.length} ${percentile(latencies, 99).toFixed(2)}`)
await pipe.shutdown()
client.disconnect()
