/**
 * The root entry: the pipeline and what every program needs. It loads no provider SDK
 * and no Redis client; those live in `promptline/openai` and `promptline/redis`.
 *
 * @module promptline
 */
export {
  Pipeline,
  BUILT_IN_MIDDLEWARE,
  type PipelineOptions,
  type ChainOptions,
  type UseOptions,
  type ContextWindowPolicy,
  type TokenLimitPolicy,
} from './pipeline.js'
export type { ToolResultsOptions } from '../middleware/tool-results.js'
export type { SummaryOptions } from './summarizer.js'
export { compose, named, type ComposeHooks } from './compose.js'
export type {
  ExecutionContext,
  ExecuteOptions,
  TurnOptions,
  ExecuteResult,
  Middleware,
  StreamChunk,
  TrimReport,
} from './context.js'
export {
  PipelineEmitter,
  type PipelineEvents,
  type PipelineEventName,
  type PipelineListeners,
  type EventPayload,
  type TurnEvent,
} from './events.js'
export {
  PromptlineError,
  StateLoadError,
  StateSaveError,
  StateCorruptError,
  SessionNotFoundError,
  SessionExistsError,
  SessionBusyError,
  LeaseLostError,
  ProviderError,
  ContextOverflowError,
  PipelineClosedError,
  StoreClosedError,
  AbortError,
  ViewInvariantError,
} from './errors.js'
export type {
  Role,
  Message,
  Reasoning,
  ToolCall,
  Usage,
  StateStore,
  LoadOptions,
  StoreFeatures,
  SessionSummary,
  LoadedSession,
  AppendOptions,
  SessionLease,
  AcquireLeaseOptions,
  ListOptions,
  Provider,
  ProviderRequest,
  ProviderResponse,
  ProviderChunk,
  ToolDefinition,
} from './types.js'
export { getTokenCounter, type TokenCounter } from './tokens.js'
export { DEFAULT_PRICING, type ModelPrice, type PricingTable } from './pricing.js'
export { MemoryStore, type MemoryStoreOptions } from './stores/memory.js'
export { FallbackProvider, isRetryableProviderError, type FallbackProviderOptions, type FallbackInfo } from './providers/fallback.js'
