/** Pipeline events: every event of src/events.ts is emitted, with sessionId and executionId. */
import { readFile } from 'node:fs/promises'
import { describe, expect, it, vi } from 'vitest'
import type { PipelineEventName, PipelineEvents } from '../src/events.js'
import { Pipeline, BUILT_IN_MIDDLEWARE } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import type { AppendOptions, Message, SessionLease } from '../src/types.js'
import { FlakyStore } from './helpers/flaky-store.js'
import { user } from './helpers/messages.js'

/**
 * The pipeline's own events. (`PipelineEvents` can be augmented by users, as
 * examples/custom-middleware.ts does, so the type alone cannot pin the list; the
 * first test checks it against the source of src/events.ts.)
 */
const EVENT_NAMES = Object.keys({
  'execution:start': true,
  'session:leased': true,
  'middleware:start': true,
  'middleware:end': true,
  'state:loaded': true,
  'state:load-retry': true,
  'state:load-failed': true,
  'context:trimmed': true,
  'tokens:truncated': true,
  'tool-results:cleared': true,
  'tokens:oversized': true,
  'summary:updated': true,
  'summary:failed': true,
  'provider:response': true,
  'state:save-retry': true,
  'state:saved': true,
  'state:save-failed': true,
  'execution:end': true,
} satisfies Partial<Record<PipelineEventName, true>>) as PipelineEventName[]

/** Events only the opt-in policies emit (see the last test of 'events of failures'). */
const POLICY_EVENTS: PipelineEventName[] = ['tool-results:cleared', 'tokens:oversized', 'summary:updated', 'summary:failed']

type Recorded = { [K in PipelineEventName]: { name: K; payload: PipelineEvents[K] } }[PipelineEventName]

function recordAll(pipe: Pipeline): Recorded[] {
  const events: Recorded[] = []
  for (const name of EVENT_NAMES) {
    ;(pipe.on as (event: PipelineEventName, listener: (payload: never) => void) => Pipeline)(name, (payload) =>
      events.push({ name, payload } as Recorded),
    )
  }
  return events
}

function history(n: number): Message[] {
  return Array.from({ length: n }, (_, i): Message => ({ role: i % 2 === 0 ? 'user' : 'assistant', content: `message ${i} with a few more words in it` }))
}

it('the list above is exactly the events declared in src/events.ts', async () => {
  const source = await readFile(new URL('../src/events.ts', import.meta.url), 'utf8')
  const body = /export interface PipelineEvents \{([\s\S]*?)\n\}/.exec(source)?.[1] ?? ''
  const declared = [...body.matchAll(/^ {2}'([^']+)':/gm)].map((m) => m[1])
  expect(declared.length).toBeGreaterThan(10)
  expect(new Set(EVENT_NAMES)).toEqual(new Set(declared))
})

describe('events of a normal turn', () => {
  it('are emitted in order, each with the sessionId and the executionId of the turn', async () => {
    const store = new MemoryStore()
    await store.save('s', history(6))
    const pipe = new Pipeline({ provider: new MockProvider(), store, contextWindow: { maxMessages: 3 }, tokenLimit: { maxTokens: 30 } })
    const events = recordAll(pipe)

    const result = await pipe.execute('s', 'user', 'the newest question')

    for (const { payload } of events) {
      expect(payload.sessionId).toBe('s')
      expect(payload.executionId).toBe(result.executionId)
    }
    const labels = events.map((e) => (e.name === 'middleware:start' || e.name === 'middleware:end' ? `${e.name} ${e.payload.name}` : e.name))
    expect(labels).toEqual([
      'execution:start',
      'middleware:start state-load',
      'state:loaded',
      'middleware:start context-window',
      'context:trimmed',
      'middleware:start token-truncation',
      'tokens:truncated',
      'middleware:start provider-call',
      'provider:response',
      'middleware:start state-save',
      'state:saved',
      'middleware:end state-save',
      'middleware:end provider-call',
      'middleware:end token-truncation',
      'middleware:end context-window',
      'middleware:end state-load',
      'execution:end',
    ])

    const byName = <K extends PipelineEventName>(name: K) => events.filter((e) => e.name === name).map((e) => e.payload as PipelineEvents[K])
    expect(byName('execution:start')).toEqual([expect.objectContaining({ role: 'user', streaming: false })])
    expect(byName('state:loaded')).toEqual([expect.objectContaining({ count: 3, last: 3 })])
    expect(byName('context:trimmed')).toEqual([expect.objectContaining({ kept: 3, dropped: 1, maxMessages: 3 })])
    const [truncated] = byName('tokens:truncated')
    expect(truncated?.maxTokens).toBe(30)
    expect(truncated?.tokens).toBeLessThanOrEqual(30)
    expect(truncated?.kept).toBe(result.messages.length)
    expect(truncated?.dropped).toBe(3 - result.messages.length)
    expect(byName('provider:response')).toEqual([
      expect.objectContaining({ provider: 'mock', model: 'mock-model', usage: result.usage, costUsd: undefined, finishReason: 'stop' }),
    ])
    expect(byName('provider:response')[0]?.durationMs).toBeGreaterThanOrEqual(0)
    expect(byName('state:saved')).toEqual([expect.objectContaining({ count: 2, storedLength: 8, attempts: 1 })])
    const [end] = byName('execution:end')
    expect(end).toMatchObject({ saved: true })
    expect(end).not.toHaveProperty('error')
    expect(end?.durationMs).toBeGreaterThanOrEqual(0)
    for (const ended of byName('middleware:end')) {
      expect(ended.durationMs).toBeGreaterThanOrEqual(0)
      expect(ended).not.toHaveProperty('error')
    }
  })

  it('mark a streamed turn as streaming', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const events = recordAll(pipe)
    for await (const _chunk of pipe.stream('s', 'user', 'hi there')) {
      // drain
    }
    expect(events.find((e) => e.name === 'execution:start')?.payload).toMatchObject({ streaming: true })
  })

  it('keep concurrent turns apart by executionId', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 2 }) })
    const events = recordAll(pipe)
    const results = await Promise.all(['a', 'b', 'c'].map((id) => pipe.execute(id, 'user', 'hi')))
    expect(new Set(results.map((r) => r.executionId)).size).toBe(3)
    for (const result of results) {
      const own = events.filter((e) => e.payload.executionId === result.executionId)
      expect(own.every((e) => e.payload.sessionId === result.sessionId)).toBe(true)
      expect(own.filter((e) => e.name === 'execution:start')).toHaveLength(1)
      expect(own.filter((e) => e.name === 'execution:end')).toHaveLength(1)
    }
  })
})

describe('events of failures', () => {
  it('state:load-failed, state:save-retry and state:save-failed carry the store errors', async () => {
    const store = new FlakyStore()
    store.failLoads = 1
    store.failAppends = Number.POSITIVE_INFINITY
    const pipe = new Pipeline({
      provider: new MockProvider(),
      store,
      onLoadError: 'start-fresh',
      onSaveError: 'warn',
      saveRetry: { retries: 1, minTimeout: 1, maxTimeout: 2 },
      loadRetry: { retries: 0 },
    })
    const events = recordAll(pipe)
    const result = await pipe.execute('s', 'user', 'hi')

    for (const { payload } of events) expect(payload).toMatchObject({ sessionId: 's', executionId: result.executionId })
    const [loadError, firstAppend, secondAppend] = store.thrown
    expect(events.filter((e) => e.name === 'state:load-failed').map((e) => e.payload)).toEqual([
      expect.objectContaining({ error: loadError, action: 'start-fresh' }),
    ])
    expect(events.filter((e) => e.name === 'state:save-retry').map((e) => e.payload)).toEqual([
      expect.objectContaining({ attempt: 1, retriesLeft: 1, error: firstAppend }),
    ])
    expect(events.filter((e) => e.name === 'state:save-failed').map((e) => e.payload)).toEqual([
      expect.objectContaining({ error: secondAppend, attempts: 2 }),
    ])
    expect(events.some((e) => e.name === 'state:saved')).toBe(false)
    expect(events.at(-1)).toMatchObject({ name: 'execution:end', payload: { saved: false } })
  })

  it('execution:end and middleware:end carry the error a turn failed with', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const failure = new Error('rejected by policy')
    pipe.use(async function policy() {
      throw failure
    })
    const events = recordAll(pipe)
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toBe(failure)
    const ends = events.filter((e) => e.name === 'middleware:end').map((e) => e.payload)
    expect(ends.map((e) => [e.name, e.error])).toEqual([
      ['policy', failure],
      ['token-truncation', failure],
      ['context-window', failure],
      ['state-load', failure],
    ])
    expect(events.at(-1)).toMatchObject({ name: 'execution:end', payload: { saved: false, error: failure } })
  })

  it('together with a normal turn, cover every event the pipeline declares', async () => {
    const store = new FlakyStore()
    await store.save('s', history(6))
    const pipe = new Pipeline({
      provider: new MockProvider(),
      store,
      contextWindow: { maxMessages: 3 },
      tokenLimit: { maxTokens: 30 },
      onLoadError: 'start-fresh',
      onSaveError: 'warn',
      saveRetry: { retries: 1, minTimeout: 1, maxTimeout: 2 },
      loadRetry: { retries: 1, minTimeout: 1, maxTimeout: 2 },
    })
    const events = recordAll(pipe)
    await pipe.execute('s', 'user', 'a normal turn')
    store.failLoads = 2
    store.failAppends = Number.POSITIVE_INFINITY
    await pipe.execute('s', 'user', 'a failing turn')
    // And a turn on a store that leases its sessions (RedisStore's `lock`; here an in-memory stand-in).
    const leasing = new Pipeline({ provider: new MockProvider(), store: new LeasingMemoryStore() })
    const leasedEvents = recordAll(leasing)
    await leasing.execute('s', 'user', 'a leased turn')
    events.push(...leasedEvents)
    expect(leasedEvents.find((e) => e.name === 'session:leased')?.payload).toMatchObject({ waitedMs: expect.any(Number) })
    expect(new Set(events.map((e) => e.name))).toEqual(new Set(EVENT_NAMES.filter((name) => !POLICY_EVENTS.includes(name))))
  })

  it('the policies of issue 9 cover the rest: tool-results:cleared, tokens:oversized, summary:*', async () => {
    const store = new MemoryStore()
    const call = (id: string): Message => ({ role: 'assistant', content: '', toolCalls: [{ id, name: 'search', arguments: '{}' }] })
    await store.save('s', [user('find'), call('a'), { role: 'tool', content: 'old result', toolCallId: 'a' }, call('b')])
    const pipe = new Pipeline({
      provider: new MockProvider(),
      store,
      toolResults: { keepLast: 1 },
      tokenLimit: { maxTokens: 200, oversized: 'truncate' },
    })
    const events = recordAll(pipe)
    await pipe.execute('s', 'tool', 'word '.repeat(2_000), { toolCallId: 'b' })
    // A summary that works once, then fails.
    let calls = 0
    const summariser = new MockProvider({ reply: () => (++calls === 1 ? 'the gist' : Promise.reject(new Error('down'))) })
    const summarising = new Pipeline({ provider: new MockProvider(), store, contextWindow: { maxMessages: 2 }, summary: { provider: summariser, after: 1 } })
    const summaryEvents = recordAll(summarising)
    for (let i = 0; i < 3; i++) await summarising.execute('t', 'user', `turn ${i}`)
    await summarising.shutdown()
    events.push(...summaryEvents)
    const names = new Set(events.map((e) => e.name))
    for (const name of POLICY_EVENTS) expect(names).toContain(name)
    expect(events.find((e) => e.name === 'tool-results:cleared')?.payload).toMatchObject({ cleared: 1, keepLast: 1 })
    const oversized = events.find((e) => e.name === 'tokens:oversized')?.payload
    expect(oversized).toMatchObject({ role: 'tool', sessionId: 's' })
    expect((oversized as { removedTokens: number }).removedTokens).toBeGreaterThan(1_500)
  })
})

/** A MemoryStore whose sessions are leased (one process: the lease is never contended). */
class LeasingMemoryStore extends MemoryStore {
  acquireLease(): Promise<SessionLease> {
    return Promise.resolve({ fence: 'only-holder', lost: new AbortController().signal, release: async () => {} })
  }

  override append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
    const { fence, ...rest } = options ?? {}
    expect(fence).toBe('only-holder')
    return super.append(sessionId, messages, rest)
  }
}

describe('without listeners', () => {
  it('turns work and the pipeline emits nothing at all (no payload is built)', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, contextWindow: { maxMessages: 2 }, tokenLimit: { maxTokens: 200 } })
    const emit = vi.spyOn(pipe, 'emit')
    for (let i = 0; i < 5; i++) await pipe.execute('s', 'user', `m${i}`)
    expect(emit).not.toHaveBeenCalled()
    expect(await store.length('s')).toBe(10)

    // A listener added later is honoured from the next turn on, and only its event is emitted.
    const ends: string[] = []
    pipe.on('middleware:end', (e) => ends.push(e.name))
    await pipe.execute('s', 'user', 'traced')
    expect(ends).toEqual([...BUILT_IN_MIDDLEWARE].reverse())
    expect(new Set(emit.mock.calls.map(([name]) => name))).toEqual(new Set(['middleware:end']))
  })
})
