/**
 * `promptline/utils`: the helpers the built-in middleware, stores and providers use,
 * for authors of custom ones. See the README's Utilities section.
 *
 * @module promptline/utils
 */
export { resultOf, turnAbortError } from './context.js'
export { copyMessage, copyMessages } from './messages.js'
export { trimView, startOnUser } from './trim.js'
export { viewProblem } from './view-check.js'
export {
  createTokenCounter,
  isKnownChatModel,
  assertKnownChatModel,
  TOOL_CALL_OVERHEAD_TOKENS,
  TOKEN_CACHE_BYTES,
  TOKEN_CACHE_KEY_CHARS,
  SLICE_CHARS,
  FORCED_CUT_MARGIN_TOKENS,
  type CountOptions,
  type TokenCounterOptions,
  type Tokenizer,
} from './tokens.js'
export { resolvePrice, costOf, assertPricingTable } from './pricing.js'
export {
  assertSessionId,
  assertMessages,
  assertToolDefinitions,
  assertPositiveInteger,
  assertNonNegativeInteger,
  assertNonNegativeNumber,
  assertNonEmptyString,
  assertFunction,
  assertOneOf,
  assertOptionsObject,
  assertKnownKeys,
  assertDuration,
  MAX_TIMER_MS,
  messageProblem,
  MAX_SESSION_ID_BYTES,
  ROLES,
} from './validate.js'
export { assertStore } from './stores/assert-store.js'
export { assertProvider } from './providers/assert-provider.js'
export { copyMetadata, MAX_METADATA_BYTES, MAX_METADATA_DEPTH } from './metadata.js'
export { responseProblem, chunkProblem } from './providers/check-response.js'
export { isRetryableStoreError } from './retryable.js'
export { MIN_TOKENS_PER_MESSAGE } from './pipeline.js'
