/**
 * The scenarios of the state guide: conversation state kept between turns with a
 * MemoryStore and the MockProvider, and what happens when the store fails.
 */
import { describe, expect, it } from 'vitest'
import type { EventPayload, PipelineEventName } from '../src/events.js'
import { ProviderError, StateLoadError, StateSaveError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { getTokenCounter } from '../src/tokens.js'
import type { Provider } from '../src/types.js'
import { FlakyStore } from './helpers/flaky-store.js'
import { assistant, user } from './helpers/messages.js'

const fastRetry = { minTimeout: 1, maxTimeout: 5 }

function record<K extends PipelineEventName>(pipe: Pipeline, name: K): Array<EventPayload<K>> {
  const seen: Array<EventPayload<K>> = []
  // eventemitter3's typed `on` wants the exact listener type of K.
  ;(pipe.on as (event: K, listener: (payload: EventPayload<K>) => void) => Pipeline)(name, (payload) => seen.push(payload))
  return seen
}

describe('conversation memory', () => {
  it('"Hi, I\'m Alice": the next turn\'s provider view contains it', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider({ reply: ['Nice to meet you, Alice!', 'Your name is Alice.'] })
    const pipe = new Pipeline({ provider, store, systemPrompt: 'Be brief.' })

    await pipe.execute('alice', 'user', "Hi, I'm Alice")
    const second = await pipe.execute('alice', 'user', 'What is my name?')

    expect(provider.requests[1]?.messages).toEqual([
      { role: 'system', content: 'Be brief.' },
      user("Hi, I'm Alice"),
      assistant('Nice to meet you, Alice!'),
      user('What is my name?'),
    ])
    expect(second.response.content).toBe('Your name is Alice.')
    // The system prompt is sent, never stored.
    expect(await store.load('alice')).toEqual([
      user("Hi, I'm Alice"),
      assistant('Nice to meet you, Alice!'),
      user('What is my name?'),
      assistant('Your name is Alice.'),
    ])
  })

  it("keeps Alice's and Bob's sessions apart, even when their turns interleave", async () => {
    const store = new MemoryStore()
    const provider = new MockProvider({ latencyMs: 2 })
    const pipe = new Pipeline({ provider, store })

    await Promise.all([pipe.execute('alice', 'user', "I'm Alice"), pipe.execute('bob', 'user', "I'm Bob")])
    const [alice, bob] = await Promise.all([pipe.execute('alice', 'user', 'Who am I?'), pipe.execute('bob', 'user', 'Who am I?')])

    expect(alice.messages).toEqual([user("I'm Alice"), assistant("Echo: I'm Alice"), user('Who am I?')])
    expect(bob.messages).toEqual([user("I'm Bob"), assistant("Echo: I'm Bob"), user('Who am I?')])
    for (const request of provider.requests) {
      const text = request.messages.map((m) => m.content).join('\n')
      expect(text.includes('Alice') && text.includes('Bob')).toBe(false)
    }
    expect(await store.load('alice')).toEqual([user("I'm Alice"), assistant("Echo: I'm Alice"), user('Who am I?'), assistant('Echo: Who am I?')])
    expect(await store.load('bob')).toEqual([user("I'm Bob"), assistant("Echo: I'm Bob"), user('Who am I?'), assistant('Echo: Who am I?')])
  })

  it('fork copies a session, and the two then diverge through the pipeline', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store })
    await pipe.execute('main', 'user', 'We are planning a trip')
    await pipe.execute('main', 'user', 'Somewhere warm')

    await store.fork('main', 'branch')
    const common = await store.load('main')
    expect(await store.load('branch')).toEqual(common)

    const onMain = await pipe.execute('main', 'user', 'Let us pick Lisbon')
    const onBranch = await pipe.execute('branch', 'user', 'Let us pick Athens')

    expect(onMain.messages).toEqual([...common, user('Let us pick Lisbon')])
    expect(onBranch.messages).toEqual([...common, user('Let us pick Athens')])
    expect(await store.load('main')).toEqual([...common, user('Let us pick Lisbon'), assistant('Echo: Let us pick Lisbon')])
    expect(await store.load('branch')).toEqual([...common, user('Let us pick Athens'), assistant('Echo: Let us pick Athens')])
  })
})

describe('trimming over many turns', () => {
  it('the sliding window sends at most maxMessages while the store keeps everything, loading only the tail', async () => {
    const store = new FlakyStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, systemPrompt: 'sys', contextWindow: { maxMessages: 5 } })
    const turns = 12
    for (let i = 0; i < turns; i++) await pipe.execute('s', 'user', `m${i}`)

    const stored = await store.inner.load('s')
    expect(stored).toHaveLength(2 * turns)
    for (const [i, request] of provider.requests.entries()) {
      const view = request.messages
      // Turn i has 2i earlier messages; the window keeps the newest 5 of them + input.
      const kept = Math.min(2 * i + 1, 5)
      expect(view).toEqual([{ role: 'system', content: 'sys' }, ...stored.slice(2 * i + 1 - kept, 2 * i), user(`m${i}`)])
    }
    // The load cost is bounded: only the window's tail is ever read.
    expect(store.loadCalls).toHaveLength(turns)
    expect(store.loadCalls.every((c) => c.options?.last === 5)).toBe(true)
  })

  it('token truncation keeps every view within the budget while the store keeps everything', async () => {
    const counter = await getTokenCounter('gpt-4o')
    const store = new MemoryStore()
    const provider = new MockProvider({ reply: 'Here is a rather long answer that takes up quite a few tokens of the budget.' })
    const pipe = new Pipeline({ provider, store, systemPrompt: 'Be helpful.', contextWindow: false, tokenLimit: { maxTokens: 120, reserveForResponse: 20, model: 'gpt-4o' } })
    let truncatedTurns = 0
    for (let i = 0; i < 10; i++) {
      const result = await pipe.execute('s', 'user', `Question number ${i}: what about this?`)
      const view = provider.requests[i]?.messages ?? []
      const tokens = counter.countRequest(view)
      expect(tokens).toBeLessThanOrEqual(100)
      expect(result.trimmed['token-truncation']?.tokens).toBe(tokens)
      expect(view[0]).toEqual({ role: 'system', content: 'Be helpful.' })
      expect(view.at(-1)).toEqual(user(`Question number ${i}: what about this?`))
      if ((result.trimmed['token-truncation']?.dropped ?? 0) > 0) truncatedTurns++
    }
    expect(truncatedTurns).toBeGreaterThan(5)
    expect(await store.length('s')).toBe(20)
  })
})

describe('store failures', () => {
  it('retries a store that fails the first two appends and saves the turn exactly once', async () => {
    const store = new FlakyStore()
    store.failAppends = 2
    const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: fastRetry })
    const retries = record(pipe, 'state:save-retry')
    const saved = record(pipe, 'state:saved')

    const result = await pipe.execute('s', 'user', 'hello')

    expect(result.saved).toBe(true)
    expect(result.storedLength).toBe(2)
    expect(await store.load('s')).toEqual([user('hello'), assistant('Echo: hello')])
    expect(store.appendCalls).toHaveLength(3)
    const keys = new Set(store.appendCalls.map((c) => c.options?.idempotencyKey))
    expect(keys).toEqual(new Set([result.executionId]))
    expect(retries.map((e) => [e.attempt, e.error])).toEqual([
      [1, store.thrown[0]],
      [2, store.thrown[1]],
    ])
    expect(retries.every((e) => e.sessionId === 's' && e.executionId === result.executionId && e.retriesLeft > 0)).toBe(true)
    expect(saved).toEqual([expect.objectContaining({ count: 2, storedLength: 2, attempts: 3 })])
  })

  it('retries a store that lost the acknowledgement without storing the turn twice (idempotency key)', async () => {
    const store = new FlakyStore()
    await store.save('s', [user('before'), assistant('earlier')])
    store.loseAcks = 1
    const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: fastRetry })
    const retries = record(pipe, 'state:save-retry')

    const result = await pipe.execute('s', 'user', 'hello')

    expect(store.appendCalls).toHaveLength(2)
    expect(retries).toHaveLength(1)
    expect(result).toMatchObject({ saved: true, storedLength: 4 })
    expect(await store.load('s')).toEqual([user('before'), assistant('earlier'), user('hello'), assistant('Echo: hello')])
  })

  it("onLoadError 'start-fresh' continues with an empty history and emits state:load-failed", async () => {
    const store = new FlakyStore()
    await store.save('s', [user('old'), assistant('old reply')])
    store.failLoads = 1
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, systemPrompt: 'sys', onLoadError: 'start-fresh', loadRetry: { retries: 0 } })
    const failed = record(pipe, 'state:load-failed')

    const result = await pipe.execute('s', 'user', 'hello')

    expect(provider.requests[0]?.messages).toEqual([{ role: 'system', content: 'sys' }, user('hello')])
    expect(failed).toEqual([{ sessionId: 's', executionId: result.executionId, error: store.thrown[0], action: 'start-fresh' }])
    // The turn is still appended to what the store has.
    expect(result.saved).toBe(true)
    expect(await store.load('s')).toEqual([user('old'), assistant('old reply'), user('hello'), assistant('Echo: hello')])
  })

  it("onLoadError 'throw' (the default) rejects with StateLoadError caused by the store's error, calling no provider", async () => {
    const store = new FlakyStore()
    store.failLoads = 1
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, loadRetry: { retries: 0 } })

    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(StateLoadError)
    expect((error as StateLoadError).cause).toBe(store.thrown[0])
    expect((error as StateLoadError).sessionId).toBe('s')
    expect((error as Error).message).toMatch(/`s`.*load of s failed/)
    expect(provider.requests).toHaveLength(0)
    expect(store.appendCalls).toHaveLength(0)
  })

  it("onSaveError 'warn' resolves with saved: false and emits state:save-failed after the retries", async () => {
    const store = new FlakyStore()
    store.failAppends = Number.POSITIVE_INFINITY
    const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: { retries: 2, ...fastRetry }, onSaveError: 'warn' })
    const failed = record(pipe, 'state:save-failed')
    const retries = record(pipe, 'state:save-retry')

    const result = await pipe.execute('s', 'user', 'hello')

    expect(result.saved).toBe(false)
    expect(result.storedLength).toBeUndefined()
    expect(result.response).toEqual(assistant('Echo: hello'))
    expect(store.appendCalls).toHaveLength(3)
    expect(retries).toHaveLength(2)
    expect(failed).toEqual([{ sessionId: 's', executionId: result.executionId, error: store.thrown[2], attempts: 3 }])
    expect(await store.length('s')).toBe(0)
  })

  it("onSaveError 'throw' (the default) rejects with StateSaveError carrying the turn's result", async () => {
    const store = new FlakyStore()
    store.failAppends = Number.POSITIVE_INFINITY
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'the reply' }), store, saveRetry: { retries: 1, ...fastRetry } })

    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(StateSaveError)
    const saveError = error as StateSaveError
    expect(saveError.cause).toBe(store.thrown.at(-1))
    expect(saveError.result.response).toEqual(assistant('the reply'))
    expect(saveError.result.saved).toBe(false)
    expect(saveError.result.messages).toEqual([user('hello')])
    expect(saveError.message).toMatch(/`s`/)
    expect(store.appendCalls).toHaveLength(2)
  })

  it('a turn whose provider fails stores nothing, so the history is unchanged', async () => {
    const store = new FlakyStore()
    await store.save('s', [user('before'), assistant('earlier')])
    const failing: Provider = {
      name: 'down',
      complete: async () => {
        throw new Error('503 Service Unavailable')
      },
    }
    const pipe = new Pipeline({ provider: failing, store })

    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).provider).toBe('down')
    expect((error as ProviderError).message).toMatch(/503 Service Unavailable/)
    expect((error as ProviderError).cause).toBeInstanceOf(Error)
    expect(store.appendCalls).toHaveLength(0)
    expect(await store.load('s')).toEqual([user('before'), assistant('earlier')])

    // Retrying the turn later with a working provider leaves no duplicate user message.
    const working = new Pipeline({ provider: new MockProvider(), store })
    await working.execute('s', 'user', 'hello')
    expect(await store.load('s')).toEqual([user('before'), assistant('earlier'), user('hello'), assistant('Echo: hello')])
  })
})
