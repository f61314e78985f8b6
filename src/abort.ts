/**
 * Waiting under an `AbortSignal`. The pipeline never trusts the code it waits on
 * (a store, a provider, a middleware) to honour the turn's signal: it stops
 * waiting itself, so a turn settles on time whatever that code does.
 */

/**
 * Settles like `promise`, or rejects with `signal.reason` as soon as `signal`
 * aborts, whichever comes first. `promise` keeps running: a caller that stops
 * waiting for it must still handle its outcome, and this function does (a late
 * rejection is not left unhandled).
 */
export function raceSignal<T>(promise: Promise<T>, signal: AbortSignal): Promise<T> {
  if (signal.aborted) {
    promise.catch(ignore)
    return Promise.reject(signal.reason)
  }
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      promise.catch(ignore)
      reject(signal.reason)
    }
    signal.addEventListener('abort', onAbort, { once: true })
    promise.then(
      (value) => {
        signal.removeEventListener('abort', onAbort)
        resolve(value)
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/** Resolves after `ms` milliseconds, or rejects with `signal.reason` once it aborts (clearing the timer). */
export function sleep(ms: number, signal: AbortSignal): Promise<void> {
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => {
      clearTimeout(timer)
      reject(signal.reason)
    }
    const timer = setTimeout(() => {
      signal.removeEventListener('abort', onAbort)
      resolve()
    }, ms)
    signal.addEventListener('abort', onAbort, { once: true })
  })
}

/**
 * Resolves with `'done'` once `promise` resolves (rejects with its error), or
 * with `'released'` shortly after `signal` aborts if `promise` is still pending
 * then. "Shortly": after the current macrotask, so code that reacts to the abort
 * in the same tick (a save that turns an abort into `StateSaveError`, a partial
 * reply) still settles the turn with its own outcome; code that ignores the
 * signal is left behind. Without a signal, it waits for `promise`.
 */
export function settleBy(promise: Promise<unknown>, signal: AbortSignal | undefined): Promise<'done' | 'released'> {
  return new Promise((resolve, reject) => {
    let grace: NodeJS.Immediate | undefined
    const onAbort = () => {
      grace = setImmediate(() => resolve('released'))
    }
    if (signal?.aborted === true) onAbort()
    else signal?.addEventListener('abort', onAbort, { once: true })
    promise.then(
      () => {
        signal?.removeEventListener('abort', onAbort)
        if (grace !== undefined) clearImmediate(grace)
        resolve('done')
      },
      (error: unknown) => {
        signal?.removeEventListener('abort', onAbort)
        if (grace !== undefined) clearImmediate(grace)
        reject(error)
      },
    )
  })
}

/**
 * A turn's deadline: one timer that, after `ms`, calls `onExpire` with a
 * `TimeoutError`. Its own AbortSignal is made only when asked for (rarely: a
 * streamed turn cut short by its caller waits for its partial save until the
 * deadline), since creating one on every turn costs more than the timer.
 */
export class Deadline {
  readonly #ms: number
  readonly #timer: NodeJS.Timeout
  #reason: DOMException | undefined
  #controller: AbortController | undefined

  constructor(ms: number, onExpire: (reason: DOMException) => void) {
    this.#ms = ms
    this.#timer = setTimeout(() => {
      const reason = new DOMException(`timed out after ${this.#ms} ms`, 'TimeoutError')
      this.#reason = reason
      this.#controller?.abort(reason)
      onExpire(reason)
    }, ms)
  }

  get expired(): boolean {
    return this.#reason !== undefined
  }

  /** Aborts when the deadline passes (already aborted if it has). */
  get signal(): AbortSignal {
    if (this.#controller === undefined) {
      this.#controller = new AbortController()
      if (this.#reason !== undefined) this.#controller.abort(this.#reason)
    }
    return this.#controller.signal
  }

  clear(): void {
    clearTimeout(this.#timer)
  }
}

function ignore(): void {}
