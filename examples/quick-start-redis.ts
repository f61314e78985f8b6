// The quick start on Redis: the conversation survives the pipeline (and the process).
// Run: REDIS_URL=redis://127.0.0.1:6379 npx tsx examples/quick-start-redis.ts
import { Pipeline, type Message } from 'promptline'
import { RedisStore } from 'promptline/redis'
import { MockProvider } from 'promptline/testing'

function reply(messages: Message[]): string {
  const name = messages.map((m) => /I'm (\w+)/.exec(m.content)?.[1]).findLast((n) => n !== undefined)
  if (messages.at(-1)?.content.includes('my name') === true) {
    return name === undefined ? "I don't know your name." : `Your name is ${name}.`
  }
  return name === undefined ? 'Hello!' : `Hello, ${name}!`
}

const sessionId = `alice-${process.pid}` // unique per run, so a shared server stays clean

// First "process": one turn, then shut down.
const store = new RedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379')
const pipe = new Pipeline({ provider: new MockProvider({ reply }), store })
console.log((await pipe.execute(sessionId, 'user', "Hi, I'm Alice")).response.content) // Hello, Alice!
await pipe.shutdown()
await store.close() // the pipeline closes only a store it created itself

// Second "process": a new store and pipeline on the same Redis remember Alice.
const later = new RedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', { ttlSeconds: 7 * 24 * 3600 })
const pipe2 = new Pipeline({ provider: new MockProvider({ reply }), store: later })
console.log((await pipe2.execute(sessionId, 'user', 'What is my name?')).response.content) // Your name is Alice.
console.log(`stored in Redis: ${await later.length(sessionId)} messages`) // 4

await later.delete(sessionId)
await pipe2.shutdown()
await later.close()
