/**
 * One process of the Redis concurrency test: runs `turns` turns on one session
 * through a Pipeline backed by a RedisStore, after every worker has arrived at a
 * barrier (so the processes really interleave), and prints one JSON line:
 * `{ worker, saved, failed }`.
 *
 * Run: node --import tsx test/helpers/redis-pipeline-worker.ts <url> <prefix> <sessionId> <worker> <workers> <turns>
 */
import { Redis } from 'ioredis'
import { Pipeline } from '../../src/pipeline.js'
import { MockProvider } from '../../src/providers/mock.js'
import { RedisStore } from '../../src/stores/redis.js'

const [url, prefix, sessionId, worker, workers, turns] = process.argv.slice(2)
if (url === undefined || prefix === undefined || sessionId === undefined || worker === undefined || workers === undefined || turns === undefined) {
  console.error('usage: redis-pipeline-worker.ts <url> <prefix> <sessionId> <worker> <workers> <turns>')
  process.exit(2)
}

const store = new RedisStore(url, { prefix })
const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 1 }), store, contextWindow: { maxMessages: 10 } })

// Barrier: wait until every worker is ready, so their turns overlap.
const barrier = new Redis(url)
const barrierKey = `${prefix}:barrier`
await barrier.incr(barrierKey)
const deadline = Date.now() + 20_000
while (Number(await barrier.get(barrierKey)) < Number(workers)) {
  if (Date.now() > deadline) throw new Error('barrier timed out')
  await new Promise((resolve) => setTimeout(resolve, 5))
}
await barrier.quit()

let saved = 0
const failed: string[] = []
for (let turn = 0; turn < Number(turns); turn++) {
  try {
    const result = await pipe.execute(sessionId, 'user', `w${worker}-t${turn}`)
    if (result.saved) saved++
    else failed.push(`w${worker}-t${turn}: not saved`)
  } catch (error) {
    failed.push(`w${worker}-t${turn}: ${String(error)}`)
  }
}
await pipe.shutdown()
await store.close()
console.log(JSON.stringify({ worker: Number(worker), saved, failed }))
