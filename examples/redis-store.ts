// RedisStore set up as docs/redis.md describes: a prefix, a TTL, a cap, and the keys a session uses.
// Run: REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/redis-store.ts
import { Pipeline } from 'promptline'
import { RedisStore } from 'promptline/redis'
import { MockProvider } from 'promptline/testing'

const store = new RedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
  prefix: 'chat',
  ttlSeconds: 7 * 24 * 3600, // forget sessions idle for a week
  maxMessages: 1_000, // keep the newest 1,000 messages per session
})
const pipe = new Pipeline({ provider: new MockProvider(), store })

await pipe.execute('alice', 'user', "Hi, I'm Alice")
console.log(`alice: ${await store.length('alice')} messages`) // alice: 2 messages

// The three keys of a session, for redis-cli:
console.log(JSON.stringify(store.keys('user:42'))) // {"messages":"chat:{user:42}:msgs","meta":"chat:{user:42}:meta","idempotency":"chat:{user:42}:idem"}
console.log(store.keys('{a}').messages) // chat:{%7Ba%7D}:msgs

await store.delete('alice') // leave a shared server as it was
await pipe.shutdown()
await store.close() // the pipeline closes only a store it created itself
