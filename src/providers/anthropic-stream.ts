/**
 * Assembles a streamed Messages API reply from its events (`message_start`,
 * `content_block_start` / `_delta` / `_stop`, `message_delta`, `message_stop`) into
 * one promptline response. The SDK has already dropped `ping` and turned an `error`
 * event into an exception.
 */
import type { ProviderResponse, Usage } from '../types.js'
import { finishReasonOf, fromAnthropicContent, toUsage } from './anthropic-messages.js'
import { isRecord, typeName } from './http-call.js'

interface OpenBlock {
  block: Record<string, unknown>
  /** `tool_use` only: the `input_json_delta` pieces. */
  json?: string[]
}

export class AnthropicStreamAssembler {
  readonly #blocks = new Map<number, OpenBlock>()
  #usage: Record<string, unknown> = {}
  #stopReason: unknown
  #model: string | undefined
  #stopped = false

  /** `true` once `message_stop` arrived: anything shorter is a cut-off stream. */
  get finished(): boolean {
    return this.#stopped
  }

  /** Takes one event and returns its new text ('' for none). */
  add(event: unknown): string {
    if (!isRecord(event)) throw new SyntaxError(`expected a stream event, got ${typeName(event)}`)
    switch (event.type) {
      case 'message_start': {
        const message = event.message
        if (!isRecord(message)) throw new SyntaxError('expected `message_start.message` to be an object')
        if (typeof message.model === 'string' && message.model !== '') this.#model = message.model
        if (isRecord(message.usage)) this.#usage = { ...message.usage }
        return ''
      }
      case 'content_block_start': {
        const index = indexOf(event)
        if (!isRecord(event.content_block)) throw new SyntaxError('expected `content_block_start.content_block` to be an object')
        const block = { ...event.content_block }
        this.#blocks.set(index, block.type === 'tool_use' ? { block, json: [] } : { block })
        return ''
      }
      case 'content_block_delta':
        return this.#delta(indexOf(event), event.delta)
      case 'content_block_stop': {
        const open = this.#blocks.get(indexOf(event))
        if (open?.json !== undefined) {
          const raw = open.json.join('')
          // The raw JSON text as the model wrote it: that is what `ToolCall.arguments` holds.
          open.block.input = raw === '' ? JSON.stringify(open.block.input ?? {}) : raw
        }
        return ''
      }
      case 'message_delta': {
        if (isRecord(event.delta) && event.delta.stop_reason !== undefined && event.delta.stop_reason !== null) {
          this.#stopReason = event.delta.stop_reason
        }
        // Cumulative counts: later fields replace earlier ones, absent ones stay.
        if (isRecord(event.usage)) {
          for (const [key, value] of Object.entries(event.usage)) if (value !== null && value !== undefined) this.#usage[key] = value
        }
        return ''
      }
      case 'message_stop':
        this.#stopped = true
        return ''
      default:
        // New event types may come (the API's versioning policy says so): ignore them.
        return ''
    }
  }

  #delta(index: number, delta: unknown): string {
    const open = this.#blocks.get(index)
    if (open === undefined) throw new SyntaxError(`content_block_delta for block ${index}, which never started`)
    if (!isRecord(delta)) throw new SyntaxError('expected `content_block_delta.delta` to be an object')
    const block = open.block
    switch (delta.type) {
      case 'text_delta': {
        const text = typeof delta.text === 'string' ? delta.text : ''
        block.text = `${typeof block.text === 'string' ? block.text : ''}${text}`
        return text
      }
      case 'input_json_delta':
        if (typeof delta.partial_json === 'string') open.json?.push(delta.partial_json)
        return ''
      case 'thinking_delta':
        if (typeof delta.thinking === 'string') block.thinking = `${typeof block.thinking === 'string' ? block.thinking : ''}${delta.thinking}`
        return ''
      case 'signature_delta':
        if (typeof delta.signature === 'string') block.signature = delta.signature
        return ''
      default:
        return ''
    }
  }

  response(requestedModel: string): ProviderResponse {
    const content = [...this.#blocks.entries()].sort(([a], [b]) => a - b).map(([, open]) => open.block)
    const message = fromAnthropicContent(content)
    const response: ProviderResponse = { message, model: this.#model ?? requestedModel }
    const usage: Usage | undefined = toUsage(this.#usage)
    if (usage !== undefined) response.usage = usage
    const finishReason = finishReasonOf(this.#stopReason, message.toolCalls !== undefined)
    if (finishReason !== undefined) response.finishReason = finishReason
    return response
  }
}

function indexOf(event: Record<string, unknown>): number {
  if (!Number.isSafeInteger(event.index)) throw new SyntaxError(`expected \`${String(event.type)}.index\` to be an integer`)
  return event.index as number
}
