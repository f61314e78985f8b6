import type { Message } from './types.js'
import type { TokenCounter } from './tokens.js'
import { pace } from './pace.js'
import { FORCED_CUT_MARGIN_TOKENS, isNaturalCut, SLICE_CHARS, sliceEnd } from './token-slices.js'

/** The removed middle is counted up to this many tokens; beyond, the marker says "more than". */
export const REMOVED_COUNT_LIMIT = 65_536

/** Finer slices tried at the edge of the kept head and tail, so a small budget is used well. */
const FINE_SLICE_CHARS = 32

export interface TruncatedMessage {
  message: Message
  /** Tokens of the new message, as `counter.count` counts it. */
  tokens: number
  /** Tokens of the removed middle (a lower bound when `removedAtLeast`). */
  removedTokens: number
  removedAtLeast: boolean
}

/** What every truncation marker says (the view check recognises a cut message by it). */
export const TRUNCATION_MARKER_TEXT = 'tokens removed to fit the context'

/** The marker put where the middle of a cut message was. */
export function truncationMarker(removedTokens: number, atLeast: boolean): string {
  return `\n[… ${atLeast ? 'more than ' : ''}${removedTokens} ${TRUNCATION_MARKER_TEXT} …]\n`
}

/**
 * `message` with its content cut to its head and tail around a marker, so that the
 * message costs at most `maxTokens`. The text is walked a slice (at most
 * `SLICE_CHARS`) at a time from both ends and the walk stops at the budget, so a
 * megabyte costs about `maxTokens` tokens of tokenizing plus a bounded count of the
 * removed part, yielding to the event loop as it goes. `undefined` when even an
 * empty content with the marker does not fit.
 */
export async function truncateMessage(
  counter: TokenCounter,
  message: Message,
  maxTokens: number,
  signal: AbortSignal,
): Promise<TruncatedMessage | undefined> {
  const text = message.content
  const frame = counter.count({ ...message, content: '' })
  const markerBound = counter.countText(truncationMarker(REMOVED_COUNT_LIMIT, true)) + 2
  let contentBudget = maxTokens - frame - markerBound
  for (let attempt = 0; attempt < 4 && contentBudget >= 0; attempt++) {
    const headBudget = Math.floor(contentBudget / 2)
    const head = await walkForward(counter, text, headBudget, signal)
    const headEnd = head.position
    const tailStart = await walkBackward(counter, text, headEnd, contentBudget - head.tokens, signal)
    const middle = text.slice(headEnd, tailStart)
    const removed = await counter.countAsync({ role: 'user', content: middle }, { limit: REMOVED_COUNT_LIMIT, signal })
    const removedTokens = Math.max(0, removed - counter.count({ role: 'user', content: '' }))
    const atLeast = removedTokens > REMOVED_COUNT_LIMIT
    const shown = atLeast ? REMOVED_COUNT_LIMIT : removedTokens
    const content = text.slice(0, headEnd) + truncationMarker(shown, atLeast) + text.slice(tailStart)
    const cut: Message = { ...message, content }
    const tokens = await counter.countAsync(cut, { limit: maxTokens, signal })
    if (tokens <= maxTokens) return { message: cut, tokens, removedTokens: shown, removedAtLeast: atLeast }
    // The slices' sum missed a few tokens at the cuts: ask for less and walk again.
    contentBudget -= tokens - maxTokens + 2
  }
  return undefined
}

/** The end of the longest head of `text` (in whole slices, then finer ones) within `budget` tokens. */
async function walkForward(
  counter: TokenCounter,
  text: string,
  budget: number,
  signal: AbortSignal,
): Promise<{ position: number; tokens: number }> {
  let position = 0
  let tokens = 0
  for (const chars of [SLICE_CHARS, FINE_SLICE_CHARS]) {
    while (position < text.length) {
      const paused = pace(signal)
      if (paused !== undefined) await paused
      const { end, forced } = sliceEnd(text, position, chars)
      const slice = counter.countText(text.slice(position, end)) + (forced ? FORCED_CUT_MARGIN_TOKENS : 0)
      if (tokens + slice > budget) break
      tokens += slice
      position = end
    }
  }
  return { position, tokens }
}

/** The start of the longest tail of `text[floor..]` within `budget` tokens. */
async function walkBackward(counter: TokenCounter, text: string, floor: number, budget: number, signal: AbortSignal): Promise<number> {
  let position = text.length
  let tokens = 0
  for (const chars of [SLICE_CHARS, FINE_SLICE_CHARS]) {
    while (position > floor) {
      const paused = pace(signal)
      if (paused !== undefined) await paused
      const { start, forced } = sliceStart(text, position, floor, chars)
      const slice = counter.countText(text.slice(start, position)) + (forced ? FORCED_CUT_MARGIN_TOKENS : 0)
      if (tokens + slice > budget) break
      tokens += slice
      position = start
    }
  }
  return position
}

/** The start of the slice that ends at `end`: the earliest natural cut within `sliceChars`, else a forced cut. */
function sliceStart(text: string, end: number, floor: number, sliceChars: number): { start: number; forced: boolean } {
  const limit = Math.max(floor, end - sliceChars)
  if (limit === floor) return { start: floor, forced: floor > 0 && !isNaturalCut(text, floor) }
  for (let index = limit; index < end; index++) {
    if (isNaturalCut(text, index)) return { start: index, forced: false }
  }
  const code = text.charCodeAt(limit)
  // Never between the halves of a surrogate pair.
  const start = code >= 0xdc00 && code <= 0xdfff && limit + 1 < end ? limit + 1 : limit
  return { start, forced: true }
}
