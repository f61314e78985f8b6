import { randomUUID } from 'node:crypto'
import type { ExecuteOptions, ExecuteResult, ExecutionContext, Middleware, StreamChunk, TurnOptions } from './context.js'
import { abortErrorOf, resultOf, turnAbortError } from './context.js'
import type { Message, Provider, Role, SessionLease, StateStore, ToolDefinition } from './types.js'
import type { PricingTable } from './pricing.js'
import type { TokenCounter } from './tokens.js'
import { compose, named, type ComposeHooks } from './compose.js'
import { PipelineEmitter } from './events.js'
import { AbortError, PipelineClosedError, PromptlineError, ViewInvariantError } from './errors.js'
import { viewProblem } from './view-check.js'
import { TurnContext } from './turn-context.js'
import { Deadline, raceSignal, settleBy } from './abort.js'
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
  assertSessionId,
  show,
} from './validate.js'
import { stateLoad, type LoadRetryOptions } from '../middleware/state-load.js'
import { contextWindow } from '../middleware/context-window.js'
import { toolResultsStep, type ToolResultsOptions } from '../middleware/tool-results.js'
import { assertSummaryStore, summaryPlan, type SummaryOptions, type SummaryPlan } from './summarizer.js'
import { withSummary } from '../middleware/summary.js'
import { takeAfterTurn } from './after-turn.js'
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
  contextWindow?: ContextWindowPolicy | false | undefined
  /**
   * Keep the view under a token budget counted with `gpt-tokenizer`.
   * @default false
   */
  tokenLimit?: TokenLimitPolicy | false | undefined
  /**
   * Show the results of tool groups older than the newest `keepLast` as a short
   * placeholder, in the view only (before the token limit counts them).
   * @default false
   */
  toolResults?: ToolResultsOptions | false | undefined
  /**
   * A rolling summary of what fell out of the view, kept in the store beside the
   * session and pinned after the system prompt. The store must implement the summary
   * methods (`features.summaries`: MemoryStore and RedisStore do). See docs/trimming.md.
   * @default false
   */
  summary?: SummaryOptions | false | undefined
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

/** `PipelineOptions.contextWindow`. */
export interface ContextWindowPolicy {
  /**
   * The newest messages kept in view besides the pinned ones (and the only ones loaded).
   * @default 20 without a `tokenLimit`; with one, no count limit
   */
  maxMessages?: number | undefined
  /**
   * Pin the first `keepFirst` stored messages (the opening that states the task) in
   * view right after the system prompt, whatever the window drops. Loaded with the
   * tail in one store read: the store must implement `load({ first })`
   * (`features.loadFirst`; MemoryStore and RedisStore do). A tool group the boundary
   * would cut is left out of the opening.
   * @default undefined (nothing pinned)
   */
  keepFirst?: number | undefined
  /**
   * `'user'`: after trimming (window and token limit), the first message after the
   * pinned part is a user message; leading units are dropped, never the newest one.
   * @default 'any'
   */
  startOn?: 'user' | 'any' | undefined
}

/** `PipelineOptions.tokenLimit`. */
export interface TokenLimitPolicy {
  maxTokens: number
  /** @default 'gpt-4o' */
  model?: string | undefined
  /** @default 0 */
  reserveForResponse?: number | undefined
  /**
   * A newest message too big for the budget: `'throw'` (`ContextOverflowError`) or
   * `'truncate'` (cut in the view around a marker; the store keeps it whole).
   * @default 'throw'
   */
  oversized?: 'throw' | 'truncate' | undefined
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
  'provider', 'store', 'systemPrompt', 'contextWindow', 'tokenLimit', 'toolResults', 'summary', 'saveRetry', 'loadRetry', 'onLoadError',
  'onSaveError', 'timeoutMs', 'idleTimeoutMs', 'pricing', 'model', 'tools', 'saveOnAbort', 'estimateUsage',
]
const CHAIN_KEYS: readonly (keyof ChainOptions)[] = ['systemPrompt', 'timeoutMs']
const USE_KEYS: readonly (keyof UseOptions)[] = ['name', 'before', 'after']
const WINDOW_KEYS: readonly (keyof ContextWindowPolicy)[] = ['maxMessages', 'keepFirst', 'startOn']
const TOKEN_LIMIT_KEYS: readonly (keyof TokenLimitPolicy)[] = ['maxTokens', 'model', 'reserveForResponse', 'oversized']

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
      if (window?.maxMessages !== undefined) assertPositiveInteger(window.maxMessages, 'contextWindow.maxMessages')
      if (window?.startOn !== undefined) assertOneOf(window.startOn, ['user', 'any'], 'contextWindow.startOn')
      if (window?.keepFirst !== undefined) {
        assertPositiveInteger(window.keepFirst, 'contextWindow.keepFirst')
        if (options.store !== undefined && options.store.features?.loadFirst !== true) {
          throw new TypeError(
            'Expected `store` to implement `load(id, { first, last })` (`store.features.loadFirst`) for `contextWindow.keepFirst`: ' +
              'the opening and the tail come back in one read. MemoryStore and RedisStore do.',
          )
        }
      }
    }
    if (tokenLimit !== false) {
      assertOptionsObject(tokenLimit, 'tokenLimit')
      assertKnownKeys(tokenLimit, TOKEN_LIMIT_KEYS, 'tokenLimit')
    }
    if (options.toolResults !== undefined && options.toolResults !== false) assertOptionsObject(options.toolResults, 'toolResults')
    const idleTimeoutMs = checkTimeout(options.idleTimeoutMs, 'idleTimeoutMs', DEFAULT_IDLE_TIMEOUT_MS)
    assertRetryOptions(options.saveRetry, 'saveRetry')
    assertRetryOptions(options.loadRetry, 'loadRetry')
    const { onLoadError = 'throw', onSaveError = 'throw', saveOnAbort = 'none' } = options
    assertOneOf(onLoadError, ['throw', 'start-fresh'], 'onLoadError')
    assertOneOf(onSaveError, ['throw', 'warn'], 'onSaveError')
    assertOneOf(saveOnAbort, ['none', 'partial'], 'saveOnAbort')
    const store = options.store ?? new MemoryStore()
    let summary: { store: StateStore; plan: SummaryPlan } | undefined
    if (options.summary !== undefined && options.summary !== false) {
      if (options.summary === null || typeof options.summary !== 'object' || Array.isArray(options.summary)) {
        throw new TypeError(`Expected \`summary\` to be an object like { after: 30 } or false, got \`${show(options.summary)}\`.`)
      }
      assertSummaryStore(store)
      summary = { store, plan: summaryPlan(options.summary, provider, options.pricing) }
    }
    this.#ownedStore = options.store === undefined ? store : undefined
    this.#store = store
    this.#systemMessages = systemMessages(systemPrompt)
    this.#timeoutMs = checkTimeout(options.timeoutMs)

    this.#entries = builtInStack(options, store, { onLoadError, onSaveError, saveOnAbort, idleTimeoutMs }, summary)
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
   * Runs `fn` in the session's queue: after the turns (and `withSession` calls) on
   * `sessionId` that came before it, and before those that come after, so it never
   * races a turn of this pipeline on the session. For maintenance such as your own
   * summarising, compacting or editing of the stored history. Resolves or rejects
   * with what `fn` does; `shutdown()` waits for it. `fn` has no deadline of its own:
   * the turns queued behind it wait for it (their `timeoutMs` counts that wait).
   *
   * @example
   * ```ts
   * await pipe.withSession('alice', async () => {
   *   const history = await store.load('alice')
   *   await store.save('alice', history.filter((m) => m.metadata?.draft !== true))
   * })
   * ```
   */
  withSession<T>(sessionId: string, fn: () => T | Promise<T>): Promise<T> {
    if (this.#closed) return Promise.reject(new PipelineClosedError())
    try {
      assertSessionId(sessionId)
      assertFunction(fn, 'fn')
    } catch (error) {
      return Promise.reject(error)
    }
    const { previous, release } = this.#reserve(sessionId)
    const run = (async () => {
      await previous
      return fn()
    })()
    release(run.then(settle, settle))
    return run
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
    const { previous, release } = this.#reserve(sessionId)
    return this.#run(sessionId, inputs, signal, onDelta, consumerSignal, previous, release)
  }

  /**
   * Takes the next place in the session's queue: `previous` is what it waits for,
   * `release` hands on what the place after it must wait for (call it exactly once).
   */
  #reserve(sessionId: string): { previous: Promise<unknown> | undefined; release: (held: Promise<unknown>) => void } {
    const previous = this.#tails.get(sessionId)
    let release!: (held: Promise<unknown>) => void
    const tail = new Promise<unknown>((resolve) => (release = resolve))
    this.#tails.set(sessionId, tail)
    void tail.then(() => {
      if (this.#tails.get(sessionId) === tail) this.#tails.delete(sessionId)
    })
    return { previous, release }
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
    // Apart from the turn's signal: a caller's abort may still let the turn store a
    // partial reply, the deadline never waits for it.
    const deadline = timeoutMs === false ? undefined : new Deadline(timeoutMs, (reason) => controller.abort(reason))
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
      if (leasing === undefined) return await this.#turn(sessionId, inputs, controller.signal, deadline, onDelta, release, undefined)
      const lease = await leaseOrAbort(sessionId, leasing, controller.signal)
      const leased = { lease, waitedMs: performance.now() - leaseStarted }
      const onLost = () => controller.abort(lease.lost.reason)
      lease.lost.addEventListener('abort', onLost)
      try {
        // The lease is given up once the turn's writes have settled, so the next holder loads them.
        const releaseLease = (held: Promise<unknown>) => release(held.then(() => lease.release()))
        return await this.#turn(sessionId, inputs, controller.signal, deadline, onDelta, releaseLease, leased)
      } finally {
        lease.lost.removeEventListener('abort', onLost)
      }
    } finally {
      // Whatever failed on the way, the session's queue must move on.
      if (!released) release(previous ?? Promise.resolve())
      deadline?.clear()
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
    deadline: Deadline | undefined,
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
      if (cutOff && streamed && deadline?.expired !== true) cutOff = (await settleBy(running, deadline?.signal)) === 'released'
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
    const jobs = takeAfterTurn(ctx)
    if (jobs !== undefined) this.#runAfterTurn(sessionId, jobs)
    return result
  }

  /**
   * Work a middleware left for after its turn (a background summary: see
   * `deferAfterTurn`), in the session's queue: after this turn and the turns already
   * queued, never delaying the reply; `shutdown()` waits for it.
   */
  #runAfterTurn(sessionId: string, jobs: Array<() => Promise<void>>): void {
    const { previous, release } = this.#reserve(sessionId)
    const run = (async () => {
      await previous
      for (const job of jobs) await job().then(settle, settle)
    })()
    release(run.then(settle, settle))
  }

  #compose(): Chain {
    const entries = this.#entries
    const providerAt = this.#indexOf('provider-call')
    const fns = entries.map((entry, i) => (i < providerAt && entry.name !== 'state-load' ? checkedView(entry) : entry.fn))
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

/** The built-in policies whose every change of the view is checked (a user's middleware: when it drops messages). */
const TRIMMING_MIDDLEWARE = new Set(['context-window', 'token-truncation'])

/**
 * `entry.fn`, checking the view it hands on to `next()`: after a middleware that
 * dropped messages or changed `ctx.pinned`, and after every change a built-in policy made,
 * the view must keep its invariants (`viewProblem`), else the turn fails with
 * `ViewInvariantError` naming the middleware before the provider sees the view.
 * Costs one copy of the view array per middleware before `provider-call`.
 */
function checkedView(entry: Entry): Middleware {
  const { name, fn } = entry
  const always = TRIMMING_MIDDLEWARE.has(name)
  return async (ctx, next) => {
    const original = ctx.messages
    // A copy: a middleware may splice the array in place.
    const before = original.slice()
    const pinnedBefore = ctx.pinned
    return fn(ctx, () => {
      const after = ctx.messages
      const shorter = after.length < before.length || ctx.pinned !== pinnedBefore
      const changed = after !== original || after.length !== before.length || ctx.pinned !== pinnedBefore
      if (shorter || (always && changed)) {
        const problem = viewProblem(before, pinnedBefore, after, ctx.pinned)
        if (problem !== undefined) return Promise.reject(new ViewInvariantError(name, ctx.sessionId, problem))
      }
      return next()
    })
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
  summary: { store: StateStore; plan: SummaryPlan } | undefined,
): Entry[] {
  const { provider, tokenLimit = false } = options
  const policy = options.contextWindow ?? {}
  // The default window applies only without a token budget: under `tokenLimit` alone,
  // 20 messages would cap the view far below the budget, and the bot would forget
  // after ten exchanges while tokens remain.
  const maxMessages = policy === false ? undefined : (policy.maxMessages ?? (tokenLimit === false ? DEFAULT_WINDOW.maxMessages : undefined))
  const startOn = policy === false ? 'any' : (policy.startOn ?? 'any')
  const keepFirst = policy === false ? undefined : policy.keepFirst
  // Built first: it validates `tokenLimit`, which the load size below is derived from.
  const truncation =
    tokenLimit === false
      ? passThrough('token-truncation')
      : withPrefix('tokenLimit', () => tokenTruncation(startOn === 'user' ? { ...tokenLimit, startOn } : tokenLimit))
  const last =
    maxMessages !== undefined ? maxMessages : tokenLimit !== false && policy !== false ? budgetTail(tokenLimit) : undefined
  const loadOptions = { ...(last === undefined ? {} : { last }), ...(keepFirst === undefined ? {} : { first: keepFirst }) }
  const clearing =
    options.toolResults === undefined || options.toolResults === false
      ? undefined
      : withPrefix('toolResults', () => toolResultsStep(options.toolResults as ToolResultsOptions))
  const windowStep =
    maxMessages === undefined && startOn === 'any' ? undefined : contextWindow({ ...(maxMessages === undefined ? {} : { maxMessages }), startOn })
  const load = stateLoad(store, {
    ...loadOptions,
    ...(summary === undefined ? {} : { summary: true }),
    ...(options.loadRetry === undefined ? {} : { retry: options.loadRetry }),
    onError: modes.onLoadError,
  })
  return [
    { name: 'state-load', fn: summary === undefined ? load : withSummary(load, summary.store, summary.plan) },
    { name: 'context-window', fn: windowSlot(windowStep, clearing) },
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

/**
 * The `context-window` slot: the window (count and `startOn`), then the clearing of
 * old tool results, so that `token-truncation` counts the placeholders.
 */
function windowSlot(window: Middleware | undefined, clearing: ((ctx: ExecutionContext) => void) | undefined): Middleware {
  if (clearing === undefined) return window ?? passThrough('context-window')
  if (window === undefined) {
    return named('context-window', async (ctx, next) => {
      clearing(ctx)
      await next()
    })
  }
  return named('context-window', async (ctx, next) =>
    window(ctx, async () => {
      clearing(ctx)
      await next()
    }),
  )
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
