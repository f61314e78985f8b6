import { randomUUID } from 'node:crypto'
import type { ExecuteOptions, ExecuteResult, ExecutionContext, Middleware, StreamChunk, TurnOptions } from './context.js'
import { abortErrorOf, resultOf, turnAbortError } from './context.js'
import type { Message, Provider, Role, SessionLease, StateStore, ToolDefinition } from './types.js'
import type { PricingTable } from './pricing.js'
import type { TokenCounter } from './tokens.js'
import { compose, named, type ComposeHooks } from './compose.js'
import { PipelineEmitter } from './events.js'
import { AbortError, PipelineClosedError, PromptlineError } from './errors.js'
import { TurnContext } from './turn-context.js'
import { raceSignal, settleBy } from './abort.js'
import { readTurn, type TurnInput } from './turn-input.js'
import { MemoryStore } from './stores/memory.js'
import { assertStore } from './stores/assert-store.js'
import { assertProvider } from './providers/assert-provider.js'
import {
  assertFunction,
  assertKnownKeys,
  assertNonEmptyString,
  assertOneOf,
  assertOptionsObject,
  assertDuration,
  assertPositiveInteger,
  show,
} from './validate.js'
import { stateLoad, type LoadRetryOptions } from '../middleware/state-load.js'
import { contextWindow } from '../middleware/context-window.js'
import { tokenTruncation } from '../middleware/token-truncation.js'
import { providerCall } from '../middleware/provider-call.js'
import { stateSave, type SaveRetryOptions } from '../middleware/state-save.js'
import { assertRetryOptions } from './retry-schedule.js'

/**
 * Everything `new Pipeline()` needs, in one object merged with defaults, so a stack that
 * works out of the box needs only a `provider`. Unknown keys are a `TypeError` naming
 * the closest option, since a misspelt option would otherwise be silently ignored.
 */
export interface PipelineOptions {
  /** The model backend. Required. */
  provider: Provider
  /**
   * Where history lives between turns. A store the pipeline created itself is closed by `shutdown()`.
   * @default new MemoryStore()
   */
  store?: StateStore | undefined
  /** Prepended to every provider view as a system message; never trimmed, never stored. */
  systemPrompt?: string | undefined
  /**
   * Keep the newest `maxMessages` messages (besides the system prompt) in view, and
   * load only that tail from the store, so a turn's cost does not grow with the
   * session's length. `false` sends (and loads) the whole history.
   * @default { maxMessages: 20 } without a `tokenLimit`; with one, no message-count
   * window: the token budget alone trims the view, and a turn loads the newest
   * `(maxTokens - reserveForResponse) / MIN_TOKENS_PER_MESSAGE` messages, more than
   * the budget can hold
   */
  contextWindow?: { maxMessages: number } | false | undefined
  /**
   * Keep the view under a token budget counted with `gpt-tokenizer`.
   * @default false
   */
  tokenLimit?: { maxTokens: number; model?: string | undefined; reserveForResponse?: number | undefined } | false | undefined
  /** `p-retry` options for saving a turn. @default { retries: 3, minTimeout: 100 } */
  saveRetry?: SaveRetryOptions | undefined
  /**
   * `p-retry` options for loading the history: a load that failed with a transient
   * error is tried again within the turn's deadline; corrupt data never is.
   * @default { retries: 3, minTimeout: 50, maxTimeout: 250 }
   */
  loadRetry?: LoadRetryOptions | undefined
  /** @default 'throw' */
  onLoadError?: 'throw' | 'start-fresh' | undefined
  /** @default 'throw' */
  onSaveError?: 'throw' | 'warn' | undefined
  /**
   * The turn's deadline: `execute` (or the `stream` loop) settles at most this many
   * milliseconds after the call, time spent queued behind earlier turns of the
   * session, loading, the provider and saving included. At the deadline the turn
   * rejects with `AbortError` (or, when only its save was cut short, settles as a
   * failed save: see `onSaveError`), whatever the store or provider does with the
   * signal. An integer up to 2^31 - 1 (about 24.8 days), or `false`: no deadline.
   * @default 600_000 (10 minutes, the OpenAI SDK's own request timeout)
   */
  timeoutMs?: number | false | undefined
  /**
   * The longest a streamed reply may stay silent: the wait for its first chunk and
   * between two chunks (time your loop spends on a delta does not count). Past it
   * the turn fails with `ProviderError` ("timed out: no data for … ms"). A plain
   * `execute` receives its reply in one piece, so only `timeoutMs` bounds it.
   * An integer up to 2^31 - 1, or `false`: no idle limit.
   * @default 300_000 (5 minutes: reasoning models can think for minutes before their first token)
   */
  idleTimeoutMs?: number | false | undefined
  /** USD per million tokens by model, merged over `DEFAULT_PRICING`. */
  pricing?: PricingTable | undefined
  /** Sent to the provider as `request.model` (the provider's default otherwise). */
  model?: string | undefined
  /** Tools the model may call (function name, description, JSON Schema parameters), sent on every turn. */
  tools?: ToolDefinition[] | undefined
  /** What to store of a streamed turn aborted midway. @default 'none' */
  saveOnAbort?: 'none' | 'partial' | undefined
  /**
   * When the provider reports no usage: `true` counts it locally with gpt-tokenizer
   * (`usage.estimated`, and `usage.estimatedWith: 'gpt-4o'` for a model gpt-tokenizer
   * does not know), a `TokenCounter` counts with it, `false` leaves `usage` undefined.
   * See docs/costs.md.
   * @default true
   */
  estimateUsage?: boolean | TokenCounter | undefined
}

/** Options of a chain built with `Pipeline.from`. */
export interface ChainOptions {
  systemPrompt?: string | undefined
  /** The turn's deadline, as in `PipelineOptions`. @default 600_000 */
  timeoutMs?: number | false | undefined
}

/**
 * Where `pipe.use()` inserts a middleware and what it is called, so it can run between
 * two built-in steps (e.g. after `state-load`, to see the history) rather than only last.
 */
export interface UseOptions {
  /** The name other `use` calls and events refer to. @default fn.name, else `middleware-N` */
  name?: string | undefined
  /** Insert just before the middleware of this name. */
  before?: string | undefined
  /** Insert just after the middleware of this name. */
  after?: string | undefined
}

interface Entry {
  name: string
  fn: Middleware
}

interface Chain {
  plain: (ctx: ExecutionContext) => Promise<void>
  traced: (ctx: ExecutionContext) => Promise<void>
}

/** Names of the built-in stack, in order. */
export const BUILT_IN_MIDDLEWARE = ['state-load', 'context-window', 'token-truncation', 'provider-call', 'state-save'] as const

const PIPELINE_KEYS: readonly (keyof PipelineOptions)[] = [
  'provider', 'store', 'systemPrompt', 'contextWindow', 'tokenLimit', 'saveRetry', 'loadRetry', 'onLoadError',
  'onSaveError', 'timeoutMs', 'idleTimeoutMs', 'pricing', 'model', 'tools', 'saveOnAbort', 'estimateUsage',
]
const CHAIN_KEYS: readonly (keyof ChainOptions)[] = ['systemPrompt', 'timeoutMs']
const USE_KEYS: readonly (keyof UseOptions)[] = ['name', 'before', 'after']
const WINDOW_KEYS = ['maxMessages'] as const
const TOKEN_LIMIT_KEYS = ['maxTokens', 'model', 'reserveForResponse'] as const

/** Long enough for a long answer from a reasoning model; the OpenAI SDK's request timeout. */
export const DEFAULT_TIMEOUT_MS = 600_000
/** Long enough for a reasoning model's first token; a stream silent longer than that is hung. */
export const DEFAULT_IDLE_TIMEOUT_MS = 300_000
/** The window when neither `contextWindow` nor `tokenLimit` is given. */
const DEFAULT_WINDOW = { maxMessages: 20 } as const

/**
 * Runs conversation turns through a middleware stack:
 * `state-load → context-window → token-truncation → [your middleware] → provider-call → state-save`.
 *
 * Turns on the same session run one after another in this process (the second
 * sees the first's messages); turns on different sessions run concurrently. With a
 * store that leases sessions (`RedisStore`'s `lock`), a turn also holds its
 * session's lease from before its load until its save, so the same holds across
 * processes.
 *
 * @example
 * ```ts
 * const pipe = new Pipeline({ provider: new MockProvider(), systemPrompt: 'Be brief.' })
 * await pipe.execute('alice', 'user', 'Hi, I am Alice')
 * const { response } = await pipe.execute('alice', 'user', 'What is my name?')
 * ```
 */
export class Pipeline extends PipelineEmitter {
  static #chain: Entry[] | undefined

  readonly #entries: Entry[]
  readonly #systemMessages: readonly Message[]
  readonly #timeoutMs: number | false
  readonly #ownedStore: StateStore | undefined
  readonly #store: StateStore | undefined
  #chainCache: Chain | undefined
  /**
   * Per busy session, what its next turn waits for before it runs: the previous
   * turn, until it settles; after that, any store write of it still in flight.
   * Never rejects.
   */
  readonly #tails = new Map<string, Promise<unknown>>()
  #closed = false

  constructor(options: PipelineOptions) {
    super()
    const custom = Pipeline.#chain
    if (custom !== undefined) {
      Pipeline.#chain = undefined
      const { systemPrompt, timeoutMs } = options as ChainOptions
      this.#entries = custom
      this.#systemMessages = systemMessages(systemPrompt)
      this.#timeoutMs = checkTimeout(timeoutMs)
      this.#ownedStore = undefined
      this.#store = undefined
      return
    }
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      throw new TypeError(`Expected \`options\` to be an object with a \`provider\`, got \`${show(options)}\`.`)
    }
    assertKnownKeys(options, PIPELINE_KEYS, '')
    const { provider, systemPrompt, contextWindow: window, tokenLimit = false } = options
    assertProvider(provider, 'provider')
    if (options.store !== undefined) assertStore(options.store, 'store')
    if (window !== undefined && window !== false) {
      assertOptionsObject(window, 'contextWindow')
      assertKnownKeys(window, WINDOW_KEYS, 'contextWindow')
      assertPositiveInteger(window?.maxMessages, 'contextWindow.maxMessages')
    }
    if (tokenLimit !== false) {
      assertOptionsObject(tokenLimit, 'tokenLimit')
      assertKnownKeys(tokenLimit, TOKEN_LIMIT_KEYS, 'tokenLimit')
    }
    const idleTimeoutMs = checkTimeout(options.idleTimeoutMs, 'idleTimeoutMs', DEFAULT_IDLE_TIMEOUT_MS)
    assertRetryOptions(options.saveRetry, 'saveRetry')
    assertRetryOptions(options.loadRetry, 'loadRetry')
    const { onLoadError = 'throw', onSaveError = 'throw', saveOnAbort = 'none' } = options
    assertOneOf(onLoadError, ['throw', 'start-fresh'], 'onLoadError')
    assertOneOf(onSaveError, ['throw', 'warn'], 'onSaveError')
    assertOneOf(saveOnAbort, ['none', 'partial'], 'saveOnAbort')
    const store = options.store ?? new MemoryStore()
    this.#ownedStore = options.store === undefined ? store : undefined
    this.#store = store
    this.#systemMessages = systemMessages(systemPrompt)
    this.#timeoutMs = checkTimeout(options.timeoutMs)

    this.#entries = builtInStack(options, store, { onLoadError, onSaveError, saveOnAbort, idleTimeoutMs })
  }

  /**
   * A pipeline over exactly the given middleware, in order: build it from the
   * exported factories and your own functions. Names come from each function's
   * `name` (the built-ins are named `state-load`, …), else `middleware-N`.
   *
   * @example
   * ```ts
   * Pipeline.from([stateLoad(store), redact, providerCall(provider), stateSave(store)])
   * ```
   */
  static from(middleware: readonly Middleware[], options: ChainOptions = {}): Pipeline {
    if (!Array.isArray(middleware)) throw new TypeError(`Expected \`middleware\` to be an array of functions, got \`${show(middleware)}\`.`)
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, CHAIN_KEYS, '')
    const entries: Entry[] = []
    for (const [i, fn] of middleware.entries()) {
      assertFunction(fn, `middleware[${i}]`)
      const name = fn.name && fn.name !== 'anonymous' ? fn.name : `middleware-${i}`
      if (entries.some((entry) => entry.name === name)) {
        throw new TypeError(`Duplicate middleware name \`${name}\` at \`middleware[${i}]\`; give each function its own name.`)
      }
      entries.push({ name, fn: fn as Middleware })
    }
    Pipeline.#chain = entries
    try {
      return new Pipeline(options as unknown as PipelineOptions)
    } finally {
      Pipeline.#chain = undefined
    }
  }

  /**
   * The store of a pipeline built with `new Pipeline(options)` (the one passed in,
   * or the `MemoryStore` it created); `undefined` for a `Pipeline.from` chain.
   * `promptline/http` reads and administers sessions through it.
   */
  get store(): StateStore | undefined {
    return this.#store
  }

  /** Names of the middleware in order, built-ins included. */
  get middlewareNames(): string[] {
    return this.#entries.map((entry) => entry.name)
  }

  /**
   * Inserts a middleware by name: `before` or `after` an existing one, by default
   * just before `provider-call` (or last, in a chain without one).
   *
   * @example
   * ```ts
   * pipe.use(async function redact(ctx, next) { ...; await next() }, { before: 'provider-call' })
   * ```
   */
  use(fn: Middleware, options: UseOptions = {}): this {
    assertFunction(fn, 'fn')
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, USE_KEYS, '')
    const { before, after } = options
    if (before !== undefined && after !== undefined) {
      throw new TypeError('Expected only one of `before` and `after`, got both.')
    }
    const name = options.name ?? (fn.name && fn.name !== 'anonymous' ? fn.name : `middleware-${this.#entries.length}`)
    assertNonEmptyString(name, 'name')
    if (this.#entries.some((entry) => entry.name === name)) {
      throw new TypeError(`A middleware named \`${name}\` is already in the pipeline; pass another \`name\`.`)
    }
    const target = after ?? before ?? (this.#indexOf('provider-call') === -1 ? undefined : 'provider-call')
    let at = this.#entries.length
    if (target !== undefined) {
      const index = this.#indexOf(target)
      if (index === -1) {
        throw new TypeError(
          `Unknown middleware \`${target}\` in \`${after === undefined ? 'before' : 'after'}\`; the pipeline has ${this.middlewareNames.join(', ')}.`,
        )
      }
      at = after === undefined ? index : index + 1
    }
    this.#entries.splice(at, 0, { name, fn })
    this.#chainCache = undefined
    return this
  }

  /**
   * Runs one turn: adds the message `content` by `role` to the session, calls the
   * provider with the trimmed view, stores the new messages and resolves with the
   * reply. Rejects with the failing middleware's error (`StateLoadError`,
   * `ProviderError`, `StateSaveError`, `ContextOverflowError`, `AbortError`, …).
   *
   * The second form adds several messages in one turn, such as the results of
   * parallel tool calls, which a provider needs all at once:
   * `pipe.execute(id, [{ role: 'tool', toolCallId: 'a', content: '…' }, { role: 'tool', toolCallId: 'b', content: '…' }])`.
   */
  execute(sessionId: string, role: Role, content: string, options?: ExecuteOptions): Promise<ExecuteResult>
  execute(sessionId: string, messages: readonly Message[], options?: TurnOptions): Promise<ExecuteResult>
  async execute(
    sessionId: string,
    roleOrMessages: Role | readonly Message[],
    contentOrOptions?: string | TurnOptions,
    options?: ExecuteOptions,
  ): Promise<ExecuteResult> {
    return this.#enqueue(sessionId, roleOrMessages, contentOrOptions, options, undefined, undefined)
  }

  /**
   * Runs one turn like `execute`, yielding the reply as it arrives:
   * `{ type: 'delta', text }` chunks, then `{ type: 'done', result }`. The turn is
   * saved once the reply is complete. Leaving the loop early (`break`) aborts the
   * provider request, and nothing of the turn is stored (with `saveOnAbort:
   * 'partial'`, the part received so far). Each delta is handed over when the loop
   * asks for it, so `timeoutMs` includes the time the loop spends on each delta
   * (`idleTimeoutMs` does not).
   */
  stream(sessionId: string, role: Role, content: string, options?: ExecuteOptions): AsyncGenerator<StreamChunk, void, undefined>
  stream(sessionId: string, messages: readonly Message[], options?: TurnOptions): AsyncGenerator<StreamChunk, void, undefined>
  async *stream(
    sessionId: string,
    roleOrMessages: Role | readonly Message[],
    contentOrOptions?: string | TurnOptions,
    options?: ExecuteOptions,
  ): AsyncGenerator<StreamChunk, void, undefined> {
    // One delta at a time: the provider waits until the consumer has taken it.
    let pending: { text: string; taken: () => void } | undefined
    let wake: (() => void) | undefined
    let settled = false
    let failure: { error: unknown } | undefined
    let result: ExecuteResult | undefined
    const consumer = new AbortController()
    const onDelta = (text: string) =>
      new Promise<void>((taken) => {
        pending = { text, taken }
        wake?.()
      })
    const turn = this.#enqueue(sessionId, roleOrMessages, contentOrOptions, options, onDelta, consumer.signal).then(
      (value) => {
        result = value
      },
      (error: unknown) => {
        failure = { error }
      },
    ).finally(() => {
      settled = true
      wake?.()
    })
    try {
      for (;;) {
        if (pending !== undefined) {
          const { text, taken } = pending
          yield { type: 'delta', text }
          pending = undefined
          taken()
          continue
        }
        if (settled) break
        await new Promise<void>((resolve) => (wake = resolve))
        wake = undefined
      }
      if (failure !== undefined) throw failure.error
      yield { type: 'done', result: result as ExecuteResult }
    } finally {
      if (!settled) {
        // Abort first, then release the provider: it resumes into an aborted turn and stores nothing.
        consumer.abort(new AbortError('The stream consumer stopped reading'))
        pending?.taken()
        await turn
      }
    }
  }

  /**
   * Rejects new turns with `PipelineClosedError`, waits for the turns in flight (each
   * settles by its deadline) and for any store write a timed-out turn left in
   * flight, then closes a store the pipeline created.
   */
  async shutdown(): Promise<void> {
    this.#closed = true
    while (this.#tails.size > 0) await Promise.allSettled([...this.#tails.values()])
    await this.#ownedStore?.close()
  }

  #indexOf(name: string): number {
    return this.#entries.findIndex((entry) => entry.name === name)
  }

  #enqueue(
    sessionId: string,
    roleOrMessages: unknown,
    contentOrOptions: unknown,
    options: unknown,
    onDelta: ((text: string) => void | Promise<void>) | undefined,
    consumerSignal: AbortSignal | undefined,
  ): Promise<ExecuteResult> {
    if (this.#closed) return Promise.reject(new PipelineClosedError())
    let turnInput: TurnInput
    try {
      turnInput = readTurn(sessionId, roleOrMessages, contentOrOptions, options)
    } catch (error) {
      return Promise.reject(error)
    }
    const { inputs, signal } = turnInput
    const previous = this.#tails.get(sessionId)
    let release!: (held: Promise<unknown>) => void
    const tail = new Promise<unknown>((resolve) => (release = resolve))
    this.#tails.set(sessionId, tail)
    void tail.then(() => {
      if (this.#tails.get(sessionId) === tail) this.#tails.delete(sessionId)
    })
    return this.#run(sessionId, inputs, signal, onDelta, consumerSignal, previous, release)
  }

  /**
   * One turn, from the call to its settlement. The deadline starts here, so it
   * counts the time spent queued: `timeoutMs` bounds what the caller waits.
   * `release` is called exactly once, with what the session's next turn must wait
   * for (a promise that never rejects).
   */
  async #run(
    sessionId: string,
    inputs: Message[],
    userSignal: AbortSignal | undefined,
    onDelta: ((text: string) => void | Promise<void>) | undefined,
    consumerSignal: AbortSignal | undefined,
    previous: Promise<unknown> | undefined,
    releaseTail: (held: Promise<unknown>) => void,
  ): Promise<ExecuteResult> {
    let released = false
    const release = (held: Promise<unknown>) => {
      released = true
      releaseTail(held)
    }
    const controller = new AbortController()
    const abort =
      userSignal === undefined && consumerSignal === undefined
        ? undefined
        : (event: Event) => controller.abort((event.target as AbortSignal).reason)
    if (abort !== undefined) {
      userSignal?.addEventListener('abort', abort)
      consumerSignal?.addEventListener('abort', abort)
    }
    const timeoutMs = this.#timeoutMs
    // Aborted only by the deadline, unlike the turn's signal: a caller's abort may
    // still let the turn store a partial reply, the deadline never waits for it.
    const deadline = timeoutMs === false ? undefined : new AbortController()
    const timer =
      deadline === undefined
        ? undefined
        : setTimeout(() => {
            const reason = new DOMException(`timed out after ${timeoutMs} ms`, 'TimeoutError')
            deadline.abort(reason)
            controller.abort(reason)
          }, timeoutMs as number)
    if (userSignal?.aborted) controller.abort(userSignal.reason)
    try {
      if (previous !== undefined) {
        try {
          await raceSignal(previous, controller.signal)
        } catch {
          // Aborted while queued: the turn never runs, and the next one waits for what this one waited for.
          release(previous)
          throw abortErrorOf(sessionId, controller.signal.reason)
        }
      }
      // Cross-process ordering (a store with leases, e.g. RedisStore's `lock`): taken
      // after this process's own queue, so only one turn per process waits on Redis.
      // Without one, nothing is awaited: a turn pays only for what it uses.
      const leaseStarted = performance.now()
      const leasing = this.#store?.acquireLease?.(sessionId, { signal: controller.signal })
      if (leasing === undefined) return await this.#turn(sessionId, inputs, controller.signal, deadline?.signal, onDelta, release, undefined)
      const lease = await leaseOrAbort(sessionId, leasing, controller.signal)
      const leased = { lease, waitedMs: performance.now() - leaseStarted }
      const onLost = () => controller.abort(lease.lost.reason)
      lease.lost.addEventListener('abort', onLost)
      try {
        // The lease is given up once the turn's writes have settled, so the next holder loads them.
        const releaseLease = (held: Promise<unknown>) => release(held.then(() => lease.release()))
        return await this.#turn(sessionId, inputs, controller.signal, deadline?.signal, onDelta, releaseLease, leased)
      } finally {
        lease.lost.removeEventListener('abort', onLost)
      }
    } finally {
      // Whatever failed on the way, the session's queue must move on.
      if (!released) release(previous ?? Promise.resolve())
      if (timer !== undefined) clearTimeout(timer)
      if (abort !== undefined) {
        userSignal?.removeEventListener('abort', abort)
        consumerSignal?.removeEventListener('abort', abort)
      }
    }
  }

  async #turn(
    sessionId: string,
    inputs: Message[],
    signal: AbortSignal,
    deadline: AbortSignal | undefined,
    onDelta: ((text: string) => void | Promise<void>) | undefined,
    release: (held: Promise<unknown>) => void,
    leased: { lease: SessionLease; waitedMs: number } | undefined,
  ): Promise<ExecuteResult> {
    // Whether the provider streamed text: only then can a partial reply still be saved after the abort.
    let streamed = false
    const deliver =
      onDelta === undefined
        ? undefined
        : (text: string) => {
            streamed = true
            return onDelta(text)
          }
    const messages = this.#systemMessages.length === 0 ? inputs.slice() : [...this.#systemMessages, ...inputs]
    const pinned = this.#systemMessages.length
    const ctx = new TurnContext(this, randomUUID(), sessionId, inputs, messages, pinned, signal, deliver)
    ctx.lease = leased?.lease
    ctx.emit('execution:start', { role: ctx.input.role, streaming: onDelta !== undefined })
    if (leased !== undefined) ctx.emit('session:leased', { waitedMs: leased.waitedMs })
    let running: Promise<void> | undefined
    let cutOff = false
    let result: ExecuteResult
    try {
      if (ctx.signal.aborted) throw turnAbortError(ctx)
      const chain = (this.#chainCache ??= this.#compose())
      const traced = this.listenerCount('middleware:start') + this.listenerCount('middleware:end') > 0
      running = (traced ? chain.traced : chain.plain)(ctx)
      // The turn settles at its deadline even if a middleware, store or provider ignores the signal.
      cutOff = (await settleBy(running, ctx.signal)) === 'released'
      // Aborted by the caller after text arrived: the partial reply may be on its way
      // to the store (`saveOnAbort: 'partial'`), and the caller expects it stored once
      // the turn settles. Wait for it, but never past the deadline.
      if (cutOff && streamed && deadline?.aborted !== true) cutOff = (await settleBy(running, deadline)) === 'released'
      if (cutOff) throw turnAbortError(ctx)
      // A failed save (`onSaveError: 'warn'`) keeps the reply; an aborted chain that never tried to save does not.
      if (!ctx.saved && ctx.signal.aborted && !ctx.saveAttempted) throw turnAbortError(ctx)
      result = resultOf(ctx)
    } catch (error) {
      const failure = ctx.signal.aborted && !(error instanceof PromptlineError) ? turnAbortError(ctx, error) : error
      ctx.emit('execution:end', { durationMs: performance.now() - ctx.startedAt, saved: ctx.saved, error: failure })
      throw failure
    } finally {
      release(heldBy(ctx, running, cutOff && streamed))
    }
    ctx.emit('execution:end', { durationMs: result.durationMs, saved: ctx.saved })
    return result
  }

  #compose(): Chain {
    const entries = this.#entries
    const fns = entries.map((entry) => entry.fn)
    const hooks: ComposeHooks = {
      onStart: (i, ctx) => ctx.emit('middleware:start', { name: entries[i]?.name ?? `#${i}` }),
      onEnd: (i, ctx, durationMs, error) =>
        ctx.emit('middleware:end', {
          name: entries[i]?.name ?? `#${i}`,
          durationMs,
          ...(error === undefined ? {} : { error }),
        }),
    }
    const names = entries.map((entry) => entry.name)
    return { plain: compose(fns, undefined, names), traced: compose(fns, hooks, names) }
  }
}

/** The fixed stack of `new Pipeline(options)`; a disabled policy keeps its name as a pass-through. */
function builtInStack(
  options: PipelineOptions,
  store: StateStore,
  modes: {
    onLoadError: 'throw' | 'start-fresh'
    onSaveError: 'throw' | 'warn'
    saveOnAbort: 'none' | 'partial'
    idleTimeoutMs: number | false
  },
): Entry[] {
  const { provider, tokenLimit = false } = options
  // The default window applies only without a token budget: under `tokenLimit` alone,
  // 20 messages would cap the view far below the budget, and the bot would forget
  // after ten exchanges while tokens remain.
  const window = options.contextWindow ?? (tokenLimit === false ? DEFAULT_WINDOW : false)
  // Built first: it validates `tokenLimit`, which the load size below is derived from.
  const truncation =
    tokenLimit === false ? passThrough('token-truncation') : withPrefix('tokenLimit', () => tokenTruncation(tokenLimit))
  const loadOptions =
    window !== false
      ? { last: window.maxMessages }
      : tokenLimit !== false && options.contextWindow === undefined
        ? { last: budgetTail(tokenLimit) }
        : {}
  return [
    {
      name: 'state-load',
      fn: stateLoad(store, {
        ...loadOptions,
        ...(options.loadRetry === undefined ? {} : { retry: options.loadRetry }),
        onError: modes.onLoadError,
      }),
    },
    {
      name: 'context-window',
      fn: window === false ? passThrough('context-window') : withPrefix('contextWindow', () => contextWindow(window)),
    },
    { name: 'token-truncation', fn: truncation },
    {
      name: 'provider-call',
      fn: providerCall(provider, {
        ...(options.model === undefined ? {} : { model: options.model }),
        ...(options.pricing === undefined ? {} : { pricing: options.pricing }),
        ...(options.tools === undefined ? {} : { tools: options.tools }),
        ...(options.estimateUsage === undefined ? {} : { estimateUsage: options.estimateUsage }),
        saveOnAbort: modes.saveOnAbort,
        idleTimeoutMs: modes.idleTimeoutMs,
      }),
    },
    {
      name: 'state-save',
      fn: stateSave(store, {
        ...(options.saveRetry === undefined ? {} : { retry: options.saveRetry }),
        onError: modes.onSaveError,
      }),
    },
  ]
}

/**
 * Fewest tokens any message costs in the chat format: its framing alone (role and
 * separators) is 3 tokens or more in every encoding `gpt-tokenizer` knows (4 for the
 * ChatML models), even with empty content.
 */
export const MIN_TOKENS_PER_MESSAGE = 3

/**
 * How many stored messages a turn loads under a token budget and no window: more
 * than the budget could ever hold (`budget / MIN_TOKENS_PER_MESSAGE`), so the view
 * is exactly what loading the whole history would give, while a turn's load stays
 * bounded by the budget rather than growing with the session.
 */
function budgetTail(tokenLimit: { maxTokens: number; reserveForResponse?: number | undefined }): number {
  return Math.ceil((tokenLimit.maxTokens - (tokenLimit.reserveForResponse ?? 0)) / MIN_TOKENS_PER_MESSAGE)
}

/** Keeps a disabled built-in's slot, so `use({ before: 'token-truncation' })` works whatever is configured. */
function passThrough(name: string): Middleware {
  return named(name, async (_ctx, next) => next())
}

/** Runs a factory, naming its options as the pipeline's (`maxMessages` → `contextWindow.maxMessages`) in a TypeError. */
function withPrefix<T>(prefix: string, build: () => T): T {
  try {
    return build()
  } catch (error) {
    if (error instanceof TypeError) throw new TypeError(error.message.replace(/`([^`]+)`/, `\`${prefix}.$1\``))
    throw error
  }
}

function settle(): void {}

/**
 * What the session's next turn waits for once this one has settled: the store
 * writes of this turn still in flight, so the next turn's load sees them and its
 * own append cannot overtake them. A turn released at its deadline while a partial
 * reply may still be saved (it streamed text) holds the session until its chain
 * ends. A turn stalled anywhere else (a load, a provider) can write nothing more
 * (`state-save` stores nothing of an aborted turn), so it holds nothing.
 */
function heldBy(ctx: TurnContext, running: Promise<void> | undefined, partialPending: boolean): Promise<unknown> {
  if (running === undefined) return Promise.resolve()
  if (partialPending) return running.then(settle, settle).then(() => ctx.writesSettled())
  return ctx.writesSettled()
}

/** The lease, or, when the turn's signal stopped the wait (its deadline, its caller), the turn's `AbortError`. */
async function leaseOrAbort(sessionId: string, leasing: Promise<SessionLease>, signal: AbortSignal): Promise<SessionLease> {
  try {
    return await leasing
  } catch (error) {
    if (signal.aborted) throw abortErrorOf(sessionId, signal.reason)
    throw error
  }
}

function systemMessages(systemPrompt: unknown): readonly Message[] {
  if (systemPrompt === undefined) return []
  if (typeof systemPrompt !== 'string') {
    throw new TypeError(`Expected \`systemPrompt\` to be a string, got \`${show(systemPrompt)}\`.`)
  }
  return systemPrompt.length === 0 ? [] : Object.freeze([Object.freeze({ role: 'system', content: systemPrompt } as Message)])
}

function checkTimeout(value: unknown, name = 'timeoutMs', fallback = DEFAULT_TIMEOUT_MS): number | false {
  if (value === undefined) return fallback
  if (value === false) return false
  assertDuration(value, name)
  return value
}
