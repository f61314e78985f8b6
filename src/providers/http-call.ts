/**
 * What every HTTP provider on an official SDK needs: one call's cancellation and
 * idle timer, and the helpers that keep an API key out of errors and logs.
 * Imports no SDK, so `promptline` can load it without any provider package.
 */
import { inspect } from 'node:util'
import type { ProviderChunk, ProviderResponse } from '../types.js'
import { show } from '../validate.js'

/**
 * One call's cancellation: an internal controller the SDK listens to, linked to the
 * caller's signal (removed again at the end, so a long-lived signal collects no
 * listeners), plus the stream's idle timer.
 */
export class Call {
  readonly #controller = new AbortController()
  readonly #userSignal: AbortSignal | undefined
  readonly #idleMs: number
  #timer: ReturnType<typeof setTimeout> | undefined
  #rejectRace: ((reason: unknown) => void) | undefined
  timedOut = false
  sdkController: AbortController | undefined

  constructor(userSignal: AbortSignal | undefined, idleMs: number) {
    this.#userSignal = userSignal
    this.#idleMs = idleMs
    userSignal?.addEventListener('abort', this.#onAbort, { once: true })
  }

  get signal(): AbortSignal {
    return this.#controller.signal
  }

  get aborted(): boolean {
    return this.#userSignal?.aborted === true
  }

  get abortReason(): unknown {
    return this.#userSignal?.reason
  }

  throwIfAborted(): void {
    if (this.aborted) throw this.abortReason
  }

  /**
   * `promise`, or a rejection as soon as the caller aborts. An SDK notices an abort
   * only between its steps (not while it sleeps before a retry, e.g. a long
   * `Retry-After`), so the caller must not wait for it.
   */
  race<T>(promise: Promise<T>): Promise<T> {
    if (this.#userSignal === undefined) return promise
    promise.catch(noop) // settles later, unobserved, once the SDK sees the abort
    return new Promise<T>((resolve, reject) => {
      this.#rejectRace = reject
      promise.then(resolve, reject).finally(() => (this.#rejectRace = undefined))
    })
  }

  startIdleTimer(): void {
    this.#timer = setTimeout(() => {
      this.timedOut = true
      this.#abortRequest(new Error('stream idle timeout'))
    }, this.#idleMs)
  }

  stopIdleTimer(): void {
    clearTimeout(this.#timer)
  }

  /** Ends the call: aborts the HTTP request if it is still open, unlinks the caller's signal. */
  end(): void {
    clearTimeout(this.#timer)
    this.#userSignal?.removeEventListener('abort', this.#onAbort)
    this.#abortRequest(new Error('call ended'))
  }

  #abortRequest(reason: unknown): void {
    if (!this.#controller.signal.aborted) this.#controller.abort(reason)
    this.sdkController?.abort()
  }

  readonly #onAbort = (): void => {
    this.#abortRequest(this.#userSignal?.reason)
    this.#rejectRace?.(this.#userSignal?.reason)
  }
}

export function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/** `undefined`, `null`, `an array`, `a string`…: a value's kind without the value. */
export function typeName(value: unknown): string {
  if (value === undefined || value === null) return String(value)
  if (Array.isArray(value)) return 'an array'
  const type = typeof value
  return `${/^[aeiou]/.test(type) ? 'an' : 'a'} ${type}`
}

export function nonEmpty(value: string | undefined): string | undefined {
  return value === undefined || value === '' ? undefined : value
}

/** Throws a `TypeError` naming `name` unless `value` is an http(s) URL. */
export function assertHttpURL(value: unknown, name: string): asserts value is string {
  let ok = false
  if (typeof value === 'string') {
    try {
      const url = new URL(value)
      ok = url.protocol === 'http:' || url.protocol === 'https:'
    } catch {
      ok = false
    }
  }
  if (!ok) throw new TypeError(`Expected \`${name}\` to be an http(s) URL, got \`${show(value)}\`.`)
}

/** Throws a `TypeError` naming `apiKey` unless it is a non-empty string, without ever echoing it. */
export function assertApiKey(value: unknown, name = 'apiKey'): asserts value is string | undefined {
  if (value === undefined || (typeof value === 'string' && value.length > 0)) return
  const got = typeof value === 'string' ? '""' : value === null ? 'null' : `a ${typeof value}`
  throw new TypeError(`Expected \`${name}\` to be a non-empty string, got ${got}.`)
}

/** `message (cause's message (its cause's …))`, e.g. `Connection error. (fetch failed (connect ECONNREFUSED …))`. */
export function describeChain(error: unknown): string {
  const parts: string[] = []
  let current: unknown = error
  for (let depth = 0; depth < 4 && current !== undefined && current !== null; depth++) {
    const text = current instanceof Error ? current.message : String(current)
    if (text !== '' && !parts.includes(text)) parts.push(text)
    current = current instanceof Error ? current.cause : undefined
  }
  return parts.length === 0 ? 'unknown error' : parts.reduceRight((inner, outer) => `${outer} (${inner})`)
}

/** `text` with every occurrence of `secret` replaced. */
export function redactText(text: string, secret: string | undefined): string {
  return secret === undefined || !text.includes(secret) ? text : text.split(secret).join('[redacted]')
}

/**
 * A short rendering of what a server sent, for an error message: redacted before it
 * is cut, so a key can never survive in part at the cut.
 */
export function redactedPreview(value: unknown, secret: string | undefined): string {
  let text: string
  try {
    text = JSON.stringify(value) ?? String(value)
  } catch {
    text = Object.prototype.toString.call(value)
  }
  text = redactText(text, secret)
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

/**
 * Makes sure `secret` appears nowhere `util.inspect(cause)` looks: rewrites the
 * messages, stacks and bodies of the cause chain, and if the key still shows
 * (say, in response headers), replaces the cause with a plain copy that keeps its
 * name and `status`.
 */
export function scrub(error: unknown, secret: string | undefined): unknown {
  if (secret === undefined || error === null || typeof error !== 'object') return error
  if (!inspect(error, { depth: 8 }).includes(secret)) return error
  let current: unknown = error
  for (let depth = 0; depth < 8 && current !== null && typeof current === 'object'; depth++) {
    const target = current as Record<string, unknown>
    for (const key of ['message', 'stack']) {
      const value = target[key]
      if (typeof value === 'string' && value.includes(secret)) {
        Object.defineProperty(target, key, { value: redactText(value, secret), writable: true, configurable: true, enumerable: false })
      }
    }
    if ('error' in target && target.error !== undefined) {
      try {
        const text = JSON.stringify(target.error)
        if (text?.includes(secret)) {
          Object.defineProperty(target, 'error', { value: JSON.parse(redactText(text, secret)) as unknown, writable: true, configurable: true, enumerable: true })
        }
      } catch {
        // not JSON: the final check below catches it
      }
    }
    current = target.cause
  }
  if (!inspect(error, { depth: 8 }).includes(secret)) return error
  const safe = new Error(redactText(error instanceof Error ? error.message : String(error), secret))
  safe.name = error instanceof Error ? error.name : 'Error'
  const status = (error as { status?: unknown }).status
  if (typeof status === 'number') Object.assign(safe, { status })
  return safe
}

/** The logger shape both official SDKs accept. */
export interface SdkLogger {
  error(message: string, ...rest: unknown[]): void
  warn(message: string, ...rest: unknown[]): void
  info(message: string, ...rest: unknown[]): void
  debug(message: string, ...rest: unknown[]): void
}

/** `console`, with `secret` replaced in every argument that would print it. */
export function redactingLogger(secret: string): SdkLogger {
  const clean = (arg: unknown): unknown => {
    if (typeof arg === 'string') return redactText(arg, secret)
    if (arg === null || typeof arg !== 'object') return arg
    const text = inspect(arg, { depth: 8 })
    return text.includes(secret) ? redactText(text, secret) : arg
  }
  // Looks `console` up on every call, so replacing or spying on it keeps working.
  const level =
    (name: 'error' | 'warn' | 'info' | 'debug') =>
    (message: string, ...rest: unknown[]): void => {
      console[name](clean(message), ...rest.map(clean))
    }
  return { error: level('error'), warn: level('warn'), info: level('info'), debug: level('debug') }
}

export function noop(): void {}

/** Folds an SDK's stream events into text deltas and, once finished, the whole response. */
export interface StreamAssembler<E> {
  /** Takes one event; returns the text it adds (`''` for none). */
  add(event: E): string
  /** Whether the event that ends a reply arrived. */
  readonly finished: boolean
  response(requestedModel: string): ProviderResponse
}

/** An SDK's stream: iterable events, and the controller that cancels its HTTP request. */
export type SdkStream<E> = AsyncIterable<E> & { controller?: AbortController }

/**
 * The stream loop both SDK providers share: opens the SDK stream inside `call`, yields
 * text deltas as the assembler finds them and then one `done`, and never leaves the HTTP
 * request open, whether the stream ends, fails, times out between events, or the
 * consumer stops reading. `fail` turns what went wrong into the provider's error;
 * `incomplete` names what a stream that ended early was missing.
 */
export async function* streamThroughSdk<E>(
  call: Call,
  open: () => Promise<SdkStream<E>>,
  assembler: StreamAssembler<E>,
  requestedModel: string,
  fail: (error: unknown, phase: 'request' | 'stream') => Error,
  incomplete: () => Error,
): AsyncGenerator<ProviderChunk, void, undefined> {
  let iterator: AsyncIterator<E> | undefined
  try {
    let sdkStream: SdkStream<E>
    try {
      call.throwIfAborted()
      sdkStream = await call.race(open())
    } catch (error) {
      throw fail(error, 'request')
    }
    call.sdkController = sdkStream.controller
    iterator = sdkStream[Symbol.asyncIterator]()
    while (true) {
      let step: IteratorResult<E>
      call.startIdleTimer()
      try {
        step = await iterator.next()
      } catch (error) {
        throw fail(error, 'stream')
      } finally {
        call.stopIdleTimer()
      }
      // The SDK ends a stream quietly when it is aborted: find out why it ended.
      if (call.aborted || call.timedOut) throw fail(undefined, 'stream')
      if (step.done) break
      let text: string
      try {
        text = assembler.add(step.value)
      } catch (error) {
        throw fail(error, 'stream')
      }
      if (text !== '') yield { type: 'delta', text }
    }
    if (!assembler.finished) throw incomplete()
    const response = assembler.response(requestedModel)
    // Release the caller's signal now: a consumer may never resume after `done`.
    call.end()
    yield { type: 'done', response }
  } finally {
    // Normal end, error, or the consumer broke out of its loop: never leave a request open.
    call.end()
    if (iterator?.return !== undefined) void iterator.return().catch(noop)
  }
}
