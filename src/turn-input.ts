import type { ExecuteOptions, TurnOptions } from './context.js'
import type { Message } from './types.js'
import { copyMessages } from './messages.js'
import {
  assertMessages,
  assertNonEmptyString,
  assertOneOf,
  assertOptionsObject,
  assertSessionId,
  ROLES,
  show,
} from './validate.js'

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
  for (const [i, message] of roleOrMessages.entries()) {
    if (message.role === 'tool' && (typeof message.toolCallId !== 'string' || message.toolCallId.length === 0)) {
      throw new TypeError(`Expected \`messages[${i}].toolCallId\` to be a non-empty string on a tool message, got \`${show(message.toolCallId)}\`.`)
    }
  }
  if (options !== undefined) {
    throw new TypeError('Expected the options as the third argument when passing `messages`, got a fourth argument.')
  }
  assertOptionsObject(contentOrOptions, 'options')
  const { signal, ...rest } = (contentOrOptions ?? {}) as TurnOptions & Record<string, unknown>
  const unknown = Object.keys(rest)
  if (unknown.length > 0) throw new TypeError(`Unknown option \`options.${unknown[0]}\` with \`messages\`; only \`signal\` applies.`)
  checkSignal(signal)
  return { inputs: copyMessages(roleOrMessages), signal }
}

function checkSignal(signal: unknown): asserts signal is AbortSignal | undefined {
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`options.signal\` to be an AbortSignal, got \`${show(signal)}\`.`)
  }
}

function checkTurn(role: unknown, content: unknown, options: unknown): Message {
  assertOneOf(role, ROLES, 'role')
  if (typeof content !== 'string') throw new TypeError(`Expected \`content\` to be a string, got \`${show(content)}\`.`)
  assertOptionsObject(options, 'options')
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
  if (metadata !== undefined) {
    if (metadata === null || typeof metadata !== 'object' || Array.isArray(metadata)) {
      throw new TypeError(`Expected \`options.metadata\` to be an object, got \`${show(metadata)}\`.`)
    }
    input.metadata = metadata
  }
  return input
}
