import type { Message } from './types.js'

/** What a cleared tool result says instead of its content. */
export const DEFAULT_TOOL_RESULT_PLACEHOLDER = '[tool result cleared to save context]'

/**
 * The view with the content of tool messages older than the newest `keepLast` tool
 * groups replaced by `placeholder` (new message objects; the others are the same).
 * Pinned messages are left alone. A group's call and results stay paired: only the
 * results' text changes. Returns the same array and a count of 0 when nothing changed.
 */
export function clearOldToolResults(
  messages: Message[],
  pinned: number,
  keepLast: number,
  placeholder: string,
): { view: Message[]; cleared: number } {
  let groups = 0
  let i = messages.length - 1
  // Walk back past the newest `keepLast` groups (a group is counted at its assistant message).
  for (; i >= pinned; i--) {
    const message = messages[i] as Message
    if (message.role === 'assistant' && message.toolCalls !== undefined && message.toolCalls.length > 0 && ++groups === keepLast) break
  }
  let view = messages
  let cleared = 0
  for (let j = i - 1; j >= pinned; j--) {
    const message = messages[j] as Message
    if (message.role !== 'tool' || message.content === placeholder) continue
    if (view === messages) view = messages.slice()
    view[j] = { ...message, content: placeholder }
    cleared++
  }
  return { view, cleared }
}
