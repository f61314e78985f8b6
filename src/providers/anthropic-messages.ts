/**
 * promptline messages ↔ Anthropic's Messages API, both ways. Pure functions on the
 * wire format (no SDK import), so they are tested on their own and the provider
 * stays about HTTP.
 */
import type { Message, Reasoning, ToolCall, ToolDefinition, Usage } from '../types.js'
import { show } from '../validate.js'
import { isRecord } from './http-call.js'

/** `Reasoning.format` of thinking blocks: only these are ever sent back to Anthropic. */
export const ANTHROPIC_REASONING = 'anthropic'

export interface CacheControl {
  type: 'ephemeral'
}

export type WireBlock =
  | { type: 'text'; text: string; cache_control?: CacheControl }
  | { type: 'tool_use'; id: string; name: string; input: Record<string, unknown>; cache_control?: CacheControl }
  | { type: 'tool_result'; tool_use_id: string; content: string; is_error?: boolean; cache_control?: CacheControl }
  // Thinking and redacted-thinking blocks, sent back exactly as the API returned them.
  | { type: 'thinking' | 'redacted_thinking'; [key: string]: unknown }

export interface WireMessage {
  role: 'user' | 'assistant'
  content: WireBlock[]
}

export interface WireTool {
  name: string
  description?: string
  input_schema: Record<string, unknown>
}

export interface WireRequest {
  system?: Array<{ type: 'text'; text: string; cache_control?: CacheControl }>
  messages: WireMessage[]
}

/**
 * Builds `system` and `messages`:
 * - every `system` message goes to `system`, in order (the API has no system role);
 * - a `tool` message becomes a `tool_result` block in a user message; the results of
 *   one tool group (and a user message right after them) share one user message, as
 *   the API requires; `metadata.isError === true` sets `is_error`;
 * - an assistant message's tool calls become `tool_use` blocks; when it has tool
 *   calls, its Anthropic thinking blocks go first, unchanged (the API requires them
 *   before tool results while thinking is on);
 * - consecutive messages of one role are merged; empty text is left out (the API
 *   rejects empty text blocks).
 * With `cache`, the last system block and the last block of the last message get a
 * cache breakpoint.
 */
export function toAnthropicRequest(messages: readonly Message[], cache: boolean): WireRequest {
  const system: NonNullable<WireRequest['system']> = []
  const out: WireMessage[] = []
  const push = (role: WireMessage['role'], blocks: WireBlock[]) => {
    if (blocks.length === 0) return
    const last = out.at(-1)
    if (last?.role !== role) {
      out.push({ role, content: blocks })
      return
    }
    // The API wants tool results first in a user message.
    const merged = [...last.content, ...blocks]
    last.content = role === 'user' ? [...merged.filter(isToolResult), ...merged.filter((b) => !isToolResult(b))] : merged
  }
  for (const [i, m] of messages.entries()) {
    switch (m.role) {
      case 'system':
        if (m.content !== '') system.push({ type: 'text', text: m.content })
        break
      case 'user':
        push('user', m.content === '' ? [] : [{ type: 'text', text: m.content }])
        break
      case 'assistant': {
        const blocks: WireBlock[] = []
        const calls = m.toolCalls ?? []
        if (calls.length > 0 && m.reasoning?.format === ANTHROPIC_REASONING) {
          for (const block of m.reasoning.data ?? []) {
            if (block.type === 'thinking' || block.type === 'redacted_thinking') blocks.push(block as WireBlock)
          }
        }
        if (m.content !== '') blocks.push({ type: 'text', text: m.content })
        for (const call of calls) blocks.push({ type: 'tool_use', id: call.id, name: call.name, input: toolInput(call) })
        push('assistant', blocks)
        break
      }
      case 'tool': {
        if (m.toolCallId === undefined) {
          throw new TypeError(`Invalid \`messages[${i}]\`: a \`tool\` message needs \`toolCallId\` (the id of the call it answers).`)
        }
        const block: WireBlock = { type: 'tool_result', tool_use_id: m.toolCallId, content: m.content }
        if (m.metadata?.isError === true) block.is_error = true
        push('user', [block])
        break
      }
      default:
        throw new TypeError(`Invalid \`messages[${i}]\`: unknown role \`${show((m as { role: unknown }).role)}\`.`)
    }
  }
  if (cache) {
    const lastSystem = system.at(-1)
    if (lastSystem !== undefined) lastSystem.cache_control = { type: 'ephemeral' }
    const lastBlock = out.at(-1)?.content.findLast((b) => b.type !== 'thinking' && b.type !== 'redacted_thinking')
    if (lastBlock !== undefined) lastBlock.cache_control = { type: 'ephemeral' }
  }
  return system.length === 0 ? { messages: out } : { system, messages: out }
}

function isToolResult(block: WireBlock): boolean {
  return block.type === 'tool_result'
}

/** A call's arguments as the object `tool_use.input` must be; anything else (not JSON, not an object) as `{}`. */
function toolInput(call: ToolCall): Record<string, unknown> {
  if (call.arguments.trim() === '') return {}
  try {
    const parsed: unknown = JSON.parse(call.arguments)
    return isRecord(parsed) ? parsed : {}
  } catch {
    return {}
  }
}

export function toAnthropicTools(tools: readonly ToolDefinition[]): WireTool[] {
  return tools.map((tool) => ({
    name: tool.name,
    ...(tool.description === undefined ? {} : { description: tool.description }),
    input_schema: tool.parameters ?? { type: 'object', properties: {} },
  }))
}

/**
 * The content blocks of a reply → promptline's assistant message: text joined, `tool_use`
 * as tool calls, thinking and redacted thinking as `reasoning` (their text for the
 * reader, the blocks verbatim for the next request). Other block types are skipped.
 */
export function fromAnthropicContent(content: readonly unknown[]): Message {
  let text = ''
  const calls: ToolCall[] = []
  const thinking: Array<Record<string, unknown>> = []
  const thoughts: string[] = []
  for (const block of content) {
    if (!isRecord(block)) continue
    switch (block.type) {
      case 'text':
        if (typeof block.text === 'string') text += block.text
        break
      case 'tool_use':
        calls.push({
          id: typeof block.id === 'string' ? block.id : '',
          name: typeof block.name === 'string' ? block.name : '',
          arguments: typeof block.input === 'string' ? block.input : JSON.stringify(block.input ?? {}),
        })
        break
      case 'thinking':
        thinking.push(block)
        if (typeof block.thinking === 'string' && block.thinking !== '') thoughts.push(block.thinking)
        break
      case 'redacted_thinking':
        thinking.push(block)
        break
    }
  }
  const message: Message = { role: 'assistant', content: text }
  if (calls.length > 0) message.toolCalls = calls
  if (thinking.length > 0) {
    const reasoning: Reasoning = { text: thoughts.join('\n\n'), format: ANTHROPIC_REASONING, data: thinking }
    message.reasoning = reasoning
  }
  return message
}

/** Anthropic's stop reasons → promptline's (OpenAI's) finish reasons; an unknown one passes through. */
export function finishReasonOf(stopReason: unknown, hasToolCalls: boolean): string | undefined {
  if (hasToolCalls) return 'tool_calls'
  switch (stopReason) {
    case 'end_turn':
    case 'stop_sequence':
      return 'stop'
    case 'max_tokens':
    case 'model_context_window_exceeded':
      return 'length'
    case 'tool_use':
      return 'tool_calls'
    case 'refusal':
      return 'content_filter'
    default:
      return typeof stopReason === 'string' ? stopReason : undefined
  }
}

/**
 * Anthropic's usage → promptline's: `input_tokens` counts only the uncached input,
 * so `inputTokens` adds cache reads and writes back in.
 */
export function toUsage(usage: unknown): Usage | undefined {
  if (!isRecord(usage) || typeof usage.input_tokens !== 'number' || typeof usage.output_tokens !== 'number') return undefined
  const read = typeof usage.cache_read_input_tokens === 'number' ? usage.cache_read_input_tokens : 0
  const written = typeof usage.cache_creation_input_tokens === 'number' ? usage.cache_creation_input_tokens : 0
  const out: Usage = { inputTokens: usage.input_tokens + read + written, outputTokens: usage.output_tokens }
  if (read > 0) out.cachedInputTokens = read
  if (written > 0) out.cacheWriteInputTokens = written
  return out
}
