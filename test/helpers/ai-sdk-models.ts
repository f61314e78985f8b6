/**
 * AI SDK mock models (`MockLanguageModelV2` from AI SDK 5's `ai/test`,
 * `MockLanguageModelV3` from AI SDK 6's) that answer from a script, in the exact
 * shapes of their spec version: v2's flat usage and string finish reasons, v3's
 * nested usage and `{ unified, raw }`. Streams are sent part by part as AI SDK
 * providers do: text and reasoning in start/delta/end, tool input in deltas followed
 * by the complete `tool-call`.
 */
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test'
import { MockLanguageModelV2 } from 'ai-v5/test'

export type MockVersion = 'v2' | 'v3'

type Metadata = Record<string, Record<string, unknown>>

export interface ScriptedModelReply {
  text?: string
  reasoning?: Array<{ text: string; providerMetadata?: Metadata }>
  toolCalls?: Array<{ id: string; name: string; input: string; providerMetadata?: Metadata }>
  /** `'none'`: the model reports no counts (both `undefined`). @default { input: 10, output: 5 } */
  usage?: { input: number; output: number; cacheRead?: number; cacheWrite?: number } | 'none'
  /** The spec's unified reason. @default 'tool-calls' with tool calls, else 'stop' */
  finish?: 'stop' | 'length' | 'tool-calls' | 'content-filter' | 'error' | 'other' | 'unknown'
  /** Streams: an `error` part after this many text deltas, then nothing more. */
  errorAfterDeltas?: number
  /** The error of that part, or what `doGenerate`/`doStream` rejects with when `reject` is set. */
  error?: unknown
  reject?: boolean
  /** Streams: a delay before each part. */
  delayMs?: number
  /** Never answers. */
  stall?: boolean
  /** Streams: tool calls only as tool-input deltas, without the closing `tool-call` part. */
  deltasOnly?: boolean
  modelId?: string
}

export interface ScriptedModel {
  model: MockLanguageModelV2 | MockLanguageModelV3
  /** Every call's options (the prompt, abortSignal…), oldest first, generate and stream alike. */
  calls: Array<{ prompt: Array<{ role: string; content: unknown }>; abortSignal?: AbortSignal; [key: string]: unknown }>
  script(...replies: ScriptedModelReply[]): void
}

function usageOf(reply: ScriptedModelReply, version: MockVersion): unknown {
  const usage = reply.usage ?? { input: 10, output: 5 }
  if (usage === 'none') {
    return version === 'v2'
      ? { inputTokens: undefined, outputTokens: undefined, totalTokens: undefined }
      : {
          inputTokens: { total: undefined, noCache: undefined, cacheRead: undefined, cacheWrite: undefined },
          outputTokens: { total: undefined, text: undefined, reasoning: undefined },
        }
  }
  if (version === 'v2') {
    return { inputTokens: usage.input, outputTokens: usage.output, totalTokens: usage.input + usage.output, cachedInputTokens: usage.cacheRead }
  }
  const cacheRead = usage.cacheRead ?? 0
  const cacheWrite = usage.cacheWrite ?? 0
  return {
    inputTokens: { total: usage.input, noCache: usage.input - cacheRead - cacheWrite, cacheRead, cacheWrite },
    outputTokens: { total: usage.output, text: usage.output, reasoning: 0 },
  }
}

function finishOf(reply: ScriptedModelReply, version: MockVersion): unknown {
  const unified = reply.finish ?? ((reply.toolCalls?.length ?? 0) > 0 ? 'tool-calls' : 'stop')
  if (version === 'v2') return unified
  return { unified: unified === 'unknown' ? 'other' : unified, raw: unified }
}

/** `doGenerate`'s result for `reply`. */
export function generateResult(reply: ScriptedModelReply, version: MockVersion): unknown {
  const content: unknown[] = []
  for (const r of reply.reasoning ?? []) content.push({ type: 'reasoning', text: r.text, ...(r.providerMetadata ? { providerMetadata: r.providerMetadata } : {}) })
  if (reply.text !== undefined) content.push({ type: 'text', text: reply.text })
  for (const c of reply.toolCalls ?? []) {
    content.push({ type: 'tool-call', toolCallId: c.id, toolName: c.name, input: c.input, ...(c.providerMetadata ? { providerMetadata: c.providerMetadata } : {}) })
  }
  return {
    content,
    finishReason: finishOf(reply, version),
    usage: usageOf(reply, version),
    warnings: [],
    ...(reply.modelId === undefined ? {} : { response: { modelId: reply.modelId } }),
  }
}

/** The parts `doStream` sends for `reply`. */
export function streamParts(reply: ScriptedModelReply, version: MockVersion): unknown[] {
  const parts: unknown[] = [{ type: 'stream-start', warnings: [] }]
  if (reply.modelId !== undefined) parts.push({ type: 'response-metadata', id: 'resp-1', modelId: reply.modelId })
  ;(reply.reasoning ?? []).forEach((r, i) => {
    const id = `reasoning-${i}`
    parts.push({ type: 'reasoning-start', id })
    for (const word of words(r.text)) parts.push({ type: 'reasoning-delta', id, delta: word })
    // As Anthropic's provider does: the signature arrives on an empty delta at the end.
    if (r.providerMetadata !== undefined) parts.push({ type: 'reasoning-delta', id, delta: '', providerMetadata: r.providerMetadata })
    parts.push({ type: 'reasoning-end', id })
  })
  if (reply.text !== undefined) {
    parts.push({ type: 'text-start', id: 'text-0' })
    let deltas = 0
    for (const word of words(reply.text)) {
      if (reply.errorAfterDeltas !== undefined && deltas === reply.errorAfterDeltas) {
        parts.push({ type: 'error', error: reply.error ?? new Error('upstream went away') })
        return parts
      }
      parts.push({ type: 'text-delta', id: 'text-0', delta: word })
      deltas++
    }
    parts.push({ type: 'text-end', id: 'text-0' })
  }
  for (const c of reply.toolCalls ?? []) {
    parts.push({ type: 'tool-input-start', id: c.id, toolName: c.name })
    const half = Math.ceil(c.input.length / 2)
    parts.push({ type: 'tool-input-delta', id: c.id, delta: c.input.slice(0, half) })
    parts.push({ type: 'tool-input-delta', id: c.id, delta: c.input.slice(half) })
    parts.push({ type: 'tool-input-end', id: c.id })
    if (reply.deltasOnly !== true) {
      parts.push({ type: 'tool-call', toolCallId: c.id, toolName: c.name, input: c.input, ...(c.providerMetadata ? { providerMetadata: c.providerMetadata } : {}) })
    }
  }
  parts.push({ type: 'finish', finishReason: finishOf(reply, version), usage: usageOf(reply, version) })
  return parts
}

/** `text` split after each space, so the pieces add up to it. */
function words(text: string): string[] {
  return text.match(/\S+\s*|\s+/g) ?? []
}

const never = () => new Promise<never>(() => {})

/** A mock model of `version` answering from a queue of replies (an empty queue answers 'Echo'). */
export function scriptedModel(version: MockVersion, options: { provider?: string; modelId?: string } = {}): ScriptedModel {
  const queue: ScriptedModelReply[] = []
  const calls: ScriptedModel['calls'] = []
  const next = (callOptions: unknown): ScriptedModelReply => {
    calls.push(callOptions as ScriptedModel['calls'][number])
    return queue.shift() ?? { text: 'Echo' }
  }
  const doGenerate = async (callOptions: unknown) => {
    const reply = next(callOptions)
    if (reply.stall === true) return never()
    if (reply.reject === true) throw reply.error
    return generateResult(reply, version)
  }
  const doStream = async (callOptions: unknown) => {
    const reply = next(callOptions)
    if (reply.stall === true) return never()
    if (reply.reject === true) throw reply.error
    const chunks = streamParts(reply, version)
    return { stream: simulateReadableStream({ chunks, initialDelayInMs: null, chunkDelayInMs: reply.delayMs ?? null }) }
  }
  const settings = {
    provider: options.provider ?? 'mock-provider',
    modelId: options.modelId ?? 'mock-model-id',
    doGenerate: doGenerate as never,
    doStream: doStream as never,
  }
  const model = version === 'v2' ? new MockLanguageModelV2(settings) : new MockLanguageModelV3(settings)
  return { model, calls, script: (...replies) => void queue.push(...replies) }
}
