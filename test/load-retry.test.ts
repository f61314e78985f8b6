/**
 * `loadRetry` / `stateLoad({ retry })`: a load that failed with a transient error
 * is tried again on a short schedule, within the turn's deadline; corrupt data
 * and bad input never are, and each retry is an event.
 */
import { describe, expect, it } from 'vitest'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { AbortError, StateCorruptError, StateLoadError } from '../src/errors.js'
import type { EventPayload } from '../src/events.js'
import type { LoadOptions, Message } from '../src/types.js'
import { stateLoad, DEFAULT_LOAD_RETRY } from '../middleware/state-load.js'
import { providerCall } from '../middleware/provider-call.js'
import { stateSave } from '../middleware/state-save.js'
import { FlakyStore } from './helpers/flaky-store.js'
import { assistant, user } from './helpers/messages.js'

const fast = { minTimeout: 1, maxTimeout: 2 }

function retriesOf(pipe: Pipeline): EventPayload<'state:load-retry'>[] {
  const seen: EventPayload<'state:load-retry'>[] = []
  pipe.on('state:load-retry', (payload) => seen.push(payload))
  return seen
}

/** A FlakyStore whose loads fail with a given error, or hang until the signal aborts. */
class ScriptedStore extends FlakyStore {
  nextErrors: unknown[] = []
  hangLoads = false
  override async load(sessionId: string, options?: LoadOptions): Promise<Message[]> {
    this.loadCalls.push({ sessionId, options })
    if (this.hangLoads) {
      return new Promise((_resolve, reject) => {
        options?.signal?.addEventListener('abort', () => reject(options.signal?.reason))
      })
    }
    if (this.nextErrors.length > 0) throw this.nextErrors.shift()
    return this.inner.load(sessionId, options)
  }
}

describe('loadRetry', () => {
  it('retries transient load failures by default, so the turn succeeds with its history', async () => {
    const store = new FlakyStore()
    await store.save('s', [user('old'), assistant('reply')])
    store.failLoads = 3
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store })
    const retries = retriesOf(pipe)
    const result = await pipe.execute('s', 'user', 'hello')
    expect(result.saved).toBe(true)
    expect(provider.requests[0]?.messages).toEqual([user('old'), assistant('reply'), user('hello')])
    expect(store.loadCalls).toHaveLength(4)
    expect(retries.map(({ attempt, retriesLeft, error }) => ({ attempt, retriesLeft, error }))).toEqual([
      { attempt: 1, retriesLeft: 3, error: store.thrown[0] },
      { attempt: 2, retriesLeft: 2, error: store.thrown[1] },
      { attempt: 3, retriesLeft: 1, error: store.thrown[2] },
    ])
    expect(retries.every((r) => r.sessionId === 's' && r.executionId === result.executionId)).toBe(true)
  })

  it('gives up after the schedule with StateLoadError caused by the last failure', async () => {
    const store = new FlakyStore()
    store.failLoads = 10
    const pipe = new Pipeline({ provider: new MockProvider(), store, loadRetry: { retries: 2, ...fast } })
    const retries = retriesOf(pipe)
    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StateLoadError)
    expect((error as StateLoadError).cause).toBe(store.thrown[2])
    expect(store.loadCalls).toHaveLength(3)
    expect(retries).toHaveLength(2)
  })

  it.each([
    ['corrupt data', new StateCorruptError('s', 3, 'the entry is not valid JSON')],
    ['a TypeError', new TypeError('bad argument')],
  ])('never retries %s', async (_label, failure) => {
    const store = new ScriptedStore()
    store.nextErrors = [failure]
    const pipe = new Pipeline({ provider: new MockProvider(), store, loadRetry: { retries: 5, ...fast } })
    const retries = retriesOf(pipe)
    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(StateLoadError)
    expect((error as StateLoadError).cause).toBe(failure)
    expect(store.loadCalls).toHaveLength(1)
    expect(retries).toEqual([])
  })

  it('passes the turn signal to the store and stops at the deadline, failing the turn as aborted', async () => {
    const store = new ScriptedStore()
    store.hangLoads = true
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 100 })
    const started = Date.now()
    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AbortError)
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(store.loadCalls[0]?.options?.signal).toBeInstanceOf(AbortSignal)
    expect(store.loadCalls).toHaveLength(1)
  })

  it('starts no retry once the deadline passed during the back-off', async () => {
    const store = new FlakyStore()
    store.failLoads = 100
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 150, loadRetry: { retries: 100, minTimeout: 40, maxTimeout: 40 } })
    const error = await pipe.execute('s', 'user', 'hello').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(AbortError)
    // About 150 ms / (40..80 ms): a handful of attempts, not a hundred.
    expect(store.loadCalls.length).toBeLessThan(6)
    const calls = store.loadCalls.length
    await new Promise((resolve) => setTimeout(resolve, 200))
    expect(store.loadCalls).toHaveLength(calls)
  })

  it('{ retries: 0 } turns retries off', async () => {
    const store = new FlakyStore()
    store.failLoads = 1
    const pipe = new Pipeline({ provider: new MockProvider(), store, loadRetry: { retries: 0 } })
    await expect(pipe.execute('s', 'user', 'hello')).rejects.toThrow(StateLoadError)
    expect(store.loadCalls).toHaveLength(1)
  })

  it('works in a chain built from the factories, with stateLoad({ retry })', async () => {
    const store = new FlakyStore()
    store.failLoads = 1
    const pipe = Pipeline.from([stateLoad(store, { retry: { retries: 1, ...fast } }), providerCall(new MockProvider()), stateSave(store)])
    expect((await pipe.execute('s', 'user', 'hello')).saved).toBe(true)
    expect(store.loadCalls).toHaveLength(2)
  })

  it('has a short default schedule', () => {
    expect(DEFAULT_LOAD_RETRY).toEqual({ retries: 3, minTimeout: 50, maxTimeout: 250, factor: 2, randomize: true })
  })

  it.each([
    [{ retries: -1 }, /`loadRetry\.retries`/],
    [{ minTimeout: 'x' }, /`loadRetry\.minTimeout`/],
    [{ retrys: 2 }, /`loadRetry\.retrys`/],
    [3, /`loadRetry`/],
  ])('rejects loadRetry %j with a TypeError', (loadRetry, message) => {
    expect(() => new Pipeline({ provider: new MockProvider(), loadRetry: loadRetry as never })).toThrow(message)
  })

  it('rejects a bad stateLoad retry with a TypeError naming it', () => {
    expect(() => stateLoad(new FlakyStore(), { retry: { factor: 0 } })).toThrow(/`retry\.factor`/)
  })
})
