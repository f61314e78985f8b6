// Configuring the pipeline: options, where middleware goes, and how concurrent turns behave.
// Run: npx tsx examples/configuring.ts
import { Pipeline, MemoryStore, PipelineClosedError } from 'promptline'
import { MockProvider } from 'promptline/testing'

const store = new MemoryStore({ maxMessages: 1_000 })
const pipe = new Pipeline({
  provider: new MockProvider({ latencyMs: 50 }),
  store, // default: a MemoryStore of its own, closed by shutdown()
  systemPrompt: 'You are a support agent for Acme.', // pinned; never trimmed, never stored
  contextWindow: { maxMessages: 20 }, // the default without a tokenLimit; false sends the whole history
  tokenLimit: { maxTokens: 8_000, model: 'gpt-4o-mini', reserveForResponse: 1_000 }, // default: false
  saveRetry: { retries: 3, minTimeout: 100 }, // the default
  onLoadError: 'throw', // the default; or 'start-fresh'
  onSaveError: 'throw', // the default; or 'warn'
  timeoutMs: 600_000, // the default: the whole turn, queue to save; false: no deadline
  idleTimeoutMs: 300_000, // the default: a streamed reply silent this long fails; false: no limit
  pricing: { 'acme-llm': { input: 1, output: 2 } }, // merged over DEFAULT_PRICING
})
console.log(pipe.middlewareNames.join(', ')) // state-load, context-window, token-truncation, provider-call, state-save

// Turns on the same session run one after another: each sees the ones before it.
const sameSession = await Promise.all(['a', 'b', 'c'].map((text) => pipe.execute('alice', 'user', text)))
console.log(sameSession.map((r) => `"${r.messages.at(-1)?.content}" saw ${r.messages.length - 2} earlier`).join(', '))
// "a" saw 0 earlier, "b" saw 2 earlier, "c" saw 4 earlier   (besides the system prompt)

// Turns on different sessions run concurrently.
const started = performance.now()
await Promise.all(['s1', 's2', 's3', 's4'].map((id) => pipe.execute(id, 'user', 'hi')))
console.log(`4 sessions in parallel: ${performance.now() - started < 4 * 50 ? 'concurrent' : 'serial'}`) // concurrent

// Cancel one turn with a signal; `timeoutMs` does the same on its own.
const controller = new AbortController()
const turn = pipe.execute('alice', 'user', 'never mind', { signal: controller.signal })
controller.abort()
console.log(await turn.then(() => 'answered', (error: Error) => error.name)) // AbortError

// shutdown() lets turns in flight finish, then refuses new ones.
const inFlight = pipe.execute('bob', 'user', 'last one')
await pipe.shutdown()
console.log(`in flight: saved ${(await inFlight).saved}`) // in flight: saved true
console.log(await pipe.execute('bob', 'user', 'too late').catch((error: unknown) => error instanceof PipelineClosedError)) // true
await store.close()
