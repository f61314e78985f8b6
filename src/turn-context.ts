import type { ExecutionContext, TrimReport } from './context.js'
import type { EventPayload, PipelineEmitter, PipelineEventName } from './events.js'
import type { Message, Usage } from './types.js'

/** The pipeline's `ExecutionContext`: a class so every turn's context has one shape. */
export class TurnContext implements ExecutionContext {
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
  readonly trimmed: Record<string, TrimReport> = {}
  readonly #events: PipelineEmitter

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

function describe(error: unknown): string {
  return error instanceof Error ? error.message : String(error)
}
