/**
 * The rolling summary (`summary`): pinned after the system prompt, incremental and
 * bounded, durable in the store, never losing anything, background in the session's
 * queue or inline, on MemoryStore and on a real Redis.
 */
import { afterAll, describe, expect, it } from 'vitest'
import { Pipeline, type PipelineOptions } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { RedisStore } from '../src/stores/redis.js'
import { isSummaryMessage, SUMMARY_HEADER } from '../src/summarizer.js'
import type { Message, Provider, ProviderRequest, StateStore } from '../src/types.js'
import { describeRedis, uniquePrefix, useStandaloneRedis, type StandaloneRedis } from './helpers/redis-server.js'

/** A deterministic condensation: the previous summary's words plus the first word of each new message. */
function condense(messages: Message[]): string {
  const body = messages.at(-1)?.content ?? ''
  const previous = /Previous summary:\n(.*)\n\nNew messages:/s.exec(body)?.[1] ?? ''
  const lines = (/New messages:\n([\s\S]*)\n\nWrite the updated summary\./.exec(body)?.[1] ?? '').split('\n')
  const picked = lines.map((line) => /^user: (\S+)/.exec(line)?.[1]).filter((word): word is string => word !== undefined)
  // Bounded: the summary keeps the newest 40 words.
  return [...previous.split(' ').filter(Boolean), ...picked].slice(-40).join(' ')
}

/** Records every summariser request. */
class RecordingSummariser implements Provider {
  readonly name = 'summariser'
  readonly requests: ProviderRequest[] = []
  readonly #inner: MockProvider
  constructor(reply: ConstructorParameters<typeof MockProvider>[0] = { reply: condense, model: 'gpt-4o-mini' }) {
    this.#inner = new MockProvider(reply)
  }
  complete(request: ProviderRequest) {
    this.requests.push(request)
    return this.#inner.complete(request)
  }
}

function pipeline(store: StateStore, summariser: Provider, options: Partial<PipelineOptions> = {}): Pipeline {
  return new Pipeline({
    provider: new MockProvider({ reply: 'ok' }),
    store,
    systemPrompt: 'Be terse.',
    contextWindow: { maxMessages: 4 },
    summary: { provider: summariser, after: 6 },
    ...options,
  })
}

describe('summary on MemoryStore', () => {
  it('summarises what left the window in the background and pins it after the system prompt', async () => {
    const store = new MemoryStore()
    const summariser = new RecordingSummariser()
    const pipe = pipeline(store, summariser)
    const updates: unknown[] = []
    pipe.on('summary:updated', (e) => updates.push(e))
    for (let i = 1; i <= 9; i++) await pipe.execute('s', 'user', `w${i} says hello`)
    await pipe.shutdown()
    // The window holds 3 stored messages and the input: the position moves by `after` (6)
    // once 6 stored messages are out of view (turns 6 and 9).
    expect(updates).toEqual([
      expect.objectContaining({ previousPosition: 0, position: 6, summarised: 6, mode: 'background', model: 'gpt-4o-mini', sessionId: 's' }),
      expect.objectContaining({ previousPosition: 6, position: 12, summarised: 6 }),
    ])
    expect(await store.loadSummary('s')).toMatchObject({ content: 'w1 w2 w3 w4 w5 w6', position: 12 })

    const provider = new MockProvider({ reply: 'ok' })
    const next = pipeline(store, summariser, { provider })
    const result = await next.execute('s', 'user', 'w10 again')
    const view = provider.requests[0]?.messages ?? []
    expect(view[0]).toStrictEqual({ role: 'system', content: 'Be terse.' })
    expect(view[1]).toStrictEqual({ role: 'system', content: `${SUMMARY_HEADER}w1 w2 w3 w4 w5 w6`, metadata: { summary: { position: 12 } } })
    expect(isSummaryMessage(view[1] as Message)).toBe(true)
    expect(view.slice(2).map((m) => m.content)).toStrictEqual(['ok', 'w9 says hello', 'ok', 'w10 again'])
    expect(result.messages).toStrictEqual(view)
    // Nothing stored was rewritten or deleted.
    expect(await store.length('s')).toBe(20)
    await next.shutdown()
  })

  it('sends the summariser the previous summary and only the new messages', async () => {
    const store = new MemoryStore()
    const summariser = new RecordingSummariser()
    const pipe = pipeline(store, summariser)
    for (let i = 1; i <= 14; i++) await pipe.execute('s', 'user', `w${i}`)
    await pipe.shutdown()
    expect(summariser.requests.length).toBeGreaterThanOrEqual(3)
    for (const [n, request] of summariser.requests.entries()) {
      const body = request.messages.at(-1)?.content ?? ''
      const lines = /New messages:\n([\s\S]*)\n\nWrite/.exec(body)?.[1]?.split('\n') ?? []
      expect(lines).toHaveLength(6)
      expect(lines[0]).toBe(`user: w${3 * n + 1}`)
      if (n === 0) expect(body).toContain('There is no previous summary.')
      else expect(body).toContain('Previous summary:\n')
    }
  })

  it('never delays the reply: the turn resolves while the summariser is still working', async () => {
    const store = new MemoryStore()
    const summariser = new RecordingSummariser({ reply: condense, latencyMs: 300 })
    const pipe = pipeline(store, summariser)
    for (let i = 1; i <= 5; i++) await pipe.execute('s', 'user', `w${i}`)
    let done = false
    pipe.once('summary:updated', () => (done = true))
    await pipe.execute('s', 'user', 'w6')
    // Saved and answered; the summary is still to come.
    expect(done).toBe(false)
    expect(await store.length('s')).toBe(12)
    // Another session is not held up by it.
    await pipe.execute('other', 'user', 'hi')
    expect(done).toBe(false)
    // The next turn on the session is queued behind it, and sees it.
    const next = await pipe.execute('s', 'user', 'w7')
    expect(done).toBe(true)
    expect(summariser.requests).toHaveLength(1)
    expect(isSummaryMessage(next.messages[1] as Message)).toBe(true)
    await pipe.shutdown()
  })

  it.each([
    ['throws', { reply: () => Promise.reject(new Error('rate limited')) }, /rate limited/],
    ['returns nothing', { reply: '   ' }, /empty summary/],
    ['times out', { reply: 'late', latencyMs: 5_000 }, /timeout|aborted/i],
  ])('a summariser that %s leaves the turn as without summaries and is retried later', async (_label, options, error) => {
    const store = new MemoryStore()
    const failing = new RecordingSummariser(options as ConstructorParameters<typeof MockProvider>[0])
    const pipe = pipeline(store, failing, { summary: { provider: failing, after: 6, timeoutMs: 50 } })
    const failures: Array<{ error: unknown; position: number }> = []
    pipe.on('summary:failed', (e) => failures.push(e))
    for (let i = 1; i <= 6; i++) expect((await pipe.execute('s', 'user', `w${i}`)).saved).toBe(true)
    await pipe.shutdown()
    expect(failures.length).toBeGreaterThanOrEqual(1)
    expect(String((failures[0]?.error as Error)?.message ?? failures[0]?.error)).toMatch(error)
    expect(failures[0]?.position).toBe(0)
    expect(await store.loadSummary('s')).toBeUndefined()
    // Retried on the next turn once the summariser works again.
    const working = new RecordingSummariser()
    const again = pipeline(store, working)
    await again.execute('s', 'user', 'w7')
    await again.shutdown()
    expect(working.requests).toHaveLength(1)
    expect((await store.loadSummary('s'))?.position).toBe(6)
    expect(await store.length('s')).toBe(14)
  })

  it("inline mode summarises before the provider call: the turn already sees the new summary", async () => {
    const store = new MemoryStore()
    for (let i = 1; i <= 10; i++) await store.append('s', [{ role: 'user', content: `w${i}` }, { role: 'assistant', content: 'ok' }])
    const summariser = new RecordingSummariser()
    const provider = new MockProvider({ reply: 'ok' })
    const pipe = pipeline(store, summariser, { provider, summary: { provider: summariser, after: 6, mode: 'inline' } })
    const events: string[] = []
    pipe.on('summary:updated', (e) => events.push(`${e.mode} ${e.previousPosition}->${e.position}`))
    await pipe.execute('s', 'user', 'w11')
    expect(events).toEqual(['inline 0->6'])
    expect(provider.requests[0]?.messages[1]).toMatchObject({ role: 'system', content: `${SUMMARY_HEADER}w1 w2 w3`, metadata: { summary: { position: 6 } } })
    await pipe.shutdown()
  })

  it('never ends a summary inside a tool group', async () => {
    const store = new MemoryStore()
    const call = (id: string, n: number): Message => ({ role: 'assistant', content: '', toolCalls: Array.from({ length: n }, (_, k) => ({ id: `${id}${k}`, name: 'f', arguments: '{}' })) })
    const history: Message[] = []
    for (let i = 0; i < 6; i++) {
      history.push({ role: 'user', content: `q${i}` }, call(`c${i}_`, 3))
      for (let k = 0; k < 3; k++) history.push({ role: 'tool', content: `r${k}`, toolCallId: `c${i}_${k}` })
      history.push({ role: 'assistant', content: 'done' })
    }
    await store.save('s', history)
    const summariser = new RecordingSummariser()
    const pipe = pipeline(store, summariser, { summary: { provider: summariser, after: 4 } })
    const positions: number[] = []
    pipe.on('summary:updated', (e) => positions.push(e.position))
    for (let i = 0; i < 4; i++) await pipe.execute('s', 'user', `more ${i}`)
    await pipe.shutdown()
    expect(positions.length).toBeGreaterThan(1)
    const stored = await store.load('s')
    for (const position of positions) expect(stored[position]?.role).not.toBe('tool')
  })

  it('works with stream() and with user middleware anywhere, and reports the summariser cost apart', async () => {
    const store = new MemoryStore()
    const summariser = new RecordingSummariser({ reply: condense, model: 'gpt-4o-mini' })
    const pipe = pipeline(store, summariser, { summary: { provider: summariser, after: 6, model: 'gpt-4o-mini' } })
    pipe.use(async function early(ctx, next) {
      ctx.state.set('early', true)
      await next()
    }, { before: 'context-window' })
    const costs: Array<number | undefined> = []
    pipe.on('summary:updated', (e) => costs.push(e.costUsd))
    for (let i = 1; i <= 9; i++) {
      let done
      for await (const chunk of pipe.stream('s', 'user', `w${i}`)) if (chunk.type === 'done') done = chunk.result
      expect(done).toMatchObject({ saved: true })
    }
    await pipe.shutdown()
    expect(costs.length).toBe(2)
    expect(costs.every((cost) => typeof cost === 'number' && cost > 0)).toBe(true)
    expect(summariser.requests.every((request) => request.model === 'gpt-4o-mini')).toBe(true)
  })

  it.each([
    ['summary true', { summary: true }, [/`summary`/, /`true`/]],
    ['summary.after 0', { summary: { after: 0 } }, [/`summary\.after`/, /`0`/]],
    ['summary.mode "later"', { summary: { mode: 'later' } }, [/`summary\.mode`/, /"later"/]],
    ['summary.maxTokens -1', { summary: { maxTokens: -1 } }, [/`summary\.maxTokens`/, /`-1`/]],
    ['summary.timeoutMs 0', { summary: { timeoutMs: 0 } }, [/`summary\.timeoutMs`/, /`0`/]],
    ['summary.provider {}', { summary: { provider: {} } }, [/`summary\.provider`/]],
    ['summary.prompt ""', { summary: { prompt: '' } }, [/`summary\.prompt`/]],
    ['summary.aftr', { summary: { aftr: 3 } }, [/`summary\.aftr`/, /`after`/]],
  ])('rejects %s with a TypeError', (_label, options, patterns) => {
    let error: unknown
    try {
      new Pipeline({ provider: new MockProvider(), ...(options as object) })
    } catch (e) {
      error = e
    }
    expect(error).toBeInstanceOf(TypeError)
    for (const pattern of patterns) expect((error as Error).message).toMatch(pattern)
  })

  it('refuses a store without the summary methods', () => {
    const inner = new MemoryStore()
    const plain: StateStore = {
      load: (id, o) => inner.load(id, o),
      save: (id, m) => inner.save(id, m),
      append: (id, m, o) => inner.append(id, m, o),
      fork: (a, b) => inner.fork(a, b),
      delete: (id) => inner.delete(id),
      length: (id) => inner.length(id),
      list: (o) => inner.list(o),
      close: () => inner.close(),
    }
    expect(() => new Pipeline({ provider: new MockProvider(), store: plain, summary: {} })).toThrow(/`store`.*features\.summaries/)
    // Without `summary`, the same store works as before.
    expect(() => new Pipeline({ provider: new MockProvider(), store: plain })).not.toThrow()
  })
})

/**
 * 500 turns, two pipelines (as two processes) alternating on one session: the
 * summariser's largest request stays bounded, every stored message is still there in
 * order, and the summary position only moves forward.
 */
async function fiveHundredTurns(stores: [StateStore, StateStore]): Promise<void> {
  const summariser = new RecordingSummariser()
  const pipes = stores.map((store) => pipeline(store, summariser, { summary: { provider: summariser, after: 10 } }))
  const positions: number[] = []
  for (let turn = 0; turn < 500; turn++) {
    const pipe = pipes[turn % 2] as Pipeline
    await pipe.execute('long', 'user', `t${turn} ${'word '.repeat(turn % 7)}`)
    const position = (await stores[0].loadSummary!('long'))?.position ?? 0
    positions.push(position)
  }
  await Promise.all(pipes.map((pipe) => pipe.shutdown()))
  positions.push((await stores[1].loadSummary!('long'))?.position ?? 0)
  // Forward only, and it kept up: what lies beyond it is at most the window plus `after` plus a turn.
  for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThanOrEqual(positions[i - 1] as number)
  expect(positions.at(-1)).toBeGreaterThanOrEqual(1000 - 4 - 10 - 2)
  // Bounded: each request holds at most `after` new messages plus the previous summary (40 words).
  const sizes = summariser.requests.map((request) => request.messages.reduce((sum, m) => sum + m.content.length, 0))
  expect(summariser.requests.length).toBeGreaterThan(80)
  expect(Math.max(...sizes)).toBeLessThan(2_000)
  const lineCounts = summariser.requests.map((r) => (/New messages:\n([\s\S]*)\n\nWrite/.exec(r.messages.at(-1)?.content ?? '')?.[1] ?? '').split('\n').length)
  expect(Math.max(...lineCounts)).toBeLessThanOrEqual(10)
  // Nothing lost, nothing duplicated, in order.
  const stored = await stores[0].load('long')
  expect(stored).toHaveLength(1000)
  for (let turn = 0; turn < 500; turn++) {
    expect(stored[2 * turn]?.content.startsWith(`t${turn} `)).toBe(true)
    expect(stored[2 * turn + 1]).toStrictEqual({ role: 'assistant', content: 'ok' })
  }
}

describe('500 turns, two processes alternating', () => {
  it('on MemoryStore (one store, two pipelines)', async () => {
    const store = new MemoryStore()
    await fiveHundredTurns([store, store])
  }, 60_000)
})

describeRedis('standalone', 'summary on a real Redis', () => {
  let redis: StandaloneRedis | undefined
  const opened: RedisStore[] = []
  const open = async () => {
    redis ??= await useStandaloneRedis()
    const store = new RedisStore(redis.url, { prefix: prefix })
    opened.push(store)
    return store
  }
  const prefix = uniquePrefix('summary')

  afterAll(async () => {
    await Promise.all(opened.map((store) => store.close()))
    await redis?.stop()
  })

  it('500 turns, two stores (two connections) alternating on one session', async () => {
    await fiveHundredTurns([await open(), await open()])
  }, 120_000)

  it('a second process uses the summary the first made, loaded in the same round trip as the tail', async () => {
    const [first, second] = [await open(), await open()]
    const summariser = new RecordingSummariser()
    const one = pipeline(first, summariser)
    for (let i = 1; i <= 9; i++) await one.execute('shared', 'user', `w${i}`)
    await one.shutdown()
    const provider = new MockProvider({ reply: 'ok' })
    const two = pipeline(second, new RecordingSummariser(), { provider })
    let scripts = 0
    const call = second.client.call.bind(second.client) as (...args: unknown[]) => Promise<unknown>
    ;(second.client as unknown as { call: (...args: unknown[]) => Promise<unknown> }).call = (...args: unknown[]) => {
      if (args[0] === 'evalsha' || args[0] === 'eval') scripts++
      return call(...args)
    }
    await two.execute('shared', 'user', 'w10')
    // One read (tail + summary) and one append: the summary costs no extra round trip.
    expect(scripts).toBe(2)
    expect(provider.requests[0]?.messages[1]).toMatchObject({ role: 'system', content: `${SUMMARY_HEADER}w1 w2 w3 w4 w5 w6`, metadata: { summary: { position: 12 } } })
    await two.shutdown()
  })
})

describe('rollingSummary in a Pipeline.from chain', () => {
  it('summarises in the background in the session queue, like the option', async () => {
    const { stateLoad, rollingSummary, contextWindow, providerCall, stateSave } = await import('../middleware/index.js')
    const store = new MemoryStore()
    const summariser = new RecordingSummariser()
    const provider = new MockProvider({ reply: 'ok' })
    const pipe = Pipeline.from([
      stateLoad(store, { last: 3, summary: true }),
      rollingSummary(store, { provider: summariser, after: 6 }),
      contextWindow({ maxMessages: 3 }),
      providerCall(provider),
      stateSave(store),
    ])
    const positions: number[] = []
    pipe.on('summary:updated', (e) => positions.push(e.position))
    for (let i = 1; i <= 10; i++) await pipe.execute('s', 'user', `w${i}`)
    await pipe.shutdown()
    expect(positions).toEqual([6, 12])
    expect(provider.requests.at(-1)?.messages[0]).toMatchObject({ role: 'system', metadata: { summary: { position: 12 } } })
  })

  it('refuses to run without a summary-aware load before it, and a store without summaries', async () => {
    const { stateLoad, rollingSummary, providerCall } = await import('../middleware/index.js')
    const store = new MemoryStore()
    const pipe = Pipeline.from([stateLoad(store), rollingSummary(store, { provider: new MockProvider() }), providerCall(new MockProvider())])
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toThrow(/stateLoad\(store, \{ summary: true \}\)/)
    expect(() => rollingSummary({ ...store, load: store.load, features: {} } as unknown as StateStore, { provider: new MockProvider() })).toThrow(TypeError)
    expect(() => rollingSummary(store, { after: 3 } as never)).toThrow(/`summary\.provider`/)
  })
})
