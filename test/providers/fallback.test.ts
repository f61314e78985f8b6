/**
 * FallbackProvider: unit behaviour on scripted providers, then over HTTP with Claude
 * (the fake Messages API answering 529) falling back to an OpenAI-compatible server,
 * through the pipeline, which reports the provider that answered.
 */
import { describe, expect, it, vi } from 'vitest'
import { AbortError, FallbackProvider, isRetryableProviderError, MemoryStore, Pipeline, ProviderError } from '../../src/index.js'
import { MockProvider } from '../../src/testing.js'
import { OpenAIProvider } from '../../src/openai.js'
import type { EventPayload, Provider, ProviderChunk, ProviderRequest, ProviderResponse } from '../../src/index.js'
import { AnthropicProvider } from '../../src/providers/anthropic.js'
import { collect, rejection } from '../helpers/async.js'
import { user } from '../helpers/messages.js'
import { KEY, useFakeOpenAI } from '../helpers/pipeline-openai.js'
import { ANTHROPIC_KEY, useFakeAnthropic } from '../helpers/use-fake-anthropic.js'

/** A provider that fails with `error` (or answers `text`), recording its calls. */
function scripted(name: string, outcome: { error: unknown } | { text: string; failAfterDelta?: unknown }): Provider & { calls: number } {
  const provider = {
    name,
    calls: 0,
    async complete(): Promise<ProviderResponse> {
      provider.calls++
      if ('error' in outcome) throw outcome.error
      return { message: { role: 'assistant', content: outcome.text }, model: `${name}-model` }
    },
    async *stream(): AsyncGenerator<ProviderChunk> {
      provider.calls++
      if ('error' in outcome) throw outcome.error
      yield { type: 'delta', text: outcome.text }
      if (outcome.failAfterDelta !== undefined) throw outcome.failAfterDelta
      yield { type: 'done', response: { message: { role: 'assistant', content: outcome.text }, model: `${name}-model` } }
    },
  }
  return provider
}

const overloaded = () => new ProviderError('a', 'overloaded_error: Overloaded', { status: 529 })
const request = (extra: Partial<ProviderRequest> = {}): ProviderRequest => ({ messages: [user('Hi')], ...extra })

describe('isRetryableProviderError', () => {
  it.each([
    [new ProviderError('p', 'x', { status: 429 }), true],
    [new ProviderError('p', 'x', { status: 529 }), true],
    [new ProviderError('p', 'x', { status: 500 }), true],
    [new ProviderError('p', 'x', { status: 408 }), true],
    [new ProviderError('p', 'timed out'), true],
    [new ProviderError('p', 'x', { status: 400 }), false],
    [new ProviderError('p', 'x', { status: 401 }), false],
    [new AbortError('aborted'), false],
    [new TypeError('bad'), false],
    [new Error('plain'), false],
  ])('%s → %s', (error, expected) => {
    expect(isRetryableProviderError(error)).toBe(expected)
  })
})

describe('FallbackProvider.complete', () => {
  it('answers with the first provider that works, and says which one', async () => {
    const a = scripted('a', { error: overloaded() })
    const b = scripted('b', { text: 'from b' })
    const c = scripted('c', { text: 'from c' })
    const onFallback = vi.fn()
    const response = await new FallbackProvider([a, b, c], { onFallback }).complete(request())
    expect(response).toEqual({ message: { role: 'assistant', content: 'from b' }, model: 'b-model', provider: 'b' })
    expect([a.calls, b.calls, c.calls]).toEqual([1, 1, 0])
    expect(onFallback).toHaveBeenCalledExactlyOnceWith({ from: 'a', to: 'b', error: expect.any(ProviderError) })
  })

  it('does not fall back on an error shouldFallback refuses (a 400 by default), and rejects with it as it is', async () => {
    const bad = new ProviderError('a', 'invalid_request_error', { status: 400 })
    const b = scripted('b', { text: 'never' })
    expect(await rejection(new FallbackProvider([scripted('a', { error: bad }), b]).complete(request()))).toBe(bad)
    expect(b.calls).toBe(0)
  })

  it('asks shouldFallback with the error and the provider that failed', async () => {
    const bad = new ProviderError('a', 'bad', { status: 400 })
    const a = scripted('a', { error: bad })
    const shouldFallback = vi.fn(() => true)
    const response = await new FallbackProvider([a, scripted('b', { text: 'ok' })], { shouldFallback }).complete(request())
    expect(response.provider).toBe('b')
    expect(shouldFallback).toHaveBeenCalledExactlyOnceWith(bad, a)
  })

  it('lists every failure when all providers failed, with the last status and an AggregateError cause', async () => {
    const last = new ProviderError('b', 'rate limited', { status: 429 })
    const error = await rejection(new FallbackProvider([scripted('a', { error: overloaded() }), scripted('b', { error: last })]).complete(request()))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as ProviderError).message).toBe(
      'Provider `fallback` failed (HTTP 429): every provider failed: `a`: Provider `a` failed (HTTP 529): overloaded_error: Overloaded; `b`: Provider `b` failed (HTTP 429): rate limited',
    )
    expect((error as ProviderError).status).toBe(429)
    expect(((error as ProviderError).cause as AggregateError).errors).toHaveLength(2)
  })

  it('never falls back on an abort', async () => {
    const controller = new AbortController()
    const abort = new AbortError('aborted')
    const a: Provider = {
      name: 'a',
      async complete() {
        controller.abort()
        throw abort
      },
    }
    const b = scripted('b', { text: 'never' })
    expect(await rejection(new FallbackProvider([a, b]).complete(request({ signal: controller.signal })))).toBe(abort)
    // Even an error that would fall back stands once the signal is aborted.
    const c = scripted('c', { error: overloaded() })
    expect(await rejection(new FallbackProvider([c, b]).complete(request({ signal: controller.signal })))).toBeInstanceOf(ProviderError)
    expect(b.calls).toBe(0)
  })

  it('keeps the name an inner router reported', async () => {
    const inner = new FallbackProvider([scripted('x', { error: overloaded() }), scripted('y', { text: 'y' })], { name: 'inner' })
    expect((await new FallbackProvider([inner]).complete(request())).provider).toBe('y')
  })
})

describe('FallbackProvider.stream', () => {
  it('falls back while nothing was yielded', async () => {
    const chunks = await collect(new FallbackProvider([scripted('a', { error: overloaded() }), scripted('b', { text: 'from b' })]).stream(request()))
    expect(chunks).toEqual([
      { type: 'delta', text: 'from b' },
      { type: 'done', response: { message: { role: 'assistant', content: 'from b' }, model: 'b-model', provider: 'b' } },
    ])
  })

  it('never after the first delta reached the consumer: the error stands', async () => {
    const cut = new ProviderError('a', 'stream interrupted')
    const b = scripted('b', { text: 'never' })
    const error = await rejection(collect(new FallbackProvider([scripted('a', { text: 'Hel', failAfterDelta: cut }), b]).stream(request())))
    expect(error).toBe(cut)
    expect((error as { chunks: unknown[] }).chunks).toEqual([{ type: 'delta', text: 'Hel' }])
    expect(b.calls).toBe(0)
  })

  it('streams a provider without stream() as one delta', async () => {
    const plain: Provider = { name: 'plain', complete: async () => ({ message: { role: 'assistant', content: 'whole' } }) }
    const chunks = await collect(new FallbackProvider([scripted('a', { error: overloaded() }), plain]).stream(request()))
    expect(chunks).toEqual([
      { type: 'delta', text: 'whole' },
      { type: 'done', response: { message: { role: 'assistant', content: 'whole' }, provider: 'plain' } },
    ])
  })
})

describe('bad options', () => {
  const ok = new MockProvider()
  it.each([
    [() => new FallbackProvider([]), /`providers` to be a non-empty array/],
    [() => new FallbackProvider('x' as never), /`providers` to be a non-empty array/],
    [() => new FallbackProvider([ok, {} as Provider]), /`providers\[1\]` to be a Provider/],
    [() => new FallbackProvider([ok], { shouldFallBack: () => true } as never), /Unknown option `options.shouldFallBack`; did you mean `shouldFallback`\?/],
    [() => new FallbackProvider([ok], { shouldFallback: true } as never), /`shouldFallback` to be a function/],
    [() => new FallbackProvider([ok], { onFallback: 1 } as never), /`onFallback` to be a function/],
    [() => new FallbackProvider([ok], { name: '' }), /`name` to be a non-empty string/],
    [() => new FallbackProvider([ok], null as never), /`options` to be an object/],
  ])('%#: a TypeError naming the option', (build, message) => {
    expect(build).toThrow(TypeError)
    expect(build).toThrow(message)
  })
})

describe('Claude overloaded, OpenAI-compatible answers, through the pipeline', () => {
  const anthropic = useFakeAnthropic()
  const openai = useFakeOpenAI()

  function pipeline() {
    const provider = new FallbackProvider([
      new AnthropicProvider({ model: 'claude-sonnet-4-6', maxTokens: 256, apiKey: ANTHROPIC_KEY, baseURL: anthropic.baseURL, maxRetries: 1 }),
      new OpenAIProvider({ model: 'gpt-4o-mini', apiKey: KEY, baseURL: openai.baseURL }),
    ])
    const pipe = new Pipeline({ provider, store: new MemoryStore() })
    const responses: Array<EventPayload<'provider:response'>> = []
    pipe.on('provider:response', (payload) => responses.push(payload))
    return { pipe, responses }
  }

  it.each(['execute', 'stream'] as const)('%s: the result, usage, cost and event name the provider that answered', async (mode) => {
    // 529 twice: the SDK's own retry (maxRetries: 1) is used up first.
    const now = { 'retry-after-ms': '1' }
    anthropic.enqueue({ kind: 'error', status: 529, headers: now }, { kind: 'error', status: 529, headers: now })
    openai.enqueue({ kind: 'reply', content: 'Hello from OpenAI.', model: 'gpt-4o-mini-2024-07-18', usage: { prompt_tokens: 1000, completion_tokens: 100 } })
    const { pipe, responses } = pipeline()
    const result =
      mode === 'execute'
        ? await pipe.execute('s', 'user', 'Hi')
        : await collect(pipe.stream('s', 'user', 'Hi')).then((chunks) => {
            const last = chunks.at(-1)
            if (last?.type !== 'done') throw new Error('no done')
            return last.result
          })
    expect(result.response.content).toBe('Hello from OpenAI.')
    expect(result.provider).toBe('openai')
    expect(result.model).toBe('gpt-4o-mini-2024-07-18')
    expect(result.usage).toEqual({ inputTokens: 1000, outputTokens: 100 })
    expect(result.costUsd).toBeCloseTo((1000 * 0.15 + 100 * 0.6) / 1e6)
    expect(responses.map((r) => [r.provider, r.model])).toEqual([['openai', 'gpt-4o-mini-2024-07-18']])
    expect(anthropic.requests).toHaveLength(2)
    expect(openai.requests).toHaveLength(1)
    await pipe.shutdown()
  })

  it('without a fallback, the pipeline reports the provider itself', async () => {
    anthropic.enqueue({ kind: 'reply', content: 'Hi from Claude.' })
    const { pipe, responses } = pipeline()
    const result = await pipe.execute('s', 'user', 'Hi')
    expect([result.provider, responses[0]?.provider]).toEqual(['anthropic', 'anthropic'])
    expect(openai.requests).toHaveLength(0)
    await pipe.shutdown()
  })
})
