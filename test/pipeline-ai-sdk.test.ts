/**
 * AISDKProvider through the default stack (state-load → context-window →
 * token-truncation → provider-call → state-save) with a MemoryStore and a RedisStore
 * and a token limit, on AI SDK mock models of spec v2 and v3: execute and stream, a
 * tool round trip with reasoning stored and sent back, usage and cost, nothing stored
 * on abort or on an error mid-stream.
 */
import { describe, expect, it } from 'vitest'
import { AbortError, MemoryStore, Pipeline, ProviderError } from '../src/index.js'
import { RedisStore } from '../src/redis.js'
import type { EventPayload, ExecuteResult, StateStore, StreamChunk } from '../src/index.js'
import { AISDKProvider } from '../src/providers/ai-sdk.js'
import { scriptedModel, type MockVersion } from './helpers/ai-sdk-models.js'
import { collect, rejection } from './helpers/async.js'
import { describeRedis, uniquePrefix, useStandaloneRedisClient } from './helpers/redis-server.js'

function setup(version: MockVersion, store: StateStore) {
  // gpt-4o-mini: priced in DEFAULT_PRICING, so the cost can be checked.
  const backend = scriptedModel(version, { provider: 'openai.chat', modelId: 'gpt-4o-mini' })
  const pipe = new Pipeline({
    provider: new AISDKProvider(backend.model),
    store,
    systemPrompt: 'You are terse.',
    tokenLimit: { maxTokens: 120, model: 'gpt-4o' },
    tools: [{ name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
  })
  const responses: Array<EventPayload<'provider:response'>> = []
  pipe.on('provider:response', (payload) => responses.push(payload))
  return { backend, pipe, responses }
}

function resultOf(chunks: StreamChunk[]): ExecuteResult {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.result
}

function pipelineScenarios(makeStore: () => StateStore): void {
  describe.each(['v2', 'v3'] as const)('spec %s', (version) => {
    it.each(['execute', 'stream'] as const)('%s: stores the turns, trims to the token limit, reports usage, cost and provider', async (mode) => {
      const store = makeStore()
      const { backend, pipe, responses } = setup(version, store)
      backend.script({ text: 'word '.repeat(200).trim(), usage: { input: 100, output: 10 } }, { text: 'Short.', usage: { input: 100, output: 10 } })
      const turn = async (text: string): Promise<ExecuteResult> =>
        mode === 'execute' ? pipe.execute('s', 'user', text) : resultOf(await collect(pipe.stream('s', 'user', text)))

      const first = await turn('Tell me a long story.')
      expect(first.saved).toBe(true)
      expect(first.provider).toBe('openai.chat')
      expect(first.model).toBe('gpt-4o-mini')
      expect(first.usage).toEqual({ inputTokens: 100, outputTokens: 10 })
      // gpt-4o-mini: $0.15 in, $0.60 out per million.
      expect(first.costUsd).toBeCloseTo((100 * 0.15 + 10 * 0.6) / 1e6)

      const second = await turn('Shorter, please.')
      expect(second.response.content).toBe('Short.')
      // The long reply no longer fits in 120 tokens: the view drops it and the question before it; the store keeps all.
      expect(second.trimmed['token-truncation']?.dropped).toBe(2)
      expect(backend.calls[1]?.prompt).toEqual([
        { role: 'system', content: 'You are terse.' },
        { role: 'user', content: [{ type: 'text', text: 'Shorter, please.' }] },
      ])
      expect((await store.load('s')).map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant'])
      expect(responses.map((r) => r.provider)).toEqual(['openai.chat', 'openai.chat'])
      await pipe.shutdown()
    })

    it('a streamed tool round trip with reasoning: stored with the call, sent back with the result', async () => {
      const store = makeStore()
      const { backend, pipe } = setup(version, store)
      const signature = { 'openai.chat': { itemId: 'rs_1' } }
      backend.script(
        { reasoning: [{ text: 'Use the tool.', providerMetadata: signature }], toolCalls: [{ id: 'call_9', name: 'weather', input: '{"city":"Rome"}' }] },
        { text: 'Sunny in Rome.' },
      )
      const call = resultOf(await collect(pipe.stream('t', 'user', 'Weather in Rome?')))
      expect(call.finishReason).toBe('tool_calls')
      expect(call.response.reasoning?.text).toBe('Use the tool.')
      const stored = await store.load('t')
      expect(stored[1]?.toolCalls).toEqual([{ id: 'call_9', name: 'weather', arguments: '{"city":"Rome"}' }])
      expect(stored[1]?.reasoning?.data).toEqual([{ type: 'reasoning', provider: 'openai.chat', text: 'Use the tool.', providerMetadata: signature }])

      const answer = await pipe.execute('t', 'tool', '{"sky":"clear"}', { toolCallId: 'call_9' })
      expect(answer.response.content).toBe('Sunny in Rome.')
      expect(backend.calls[1]?.prompt.slice(2)).toEqual([
        {
          role: 'assistant',
          content: [
            { type: 'reasoning', text: 'Use the tool.', providerOptions: signature },
            { type: 'tool-call', toolCallId: 'call_9', toolName: 'weather', input: { city: 'Rome' } },
          ],
        },
        { role: 'tool', content: [{ type: 'tool-result', toolCallId: 'call_9', toolName: 'weather', output: { type: 'text', value: '{"sky":"clear"}' } }] },
      ])
      await pipe.shutdown()
    })

    it('an error mid-stream fails the turn with a ProviderError and stores nothing', async () => {
      const store = makeStore()
      const { backend, pipe } = setup(version, store)
      backend.script({ text: 'one two three', errorAfterDeltas: 1 })
      const error = await rejection(collect(pipe.stream('e', 'user', 'Go')))
      expect(error).toBeInstanceOf(ProviderError)
      expect(await store.load('e')).toEqual([])
      await pipe.shutdown()
    })
  })
}

describe('AISDKProvider in the pipeline (MemoryStore)', () => {
  pipelineScenarios(() => new MemoryStore())

  it('an aborted stream stores nothing and aborts the model call', async () => {
    const store = new MemoryStore()
    const { backend, pipe } = setup('v3', store)
    backend.script({ text: 'a b c d e f g', delayMs: 40 })
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
    expect(backend.calls[0]?.abortSignal?.aborted).toBe(true)
    await pipe.shutdown()
  })
})

describeRedis('standalone', 'AISDKProvider in the pipeline (RedisStore)', () => {
  const redis = useStandaloneRedisClient()
  pipelineScenarios(() => {
    const prefix = uniquePrefix('ai-sdk')
    redis.prefixes.push(prefix)
    return new RedisStore(redis.client, { prefix })
  })
})
