// Several server instances on one Redis: each turn holds its session's lease, so
// turns of one session are ordered whichever instance takes them.
// Run: REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/serve-redis.ts
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pipeline, type Message } from 'promptline'
import { RedisStore } from 'promptline/redis'
import { bearerAuth, createHandler, toNodeListener } from 'promptline/http'
import { MockProvider } from 'promptline/testing'

const url = process.env.REDIS_URL ?? 'redis://127.0.0.1:6379'
const prefix = `serve-example-${process.pid}` // unique per run, so a shared server stays clean

/** One instance, as each process behind the load balancer would build it. */
async function startInstance(name: string) {
  const store = new RedisStore(url, {
    prefix,
    // The lease: at most one turn per session at a time across every instance.
    lock: { ttlMs: 10_000, waitMs: 30_000 },
  })
  const provider = new MockProvider({ reply: (messages: Message[]) => `${name} saw ${messages.length - 1} earlier messages` })
  const pipeline = new Pipeline({ provider, store, contextWindow: false })
  const handler = createHandler(pipeline, { authenticate: bearerAuth({ 'alice-secret-token': 'alice' }) })
  const server = createServer(toNodeListener(handler)).listen(0, '127.0.0.1')
  await new Promise((resolve) => server.once('listening', resolve))
  const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`
  const stop = async () => {
    server.close()
    await pipeline.shutdown()
    await store.close()
  }
  return { base, store, stop }
}

const instances = [await startInstance('a'), await startInstance('b')]
const ask = (i: number) =>
  fetch(`${instances[i % 2]!.base}/sessions/chat/messages`, {
    method: 'POST',
    headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' },
    body: JSON.stringify({ content: `question ${i}` }),
  })

// Ten concurrent turns on one session, spread over both instances.
const statuses = await Promise.all(Array.from({ length: 10 }, (_, i) => ask(i).then((r) => r.status)))
console.log(statuses.every((status) => status === 200) ? 'all 10 answered' : `statuses: ${statuses.join(' ')}`)

// Every turn saw all the turns before it: 0, 2, 4, … earlier messages.
const stored = await instances[0]!.store.load('alice/chat')
const seen = stored.filter((m) => m.role === 'assistant').map((m) => Number(/saw (\d+)/.exec(m.content)?.[1]))
console.log(`${stored.length} stored; earlier messages seen: ${seen.join(' ')}`)

await instances[0]!.store.delete('alice/chat')
await Promise.all(instances.map((instance) => instance.stop()))
