/**
 * The built-in middleware factories, for a stack of your own (`Pipeline.from`) or to
 * replace one of the defaults; `new Pipeline()` assembles them for you.
 *
 * @module promptline/middleware
 */
export { stateLoad, DEFAULT_LOAD_RETRY, type LoadRetryOptions, type StateLoadOptions } from './state-load.js'
export { contextWindow, type ContextWindowOptions } from './context-window.js'
export {
  toolResults,
  DEFAULT_TOOL_RESULT_PLACEHOLDER,
  DEFAULT_TOOL_RESULTS_KEEP_LAST,
  type ToolResultsOptions,
} from './tool-results.js'
export { tokenTruncation, EXACT_OVERFLOW_TOKENS, type TokenTruncationOptions } from './token-truncation.js'
export { providerCall, type ProviderCallOptions } from './provider-call.js'
export {
  stateSave,
  DEFAULT_SAVE_RETRY,
  type SaveRetryOptions,
  type StateSaveOptions,
} from './state-save.js'
export type { RetryOptions, RetrySchedule } from '../src/retry-schedule.js'
export {
  rollingSummary,
  isSummaryMessage,
  DEFAULT_SUMMARY_AFTER,
  DEFAULT_SUMMARY_PROMPT,
  DEFAULT_SUMMARY_TIMEOUT_MS,
  SUMMARY_HEADER,
  SUMMARY_MESSAGE_CHARS,
  type RollingSummaryOptions,
  type SummaryOptions,
} from './summary.js'
