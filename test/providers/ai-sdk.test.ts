/**
 * AISDKProvider on the AI SDK's mock models: the prompt it sends, streamed tool calls
 * assembled from tool-input deltas, reasoning and its provider metadata both ways,
 * usage and finish reasons of spec v2 and v3, errors (APICallError's status, error
 * parts mid-stream), the abort signal passed through, and a v4 model.
 */
import { inspect } from 'node:util'
import { APICallError } from '@ai-sdk/provider'
import { describe, expect, it } from 'vitest'
import { AbortError, FallbackProvider, ProviderError } from '../../src/index.js'
import type { Message, ProviderChunk, ProviderResponse } from '../../src/index.js'
import { AISDKProvider } from '../../src/providers/ai-sdk.js'
import { generateResult, scriptedModel, streamParts, type MockVersion } from '../helpers/ai-sdk-models.js'
import { collect, rejection } from '../helpers/async.js'

const VERSIONS: MockVersion[] = ['v2', 'v3']

function doneOf(chunks: ProviderChunk[]): ProviderResponse {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('no done chunk')
  return last.response
}

const ask = (provider: AISDKProvider, mode: 'complete' | 'stream', messages: Message[]) =>
  mode === 'complete' ? provider.complete({ messages }) : collect(provider.stream({ messages })).then(doneOf)

describe.each(VERSIONS)('AISDKProvider on a spec %s model', (version) => {
  it('sends system messages in the system role, tool calls and their results as parts, the request settings', async () => {
    const backend = scriptedModel(version)
    const provider = new AISDKProvider(backend.model, { providerOptions: { openai: { reasoningEffort: 'low' } } })
    await provider.complete({
      messages: [
        { role: 'system', content: 'Be brief.' },
        { role: 'user', content: 'Weather in Paris and Oslo?' },
        {
          role: 'assistant',
          content: 'Checking.',
          toolCalls: [
            { id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
            { id: 'c2', name: 'weather', arguments: 'not json' },
          ],
        },
        { role: 'tool', content: 'sunny', toolCallId: 'c1' },
        { role: 'tool', content: 'no such city', toolCallId: 'c2', metadata: { isError: true } },
        { role: 'user', content: 'Thanks' },
      ],
      maxTokens: 100,
      temperature: 0.5,
      tools: [{ name: 'weather', description: 'Weather by city', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
    })
    const call = backend.calls[0]
    expect(call?.prompt).toEqual([
      { role: 'system', content: 'Be brief.' },
      { role: 'user', content: [{ type: 'text', text: 'Weather in Paris and Oslo?' }] },
      {
        role: 'assistant',
        content: [
          { type: 'text', text: 'Checking.' },
          { type: 'tool-call', toolCallId: 'c1', toolName: 'weather', input: { city: 'Paris' } },
          { type: 'tool-call', toolCallId: 'c2', toolName: 'weather', input: 'not json' },
        ],
      },
      {
        role: 'tool',
        content: [
          { type: 'tool-result', toolCallId: 'c1', toolName: 'weather', output: { type: 'text', value: 'sunny' } },
          { type: 'tool-result', toolCallId: 'c2', toolName: 'weather', output: { type: 'error-text', value: 'no such city' } },
        ],
      },
      { role: 'user', content: [{ type: 'text', text: 'Thanks' }] },
    ])
    expect(call).toMatchObject({
      maxOutputTokens: 100,
      temperature: 0.5,
      tools: [{ type: 'function', name: 'weather', description: 'Weather by city', inputSchema: { type: 'object', properties: { city: { type: 'string' } } } }],
      providerOptions: { openai: { reasoningEffort: 'low' } },
    })
    expect(call?.abortSignal).toBeInstanceOf(AbortSignal)
  })

  it.each([false, true])('assembles a streamed tool call from its input deltas (closing tool-call part: %s)', async (withCallPart) => {
    const backend = scriptedModel(version)
    backend.script({
      text: 'Let me look.',
      toolCalls: [
        { id: 'call_1', name: 'search', input: '{"q":"promptline"}' },
        { id: 'call_2', name: 'search', input: '{"q":"ai sdk"}' },
      ],
      deltasOnly: !withCallPart,
    })
    const chunks = await collect(new AISDKProvider(backend.model).stream({ messages: [{ role: 'user', content: 'Search both' }] }))
    expect(chunks.filter((c) => c.type === 'delta').map((c) => (c as { text: string }).text)).toEqual(['Let ', 'me ', 'look.'])
    const response = doneOf(chunks)
    expect(response.message).toEqual({
      role: 'assistant',
      content: 'Let me look.',
      toolCalls: [
        { id: 'call_1', name: 'search', arguments: '{"q":"promptline"}' },
        { id: 'call_2', name: 'search', arguments: '{"q":"ai sdk"}' },
      ],
    })
    expect(response.finishReason).toBe('tool_calls')
  })

  it('gives a tool call without an id one, so a tool result can answer it', async () => {
    const backend = scriptedModel(version)
    backend.script({ toolCalls: [{ id: '', name: 'now', input: '' }] })
    const { message } = await new AISDKProvider(backend.model).complete({ messages: [{ role: 'user', content: 'Time?' }] })
    expect(message.toolCalls?.[0]?.id).toMatch(/^call_[0-9a-f]{24}$/)
    expect(message.toolCalls?.[0]?.arguments).toBe('{}')
  })

  it.each(['complete', 'stream'] as const)('keeps reasoning with its provider metadata and sends it back with the tool calls, to this provider only (%s)', async (mode) => {
    const backend = scriptedModel(version, { provider: 'anthropic.messages' })
    const signature = { anthropic: { signature: 'sig-abc' } }
    const thought = { google: { thoughtSignature: 'ts-1' } }
    backend.script({ reasoning: [{ text: 'Think first.', providerMetadata: signature }], toolCalls: [{ id: 't1', name: 'lookup', input: '{}', providerMetadata: thought }] })
    const provider = new AISDKProvider(backend.model)
    const first = await ask(provider, mode, [{ role: 'user', content: 'Find it' }])
    expect(first.message.content).toBe('')
    expect(first.message.reasoning).toEqual({
      text: 'Think first.',
      format: 'ai-sdk',
      data: [
        { type: 'reasoning', provider: 'anthropic.messages', text: 'Think first.', providerMetadata: signature },
        { type: 'tool-call', provider: 'anthropic.messages', toolCallId: 't1', providerMetadata: thought },
      ],
    })

    const history: Message[] = [
      { role: 'user', content: 'Find it' },
      first.message,
      { role: 'tool', content: 'found', toolCallId: 't1' },
      // Reasoning on a message without tool calls is not needed by any API: not sent.
      { role: 'assistant', content: 'Done.', reasoning: { text: 'x', format: 'ai-sdk', data: [{ type: 'reasoning', provider: 'anthropic.messages', text: 'x' }] } },
      { role: 'user', content: 'Again' },
    ]
    await provider.complete({ messages: history })
    expect(backend.calls[1]?.prompt[1]).toEqual({
      role: 'assistant',
      content: [
        { type: 'reasoning', text: 'Think first.', providerOptions: signature },
        { type: 'tool-call', toolCallId: 't1', toolName: 'lookup', input: {}, providerOptions: thought },
      ],
    })
    expect(backend.calls[1]?.prompt[3]).toEqual({ role: 'assistant', content: [{ type: 'text', text: 'Done.' }] })

    // Another AI SDK provider's signatures mean nothing to it: neither reasoning nor metadata go there.
    const other = scriptedModel(version, { provider: 'openai.responses' })
    await new AISDKProvider(other.model).complete({ messages: history })
    expect(other.calls[0]?.prompt[1]).toEqual({ role: 'assistant', content: [{ type: 'tool-call', toolCallId: 't1', toolName: 'lookup', input: {} }] })
  })

  it.each(['complete', 'stream'] as const)('reports usage with cache reads (%s), and none when the model counted nothing', async (mode) => {
    const backend = scriptedModel(version)
    backend.script({ text: 'a', usage: { input: 120, output: 7, cacheRead: 100 } }, { text: 'b', usage: 'none' })
    const provider = new AISDKProvider(backend.model)
    expect((await ask(provider, mode, [{ role: 'user', content: 'x' }])).usage).toEqual({ inputTokens: 120, outputTokens: 7, cachedInputTokens: 100 })
    expect((await ask(provider, mode, [{ role: 'user', content: 'x' }])).usage).toBeUndefined()
  })

  it.each([
    ['stop', 'stop'],
    ['length', 'length'],
    ['content-filter', 'content_filter'],
    ['error', 'error'],
    ['other', 'other'],
  ] as const)('maps the finish reason %s to %s', async (finish, expected) => {
    const backend = scriptedModel(version)
    backend.script({ text: 'x', finish }, { text: 'x', finish })
    const provider = new AISDKProvider(backend.model)
    expect((await ask(provider, 'complete', [{ role: 'user', content: 'x' }])).finishReason).toBe(expected)
    expect((await ask(provider, 'stream', [{ role: 'user', content: 'x' }])).finishReason).toBe(expected)
  })

  it('reports the model that answered when the model names one, else its modelId', async () => {
    const backend = scriptedModel(version, { modelId: 'gpt-4o' })
    backend.script({ text: 'x', modelId: 'gpt-4o-2024-08-06' }, { text: 'y' })
    const provider = new AISDKProvider(backend.model)
    expect(provider.name).toBe('mock-provider')
    expect((await ask(provider, 'stream', [{ role: 'user', content: 'x' }])).model).toBe('gpt-4o-2024-08-06')
    expect((await ask(provider, 'complete', [{ role: 'user', content: 'x' }])).model).toBe('gpt-4o')
  })

  it('turns an APICallError into a ProviderError with its status, its message only', async () => {
    const backend = scriptedModel(version)
    const secretBody = '{"error":"rate limited","echo":"Bearer sk-SECRET-123"}'
    const apiError = new APICallError({
      message: 'Rate limit reached',
      url: 'https://api.example.com/v1/chat',
      requestBodyValues: { prompt: 'private conversation' },
      statusCode: 429,
      responseBody: secretBody,
      isRetryable: true,
    })
    backend.script({ reject: true, error: apiError }, { reject: true, error: apiError })
    const provider = new AISDKProvider(backend.model)
    for (const run of [() => provider.complete({ messages: [{ role: 'user', content: 'x' }] }), () => collect(provider.stream({ messages: [{ role: 'user', content: 'x' }] }))]) {
      const error = (await rejection(run())) as ProviderError
      expect(error).toBeInstanceOf(ProviderError)
      expect(error.status).toBe(429)
      expect(error.message).toBe('Provider `mock-provider` failed (HTTP 429): request failed: Rate limit reached')
      expect(error.message).not.toContain('sk-SECRET')
      expect(error.cause).toBe(apiError)
    }
  })

  it('hands a 429 or 5xx over to the next provider behind a FallbackProvider, not a 400', async () => {
    const primary = scriptedModel(version, { provider: 'anthropic.messages' })
    const secondary = scriptedModel(version, { provider: 'openai.chat' })
    const error = (statusCode: number) => new APICallError({ message: `HTTP ${statusCode}`, url: 'https://x', requestBodyValues: {}, statusCode })
    primary.script({ reject: true, error: error(429) }, { reject: true, error: error(503) }, { reject: true, error: error(400) })
    secondary.script({ text: 'From the secondary.' }, { text: 'Again.' })
    const fallback = new FallbackProvider([new AISDKProvider(primary.model), new AISDKProvider(secondary.model)])
    const first = await fallback.complete({ messages: [{ role: 'user', content: 'x' }] })
    expect([first.provider, first.message.content]).toEqual(['openai.chat', 'From the secondary.'])
    expect(doneOf(await collect(fallback.stream({ messages: [{ role: 'user', content: 'x' }] }))).provider).toBe('openai.chat')
    const rejected = (await rejection(fallback.complete({ messages: [{ role: 'user', content: 'x' }] }))) as ProviderError
    expect(rejected.status).toBe(400)
    expect(secondary.calls).toHaveLength(2)
  })

  it('fails mid-stream on an error part, with the status it carries, after the deltas before it', async () => {
    const backend = scriptedModel(version)
    const overloaded = new APICallError({ message: 'Overloaded', url: 'https://x', requestBodyValues: {}, statusCode: 529 })
    backend.script({ text: 'one two three', errorAfterDeltas: 2, error: overloaded }, { text: 'one two', errorAfterDeltas: 1, error: { type: 'error', message: 'stream broke' } })
    const provider = new AISDKProvider(backend.model)
    const error = (await rejection(collect(provider.stream({ messages: [{ role: 'user', content: 'x' }] })))) as ProviderError & { chunks: ProviderChunk[] }
    expect(error).toBeInstanceOf(ProviderError)
    expect(error.status).toBe(529)
    expect(error.message).toMatch(/error in the stream: Overloaded/)
    expect(error.chunks).toEqual([{ type: 'delta', text: 'one ' }, { type: 'delta', text: 'two ' }])
    const plain = (await rejection(collect(provider.stream({ messages: [{ role: 'user', content: 'x' }] })))) as ProviderError
    expect(plain.status).toBeUndefined()
    expect(plain.message).toMatch(/error in the stream/)
  })

  it('fails with a ProviderError on a stream that ends without its finish part, or sends something else', async () => {
    const cut = scriptedModel(version)
    const parts = streamParts({ text: 'half an answer' }, version).slice(0, -1)
    ;(cut.model as { doStream: unknown }).doStream = async () => ({ stream: ReadableStream.from(parts) })
    const error = await rejection(collect(new AISDKProvider(cut.model).stream({ messages: [{ role: 'user', content: 'x' }] })))
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as Error).message).toMatch(/no finish part/)

    const junk = scriptedModel(version)
    ;(junk.model as { doStream: unknown }).doStream = async () => ({ stream: ReadableStream.from([42]) })
    ;(junk.model as { doGenerate: unknown }).doGenerate = async () => ({ content: 'text?' })
    const streamed = await rejection(collect(new AISDKProvider(junk.model).stream({ messages: [{ role: 'user', content: 'x' }] })))
    expect((streamed as Error).message).toMatch(/malformed response: expected a stream part, got a number/)
    const generated = await rejection(new AISDKProvider(junk.model).complete({ messages: [{ role: 'user', content: 'x' }] }))
    expect((generated as Error).message).toMatch(/malformed response: expected `content` to be an array, got a string/)
  })

  it('passes the abort signal through and rejects with AbortError, also when the model ignores it', async () => {
    const backend = scriptedModel(version)
    backend.script({ text: 'a b c d e f', delayMs: 30 }, { stall: true })
    const provider = new AISDKProvider(backend.model)
    const controller = new AbortController()
    const seen: string[] = []
    const error = await rejection(
      (async () => {
        for await (const chunk of provider.stream({ messages: [{ role: 'user', content: 'x' }], signal: controller.signal })) {
          if (chunk.type === 'delta') {
            seen.push(chunk.text)
            controller.abort(new Error('user left'))
          }
        }
      })(),
    )
    expect(error).toBeInstanceOf(AbortError)
    expect(seen).toEqual(['a '])
    expect(backend.calls[0]?.abortSignal?.aborted).toBe(true)

    // The mock never answers nor listens: the provider still stops waiting at the abort.
    const late = new AbortController()
    const pending = provider.complete({ messages: [{ role: 'user', content: 'x' }], signal: late.signal })
    setTimeout(() => late.abort(), 20)
    expect(await rejection(pending)).toBeInstanceOf(AbortError)
    expect(backend.calls[1]?.abortSignal?.aborted).toBe(true)
  })

  it('never puts the model object in util.inspect of the provider', () => {
    const backend = scriptedModel(version)
    const shown = inspect(new AISDKProvider(backend.model), { depth: 5 })
    expect(shown).toContain('mock-model-id')
    expect(shown).not.toContain('doGenerate')
  })
})

describe('AISDKProvider on a spec v4 model (AI SDK 7)', () => {
  it('answers and streams like v3', async () => {
    const reply = { text: 'Hi there', usage: { input: 3, output: 2, cacheWrite: 1 } }
    const model = {
      specificationVersion: 'v4' as const,
      provider: 'openai.responses',
      modelId: 'gpt-5',
      supportedUrls: {},
      doGenerate: async () => generateResult(reply, 'v3'),
      doStream: async () => ({ stream: ReadableStream.from([...streamParts(reply, 'v3'), { type: 'ping' }]) }),
    }
    const provider = new AISDKProvider(model)
    const generated = await provider.complete({ messages: [{ role: 'user', content: 'Hi' }] })
    expect(generated).toEqual({ message: { role: 'assistant', content: 'Hi there' }, model: 'gpt-5', usage: { inputTokens: 3, outputTokens: 2, cacheWriteInputTokens: 1 }, finishReason: 'stop' })
    expect(doneOf(await collect(provider.stream({ messages: [{ role: 'user', content: 'Hi' }] })))).toEqual(generated)
  })
})
