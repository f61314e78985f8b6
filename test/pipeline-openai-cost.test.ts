/**
 * Usage and cost of turns over HTTP: the server's usage as it reported it, a local
 * count (`usage.estimated`) when it reported none, and `costUsd` priced by the model
 * the server says answered.
 */
import { describe, expect, it } from 'vitest'
import { getTokenCounter } from '../src/index.js'
import type { ExecuteResult } from '../src/index.js'
import { collect } from './helpers/async.js'
import { doneOf, setup, useFakeOpenAI } from './helpers/pipeline-openai.js'

const server = useFakeOpenAI()

const USAGE = { prompt_tokens: 1000, completion_tokens: 500 }

/** One turn, streamed or not. */
async function turn(pipe: ReturnType<typeof setup>['pipe'], streamed: boolean, content = 'Hi'): Promise<ExecuteResult> {
  return streamed ? doneOf(await collect(pipe.stream('s', 'user', content))) : pipe.execute('s', 'user', content)
}

describe.each([
  ['execute', false],
  ['stream', true],
])('usage and cost (%s)', (_, streamed) => {
  it('reports the server usage exactly and prices it from the `pricing` option', async () => {
    const { pipe, of } = setup(server, {
      provider: { model: 'acme-chat' },
      pipeline: { pricing: { 'acme-chat': { input: 0.15, output: 0.6 } } },
    })
    server.enqueue({ kind: 'reply', content: 'Hello there.', usage: USAGE })

    const result = await turn(pipe, streamed)

    expect(result.usage).toStrictEqual({ inputTokens: 1000, outputTokens: 500 })
    expect(result.model).toBe('acme-chat')
    expect(result.costUsd).toBe(0.00045) // 1000 × $0.15 + 500 × $0.60 per million
    expect(of('provider:response')).toEqual([
      {
        sessionId: 's',
        executionId: result.executionId,
        provider: 'openai',
        model: 'acme-chat',
        usage: { inputTokens: 1000, outputTokens: 500 },
        costUsd: 0.00045,
        finishReason: 'stop',
        durationMs: expect.any(Number),
      },
    ])
  })

  it('reports prompt-cache hits and bills them at the cached input price', async () => {
    const { pipe } = setup(server, {
      provider: { model: 'acme-chat' },
      pipeline: { pricing: { 'acme-chat': { input: 0.2, output: 0.8, cachedInput: 0.05 } } },
    })
    server.enqueue({
      kind: 'reply',
      content: 'Cached.',
      usage: { ...USAGE, prompt_tokens_details: { cached_tokens: 600 } },
    })

    const result = await turn(pipe, streamed)

    expect(result.usage).toStrictEqual({ inputTokens: 1000, outputTokens: 500, cachedInputTokens: 600 })
    expect(result.costUsd).toBeCloseTo((400 * 0.2 + 600 * 0.05 + 500 * 0.8) / 1e6, 12)
  })

  it('prices a dated snapshot the server reports as its undated model', async () => {
    const { pipe, of } = setup(server)
    server.enqueue({ kind: 'reply', content: 'Hi!', model: 'gpt-4o-mini-2024-07-18', usage: USAGE })

    const result = await turn(pipe, streamed)

    expect(server.requests[0]?.body?.model).toBe('gpt-4o-mini')
    expect(result.model).toBe('gpt-4o-mini-2024-07-18')
    expect(result.costUsd).toBe(0.00045) // gpt-4o-mini's list price from DEFAULT_PRICING
    expect(of('provider:response')[0]).toMatchObject({ model: 'gpt-4o-mini-2024-07-18', costUsd: 0.00045 })
  })

  it('gives an unpriced model costUsd undefined, never a guess, and still reports usage', async () => {
    const { pipe, of } = setup(server, { provider: { model: 'llama3.2' } })
    server.enqueue({ kind: 'reply', content: 'Hi!', usage: USAGE })

    const result = await turn(pipe, streamed)

    expect(result.model).toBe('llama3.2')
    expect(result.usage).toStrictEqual({ inputTokens: 1000, outputTokens: 500 })
    expect(result.costUsd).toBeUndefined()
    expect(of('provider:response')[0]).toMatchObject({ model: 'llama3.2', costUsd: undefined })
  })

  it('counts usage locally when the server reports none, marks it estimated, and prices it', async () => {
    const { pipe, of } = setup(server, { pipeline: { systemPrompt: 'Be brief.' } })
    const reply = 'The capital of France is Paris, on the Seine.'
    server.enqueue({ kind: 'reply', content: reply, usage: false })

    const result = await turn(pipe, streamed, 'What is the capital of France?')

    const counter = await getTokenCounter('gpt-4o-mini')
    const expected = { inputTokens: counter.countRequest(result.messages), outputTokens: counter.countText(reply), estimated: true }
    expect(result.usage).toStrictEqual(expected)
    // Plausible for two short messages and a one-line reply.
    expect(expected.inputTokens).toBeGreaterThan(10)
    expect(expected.inputTokens).toBeLessThan(40)
    expect(expected.outputTokens).toBeGreaterThan(5)
    expect(expected.outputTokens).toBeLessThan(20)
    expect(result.costUsd).toBeCloseTo((expected.inputTokens * 0.15 + expected.outputTokens * 0.6) / 1e6, 15)
    expect(of('provider:response')[0]?.usage).toStrictEqual(expected)
  })
})

describe('pricing', () => {
  it('the `pricing` option overrides a default price, and an exact dated entry beats its undated name', async () => {
    const { pipe } = setup(server, { pipeline: { pricing: { 'gpt-4o-mini': { input: 1, output: 2 } } } })
    server.enqueue(
      { kind: 'reply', content: 'a', model: 'gpt-4o-mini-2024-07-18', usage: USAGE },
      { kind: 'reply', content: 'b', model: 'gpt-4o-2024-05-13', usage: USAGE },
      { kind: 'reply', content: 'c', model: 'gpt-4o-2024-08-06', usage: USAGE },
      { kind: 'reply', content: 'd', model: 'gpt-4o-audio-preview', usage: USAGE },
    )

    const costs = []
    for (let i = 0; i < 4; i++) costs.push((await pipe.execute('s', 'user', 'Hi')).costUsd)

    expect(costs).toEqual([
      (1000 * 1 + 500 * 2) / 1e6, // the override, through the undated name
      (1000 * 5 + 500 * 15) / 1e6, // gpt-4o's first snapshot has its own launch price
      (1000 * 2.5 + 500 * 10) / 1e6, // later snapshots cost what gpt-4o costs
      undefined, // no prefix match
    ])
  })

  it('totals per session from provider:response events', async () => {
    const { pipe } = setup(server)
    server.setFallback({ kind: 'reply', model: 'gpt-4o-mini-2024-07-18', usage: USAGE })
    const totals = new Map<string, number>()
    pipe.on('provider:response', ({ sessionId, costUsd }) => totals.set(sessionId, (totals.get(sessionId) ?? 0) + (costUsd ?? 0)))

    await Promise.all([pipe.execute('a', 'user', '1'), pipe.execute('b', 'user', '1'), pipe.execute('a', 'user', '2')])
    await collect(pipe.stream('a', 'user', '3'))

    expect(totals.get('a')).toBeCloseTo(3 * 0.00045, 15)
    expect(totals.get('b')).toBeCloseTo(0.00045, 15)
  })

  it('reports a tool-call reply’s usage as the server counted it', async () => {
    const { pipe } = setup(server)
    server.enqueue({ kind: 'reply', toolCalls: [{ name: 'weather', arguments: '{"city":"Paris"}' }], usage: { prompt_tokens: 60, completion_tokens: 17 } })
    const result = await pipe.execute('s', 'user', 'Weather?')
    expect(result.usage).toStrictEqual({ inputTokens: 60, outputTokens: 17 })
    expect(result.costUsd).toBe((60 * 0.15 + 17 * 0.6) / 1e6)
  })

  // Regression: the estimate once counted the reply's text only, so a reply that only
  // calls tools counted 0 output tokens.
  it('estimates a tool-call reply’s output tokens from its calls when the server reports no usage', async () => {
    const { pipe } = setup(server)
    const call = { id: 'call_1', name: 'weather', arguments: '{"city":"Paris","unit":"celsius"}' }
    server.enqueue({ kind: 'reply', toolCalls: [call], usage: false })
    const result = await pipe.execute('s', 'user', 'Weather?')
    const counter = await getTokenCounter('gpt-4o-mini')
    expect(result.usage?.estimated).toBe(true)
    expect(result.usage?.outputTokens).toBeGreaterThanOrEqual(counter.countText(call.name) + counter.countText(call.arguments))
  })
})
