/**
 * The one conformance suite every `Provider` passes (as `test/stores/conformance.ts`
 * is for stores). A provider's test file calls it once with a harness that scripts its
 * backend (a fake HTTP server, or the MockProvider's script) and reports what the
 * backend received:
 *
 * ```ts
 * describeProviderConformance({ name: 'AnthropicProvider', capabilities: { … }, create, script, received, badOptions })
 * ```
 *
 * Capabilities a provider does not have (MockProvider: no HTTP, no timeout of its own)
 * are named in the suite's title; their cases are not registered, rather than skipped.
 */
import { describe, expect, it } from 'vitest'
import { AbortError, MemoryStore, Pipeline, ProviderError } from '../../src/index.js'
import type { Message, Provider, ProviderChunk, ProviderRequest, ProviderResponse } from '../../src/index.js'
import { collect, rejection } from '../helpers/async.js'
import { user } from '../helpers/messages.js'

/** A reply the backend gives to the next request. */
export type ScriptedReply =
  | { kind: 'text'; text: string; usage?: { input: number; output: number }; reasoning?: string }
  | { kind: 'toolCalls'; calls: Array<{ id: string; name: string; arguments: string }>; reasoning?: string }
  /** Streams `text` word by word, then fails after `afterDeltas` deltas (an error event, or a cut connection). */
  | { kind: 'failMidStream'; text: string; afterDeltas: number }
  /** Streams `text`, each word `delayMs` apart (to abort midway). */
  | { kind: 'slow'; text: string; delayMs: number }
  /** Sends nothing at all. */
  | { kind: 'stall' }

/** What the backend received, in promptline terms. */
export interface ReceivedRequest {
  /** Tool-call ids of the results sent, in order. */
  toolResultIds: string[]
  /** The reasoning texts sent back with assistant messages, in order. */
  reasoningSent: string[]
  /** Resolves once the request's response ended (HTTP harnesses); `aborted` is then final. */
  closed?: Promise<void>
  /** The connection closed before the response was complete (HTTP harnesses). */
  aborted?: boolean
}

export interface ProviderConformanceTarget {
  name: string
  capabilities: {
    /** Talks HTTP: an abort must close the request. */
    http: boolean
    /** Has a timeout of its own (`timeoutMs`). */
    timeout: boolean
    /** Sends reasoning back (Anthropic thinking blocks, DeepSeek's reasoning_content). */
    reasoning: boolean
  }
  /** A provider on this harness's backend; `timeoutMs` only with the `timeout` capability. */
  create(options?: { timeoutMs?: number }): Provider
  script(...replies: ScriptedReply[]): void
  /** What the backend received, oldest first. */
  received(): ReceivedRequest[]
  /** Constructor calls that must throw a TypeError whose message matches. */
  badOptions: Array<[label: string, build: () => unknown, message: RegExp]>
}

function doneOf(chunks: ProviderChunk[]): ProviderResponse {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.response
}

/** `provider.stream(request)`; every provider under test streams. */
function streamOf(provider: Provider, request: ProviderRequest): AsyncIterable<ProviderChunk> {
  if (provider.stream === undefined) throw new Error(`${provider.name} has no stream()`)
  return provider.stream(request)
}

const deltas = (chunks: ProviderChunk[]) => chunks.flatMap((c) => (c.type === 'delta' ? [c.text] : []))

export function describeProviderConformance(target: ProviderConformanceTarget): void {
  const missing = Object.entries(target.capabilities)
    .filter(([, has]) => !has)
    .map(([name]) => name)
  const title = `Provider conformance: ${target.name}${missing.length === 0 ? '' : ` (has no ${missing.join(', ')})`}`

  describe(title, () => {
    it('answers with text: an assistant message, a finish reason, the model', async () => {
      target.script({ kind: 'text', text: 'Hello there.' })
      const response = await target.create().complete({ messages: [user('Hi')] })
      expect(response.message).toEqual({ role: 'assistant', content: 'Hello there.' })
      expect(response.finishReason).toBe('stop')
      expect(typeof response.model).toBe('string')
    })

    it('streams deltas that add up to the message, then exactly one done', async () => {
      target.script({ kind: 'text', text: 'One two three four.' })
      const chunks = await collect(streamOf(target.create(), { messages: [user('Count')] }))
      expect(deltas(chunks).length).toBeGreaterThan(1)
      expect(deltas(chunks).join('')).toBe('One two three four.')
      expect(chunks.filter((c) => c.type === 'done')).toHaveLength(1)
      expect(doneOf(chunks).message).toEqual({ role: 'assistant', content: 'One two three four.' })
    })

    it('reports usage', async () => {
      target.script({ kind: 'text', text: 'Counted.', usage: { input: 12, output: 3 } })
      const { usage } = await target.create().complete({ messages: [user('Count my tokens')] })
      expect(usage?.inputTokens).toBeGreaterThan(0)
      expect(usage?.outputTokens).toBeGreaterThan(0)
      if (target.capabilities.http) expect(usage).toEqual({ inputTokens: 12, outputTokens: 3 })
    })

    it.each(['complete', 'stream'] as const)('round-trips parallel tool calls (%s)', async (mode) => {
      const calls = [
        { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
        { id: 'call_b', name: 'weather', arguments: '{"city":"Oslo"}' },
      ]
      // A thinking model always reasons before it calls tools (and the fakes insist it comes back).
      const reasoning = target.capabilities.reasoning ? { reasoning: 'Both cities, in parallel.' } : {}
      target.script({ kind: 'toolCalls', calls, ...reasoning }, { kind: 'text', text: 'Sunny in both.' })
      const provider = target.create()
      const tools = [{ name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }]
      const first =
        mode === 'complete'
          ? await provider.complete({ messages: [user('Paris and Oslo?')], tools })
          : doneOf(await collect(streamOf(provider, { messages: [user('Paris and Oslo?')], tools })))
      expect(first.message.toolCalls).toEqual(calls)
      expect(first.finishReason).toBe('tool_calls')

      const history: Message[] = [
        user('Paris and Oslo?'),
        first.message,
        { role: 'tool', content: 'sunny', toolCallId: 'call_a' },
        { role: 'tool', content: 'sunny', toolCallId: 'call_b' },
      ]
      const second = await provider.complete({ messages: history, tools })
      expect(second.message.content).toBe('Sunny in both.')
      expect(target.received().at(-1)?.toolResultIds).toEqual(['call_a', 'call_b'])
    })

    if (target.capabilities.reasoning) {
      it('keeps reasoning on the message, never in content, and sends it back with the tool calls', async () => {
        target.script(
          { kind: 'toolCalls', calls: [{ id: 'call_r', name: 'lookup', arguments: '{}' }], reasoning: 'I should look it up.' },
          { kind: 'text', text: 'Found it.', reasoning: 'Now answer.' },
        )
        const provider = target.create()
        const first = doneOf(await collect(streamOf(provider, { messages: [user('Find it')] })))
        expect(first.message.reasoning?.text).toBe('I should look it up.')
        expect(first.message.content).toBe('')
        const second = await provider.complete({
          messages: [user('Find it'), first.message, { role: 'tool', content: 'here', toolCallId: 'call_r' }],
        })
        expect(second.message.content).toBe('Found it.')
        expect(second.message.reasoning?.text).toBe('Now answer.')
        expect(target.received().at(-1)?.reasoningSent).toEqual(['I should look it up.'])
      })
    }

    it('aborted mid-stream: rejects with AbortError, stores nothing' + (target.capabilities.http ? ', closes the HTTP request' : ''), async () => {
      target.script({ kind: 'slow', text: 'a b c d e f g h', delayMs: 40 })
      const store = new MemoryStore()
      const pipe = new Pipeline({ provider: target.create(), store })
      const controller = new AbortController()
      const seen: string[] = []
      const error = await rejection(
        (async () => {
          for await (const chunk of pipe.stream('s', 'user', 'Go', { signal: controller.signal })) {
            if (chunk.type === 'delta') {
              seen.push(chunk.text)
              controller.abort()
            }
          }
        })(),
      )
      expect(error).toBeInstanceOf(AbortError)
      expect(seen).toHaveLength(1)
      expect(await store.load('s')).toEqual([])
      if (target.capabilities.http) {
        const request = target.received().at(-1)
        await request?.closed
        expect(request?.aborted).toBe(true)
      }
      await pipe.shutdown()
    })

    it('fails mid-stream with a ProviderError after the deltas it yielded', async () => {
      target.script({ kind: 'failMidStream', text: 'Partial answer here', afterDeltas: 1 })
      const error = await rejection(collect(streamOf(target.create(), { messages: [user('Go')] })))
      expect(error).toBeInstanceOf(ProviderError)
      const chunks = (error as { chunks: ProviderChunk[] }).chunks
      expect(chunks.length).toBeGreaterThan(0)
      expect(chunks.every((c) => c.type === 'delta')).toBe(true)
    })

    if (target.capabilities.timeout) {
      it('times out a backend that sends nothing with a ProviderError', async () => {
        target.script({ kind: 'stall' })
        const error = await rejection(target.create({ timeoutMs: 150 }).complete({ messages: [user('Hello?')] }))
        expect(error).toBeInstanceOf(ProviderError)
        expect((error as ProviderError).message).toMatch(/timed out/)
      })
    }

    it.each(target.badOptions)('rejects bad options with a TypeError naming them: %s', (_label, build, message) => {
      expect(build).toThrow(TypeError)
      expect(build).toThrow(message)
    })
  })
}
