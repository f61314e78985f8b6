/**
 * AnthropicProvider against the fake Messages API: the mapping both ways, thinking
 * blocks, prompt caching and usage, retries, failures, abort and the key. What every
 * provider must do is in the conformance suite (conformance-anthropic.test.ts).
 */
import { inspect } from 'node:util'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { AbortError, ProviderError } from '../../src/errors.js'
import { AnthropicProvider } from '../../src/providers/anthropic.js'
import type { AnthropicProviderOptions } from '../../src/providers/anthropic.js'
import { costOf, DEFAULT_PRICING, resolvePrice } from '../../src/pricing.js'
import type { Message, ProviderChunk, ProviderResponse } from '../../src/types.js'
import { documentedJson } from '../helpers/fake-anthropic-server.js'
import { collect, rejection } from '../helpers/async.js'
import { user } from '../helpers/messages.js'
import { ANTHROPIC_KEY, useFakeAnthropic } from '../helpers/use-fake-anthropic.js'

const server = useFakeAnthropic({ apiKey: ANTHROPIC_KEY })
afterEach(() => {
  vi.unstubAllEnvs()
})

const NOW = { 'retry-after-ms': '1' }

function provider(options: Partial<AnthropicProviderOptions> = {}): AnthropicProvider {
  return new AnthropicProvider({ model: 'claude-sonnet-4-6', maxTokens: 1024, apiKey: ANTHROPIC_KEY, baseURL: server.baseURL, ...options })
}

function doneOf(chunks: ProviderChunk[]): ProviderResponse {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.response
}

describe('the request', () => {
  it('maps system, merged roles, tool calls, parallel results, is_error, tools and parameters as the API wants them', async () => {
    server.enqueue({ kind: 'reply', content: 'Done.' })
    const messages: Message[] = [
      { role: 'system', content: 'Be brief.' },
      { role: 'system', content: 'Use metric units.' },
      user('Weather in Paris and Oslo?', { metadata: { local: true } }),
      user('Quickly, please.'),
      {
        role: 'assistant',
        content: 'Looking.',
        toolCalls: [
          { id: 'toolu_1', name: 'weather', arguments: '{"city":"Paris"}' },
          { id: 'toolu_2', name: 'weather', arguments: '' },
        ],
      },
      { role: 'tool', content: '18°C', toolCallId: 'toolu_1' },
      { role: 'tool', content: 'station offline', toolCallId: 'toolu_2', metadata: { isError: true } },
      user('And tomorrow?'),
    ]
    await provider().complete({
      messages,
      model: 'claude-opus-4-6',
      maxTokens: 50,
      temperature: 0.2,
      tools: [{ name: 'weather', description: 'Current weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }, { name: 'noop' }],
    })
    const sent = server.requests[0]
    expect(sent?.path).toBe('/v1/messages')
    expect(sent?.body).toEqual({
      model: 'claude-opus-4-6',
      max_tokens: 50,
      system: [
        { type: 'text', text: 'Be brief.' },
        { type: 'text', text: 'Use metric units.' },
      ],
      messages: [
        {
          role: 'user',
          content: [
            { type: 'text', text: 'Weather in Paris and Oslo?' },
            { type: 'text', text: 'Quickly, please.' },
          ],
        },
        {
          role: 'assistant',
          content: [
            { type: 'text', text: 'Looking.' },
            { type: 'tool_use', id: 'toolu_1', name: 'weather', input: { city: 'Paris' } },
            { type: 'tool_use', id: 'toolu_2', name: 'weather', input: {} },
          ],
        },
        {
          role: 'user',
          content: [
            { type: 'tool_result', tool_use_id: 'toolu_1', content: '18°C' },
            { type: 'tool_result', tool_use_id: 'toolu_2', content: 'station offline', is_error: true },
            { type: 'text', text: 'And tomorrow?' },
          ],
        },
      ],
      temperature: 0.2,
      tools: [
        { name: 'weather', description: 'Current weather', input_schema: { type: 'object', properties: { city: { type: 'string' } } } },
        { name: 'noop', input_schema: { type: 'object', properties: {} } },
      ],
    })
  })

  it('leaves out empty text (the API rejects empty text blocks) and sends the default model and maxTokens', async () => {
    server.enqueue({ kind: 'reply', content: 'ok' })
    await provider().complete({ messages: [user(''), user('Hi'), { role: 'assistant', content: '' }, user('Again')] })
    expect(server.requests[0]?.body).toEqual({
      model: 'claude-sonnet-4-6',
      max_tokens: 1024,
      messages: [{ role: 'user', content: [{ type: 'text', text: 'Hi' }, { type: 'text', text: 'Again' }] }],
    })
  })

  it('rejects a tool message without toolCallId with a TypeError naming it, before any request', async () => {
    const error = await rejection(provider().complete({ messages: [{ role: 'tool', content: 'x' }] }))
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toBe('Invalid `messages[0]`: a `tool` message needs `toolCallId` (the id of the call it answers).')
    expect(server.requests).toHaveLength(0)
  })
})

describe('the reply', () => {
  it.each([
    ['end_turn', 'stop'],
    ['stop_sequence', 'stop'],
    ['max_tokens', 'length'],
    ['model_context_window_exceeded', 'length'],
    ['refusal', 'content_filter'],
    ['pause_turn', 'pause_turn'],
  ])('maps stop_reason %s to finishReason %s', async (stopReason, finishReason) => {
    server.enqueue({ kind: 'reply', content: 'x', stopReason }, { kind: 'reply', content: 'x', stopReason })
    expect((await provider().complete({ messages: [user('Hi')] })).finishReason).toBe(finishReason)
    expect(doneOf(await collect(provider().stream({ messages: [user('Hi')] }))).finishReason).toBe(finishReason)
  })

  it('reports the model the API says answered', async () => {
    server.enqueue({ kind: 'reply', content: 'x', model: 'claude-sonnet-4-6-20260101' })
    expect((await provider().complete({ messages: [user('Hi')] })).model).toBe('claude-sonnet-4-6-20260101')
  })

  it('parses the documented wire format, spaces and all', () => {
    expect(documentedJson({ type: 'ping' })).toBe('{"type": "ping"}')
    expect(documentedJson({ a: [1, { b: null }] })).toBe('{"a": [1, {"b": null}]}')
  })
})

describe('extended thinking', () => {
  const thinking = { type: 'enabled' as const, budgetTokens: 1024 }
  const reply = {
    kind: 'reply' as const,
    thinking: { thinking: 'The user wants the weather. I will call the tool.', signature: 'EuYBCkQYAiJA+sig/with==' },
    redactedThinking: ['EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP'],
    toolCalls: [{ id: 'toolu_w', name: 'weather', input: '{"city":"Paris"}' }],
  }

  it.each(['complete', 'stream'] as const)('keeps thinking and redacted blocks verbatim in reasoning, the text separate (%s)', async (mode) => {
    server.enqueue(reply)
    const p = provider({ thinking, maxTokens: 4096 })
    const chunks = mode === 'stream' ? await collect(p.stream({ messages: [user('Weather in Paris?')] })) : []
    const response = mode === 'stream' ? doneOf(chunks) : await p.complete({ messages: [user('Weather in Paris?')] })
    expect(server.requests[0]?.body?.thinking).toEqual({ type: 'enabled', budget_tokens: 1024 })
    expect(response.message).toEqual({
      role: 'assistant',
      content: '',
      toolCalls: [{ id: 'toolu_w', name: 'weather', arguments: '{"city":"Paris"}' }],
      reasoning: {
        text: 'The user wants the weather. I will call the tool.',
        format: 'anthropic',
        data: [
          { type: 'thinking', thinking: 'The user wants the weather. I will call the tool.', signature: 'EuYBCkQYAiJA+sig/with==' },
          { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP' },
        ],
      },
    })
    // The user sees text only: no delta carries thinking.
    expect(chunks.filter((c) => c.type === 'delta')).toEqual([])
  })

  it('sends the blocks back unchanged before the tool use, which the API requires', async () => {
    server.enqueue(reply, { kind: 'reply', content: 'Sunny.' })
    const p = provider({ thinking, maxTokens: 4096 })
    const call = doneOf(await collect(p.stream({ messages: [user('Weather in Paris?')] })))
    // Through JSON, as a store keeps it.
    const stored = JSON.parse(JSON.stringify(call.message)) as Message
    const answer = await p.complete({ messages: [user('Weather in Paris?'), stored, { role: 'tool', content: 'sunny', toolCallId: 'toolu_w' }] })
    expect(answer.message.content).toBe('Sunny.')
    const assistant = server.requests[1]?.body?.messages?.[1]
    expect(assistant?.content).toEqual([...(call.message.reasoning?.data ?? []), { type: 'tool_use', id: 'toolu_w', name: 'weather', input: { city: 'Paris' } }])
  })

  it('fails as the API does when the blocks are missing (the fake checks it)', async () => {
    const error = await rejection(
      provider({ thinking, maxTokens: 4096, maxRetries: 0 }).complete({
        messages: [
          user('Weather?'),
          { role: 'assistant', content: '', toolCalls: [{ id: 't', name: 'weather', arguments: '{}' }] },
          { role: 'tool', content: 'sunny', toolCallId: 't' },
        ],
      }),
    )
    expect((error as ProviderError).status).toBe(400)
    expect((error as ProviderError).message).toContain('must start with a thinking block')
  })

  it("never sends another provider's reasoning, nor reasoning on an assistant message without tool calls", async () => {
    server.enqueue({ kind: 'reply', content: 'ok' })
    await provider().complete({
      messages: [
        user('Hi'),
        { role: 'assistant', content: 'Hello.', reasoning: { text: 'greet', format: 'anthropic', data: [{ type: 'thinking', thinking: 'greet', signature: 's' }] } },
        user('Weather?'),
        { role: 'assistant', content: '', toolCalls: [{ id: 't', name: 'w', arguments: '{}' }], reasoning: { text: 'hm', format: 'reasoning_content' } },
        { role: 'tool', content: 'x', toolCallId: 't' },
      ],
    })
    const types = server.requests[0]?.body?.messages?.map((m) => (m.content as Array<{ type: string }>).map((b) => b.type))
    expect(types).toEqual([['text'], ['text'], ['text'], ['tool_use'], ['tool_result']])
  })

  it('sends adaptive thinking as it is', async () => {
    server.enqueue({ kind: 'reply', content: 'ok' })
    await provider({ thinking: { type: 'adaptive' } }).complete({ messages: [user('Hi')] })
    expect(server.requests[0]?.body?.thinking).toEqual({ type: 'adaptive' })
  })
})

describe('prompt caching and usage', () => {
  const usage = { input_tokens: 50, output_tokens: 20, cache_read_input_tokens: 8000, cache_creation_input_tokens: 1200 }

  it("cacheControl 'auto' puts breakpoints on the system prompt and the last message", async () => {
    server.enqueue({ kind: 'reply', content: 'ok' })
    await provider({ cacheControl: 'auto' }).complete({
      messages: [{ role: 'system', content: 'Long instructions.' }, user('Hi'), { role: 'assistant', content: 'Hello.' }, user('Again')],
    })
    const body = server.requests[0]?.body
    expect(body?.system).toEqual([{ type: 'text', text: 'Long instructions.', cache_control: { type: 'ephemeral' } }])
    expect(body?.messages?.at(-1)).toEqual({ role: 'user', content: [{ type: 'text', text: 'Again', cache_control: { type: 'ephemeral' } }] })
    expect(JSON.stringify(body?.messages?.slice(0, -1))).not.toContain('cache_control')
  })

  it.each(['complete', 'stream'] as const)('counts all input in inputTokens, cache reads and writes apart, and prices them (%s)', async (mode) => {
    server.enqueue({ kind: 'reply', content: 'Cached answer.', usage })
    const p = provider({ cacheControl: 'auto' })
    const response = mode === 'stream' ? doneOf(await collect(p.stream({ messages: [user('Hi')] }))) : await p.complete({ messages: [user('Hi')] })
    expect(response.usage).toEqual({ inputTokens: 9250, outputTokens: 20, cachedInputTokens: 8000, cacheWriteInputTokens: 1200 })
    // claude-sonnet-4-6: $3 in, $0.30 cache read, $3.75 cache write, $15 out per million.
    expect(costOf(response.usage, resolvePrice(response.model, DEFAULT_PRICING))).toBeCloseTo((50 * 3 + 8000 * 0.3 + 1200 * 3.75 + 20 * 15) / 1e6)
  })
})

describe('retries and failures', () => {
  it('retries a 529 overloaded response, then answers', async () => {
    server.enqueue({ kind: 'error', status: 529, headers: NOW }, { kind: 'reply', content: 'Back.' })
    expect((await provider().complete({ messages: [user('Hi')] })).message.content).toBe('Back.')
    expect(server.requests).toHaveLength(2)
  })

  it.each([429, 500, 529])('gives up on %i after maxRetries with a ProviderError carrying the status and the API error', async (status) => {
    server.enqueue(...Array.from({ length: 3 }, () => ({ kind: 'error' as const, status, headers: NOW })))
    const error = await rejection(provider({ maxRetries: 2 }).complete({ messages: [user('Hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).status).toBe(status)
    expect(server.requests).toHaveLength(3)
    if (status === 529) expect((error as ProviderError).message).toBe('Provider `anthropic` failed (HTTP 529): overloaded_error: Overloaded')
  })

  it('retries a stream refused with 529 before its first byte', async () => {
    server.enqueue({ kind: 'error', status: 529, headers: NOW }, { kind: 'reply', content: 'Streamed.' })
    expect(doneOf(await collect(provider().stream({ messages: [user('Hi')] }))).message.content).toBe('Streamed.')
  })

  it('does not retry a 400', async () => {
    server.enqueue({ kind: 'error', status: 400 })
    expect((await rejection(provider().complete({ messages: [user('Hi')] })) as ProviderError).status).toBe(400)
    expect(server.requests).toHaveLength(1)
  })

  it('reports an error event mid-stream as a ProviderError, after the deltas already yielded', async () => {
    server.enqueue({ kind: 'reply', content: 'One two three', errorAfterEvents: 4 })
    const error = await rejection(collect(provider().stream({ messages: [user('Hi')] })))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toBe('Provider `anthropic` failed: error event in the stream: overloaded_error: Overloaded')
    expect((error as { chunks: unknown[] }).chunks).toEqual([{ type: 'delta', text: 'One ' }])
  })

  it('fails a stream that ends without message_stop, or is cut off', async () => {
    server.enqueue(
      {
        kind: 'handler',
        handle: (_r, res) => {
          res.writeHead(200, { 'content-type': 'text/event-stream' })
          res.end('event: message_start\ndata: {"type": "message_start", "message": {"model": "m", "content": [], "usage": {"input_tokens": 1, "output_tokens": 1}}}\n\n')
        },
      },
      { kind: 'reply', content: 'a b c d', cutAfterEvents: 4 },
    )
    const ended = await rejection(collect(provider({ maxRetries: 0 }).stream({ messages: [user('Hi')] })))
    expect((ended as ProviderError).message).toContain('no message_stop')
    const cut = await rejection(collect(provider({ maxRetries: 0 }).stream({ messages: [user('Hi')] })))
    expect(cut).toBeInstanceOf(ProviderError)
  })

  it('times out a stream that goes silent midway', async () => {
    server.enqueue({ kind: 'reply', content: 'a b c d', stallAfterEvents: 4 })
    const error = await rejection(collect(provider({ timeoutMs: 150, maxRetries: 0 }).stream({ messages: [user('Hi')] })))
    expect((error as ProviderError).message).toBe('Provider `anthropic` failed: timed out: no data for 150 ms while streaming')
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('reports a refused connection as a ProviderError without status', async () => {
    const error = await rejection(new AnthropicProvider({ model: 'm', maxTokens: 1, apiKey: ANTHROPIC_KEY, baseURL: 'http://127.0.0.1:1', maxRetries: 0 }).complete({ messages: [user('Hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).status).toBeUndefined()
    expect((error as ProviderError).message).toContain('connection failed')
  })
})

describe('abort', () => {
  it('rejects at once, without a request, when the signal is already aborted', async () => {
    const error = await rejection(provider().complete({ messages: [user('Hi')], signal: AbortSignal.abort('stop') }))
    expect(error).toBeInstanceOf(AbortError)
    expect((error as AbortError).cause).toBe('stop')
    expect(server.requests).toHaveLength(0)
  })

  it('cancels a pending request and closes its connection', async () => {
    server.enqueue({ kind: 'stall' })
    const controller = new AbortController()
    const pending = provider().complete({ messages: [user('Hi')], signal: controller.signal })
    await server.waitForRequests(1)
    controller.abort('enough')
    expect(await rejection(pending)).toBeInstanceOf(AbortError)
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('closes the request when the consumer breaks out of the stream', async () => {
    server.enqueue({ kind: 'reply', content: 'a b c d e f', chunkDelayMs: 30 })
    for await (const chunk of provider().stream({ messages: [user('Hi')] })) {
      if (chunk.type === 'delta') break
    }
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
  })

  it('aborts at once while the SDK waits to retry (a long retry-after)', async () => {
    server.enqueue({ kind: 'error', status: 529, headers: { 'retry-after': '30' } })
    const controller = new AbortController()
    const pending = provider().complete({ messages: [user('Hi')], signal: controller.signal })
    await server.waitForRequests(1)
    await server.requests[0]?.closed
    controller.abort()
    expect(await rejection(pending)).toBeInstanceOf(AbortError)
  })
})

describe('the API key', () => {
  it('never shows in the provider', () => {
    const p = provider()
    expect(inspect(p, { depth: Infinity, showHidden: true })).not.toContain(ANTHROPIC_KEY)
    expect(JSON.stringify(p)).not.toContain(ANTHROPIC_KEY)
  })

  it('never shows in an error, even when the server echoes it', async () => {
    server.enqueue({ kind: 'error', status: 401, body: { type: 'error', error: { type: 'authentication_error', message: `invalid x-api-key ${ANTHROPIC_KEY}` } } })
    const error = await rejection(provider().complete({ messages: [user('Hi')] }))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toContain('[redacted]')
    const shown = [inspect(error, { depth: Infinity, showHidden: true }), String(error), JSON.stringify(error)]
    for (let c: unknown = error; c instanceof Error; c = c.cause) shown.push(c.message, c.stack ?? '')
    expect(shown.join('\n')).not.toContain(ANTHROPIC_KEY)
  })

  it('is refused by a server that wants another key, without showing either', async () => {
    const error = await rejection(provider({ apiKey: 'sk-ant-wrong-key-0000' }).complete({ messages: [user('Hi')] }))
    expect((error as ProviderError).status).toBe(401)
    expect(inspect(error, { depth: Infinity })).not.toContain('sk-ant-wrong-key-0000')
  })
})

describe('options', () => {
  it('takes the key from ANTHROPIC_API_KEY and the URL from ANTHROPIC_BASE_URL', async () => {
    vi.stubEnv('ANTHROPIC_API_KEY', ANTHROPIC_KEY)
    vi.stubEnv('ANTHROPIC_BASE_URL', server.baseURL)
    server.enqueue({ kind: 'reply', content: 'env' })
    expect((await new AnthropicProvider({ model: 'm', maxTokens: 10 }).complete({ messages: [user('Hi')] })).message.content).toBe('env')
  })

  it('demands a key for api.anthropic.com', () => {
    vi.stubEnv('ANTHROPIC_API_KEY', '')
    vi.stubEnv('ANTHROPIC_BASE_URL', '')
    expect(() => new AnthropicProvider({ model: 'm', maxTokens: 10 })).toThrow(/`apiKey`.*ANTHROPIC_API_KEY/)
  })

  it('never echoes a malformed key', () => {
    expect(() => provider({ apiKey: 42 as never })).toThrow('Expected `apiKey` to be a non-empty string, got a number.')
  })

  it('uses a given client, applying maxRetries and timeoutMs per request', async () => {
    const create = vi.fn(async () => ({ content: [{ type: 'text', text: 'mine' }], model: 'claude-x', stop_reason: 'end_turn', usage: { input_tokens: 1, output_tokens: 1 } }))
    const p = new AnthropicProvider({ model: 'm', maxTokens: 10, client: { messages: { create } }, maxRetries: 5, timeoutMs: 1000 })
    expect((await p.complete({ messages: [user('Hi')] })).message.content).toBe('mine')
    expect(create).toHaveBeenCalledWith(expect.objectContaining({ model: 'm', max_tokens: 10 }), expect.objectContaining({ maxRetries: 5, timeout: 1000, signal: expect.any(AbortSignal) }))
  })
})
