/**
 * A custom provider that breaks its contract (resolves with a string, a response
 * without `message`, negative usage; a stream with a bad chunk, no `done`, two
 * `done`s) fails the turn with a `ProviderError` naming the provider, showing what
 * it returned and what was expected; nothing of the turn is stored.
 */
import { describe, expect, it } from 'vitest'
import { ProviderError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MemoryStore } from '../src/stores/memory.js'
import type { Provider, ProviderChunk } from '../src/types.js'

const ok = { message: { role: 'assistant', content: 'fine' } }

/** [label, what complete() resolves with, what the message must show] */
const badResponses: Array<[string, unknown, RegExp]> = [
  ['a string', 'hello', /not an object.*got `"hello"`/],
  ['undefined', undefined, /not an object.*got `undefined`/],
  ['a bare { content }', { content: 'hi' }, /`message` is missing.*got `\{"content":"hi"\}`/],
  ['a message without content', { message: { role: 'assistant' } }, /`message\.content` must be a string, got `undefined`/],
  ['a message with numeric content', { message: { role: 'assistant', content: 42 } }, /`message\.content` must be a string, got `42`/],
  ['a user message', { message: { role: 'user', content: 'hi' } }, /`message\.role` must be 'assistant', got `"user"`/],
  ['malformed tool calls', { message: { role: 'assistant', content: '', toolCalls: [{ id: 1 }] } }, /`message\.toolCalls\[0\]`/],
  ['negative usage', { ...ok, usage: { inputTokens: -1, outputTokens: 2 } }, /`usage\.inputTokens` must be a non-negative integer, got `-1`/],
  ['fractional usage', { ...ok, usage: { inputTokens: 1, outputTokens: 2.5 } }, /`usage\.outputTokens` must be a non-negative integer, got `2\.5`/],
  ['string usage', { ...ok, usage: { inputTokens: '1', outputTokens: 2 } }, /`usage\.inputTokens`.*got `"1"`/],
  ['NaN cached tokens', { ...ok, usage: { inputTokens: 1, outputTokens: 2, cachedInputTokens: Number.NaN } }, /`usage\.cachedInputTokens`/],
  ['a numeric estimatedWith', { ...ok, usage: { inputTokens: 1, outputTokens: 2, estimated: true, estimatedWith: 4 } }, /`usage\.estimatedWith` must be a string, got `4`/],
  ['a numeric finishReason', { ...ok, finishReason: 1 }, /`finishReason` must be a string, got `1`/],
  ['an empty model', { ...ok, model: '' }, /`model` must be a non-empty string, got `""`/],
  ['BigInt metadata', { message: { role: 'assistant', content: 'x', metadata: { n: 1n } } }, /`message\.metadata\.n`/],
]

/** [label, the chunks stream() yields, what the message must show] */
const badStreams: Array<[string, unknown[], RegExp]> = [
  ['a string chunk', ['hello'], /invalid chunk \(not an object\).*got `"hello"`/],
  ['an unknown chunk type', [{ type: 'text', text: 'hi' }], /`type` must be 'delta' or 'done', got `"text"`/],
  ['a delta without text', [{ type: 'delta', content: 'hi' }], /`text` of a delta must be a string, got `undefined`/],
  ['a done chunk without a response', [{ type: 'done' }], /`response` of the done chunk: not an object/],
  ['a done chunk with a bare { content }', [{ type: 'done', response: { content: 'hi' } }], /`message` is missing/],
  ['no done chunk', [{ type: 'delta', text: 'hi' }], /ended without a final response/],
  ['two done chunks', [{ type: 'done', response: ok }, { type: 'done', response: ok }], /chunk after `done`/],
  ['a delta after done', [{ type: 'done', response: ok }, { type: 'delta', text: 'more' }], /chunk after `done`.*"more"/],
]

function completing(value: unknown): Provider {
  return { name: 'my-llm', complete: async () => value as never }
}

function streaming(chunks: unknown[]): Provider {
  return {
    name: 'my-llm',
    complete: async () => ok as never,
    async *stream(): AsyncIterable<ProviderChunk> {
      for (const chunk of chunks) yield chunk as ProviderChunk
    },
  }
}

async function expectContractError(error: unknown, pattern: RegExp, expected: RegExp): Promise<void> {
  expect(error).toBeInstanceOf(ProviderError)
  expect((error as ProviderError).provider).toBe('my-llm')
  const message = (error as Error).message
  expect(message).toMatch(/^Provider `my-llm` failed: /)
  expect(message).toMatch(pattern)
  expect(message).toMatch(expected)
}

const RESPONSE = /expected \{ message: \{ role: 'assistant', content: string, toolCalls\? \}, usage\?/
const CHUNK = /expected \{ type: 'delta', text: string \} or, last and once, \{ type: 'done'/

describe('a provider result that breaks the contract', () => {
  it.each(badResponses)('execute rejects complete() resolving with %s', async (_label, value, pattern) => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: completing(value), store })
    const error = await pipe.execute('s', 'user', 'hi').catch((e: unknown) => e)
    await expectContractError(error, pattern, RESPONSE)
    expect(await store.length('s')).toBe(0)
  })

  it.each(badResponses)('stream rejects complete() (no stream method) resolving with %s', async (_label, value, pattern) => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: completing(value), store })
    const error = await (async () => {
      for await (const _chunk of pipe.stream('s', 'user', 'hi'));
    })().catch((e: unknown) => e)
    await expectContractError(error, pattern, RESPONSE)
    expect(await store.length('s')).toBe(0)
  })

  it.each(badStreams)('stream rejects a stream with %s', async (_label, chunks, pattern) => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: streaming(chunks), store })
    const error = await (async () => {
      for await (const _chunk of pipe.stream('s', 'user', 'hi'));
    })().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ProviderError)
    expect((error as Error).message).toMatch(pattern)
    if (!/without a final response/.test(pattern.source)) await expectContractError(error, pattern, CHUNK)
    expect(await store.length('s')).toBe(0)
  })

  it('rejects a stream() that returns no async iterable', async () => {
    const provider = { name: 'my-llm', complete: async () => ok, stream: () => ['not', 'async'] } as unknown as Provider
    const pipe = new Pipeline({ provider })
    const error = await pipe.stream('s', 'user', 'hi').next().catch((e: unknown) => e)
    await expectContractError(error, /not an async iterable.*got `\["not","async"\]`/, CHUNK)
  })

  it('accepts a valid response with every optional field set to undefined, and stores it', async () => {
    const store = new MemoryStore()
    const provider = completing({
      message: { role: 'assistant', content: 'fine', toolCalls: undefined, name: undefined, metadata: undefined },
      usage: { inputTokens: 3, outputTokens: 1, cachedInputTokens: undefined, estimated: undefined },
      finishReason: undefined,
      model: undefined,
    })
    const pipe = new Pipeline({ provider, store })
    const result = await pipe.execute('s', 'user', 'hi')
    expect(result.response.content).toBe('fine')
    expect(result.usage).toMatchObject({ inputTokens: 3, outputTokens: 1 })
    expect((await store.load('s')).map((m) => m.content)).toEqual(['hi', 'fine'])
  })
})
