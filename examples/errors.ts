// Handling errors: every failure of a turn is a PromptlineError subclass; bad arguments are TypeErrors.
// Run: npx tsx examples/errors.ts
import {
  Pipeline,
  MemoryStore,
  PromptlineError,
  StateSaveError,
  StateLoadError,
  ContextOverflowError,
  ProviderError,
  AbortError,
  PipelineClosedError,
  SessionNotFoundError,
} from 'promptline'
import { MockProvider } from 'promptline/testing'

// A store whose writes always fail, and one whose reads always fail.
class ReadOnlyStore extends MemoryStore {
  override async append(): Promise<number> {
    throw new Error('disk full')
  }
}
class UnreadableStore extends MemoryStore {
  override async load(): Promise<never> {
    throw new Error('connection refused')
  }
}

// StateSaveError: the provider answered, but the turn could not be stored after the retries.
const unsaved = new Pipeline({
  provider: new MockProvider({ reply: 'Hello!' }),
  store: new ReadOnlyStore(),
  saveRetry: { retries: 2, minTimeout: 1, maxTimeout: 5 },
})
unsaved.on('state:save-retry', (e) => console.log(`state:save-retry attempt ${e.attempt}, ${e.retriesLeft} left`))
try {
  await unsaved.execute('s', 'user', 'Hi')
} catch (error) {
  if (error instanceof StateSaveError) {
    console.log(`${error.name}: ${error.message}`) // StateSaveError: Could not save session `s`: disk full
    console.log(`the reply is still there: ${error.result.response.content}; cause: ${(error.cause as Error).message}`)
  }
}

// onSaveError: 'warn' resolves instead, with saved: false and a state:save-failed event.
const lenient = new Pipeline({
  provider: new MockProvider({ reply: 'Hello!' }),
  store: new ReadOnlyStore(),
  saveRetry: { retries: 0 },
  onSaveError: 'warn',
})
lenient.on('state:save-failed', (e) => console.log(`state:save-failed after ${e.attempts} attempt(s)`))
console.log(`saved: ${(await lenient.execute('s', 'user', 'Hi')).saved}`) // saved: false

// StateLoadError, or with onLoadError: 'start-fresh' a turn on an empty history.
const unreadable = new Pipeline({ provider: new MockProvider(), store: new UnreadableStore() })
await unreadable.execute('s', 'user', 'Hi').catch((error: unknown) => {
  if (error instanceof StateLoadError) console.log(`${error.name}: ${error.message}`) // Could not load session `s`: connection refused
})
const fresh = new Pipeline({ provider: new MockProvider(), store: new UnreadableStore(), onLoadError: 'start-fresh' })
fresh.on('state:load-failed', (e) => console.log(`state:load-failed, action: ${e.action}`))
console.log(`start-fresh reply: ${(await fresh.execute('s', 'user', 'Hi')).response.content}`) // Echo: Hi

// ContextOverflowError: the system prompt plus the newest message alone exceed the token budget.
const small = new Pipeline({ provider: new MockProvider(), systemPrompt: 'Be brief.', tokenLimit: { maxTokens: 20 } })
await small.execute('s', 'user', 'Tell me everything about '.repeat(10)).catch((error: unknown) => {
  if (error instanceof ContextOverflowError) console.log(`${error.name}: needs ${error.requiredTokens}, budget ${error.maxTokens}`)
})

// ProviderError: the provider failed; the original error is `cause`, `status` the HTTP status if any.
const failing = new Pipeline({
  provider: new MockProvider({
    reply: () => {
      throw new Error('model overloaded')
    },
  }),
})
await failing.execute('s', 'user', 'Hi').catch((error: unknown) => {
  if (error instanceof ProviderError) console.log(`${error.name}: ${error.message} (provider ${error.provider}, status ${error.status})`)
})

// AbortError: timeoutMs ran out, or the caller's signal aborted the turn. Nothing is stored.
const slow = new Pipeline({ provider: new MockProvider({ latencyMs: 1_000 }), timeoutMs: 50 })
await slow.execute('s', 'user', 'Hi').catch((error: unknown) => {
  if (error instanceof AbortError) console.log(`${error.name}: ${error.message}`) // Turn of session `s` timed out after 50 ms
})
const controller = new AbortController()
const pending = slow.execute('s', 'user', 'Hi', { signal: controller.signal })
controller.abort()
await pending.catch((error: unknown) => {
  if (error instanceof AbortError) console.log(`${error.name}: ${error.message}`) // Turn of session `s` was aborted
})

// SessionNotFoundError / SessionExistsError come from the stores.
await new MemoryStore().fork('nobody', 'copy').catch((error: unknown) => {
  if (error instanceof SessionNotFoundError) console.log(`${error.name}: ${error.message}`)
})

// PipelineClosedError: shutdown() waits for turns in flight, then refuses new ones.
await slow.shutdown()
await slow.execute('s', 'user', 'Hi').catch((error: unknown) => {
  if (error instanceof PipelineClosedError) console.log(`${error.name}: ${error.message}`)
})

// Bad arguments are TypeErrors naming the argument and the value.
await fresh.execute('', 'user', 'Hi').catch((error: unknown) => {
  if (error instanceof TypeError) console.log(`${error.name}: ${error.message}`)
})

// One handler for everything promptline throws on purpose; anything else is a bug.
function explain(error: unknown): string {
  if (error instanceof StateSaveError) return `answered but not saved: ${error.result.response.content}`
  if (error instanceof PromptlineError) return `${error.name}: ${error.message}`
  throw error
}
console.log(explain(await slow.execute('s', 'user', 'Hi').catch((error: unknown) => error))) // PipelineClosedError: …
