/**
 * The built-in middleware factories, for a stack of your own (`Pipeline.from`) or to
 * replace one of the defaults; `new Pipeline()` assembles them for you.
 *
 * @module promptline/middleware
 */
export { stateLoad, DEFAULT_LOAD_RETRY, type LoadRetryOptions, type StateLoadOptions } from './state-load.js'
export { contextWindow, type ContextWindowOptions } from './context-window.js'
export { tokenTruncation, EXACT_OVERFLOW_TOKENS, type TokenTruncationOptions } from './token-truncation.js'
export { providerCall, type ProviderCallOptions } from './provider-call.js'
export {
  stateSave,
  DEFAULT_SAVE_RETRY,
  type SaveRetryOptions,
  type StateSaveOptions,
} from './state-save.js'
export type { RetryOptions, RetrySchedule } from '../src/retry-schedule.js'
