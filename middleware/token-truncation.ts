import type { ExecutionContext, Middleware } from '../src/context.js'
import { turnAbortError } from '../src/context.js'
import type { Message } from '../src/types.js'
import { named } from '../src/compose.js'
import { ContextOverflowError } from '../src/errors.js'
import { unitStarts } from '../src/messages.js'
import { pace } from '../src/pace.js'
import { assertKnownChatModel, fitsOneSlice, getTokenCounter, type TokenCounter } from '../src/tokens.js'
import { startOnUser, trimView } from '../src/trim.js'
import { truncateMessage } from '../src/truncate-content.js'
import { assertKnownKeys, assertNonNegativeInteger, assertOneOf, assertOptionsObject, assertPositiveInteger } from '../src/validate.js'

/**
 * How far the pinned part and the newest message are counted when they overflow the
 * budget: up to this many tokens `ContextOverflowError.requiredTokens` is exact;
 * beyond it counting stops and the error reports a lower bound ("at least").
 */
export const EXACT_OVERFLOW_TOKENS = 8192

/**
 * The token budget `tokenTruncation` fits the view into, counted with the model's own
 * tokenizer so that a request the provider would reject for length is never sent.
 */
export interface TokenTruncationOptions {
  /** The token budget of the whole request (view plus `reserveForResponse`). */
  maxTokens: number
  /**
   * Whose tokenizer and chat format to count with (any chat model `gpt-tokenizer` knows).
   * @default 'gpt-4o'
   */
  model?: string | undefined
  /**
   * Tokens kept free for the reply.
   * @default 0
   */
  reserveForResponse?: number | undefined
  /** A ready counter (for tests or another encoding); `model` is then only its label. */
  counter?: TokenCounter | undefined
  /**
   * When the pinned part plus the newest message alone exceed the budget:
   * `'throw'` fails the turn with `ContextOverflowError`; `'truncate'` cuts the
   * newest unit's messages in the view (head and tail kept, a marker in between
   * saying how many tokens were removed) so that the turn fits. The store keeps
   * them whole. The pinned part is never cut: when it alone is over the budget the
   * turn still fails.
   * @default 'throw'
   */
  oversized?: 'throw' | 'truncate' | undefined
  /**
   * `'user'`: after trimming, the first message after the pinned part is a user
   * message (leading units are dropped, never the newest one), as `contextWindow`'s `startOn`.
   * @default 'any'
   */
  startOn?: 'user' | 'any' | undefined
}

const TOKEN_TRUNCATION_KEYS: readonly (keyof TokenTruncationOptions)[] = ['maxTokens', 'model', 'reserveForResponse', 'counter', 'oversized', 'startOn']

/**
 * Keeps the provider view within `maxTokens - reserveForResponse` tokens, counted
 * with `gpt-tokenizer` in the chat format of `model`. System messages at the start
 * are pinned and counted; older messages go first, tool groups whole. When the
 * pinned part plus the newest message alone exceed the budget, the turn fails with
 * `ContextOverflowError`.
 *
 * Each message's content is tokenized once per process (see `getTokenCounter`).
 * Counting yields to the event loop every few milliseconds and stops as soon as a
 * message is known not to fit, so a huge message costs at most the budget's worth
 * of tokenizing and never holds other sessions.
 *
 * @example
 * ```ts
 * new Pipeline({ provider, tokenLimit: { maxTokens: 8000, model: 'gpt-4o-mini', reserveForResponse: 1000 } })
 * ```
 */
export function tokenTruncation(options: TokenTruncationOptions): Middleware {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, TOKEN_TRUNCATION_KEYS, '')
  const { maxTokens, model = 'gpt-4o', reserveForResponse = 0, counter, oversized = 'throw', startOn = 'any' } = options ?? {}
  assertPositiveInteger(maxTokens, 'maxTokens')
  assertOneOf(oversized, ['throw', 'truncate'], 'oversized')
  assertOneOf(startOn, ['user', 'any'], 'startOn')
  assertNonNegativeInteger(reserveForResponse, 'reserveForResponse')
  if (counter === undefined) assertKnownChatModel(model, 'model')
  if (reserveForResponse >= maxTokens) {
    throw new TypeError(
      `Expected \`reserveForResponse\` to be below \`maxTokens\` (${maxTokens}), got \`${reserveForResponse}\`.`,
    )
  }
  const budget = maxTokens - reserveForResponse
  let counterPromise: Promise<TokenCounter> | undefined = counter && Promise.resolve(counter)

  return named('token-truncation', async function tokenTruncationMiddleware(ctx, next) {
    counterPromise ??= getTokenCounter(model)
    const tokens = await counterPromise
    let messages = ctx.messages
    const pinned = ctx.pinned
    const starts = unitStarts(messages, pinned)
    const newest = starts.at(-1) ?? messages.length
    // Counting is paced (it yields to the event loop every few milliseconds) and
    // bounded: a message is counted only until it no longer fits, so a megabyte in one
    // message fails fast instead of holding every session for seconds. The pinned part
    // and the newest message are counted a little further, to `EXACT_OVERFLOW_TOKENS`,
    // so an ordinary overflow reports the exact size it needs.
    const sum = (start: number, end: number, limit: number) => sumTokens(ctx, tokens, messages, start, end, Math.max(0, limit))

    const pinnedLimit = Math.max(budget, EXACT_OVERFLOW_TOKENS) - tokens.primingTokens
    let pinnedSum = sum(0, pinned, pinnedLimit)
    if (typeof pinnedSum !== 'number') pinnedSum = await pinnedSum
    const pinnedTokens = tokens.primingTokens + pinnedSum
    const newestLimit = Math.max(budget - pinnedTokens, EXACT_OVERFLOW_TOKENS)
    let newestTokens = sum(newest, messages.length, newestLimit)
    if (typeof newestTokens !== 'number') newestTokens = await newestTokens
    let total = pinnedTokens + newestTokens
    let truncated = 0
    if (total > budget && oversized === 'truncate' && pinnedTokens < budget) {
      const fitted = await fitUnit(ctx, tokens, messages, newest, budget - pinnedTokens)
      if (fitted !== undefined) {
        messages = fitted.messages
        truncated = fitted.truncated
        total = pinnedTokens + fitted.tokens
      }
    }
    if (total > budget) {
      const pinnedPart = pinned > 0 ? `${pinned} pinned system message(s) and priming` : 'priming'
      const atLeast = (tokens: number, limit: number) => (tokens > limit ? `at least ${tokens}` : String(tokens))
      throw new ContextOverflowError(
        total,
        budget,
        `\`maxTokens\` ${maxTokens} minus \`reserveForResponse\` ${reserveForResponse} is too small: ${pinnedPart} (${atLeast(pinnedTokens, pinnedLimit + tokens.primingTokens)} tokens) plus the newest message (${atLeast(newestTokens, newestLimit)} tokens)`,
      )
    }
    // Older units, newest first, until one does not fit: the same walk trimView makes,
    // which then keeps exactly the units counted here.
    const fits = new Set<number>()
    for (let u = starts.length - 2; u >= 0; u--) {
      const start = starts[u] as number
      if (messages[start]?.role === 'tool') break
      let unit = sum(start, starts[u + 1] as number, budget - total)
      if (typeof unit !== 'number') unit = await unit
      if (total + unit > budget) break
      total += unit
      fits.add(start)
    }
    let view = trimView(messages, (start) => fits.has(start), pinned)
    if (startOn === 'user') {
      const started = startOnUser(view, pinned)
      // Units dropped to start on a user message no longer count against the budget.
      if (started !== view) total = pinnedTokens + (await sumTokens(ctx, tokens, started, pinned, started.length, Number.POSITIVE_INFINITY))
      view = started
    }
    const dropped = messages.length - view.length
    ctx.messages = view
    ctx.trimmed['token-truncation'] = { kept: view.length, dropped, tokens: total, ...(truncated > 0 ? { truncated } : {}) }
    if (dropped > 0) ctx.emit('tokens:truncated', { kept: view.length, dropped, tokens: total, maxTokens: budget })
    await next()
  })
}

/**
 * The view with the newest unit (`messages[start..]`) cut to fit `budget` tokens:
 * the smallest messages keep their content while they fit an equal share of what
 * is left, and each bigger one is cut to that share (water-filling), so one huge
 * tool result gives way and its small siblings stay whole. `undefined` when a share
 * cannot even hold a message's framing and the marker.
 */
async function fitUnit(
  ctx: ExecutionContext,
  counter: TokenCounter,
  messages: Message[],
  start: number,
  budget: number,
): Promise<{ messages: Message[]; tokens: number; truncated: number } | undefined> {
  const counts: Array<{ index: number; tokens: number }> = []
  for (let i = start; i < messages.length; i++) {
    counts.push({ index: i, tokens: await counter.countAsync(messages[i] as Message, { limit: budget + 1, signal: ctx.signal }) })
  }
  counts.sort((a, b) => a.tokens - b.tokens)
  const view = messages.slice()
  let remaining = budget
  let truncated = 0
  for (const [k, { index, tokens }] of counts.entries()) {
    const share = Math.floor(remaining / (counts.length - k))
    if (tokens <= share) {
      remaining -= tokens
      continue
    }
    const message = messages[index] as Message
    const cut = await truncateMessage(counter, message, share, ctx.signal)
    if (cut === undefined) return undefined
    view[index] = cut.message
    remaining -= cut.tokens
    truncated++
    ctx.emit('tokens:oversized', { role: message.role, removedTokens: cut.removedTokens, keptTokens: cut.tokens, maxTokens: share })
  }
  return { messages: view, tokens: budget - remaining, truncated }
}

/**
 * Tokens of `messages[start..end)`, or a lower bound above `limit` once they pass it.
 * Short messages (cached, or one bounded tokenizer call) are counted in place, with
 * no promise per message: a turn's view is counted in a few microseconds. A long
 * message, or work that has held the loop for `PACE_SLICE_MS`, continues paced.
 */
function sumTokens(
  ctx: ExecutionContext,
  counter: TokenCounter,
  messages: readonly Message[],
  start: number,
  end: number,
  limit: number,
): number | Promise<number> {
  let total = 0
  for (let i = start; i < end && total <= limit; i++) {
    const message = messages[i] as Message
    if (!fitsOneSlice(message) || ctx.signal.aborted || pace() !== undefined) {
      return sumTokensPaced(ctx, counter, messages, i, end, limit, total)
    }
    total += counter.count(message)
  }
  return total
}

async function sumTokensPaced(
  ctx: ExecutionContext,
  counter: TokenCounter,
  messages: readonly Message[],
  start: number,
  end: number,
  limit: number,
  total: number,
): Promise<number> {
  try {
    for (let i = start; i < end && total <= limit; i++) {
      total += await counter.countAsync(messages[i] as Message, { limit: limit - total, signal: ctx.signal })
    }
  } catch (error) {
    if (ctx.signal.aborted) throw turnAbortError(ctx, error)
    throw error
  }
  return total
}
