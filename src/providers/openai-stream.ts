/**
 * Assembles a streamed chat completion into one response, for OpenAI and for the
 * compatible servers that stream differently: tool-call deltas without `index`
 * (Gemini sends each call whole in its own chunk), without ids, or with the name
 * repeated on every delta; reasoning in `reasoning_content` / `reasoning`.
 */
import type { ChatCompletionChunk } from 'openai/resources/chat/completions'
import type { Message, ProviderResponse, Usage } from '../types.js'
import { isRecord, typeName } from './http-call.js'
import { finishReasonOf, newToolCallId, REASONING_FIELDS, toUsage } from './openai-messages.js'
import type { ReasoningField } from './openai-messages.js'

interface PartialCall {
  id: string
  name: string
  arguments: string[]
}

export class ChunkAssembler {
  readonly #text: string[] = []
  readonly #reasoning: string[] = []
  #reasoningField: ReasoningField | undefined
  /** In the order they started. */
  readonly #calls: PartialCall[] = []
  /** The call each `index` currently points at. */
  readonly #byIndex = new Map<number, PartialCall>()
  #refusal = ''
  #finishReason: string | undefined
  #usage: Usage | undefined
  #model: string | undefined

  get finished(): boolean {
    return this.#finishReason !== undefined
  }

  /** Takes one chunk and returns its new text ('' for none). */
  add(chunk: ChatCompletionChunk): string {
    if (!isRecord(chunk)) throw new SyntaxError(`expected a chat.completion.chunk, got ${typeName(chunk)}`)
    if (typeof chunk.model === 'string' && chunk.model !== '') this.#model = chunk.model
    const usage = toUsage(chunk.usage)
    if (usage !== undefined) this.#usage = usage
    if (chunk.choices === undefined || chunk.choices === null) return ''
    if (!Array.isArray(chunk.choices)) throw new SyntaxError(`expected \`choices\` to be an array, got ${typeName(chunk.choices)}`)
    let text = ''
    for (const choice of chunk.choices) {
      // Only the first choice: promptline never asks for `n > 1`.
      if (!isRecord(choice) || (choice.index !== undefined && choice.index !== 0)) continue
      const delta: unknown = choice.delta
      if (isRecord(delta)) {
        if (typeof delta.content === 'string') text += delta.content
        if (typeof delta.refusal === 'string') this.#refusal += delta.refusal
        this.#addReasoning(delta)
        if (Array.isArray(delta.tool_calls)) {
          for (const part of delta.tool_calls) this.#addToolCall(part)
        }
      }
      if (typeof choice.finish_reason === 'string') this.#finishReason = choice.finish_reason
    }
    if (text !== '') this.#text.push(text)
    return text
  }

  #addReasoning(delta: Record<string, unknown>): void {
    for (const field of REASONING_FIELDS) {
      const piece = delta[field]
      if (typeof piece !== 'string' || piece === '') continue
      // Some servers fill both fields with the same text: keep the first one seen.
      this.#reasoningField ??= field
      if (field === this.#reasoningField) this.#reasoning.push(piece)
    }
  }

  /**
   * OpenAI sends a call's id and name once, then its arguments in pieces, all under one
   * `index`. Other servers omit `index` (then a delta continues the last call), send an
   * empty id, or repeat the name. So a delta starts a new call when it brings a
   * non-empty id other than its call's, or a name while its call already has another
   * name or complete JSON arguments; a repeated name is never appended.
   */
  #addToolCall(part: unknown): void {
    if (!isRecord(part)) return
    const fn = isRecord(part.function) ? part.function : {}
    const id = typeof part.id === 'string' ? part.id : ''
    const name = typeof fn.name === 'string' ? fn.name : ''
    const index = typeof part.index === 'number' ? part.index : undefined
    let call = index === undefined ? this.#calls.at(-1) : this.#byIndex.get(index)
    if (call === undefined || startsNewCall(call, id, name)) {
      call = { id: '', name: '', arguments: [] }
      this.#calls.push(call)
      if (index !== undefined) this.#byIndex.set(index, call)
    }
    if (id !== '' && call.id === '') call.id = id
    if (name !== '' && call.name === '') call.name = name
    if (typeof fn.arguments === 'string') call.arguments.push(fn.arguments)
  }

  response(requestedModel: string): ProviderResponse {
    const message: Message = { role: 'assistant', content: this.#text.join('') }
    const calls = this.#calls.filter((call) => call.id !== '' || call.name !== '' || call.arguments.length > 0)
    if (calls.length > 0) {
      message.toolCalls = calls.map((call) => ({
        id: call.id === '' ? newToolCallId() : call.id,
        name: call.name,
        arguments: call.arguments.join(''),
      }))
    }
    if (this.#reasoningField !== undefined) message.reasoning = { text: this.#reasoning.join(''), format: this.#reasoningField }
    if (this.#refusal !== '') message.metadata = { refusal: this.#refusal }
    const response: ProviderResponse = { message, model: this.#model ?? requestedModel }
    if (this.#usage !== undefined) response.usage = this.#usage
    const finishReason = finishReasonOf(this.#finishReason, message.toolCalls !== undefined)
    if (finishReason !== undefined) response.finishReason = finishReason
    return response
  }
}

function startsNewCall(call: PartialCall, id: string, name: string): boolean {
  if (id !== '' && call.id !== '' && id !== call.id) return true
  if (name === '' || call.name === '') return false
  return name !== call.name || isCompleteJson(call.arguments.join(''))
}

function isCompleteJson(text: string): boolean {
  if (text.trim() === '') return false
  try {
    JSON.parse(text)
    return true
  } catch {
    return false
  }
}
