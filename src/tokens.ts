import { chatModelParams } from 'gpt-tokenizer/mapping'
import type { Message } from './types.js'
import { pace } from './pace.js'
import { TOKEN_CACHE_BYTES, TokenCountCache } from './token-cache.js'
import { FORCED_CUT_MARGIN_TOKENS, SLICE_CHARS, sliceEnd } from './token-slices.js'
import { assertKnownKeys, assertNonNegativeInteger, assertOptionsObject, assertPositiveInteger, show } from './validate.js'
import { loadTokenizer } from './tokenizer-loaders.js'

/** The part of a `gpt-tokenizer` model module that token counting uses. */
export interface Tokenizer {
  /** Tokens of plain text; content is counted with no special tokens allowed, as a provider would. */
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[]
  /** Tokens of a chat, priming and per-message overhead included, for the model's chat format. */
  encodeChat(chat: ReadonlyArray<{ role?: string; name?: string; content: string }>): number[]
  /**
   * Empties the tokenizer's own cache of merged pre-tokens, when it has one. Counting
   * calls it while it works through a long text: gpt-tokenizer's cache holds 100,000
   * pre-tokens and, once full, evicting from it can take a single `encode` call 100 ms.
   */
  clearMergeCache?(): void
}

/**
 * Counts the tokens of chat messages in one model's encoding.
 *
 * A message costs the tokens of its content plus the chat format's overhead for
 * its role (or `name`): both measured with `gpt-tokenizer`'s `encodeChat`, so the
 * sum over a conversation plus `primingTokens` equals `encodeChat(conversation)`
 * exactly. For the ChatML models (gpt-4o, gpt-4.1, gpt-5, o-series) the overhead
 * is 4 tokens a message and the priming 3. A tool call adds the tokens of its name
 * and arguments plus {@link TOOL_CALL_OVERHEAD_TOKENS}: OpenAI does not publish
 * that format, so this part is an estimate.
 *
 * Texts longer than {@link SLICE_CHARS} are tokenized a slice at a time, cut where
 * the tokenizer's own pre-tokens end, which keeps the count exact. Only a run of
 * more than `SLICE_CHARS` characters with no word boundary in it (a blob of `x`,
 * a long whitespace run) is cut anyway: each such cut adds
 * {@link FORCED_CUT_MARGIN_TOKENS}, making the count an over-estimate by 1 to 6
 * tokens per cut (see src/token-slices.ts).
 *
 * Content counts are cached by content (one cache per model per process, bounded
 * by {@link TOKEN_CACHE_BYTES}; contents over `TOKEN_CACHE_KEY_CHARS` (from
 * `promptline/utils`) characters are keyed by their SHA-256), so a message is tokenized once however
 * many turns it stays in view, and a changed message is counted anew.
 */
export interface TokenCounter {
  readonly model: string
  /** Tokens that prime the reply (`<|im_start|>assistant<|im_sep|>`): counted once per request. */
  readonly primingTokens: number
  /**
   * Tokens of one message, counted synchronously: a content of a megabyte holds the
   * event loop for its whole count (up to a second). Use `countAsync` for text you
   * do not control.
   */
  count(message: Message): number
  /** Tokens of a bare text, without chat-format overhead. */
  countText(text: string): number
  /** Sum of `count` over `messages` plus `primingTokens`: the size of a request. */
  countRequest(messages: readonly Message[]): number
  /**
   * The same count as `count`, yielding to the event loop every few milliseconds
   * while it tokenizes, so no other turn or timer waits on a long message. With
   * `limit`, counting stops as soon as the count passes it and the result is then a
   * lower bound above `limit` (enough to know the message does not fit).
   */
  countAsync(message: Message, options?: CountOptions): Promise<number>
  /** `countRequest`, paced like `countAsync`; with `limit`, stops once the request passes it. */
  countRequestAsync(messages: readonly Message[], options?: CountOptions): Promise<number>
  /** What the count cache holds now: `bytes` is what it is charged, never above `maxBytes`. */
  cacheStats(): { entries: number; bytes: number; maxBytes: number }
}

/** Bounds one count, so a huge message costs no more than the budget it is checked against. */
export interface CountOptions {
  /** Stop counting once the count exceeds this many tokens (the result is then `> limit`, a lower bound). */
  limit?: number | undefined
  /** Stops counting with the signal's reason when it aborts. */
  signal?: AbortSignal | undefined
}

/** The memory a token counter may use for its cache, so a long-running process stays bounded. */
export interface TokenCounterOptions {
  /**
   * The most bytes the count cache holds (see `TOKEN_CACHE_BYTES`).
   * @default TOKEN_CACHE_BYTES
   */
  cacheBytes?: number
}

/** Estimated per-call cost of a tool call's framing, on top of its name and arguments. */
export const TOOL_CALL_OVERHEAD_TOKENS = 3

export { TOKEN_CACHE_BYTES, TOKEN_CACHE_KEY_CHARS } from './token-cache.js'
export { FORCED_CUT_MARGIN_TOKENS, SLICE_CHARS } from './token-slices.js'

/** More than any encoding's framing of one message, or its priming. */
const MAX_FRAMING_TOKENS = 8

/**
 * An upper bound on the tokens of `messages` in any gpt-tokenizer encoding, from
 * their UTF-8 lengths alone (no token is shorter than a byte): for when counting
 * is impossible or too late. `framed` adds each message's framing and the priming.
 */
export function tokenUpperBound(messages: readonly Message[], framed: boolean): number {
  let bytes = framed ? MAX_FRAMING_TOKENS : 0
  for (const message of messages) {
    bytes += Buffer.byteLength(message.content) + (framed ? MAX_FRAMING_TOKENS : 0)
    if (message.name !== undefined) bytes += Buffer.byteLength(message.name)
    for (const call of message.toolCalls ?? []) {
      bytes += Buffer.byteLength(call.name) + Buffer.byteLength(call.arguments) + TOOL_CALL_OVERHEAD_TOKENS
    }
  }
  return bytes
}

// 4 slices of SLICE_CHARS bring at most 2,048 new pre-tokens: the cache never evicts, and what
// it holds stays small enough not to slow the garbage collector (counting 1 MB of base64 took
// 0.6 s this way, against 1.4 to 2.4 s when emptied every 32 slices).
const MERGE_CACHE_SLICES = 4

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() }

/** `true` when `gpt-tokenizer` knows the chat format of `model`. */
export function isKnownChatModel(model: unknown): model is string {
  return typeof model === 'string' && Object.hasOwn(chatModelParams, model)
}

/**
 * Throws a `TypeError` unless gpt-tokenizer knows the model, so an options object with a
 * misspelt model fails when it is built rather than on the first turn that counts tokens.
 */
export function assertKnownChatModel(model: unknown, name: string): asserts model is string {
  if (!isKnownChatModel(model)) {
    throw new TypeError(
      `Expected \`${name}\` to be a chat model known to gpt-tokenizer (such as 'gpt-4o' or 'gpt-4o-mini'), got \`${show(model)}\`.`,
    )
  }
}

const counters = new Map<string, Promise<TokenCounter>>()

/**
 * The process-wide token counter of `model`, loading its encoding on first use
 * (a few hundred milliseconds, once). Throws a `TypeError` for an unknown model.
 */
export function getTokenCounter(model: string): Promise<TokenCounter> {
  if (!isKnownChatModel(model)) {
    try {
      assertKnownChatModel(model, 'model')
    } catch (error) {
      return Promise.reject(error)
    }
  }
  let counter = counters.get(model)
  if (counter === undefined) {
    counter = loadTokenizer(model).then((tokenizer) =>
      createTokenCounter(model, tokenizer),
    )
    counters.set(model, counter)
    counter.catch(() => counters.delete(model))
  }
  return counter
}

/**
 * A token counter over any tokenizer with `gpt-tokenizer`'s `encode`/`encodeChat`
 * (useful to count tokenizer calls in tests, or to plug in another encoding).
 *
 * @example
 * ```ts
 * import * as gpt4o from 'gpt-tokenizer/model/gpt-4o'
 * const counter = createTokenCounter('gpt-4o', gpt4o, { cacheBytes: 1024 * 1024 })
 * ```
 */
export function createTokenCounter(model: string, tokenizer: Tokenizer, options: TokenCounterOptions = {}): TokenCounter {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, ['cacheBytes'], 'options')
  const { cacheBytes = TOKEN_CACHE_BYTES } = options
  assertPositiveInteger(cacheBytes, 'cacheBytes')
  const primingTokens = tokenizer.encodeChat([]).length
  const cache = new TokenCountCache(cacheBytes)
  const overheadCache = new Map<string, number>()

  function encodeSlice(text: string, start: number, end: number, slice: number): number {
    // A long text brings more new pre-tokens than gpt-tokenizer's merge cache holds;
    // emptied every MERGE_CACHE_SLICES slices, the cache never fills up and never
    // has to evict, which is what makes a single call slow (see `Tokenizer`).
    if (slice % MERGE_CACHE_SLICES === 0 && text.length > MERGE_CACHE_SLICES * SLICE_CHARS) tokenizer.clearMergeCache?.()
    return tokenizer.encode(start === 0 && end === text.length ? text : text.slice(start, end), PLAIN_TEXT).length
  }

  function contentTokens(text: string): number {
    if (text.length === 0) return 0
    const key = cache.keyOf(text)
    const cached = cache.get(key)
    if (cached !== undefined && cached >= 0) return cached
    let tokens = 0
    for (let start = 0, slice = 0; start < text.length; slice++) {
      const { end, forced } = sliceEnd(text, start)
      tokens += encodeSlice(text, start, end, slice) + (forced ? FORCED_CUT_MARGIN_TOKENS : 0)
      start = end
    }
    cache.set(key, tokens)
    return tokens
  }

  async function contentTokensAsync(text: string, limit: number, signal: AbortSignal | undefined): Promise<number> {
    if (text.length === 0) return 0
    const key = cache.keyOf(text)
    const cached = cache.get(key)
    if (cached !== undefined && (cached >= 0 || -cached > limit)) return Math.abs(cached)
    let tokens = 0
    for (let start = 0, slice = 0; start < text.length; slice++) {
      const paused = pace(signal)
      if (paused !== undefined) await paused
      const { end, forced } = sliceEnd(text, start)
      tokens += encodeSlice(text, start, end, slice) + (forced ? FORCED_CUT_MARGIN_TOKENS : 0)
      start = end
      if (tokens > limit && start < text.length) {
        // Partial sums never exceed the full count, so this is a lower bound worth keeping.
        if (cached === undefined || tokens > -cached) cache.set(key, -tokens)
        return tokens
      }
    }
    cache.set(key, tokens)
    return tokens
  }

  function roleOverhead(role: string): number {
    let tokens = overheadCache.get(role)
    if (tokens === undefined) {
      tokens = tokenizer.encodeChat([{ role, content: '' }]).length - primingTokens
      overheadCache.set(role, tokens)
    }
    return tokens
  }

  // The chat format writes `name` where it would write the role, so a named message
  // costs the role's framing with the name's tokens in place of the role's. The name
  // is encoded as plain text: it may contain special-token markup.
  function overhead(role: string, name: string | undefined): number {
    const base = roleOverhead(role)
    return name === undefined ? base : base - contentTokens(role) + contentTokens(name)
  }

  function count(message: Message): number {
    let tokens = overhead(message.role, message.name) + contentTokens(message.content)
    if (message.toolCalls !== undefined) {
      for (const call of message.toolCalls) {
        tokens += contentTokens(call.name) + contentTokens(call.arguments) + TOOL_CALL_OVERHEAD_TOKENS
      }
    }
    return tokens
  }

  async function countAsync(message: Message, limit: number, signal: AbortSignal | undefined): Promise<number> {
    let tokens = roleOverhead(message.role)
    if (message.name !== undefined) {
      tokens += (await contentTokensAsync(message.name, Infinity, signal)) - contentTokens(message.role)
    }
    tokens += await contentTokensAsync(message.content, limit - tokens, signal)
    if (message.toolCalls !== undefined) {
      for (const call of message.toolCalls) {
        if (tokens > limit) break
        tokens += (await contentTokensAsync(call.name, limit - tokens, signal)) + TOOL_CALL_OVERHEAD_TOKENS
        tokens += await contentTokensAsync(call.arguments, limit - tokens, signal)
      }
    }
    return tokens
  }

  const counter: TokenCounter = {
    model,
    primingTokens,
    count,
    countText: contentTokens,
    countRequest(messages) {
      let total = primingTokens
      for (const message of messages) total += count(message)
      return total
    },
    cacheStats: () => ({ entries: cache.size, bytes: cache.bytes, maxBytes: cache.maxBytes }),
    countAsync(message, options) {
      try {
        const { limit, signal } = countOptions(options)
        if (!fitsOneSlice(message)) return countAsync(message, limit, signal)
        // A short message is one bounded tokenizer call at most: counted in place, after
        // yielding if the work before it already held the loop long enough.
        const paused = pace(signal)
        return paused === undefined ? Promise.resolve(count(message)) : paused.then(() => count(message))
      } catch (error) {
        // Bad options and an aborted signal reject, as every other failure of this method does.
        return Promise.reject(error as Error)
      }
    },
    async countRequestAsync(messages, options) {
      const { limit, signal } = countOptions(options)
      let total = primingTokens
      for (const message of messages) {
        if (total > limit) break
        total += await counter.countAsync(message, { limit: limit - total, signal })
      }
      return total
    },
  }
  return counter
}

/** `true` when all the text of `message` together is at most one slice long: one bounded tokenizer call at most. */
export function fitsOneSlice(message: Message): boolean {
  let length = message.content.length + (message.name?.length ?? 0)
  for (const call of message.toolCalls ?? []) length += call.name.length + call.arguments.length
  return length <= SLICE_CHARS
}

function countOptions(options: CountOptions | undefined): { limit: number; signal: AbortSignal | undefined } {
  if (options === undefined) return { limit: Infinity, signal: undefined }
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, ['limit', 'signal'], 'options')
  const { limit = Infinity, signal } = options
  if (limit !== Infinity) assertNonNegativeInteger(limit, 'limit')
  if (signal !== undefined && !(signal instanceof AbortSignal)) {
    throw new TypeError(`Expected \`signal\` to be an AbortSignal, got \`${show(signal)}\`.`)
  }
  return { limit, signal }
}
