import { chatModelParams } from 'gpt-tokenizer/mapping'
import type { Message } from './types.js'
import { show } from './validate.js'
import { loadTokenizer } from './tokenizer-loaders.js'

/** The part of a `gpt-tokenizer` model module that token counting uses. */
export interface Tokenizer {
  encode(text: string, options?: { disallowedSpecial?: Set<string> }): number[]
  encodeChat(chat: ReadonlyArray<{ role?: string; name?: string; content: string }>): number[]
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
 * Content counts are cached by content string (one cache per model per process),
 * so a message is tokenized once however many turns it stays in view, and a
 * changed message is counted anew.
 */
export interface TokenCounter {
  readonly model: string
  /** Tokens that prime the reply (`<|im_start|>assistant<|im_sep|>`): counted once per request. */
  readonly primingTokens: number
  count(message: Message): number
  /** Tokens of a bare text, without chat-format overhead. */
  countText(text: string): number
  /** Sum of `count` over `messages` plus `primingTokens`: the size of a request. */
  countRequest(messages: readonly Message[]): number
}

/** Estimated per-call cost of a tool call's framing, on top of its name and arguments. */
export const TOOL_CALL_OVERHEAD_TOKENS = 3

/** How many distinct contents each model's cache keeps before evicting the oldest. */
export const TOKEN_CACHE_SIZE = 50_000

const PLAIN_TEXT = { disallowedSpecial: new Set<string>() }

/** `true` when `gpt-tokenizer` knows the chat format of `model`. */
export function isKnownChatModel(model: unknown): model is string {
  return typeof model === 'string' && Object.hasOwn(chatModelParams, model)
}

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
 */
export function createTokenCounter(model: string, tokenizer: Tokenizer, cacheSize = TOKEN_CACHE_SIZE): TokenCounter {
  const primingTokens = tokenizer.encodeChat([]).length
  const contentCache = new Map<string, number>()
  const overheadCache = new Map<string, number>()

  function contentTokens(text: string): number {
    if (text.length === 0) return 0
    let tokens = contentCache.get(text)
    if (tokens === undefined) {
      tokens = tokenizer.encode(text, PLAIN_TEXT).length
      // Insertion order is age: evicting the first key drops the oldest entry.
      if (contentCache.size >= cacheSize) contentCache.delete(contentCache.keys().next().value as string)
      contentCache.set(text, tokens)
    }
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

  return {
    model,
    primingTokens,
    count,
    countText: contentTokens,
    countRequest(messages) {
      let total = primingTokens
      for (const message of messages) total += count(message)
      return total
    },
  }
}
