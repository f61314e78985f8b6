/**
 * What `wait: { replicas: 1 }` costs a turn's append: sequential appends of a
 * user/assistant pair with an idempotency key, against a throwaway master with
 * one replica on loopback, without and with WAIT, interleaved in rounds so both
 * see the same machine load. Prints the median per append and the ratio.
 *
 * Run: npx tsx bench/redis-wait.ts
 */
import { randomUUID } from 'node:crypto'
import { RedisStore } from '../src/stores/redis.js'
import { startRedisServer } from '../test/helpers/redis-server.js'
import { startReplica } from '../test/helpers/redis-replication.js'

const ROUNDS = 9
const APPENDS = 400
const master = await startRedisServer()
const replica = await startReplica(master)
const plain = new RedisStore(master.url, { prefix: 'plain' })
const waiting = new RedisStore(master.url, { prefix: 'wait', wait: { replicas: 1, timeoutMs: 1_000 } })

async function run(store: RedisStore): Promise<number> {
  const started = performance.now()
  for (let i = 0; i < APPENDS; i++) {
    await store.append(`s${i % 20}`, [{ role: 'user', content: `q${i}` }, { role: 'assistant', content: `a${i}` }], { idempotencyKey: randomUUID() })
  }
  return ((performance.now() - started) * 1000) / APPENDS
}

const median = (values: number[]) => values.sort((a, b) => a - b)[Math.floor(values.length / 2)] as number
await run(plain)
await run(waiting)
const without: number[] = []
const withWait: number[] = []
for (let round = 0; round < ROUNDS; round++) {
  without.push(await run(plain))
  withWait.push(await run(waiting))
}
const a = median(without)
const b = median(withWait)
console.log(`append without wait: ${a.toFixed(0)} µs, with wait { replicas: 1 }: ${b.toFixed(0)} µs, ratio ${(b / a).toFixed(2)}× (+${(b - a).toFixed(0)} µs per turn)`)
await plain.close()
await waiting.close()
await replica.stop()
await master.stop()
