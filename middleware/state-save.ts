import type { ExecutionContext, Middleware } from '../src/context.js'
import { resultOf } from '../src/context.js'
import type { StateStore } from '../src/types.js'
import { named } from '../src/compose.js'
import { StateSaveError } from '../src/errors.js'
import { isRetryableStoreError as retryable } from '../src/retryable.js'
import { assertStore } from '../src/stores/assert-store.js'
import { raceSignal } from '../src/abort.js'
import { trackWrite } from '../src/turn-context.js'
import { assertRetryOptions, retryAfterFirstFailure, retrySchedule, type RetryOptions, type RetrySchedule } from '../src/retry-schedule.js'
import { assertKnownKeys, assertOneOf, assertOptionsObject } from '../src/validate.js'

/** The `p-retry` options `state-save` accepts. @default { retries: 3, minTimeout: 100, maxTimeout: 2000, factor: 2, randomize: true } */
export type SaveRetryOptions = RetryOptions

/** How hard `stateSave` tries to store a turn, and what the caller hears when it cannot. */
export interface StateSaveOptions {
  /** @default { retries: 3, minTimeout: 100, maxTimeout: 2000, factor: 2, randomize: true } */
  retry?: SaveRetryOptions | undefined
  /**
   * After the last retry, or when the turn's deadline (or signal) ends the save:
   * `'throw'` rejects the turn with `StateSaveError` (carrying the turn's `result`);
   * `'warn'` resolves with `saved: false` and emits `state:save-failed`. Either way
   * the reply the provider gave is never thrown away.
   * @default 'throw'
   */
  onError?: 'throw' | 'warn' | undefined
}

/**
 * The save retries when `saveRetry` is not set: longer than the load's, because the reply
 * already exists and losing it costs a model call, yet short enough (about 2 s) to ride out
 * a reconnection without holding the caller for long.
 */
export const DEFAULT_SAVE_RETRY: Readonly<RetrySchedule> = Object.freeze({
  retries: 3,
  minTimeout: 100,
  maxTimeout: 2000,
  factor: 2,
  randomize: true,
})

const STATE_SAVE_KEYS: readonly (keyof StateSaveOptions)[] = ['retry', 'onError']

/**
 * Appends the turn's new messages (input, tool messages, reply) to the store in
 * one `append` call once the provider has answered, retrying with `p-retry`. The
 * turn's execution id is the append's idempotency key, so a retry after a lost
 * acknowledgement never stores the turn twice. Nothing is stored when the turn
 * produced no reply or was aborted (unless a partial reply was kept on purpose).
 *
 * The save, its retries and the waits between them stop at the turn's signal: an
 * append in flight then may still land (it is idempotent), and the pipeline holds
 * the session's next turn until it has (see `docs/configuring-the-pipeline.md`).
 *
 * @example
 * ```ts
 * stateSave(store, { retry: { retries: 5, minTimeout: 50 }, onError: 'warn' })
 * ```
 */
export function stateSave(store: StateStore, options: StateSaveOptions = {}): Middleware {
  assertStore(store, 'store')
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, STATE_SAVE_KEYS, '')
  const { retry, onError = 'throw' } = options
  assertRetryOptions(retry, 'retry')
  assertOneOf(onError, ['throw', 'warn'], 'onError')
  const retryOptions = retrySchedule(DEFAULT_SAVE_RETRY, retry)

  return named('state-save', async function stateSaveMiddleware(ctx, next) {
    const aborted = ctx.signal.aborted && ctx.response?.metadata?.aborted !== true
    if (ctx.response !== undefined && !aborted && ctx.newMessages.length > 0) {
      const { sessionId, newMessages } = ctx
      let attempts = 1
      try {
        // A partial reply is saved because the turn was aborted: with the turn's
        // signal it could not be, so it gets one attempt of its own, no retries.
        const partial = ctx.signal.aborted
        try {
          ctx.storedLength = await appendOnce(store, ctx, partial ? undefined : ctx.signal)
        } catch (error) {
          // The common case (first attempt succeeds) stays free of p-retry's setup;
          // only a failure pays for the retry machinery.
          if (ctx.signal.aborted || !retryable(error) || retryOptions.retries === 0) throw error
          ctx.emit('state:save-retry', { attempt: 1, retriesLeft: retryOptions.retries, error })
          ctx.storedLength = await retryAfterFirstFailure(
            () => {
              attempts++
              return appendOnce(store, ctx, ctx.signal)
            },
            retryOptions,
            ctx.signal,
            (attempt, retriesLeft, error) => ctx.emit('state:save-retry', { attempt, retriesLeft, error }),
          )
        }
        ctx.saved = true
        ctx.emit('state:saved', { count: newMessages.length, storedLength: ctx.storedLength, attempts })
      } catch (error) {
        ctx.emit('state:save-failed', { error, attempts })
        if (onError === 'throw') throw new StateSaveError(sessionId, resultOf(ctx), { cause: error })
      }
    }
    await next()
  })
}

/**
 * One `append` of the turn, with its signal. The pipeline learns of the write (it
 * may outlive the turn), and the turn stops waiting for it at its deadline even if
 * the store ignores the signal.
 */
function appendOnce(store: StateStore, ctx: ExecutionContext, signal: AbortSignal | undefined): Promise<number> {
  let write: Promise<number>
  try {
    // Fenced by the session's lease, when the pipeline holds one: a turn whose lease
    // expired meanwhile must not interleave with the turn that took it over.
    const fence = ctx.lease?.fence
    write = store.append(ctx.sessionId, ctx.newMessages, {
      idempotencyKey: ctx.executionId,
      ...(signal && { signal }),
      ...(fence !== undefined && { fence }),
    })
  } catch (error) {
    return Promise.reject(error)
  }
  trackWrite(ctx, write)
  return signal === undefined ? write : raceSignal(write, signal)
}
