import pRetry from 'p-retry'
import { sleep } from './abort.js'
import { isRetryableStoreError } from './retryable.js'
import { assertDuration, assertKnownKeys, assertNonNegativeInteger, assertOptionsObject, definedOnly, show } from './validate.js'

/** `p-retry` options of a retried store call (`saveRetry`, `loadRetry`). */
export interface RetryOptions {
  /** Retries after the first attempt. */
  retries?: number | undefined
  /** Milliseconds before the first retry (an integer, at most 2^31 - 1). */
  minTimeout?: number | undefined
  /** Upper bound of the delay between retries, in milliseconds (an integer, at most 2^31 - 1). */
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

/** Retry options with every default filled in. */
export type RetrySchedule = { [K in Exclude<keyof RetryOptions, 'maxRetryTime'>]-?: NonNullable<RetryOptions[K]> } &
  Pick<RetryOptions, 'maxRetryTime'>

const RETRY_KEYS: readonly (keyof RetryOptions)[] = ['retries', 'minTimeout', 'maxTimeout', 'factor', 'randomize', 'maxRetryTime']

/** Validates retry options up front, as p-retry would only on first use. */
export function assertRetryOptions(value: unknown, name: string): asserts value is RetryOptions | undefined {
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

/** `options` over `defaults`; a `minTimeout` above the default `maxTimeout` raises the bound rather than being silently capped. */
export function retrySchedule(defaults: Readonly<RetrySchedule>, options: RetryOptions | undefined): RetrySchedule {
  const schedule: RetrySchedule = { ...defaults, ...definedOnly(options) }
  if (options?.maxTimeout === undefined) schedule.maxTimeout = Math.max(schedule.maxTimeout, schedule.minTimeout)
  return schedule
}

/**
 * Attempts 2 and later of a store call whose first attempt failed, on the schedule
 * `p-retry` would have used from the first: wait the first delay, then hand the
 * rest to `p-retry`. Keeping the first attempt outside keeps p-retry's setup off
 * the happy path. Every wait and retry stops at `signal` (rejecting with its
 * reason); only errors `isRetryableStoreError` accepts are retried. `onRetry` is
 * told of each retry about to start.
 */
export async function retryAfterFirstFailure<T>(
  attempt: () => Promise<T>,
  schedule: RetrySchedule,
  signal: AbortSignal,
  onRetry: (attempt: number, retriesLeft: number, error: unknown) => void,
): Promise<T> {
  const started = performance.now()
  const jitter = schedule.randomize ? 1 + Math.random() : 1
  await sleep(Math.min(Math.round(jitter * schedule.minTimeout), schedule.maxTimeout), signal)
  const spent = performance.now() - started
  const maxRetryTime = schedule.maxRetryTime === undefined ? Number.POSITIVE_INFINITY : Math.max(0, schedule.maxRetryTime - spent)
  return pRetry(attempt, {
    signal,
    retries: schedule.retries - 1,
    minTimeout: schedule.minTimeout * schedule.factor,
    maxTimeout: schedule.maxTimeout,
    factor: schedule.factor,
    randomize: schedule.randomize,
    maxRetryTime,
    shouldRetry: ({ error }) => isRetryableStoreError(error) && !signal.aborted,
    onFailedAttempt: ({ error, attemptNumber, retriesLeft }) => {
      if (retriesLeft > 0 && isRetryableStoreError(error) && !signal.aborted) onRetry(attemptNumber + 1, retriesLeft, error)
    },
  })
}
