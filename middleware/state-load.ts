import type { Middleware } from '../src/context.js'
import type { Message, StateStore } from '../src/types.js'
import { named } from '../src/compose.js'
import { StateLoadError } from '../src/errors.js'
import { isRetryableStoreError as retryable } from '../src/retryable.js'
import { assertKnownKeys, assertOneOf, assertOptionsObject, assertPositiveInteger } from '../src/validate.js'
import { assertStore } from '../src/stores/assert-store.js'
import { assertRetryOptions, retryAfterFirstFailure, retrySchedule, type RetryOptions, type RetrySchedule } from '../src/retry-schedule.js'

/** The `p-retry` options `state-load` accepts: the same shape as `SaveRetryOptions`. */
export type LoadRetryOptions = RetryOptions

/**
 * A load is idempotent, so a dropped connection or a timeout is worth another try;
 * the schedule is short because the turn (and its user) is waiting: about 0.5 s at most
 * besides the attempts themselves, and never past the turn's deadline.
 */
export const DEFAULT_LOAD_RETRY: Readonly<RetrySchedule> = Object.freeze({
  retries: 3,
  minTimeout: 50,
  maxTimeout: 250,
  factor: 2,
  randomize: true,
})

/** How `stateLoad` reads a session: how much of it, and what a failed load does to the turn. */
export interface StateLoadOptions {
  /**
   * Load only the newest `last` messages: the tail the trimming policies can
   * keep. The pipeline sets it to `contextWindow.maxMessages`, so a turn's load
   * does not grow with the session's length.
   * @default undefined (the whole history)
   */
  last?: number | undefined
  /**
   * `'throw'` rejects the turn with `StateLoadError`; `'start-fresh'` continues
   * with an empty history and emits `state:load-failed`.
   * @default 'throw'
   */
  onError?: 'throw' | 'start-fresh' | undefined
  /**
   * Retries of a load that failed with a transient error (a dropped connection, a
   * timeout), with `p-retry`; corrupt data (`StateCorruptError`) and bad input are
   * never retried, and no retry starts once the turn is aborted or past its deadline.
   * Each retry emits `state:load-retry`. `{ retries: 0 }` turns retries off.
   * @default { retries: 3, minTimeout: 50, maxTimeout: 250, factor: 2, randomize: true }
   */
  retry?: LoadRetryOptions | undefined
}

const STATE_LOAD_KEYS: readonly (keyof StateLoadOptions)[] = ['last', 'onError', 'retry']

/**
 * Loads the session's history into `ctx.history` and puts it into the provider
 * view, after the pinned system messages and before the new input.
 *
 * When the tail cut through a tool group (it starts with a tool message), the
 * load is widened until the group is whole, so the newest group can be kept.
 *
 * @example
 * ```ts
 * Pipeline.from([stateLoad(store, { last: 20 }), providerCall(provider), stateSave(store)])
 * ```
 */
export function stateLoad(store: StateStore, options: StateLoadOptions = {}): Middleware {
  assertStore(store, 'store')
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, STATE_LOAD_KEYS, '')
  const { last, onError = 'throw', retry } = options
  if (last !== undefined) assertPositiveInteger(last, 'last')
  assertOneOf(onError, ['throw', 'start-fresh'], 'onError')
  assertRetryOptions(retry, 'retry')
  const schedule = retrySchedule(DEFAULT_LOAD_RETRY, retry)

  return named('state-load', async function stateLoadMiddleware(ctx, next) {
    let history: Message[]
    try {
      try {
        history = await loadTail(store, ctx.sessionId, last, ctx.signal)
      } catch (error) {
        // The common case (first attempt succeeds) stays free of p-retry's setup.
        if (!retryable(error) || schedule.retries === 0 || ctx.signal.aborted) throw error
        ctx.emit('state:load-retry', { attempt: 1, retriesLeft: schedule.retries, error })
        history = await retryAfterFirstFailure(() => loadTail(store, ctx.sessionId, last, ctx.signal), schedule, ctx.signal, (attempt, retriesLeft, error) =>
          ctx.emit('state:load-retry', { attempt, retriesLeft, error }),
        )
      }
    } catch (error) {
      // Past the deadline the turn fails as aborted (the pipeline reports it), not as a load failure.
      if (ctx.signal.aborted && error === ctx.signal.reason) throw error
      ctx.emit('state:load-failed', { error, action: onError })
      if (onError === 'throw') throw new StateLoadError(ctx.sessionId, { cause: error })
      history = []
    }
    ctx.history = history
    ctx.emit('state:loaded', { count: history.length, last })
    // Tool results whose call is not in the history (the store's own cap cut the
    // group) cannot be sent: the view starts after them.
    let from = 0
    while (from < history.length && history[from]?.role === 'tool') from++
    if (from < history.length) {
      // Before the turn's first new message (a turn may add several), else after the pinned part.
      const firstNew = ctx.messages.indexOf(ctx.newMessages[0] ?? ctx.input)
      const at = firstNew === -1 ? ctx.pinned : firstNew
      ctx.messages.splice(at, 0, ...(from === 0 ? history : history.slice(from)))
    }
    await next()
  })
}

async function loadTail(store: StateStore, sessionId: string, last: number | undefined, signal: AbortSignal): Promise<Message[]> {
  if (last === undefined) return store.load(sessionId, { signal })
  let want = last
  for (;;) {
    const tail = await store.load(sessionId, { last: want, signal })
    // A full tail that starts inside a tool group: widen until the group is whole.
    if (tail.length < want || tail[0]?.role !== 'tool') return tail
    want *= 2
  }
}
