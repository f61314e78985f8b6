/**
 * The pipeline over real HTTP: `OpenAIProvider` against the fake chat-completions
 * server, through the whole default stack (load, trimming, provider call, save).
 * Tool calls are in pipeline-openai-tools.test.ts, usage and cost in
 * pipeline-openai-cost.test.ts.
 */
import { setTimeout as sleep } from 'node:timers/promises'
import { inspect } from 'node:util'
import { InternalServerError } from 'openai'
import { describe, expect, it } from 'vitest'
import { AbortError, getTokenCounter, MemoryStore, Pipeline, ProviderError } from '../src/index.js'
import type { LoadOptions, Message, Provider, StreamChunk } from '../src/index.js'
import { collect, rejection } from './helpers/async.js'
import { deltasOf, doneOf, EVENT_NAMES, KEY, sentMessages, setup, useFakeOpenAI } from './helpers/pipeline-openai.js'

const server = useFakeOpenAI()

const SYSTEM = 'You are a helpful assistant.'

describe('a turn over HTTP', () => {
  it('sends the system prompt, the stored history and the input, and stores the reply', async () => {
    const { pipe, store, of } = setup(server, { pipeline: { systemPrompt: SYSTEM } })
    server.enqueue(
      { kind: 'reply', content: 'Hello, Alice!', usage: { prompt_tokens: 20, completion_tokens: 4 } },
      { kind: 'reply', content: 'Your name is Alice.', usage: { prompt_tokens: 31, completion_tokens: 5 } },
    )

    const first = await pipe.execute('alice', 'user', "Hi, I'm Alice", { metadata: { channel: 'web' } })
    const second = await pipe.execute('alice', 'user', 'What is my name?')

    expect(first.response).toEqual({ role: 'assistant', content: 'Hello, Alice!' })
    expect(second.response).toEqual({ role: 'assistant', content: 'Your name is Alice.' })
    expect(second).toMatchObject({ saved: true, storedLength: 4, finishReason: 'stop', model: 'gpt-4o-mini' })
    expect(server.requests).toHaveLength(2)
    const sent = server.requests[1]!
    expect(sent.path).toBe('/v1/chat/completions')
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(sent.body?.model).toBe('gpt-4o-mini')
    expect(sent.body?.stream).toBeUndefined()
    // metadata stays in the store: it is never sent.
    expect(sent.body?.messages).toEqual([
      { role: 'system', content: SYSTEM },
      { role: 'user', content: "Hi, I'm Alice" },
      { role: 'assistant', content: 'Hello, Alice!' },
      { role: 'user', content: 'What is my name?' },
    ])
    // The system prompt is never stored.
    expect(await store.load('alice')).toEqual([
      { role: 'user', content: "Hi, I'm Alice", metadata: { channel: 'web' } },
      { role: 'assistant', content: 'Hello, Alice!' },
      { role: 'user', content: 'What is my name?' },
      { role: 'assistant', content: 'Your name is Alice.' },
    ])
    expect(of('state:saved').map((e) => e.count)).toEqual([2, 2])
    expect(of('provider:response').map((e) => e.provider)).toEqual(['openai', 'openai'])
  })

  it('sends the pipeline `model` option as the request model and reports the model that answered', async () => {
    const { pipe } = setup(server, { pipeline: { model: 'gpt-4.1-mini' } })
    server.enqueue({ kind: 'reply', content: 'ok', model: 'gpt-4.1-mini-2025-04-14' })
    const result = await pipe.execute('s', 'user', 'Hi')
    expect(server.requests[0]?.body?.model).toBe('gpt-4.1-mini')
    expect(result.model).toBe('gpt-4.1-mini-2025-04-14')
  })

  it('keeps sessions apart and serialises turns of one session', async () => {
    const { pipe, store } = setup(server)
    await Promise.all([
      pipe.execute('a', 'user', 'a1'),
      pipe.execute('b', 'user', 'b1'),
      pipe.execute('a', 'user', 'a2'),
    ])
    expect((await store.load('a')).map((m) => m.content)).toEqual(['a1', 'Echo: a1', 'a2', 'Echo: a2'])
    expect((await store.load('b')).map((m) => m.content)).toEqual(['b1', 'Echo: b1'])
    const a2 = server.requests.find((r) => JSON.stringify(r.body?.messages).includes('"a2"'))
    expect(a2?.body?.messages?.map((m) => m.content)).toEqual(['a1', 'Echo: a1', 'a2'])
  })
})

describe('a streamed turn', () => {
  it('yields the deltas in order and done last, and is saved once with the concatenated text', async () => {
    const { pipe, store, of, appends } = setup(server, { pipeline: { systemPrompt: SYSTEM } })
    await pipe.execute('s', 'user', 'Hi')
    server.enqueue({ kind: 'reply', content: 'Streaming sends the reply piece by piece.', chunkSize: 6 })

    const chunks = await collect(pipe.stream('s', 'user', 'How does streaming work?'))

    const deltas = deltasOf(chunks)
    expect(deltas).toEqual(['Stream', 'ing se', 'nds th', 'e repl', 'y piec', 'e by p', 'iece.'])
    expect(chunks.map((c) => c.type)).toEqual([...deltas.map(() => 'delta'), 'done'])
    const result = doneOf(chunks)
    expect(result.response).toEqual({ role: 'assistant', content: deltas.join('') })
    expect(result).toMatchObject({ saved: true, storedLength: 4, finishReason: 'stop', sessionId: 's' })

    const sent = server.requests[1]!
    expect(sent.body).toMatchObject({ stream: true, stream_options: { include_usage: true } })
    expect(sent.body?.messages).toEqual([
      { role: 'system', content: SYSTEM },
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Echo: Hi' },
      { role: 'user', content: 'How does streaming work?' },
    ])
    expect(appends()).toBe(2) // one per turn
    expect(of('state:saved')).toHaveLength(2)
    expect(of('execution:start').map((e) => e.streaming)).toEqual([false, true])
    expect((await store.load('s')).slice(2)).toEqual([
      { role: 'user', content: 'How does streaming work?' },
      { role: 'assistant', content: 'Streaming sends the reply piece by piece.' },
    ])

    // The next turn, streamed or not, sees the streamed reply.
    await pipe.execute('s', 'user', 'Thanks')
    expect(sentMessages(server, 2).at(-2)).toEqual({ role: 'assistant', content: 'Streaming sends the reply piece by piece.' })
  })

  it('a stream cut off midway rejects with ProviderError after the deltas it sent, and stores nothing', async () => {
    const { pipe, store, appends } = setup(server)
    server.enqueue({ kind: 'reply', content: 'one two three four five', cutAfterChunks: 3 })

    const error = await rejection(collect(pipe.stream('s', 'user', 'Count')))

    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).provider).toBe('openai')
    expect(deltasOf((error as { chunks: StreamChunk[] }).chunks)).toEqual(['one ', 'two '])
    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
  })
})

describe('cancellation', () => {
  /** Streams a turn of 'Count', aborting it (with `reason`) once two deltas came; resolves with the rejection and the deltas. */
  async function abortAfterTwoDeltas(pipe: Pipeline, reason?: unknown): Promise<{ error: unknown; received: string[] }> {
    const controller = new AbortController()
    const received: string[] = []
    const error = await rejection(
      (async () => {
        for await (const chunk of pipe.stream('s', 'user', 'Count', { signal: controller.signal })) {
          if (chunk.type === 'delta') received.push(chunk.text)
          if (received.length === 2) controller.abort(reason)
        }
      })(),
    )
    return { error, received }
  }

  it('an already aborted signal sends nothing and stores nothing', async () => {
    const { pipe, store, appends } = setup(server)
    const reason = new Error('user left')
    const signal = AbortSignal.abort(reason)

    const executed = await rejection(pipe.execute('s', 'user', 'Hi', { signal }))
    const streamed = await rejection(collect(pipe.stream('s', 'user', 'Hi', { signal })))

    for (const error of [executed, streamed]) {
      expect(error).toBeInstanceOf(AbortError)
      expect((error as AbortError).cause).toBe(reason)
    }
    expect(server.requests).toHaveLength(0)
    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
  })

  it('an abort before the first byte closes the connection and stores nothing', async () => {
    const { pipe, store, appends } = setup(server)
    server.enqueue({ kind: 'stall' }, { kind: 'stall' })
    const controller = new AbortController()

    const executed = rejection(pipe.execute('s', 'user', 'Hi', { signal: controller.signal }))
    await server.waitForRequests(1)
    controller.abort()
    expect(await executed).toBeInstanceOf(AbortError)
    await server.requests[0]!.closed
    expect(server.requests[0]!.aborted).toBe(true)

    const other = new AbortController()
    const streamed = rejection(collect(pipe.stream('s', 'user', 'Hi', { signal: other.signal })))
    await server.waitForRequests(2)
    other.abort()
    expect(await streamed).toBeInstanceOf(AbortError)
    await server.requests[1]!.closed
    expect(server.requests[1]!.aborted).toBe(true)

    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
  })

  it('an abort during the stream closes the connection, rejects with AbortError and stores nothing by default', async () => {
    const { pipe, store, appends, of } = setup(server)
    // The role chunk and two words, then silence.
    server.enqueue({ kind: 'reply', content: 'one two three four', stallAfterChunks: 3 })

    const { error, received } = await abortAfterTwoDeltas(pipe, new Error('Stop pressed'))

    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).message).toBe('Turn of session `s` was aborted')
    expect(received).toEqual(['one ', 'two '])
    await server.requests[0]!.closed
    expect(server.requests[0]!.aborted).toBe(true)
    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
    expect(of('execution:end')).toMatchObject([{ saved: false, error }])
  })

  it("with saveOnAbort: 'partial' stores the partial reply, marked aborted, and still rejects with AbortError", async () => {
    const { pipe, store, appends, of } = setup(server, { pipeline: { saveOnAbort: 'partial' } })
    server.enqueue({ kind: 'reply', content: 'one two three four', stallAfterChunks: 3 })

    const { error, received } = await abortAfterTwoDeltas(pipe)

    expect(error).toBeInstanceOf(AbortError)
    await server.requests[0]!.closed
    expect(server.requests[0]!.aborted).toBe(true)
    expect(appends()).toBe(1)
    expect(await store.load('s')).toEqual([
      { role: 'user', content: 'Count' },
      { role: 'assistant', content: received.join(''), metadata: { aborted: true } },
    ])
    expect(of('execution:end')).toMatchObject([{ saved: true, error }])
    expect(of('provider:response')).toMatchObject([{ finishReason: 'aborted' }])

    // The next turn sends the partial reply as history (metadata stays local).
    await pipe.execute('s', 'user', 'Go on')
    expect(sentMessages(server, 1)).toEqual([
      { role: 'user', content: 'Count' },
      { role: 'assistant', content: 'one two ' },
      { role: 'user', content: 'Go on' },
    ])
  })

  it("with saveOnAbort: 'partial' stores nothing when the abort came before any text", async () => {
    const { pipe, store } = setup(server, { pipeline: { saveOnAbort: 'partial' } })
    server.enqueue({ kind: 'reply', content: 'one two', stallAfterChunks: 1 })
    const controller = new AbortController()
    const streamed = rejection(collect(pipe.stream('s', 'user', 'Count', { signal: controller.signal })))
    await server.waitForRequests(1)
    controller.abort()
    expect(await streamed).toBeInstanceOf(AbortError)
    expect(await store.length('s')).toBe(0)
  })

  it('breaking out of the for await loop aborts the HTTP request and stores nothing', async () => {
    const { pipe, store, appends, of } = setup(server)
    server.enqueue({ kind: 'reply', content: 'one two three four', stallAfterChunks: 3 })
    const received: string[] = []

    for await (const chunk of pipe.stream('s', 'user', 'Count')) {
      if (chunk.type === 'delta') received.push(chunk.text)
      break
    }

    // The loop is left only once the turn has ended: the request is closed by then.
    expect(received).toEqual(['one '])
    await server.requests[0]!.closed
    expect(server.requests[0]!.aborted).toBe(true)
    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
    const [end] = of('execution:end')
    expect(end?.error).toBeInstanceOf(AbortError)
    expect((end?.error as AbortError).cause).toMatchObject({ name: 'AbortError', message: 'The stream consumer stopped reading' })

    // The session is not left half-written: the next turn sends only its own message.
    const next = await pipe.execute('s', 'user', 'Again')
    expect(sentMessages(server, 1)).toEqual([{ role: 'user', content: 'Again' }])
    expect(next.storedLength).toBe(2)
  })

  // Regression: `provider-call` awaits each delta until the stream consumer takes it, and
  // once nothing else ended that wait.
  it('timeoutMs still ends a streamed turn whose consumer stopped calling next() without return()', async () => {
    const { pipe, store, of } = setup(server, { pipeline: { timeoutMs: 150 } })
    server.enqueue({ kind: 'reply', content: 'one two three four' })
    const iterator = pipe.stream('s', 'user', 'Count')[Symbol.asyncIterator]()
    expect(await iterator.next()).toEqual({ done: false, value: { type: 'delta', text: 'one ' } })
    // The consumer goes away (say, a handler stuck on a dead client's socket).

    const ended = new Promise((resolve) => pipe.once('execution:end', resolve))
    const outcome = await Promise.race([ended.then(() => 'ended'), sleep(1_000).then(() => 'still running')])

    expect(outcome).toBe('ended')
    expect(of('execution:end')[0]?.error).toBeInstanceOf(AbortError)
    // …so that the session's next turn and shutdown() are not blocked behind it.
    expect((await pipe.execute('s', 'user', 'Next')).storedLength).toBe(2)
    expect(await store.length('s')).toBe(2)
  })

  // Regression: after a `break`, the pipeline releases the pending delta and awaits the turn;
  // a provider that yielded one more (already buffered) delta before it noticed the abort then
  // waited forever for a consumer that was gone, and so did the `break`.
  it('break returns even when the provider yields another delta after the abort', async () => {
    const buffered: Provider = {
      name: 'buffered',
      complete: () => Promise.reject(new Error('not used')),
      // Like a JSON-lines or SSE provider that got several events in one network read.
      async *stream() {
        for (const text of ['one ', 'two ', 'three ']) yield { type: 'delta', text }
        yield { type: 'done', response: { message: { role: 'assistant', content: 'one two three ' } } }
      },
    }
    const pipe = new Pipeline({ provider: buffered, store: new MemoryStore() })
    const loop = (async () => {
      for await (const chunk of pipe.stream('s', 'user', 'Count')) if (chunk.type === 'delta') break
      return 'left the loop'
    })()
    expect(await Promise.race([loop, sleep(1_000).then(() => 'still in the loop')])).toBe('left the loop')
  })

  it("breaking out under saveOnAbort: 'partial' stores the text the loop received", async () => {
    const { pipe, store } = setup(server, { pipeline: { saveOnAbort: 'partial' } })
    server.enqueue({ kind: 'reply', content: 'one two three four', stallAfterChunks: 4 })
    const received: string[] = []

    for await (const chunk of pipe.stream('s', 'user', 'Count')) {
      if (chunk.type === 'delta') received.push(chunk.text)
      if (received.length === 2) break
    }

    expect(received).toEqual(['one ', 'two '])
    await server.requests[0]!.closed
    expect(server.requests[0]!.aborted).toBe(true)
    expect(await store.load('s')).toEqual([
      { role: 'user', content: 'Count' },
      { role: 'assistant', content: 'one two ', metadata: { aborted: true } },
    ])
  })

  it('timeoutMs aborts a turn on a stalled server with AbortError (timed out) and stores nothing', async () => {
    const { pipe, store, appends } = setup(server, { pipeline: { timeoutMs: 150 } })
    server.enqueue({ kind: 'stall' }, { kind: 'reply', content: 'one two three', stallAfterChunks: 2 })

    const executed = await rejection(pipe.execute('s', 'user', 'Hi'))
    const streamed = await rejection(collect(pipe.stream('s', 'user', 'Hi')))

    for (const error of [executed, streamed]) {
      expect(error).toBeInstanceOf(AbortError)
      expect((error as AbortError).message).toBe('Turn of session `s` timed out after 150 ms')
      expect((error as AbortError).cause).toMatchObject({ name: 'TimeoutError' })
    }
    expect(deltasOf((streamed as { chunks: StreamChunk[] }).chunks)).toEqual(['one '])
    await Promise.all(server.requests.map((r) => r.closed))
    expect(server.requests.map((r) => r.aborted)).toEqual([true, true])
    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
  })
})

describe('provider failures', () => {
  it('retries a 429 with Retry-After: 0, then the turn succeeds and is saved once', async () => {
    const { pipe, store, appends, of } = setup(server)
    server.enqueue(
      { kind: 'error', status: 429, headers: { 'retry-after': '0' } },
      { kind: 'reply', content: 'Hi after a rate limit' },
      { kind: 'error', status: 429, headers: { 'retry-after': '0' } },
      { kind: 'reply', content: 'Streamed after a rate limit' },
    )

    const result = await pipe.execute('s', 'user', 'Hi')
    const chunks = await collect(pipe.stream('s', 'user', 'Again'))

    expect(result).toMatchObject({ response: { content: 'Hi after a rate limit' }, saved: true })
    expect(deltasOf(chunks).join('')).toBe('Streamed after a rate limit')
    expect(server.requests).toHaveLength(4)
    // The retry re-sent the same request: the provider retried, not the pipeline.
    expect(server.requests[1]?.rawBody).toBe(server.requests[0]?.rawBody)
    expect(server.requests[3]?.rawBody).toBe(server.requests[2]?.rawBody)
    expect(appends()).toBe(2)
    expect(of('provider:response')).toHaveLength(2)
    expect(of('state:save-retry')).toHaveLength(0)
    expect((await store.load('s')).map((m) => m.content)).toEqual(['Hi', 'Hi after a rate limit', 'Again', 'Streamed after a rate limit'])
  })

  it('a 500 that persists is a ProviderError with status, provider and cause, and nothing is stored', async () => {
    const { pipe, store, appends, of } = setup(server, { provider: { maxRetries: 2, name: 'gateway' } })
    server.setFallback({ kind: 'error', status: 500, headers: { 'retry-after': '0' } })

    const error = await rejection(pipe.execute('s', 'user', 'Hi'))

    expect(error).toBeInstanceOf(ProviderError)
    const failure = error as ProviderError
    expect(failure.status).toBe(500)
    expect(failure.provider).toBe('gateway')
    expect(failure.message).toBe('Provider `gateway` failed (HTTP 500): 500 Fake error 500')
    expect(failure.cause).toBeInstanceOf(InternalServerError)
    expect((failure.cause as InternalServerError).status).toBe(500)
    expect(server.requests).toHaveLength(3) // 1 + maxRetries
    expect(appends()).toBe(0)
    expect(await store.length('s')).toBe(0)
    expect(of('provider:response')).toHaveLength(0)
    expect(of('execution:end')).toMatchObject([{ saved: false, error }])

    // The user message was not stored either, so retrying the turn does not duplicate it.
    server.reset()
    await pipe.execute('s', 'user', 'Hi')
    expect(sentMessages(server, 0)).toEqual([{ role: 'user', content: 'Hi' }])
    expect(await store.load('s')).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Echo: Hi' },
    ])
  })

  it('a malformed response is a ProviderError and nothing is stored', async () => {
    const { pipe, store } = setup(server)
    server.enqueue({ kind: 'malformed' })
    const error = await rejection(pipe.execute('s', 'user', 'Hi'))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/malformed response/)
    expect(await store.length('s')).toBe(0)
  })
})

/** A MemoryStore whose next loads or appends fail on demand. */
class FlakyStore extends MemoryStore {
  failLoads = 0
  failAppends = 0

  override async load(sessionId: string, options?: LoadOptions): Promise<Message[]> {
    if (this.failLoads > 0) {
      this.failLoads--
      throw new Error('load failed')
    }
    return super.load(sessionId, options)
  }

  override async append(sessionId: string, messages: Message[], options?: { idempotencyKey?: string }): Promise<number> {
    if (this.failAppends > 0) {
      this.failAppends--
      throw new Error('append failed')
    }
    return super.append(sessionId, messages, options)
  }
}

describe('the API key', () => {
  /** Every place a key could show in an error: message, stack, inspect (hidden fields too), the cause chain. */
  function renderings(error: unknown): string[] {
    const out = [inspect(error, { depth: Infinity, showHidden: true }), String(error)]
    for (let current: unknown = error, depth = 0; current instanceof Error && depth < 10; current = current.cause, depth++) {
      out.push(current.message, current.stack ?? '', JSON.stringify(current))
    }
    return out
  }

  it('appears in no error and no event payload of a successful, a failing and an aborted turn', async () => {
    // Loaded up front: the first load of a tokenizer can take longer than this test's deadline on a busy machine.
    await getTokenCounter('gpt-4o')
    const store = new FlakyStore()
    const { pipe, events } = setup(server, {
      store,
      pipeline: {
        contextWindow: { maxMessages: 2 },
        tokenLimit: { maxTokens: 200 },
        onLoadError: 'start-fresh',
        onSaveError: 'warn',
        saveRetry: { retries: 1, minTimeout: 0, maxTimeout: 0 },
        loadRetry: { retries: 1, minTimeout: 0, maxTimeout: 0 },
        // Ends the stalled turn below; long enough for the others on a loaded machine.
        timeoutMs: 1_500,
        saveOnAbort: 'partial',
      },
      provider: { maxRetries: 0 },
    })
    const errors: unknown[] = []
    const keep = async (promise: Promise<unknown>) => {
      errors.push(await rejection(promise))
    }

    // Successful turns: streamed, then one that trims (window and tokens) and needs a save retry.
    server.enqueue({ kind: 'reply', content: 'long '.repeat(300) })
    await collect(pipe.stream('s', 'user', 'Tell me a long story'))
    store.failAppends = 1
    const trimmed = await pipe.execute('s', 'user', 'Shorter, please')
    expect(trimmed.trimmed['context-window']?.dropped).toBe(1)
    expect(trimmed.trimmed['token-truncation']?.dropped).toBe(1)
    // A load that fails twice (one retry, then start-fresh) and a save that fails for good (warn).
    store.failLoads = 2
    store.failAppends = 2
    expect((await pipe.execute('s', 'user', 'And now?')).saved).toBe(false)

    // Failing turns: a server that echoes the key back in its error body and headers, a 500, a cut stream.
    server.enqueue({
      kind: 'error',
      status: 401,
      headers: { 'x-echo': KEY },
      body: { error: { message: `Incorrect API key provided: ${KEY}.`, type: 'invalid_request_error', code: 'invalid_api_key' } },
    })
    await keep(pipe.execute('s', 'user', 'Hi'))
    server.enqueue({ kind: 'error', status: 500 })
    await keep(pipe.execute('s', 'user', 'Hi'))
    server.enqueue({ kind: 'reply', content: 'one two three', cutAfterChunks: 2 })
    await keep(collect(pipe.stream('s', 'user', 'Hi')))
    server.enqueue({ kind: 'malformed', body: `{"oops": "${KEY}"}` })
    await keep(pipe.execute('s', 'user', 'Hi'))

    // Aborted turns: a timeout, a signal during a stream (partial save), a consumer that breaks.
    server.enqueue({ kind: 'stall' })
    await keep(pipe.execute('s', 'user', 'Hi'))
    server.enqueue({ kind: 'reply', content: 'one two three', stallAfterChunks: 2 })
    const controller = new AbortController()
    await keep(
      (async () => {
        for await (const chunk of pipe.stream('s', 'user', 'Hi', { signal: controller.signal })) {
          if (chunk.type === 'delta') controller.abort()
        }
      })(),
    )
    server.enqueue({ kind: 'reply', content: 'one two three', stallAfterChunks: 2 })
    for await (const chunk of pipe.stream('s', 'user', 'Hi')) if (chunk.type === 'delta') break

    // The key really was sent, and really came back from the server.
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true)
    expect((errors[0] as ProviderError).message).toContain('[redacted]')

    expect(errors.map((e) => (e as Error).name)).toEqual([
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'AbortError',
      'AbortError',
    ])
    for (const error of errors) {
      for (const text of renderings(error)) expect(text).not.toContain(KEY)
    }
    expect(new Set(events.map((e) => e.name))).toEqual(new Set(EVENT_NAMES))
    for (const { name, payload } of events) {
      const text = inspect(payload, { depth: Infinity, showHidden: true })
      if (text.includes(KEY)) throw new Error(`the key is in a ${name} event: ${text}`)
      for (const error of Object.values(payload as Record<string, unknown>).filter((v) => v instanceof Error)) {
        for (const rendering of renderings(error)) expect(rendering).not.toContain(KEY)
      }
    }
  })
})
