import type { Message } from './types.js'
import { unitStarts } from './messages.js'
import { TRUNCATION_MARKER_TEXT } from './truncate-content.js'

/**
 * What is wrong with the view a middleware left (`after`, `pinnedAfter`) compared with
 * the one it was given (`before`, `pinnedBefore`), or `undefined`. O(view): a few
 * passes and sets over the two views, never the history.
 *
 * - the pinned part: every pinned message is still pinned (the same object, or a
 *   message with the same role and content), and `pinned` leaves a message after it;
 * - the newest unit: the view still ends with it (the same messages, or copies with
 *   the same content, or cut by `oversized: 'truncate'`);
 * - tool groups: no tool result without its call before it (except in a newest unit
 *   that was itself an orphan), no call whose results were dropped.
 */
export function viewProblem(before: readonly Message[], pinnedBefore: number, after: readonly Message[], pinnedAfter: number): string | undefined {
  if (!Number.isSafeInteger(pinnedAfter) || pinnedAfter < 0 || pinnedAfter >= after.length) {
    return `\`ctx.pinned\` is ${String(pinnedAfter)} for a view of ${after.length} message(s); at least the newest message must be unpinned`
  }
  const pinnedNow = new Set<Message>()
  const pinnedText = new Set<string>()
  for (let i = 0; i < pinnedAfter; i++) {
    const message = after[i] as Message
    pinnedNow.add(message)
    pinnedText.add(`${message.role}\u0000${message.content}`)
  }
  for (let i = 0; i < pinnedBefore; i++) {
    const message = before[i] as Message
    if (!pinnedNow.has(message) && !pinnedText.has(`${message.role}\u0000${message.content}`)) {
      return `pinned message ${i} (${message.role}) was removed or unpinned`
    }
  }
  const newestStart = unitStarts(before, pinnedBefore).at(-1) ?? before.length
  const newestLength = before.length - newestStart
  if (after.length - pinnedAfter < newestLength) return 'the newest message (with its tool group) is missing'
  for (let k = 1; k <= newestLength; k++) {
    const was = before[before.length - k] as Message
    const now = after[after.length - k] as Message
    const same = now === was || (was.role === now.role && was.toolCallId === now.toolCallId && (was.content === now.content || now.content.includes(TRUNCATION_MARKER_TEXT)))
    if (!same) return 'the view no longer ends with the newest message and its tool group'
  }
  const orphanNewest = before[newestStart]?.role === 'tool'
  const afterNewestStart = after.length - newestLength
  const calls = new Set<string>()
  for (let i = pinnedAfter; i < after.length; i++) {
    const message = after[i] as Message
    if (message.role === 'tool') {
      if (!calls.has(message.toolCallId as string) && !(orphanNewest && i >= afterNewestStart)) {
        return `tool result \`${String(message.toolCallId)}\` at ${i} has no call before it (an orphan or a split tool group)`
      }
    } else if (message.toolCalls !== undefined) {
      for (const call of message.toolCalls) calls.add(call.id)
    }
  }
  // A call kept in view keeps every result the view had for it.
  const resultsAfter = new Set<string>()
  for (let i = pinnedAfter; i < after.length; i++) {
    const message = after[i] as Message
    if (message.role === 'tool') resultsAfter.add(message.toolCallId as string)
  }
  for (let i = pinnedBefore; i < before.length; i++) {
    const message = before[i] as Message
    if (message.role === 'tool' && calls.has(message.toolCallId as string) && !resultsAfter.has(message.toolCallId as string)) {
      return `the call \`${String(message.toolCallId)}\` is in view without its result (a split tool group)`
    }
  }
  return undefined
}
