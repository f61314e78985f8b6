/**
 * An AI SDK model's answer → promptline's: `doGenerate`'s content parts, or the parts
 * of `doStream` assembled (text deltas, reasoning, tool input deltas), plus usage of
 * either spec shape and the finish reason.
 */
import { randomUUID } from 'node:crypto'
import type { Message, Reasoning, ToolCall, Usage } from '../types.js'
import type { ProviderMetadata } from './ai-sdk-spec.js'
import { AI_SDK_REASONING, type AISDKReasoningItem } from './ai-sdk-prompt.js'
import { isRecord, typeName } from './http-call.js'

/** A failure the model reported inside its stream (an `error` part). */
export class StreamErrorPart extends Error {
  constructor(readonly error: unknown) {
    super('error part in the stream')
  }
}

/** Collects one reply's parts in order and builds the message. */
export class ReplyBuilder {
  readonly #provider: string
  #text = ''
  readonly #reasoning: Array<{ text: string; providerMetadata?: ProviderMetadata }> = []
  readonly #calls: Array<{ call: ToolCall; providerMetadata?: ProviderMetadata }> = []

  constructor(provider: string) {
    this.#provider = provider
  }

  text(text: string): void {
    this.#text += text
  }

  reasoning(text: string, providerMetadata: ProviderMetadata | undefined): void {
    this.#reasoning.push(providerMetadata === undefined ? { text } : { text, providerMetadata })
  }

  toolCall(id: string, name: string, input: string, providerMetadata: ProviderMetadata | undefined): void {
    // No id, no answer: a tool result names the call it answers.
    const call = { id: id === '' ? `call_${randomUUID().replaceAll('-', '').slice(0, 24)}` : id, name, arguments: input === '' ? '{}' : input }
    this.#calls.push(providerMetadata === undefined ? { call } : { call, providerMetadata })
  }

  get hasToolCalls(): boolean {
    return this.#calls.length > 0
  }

  message(): Message {
    const message: Message = { role: 'assistant', content: this.#text }
    if (this.#calls.length > 0) message.toolCalls = this.#calls.map(({ call }) => call)
    const provider = this.#provider
    const data: AISDKReasoningItem[] = this.#reasoning.map((r) => ({ type: 'reasoning', provider, ...r }))
    for (const { call, providerMetadata } of this.#calls) {
      if (providerMetadata !== undefined) data.push({ type: 'tool-call', provider, toolCallId: call.id, providerMetadata })
    }
    if (data.length > 0) {
      const reasoning: Reasoning = {
        text: this.#reasoning.map((r) => r.text).filter((t) => t !== '').join('\n\n'),
        format: AI_SDK_REASONING,
        data,
      }
      message.reasoning = reasoning
    }
    return message
  }
}

/** `doGenerate`'s `content` into `builder`. Sources, files and provider-executed tools are not kept. */
export function addContent(builder: ReplyBuilder, content: unknown): void {
  if (!Array.isArray(content)) throw new SyntaxError(`expected \`content\` to be an array, got ${typeName(content)}`)
  for (const part of content as unknown[]) {
    if (!isRecord(part)) throw new SyntaxError(`expected a content part, got ${typeName(part)}`)
    const metadata = metadataOf(part.providerMetadata)
    if (part.type === 'text') builder.text(stringOf(part.text, 'text'))
    else if (part.type === 'reasoning') builder.reasoning(stringOf(part.text, 'reasoning'), metadata)
    else if (part.type === 'tool-call' && part.providerExecuted !== true) {
      builder.toolCall(stringOf(part.toolCallId, 'toolCallId'), stringOf(part.toolName, 'toolName'), inputText(part.input), metadata)
    }
  }
}

/**
 * Assembles `doStream`'s parts. `add` returns the text to pass on as a delta; an
 * `error` part throws `StreamErrorPart`.
 */
export class StreamAssembler {
  readonly #builder: ReplyBuilder
  readonly #reasoning = new Map<string, { text: string; providerMetadata?: ProviderMetadata }>()
  readonly #inputs = new Map<string, { name: string; input: string; providerMetadata?: ProviderMetadata; done: boolean }>()
  usage: unknown
  finishReason: unknown
  modelId: string | undefined
  finished = false

  constructor(builder: ReplyBuilder) {
    this.#builder = builder
  }

  add(part: unknown): string {
    if (!isRecord(part)) throw new SyntaxError(`expected a stream part, got ${typeName(part)}`)
    const id = typeof part.id === 'string' ? part.id : ''
    const metadata = metadataOf(part.providerMetadata)
    switch (part.type) {
      case 'text-delta': {
        // v2 betas named it `textDelta`, later `delta`.
        const text = stringOf(part.delta ?? part.textDelta, 'text-delta')
        this.#builder.text(text)
        return text
      }
      case 'reasoning-start':
      case 'reasoning-delta':
      case 'reasoning-end': {
        const open = this.#reasoning.get(id) ?? { text: '' }
        if (part.type === 'reasoning-delta') open.text += stringOf(part.delta, 'reasoning-delta')
        // Anthropic sends a thinking block's signature on a delta, redacted thinking on the start.
        if (metadata !== undefined) open.providerMetadata = mergeMetadata(open.providerMetadata, metadata) ?? metadata
        this.#reasoning.set(id, open)
        return ''
      }
      case 'tool-input-start':
        if (part.providerExecuted !== true) {
          this.#inputs.set(id, { name: stringOf(part.toolName, 'toolName'), input: '', done: false, ...(metadata === undefined ? {} : { providerMetadata: metadata }) })
        }
        return ''
      case 'tool-input-delta': {
        const open = this.#inputs.get(id)
        if (open !== undefined) open.input += stringOf(part.delta, 'tool-input-delta')
        return ''
      }
      case 'tool-call': {
        if (part.providerExecuted === true) return ''
        const callId = stringOf(part.toolCallId, 'toolCallId')
        const open = this.#inputs.get(callId)
        // The complete call replaces the deltas that built it.
        if (open !== undefined) open.done = true
        this.#builder.toolCall(callId, stringOf(part.toolName, 'toolName'), inputText(part.input), mergeMetadata(open?.providerMetadata, metadata))
        return ''
      }
      case 'response-metadata':
        if (typeof part.modelId === 'string' && part.modelId !== '') this.modelId = part.modelId
        return ''
      case 'finish':
        this.usage = part.usage
        this.finishReason = part.finishReason
        this.finished = true
        return ''
      case 'error':
        throw new StreamErrorPart(part.error)
      default:
        // text-start/-end, stream-start, sources, files, raw, ping, and what later versions add.
        return ''
    }
  }

  /** The reply, once the stream ended: reasoning first, calls sent only as input deltas added. */
  finish(): void {
    for (const r of this.#reasoning.values()) this.#builder.reasoning(r.text, r.providerMetadata)
    for (const [id, open] of this.#inputs) {
      if (!open.done) this.#builder.toolCall(id, open.name, open.input, open.providerMetadata)
    }
  }
}

/** Usage of either spec shape: v2's flat counts, or v3/v4's `{ inputTokens: { total, cacheRead, … }, … }`. */
export function usageOf(value: unknown): Usage | undefined {
  if (!isRecord(value)) return undefined
  const { inputTokens, outputTokens } = value
  if (isRecord(inputTokens) || isRecord(outputTokens)) {
    const input = isRecord(inputTokens) ? count(inputTokens.total) : undefined
    const output = isRecord(outputTokens) ? count(outputTokens.total) : undefined
    if (input === undefined || output === undefined) return undefined
    const usage: Usage = { inputTokens: input, outputTokens: output }
    const cacheRead = isRecord(inputTokens) ? count(inputTokens.cacheRead) : undefined
    const cacheWrite = isRecord(inputTokens) ? count(inputTokens.cacheWrite) : undefined
    if (cacheRead !== undefined && cacheRead > 0) usage.cachedInputTokens = cacheRead
    if (cacheWrite !== undefined && cacheWrite > 0) usage.cacheWriteInputTokens = cacheWrite
    return usage
  }
  const input = count(inputTokens)
  const output = count(outputTokens)
  if (input === undefined || output === undefined) return undefined
  const usage: Usage = { inputTokens: input, outputTokens: output }
  const cached = count(value.cachedInputTokens)
  if (cached !== undefined && cached > 0) usage.cachedInputTokens = cached
  return usage
}

const FINISH_REASONS: Record<string, string> = {
  stop: 'stop',
  length: 'length',
  'tool-calls': 'tool_calls',
  'content-filter': 'content_filter',
  error: 'error',
  other: 'other',
  interrupted: 'interrupted',
}

/**
 * The spec's finish reason (v2: a string; v3/v4: `{ unified, raw }`) in promptline's
 * words, `'tool_calls'` whenever the reply calls tools; `undefined` for `'unknown'`.
 */
export function finishReasonOf(value: unknown, hasToolCalls: boolean): string | undefined {
  if (hasToolCalls) return 'tool_calls'
  const unified = isRecord(value) ? value.unified : value
  return typeof unified === 'string' ? FINISH_REASONS[unified] : undefined
}

function count(value: unknown): number | undefined {
  return Number.isSafeInteger(value) && (value as number) >= 0 ? (value as number) : undefined
}

function stringOf(value: unknown, what: string): string {
  if (typeof value !== 'string') throw new SyntaxError(`expected \`${what}\` to be a string, got ${typeName(value)}`)
  return value
}

/** A tool call's input as JSON text: the spec sends a string, some providers an object. */
function inputText(input: unknown): string {
  if (typeof input === 'string') return input
  return input === undefined ? '{}' : JSON.stringify(input)
}

function metadataOf(value: unknown): ProviderMetadata | undefined {
  if (!isRecord(value) || Object.keys(value).length === 0) return undefined
  return value as ProviderMetadata
}

function mergeMetadata(a: ProviderMetadata | undefined, b: ProviderMetadata | undefined): ProviderMetadata | undefined {
  if (a === undefined) return b
  if (b === undefined) return a
  const merged: ProviderMetadata = { ...a }
  for (const [key, value] of Object.entries(b)) merged[key] = { ...merged[key], ...value }
  return merged
}
