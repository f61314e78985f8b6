import { getEventListeners } from 'node:events'
import { inspect } from 'node:util'
import OpenAI, { APIError } from 'openai'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { OpenAIProvider } from '../../src/providers/openai.js'
import type { OpenAIProviderOptions } from '../../src/providers/openai.js'
import { AbortError, ProviderError } from '../../src/errors.js'
import type { Message, ProviderChunk, ProviderResponse } from '../../src/types.js'
import { startFakeOpenAI } from '../helpers/fake-openai-server.js'
import { collect, rejection } from '../helpers/async.js'
import { user } from '../helpers/messages.js'
import { KEY, useFakeOpenAI } from '../helpers/pipeline-openai.js'

const server = useFakeOpenAI()
afterEach(() => {
  vi.unstubAllEnvs()
})

function provider(options: Partial<OpenAIProviderOptions> = {}): OpenAIProvider {
  return new OpenAIProvider({ model: 'gpt-4o-mini', apiKey: KEY, baseURL: server.baseURL, ...options })
}

function doneOf(chunks: ProviderChunk[]): ProviderResponse {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.response
}

describe('OpenAIProvider.complete', () => {
  it('maps every role, name, tool call and tool result to the request and the reply back', async () => {
    server.enqueue({
      kind: 'reply',
      content: 'It is sunny in Paris.',
      model: 'gpt-4o-mini-2024-07-18',
      usage: { prompt_tokens: 42, completion_tokens: 7 },
    })
    const messages: Message[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: 'Weather in Paris?', name: 'alice', metadata: { local: true } },
      { role: 'assistant', content: '', toolCalls: [{ id: 'call_1', name: 'weather', arguments: '{"city":"Paris"}' }] },
      { role: 'tool', content: '{"sky":"sunny"}', toolCallId: 'call_1' },
    ]
    const response = await provider().complete({ messages, maxTokens: 50, temperature: 0.2 })

    expect(response).toEqual({
      message: { role: 'assistant', content: 'It is sunny in Paris.' },
      usage: { inputTokens: 42, outputTokens: 7 },
      finishReason: 'stop',
      model: 'gpt-4o-mini-2024-07-18',
    })
    expect(server.requests).toHaveLength(1)
    const sent = server.requests[0]!
    expect(sent.method).toBe('POST')
    expect(sent.path).toBe('/v1/chat/completions')
    expect(sent.headers.authorization).toBe(`Bearer ${KEY}`)
    expect(sent.body).toEqual({
      model: 'gpt-4o-mini',
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris?', name: 'alice' },
        {
          role: 'assistant',
          content: null,
          tool_calls: [{ id: 'call_1', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
        },
        { role: 'tool', content: '{"sky":"sunny"}', tool_call_id: 'call_1' },
      ],
      max_tokens: 50,
      temperature: 0.2,
    })
    await sent.closed
    expect(sent.aborted).toBe(false)
  })

  it('uses request.model over the default and reports the model the server answered with', async () => {
    server.enqueue({ kind: 'reply', content: 'ok' }, { kind: 'reply', content: 'ok', model: 'served-model' })
    const p = provider()
    expect((await p.complete({ messages: [user('a')], model: 'gpt-4.1' })).model).toBe('gpt-4.1')
    expect((await p.complete({ messages: [user('b')] })).model).toBe('served-model')
    expect(server.requests.map((r) => r.body?.model)).toEqual(['gpt-4.1', 'gpt-4o-mini'])
  })

  it('receives tool calls', async () => {
    const toolCalls = [
      { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'time', arguments: '{}' },
    ]
    server.enqueue({ kind: 'reply', toolCalls })
    const response = await provider().complete({ messages: [user('Weather and time?')] })
    expect(response.message).toEqual({ role: 'assistant', content: '', toolCalls })
    expect(response.finishReason).toBe('tool_calls')
  })

  it('leaves usage undefined when the server reports none', async () => {
    server.enqueue({ kind: 'reply', content: 'hi', usage: false })
    const response = await provider().complete({ messages: [user('hi')] })
    expect(response.usage).toBeUndefined()
    expect(response.message.content).toBe('hi')
  })

  it('sends max_completion_tokens to api.openai.com and when asked to', async () => {
    // A client whose fetch sends api.openai.com traffic to the fake server.
    const client = new OpenAI({
      apiKey: KEY,
      baseURL: 'https://api.openai.com/v1',
      fetch: (url, init) => fetch(String(url).replace('https://api.openai.com/v1', server.baseURL), init),
    })
    await new OpenAIProvider({ model: 'gpt-5-mini', client }).complete({ messages: [user('a')], maxTokens: 10 })
    await provider({ maxTokensParam: 'max_completion_tokens' }).complete({ messages: [user('b')], maxTokens: 11 })
    await provider().complete({ messages: [user('c')], maxTokens: 12 })
    expect(server.requests.map((r) => [r.body?.max_tokens, r.body?.max_completion_tokens])).toEqual([
      [undefined, 10],
      [undefined, 11],
      [12, undefined],
    ])
  })
})

describe('OpenAIProvider.stream', () => {
  it('yields the deltas in order, then exactly one done with the full response', async () => {
    server.enqueue({ kind: 'reply', content: 'One two three four.', model: 'gpt-4o-mini-2024-07-18' })
    const chunks = await collect(provider().stream({ messages: [user('count')] }))

    const deltas = chunks.filter((c) => c.type === 'delta').map((c) => (c.type === 'delta' ? c.text : ''))
    expect(deltas).toEqual(['One ', 'two ', 'three ', 'four.'])
    expect(chunks.filter((c) => c.type === 'done')).toHaveLength(1)
    const response = doneOf(chunks)
    expect(response.message).toEqual({ role: 'assistant', content: 'One two three four.' })
    expect(response.finishReason).toBe('stop')
    expect(response.model).toBe('gpt-4o-mini-2024-07-18')
    expect(response.usage).toEqual({ inputTokens: expect.any(Number), outputTokens: expect.any(Number) })
    expect(server.requests[0]?.body).toMatchObject({ stream: true, stream_options: { include_usage: true } })
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(false)
  })

  it('assembles streamed tool-call deltas by index', async () => {
    const toolCalls = [
      { id: 'call_a', name: 'weather', arguments: '{"city":"Paris","unit":"celsius"}' },
      { id: 'call_b', name: 'time', arguments: '{"zone":"Europe/Paris"}' },
    ]
    server.enqueue({ kind: 'reply', content: 'Let me check.', toolCalls })
    const chunks = await collect(provider().stream({ messages: [user('Weather and time?')] }))
    const response = doneOf(chunks)
    expect(response.message).toEqual({ role: 'assistant', content: 'Let me check.', toolCalls })
    expect(response.finishReason).toBe('tool_calls')
  })

  it('leaves usage undefined when the stream carries none', async () => {
    server.enqueue({ kind: 'reply', content: 'hi', usage: false })
    const response = doneOf(await collect(provider().stream({ messages: [user('hi')] })))
    expect(response.usage).toBeUndefined()
  })

  it('keeps a slow stream alive as long as each chunk comes within timeoutMs', async () => {
    server.enqueue({ kind: 'reply', content: 'a b c d e f', chunkDelayMs: 60 })
    const chunks = await collect(provider({ timeoutMs: 300, maxRetries: 0 }).stream({ messages: [user('slow')] }))
    expect(doneOf(chunks).message.content).toBe('a b c d e f')
  })

  it('does not count a slow consumer against timeoutMs', async () => {
    server.enqueue({ kind: 'reply', content: 'a b c' })
    const seen: string[] = []
    for await (const chunk of provider({ timeoutMs: 100, maxRetries: 0 }).stream({ messages: [user('hi')] })) {
      if (chunk.type === 'delta') seen.push(chunk.text)
      await new Promise((resolve) => setTimeout(resolve, 150))
    }
    expect(seen.join('')).toBe('a b c')
  })
})

describe('request validation', () => {
  it('rejects a tool message without toolCallId with a TypeError naming it, before any request', async () => {
    const messages: Message[] = [user('hi'), { role: 'tool', content: '42' }]
    await expect(provider().complete({ messages })).rejects.toThrow(/`messages\[1\]`.*toolCallId/)
    await expect(collect(provider().stream({ messages }))).rejects.toThrow(TypeError)
    expect(server.requests).toHaveLength(0)
  })
})

describe('retries', () => {
  it('retries a 429 after its Retry-After, then succeeds', async () => {
    server.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '0' } }, { kind: 'reply', content: 'finally' })
    const response = await provider().complete({ messages: [user('hi')] })
    expect(response.message.content).toBe('finally')
    expect(server.requests).toHaveLength(2)
  })

  it('waits as long as Retry-After says', async () => {
    server.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '1' } }, { kind: 'reply', content: 'ok' })
    const started = Date.now()
    await provider().complete({ messages: [user('hi')] })
    expect(Date.now() - started).toBeGreaterThanOrEqual(950)
    expect(server.requests).toHaveLength(2)
  })

  it('retries a streamed request rejected with 429 before any byte', async () => {
    server.enqueue({ kind: 'error', status: 429, headers: { 'retry-after-ms': '10' } }, { kind: 'reply', content: 'streamed' })
    const response = doneOf(await collect(provider().stream({ messages: [user('hi')] })))
    expect(response.message.content).toBe('streamed')
    expect(server.requests).toHaveLength(2)
  })

  it('retries a 500 maxRetries times, then fails with ProviderError status 500', async () => {
    server.setFallback({ kind: 'error', status: 500, headers: { 'retry-after': '0' } })
    const error = await rejection(provider({ maxRetries: 3, name: 'primary' }).complete({ messages: [user('hi')] }))
    expect(server.requests).toHaveLength(4)
    expect(error).toBeInstanceOf(ProviderError)
    const e = error as ProviderError
    expect(e.status).toBe(500)
    expect(e.provider).toBe('primary')
    expect(e.cause).toBeInstanceOf(APIError)
    expect(e.message).toBe('Provider `primary` failed (HTTP 500): 500 Fake error 500')
  })

  it('does not retry a 400', async () => {
    server.enqueue({ kind: 'error', status: 400, body: { error: { message: 'bad model', type: 'invalid_request_error' } } })
    const error = await rejection(provider().complete({ messages: [user('hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).status).toBe(400)
    expect((error as ProviderError).message).toContain('bad model')
    expect(server.requests).toHaveLength(1)
  })

  it('maxRetries: 0 gives up at once', async () => {
    server.setFallback({ kind: 'error', status: 503, headers: { 'retry-after': '0' } })
    const error = await rejection(provider({ maxRetries: 0 }).stream({ messages: [user('hi')] })[Symbol.asyncIterator]().next())
    expect((error as ProviderError).status).toBe(503)
    expect(server.requests).toHaveLength(1)
  })
})

describe('failures', () => {
  it('times out a stalled server with a ProviderError, in bounded time', async () => {
    server.setFallback({ kind: 'stall' })
    const started = Date.now()
    const error = await rejection(provider({ timeoutMs: 150, maxRetries: 0 }).complete({ messages: [user('hi')] }))
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/timed out/)
    expect((error as ProviderError).status).toBeUndefined()
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('retries a timed-out attempt like any connection failure', async () => {
    server.enqueue({ kind: 'stall' }, { kind: 'reply', content: 'second try' })
    const response = await provider({ timeoutMs: 150, maxRetries: 1 }).complete({ messages: [user('hi')] })
    expect(response.message.content).toBe('second try')
    expect(server.requests).toHaveLength(2)
  })

  it('times out a stream that stalls midway', async () => {
    server.enqueue({ kind: 'reply', content: 'one two three four', stallAfterChunks: 2 })
    const seen: string[] = []
    const started = Date.now()
    const error = await rejection(
      (async () => {
        for await (const chunk of provider({ timeoutMs: 200, maxRetries: 0 }).stream({ messages: [user('hi')] })) {
          if (chunk.type === 'delta') seen.push(chunk.text)
        }
      })(),
    )
    expect(Date.now() - started).toBeLessThan(2_000)
    expect(seen).toEqual(['one '])
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/timed out: no data for 200 ms/)
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it.each([
    ['truncated JSON', { kind: 'malformed' as const }],
    ['JSON that is no completion', { kind: 'malformed' as const, body: '{"hello":"world"}' }],
    ['a completion without choices', { kind: 'malformed' as const, body: '{"id":"x","choices":[]}' }],
    ['plain text', { kind: 'malformed' as const, body: 'Internal proxy page', contentType: 'text/html' }],
  ])('rejects a malformed body (%s) with ProviderError', async (_, behaviour) => {
    server.enqueue(behaviour)
    const error = await rejection(provider().complete({ messages: [user('hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/malformed response/)
  })

  it('rejects a malformed stream with ProviderError', async () => {
    server.enqueue({ kind: 'malformed', body: '{"choices":[{"delta":{"content":"hi"' })
    const quiet = vi.spyOn(console, 'error').mockImplementation(() => {}) // the SDK logs the bad line
    const error = await rejection(collect(provider().stream({ messages: [user('hi')] })).finally(() => quiet.mockRestore()))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/malformed response/)
  })

  it('reports an error event inside a stream as ProviderError', async () => {
    server.enqueue({
      kind: 'handler',
      handle(_, res) {
        res.writeHead(200, { 'content-type': 'text/event-stream' })
        res.end('data: {"error":{"message":"model overloaded","type":"server_error"}}\n\n')
      },
    })
    const error = await rejection(collect(provider().stream({ messages: [user('hi')] })))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toContain('model overloaded')
  })

  it('fails a stream cut off midway, after its first deltas, with ProviderError', async () => {
    server.enqueue({ kind: 'reply', content: 'one two three four five', cutAfterChunks: 3 })
    const seen: string[] = []
    const error = await rejection(
      (async () => {
        for await (const chunk of provider().stream({ messages: [user('hi')] })) {
          if (chunk.type === 'delta') seen.push(chunk.text)
        }
      })(),
    )
    expect(seen).toEqual(['one ', 'two '])
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/stream interrupted/)
  })

  it('fails a stream that ends cleanly but without a finish reason', async () => {
    server.enqueue({ kind: 'reply', content: 'one two three', endAfterChunks: 2 })
    const error = await rejection(collect(provider().stream({ messages: [user('hi')] })))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toMatch(/ended before the response was complete/)
  })

  it('fails a non-streamed body cut off midway with ProviderError', async () => {
    server.enqueue({ kind: 'reply', content: 'a reply long enough to be cut in half', cutAfterChunks: 0 })
    const error = await rejection(provider({ maxRetries: 0 }).complete({ messages: [user('hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
  })

  it('reports a refused connection as a ProviderError without status', async () => {
    const closed = await startFakeOpenAI()
    const baseURL = closed.baseURL
    await closed.close()
    const error = await rejection(provider({ baseURL, maxRetries: 0 }).complete({ messages: [user('hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).status).toBeUndefined()
    expect((error as ProviderError).message).toMatch(/connection failed/)
  })
})

describe('abort', () => {
  it('rejects with AbortError without sending anything when the signal is already aborted', async () => {
    const reason = new Error('user left')
    const signal = AbortSignal.abort(reason)
    const error = await rejection(provider().complete({ messages: [user('hi')], signal }))
    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toBe(reason)
    const streamError = await rejection(collect(provider().stream({ messages: [user('hi')], signal })))
    expect(streamError).toBeInstanceOf(AbortError)
    expect(server.requests).toHaveLength(0)
  })

  it('aborts a pending request and closes its connection', async () => {
    server.setFallback({ kind: 'stall' })
    const controller = new AbortController()
    const pending = provider().complete({ messages: [user('hi')], signal: controller.signal })
    await server.waitForRequests(1)
    controller.abort()
    const error = await rejection(pending)
    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toBe(controller.signal.reason)
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('aborts a stream midway and closes its connection', async () => {
    server.enqueue({ kind: 'reply', content: 'a b c d e f g h i j', chunkDelayMs: 30 })
    const controller = new AbortController()
    const seen: string[] = []
    const error = await rejection(
      (async () => {
        for await (const chunk of provider().stream({ messages: [user('hi')], signal: controller.signal })) {
          if (chunk.type === 'delta') {
            seen.push(chunk.text)
            if (seen.length === 2) controller.abort()
          }
        }
      })(),
    )
    expect(error).toBeInstanceOf(AbortError)
    expect(seen).toEqual(['a ', 'b '])
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('aborts the HTTP request when the consumer breaks out of the loop', async () => {
    server.enqueue({ kind: 'reply', content: 'a b c d e f g h i j', chunkDelayMs: 30 })
    const seen: string[] = []
    for await (const chunk of provider().stream({ messages: [user('hi')] })) {
      if (chunk.type === 'delta') seen.push(chunk.text)
      if (seen.length === 2) break
    }
    expect(seen).toEqual(['a ', 'b '])
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('aborts at once while the SDK waits to retry (a long Retry-After)', async () => {
    server.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '30' } })
    const controller = new AbortController()
    const pending = provider().complete({ messages: [user('hi')], signal: controller.signal })
    await server.waitForRequests(1)
    await new Promise((resolve) => setTimeout(resolve, 50))
    const started = Date.now()
    controller.abort()
    expect(await rejection(pending)).toBeInstanceOf(AbortError)
    expect(Date.now() - started).toBeLessThan(500)
    expect(server.requests).toHaveLength(1)
  })

  it('leaves no listener on a long-lived signal', async () => {
    const controller = new AbortController()
    const p = provider()
    for (let i = 0; i < 15; i++) {
      await p.complete({ messages: [user(`${i}`)], signal: controller.signal })
      await collect(p.stream({ messages: [user(`${i}`)], signal: controller.signal }))
    }
    expect(getEventListeners(controller.signal, 'abort')).toHaveLength(0)
  })
})

describe('the API key', () => {
  const leaks = (value: unknown) => {
    const texts = [inspect(value, { depth: 20, showHidden: true }), inspect(value, { depth: 20 })]
    if (value instanceof Error) texts.push(value.message, value.stack ?? '', JSON.stringify(value))
    return texts.some((t) => t.includes(KEY))
  }

  it('never shows in the provider', () => {
    const p = provider()
    expect(JSON.stringify(p)).not.toContain(KEY)
    expect(inspect(p, { depth: 20, showHidden: true })).not.toContain(KEY)
    expect(Object.values(p).join(' ')).not.toContain(KEY)
    expect(JSON.parse(JSON.stringify(p))).toEqual({ name: 'openai', model: 'gpt-4o-mini' })
  })

  it('never shows in an error, even when the server echoes it', async () => {
    const echo = `Incorrect API key provided: ${KEY}.`
    server.enqueue(
      { kind: 'error', status: 401, body: { error: { message: echo, type: 'invalid_request_error', code: 'invalid_api_key' } } },
      { kind: 'error', status: 500, headers: { 'x-echo-key': KEY, 'retry-after': '0' }, body: { error: { message: echo } } },
      { kind: 'malformed', body: `{"oops":"${KEY}"` },
      { kind: 'malformed', body: `not json ${KEY}`, contentType: 'text/plain' },
      { kind: 'reply', content: 'one two three', cutAfterChunks: 2 },
      { kind: 'stall' },
      { kind: 'handler', handle: (_, res) => res.writeHead(200, { 'content-type': 'text/event-stream' }).end(`data: {"error":{"message":"${KEY}"}}\n\n`) },
    )
    const p = provider({ maxRetries: 0, timeoutMs: 150 })
    const errors = [
      await rejection(p.complete({ messages: [user('hi')] })),
      await rejection(p.complete({ messages: [user('hi')] })),
      await rejection(p.complete({ messages: [user('hi')] })),
      await rejection(p.complete({ messages: [user('hi')] })),
      await rejection(collect(p.stream({ messages: [user('hi')] }))),
      await rejection(p.complete({ messages: [user('hi')] })),
      await rejection(collect(p.stream({ messages: [user('hi')] }))),
      await rejection(provider({ baseURL: 'http://127.0.0.1:1/v1', maxRetries: 0 }).complete({ messages: [user('hi')] })),
      await rejection(p.complete({ messages: [user('hi')], signal: AbortSignal.abort() })),
    ]
    expect(errors.map((e) => (e as Error).name)).toEqual([
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'ProviderError',
      'AbortError',
    ])
    expect((errors[0] as ProviderError).status).toBe(401)
    expect((errors[0] as ProviderError).message).toContain('Incorrect API key provided: [redacted]')
    for (const error of errors) expect(leaks(error)).toBe(false)
    // Every request did carry the key.
    expect(server.requests.every((r) => r.headers.authorization === `Bearer ${KEY}`)).toBe(true)
  })

  it('never shows in what the SDK logs about a malformed stream', async () => {
    const logged: unknown[] = []
    const spy = vi.spyOn(console, 'error').mockImplementation((...args: unknown[]) => void logged.push(...args))
    try {
      server.enqueue({ kind: 'malformed', body: `{"token":"${KEY}"` })
      expect(await rejection(collect(provider().stream({ messages: [user('hi')] })))).toBeInstanceOf(ProviderError)
    } finally {
      spy.mockRestore()
    }
    expect(logged.length).toBeGreaterThan(0)
    expect(inspect(logged, { depth: 20 })).toContain('[redacted]')
    expect(inspect(logged, { depth: 20 })).not.toContain(KEY)
  })

  it('is rejected by a server that wants another key, without showing either', async () => {
    const guarded = await startFakeOpenAI({ apiKey: 'sk-the-right-key-9999' })
    try {
      const error = await rejection(provider({ baseURL: guarded.baseURL }).complete({ messages: [user('hi')] }))
      expect((error as ProviderError).status).toBe(401)
      expect((error as ProviderError).message).toBe('Provider `openai` failed (HTTP 401): 401 Incorrect API key provided: sk-*****1234.')
      expect(inspect(error, { depth: 20 })).not.toContain(KEY)
      await new OpenAIProvider({ model: 'm', apiKey: 'sk-the-right-key-9999', baseURL: guarded.baseURL }).complete({ messages: [user('hi')] })
      expect(guarded.requests).toHaveLength(2)
    } finally {
      await guarded.close()
    }
  })
})

describe('options', () => {
  it('takes the key from OPENAI_API_KEY', async () => {
    vi.stubEnv('OPENAI_API_KEY', 'sk-from-env')
    await new OpenAIProvider({ model: 'm', baseURL: server.baseURL }).complete({ messages: [user('hi')] })
    expect(server.requests[0]?.headers.authorization).toBe('Bearer sk-from-env')
  })

  it('sends a placeholder key to a baseURL when there is none', async () => {
    vi.stubEnv('OPENAI_API_KEY', '')
    await new OpenAIProvider({ model: 'm', baseURL: server.baseURL }).complete({ messages: [user('hi')] })
    expect(server.requests[0]?.headers.authorization).toBe('Bearer promptline-no-key')
  })

  it('takes the base URL from OPENAI_BASE_URL', async () => {
    vi.stubEnv('OPENAI_API_KEY', '')
    vi.stubEnv('OPENAI_BASE_URL', server.baseURL)
    const response = await new OpenAIProvider({ model: 'm' }).complete({ messages: [user('hi')] })
    expect(response.message.content).toBe('Echo: hi')
  })

  it('demands a key for api.openai.com', () => {
    vi.stubEnv('OPENAI_API_KEY', '')
    vi.stubEnv('OPENAI_BASE_URL', '')
    expect(() => new OpenAIProvider({ model: 'gpt-4o' })).toThrow(/`apiKey`.*OPENAI_API_KEY/)
  })

  it('uses a given client, applying maxRetries and timeoutMs per request', async () => {
    const client = new OpenAI({ apiKey: KEY, baseURL: server.baseURL, defaultHeaders: { 'x-team': 'search' }, maxRetries: 5 })
    server.setFallback({ kind: 'error', status: 500, headers: { 'retry-after': '0' } })
    const p = new OpenAIProvider({ model: 'm', client, maxRetries: 1 })
    const error = await rejection(p.complete({ messages: [user('hi')] }))
    expect((error as ProviderError).status).toBe(500)
    expect(server.requests).toHaveLength(2)
    expect(server.requests[0]?.headers['x-team']).toBe('search')
    expect(inspect(p, { depth: 20 })).not.toContain(KEY)
    expect(leaksKey(error)).toBe(false)
  })

  const cases: Array<[string, Record<string, unknown>, RegExp]> = [
    ['model missing', {}, /`model`.*undefined/],
    ['model empty', { model: '' }, /`model`.*""/],
    ['model not a string', { model: 42 }, /`model`.*42/],
    ['name empty', { model: 'm', name: '' }, /`name`.*""/],
    ['baseURL not a URL', { model: 'm', baseURL: 'localhost:11434' }, /`baseURL`.*"localhost:11434"/],
    ['baseURL not http', { model: 'm', baseURL: 'ftp://example.com/v1' }, /`baseURL`.*"ftp:\/\/example.com\/v1"/],
    ['baseURL not a string', { model: 'm', baseURL: 8080 }, /`baseURL`.*8080/],
    ['maxRetries -1', { model: 'm', maxRetries: -1 }, /`maxRetries`.*-1/],
    ['maxRetries 1.5', { model: 'm', maxRetries: 1.5 }, /`maxRetries`.*1\.5/],
    ['maxRetries a string', { model: 'm', maxRetries: '2' }, /`maxRetries`.*"2"/],
    ['timeoutMs 0', { model: 'm', timeoutMs: 0 }, /`timeoutMs`.*`0`/],
    ['timeoutMs -5', { model: 'm', timeoutMs: -5 }, /`timeoutMs`.*-5/],
    ['timeoutMs Infinity', { model: 'm', timeoutMs: Infinity }, /`timeoutMs`.*Infinity/],
    ['timeoutMs too large', { model: 'm', timeoutMs: 2 ** 31 }, /`timeoutMs`.*2147483648/],
    ['client not an object', { model: 'm', client: 'openai' }, /`client`.*"openai"/],
    ['client without chat.completions', { model: 'm', client: {} }, /`client`.*Object/],
    ['client and apiKey', { model: 'm', client: new OpenAI({ apiKey: 'x' }), apiKey: 'y' }, /`client` or `apiKey`\/`baseURL`/],
    ['maxTokensParam unknown', { model: 'm', maxTokensParam: 'max_new_tokens' }, /`maxTokensParam`.*"max_new_tokens"/],
    ['apiKey empty', { model: 'm', apiKey: '' }, /`apiKey`.*""/],
    ['apiKey a number', { model: 'm', apiKey: 1234 }, /`apiKey`.*a number/],
  ]
  it.each(cases)('rejects %s with a TypeError naming it', (_, options, message) => {
    expect(() => new OpenAIProvider(options as unknown as OpenAIProviderOptions)).toThrow(TypeError)
    expect(() => new OpenAIProvider(options as unknown as OpenAIProviderOptions)).toThrow(message)
  })

  it('rejects a missing options object', () => {
    expect(() => new (OpenAIProvider as unknown as new () => OpenAIProvider)()).toThrow(/`options`.*undefined/)
    // A key passed instead of the options object is not echoed.
    expect(() => new OpenAIProvider(KEY as unknown as OpenAIProviderOptions)).toThrow('Expected `options` to be an object, got a string.')
  })
})

function leaksKey(value: unknown): boolean {
  return inspect(value, { depth: 20, showHidden: true }).includes(KEY) || String((value as Error).stack).includes(KEY)
}
