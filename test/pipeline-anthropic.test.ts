/**
 * AnthropicProvider through the default stack (state-load → context-window →
 * token-truncation → provider-call → state-save) with a MemoryStore and a RedisStore
 * and a token limit,
 * over HTTP to the fake Messages API: execute and stream, a tool round trip with
 * thinking, usage and cost in the result and the event, nothing stored on abort.
 */
import { describe, expect, it } from 'vitest'
import { AbortError, MemoryStore, Pipeline } from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import type { EventPayload, ExecuteResult, PipelineOptions, StateStore, StreamChunk } from '../src/index.js'
import { AnthropicProvider } from '../src/providers/anthropic.js'
import type { AnthropicProviderOptions } from '../src/providers/anthropic.js'
import { collect, rejection } from './helpers/async.js'
import { ANTHROPIC_KEY, useFakeAnthropic } from './helpers/use-fake-anthropic.js'
import { describeRedis, uniquePrefix, useStandaloneRedisClient } from './helpers/redis-server.js'

const server = useFakeAnthropic({ apiKey: ANTHROPIC_KEY })

interface SetupOptions {
  pipeline?: Omit<PipelineOptions, 'provider' | 'store'>
  provider?: Partial<AnthropicProviderOptions>
  store?: StateStore
}

function setup(options: SetupOptions = {}) {
  const store = options.store ?? new MemoryStore()
  const provider = new AnthropicProvider({ model: 'claude-haiku-4-5', maxTokens: 512, apiKey: ANTHROPIC_KEY, baseURL: server.baseURL, ...options.provider })
  const pipe = new Pipeline({
    provider,
    store,
    systemPrompt: 'You are terse.',
    tokenLimit: { maxTokens: 120, model: 'gpt-4o' },
    ...options.pipeline,
  })
  const responses: Array<EventPayload<'provider:response'>> = []
  pipe.on('provider:response', (payload) => responses.push(payload))
  return { pipe, store, responses }
}

function resultOf(chunks: StreamChunk[]): ExecuteResult {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.result
}

/** The turns of the default stack on whatever store `makeStore()` returns. */
function pipelineScenarios(makeStore: () => StateStore): void {
  it.each(['execute', 'stream'] as const)('%s: stores the turns, trims to the token limit, reports usage, cost and provider', async (mode) => {
    const { pipe, store, responses } = setup({ store: makeStore() })
    const usage = { input_tokens: 100, output_tokens: 10, cache_read_input_tokens: 0, cache_creation_input_tokens: 0 }
    server.enqueue(
      { kind: 'reply', content: 'word '.repeat(200).trim(), usage },
      { kind: 'reply', content: 'Short.', usage },
    )
    const turn = async (text: string): Promise<ExecuteResult> =>
      mode === 'execute' ? pipe.execute('s', 'user', text) : resultOf(await collect(pipe.stream('s', 'user', text)))

    const first = await turn('Tell me a long story.')
    expect(first.saved).toBe(true)
    expect(first.provider).toBe('anthropic')
    expect(first.model).toBe('claude-haiku-4-5')
    expect(first.usage).toEqual({ inputTokens: 100, outputTokens: 10 })
    // claude-haiku-4-5: $1 in, $5 out per million.
    expect(first.costUsd).toBeCloseTo((100 * 1 + 10 * 5) / 1e6)

    const second = await turn('Shorter, please.')
    expect(second.response.content).toBe('Short.')
    // The long reply no longer fits in 120 tokens: the view drops it (and the question before it), the store keeps all.
    expect(second.trimmed['token-truncation']?.dropped).toBe(2)
    expect(server.requests[1]?.body?.system).toEqual([{ type: 'text', text: 'You are terse.' }])
    expect(server.requests[1]?.body?.messages).toEqual([{ role: 'user', content: [{ type: 'text', text: 'Shorter, please.' }] }])
    expect((await store.load('s')).map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
    expect(responses.map((r) => r.provider)).toEqual(['anthropic', 'anthropic'])
    await pipe.shutdown()
  })

  it('a tool round trip with thinking: the blocks are stored and go back with the tool result', async () => {
    const { pipe, store } = setup({
      store: makeStore(),
      provider: { maxTokens: 4096, thinking: { type: 'enabled', budgetTokens: 1024 } },
      pipeline: { tokenLimit: { maxTokens: 4000 }, tools: [{ name: 'weather', parameters: { type: 'object' } }] },
    })
    server.enqueue(
      { kind: 'reply', thinking: { thinking: 'Call the tool.', signature: 'sig==' }, toolCalls: [{ id: 'toolu_1', name: 'weather', input: '{"city":"Rome"}' }] },
      { kind: 'reply', content: 'Sunny in Rome.' },
    )
    const call = resultOf(await collect(pipe.stream('t', 'user', 'Weather in Rome?')))
    expect(call.finishReason).toBe('tool_calls')
    expect(call.response.reasoning?.text).toBe('Call the tool.')
    const stored = await store.load('t')
    expect(stored[1]?.reasoning?.data).toEqual([{ type: 'thinking', thinking: 'Call the tool.', signature: 'sig==' }])

    // The fake API rejects this turn unless the thinking block comes back first.
    const answer = await pipe.execute('t', 'tool', '{"sky":"clear"}', { toolCallId: 'toolu_1' })
    expect(answer.response.content).toBe('Sunny in Rome.')
    expect(server.requests[1]?.body?.tools).toEqual([{ name: 'weather', input_schema: { type: 'object' } }])
    await pipe.shutdown()
  })
}

describe('AnthropicProvider in the pipeline (MemoryStore)', () => {
  pipelineScenarios(() => new MemoryStore())

  it('an aborted stream stores nothing and closes the HTTP request', async () => {
    const { pipe, store } = setup()
    server.enqueue({ kind: 'reply', content: 'a b c d e f g', chunkDelayMs: 40 })
    const controller = new AbortController()
    const error = await rejection(
      (async () => {
        for await (const chunk of pipe.stream('a', 'user', 'Go', { signal: controller.signal })) {
          if (chunk.type === 'delta') controller.abort()
        }
      })(),
    )
    expect(error).toBeInstanceOf(AbortError)
    expect(await store.load('a')).toEqual([])
    await server.requests[0]?.closed
    expect(server.requests[0]?.aborted).toBe(true)
    await pipe.shutdown()
  })
})

describeRedis('standalone', 'AnthropicProvider in the pipeline (RedisStore)', () => {
  const redis = useStandaloneRedisClient()
  pipelineScenarios(() => {
    const prefix = uniquePrefix('anthropic')
    redis.prefixes.push(prefix)
    return new RedisStore(redis.client, { prefix })
  })
})
