/**
 * Measures the Redis memory a RedisStore session takes, for docs/redis.md's sizing
 * section: `used_memory` before and after writing N sessions through the store
 * (appends of user/assistant pairs with the pipeline's idempotency keys), on a
 * throwaway redis-server.
 *
 * Run: npx tsx bench/redis-sizing.ts
 */
import { randomUUID } from 'node:crypto'
import { Redis } from 'ioredis'
import { RedisStore } from '../src/stores/redis.js'
import { startRedisServer } from '../test/helpers/redis-server.js'
import type { Message } from '../src/types.js'

const SESSIONS = 2_000
const server = await startRedisServer()
const admin = new Redis(server.url)

async function usedMemory(): Promise<number> {
  return Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
}

/** A message whose JSON is about `bytes` long. */
function message(role: 'user' | 'assistant', i: number, bytes: number): Message {
  const overhead = JSON.stringify({ role, content: '' }).length
  return { role, content: `m${i} `.padEnd(bytes - overhead, 'x') }
}

async function measure(turns: number, bytes: number, idempotency: boolean, ttl: boolean): Promise<{ perSession: number; json: number }> {
  const store = new RedisStore(server.url, { prefix: `size${turns}-${bytes}-${idempotency}-${ttl}`, ...(ttl ? { ttlSeconds: 86_400 } : {}) })
  const before = await usedMemory()
  let json = 0
  for (let s = 0; s < SESSIONS; s++) {
    for (let t = 0; t < turns; t++) {
      const pair = [message('user', t, bytes), message('assistant', t, bytes)]
      json += JSON.stringify(pair[0]).length + JSON.stringify(pair[1]).length
      await store.append(`session-${s}`, pair, idempotency ? { idempotencyKey: randomUUID() } : undefined)
    }
  }
  const after = await usedMemory()
  await store.close()
  return { perSession: (after - before) / SESSIONS, json: json / SESSIONS }
}

console.log(`Redis ${(await admin.info('server')).match(/redis_version:(\S+)/)?.[1]}, ${SESSIONS} sessions per row`)
console.log('turns | msg JSON B | idempotency | ttl | bytes/session | JSON/session | overhead/session')
for (const [turns, bytes, idem, ttl] of [
  [1, 200, false, false], [1, 200, true, false], [3, 200, true, false], [10, 200, true, false], [50, 200, true, false],
  [100, 200, true, false], [10, 1000, true, false], [100, 200, false, false], [3, 200, true, true],
] as const) {
  const { perSession, json } = await measure(turns, bytes, idem, ttl)
  console.log(`${turns} | ${bytes} | ${idem} | ${ttl} | ${perSession.toFixed(0)} | ${json.toFixed(0)} | ${(perSession - json).toFixed(0)}`)
}
await admin.quit()
await server.stop()
