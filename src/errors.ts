import type { ExecuteResult } from './context.js'

/** Base class of every error promptline throws on purpose. The original error, if any, is `cause`. */
export class PromptlineError extends Error {
  override name = 'PromptlineError'

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

/** The store could not load a session's history (and `onLoadError` is `'throw'`). */
export class StateLoadError extends PromptlineError {
  override name = 'StateLoadError'
  readonly sessionId: string

  constructor(sessionId: string, options?: { cause?: unknown }) {
    super(`Could not load session \`${sessionId}\`: ${describeCause(options?.cause)}`, options)
    this.sessionId = sessionId
  }
}

/**
 * The turn's messages could not be stored after every retry. The provider did
 * answer: `result` holds the turn as it would have been returned, so a caller can
 * show the reply and decide what to do about persistence.
 */
export class StateSaveError extends PromptlineError {
  override name = 'StateSaveError'
  readonly sessionId: string
  readonly result: ExecuteResult

  constructor(sessionId: string, result: ExecuteResult, options?: { cause?: unknown }) {
    super(`Could not save session \`${sessionId}\`: ${describeCause(options?.cause)}`, options)
    this.sessionId = sessionId
    this.result = result
  }
}

/** Stored data is not a valid history: names the session and the position of the bad entry. */
export class StateCorruptError extends PromptlineError {
  override name = 'StateCorruptError'
  readonly sessionId: string
  readonly position: number | undefined

  constructor(sessionId: string, position: number | undefined, reason: string, options?: { cause?: unknown }) {
    const where = position === undefined ? '' : ` at position ${position}`
    super(`Corrupt state in session \`${sessionId}\`${where}: ${reason}`, options)
    this.sessionId = sessionId
    this.position = position
  }
}

export class SessionNotFoundError extends PromptlineError {
  override name = 'SessionNotFoundError'
  readonly sessionId: string

  constructor(sessionId: string) {
    super(`Session \`${sessionId}\` does not exist`)
    this.sessionId = sessionId
  }
}

export class SessionExistsError extends PromptlineError {
  override name = 'SessionExistsError'
  readonly sessionId: string

  constructor(sessionId: string) {
    super(`Session \`${sessionId}\` already exists`)
    this.sessionId = sessionId
  }
}

/**
 * A turn could not take its session's lease (see `RedisStore`'s `lock`) within
 * `lock.waitMs`: another process held the session for the whole wait.
 */
export class SessionBusyError extends PromptlineError {
  override name = 'SessionBusyError'
  readonly sessionId: string

  constructor(sessionId: string, waitedMs: number) {
    super(`Session \`${sessionId}\` is busy: another turn held its lease for the whole ${waitedMs} ms wait`)
    this.sessionId = sessionId
  }
}

/**
 * A fenced write was refused: the turn's lease on the session expired or was taken
 * over before the write reached the store, so the write could interleave with
 * another process's turn. Nothing of it was stored; retrying cannot help.
 */
export class LeaseLostError extends PromptlineError {
  override name = 'LeaseLostError'
  readonly sessionId: string

  constructor(sessionId: string, detail: string) {
    super(`Lost the lease on session \`${sessionId}\`: ${detail}`)
    this.sessionId = sessionId
  }
}

/** A provider call failed. `status` is the HTTP status when there was one. */
export class ProviderError extends PromptlineError {
  override name = 'ProviderError'
  readonly provider: string
  readonly status: number | undefined

  constructor(provider: string, message: string, options?: { status?: number | undefined; cause?: unknown }) {
    const status = options?.status === undefined ? '' : ` (HTTP ${options.status})`
    super(`Provider \`${provider}\` failed${status}: ${message}`, options)
    this.provider = provider
    this.status = options?.status
  }
}

/** The pinned messages plus the newest message alone exceed the token budget. */
export class ContextOverflowError extends PromptlineError {
  override name = 'ContextOverflowError'
  readonly requiredTokens: number
  readonly maxTokens: number

  constructor(requiredTokens: number, maxTokens: number, detail: string) {
    super(`Context overflow: ${detail}; the request needs ${requiredTokens} tokens but the budget is ${maxTokens}`)
    this.requiredTokens = requiredTokens
    this.maxTokens = maxTokens
  }
}

/** A store was used after `close()`. */
export class StoreClosedError extends PromptlineError {
  override name = 'StoreClosedError'

  constructor(store: string) {
    super(`${store} is closed`)
  }
}

/** The pipeline was shut down; it accepts no new turns. */
export class PipelineClosedError extends PromptlineError {
  override name = 'PipelineClosedError'

  constructor() {
    super('Pipeline is shut down and accepts no new turns')
  }
}

/** The turn was aborted through its `AbortSignal` or by `timeoutMs`. */
export class AbortError extends PromptlineError {
  override name = 'AbortError'

  constructor(message: string, options?: { cause?: unknown }) {
    super(message, options)
  }
}

function describeCause(cause: unknown): string {
  if (cause instanceof Error) return cause.message
  if (cause === undefined) return 'unknown error'
  return String(cause)
}

/**
 * A middleware left the provider view in a state a provider would reject or that
 * loses what must stay (the pinned part, the newest message, a whole tool group).
 * Thrown before the provider is called; nothing of the turn is stored.
 */
export class ViewInvariantError extends PromptlineError {
  override name = 'ViewInvariantError'
  /** The middleware after which the view broke the rule. */
  readonly middleware: string
  readonly sessionId: string

  constructor(middleware: string, sessionId: string, problem: string) {
    super(`Middleware \`${middleware}\` broke the provider view of session \`${sessionId}\`: ${problem}. Trimming policies must keep the pinned messages, the newest message with its tool group, and tool groups whole (see docs/trimming.md).`)
    this.middleware = middleware
    this.sessionId = sessionId
  }
}
