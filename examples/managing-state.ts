// Managing state: sessions, what a turn stores, forks, copies, caps, TTL and deletion.
// Run: npx tsx examples/managing-state.ts
import { setTimeout as sleep } from 'node:timers/promises'
import { Pipeline, MemoryStore, SessionExistsError } from 'promptline'
import { MockProvider } from 'promptline/testing'

const store = new MemoryStore({ ttlMs: 30 * 60_000, maxSessions: 10_000, maxMessages: 200 })
const pipe = new Pipeline({ provider: new MockProvider(), store, systemPrompt: 'Be brief.' })

// One session id, one conversation.
await pipe.execute('alice', 'user', "Hi, I'm Alice")
await pipe.execute('bob', 'user', "Hi, I'm Bob")

// A turn stores its new messages: the input and the reply. The system prompt is not stored.
const stored = await store.load('alice')
console.log(stored.map((m) => `${m.role}: ${m.content}`).join(' | ')) // user: Hi, I'm Alice | assistant: Echo: Hi, I'm Alice

// Fork: copy a session, then let the two diverge.
await store.fork('alice', 'alice-draft')
await pipe.execute('alice-draft', 'user', 'Let us try another answer')
console.log(`alice: ${await store.length('alice')}, alice-draft: ${await store.length('alice-draft')}`) // alice: 2, alice-draft: 4
try {
  await store.fork('alice', 'bob')
} catch (error) {
  if (error instanceof SessionExistsError) console.log(`fork refused: ${error.message}`) // Session `bob` already exists
}

// Load only the newest messages, as state-load does with the context window.
const tail = await store.load('alice-draft', { last: 2 })
console.log(tail.map((m) => m.content).join(' | ')) // Let us try another answer | Echo: Let us try another answer

// Stored messages are copies: changing what `load` returned changes nothing stored.
const copy = await store.load('alice')
copy[0]!.content = 'changed'
console.log((await store.load('alice'))[0]!.content) // Hi, I'm Alice

// Session ids, least recently used first (with ttlMs or maxSessions; else in creation order).
const ids: string[] = []
for await (const id of store.list()) ids.push(id)
console.log(ids.join(', ')) // bob, alice-draft, alice (alice was read last)

// Delete a session: it becomes unknown again.
console.log(await store.delete('bob'), await store.length('bob')) // true 0

// maxMessages caps what a session keeps; the oldest messages go first.
const capped = new MemoryStore({ maxMessages: 4 })
const short = new Pipeline({ provider: new MockProvider(), store: capped })
for (const text of ['one', 'two', 'three']) await short.execute('s', 'user', text)
console.log((await capped.load('s')).map((m) => m.content).join(', ')) // two, Echo: two, three, Echo: three

// Appends with the same idempotency key store once (state-save uses the turn's execution id).
await capped.append('log', [{ role: 'user', content: 'once' }], { idempotencyKey: 'turn-1' })
await capped.append('log', [{ role: 'user', content: 'once' }], { idempotencyKey: 'turn-1' })
console.log(`idempotent append: ${await capped.length('log')} message`) // 1

// ttlMs: a session nobody read or wrote for that long is gone.
const brief = new MemoryStore({ ttlMs: 50 })
await brief.append('s', [{ role: 'user', content: 'hello' }])
await sleep(80)
console.log(`after the TTL: ${(await brief.load('s')).length} messages`) // 0

await pipe.shutdown()
await short.shutdown()
await store.close() // a store you passed in is yours to close
