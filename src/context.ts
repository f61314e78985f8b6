import type { Message, SessionLease, Usage } from './types.js'
import { AbortError, PromptlineError } from './errors.js'
import type { EventPayload, PipelineEventName } from './events.js'

/** What one trimming policy did to the provider view. */
export interface TrimReport {
  /** Messages of the view (pinned ones included) after trimming. */
  kept: number
  /** Messages removed from the view; the stored history is untouched. */
  dropped: number
  /** Token count of the kept view (token-truncation only). */
  tokens?: number | undefined
  /** Tool messages whose content the view shows as a placeholder (tool-results only). */
  cleared?: number | undefined
  /** Messages whose content the view shows cut short (token-truncation with `oversized: 'truncate'`). */
  truncated?: number | undefined
}

/**
 * The shared state of one turn, handed to every middleware. Built-ins read and
 * write the documented fields; user middleware may too, and keeps its own data in
 * `state`.
 */
export interface ExecutionContext {
  /** Unique per turn; also the idempotency key of the turn's save. */
  readonly executionId: string
  readonly sessionId: string
  /** `performance.now()` when the turn started. */
  readonly startedAt: number
  /** The new message of this turn (the last one, when a turn adds several). */
  readonly input: Message
  /** What `state-load` loaded: the tail of the stored history, oldest first. */
  history: Message[]
  /**
   * The provider view: pinned messages, then history, then the input.
   * Trimming policies shorten it; `provider-call` sends it.
   */
  messages: Message[]
  /**
   * How many leading messages of `messages` no trimming policy may remove: the
   * pipeline's system prompt. A middleware that prepends its own fixed messages
   * (a summary, instructions) raises it. Stored `system` messages are ordinary
   * history: they are trimmed like any other message.
   */
  pinned: number
  /** The assistant's reply, set by `provider-call`. */
  response: Message | undefined
  usage: Usage | undefined
  finishReason: string | undefined
  /** The model the provider reported (or was asked for). */
  model: string | undefined
  /**
   * The name of the provider that answered, set by `provider-call`: the pipeline's
   * provider, or the one behind it that took the request (`FallbackProvider`).
   */
  provider?: string | undefined
  /** Cost of the provider call in USD, when the model's price is known. */
  costUsd: number | undefined
  /**
   * The messages this turn adds to the stored history, in order: the input, any
   * tool messages a middleware produced, and the reply. `state-save` appends them
   * in one call.
   */
  readonly newMessages: Message[]
  /** `true` once `state-save` stored `newMessages`. */
  saved: boolean
  /** The length of the stored history after the save, when the store reported it. */
  storedLength: number | undefined
  /** Aborted by the caller's signal, `timeoutMs`, or a stream consumer that stopped reading. */
  readonly signal: AbortSignal
  /** Free space for user middleware. */
  readonly state: Map<string, unknown>
  /**
   * The session's lease when the store orders turns across processes (`RedisStore`
   * with `lock`): `state-save` fences its append with `lease.fence`. Otherwise undefined.
   */
  readonly lease?: SessionLease | undefined
  /**
   * Set while streaming: `provider-call` passes each text delta here and awaits
   * the returned promise, which settles once the consumer has taken the delta
   * (back-pressure: a consumer that stops reading stops the provider).
   */
  readonly onDelta: ((text: string) => void | Promise<void>) | undefined
  /** What the trimming policies did, keyed by middleware name. */
  readonly trimmed: Record<string, TrimReport>
  /** Emits a typed pipeline event; `sessionId` and `executionId` are filled in. */
  emit<K extends PipelineEventName>(event: K, payload: Omit<EventPayload<K>, 'sessionId' | 'executionId'>): void
}

/** `(ctx, next) => Promise<void>`, as in Koa and Hono. Calling `next()` twice is an error. */
export type Middleware = (ctx: ExecutionContext, next: () => Promise<void>) => Promise<void>

/** What `execute` resolves with (and `stream` ends with). */
export interface ExecuteResult {
  sessionId: string
  executionId: string
  /** The assistant reply. */
  response: Message
  /** The provider view that was sent. */
  messages: Message[]
  usage: Usage | undefined
  costUsd: number | undefined
  model: string | undefined
  /** The name of the provider that answered (behind a `FallbackProvider`: the one that took the request). */
  provider: string | undefined
  finishReason: string | undefined
  /** `true` when the turn was persisted. */
  saved: boolean
  /** Stored history length after this turn, when known. */
  storedLength: number | undefined
  /**
   * The messages this turn added (or, when `saved` is false, would have added) to
   * the history: the input, tool messages, the reply. Enough to persist a turn
   * whose save failed.
   */
  newMessages: Message[]
  trimmed: Record<string, TrimReport>
  durationMs: number
}

/** Options of a turn given as messages (`execute(sessionId, messages, options)`). */
export interface TurnOptions {
  /** Aborts the turn (the provider request included). */
  signal?: AbortSignal | undefined
}

/** Options of one turn. */
export interface ExecuteOptions {
  /** Aborts the turn (the provider request included). */
  signal?: AbortSignal | undefined
  /** Required when `role` is `'tool'`: the id of the tool call this message answers. */
  toolCallId?: string | undefined
  name?: string | undefined
  metadata?: Record<string, unknown> | undefined
}

/** What `pipe.stream` yields. */
export type StreamChunk = { type: 'delta'; text: string } | { type: 'done'; result: ExecuteResult }

/**
 * The result of a turn as `execute` returns it. `state-save` uses it for
 * `StateSaveError.result`; a custom final middleware can use it too.
 * Throws when no middleware produced a response.
 */
export function resultOf(ctx: ExecutionContext): ExecuteResult {
  const response = ctx.response
  if (response === undefined) {
    throw new PromptlineError(
      `No middleware produced a response for session \`${ctx.sessionId}\` (is \`provider-call\` in the chain?)`,
    )
  }
  return {
    sessionId: ctx.sessionId,
    executionId: ctx.executionId,
    response,
    messages: ctx.messages,
    usage: ctx.usage,
    costUsd: ctx.costUsd,
    model: ctx.model,
    provider: ctx.provider,
    finishReason: ctx.finishReason,
    saved: ctx.saved,
    storedLength: ctx.storedLength,
    newMessages: ctx.newMessages,
    trimmed: ctx.trimmed,
    durationMs: performance.now() - ctx.startedAt,
  }
}

/**
 * The `AbortError` of an aborted turn, saying whether it timed out; the signal's
 * reason (else `cause`) is its cause. The pipeline and `provider-call` both use it,
 * so an aborted turn reads the same wherever it stopped.
 */
export function turnAbortError(ctx: ExecutionContext, cause?: unknown): AbortError {
  return abortErrorOf(ctx.sessionId, ctx.signal.reason ?? cause)
}

/** The `AbortError` of a turn of `sessionId` aborted for `reason` (it may never have started). */
export function abortErrorOf(sessionId: string, reason: unknown): AbortError {
  const timedOut = reason instanceof Error && reason.name === 'TimeoutError'
  return new AbortError(`Turn of session \`${sessionId}\` ${timedOut ? reason.message : 'was aborted'}`, { cause: reason })
}
