/**
 * One deadline for the whole turn (issue 14) and the idle limit of streamed replies
 * (issue 7): the turn settles by `timeoutMs` whatever a store, provider or middleware
 * does with its signal, a late write keeps its place in the session's order, saves
 * stop at the deadline without losing the reply, network errors are retried.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { AbortError, ProviderError, StateSaveError } from '../src/errors.js'
import { MAX_TIMER_MS } from '../src/validate.js'
import { DEFAULT_IDLE_TIMEOUT_MS, DEFAULT_TIMEOUT_MS, Pipeline, type PipelineOptions } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { OpenAIProvider } from '../src/providers/openai.js'
import { MemoryStore } from '../src/stores/memory.js'
import { isRetryableStoreError } from '../src/retryable.js'
import { StateCorruptError } from '../src/errors.js'
import type { AppendOptions, Message, Provider } from '../src/types.js'
import { providerCall, stateLoad, stateSave } from '../middleware/index.js'
import { getTokenCounter } from '../src/tokens.js'
import { collect, rejection } from './helpers/async.js'
import { FlakyStore } from './helpers/flaky-store.js'
import { HeldStore } from './helpers/held-store.js'
import { assistant, user } from './helpers/messages.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// A reply without usage is counted with the tokenizer: load it first, so its one-off
// (synchronous, and on a busy machine long) module evaluation never lands inside a deadline.
beforeAll(async () => {
  await getTokenCounter('gpt-4o')
})

/** Resolves with how long `promise` took to settle, and how it settled. */
async function timed<T>(promise: Promise<T>): Promise<{ ms: number; value?: T; error?: unknown }> {
  const started = performance.now()
  try {
    const value = await promise
    return { ms: performance.now() - started, value }
  } catch (error) {
    return { ms: performance.now() - started, error }
  }
}

/** A provider that answers only when the test says so, ignoring its signal. */
function heldProvider(): Provider & { answer(): void; calls: number } {
  let answer!: () => void
  let answered = new Promise<void>((resolve) => (answer = resolve))
  const provider = {
    name: 'held',
    calls: 0,
    answer: () => {
      answer()
      answered = new Promise<void>((resolve) => (answer = resolve))
    },
    async complete() {
      provider.calls++
      await answered
      return { message: assistant('late answer') }
    },
  }
  return provider
}

describe('the deadline bounds the whole turn', () => {
  it('a store whose load stalls past timeoutMs: the turn rejects at the deadline, and the next turn is not held', async () => {
    const store = new HeldStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 100 })
    const stalled = store.holdLoad()

    const first = await timed(pipe.execute('s', 'user', 'a'))
    expect(first.error).toBeInstanceOf(AbortError)
    expect((first.error as AbortError).message).toBe('Turn of session `s` timed out after 100 ms')
    expect(first.ms).toBeLessThan(1_500)

    // The load is still stalled: the next turn on the session runs anyway.
    const second = await timed(pipe.execute('s', 'user', 'b'))
    expect(second.value).toMatchObject({ saved: true, response: assistant('Echo: b') })
    expect(second.ms).toBeLessThan(1_500)

    // The stalled load lands late: the timed-out turn stores nothing.
    stalled.release()
    await sleep(20)
    expect(await store.inner.load('s')).toEqual([user('b'), assistant('Echo: b')])
    await pipe.shutdown()
  })

  it('passes the turn signal to the store: load and append get it', async () => {
    const store = new FlakyStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store })
    await pipe.execute('s', 'user', 'hi')
    expect(store.loadCalls[0]?.options?.signal).toBeInstanceOf(AbortSignal)
    expect(store.appendCalls[0]?.options?.signal).toBeInstanceOf(AbortSignal)
    expect(store.appendCalls[0]?.options?.signal).toBe(store.loadCalls[0]?.options?.signal)
  })

  it('a middleware that ignores the signal cannot hold the turn past its deadline', async () => {
    let unblock!: () => void
    const blocked = new Promise<void>((resolve) => (unblock = resolve))
    const pipe = new Pipeline({ provider: new MockProvider(), timeoutMs: 100 })
    pipe.use(async function stubborn(_ctx, next) {
      await blocked
      await next()
    })
    const turn = await timed(pipe.execute('s', 'user', 'hi'))
    expect(turn.error).toBeInstanceOf(AbortError)
    expect(turn.ms).toBeLessThan(1_500)
    unblock()
  })

  it('a write in flight at the deadline keeps its place: the next turn waits for it, then sees it', async () => {
    const store = new HeldStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 300, onSaveError: 'throw' })
    const lateWrite = store.holdAppend()

    const first = await rejection(pipe.execute('s', 'user', 'a'))
    // The provider answered: a deadline during the save keeps the reply.
    expect(first).toBeInstanceOf(StateSaveError)
    expect((first as StateSaveError).result).toMatchObject({ saved: false, response: assistant('Echo: a') })

    const second = pipe.execute('s', 'user', 'b')
    await sleep(50)
    // The second turn has not loaded yet: it would not see the first turn's write.
    expect(store.calls).toEqual(['load s', 'append s a|Echo: a'])

    lateWrite.release()
    const result = await second
    expect(store.calls).toEqual(['load s', 'append s a|Echo: a', 'appended s a|Echo: a', 'load s', 'append s b|Echo: b'])
    expect(result.messages).toEqual([user('a'), assistant('Echo: a'), user('b')])
    expect(await store.inner.load('s')).toEqual([user('a'), assistant('Echo: a'), user('b'), assistant('Echo: b')])
  })

  it('a turn waiting for a late write that never lands rejects at its own deadline, without running', async () => {
    const store = new HeldStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, timeoutMs: 150 })
    const lateWrite = store.holdAppend()
    await rejection(pipe.execute('s', 'user', 'a'))

    const second = await timed(pipe.execute('s', 'user', 'b'))
    expect(second.error).toBeInstanceOf(AbortError)
    expect(second.ms).toBeLessThan(1_500)
    expect(provider.requests).toHaveLength(1)
    expect(store.calls).toEqual(['load s', 'append s a|Echo: a'])

    // Other sessions are never held.
    expect((await pipe.execute('other', 'user', 'c')).saved).toBe(true)
    lateWrite.release()
  })

  it("a partial reply (saveOnAbort: 'partial') whose save stalls: the turn settles by its deadline, the next turn waits for the save", async () => {
    const store = new HeldStore()
    const provider = streamingProvider(['one ', 'two ', 'three'], { stallAfter: 1 })
    const pipe = new Pipeline({ provider, store, timeoutMs: 200, saveOnAbort: 'partial' })
    const lateWrite = store.holdAppend()
    const controller = new AbortController()

    const turn = timed(
      (async () => {
        for await (const chunk of pipe.stream('s', 'user', 'Count', { signal: controller.signal })) {
          if (chunk.type === 'delta') controller.abort()
        }
      })(),
    )
    await lateWrite.started
    const aborted = await turn
    expect(aborted.error).toBeInstanceOf(AbortError)
    expect(aborted.ms).toBeLessThan(1_500)

    const next = pipe.execute('s', 'user', 'Go on')
    await sleep(50)
    expect(store.calls).toEqual(['load s', 'append s Count|one '])
    lateWrite.release()
    expect((await next).messages).toEqual([user('Count'), { role: 'assistant', content: 'one ', metadata: { aborted: true } }, user('Go on')])
  })

  it('shutdown() waits for a write a timed-out turn left in flight', async () => {
    const store = new HeldStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 100 })
    const lateWrite = store.holdAppend()
    await rejection(pipe.execute('s', 'user', 'a'))

    let closed = false
    const shutdown = pipe.shutdown().then(() => (closed = true))
    await sleep(50)
    expect(closed).toBe(false)
    lateWrite.release()
    await shutdown
    expect(await store.inner.length('s')).toBe(2)
  })
})

describe('save retries stop at the deadline', () => {
  const retry = { retries: 3, minTimeout: 500, randomize: false } as const

  it("'throw': StateSaveError with the result, at the deadline, and no attempt after it", async () => {
    const store = new FlakyStore()
    store.failAppends = 10
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 150, saveRetry: retry })

    const turn = await timed(pipe.execute('s', 'user', 'hi'))

    expect(turn.error).toBeInstanceOf(StateSaveError)
    expect((turn.error as StateSaveError).result).toMatchObject({ response: assistant('Echo: hi'), saved: false })
    expect((turn.error as StateSaveError).cause).toMatchObject({ name: 'TimeoutError' })
    // Without the deadline: 500 + 1000 + 2000 ms of back-off.
    expect(turn.ms).toBeLessThan(1_000)
    await sleep(700)
    expect(store.appendCalls).toHaveLength(1)
  })

  it("'warn': resolves with saved: false, the reply and newMessages, and emits state:save-failed", async () => {
    const store = new FlakyStore()
    store.failAppends = 10
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 150, saveRetry: retry, onSaveError: 'warn' })
    const failed: unknown[] = []
    pipe.on('state:save-failed', (event) => failed.push(event.error))

    const result = await pipe.execute('s', 'user', 'hi')

    expect(result).toMatchObject({ saved: false, response: assistant('Echo: hi'), newMessages: [user('hi'), assistant('Echo: hi')] })
    expect(failed).toHaveLength(1)
    expect(failed[0]).toMatchObject({ name: 'TimeoutError' })
  })

  it("'warn': a store that ignores the signal and never answers still gives the reply at the deadline", async () => {
    const store = new HeldStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 100, onSaveError: 'warn' })
    const stalled = store.holdAppend()
    const turn = await timed(pipe.execute('s', 'user', 'hi'))
    expect(turn.value).toMatchObject({ saved: false, response: assistant('Echo: hi') })
    expect(turn.ms).toBeLessThan(1_500)
    stalled.release()
  })

  it('a chain built with stateSave stops its retries at the signal too', async () => {
    const store = new FlakyStore()
    store.failAppends = 10
    const pipe = Pipeline.from([stateLoad(store), providerCall(new MockProvider()), stateSave(store, { retry })], { timeoutMs: 150 })
    const turn = await timed(pipe.execute('s', 'user', 'hi'))
    expect(turn.error).toBeInstanceOf(StateSaveError)
    expect(turn.ms).toBeLessThan(1_000)
  })
})

describe('a queued turn', () => {
  it('aborted while waiting behind a slow turn rejects at once and never runs', async () => {
    const provider = heldProvider()
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider, store })
    const first = pipe.execute('s', 'user', 'a')
    const controller = new AbortController()
    const reason = new Error('user left')
    const second = pipe.execute('s', 'user', 'b', { signal: controller.signal })
    let firstDone = false
    void first.then(() => (firstDone = true))

    setTimeout(() => controller.abort(reason), 10)
    const error = await rejection(second)

    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toBe(reason)
    expect(firstDone).toBe(false)
    provider.answer()
    expect((await first).saved).toBe(true)
    expect(provider.calls).toBe(1)
    expect(await store.load('s')).toEqual([user('a'), assistant('late answer')])
  })

  it('counts its time in the queue against timeoutMs', async () => {
    // The turn ahead leaves a write in flight past its own deadline, so the session stays
    // held for as long as the test likes: the queued turn can only end by its own deadline,
    // counted from its call. (Two turns timing out together would race their timers.)
    const store = new HeldStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, timeoutMs: 150 })
    const write = store.holdAppend()
    const first = rejection(pipe.execute('s', 'user', 'a'))
    await write.started
    const second = await timed(pipe.execute('s', 'user', 'b'))
    expect(second.error).toBeInstanceOf(AbortError)
    expect(second.ms).toBeLessThan(1_500)
    expect(provider.requests).toHaveLength(1) // the queued turn never ran
    expect(await first).toBeInstanceOf(StateSaveError)
    write.release()
    await pipe.shutdown()
    expect((await store.inner.load('s')).map((m) => m.content)).toEqual(['a', 'Echo: a'])
  })

  it('still runs in call order after the turn ahead of it', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 20 }) })
    const results = await Promise.all(['a', 'b', 'c'].map((text) => pipe.execute('s', 'user', text)))
    expect(results.map((r) => r.storedLength)).toEqual([2, 4, 6])
  })
})

describe('durations beyond the timer limit are rejected', () => {
  const provider = new MockProvider()
  const tooLong = MAX_TIMER_MS + 1
  const cases: Array<[string, () => unknown, RegExp]> = [
    ['timeoutMs', () => new Pipeline({ provider, timeoutMs: tooLong }), /`timeoutMs`.*2147483647.*`2147483648`/],
    ['timeoutMs 1.5', () => new Pipeline({ provider, timeoutMs: 1.5 }), /`timeoutMs`.*`1.5`/],
    ['timeoutMs Infinity', () => new Pipeline({ provider, timeoutMs: Infinity }), /`timeoutMs`/],
    ['Pipeline.from timeoutMs', () => Pipeline.from([], { timeoutMs: tooLong }), /`timeoutMs`/],
    ['idleTimeoutMs', () => new Pipeline({ provider, idleTimeoutMs: tooLong }), /`idleTimeoutMs`.*`2147483648`/],
    ['idleTimeoutMs 0', () => new Pipeline({ provider, idleTimeoutMs: 0 }), /`idleTimeoutMs`.*`0`/],
    ['providerCall idleTimeoutMs', () => providerCall(provider, { idleTimeoutMs: -1 }), /`idleTimeoutMs`.*`-1`/],
    ['saveRetry.maxTimeout', () => new Pipeline({ provider, saveRetry: { maxTimeout: tooLong } }), /`saveRetry.maxTimeout`.*`2147483648`/],
    ['saveRetry.minTimeout', () => new Pipeline({ provider, saveRetry: { minTimeout: tooLong } }), /`saveRetry.minTimeout`/],
    ['saveRetry.maxRetryTime', () => new Pipeline({ provider, saveRetry: { maxRetryTime: tooLong } }), /`saveRetry.maxRetryTime`/],
    ['MockProvider latencyMs', () => new MockProvider({ latencyMs: tooLong }), /`latencyMs`.*`2147483648`/],
    ['OpenAIProvider timeoutMs', () => new OpenAIProvider({ model: 'm', apiKey: 'k', timeoutMs: tooLong }), /`timeoutMs`.*`2147483648`/],
  ]
  it.each(cases)('%s', (_name, make, message) => {
    expect(make).toThrow(TypeError)
    expect(make).toThrow(message)
  })

  it('accepts the limit itself, Infinity for maxRetryTime, and false for no deadline', () => {
    expect(() => new Pipeline({ provider, timeoutMs: MAX_TIMER_MS, idleTimeoutMs: MAX_TIMER_MS })).not.toThrow()
    expect(() => new Pipeline({ provider, saveRetry: { maxTimeout: MAX_TIMER_MS, maxRetryTime: Infinity } })).not.toThrow()
    expect(() => new Pipeline({ provider, timeoutMs: false, idleTimeoutMs: false })).not.toThrow()
  })

  it('a timeoutMs at the limit does not abort the turn', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 20 }), timeoutMs: MAX_TIMER_MS })
    expect((await pipe.execute('s', 'user', 'hi')).saved).toBe(true)
  })
})

describe('network errors are retried, validation errors are not', () => {
  it.each<[string, unknown, boolean]>([
    ['fetch failed (undici)', new TypeError('fetch failed'), true],
    ['terminated (undici)', new TypeError('terminated'), true],
    ['Failed to fetch (Chrome)', new TypeError('Failed to fetch'), true],
    ['Failed to fetch with a host', new TypeError('Failed to fetch (example.com)'), true],
    ['NetworkError (Firefox)', new TypeError('NetworkError when attempting to fetch resource.'), true],
    ['network error', new TypeError('network error'), true],
    ['a validation TypeError', new TypeError('Expected `sessionId` to be a non-empty string, got `""`.'), false],
    ['Load failed with a stack (not a network error)', new TypeError('Load failed'), false],
    ['a corrupt session', new StateCorruptError('s', 0, 'bad'), false],
    ['a plain Error', new Error('ECONNRESET'), true],
  ])('%s', (_name, error, retryable) => {
    expect(isRetryableStoreError(error)).toBe(retryable)
  })

  /** A store whose next `failures` appends reject with `error` before writing, as a store over HTTP does. */
  class FailingStore extends MemoryStore {
    calls = 0
    constructor(
      private failures: number,
      private readonly error: () => Error,
    ) {
      super()
    }

    override async append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
      this.calls++
      if (this.failures-- > 0) throw this.error()
      return super.append(sessionId, messages, options)
    }
  }

  it('a store over HTTP whose append hits `TypeError: fetch failed` is retried and the turn saved', async () => {
    const store = new FailingStore(1, () => new TypeError('fetch failed'))
    const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: { retries: 3, minTimeout: 1 } })
    const attempts: number[] = []
    pipe.on('state:saved', (event) => attempts.push(event.attempts))
    expect((await pipe.execute('s', 'user', 'hi')).saved).toBe(true)
    expect(attempts).toEqual([2])
    expect(await store.length('s')).toBe(2)
  })

  it('a TypeError from validation fails the save at once', async () => {
    const store = new FailingStore(10, () => new TypeError('Expected `messages[0]` to be a message'))
    const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: { retries: 3, minTimeout: 1 } })
    expect(await rejection(pipe.execute('s', 'user', 'hi'))).toBeInstanceOf(StateSaveError)
    expect(store.calls).toBe(1)
  })
})

/** A provider that streams `words`, then, when `stallAfter` is reached, goes silent (ignoring its signal). */
function streamingProvider(words: string[], options: { stallAfter?: number; gapMs?: number } = {}): Provider {
  return {
    name: 'streamer',
    complete: async () => ({ message: assistant(words.join('')) }),
    async *stream() {
      for (const [i, text] of words.entries()) {
        if (i === options.stallAfter) await new Promise(() => {})
        if (options.gapMs !== undefined) await sleep(options.gapMs)
        yield { type: 'delta', text }
      }
      yield { type: 'done', response: { message: assistant(words.join('')) } }
    },
  }
}

describe('idleTimeoutMs: the longest a streamed reply may stay silent', () => {
  it('defaults fit real models: 10 minutes for the turn, 5 minutes of silence', () => {
    expect(DEFAULT_TIMEOUT_MS).toBe(600_000)
    expect(DEFAULT_IDLE_TIMEOUT_MS).toBe(300_000)
  })

  it('a stream that goes silent fails with ProviderError long before timeoutMs, storing nothing', async () => {
    const store = new MemoryStore()
    const options: PipelineOptions = { provider: streamingProvider(['one ', 'two ', 'three'], { stallAfter: 1 }), store, idleTimeoutMs: 100 }
    const pipe = new Pipeline(options)
    const turn = await timed(collect(pipe.stream('s', 'user', 'Count')))
    expect(turn.error).toBeInstanceOf(ProviderError)
    expect((turn.error as ProviderError).message).toMatch(/no data for 100 ms/)
    expect(turn.ms).toBeLessThan(1_500)
    expect(await store.length('s')).toBe(0)
  })

  it('also bounds the wait for the first chunk', async () => {
    const pipe = new Pipeline({ provider: streamingProvider(['one'], { stallAfter: 0 }), idleTimeoutMs: 100 })
    expect(await rejection(collect(pipe.stream('s', 'user', 'Count')))).toBeInstanceOf(ProviderError)
  })

  it('a long reply whose chunks keep coming is not cut, however long it takes in total', async () => {
    const words = Array.from({ length: 8 }, (_, i) => `w${i} `)
    const pipe = new Pipeline({ provider: streamingProvider(words, { gapMs: 40 }), idleTimeoutMs: 150 })
    const chunks = await collect(pipe.stream('s', 'user', 'Count'))
    expect(chunks.at(-1)).toMatchObject({ type: 'done', result: { saved: true } })
  })

  it('does not count the time the consumer spends on a delta', async () => {
    const pipe = new Pipeline({ provider: streamingProvider(['one ', 'two ', 'three']), idleTimeoutMs: 50 })
    const received: string[] = []
    for await (const chunk of pipe.stream('s', 'user', 'Count')) {
      if (chunk.type === 'delta') {
        received.push(chunk.text)
        await sleep(150)
      }
    }
    expect(received).toEqual(['one ', 'two ', 'three'])
  })

  it('does not apply to a plain execute, which gets its reply in one piece', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 200 }), idleTimeoutMs: 50 })
    expect((await pipe.execute('s', 'user', 'hi')).saved).toBe(true)
  })
})
