/**
 * promptline messages → the AI SDK spec's prompt. System messages keep the spec's
 * system role; an assistant's tool calls become `tool-call` parts and the tool
 * messages answering them `tool-result` parts (the results of one group in one tool
 * message); reasoning goes back as `reasoning` parts, with the provider metadata
 * (signatures, item ids) it came with, only to the AI SDK provider that wrote it and
 * only with tool calls, where the APIs require it.
 */
import type { Message, Reasoning, ToolDefinition } from '../types.js'
import type { ProviderMetadata, SpecFunctionTool, SpecMessage, SpecReasoningPart, SpecToolCallPart, SpecToolResultPart } from './ai-sdk-spec.js'
import { isRecord } from './http-call.js'

/** `Reasoning.format` of reasoning an `AISDKProvider` stored. */
export const AI_SDK_REASONING = 'ai-sdk'

/**
 * One item of `Reasoning.data` written by `AISDKProvider`: a reasoning part, or the
 * provider metadata of a tool call (Gemini's thought signatures, OpenAI's item ids),
 * each tagged with the AI SDK provider (`model.provider`) that produced it.
 */
export type AISDKReasoningItem =
  | { type: 'reasoning'; provider: string; text: string; providerMetadata?: ProviderMetadata }
  | { type: 'tool-call'; provider: string; toolCallId: string; providerMetadata: ProviderMetadata }

export function toSpecPrompt(messages: readonly Message[], provider: string): SpecMessage[] {
  const prompt: SpecMessage[] = []
  // A tool result must name its tool: found through the call it answers.
  const toolNames = new Map<string, string>()
  for (const m of messages) {
    switch (m.role) {
      case 'system':
        prompt.push({ role: 'system', content: m.content })
        break
      case 'user':
        prompt.push({ role: 'user', content: [{ type: 'text', text: m.content }] })
        break
      case 'assistant': {
        const items = ownItems(m.reasoning, provider)
        const content: Array<(SpecMessage & { role: 'assistant' })['content'][number]> = []
        const calls = m.toolCalls ?? []
        if (calls.length > 0) {
          for (const item of items) {
            if (item.type !== 'reasoning') continue
            const part: SpecReasoningPart = { type: 'reasoning', text: item.text }
            if (item.providerMetadata !== undefined) part.providerOptions = item.providerMetadata
            content.push(part)
          }
        }
        if (m.content !== '') content.push({ type: 'text', text: m.content })
        for (const call of calls) {
          toolNames.set(call.id, call.name)
          const part: SpecToolCallPart = { type: 'tool-call', toolCallId: call.id, toolName: call.name, input: parseInput(call.arguments) }
          const metadata = items.find((item) => item.type === 'tool-call' && item.toolCallId === call.id)?.providerMetadata
          if (metadata !== undefined) part.providerOptions = metadata
          content.push(part)
        }
        prompt.push({ role: 'assistant', content })
        break
      }
      case 'tool': {
        const id = m.toolCallId ?? ''
        const part: SpecToolResultPart = {
          type: 'tool-result',
          toolCallId: id,
          toolName: toolNames.get(id) ?? m.name ?? '',
          // A failed tool (Anthropic's `is_error`), as for AnthropicProvider.
          output: { type: m.metadata?.isError === true ? 'error-text' : 'text', value: m.content },
        }
        const last = prompt.at(-1)
        if (last?.role === 'tool') last.content.push(part)
        else prompt.push({ role: 'tool', content: [part] })
        break
      }
    }
  }
  return prompt
}

/** The spec's prompt carries a tool call's input parsed; text that is not JSON goes as the string it is. */
function parseInput(text: string): unknown {
  try {
    return JSON.parse(text) as unknown
  } catch {
    return text
  }
}

/** The items of `reasoning` this AI SDK provider wrote (another provider's signatures mean nothing to it). */
function ownItems(reasoning: Reasoning | undefined, provider: string): AISDKReasoningItem[] {
  if (reasoning?.format !== AI_SDK_REASONING || reasoning.data === undefined) return []
  return reasoning.data.filter((item): item is AISDKReasoningItem => isRecord(item) && item.provider === provider) as AISDKReasoningItem[]
}

export function toSpecTools(tools: readonly ToolDefinition[]): SpecFunctionTool[] {
  return tools.map((tool) => {
    const spec: SpecFunctionTool = { type: 'function', name: tool.name, inputSchema: tool.parameters ?? { type: 'object', properties: {} } }
    if (tool.description !== undefined) spec.description = tool.description
    return spec
  })
}
