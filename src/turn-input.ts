import type { ExecuteOptions, TurnOptions } from './context.js'
import type { Message } from './types.js'
import { copyMessage } from './messages.js'
import { copyMetadata } from './metadata.js'
import {
  assertKnownKeys,
  assertMessages,
  assertNonEmptyString,
  assertOneOf,
  assertOptionsObject,
  assertSessionId,
  ROLES,
  show,
} from './validate.js'

const EXECUTE_KEYS: readonly (keyof ExecuteOptions)[] = ['signal', 'toolCallId', 'name', 'metadata']
const TURN_KEYS: readonly (keyof TurnOptions)[] = ['signal']
const MESSAGE_KEYS: readonly (keyof Message)[] = ['role', 'content', 'toolCalls', 'toolCallId', 'name', 'metadata']

/** The new messages of one turn, checked and copied, and the caller's signal. */
export interface TurnInput {
  inputs: Message[]
  signal: AbortSignal | undefined
}

/** Validates either form of `execute`/`stream` arguments: `(role, content, options)` or `(messages, options)`. */
export function readTurn(sessionId: unknown, roleOrMessages: unknown, contentOrOptions: unknown, options: unknown): TurnInput {
  assertSessionId(sessionId, 'sessionId')
  if (!Array.isArray(roleOrMessages)) {
    const input = checkTurn(roleOrMessages, contentOrOptions, options)
    return { inputs: [input], signal: (options as ExecuteOptions | undefined)?.signal }
  }
  assertMessages(roleOrMessages, 'messages')
  if (roleOrMessages.length === 0) throw new TypeError('Expected `messages` to hold at least one message, got `[]`.')
  const inputs = new Array<Message>(roleOrMessages.length)
  for (const [i, message] of roleOrMessages.entries()) {
    // A misspelt field (`metaData`, `tool_call_id`) would be dropped by the copy: data lost without a word.
    assertKnownKeys(message, MESSAGE_KEYS, `messages[${i}]`)
    assertContent(message.role, message.content, `messages[${i}].content`)
    if (message.role === 'tool' && (typeof message.toolCallId !== 'string' || message.toolCallId.length === 0)) {
      throw new TypeError(`Expected \`messages[${i}].toolCallId\` to be a non-empty string on a tool message, got \`${show(message.toolCallId)}\`.`)
    }
    const { metadata, ...fields } = message
    const copy = copyMessage(fields)
    if (metadata !== undefined) copy.metadata = copyMetadata(metadata, `messages[${i}].metadata`)
    inputs[i] = copy
  }
  if (options !== undefined) {
    throw new TypeError('Expected the options as the third argument when passing `messages`, got a fourth argument.')
  }
  assertOptionsObject(contentOrOptions, 'options')
  // With `messages`, each message carries its own toolCallId, name and metadata.
  assertKnownKeys(contentOrOptions, TURN_KEYS, 'options')
  const signal = (contentOrOptions as TurnOptions | undefined)?.signal
  checkSignal(signal)
  return { inputs, signal }
}

function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`options.signal\` to be an AbortSignal, got \`${show(signal)}\`.`)
  }
}

function checkTurn(role: unknown, content: unknown, options: unknown): Message {
  assertOneOf(role, ROLES, 'role')
  if (typeof content !== 'string') throw new TypeError(`Expected \`content\` to be a string, got \`${show(content)}\`.`)
  assertContent(role, content, 'content')
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, EXECUTE_KEYS, 'options')
  const { signal, toolCallId, name, metadata } = (options ?? {}) as ExecuteOptions
  checkSignal(signal)
  const input: Message = { role, content }
  if (role === 'tool') {
    assertNonEmptyString(toolCallId, 'options.toolCallId')
    input.toolCallId = toolCallId
  } else if (toolCallId !== undefined) {
    throw new TypeError(`Expected \`options.toolCallId\` only with role 'tool', got it with role '${role}'.`)
  }
  if (name !== undefined) {
    assertNonEmptyString(name, 'options.name')
    input.name = name
  }
  if (metadata !== undefined) input.metadata = copyMetadata(metadata, 'options.metadata')
  return input
}

/**
 * A user or system message must say something: several providers (Anthropic's,
 * Gemini's) reject an empty or whitespace-only text, and would do so only after
 * the history was loaded, or in a later turn that resends it. An assistant message
 * that only calls tools, and a tool result, may legitimately be empty.
 */
function assertContent(role: string, content: string, name: string): void {
  if ((role === 'user' || role === 'system') && content.trim().length === 0) {
    throw new TypeError(`Expected \`${name}\` of a ${role} message to be a non-empty string (not only whitespace), got \`${show(content)}\`.`)
  }
}
