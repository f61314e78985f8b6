export { Pipeline, BUILT_IN_MIDDLEWARE, type PipelineOptions, type ChainOptions, type UseOptions } from './pipeline.js'
export { compose, named, type ComposeHooks } from './compose.js'
export {
  resultOf,
  turnAbortError,
  type ExecutionContext,
  type ExecuteOptions,
  type TurnOptions,
  type ExecuteResult,
  type Middleware,
  type StreamChunk,
  type TrimReport,
} from './context.js'
export { PipelineEmitter, type PipelineEvents, type PipelineEventName, type EventPayload, type TurnEvent } from './events.js'
export {
  PromptlineError,
  StateLoadError,
  StateSaveError,
  StateCorruptError,
  SessionNotFoundError,
  SessionExistsError,
  ProviderError,
  ContextOverflowError,
  PipelineClosedError,
  StoreClosedError,
  AbortError,
} from './errors.js'
export type {
  Role,
  Message,
  ToolCall,
  Usage,
  StateStore,
  LoadOptions,
  AppendOptions,
  ListOptions,
  Provider,
  ProviderRequest,
  ProviderResponse,
  ProviderChunk,
  ToolDefinition,
} from './types.js'
export { copyMessage, copyMessages, pinnedCount, unitStarts } from './messages.js'
export { trimView } from './trim.js'
export {
  getTokenCounter,
  createTokenCounter,
  isKnownChatModel,
  assertKnownChatModel,
  TOOL_CALL_OVERHEAD_TOKENS,
  TOKEN_CACHE_SIZE,
  type TokenCounter,
  type Tokenizer,
} from './tokens.js'
export { DEFAULT_PRICING, resolvePrice, costOf, assertPricingTable, type ModelPrice, type PricingTable } from './pricing.js'
// The validators the built-in middleware use, for your own middleware, stores and providers.
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
  messageProblem,
  show,
  MAX_SESSION_ID_BYTES,
  ROLES,
} from './validate.js'
export { assertStore } from './stores/assert-store.js'
export { assertProvider } from './providers/assert-provider.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export { RedisStore, REDIS_CLIENT_OPTIONS, type RedisStoreOptions, type RedisSessionKeys } from './stores/redis.js'
export { MockProvider, type MockProviderOptions, type MockReply } from './providers/mock.js'
export { OpenAIProvider, type OpenAIProviderOptions, type MaxTokensParam } from './providers/openai.js'
export { FallbackProvider, isRetryableProviderError, type FallbackProviderOptions, type FallbackInfo } from './providers/fallback.js'
