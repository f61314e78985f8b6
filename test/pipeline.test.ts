/** Pipeline semantics: ordering and concurrency of turns, aborts, shutdown, `use`, `Pipeline.from`, results, streaming. */
import { describe, expect, it } from 'vitest'
import type { Middleware } from '../src/context.js'
import { AbortError, PipelineClosedError, PromptlineError, ProviderError } from '../src/errors.js'
import { BUILT_IN_MIDDLEWARE, Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { getTokenCounter } from '../src/tokens.js'
import type { Message, Provider, ProviderRequest, ProviderResponse } from '../src/types.js'
import { contextWindow, providerCall, stateLoad, stateSave, tokenTruncation } from '../middleware/index.js'
import { collect } from './helpers/async.js'
import { FlakyStore } from './helpers/flaky-store.js'
import { assistant, user } from './helpers/messages.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** A provider that counts how many requests it is answering at once. */
function concurrencyProbe(delayMs: number): Provider & { maxInFlight: number } {
  let inFlight = 0
  const probe = {
    name: 'probe',
    maxInFlight: 0,
    async complete(_request: ProviderRequest): Promise<ProviderResponse> {
      inFlight++
      probe.maxInFlight = Math.max(probe.maxInFlight, inFlight)
      await sleep(delayMs)
      inFlight--
      return { message: assistant('ok'), usage: { inputTokens: 1, outputTokens: 1 } }
    },
  }
  return probe
}

describe('turn ordering and concurrency', () => {
  it('runs turns on the same session one after another: each sees every earlier turn', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider({ latencyMs: 3 })
    const pipe = new Pipeline({ provider, store, contextWindow: false })

    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => pipe.execute('s', 'user', `m${i}`)))

    const stored = await store.load('s')
    expect(stored).toHaveLength(20)
    for (let i = 0; i < 10; i++) {
      expect(stored[2 * i]).toEqual(user(`m${i}`))
      expect(stored[2 * i + 1]).toEqual(assistant(`Echo: m${i}`))
      expect(provider.requests[i]?.messages).toEqual([...stored.slice(0, 2 * i), user(`m${i}`)])
      expect(results[i]?.storedLength).toBe(2 * i + 2)
    }
  })

  it('never has two provider calls of one session in flight, but runs different sessions concurrently', async () => {
    const same = concurrencyProbe(10)
    const samePipe = new Pipeline({ provider: same })
    await Promise.all([1, 2, 3, 4].map((i) => samePipe.execute('one', 'user', `m${i}`)))
    expect(same.maxInFlight).toBe(1)

    const different = concurrencyProbe(10)
    const pipe = new Pipeline({ provider: different })
    await Promise.all(['a', 'b', 'c', 'd'].map((id) => pipe.execute(id, 'user', 'hi')))
    expect(different.maxInFlight).toBe(4)
  })

  it('a failed turn does not block the next turn of its session, which does not see it', async () => {
    let calls = 0
    const provider: Provider = {
      name: 'flaky',
      async complete(request) {
        if (calls++ === 0) throw new Error('boom')
        return { message: assistant(`saw ${request.messages.length}`) }
      },
    }
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider, store })
    const [first, second] = await Promise.allSettled([pipe.execute('s', 'user', 'a'), pipe.execute('s', 'user', 'b')])
    expect(first.status).toBe('rejected')
    expect(second).toMatchObject({ status: 'fulfilled', value: { response: assistant('saw 1') } })
    expect(await store.load('s')).toEqual([user('b'), assistant('saw 1')])
  })
})

describe('aborting a turn', () => {
  it('timeoutMs aborts the provider request through its signal: AbortError, nothing stored', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider({ latencyMs: 10_000 })
    const pipe = new Pipeline({ provider, store, timeoutMs: 20 })

    const error = await pipe.execute('s', 'user', 'hi').catch((e: unknown) => e)

    expect(error).toBeInstanceOf(AbortError)
    expect((error as Error).message).toMatch(/`s`.*timed out after 20 ms/)
    expect((error as Error).cause).toMatchObject({ name: 'TimeoutError' })
    expect(provider.requests[0]?.signal?.aborted).toBe(true)
    expect(await store.length('s')).toBe(0)
  })

  it('timeoutMs also fails a turn whose provider ignores the signal, and stores nothing of it', async () => {
    const store = new MemoryStore()
    const stubborn: Provider = {
      name: 'stubborn',
      async complete() {
        await sleep(60)
        return { message: assistant('too late') }
      },
    }
    const pipe = new Pipeline({ provider: stubborn, store, timeoutMs: 10 })
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toBeInstanceOf(AbortError)
    expect(await store.length('s')).toBe(0)
  })

  it('a signal aborted before the turn starts rejects at once without calling the provider', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store })
    const controller = new AbortController()
    const reason = new Error('user navigated away')
    controller.abort(reason)

    const error = await pipe.execute('s', 'user', 'hi', { signal: controller.signal }).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toBe(reason)
    expect((error as Error).message).toMatch(/was aborted/)
    expect(provider.requests).toHaveLength(0)
    expect(await store.length('s')).toBe(0)
  })

  it('a signal aborted during the provider call rejects with AbortError and stores nothing', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider({ latencyMs: 10_000 })
    const pipe = new Pipeline({ provider, store })
    const controller = new AbortController()
    const reason = new Error('cancel')
    setTimeout(() => controller.abort(reason), 10)

    const error = await pipe.execute('s', 'user', 'hi', { signal: controller.signal }).catch((e: unknown) => e)

    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toBe(reason)
    expect(provider.requests).toHaveLength(1)
    expect(await store.length('s')).toBe(0)
    // The session is usable afterwards.
    const next = new Pipeline({ provider: new MockProvider(), store })
    expect((await next.execute('s', 'user', 'again')).messages).toEqual([user('again')])
  })
})

describe('shutdown', () => {
  it('waits for in-flight and queued turns, and rejects new ones with PipelineClosedError', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 20 }), store })
    const settled: string[] = []
    const first = pipe.execute('a', 'user', 'x').then(() => settled.push('x'))
    const queued = pipe.execute('a', 'user', 'y').then(() => settled.push('y'))
    const other = pipe.execute('b', 'user', 'z').then(() => settled.push('z'))

    const closing = pipe.shutdown()
    await expect(pipe.execute('c', 'user', 'late')).rejects.toBeInstanceOf(PipelineClosedError)
    await closing

    expect(settled.sort()).toEqual(['x', 'y', 'z'])
    expect(await store.length('a')).toBe(4)
    expect(await store.length('b')).toBe(2)
    expect(await store.length('c')).toBe(0)
    await Promise.all([first, queued, other])

    await expect(pipe.execute('a', 'user', 'after')).rejects.toThrow(/shut down/)
    const stream = pipe.stream('a', 'user', 'after')
    await expect(stream.next()).rejects.toBeInstanceOf(PipelineClosedError)
    // Shutting down again is harmless.
    await expect(pipe.shutdown()).resolves.toBeUndefined()
  })
})

describe('use()', () => {
  // What a probe sees depends on which built-ins ran before it.
  type Seen = { history: number; view: number; windowed: boolean; truncated: boolean; response: boolean; saved: boolean }
  const afterLoad: Seen = { history: 3, view: 4, windowed: false, truncated: false, response: false, saved: false }
  const afterWindow: Seen = { ...afterLoad, view: 3, windowed: true }
  const afterTokens: Seen = { ...afterWindow, truncated: true }
  const afterProvider: Seen = { ...afterTokens, response: true }
  const seenAt: Record<string, Seen> = {
    'before state-load': { history: 0, view: 1, windowed: false, truncated: false, response: false, saved: false },
    'after state-load': afterLoad,
    'before context-window': afterLoad,
    'after context-window': afterWindow,
    'before token-truncation': afterWindow,
    'after token-truncation': afterTokens,
    'before provider-call': afterTokens,
    'after provider-call': afterProvider,
    'before state-save': afterProvider,
    'after state-save': { ...afterProvider, saved: true },
  }
  const cases = BUILT_IN_MIDDLEWARE.flatMap((name, index) => [
    { position: 'before' as const, name, index },
    { position: 'after' as const, name, index: index + 1 },
  ])

  it.each(cases)('inserts a middleware $position $name, and it runs there', async ({ position, name, index }) => {
    const store = new MemoryStore()
    await store.save('s', [user('u1'), assistant('a1'), user('u2'), assistant('a2'), user('u3'), assistant('a3')])
    const pipe = new Pipeline({ provider: new MockProvider(), store, contextWindow: { maxMessages: 3 }, tokenLimit: { maxTokens: 1000 } })
    let seen: Seen | undefined
    const probe: Middleware = async (ctx, next) => {
      seen = {
        history: ctx.history.length,
        view: ctx.messages.length,
        windowed: ctx.trimmed['context-window'] !== undefined,
        truncated: ctx.trimmed['token-truncation'] !== undefined,
        response: ctx.response !== undefined,
        saved: ctx.saved,
      }
      await next()
    }
    expect(pipe.use(probe, { name: 'probe', [position]: name })).toBe(pipe)

    const expectedNames: string[] = [...BUILT_IN_MIDDLEWARE]
    expectedNames.splice(index, 0, 'probe')
    expect(pipe.middlewareNames).toEqual(expectedNames)

    const started: string[] = []
    pipe.on('middleware:start', (e) => started.push(e.name))
    await pipe.execute('s', 'user', 'u4')
    expect(started).toEqual(expectedNames)
    expect(seen).toEqual(seenAt[`${position} ${name}`])
  })

  it('inserts just before provider-call by default, in the order of the use calls, named after the function', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const log: string[] = []
    pipe.use(async function first(_ctx, next) {
      log.push('first')
      await next()
    })
    pipe.use(async function second(ctx, next) {
      log.push(`second sees response: ${ctx.response !== undefined}`)
      await next()
    })
    pipe.use(async (_ctx, next) => next())
    expect(pipe.middlewareNames).toEqual(['state-load', 'context-window', 'token-truncation', 'first', 'second', 'middleware-7', 'provider-call', 'state-save'])
    await pipe.execute('s', 'user', 'hi')
    expect(log).toEqual(['first', 'second sees response: false'])
  })

  it('takes effect on the next turn when called after turns ran', async () => {
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider })
    await pipe.execute('s', 'user', 'plain')
    pipe.use(async function shout(ctx, next) {
      ctx.messages = ctx.messages.map((m) => (m === ctx.input ? { ...m, content: m.content.toUpperCase() } : m))
      await next()
    })
    await pipe.execute('s', 'user', 'loud')
    expect(provider.requests[0]?.messages.at(-1)?.content).toBe('plain')
    expect(provider.requests[1]?.messages.at(-1)?.content).toBe('LOUD')
  })

  it.each([
    ['an unknown before', { before: 'nope' }, /Unknown middleware `nope`.*`before`.*state-load/],
    ['an unknown after', { after: 'rate-limit' }, /Unknown middleware `rate-limit`.*`after`/],
    ['a duplicate name', { name: 'provider-call' }, /`provider-call` is already in the pipeline/],
    ['both before and after', { before: 'state-load', after: 'state-save' }, /`before`.*`after`/],
  ])('rejects %s with a TypeError naming it, and leaves the pipeline unchanged', (_label, options, message) => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    expect(() => pipe.use(async (_ctx, next) => next(), options)).toThrow(TypeError)
    expect(() => pipe.use(async (_ctx, next) => next(), options)).toThrow(message)
    expect(pipe.middlewareNames).toEqual([...BUILT_IN_MIDDLEWARE])
  })

  it('rejects the same function name twice and a non-function', () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    pipe.use(async function audit(_ctx, next) {
      await next()
    })
    expect(() =>
      pipe.use(async function audit(_ctx, next) {
        await next()
      }),
    ).toThrow(/`audit` is already in the pipeline/)
    expect(() => pipe.use(42 as unknown as Middleware)).toThrow(TypeError)
    expect(() => pipe.use(42 as unknown as Middleware)).toThrow(/`fn`.*42/)
  })
})

describe('Pipeline.from', () => {
  it('runs a custom chain built from the exported factories', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider()
    const pipe = Pipeline.from([stateLoad(store, { last: 4 }), contextWindow({ maxMessages: 4 }), tokenTruncation({ maxTokens: 500 }), providerCall(provider), stateSave(store)], {
      systemPrompt: 'custom',
    })
    expect(pipe.middlewareNames).toEqual([...BUILT_IN_MIDDLEWARE])
    await pipe.execute('s', 'user', 'one')
    const second = await pipe.execute('s', 'user', 'two')
    expect(second.messages).toEqual([{ role: 'system', content: 'custom' }, user('one'), assistant('Echo: one'), user('two')])
    expect(second.saved).toBe(true)
    expect(await store.length('s')).toBe(4)
  })

  it('names user functions after themselves (middleware-N when anonymous) and lets use() target them', async () => {
    const store = new MemoryStore()
    const log: string[] = []
    const pipe = Pipeline.from([
      stateLoad(store),
      async function redact(ctx, next) {
        ctx.messages = ctx.messages.map((m) => ({ ...m, content: m.content.replaceAll(/\d{4}-\d{4}/g, '[card]') }))
        log.push('redact')
        await next()
      },
      async (_ctx, next) => next(),
      providerCall(new MockProvider()),
      stateSave(store),
    ])
    expect(pipe.middlewareNames).toEqual(['state-load', 'redact', 'middleware-2', 'provider-call', 'state-save'])
    pipe.use(
      async function audit(_ctx, next) {
        log.push('audit')
        await next()
      },
      { after: 'redact' },
    )
    expect(pipe.middlewareNames).toEqual(['state-load', 'redact', 'audit', 'middleware-2', 'provider-call', 'state-save'])
    const result = await pipe.execute('s', 'user', 'card 1234-5678')
    expect(log).toEqual(['redact', 'audit'])
    expect(result.messages).toEqual([user('card [card]')])
    // Only the view is redacted: the input is stored as sent.
    expect(await store.load('s')).toEqual([user('card 1234-5678'), assistant('Echo: card [card]')])
  })

  it('a chain without state-save stores nothing', async () => {
    const store = new FlakyStore()
    const pipe = Pipeline.from([stateLoad(store), providerCall(new MockProvider())])
    const first = await pipe.execute('s', 'user', 'one')
    const second = await pipe.execute('s', 'user', 'two')
    expect(first.saved).toBe(false)
    expect(first.storedLength).toBeUndefined()
    expect(second.messages).toEqual([user('two')])
    expect(store.appendCalls).toHaveLength(0)
    expect(await store.length('s')).toBe(0)
  })

  it('a chain without provider-call rejects with a clear PromptlineError', async () => {
    const store = new MemoryStore()
    const pipe = Pipeline.from([stateLoad(store), stateSave(store)])
    const error = await pipe.execute('s', 'user', 'hi').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(PromptlineError)
    expect((error as Error).message).toMatch(/No middleware produced a response for session `s`.*provider-call/)
    expect(await store.length('s')).toBe(0)
  })

  it('rejects duplicate names in the chain', () => {
    const store = new MemoryStore()
    expect(() => Pipeline.from([stateLoad(store), stateLoad(store)])).toThrow(/Duplicate middleware name `state-load` at `middleware\[1\]`/)
  })
})

describe('user middleware', () => {
  it('short-circuits without next(): the provider is not called and execute rejects when nothing produced a response', async () => {
    const store = new FlakyStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store })
    pipe.use(async function gate() {})
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toThrow(PromptlineError)
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toThrow(/No middleware produced a response/)
    expect(provider.requests).toHaveLength(0)
    expect(store.appendCalls).toHaveLength(0)
  })

  it('short-circuits with its own response: execute resolves with it, unsaved, and the provider is not called', async () => {
    const store = new FlakyStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store })
    pipe.use(async function cache(ctx) {
      ctx.response = assistant('from cache')
    })
    const result = await pipe.execute('s', 'user', 'hi')
    expect(result.response).toEqual(assistant('from cache'))
    expect(result.saved).toBe(false)
    expect(result.messages).toEqual([user('hi')])
    expect(provider.requests).toHaveLength(0)
    expect(store.appendCalls).toHaveLength(0)
  })

  it('an error thrown in user middleware rejects execute with that same error, nothing stored', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store })
    const failure = new RangeError('quota exceeded')
    pipe.use(async function quota() {
      throw failure
    })
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toBe(failure)
    expect(await store.length('s')).toBe(0)
  })

  it('an error thrown after next() rejects execute with that error although the turn was already stored (onion semantics)', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store })
    const failure = new Error('post-processing failed')
    pipe.use(
      async function post(_ctx, next) {
        await next()
        throw failure
      },
      { before: 'state-load' },
    )
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toBe(failure)
    expect(await store.length('s')).toBe(2)
  })

  it('an error for next() called twice names the middleware by the name given to use()', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    pipe.use(
      async (_ctx, next) => {
        await next()
        await next()
      },
      { name: 'double-next' },
    )
    expect(pipe.middlewareNames).toContain('double-next')
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toThrow(/next\(\) called multiple times in middleware `double-next`/)
  })

  it('a middleware before state-load that replaces the view still gets the history inserted before the input', async () => {
    const store = new MemoryStore()
    await store.save('s', [user('earlier'), assistant('reply')])
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, systemPrompt: 'sys' })
    pipe.use(
      async function normalize(ctx, next) {
        ctx.messages = ctx.messages.map((m) => ({ ...m, content: m.content.trim() }))
        await next()
      },
      { before: 'state-load' },
    )
    await pipe.execute('s', 'user', '  newest  ')
    expect(provider.requests[0]?.messages).toEqual([{ role: 'system', content: 'sys' }, user('earlier'), assistant('reply'), user('newest')])
  })

  it('keeps per-turn data in ctx.state, fresh for every turn', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const sizes: number[] = []
    pipe.use(async function counter(ctx, next) {
      sizes.push(ctx.state.size)
      ctx.state.set('seen', true)
      await next()
    })
    await pipe.execute('s', 'user', 'a')
    await pipe.execute('s', 'user', 'b')
    expect(sizes).toEqual([0, 0])
  })
})

describe('the result of a turn', () => {
  it('reports response, the view sent, usage, cost, saved, storedLength, trimmed and durationMs', async () => {
    const store = new MemoryStore()
    const provider: Provider & { requests: ProviderRequest[] } = {
      name: 'priced',
      requests: [],
      async complete(request) {
        provider.requests.push(request)
        return { message: assistant('four'), usage: { inputTokens: 1000, outputTokens: 500 }, finishReason: 'stop', model: 'priced-model-2025-01-01' }
      },
    }
    const pipe = new Pipeline({ provider, store, systemPrompt: 'sys', pricing: { 'priced-model': { input: 2, output: 10 } } })
    await pipe.execute('s', 'user', 'warm-up')
    const before = performance.now()
    const result = await pipe.execute('s', 'user', '2+2?')
    const elapsed = performance.now() - before

    expect(result.sessionId).toBe('s')
    expect(result.executionId).toMatch(/^[0-9a-f-]{36}$/)
    expect(result.response).toEqual(assistant('four'))
    expect(result.messages).toEqual([{ role: 'system', content: 'sys' }, user('warm-up'), assistant('four'), user('2+2?')])
    expect(result.messages).toEqual(provider.requests[1]?.messages)
    expect(result.usage).toEqual({ inputTokens: 1000, outputTokens: 500 })
    // Dated snapshot → undated price: (1000 × 2 + 500 × 10) / 1e6.
    expect(result.costUsd).toBeCloseTo(0.007, 10)
    expect(result.model).toBe('priced-model-2025-01-01')
    expect(result.finishReason).toBe('stop')
    expect(result.saved).toBe(true)
    expect(result.storedLength).toBe(4)
    expect(result.trimmed).toEqual({ 'context-window': { kept: 4, dropped: 0 } })
    expect(result.durationMs).toBeGreaterThanOrEqual(0)
    expect(result.durationMs).toBeLessThanOrEqual(elapsed)
  })

  it('estimates usage with the tokenizer when the provider reports none', async () => {
    const provider: Provider = { name: 'plain', complete: async () => ({ message: assistant('a short reply') }) }
    const pipe = new Pipeline({ provider })
    const result = await pipe.execute('s', 'user', 'count me')
    const counter = await getTokenCounter('gpt-4o')
    // No model reported, none asked for: gpt-4o's encoding stands in, and the usage says so.
    expect(result.usage).toEqual({ inputTokens: counter.countRequest([user('count me')]), outputTokens: counter.countText('a short reply'), estimated: true, estimatedWith: 'gpt-4o' })
    expect(result.costUsd).toBeUndefined()
  })

  it('round-trips a tool call: the tool result with its toolCallId reaches the next view and the store', async () => {
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris"}' }
    const requests: Message[][] = []
    const provider: Provider = {
      name: 'tools',
      async complete(request) {
        requests.push(structuredClone(request.messages))
        const last = request.messages.at(-1)
        return last?.role === 'tool'
          ? { message: assistant('It is 20 °C in Paris.') }
          : { message: { role: 'assistant', content: '', toolCalls: [call] } }
      },
    }
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider, store })
    const first = await pipe.execute('s', 'user', 'Weather in Paris?', { name: 'alice', metadata: { locale: 'fr' } })
    expect(first.response.toolCalls).toEqual([call])
    const second = await pipe.execute('s', 'tool', '{"celsius":20}', { toolCallId: 'call_1' })
    expect(second.response.content).toBe('It is 20 °C in Paris.')
    const expected: Message[] = [
      { role: 'user', content: 'Weather in Paris?', name: 'alice', metadata: { locale: 'fr' } },
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', content: '{"celsius":20}', toolCallId: 'call_1' },
    ]
    expect(requests[1]).toEqual(expected)
    expect(await store.load('s')).toEqual([...expected, assistant('It is 20 °C in Paris.')])
  })
})

describe('stream()', () => {
  it('yields the deltas, then done with the result, and saves the turn once', async () => {
    const store = new FlakyStore()
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'one two three' }), store })
    const chunks = await collect(pipe.stream('s', 'user', 'count'))

    const deltas = chunks.flatMap((c) => (c.type === 'delta' ? [c.text] : []))
    expect(deltas).toEqual(['one ', 'two ', 'three'])
    expect(chunks.slice(0, -1).every((c) => c.type === 'delta')).toBe(true)
    const done = chunks.at(-1)
    expect(done?.type).toBe('done')
    if (done?.type !== 'done') throw new Error('unreachable')
    expect(done.result).toMatchObject({ response: assistant('one two three'), saved: true, storedLength: 2 })
    expect(store.appendCalls).toHaveLength(1)
    expect(await store.load('s')).toEqual([user('count'), assistant('one two three')])
  })

  it('streams a provider without stream() as one delta', async () => {
    const provider: Provider = { name: 'plain', complete: async () => ({ message: assistant('whole reply'), usage: { inputTokens: 1, outputTokens: 2 } }) }
    const pipe = new Pipeline({ provider })
    const chunks = await collect(pipe.stream('s', 'user', 'hi'))
    expect(chunks.map((c) => c.type)).toEqual(['delta', 'done'])
    expect(chunks[0]).toEqual({ type: 'delta', text: 'whole reply' })
  })

  it('breaking out early aborts the request and stores nothing', async () => {
    const store = new FlakyStore()
    const provider = new MockProvider({ reply: 'a long streamed reply of many words' })
    const pipe = new Pipeline({ provider, store })
    const seen: string[] = []
    for await (const chunk of pipe.stream('s', 'user', 'hi')) {
      if (chunk.type === 'delta') seen.push(chunk.text)
      break
    }
    expect(seen).toEqual(['a '])
    expect(provider.requests[0]?.signal?.aborted).toBe(true)
    expect(store.appendCalls).toHaveLength(0)
    // The session continues as if the broken turn never happened.
    const next = await pipe.execute('s', 'user', 'again')
    expect(next.messages).toEqual([user('again')])
  })

  it('breaking out at the first delta of a provider without stream() stores nothing either', async () => {
    const store = new FlakyStore()
    const provider: Provider = { name: 'plain', complete: async () => ({ message: assistant('whole reply'), usage: { inputTokens: 1, outputTokens: 2 } }) }
    const pipe = new Pipeline({ provider, store })
    for await (const chunk of pipe.stream('s', 'user', 'hi')) {
      expect(chunk.type).toBe('delta')
      break
    }
    expect(store.appendCalls).toHaveLength(0)
    expect(await store.length('s')).toBe(0)
  })

  it('rethrows a provider failure from the loop', async () => {
    const provider: Provider = {
      name: 'down',
      complete: async () => {
        throw new Error('502')
      },
    }
    const pipe = new Pipeline({ provider })
    const consume = async () => {
      for await (const _chunk of pipe.stream('s', 'user', 'hi')) {
        // no chunks expected
      }
    }
    await expect(consume()).rejects.toBeInstanceOf(ProviderError)
  })
})
