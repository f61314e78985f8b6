import pRetry from 'p-retry'
import type { ExecutionContext, Middleware } from '../src/context.js'
import { resultOf } from '../src/context.js'
import type { StateStore } from '../src/types.js'
import { named } from '../src/compose.js'
import { StateSaveError } from '../src/errors.js'
import { isRetryableStoreError as retryable } from '../src/retryable.js'
import { assertStore } from '../src/stores/assert-store.js'
import { raceSignal, sleep } from '../src/abort.js'
import { trackWrite } from '../src/turn-context.js'
import {
  assertDuration,
  assertKnownKeys,
  assertNonNegativeInteger,
  assertOneOf,
  assertOptionsObject,
  definedOnly,
  show,
} from '../src/validate.js'

/** The `p-retry` options `state-save` accepts. */
export interface SaveRetryOptions {
  /** Retries after the first attempt. @default 3 */
  retries?: number | undefined
  /** Milliseconds before the first retry (an integer, at most 2^31 - 1). @default 100 */
  minTimeout?: number | undefined
  /** Upper bound of the delay between retries, in milliseconds (an integer, at most 2^31 - 1). @default 2000 */
  maxTimeout?: number | undefined
  /** Exponential back-off factor. @default 2 */
  factor?: number | undefined
  /** Multiply delays by a random factor between 1 and 2. @default true */
  randomize?: boolean | undefined
  /**
   * Give up once this many milliseconds have passed (an integer up to 2^31 - 1, or
   * `Infinity`). The turn's deadline (`timeoutMs`, its signal) ends retries sooner.
   * @default Infinity
   */
  maxRetryTime?: number | undefined
}

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

type RetrySchedule = { [K in Exclude<keyof SaveRetryOptions, 'maxRetryTime'>]-?: NonNullable<SaveRetryOptions[K]> } & Pick<SaveRetryOptions, 'maxRetryTime'>

export const DEFAULT_SAVE_RETRY: Readonly<RetrySchedule> = Object.freeze({
  retries: 3,
  minTimeout: 100,
  maxTimeout: 2000,
  factor: 2,
  randomize: true,
})

const RETRY_KEYS: readonly (keyof SaveRetryOptions)[] = ['retries', 'minTimeout', 'maxTimeout', 'factor', 'randomize', 'maxRetryTime']
const STATE_SAVE_KEYS: readonly (keyof StateSaveOptions)[] = ['retry', 'onError']

/** Validates `saveRetry` up front, as p-retry would only on first use. */
export function assertSaveRetryOptions(value: unknown, name: string): asserts value is SaveRetryOptions | undefined {
  assertOptionsObject(value, name)
  if (value === undefined) return
  assertKnownKeys(value, RETRY_KEYS, name)
  const { retries, minTimeout, maxTimeout, factor, randomize, maxRetryTime } = value as Record<string, unknown>
  if (retries !== undefined) assertNonNegativeInteger(retries, `${name}.retries`)
  // Delays are timers: beyond Node's limit they would fire at once instead of late.
  if (minTimeout !== undefined) assertDuration(minTimeout, `${name}.minTimeout`, 0)
  if (maxTimeout !== undefined) assertDuration(maxTimeout, `${name}.maxTimeout`, 0)
  if (maxRetryTime !== undefined && maxRetryTime !== Number.POSITIVE_INFINITY) {
    assertDuration(maxRetryTime, `${name}.maxRetryTime`, 0)
  }
  if (factor !== undefined && (typeof factor !== 'number' || !Number.isFinite(factor) || factor < 1)) {
    throw new TypeError(`Expected \`${name}.factor\` to be a number of at least 1, got \`${show(factor)}\`.`)
  }
  if (randomize !== undefined && typeof randomize !== 'boolean') {
    throw new TypeError(`Expected \`${name}.randomize\` to be a boolean, got \`${show(randomize)}\`.`)
  }
  if (minTimeout !== undefined && maxTimeout !== undefined && (minTimeout as number) > (maxTimeout as number)) {
    throw new TypeError(`Expected \`${name}.minTimeout\` (${minTimeout}) to be at most \`${name}.maxTimeout\` (${maxTimeout}).`)
  }
}

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
  assertSaveRetryOptions(retry, 'retry')
  assertOneOf(onError, ['throw', 'warn'], 'onError')
  const retryOptions: RetrySchedule = { ...DEFAULT_SAVE_RETRY, ...definedOnly(retry) }
  // A minTimeout above the default maxTimeout raises the bound rather than being silently capped.
  if (retry?.maxTimeout === undefined) retryOptions.maxTimeout = Math.max(retryOptions.maxTimeout, retryOptions.minTimeout)

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
          ctx.storedLength = await retryAppend(store, ctx, retryOptions, () => attempts++)
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
    write = store.append(ctx.sessionId, ctx.newMessages, { idempotencyKey: ctx.executionId, ...(signal && { signal }) })
  } catch (error) {
    return Promise.reject(error)
  }
  trackWrite(ctx, write)
  return signal === undefined ? write : raceSignal(write, signal)
}

/**
 * Attempts 2 and later of a save, on the same schedule `p-retry` would have used
 * from the first: wait the first delay, then hand the rest to `p-retry`.
 */
async function retryAppend(
  store: StateStore,
  ctx: ExecutionContext,
  retry: RetrySchedule,
  countAttempt: () => void,
): Promise<number> {
  const started = performance.now()
  const jitter = retry.randomize ? 1 + Math.random() : 1
  await sleep(Math.min(Math.round(jitter * retry.minTimeout), retry.maxTimeout), ctx.signal)
  const spent = performance.now() - started
  const maxRetryTime = retry.maxRetryTime === undefined ? Number.POSITIVE_INFINITY : Math.max(0, retry.maxRetryTime - spent)
  return pRetry(
    () => {
      countAttempt()
      return appendOnce(store, ctx, ctx.signal)
    },
    {
      signal: ctx.signal,
      retries: retry.retries - 1,
      minTimeout: retry.minTimeout * retry.factor,
      maxTimeout: retry.maxTimeout,
      factor: retry.factor,
      randomize: retry.randomize,
      maxRetryTime,
      shouldRetry: ({ error }) => retryable(error),
      onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
        if (retriesLeft > 0 && retryable(error) && !ctx.signal.aborted) {
          ctx.emit('state:save-retry', { attempt: attemptNumber + 1, retriesLeft, error })
        }
      },
    },
  )
}
