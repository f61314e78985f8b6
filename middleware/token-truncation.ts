import type { Middleware } from '../src/context.js'
import type { Message } from '../src/types.js'
import { named } from '../src/compose.js'
import { ContextOverflowError } from '../src/errors.js'
import { unitStarts } from '../src/messages.js'
import { assertKnownChatModel, getTokenCounter, type TokenCounter } from '../src/tokens.js'
import { trimView } from '../src/trim.js'
import { assertKnownKeys, assertNonNegativeInteger, assertOptionsObject, assertPositiveInteger } from '../src/validate.js'

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
}

const TOKEN_TRUNCATION_KEYS: readonly (keyof TokenTruncationOptions)[] = ['maxTokens', 'model', 'reserveForResponse', 'counter']

/**
 * Keeps the provider view within `maxTokens - reserveForResponse` tokens, counted
 * with `gpt-tokenizer` in the chat format of `model`. System messages at the start
 * are pinned and counted; older messages go first, tool groups whole. When the
 * pinned part plus the newest message alone exceed the budget, the turn fails with
 * `ContextOverflowError`.
 *
 * Each message's content is tokenized once per process (see `getTokenCounter`).
 *
 * @example
 * ```ts
 * new Pipeline({ provider, tokenLimit: { maxTokens: 8000, model: 'gpt-4o-mini', reserveForResponse: 1000 } })
 * ```
 */
export function tokenTruncation(options: TokenTruncationOptions): Middleware {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, TOKEN_TRUNCATION_KEYS, '')
  const { maxTokens, model = 'gpt-4o', reserveForResponse = 0, counter } = options ?? {}
  assertPositiveInteger(maxTokens, 'maxTokens')
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
    const messages = ctx.messages
    const pinned = ctx.pinned
    const newest = unitStarts(messages, pinned).at(-1) ?? messages.length

    let total = tokens.primingTokens + sumTokens(tokens, messages, 0, pinned)
    const pinnedTokens = total
    const newestTokens = sumTokens(tokens, messages, newest, messages.length)
    total += newestTokens
    if (total > budget) {
      const pinnedPart = pinned > 0 ? `${pinned} pinned system message(s) and priming` : 'priming'
      throw new ContextOverflowError(
        total,
        budget,
        `\`maxTokens\` ${maxTokens} minus \`reserveForResponse\` ${reserveForResponse} is too small: ${pinnedPart} (${pinnedTokens} tokens) plus the newest message (${newestTokens} tokens)`,
      )
    }
    const view = trimView(messages, (start, end) => {
      const unit = sumTokens(tokens, messages, start, end)
      if (total + unit > budget) return false
      total += unit
      return true
    }, pinned)
    const dropped = messages.length - view.length
    ctx.messages = view
    ctx.trimmed['token-truncation'] = { kept: view.length, dropped, tokens: total }
    if (dropped > 0) ctx.emit('tokens:truncated', { kept: view.length, dropped, tokens: total, maxTokens: budget })
    await next()
  })
}

function sumTokens(counter: TokenCounter, messages: readonly Message[], start: number, end: number): number {
  let total = 0
  for (let i = start; i < end; i++) total += counter.count(messages[i] as Message)
  return total
}
