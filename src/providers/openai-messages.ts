/**
 * promptline messages ↔ chat completions, both ways, including what real
 * OpenAI-compatible servers do differently: reasoning in `reasoning_content` or
 * `reasoning` (DeepSeek, llama.cpp, Ollama, vLLM, xAI, OpenRouter), tool calls
 * without an id (Gemini, some local servers).
 */
import { randomUUID } from 'node:crypto'
import type { ChatCompletionMessageParam } from 'openai/resources/chat/completions'
import type { Message, Reasoning, ToolCall, Usage } from '../types.js'
import { show } from '../validate.js'
import { isRecord } from './http-call.js'

/** The fields compatible servers put reasoning in; `Reasoning.format` records which one. */
export const REASONING_FIELDS = ['reasoning_content', 'reasoning'] as const
export type ReasoningField = (typeof REASONING_FIELDS)[number]

export interface ToOpenAIOptions {
  /**
   * Send reasoning back (in the field it came in) on assistant messages with tool
   * calls, as DeepSeek's thinking mode requires. Off for api.openai.com, which rejects
   * unknown fields.
   */
  sendReasoning: boolean
}

/** promptline messages → OpenAI's. `metadata` stays local; tool messages carry `tool_call_id`. */
export function toOpenAIMessages(messages: readonly Message[], options: ToOpenAIOptions): ChatCompletionMessageParam[] {
  const out = new Array<ChatCompletionMessageParam>(messages.length)
  for (let i = 0; i < messages.length; i++) {
    const m = messages[i] as Message
    switch (m.role) {
      case 'system':
      case 'user':
        out[i] = m.name === undefined ? { role: m.role, content: m.content } : { role: m.role, content: m.content, name: m.name }
        break
      case 'assistant': {
        const calls = m.toolCalls !== undefined && m.toolCalls.length > 0 ? m.toolCalls : undefined
        const assistant: ChatCompletionMessageParam & Record<string, unknown> = {
          role: 'assistant',
          // OpenAI's schema: content may be null when the message only calls tools.
          content: calls !== undefined && m.content === '' ? null : m.content,
          ...(m.name === undefined ? {} : { name: m.name }),
          ...(calls === undefined
            ? {}
            : { tool_calls: calls.map((c) => ({ id: c.id, type: 'function' as const, function: { name: c.name, arguments: c.arguments } })) }),
        }
        const field = reasoningField(m.reasoning)
        if (options.sendReasoning && calls !== undefined && field !== undefined && m.reasoning !== undefined) {
          assistant[field] = m.reasoning.text
        }
        out[i] = assistant
        break
      }
      case 'tool':
        if (m.toolCallId === undefined) {
          throw new TypeError(`Invalid \`messages[${i}]\`: a \`tool\` message needs \`toolCallId\` (the id of the call it answers).`)
        }
        out[i] = { role: 'tool', content: m.content, tool_call_id: m.toolCallId }
        break
      default:
        throw new TypeError(`Invalid \`messages[${i}]\`: unknown role \`${show((m as { role: unknown }).role)}\`.`)
    }
  }
  return out
}

/** The field to send `reasoning` back in: only reasoning that came from a compatible server. */
function reasoningField(reasoning: Reasoning | undefined): ReasoningField | undefined {
  const format = reasoning?.format
  return REASONING_FIELDS.find((field) => field === format)
}

/** An OpenAI assistant message → promptline's. A refusal goes to `metadata.refusal`, reasoning to `reasoning`. */
export function fromOpenAIMessage(message: Record<string, unknown>): Message {
  const out: Message = { role: 'assistant', content: typeof message.content === 'string' ? message.content : '' }
  const calls: ToolCall[] = []
  if (Array.isArray(message.tool_calls)) {
    for (const call of message.tool_calls as unknown[]) {
      if (!isRecord(call) || !isRecord(call.function)) continue // custom (non-function) tools are not supported
      calls.push({
        id: typeof call.id === 'string' && call.id !== '' ? call.id : newToolCallId(),
        name: typeof call.function.name === 'string' ? call.function.name : '',
        arguments: typeof call.function.arguments === 'string' ? call.function.arguments : '',
      })
    }
  }
  if (calls.length > 0) out.toolCalls = calls
  const reasoning = reasoningOf(message)
  if (reasoning !== undefined) out.reasoning = reasoning
  if (typeof message.refusal === 'string' && message.refusal !== '') out.metadata = { refusal: message.refusal }
  return out
}

/** The reasoning text of a message or a delta, from the first field that carries some. */
export function reasoningOf(value: Record<string, unknown>): Reasoning | undefined {
  for (const field of REASONING_FIELDS) {
    const text = value[field]
    if (typeof text === 'string' && text !== '') return { text, format: field }
  }
  return undefined
}

/**
 * An id for a tool call the server sent without one (Gemini, some local servers).
 * Without it the call could never be answered: a tool result names the call it answers.
 */
export function newToolCallId(): string {
  return `call_${randomUUID().replaceAll('-', '').slice(0, 24)}`
}

/** Whatever the server said: a reply that calls tools finished with `'tool_calls'` (Gemini says `'stop'`). */
export function finishReasonOf(reported: unknown, hasToolCalls: boolean): string | undefined {
  if (hasToolCalls) return 'tool_calls'
  return typeof reported === 'string' ? reported : undefined
}

export function toUsage(usage: unknown): Usage | undefined {
  if (!isRecord(usage)) return undefined
  const { prompt_tokens: input, completion_tokens: output, prompt_tokens_details: details } = usage
  if (typeof input !== 'number' || typeof output !== 'number') return undefined
  const cached = isRecord(details) ? details.cached_tokens : undefined
  return typeof cached === 'number' && cached > 0
    ? { inputTokens: input, outputTokens: output, cachedInputTokens: cached }
    : { inputTokens: input, outputTokens: output }
}
