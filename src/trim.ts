import type { Message } from './types.js'
import { pinnedCount, unitStarts } from './messages.js'

/**
 * Decides which tail of a provider view to keep, for any trimming policy.
 *
 * The first `pinned` messages are kept as they are (by default the leading system
 * messages; the built-in policies pass `ctx.pinned`). The rest is split into units (a message,
 * or a tool group) and walked from the newest: the newest unit is always kept,
 * each older unit is offered to `accept(start, end)` and kept while it says yes; the
 * first refusal ends the walk, so the view stays a contiguous tail of the history.
 * An orphan tool unit (tool messages whose call was trimmed away) is never kept
 * unless it is the newest.
 *
 * Returns the trimmed view (the same array when nothing was dropped).
 *
 * @example
 * ```ts
 * // keep at most 10 messages besides the system prompt
 * const view = trimView(ctx.messages, (start) => ctx.messages.length - start <= 10, ctx.pinned)
 * ```
 */
export function trimView(
  messages: Message[],
  accept: (start: number, end: number) => boolean,
  pinned: number = pinnedCount(messages),
): Message[] {
  const starts = unitStarts(messages, pinned)
  let keepFrom = messages.length
  for (let u = starts.length - 1; u >= 0; u--) {
    const start = starts[u] as number
    if (u < starts.length - 1 && (messages[start]?.role === 'tool' || !accept(start, keepFrom))) break
    keepFrom = start
  }
  if (keepFrom === pinned) return messages
  const view = messages.slice(0, pinned)
  for (let i = keepFrom; i < messages.length; i++) view.push(messages[i] as Message)
  return view
}

/**
 * Drops the oldest units after the pinned part until the first one is a `user`
 * message, never the newest unit (Anthropic and Gemini reject a conversation that
 * opens with an assistant turn or a tool result). Returns the same array when it
 * already starts on a user message.
 */
export function startOnUser(messages: Message[], pinned: number): Message[] {
  if (pinned >= messages.length || messages[pinned]?.role === 'user') return messages
  const starts = unitStarts(messages, pinned)
  let keepFrom = starts.at(-1) ?? messages.length
  for (let u = 1; u < starts.length - 1; u++) {
    const start = starts[u] as number
    if (messages[start]?.role === 'user') {
      keepFrom = start
      break
    }
  }
  const view = messages.slice(0, pinned)
  for (let i = keepFrom; i < messages.length; i++) view.push(messages[i] as Message)
  return view
}
