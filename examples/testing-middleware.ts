// Testing a middleware offline with MockProvider: run real turns, then look at what the provider was sent.
// Run: npx tsx examples/testing-middleware.ts
// (In a test runner, the same assertions go inside `it(...)`.)
import assert from 'node:assert/strict'
import { Pipeline, MemoryStore, type Middleware } from 'promptline'
import { MockProvider } from 'promptline/testing'

// The middleware under test: appends a signature to the view's system prompt.
const signature: Middleware = async function signature(ctx, next) {
  ctx.messages = ctx.messages.map((m, i) => (i === 0 && m.role === 'system' ? { ...m, content: `${m.content} Sign as Ada.` } : m))
  await next()
}

const provider = new MockProvider({ reply: ['First answer', 'Second answer'] }) // a script, used in order
const store = new MemoryStore()
const pipe = new Pipeline({ provider, store, systemPrompt: 'Be brief.' }).use(signature)

const first = await pipe.execute('t', 'user', 'Hello')
await pipe.execute('t', 'user', 'Again')

// MockProvider records every request: the view each turn sent.
assert.equal(provider.requests.length, 2)
assert.deepEqual(provider.requests[0]?.messages, [
  { role: 'system', content: 'Be brief. Sign as Ada.' },
  { role: 'user', content: 'Hello' },
])
assert.deepEqual(
  provider.requests[1]?.messages.map((m) => m.content),
  ['Be brief. Sign as Ada.', 'Hello', 'First answer', 'Again'],
)
assert.equal(first.response.content, 'First answer')
// The system prompt is part of the view only: the store has the four turn messages.
assert.equal(await store.length('t'), 4)
console.log('ok: signature middleware')

// Failures are testable too: a reply function can throw, or wait (latencyMs) to test timeouts.
const failing = new Pipeline({ provider: new MockProvider({ reply: () => Promise.reject(new Error('boom')) }) })
await assert.rejects(failing.execute('t', 'user', 'Hi'), { name: 'ProviderError', message: 'Provider `mock` failed: boom' })
console.log('ok: provider failure')
