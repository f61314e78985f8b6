import { EventEmitter } from 'eventemitter3'
import type { Role, Usage } from './types.js'

/** Fields every pipeline event carries. */
export interface TurnEvent {
  sessionId: string
  executionId: string
}

/** Every event a pipeline emits, with its payload. */
export interface PipelineEvents {
  'execution:start': TurnEvent & { role: Role; streaming: boolean }
  /** The turn holds its session's lease (a store with leases, e.g. `RedisStore`'s `lock`); `waitedMs`: how long it waited for it. */
  'session:leased': TurnEvent & { waitedMs: number }
  'middleware:start': TurnEvent & { name: string }
  'middleware:end': TurnEvent & { name: string; durationMs: number; error?: unknown }
  'state:loaded': TurnEvent & { count: number; last: number | undefined }
  /** A load failed with a transient error and is tried again (`attempt` is the one that failed). */
  'state:load-retry': TurnEvent & { attempt: number; retriesLeft: number; error: unknown }
  'state:load-failed': TurnEvent & { error: unknown; action: 'throw' | 'start-fresh' }
  'context:trimmed': TurnEvent & { kept: number; dropped: number; maxMessages: number }
  'tokens:truncated': TurnEvent & { kept: number; dropped: number; tokens: number; maxTokens: number }
  /** Old tool results were replaced by a placeholder in the view (`toolResults`). */
  'tool-results:cleared': TurnEvent & { cleared: number; keepLast: number }
  /** A message too big for the budget was cut in the view (`tokenLimit.oversized: 'truncate'`). */
  'tokens:oversized': TurnEvent & { role: string; removedTokens: number; keptTokens: number; maxTokens: number }
  /**
   * The rolling summary moved forward (`summary`): it now covers the stored messages
   * before `position`. The summariser's usage and cost are reported here, never added to the turn's.
   */
  'summary:updated': TurnEvent & {
    position: number
    previousPosition: number
    /** Stored messages summarised in this step. */
    summarised: number
    /** Characters of the summariser's request (previous summary and new messages). */
    requestChars: number
    mode: 'background' | 'inline'
    model: string | undefined
    usage: Usage | undefined
    costUsd: number | undefined
    durationMs: number
  }
  /** The summariser failed, timed out or returned nothing: the old summary stays, and a later turn tries again. */
  'summary:failed': TurnEvent & { error: unknown; position: number; mode: 'background' | 'inline' }
  'provider:response': TurnEvent & {
    provider: string
    model: string | undefined
    usage: Usage | undefined
    costUsd: number | undefined
    finishReason: string | undefined
    durationMs: number
  }
  'state:save-retry': TurnEvent & { attempt: number; retriesLeft: number; error: unknown }
  'state:saved': TurnEvent & { count: number; storedLength: number; attempts: number }
  'state:save-failed': TurnEvent & { error: unknown; attempts: number }
  'execution:end': TurnEvent & { durationMs: number; saved: boolean; error?: unknown }
}

/** The name of a pipeline event, for code that subscribes to events chosen at run time. */
export type PipelineEventName = keyof PipelineEvents
/** The payload of one event, to type a listener written apart from its `on(…)` call. */
export type EventPayload<K extends PipelineEventName> = PipelineEvents[K]

/**
 * One listener signature per event, which is what lets `pipe.on(name, listener)` type the
 * listener's payload from the event's name.
 */
export type PipelineListeners = { [K in PipelineEventName]: (payload: PipelineEvents[K]) => void }

/** The typed `eventemitter3` emitter a `Pipeline` extends. */
export class PipelineEmitter extends EventEmitter<PipelineListeners> {}
