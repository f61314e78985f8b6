import type { ExecutionContext, TrimReport } from './context.js'
import type { EventPayload, PipelineEmitter, PipelineEventName } from './events.js'
import type { Message, SessionLease, Usage } from './types.js'

/** The pipeline's `ExecutionContext`: a class so every turn's context has one shape. */
export class TurnContext implements ExecutionContext, TurnWrites {
  readonly startedAt = performance.now()
  history: Message[] = []
  response: Message | undefined = undefined
  usage: Usage | undefined = undefined
  finishReason: string | undefined = undefined
  model: string | undefined = undefined
  provider: string | undefined = undefined
  costUsd: number | undefined = undefined
  readonly input: Message
  readonly newMessages: Message[]
  saved = false
  storedLength: number | undefined = undefined
  readonly state = new Map<string, unknown>()
  lease: SessionLease | undefined = undefined
  readonly trimmed: Record<string, TrimReport> = {}
  readonly #events: PipelineEmitter
  /** Store writes of this turn that have not settled yet (see `trackWrite`). */
  readonly #writes = new Set<Promise<unknown>>()
  /** Whether a save was attempted: a turn whose save failed in `'warn'` mode still resolves. */
  #saveAttempted = false

  constructor(
    events: PipelineEmitter,
    readonly executionId: string,
    readonly sessionId: string,
    inputs: readonly Message[],
    public messages: Message[],
    public pinned: number,
    readonly signal: AbortSignal,
    readonly onDelta: ((text: string) => void | Promise<void>) | undefined,
  ) {
    this.#events = events
    this.input = inputs[inputs.length - 1] as Message
    this.newMessages = inputs.slice()
  }

  track(write: Promise<unknown>): void {
    this.#saveAttempted = true
    this.#writes.add(write)
    const done = () => this.#writes.delete(write)
    write.then(done, done)
  }

  writesSettled(): Promise<unknown> {
    return this.#writes.size === 0 ? Promise.resolve() : Promise.allSettled([...this.#writes])
  }

  get saveAttempted(): boolean {
    return this.#saveAttempted
  }

  emit<K extends PipelineEventName>(event: K, payload: Omit<EventPayload<K>, 'sessionId' | 'executionId'>): void {
    // Events are optional: skip building the payload object when nobody listens.
    if (this.#events.listenerCount(event) === 0) return
    const full = { sessionId: this.sessionId, executionId: this.executionId, ...payload } as EventPayload<K>
    try {
      ;(this.#events.emit as (event: K, payload: EventPayload<K>) => boolean)(event, full)
    } catch (error) {
      // A broken listener must not fail, or half-fail, a turn (it may already be saved).
      process.emitWarning(`A listener of promptline's \`${event}\` event threw: ${describe(error)}`, {
        code: 'PROMPTLINE_LISTENER_ERROR',
      })
    }
  }
}

/**
 * Registers a store write of the turn (each `append` attempt of `state-save`), so
 * that a turn settled at its deadline while the write is still in flight holds its
 * session's queue until the write lands or fails: the next turn then sees it, and
 * never interleaves with it. A no-op for a context the pipeline did not create.
 */
export function trackWrite(ctx: ExecutionContext, write: Promise<unknown>): void {
  if (ctx instanceof TurnContext) ctx.track(write)
}

/** `TurnContext`'s internals the pipeline uses; not part of `ExecutionContext`. */
export interface TurnWrites {
  track(write: Promise<unknown>): void
  /** Settles once every write registered so far has settled. */
  writesSettled(): Promise<unknown>
  readonly saveAttempted: boolean
}

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
