import type { ExecutionContext } from '../../src/context.js'
import type { EventPayload, PipelineEventName } from '../../src/events.js'
import type { Message } from '../../src/types.js'
import { pinnedCount } from '../../src/messages.js'

export interface RecordedEvent {
  name: PipelineEventName
  payload: Record<string, unknown>
}

export type FakeContext = ExecutionContext & { readonly events: RecordedEvent[] }

/**
 * A minimal `ExecutionContext` for running one middleware (or a `compose`d chain)
 * without a `Pipeline`: the view is `messages`, the input its last message, and
 * emitted events are recorded in `events`.
 */
export function fakeContext(messages: Message[] = [], signal: AbortSignal = new AbortController().signal): FakeContext {
  const input: Message = messages.at(-1) ?? { role: 'user', content: '' }
  const events: RecordedEvent[] = []
  return {
    executionId: 'exec-1',
    sessionId: 'session-1',
    startedAt: performance.now(),
    input,
    history: [],
    messages,
    pinned: pinnedCount(messages),
    response: undefined,
    usage: undefined,
    finishReason: undefined,
    model: undefined,
    costUsd: undefined,
    newMessages: [input],
    saved: false,
    storedLength: undefined,
    signal,
    state: new Map(),
    onDelta: undefined,
    trimmed: {},
    events,
    emit<K extends PipelineEventName>(name: K, payload: Omit<EventPayload<K>, 'sessionId' | 'executionId'>) {
      events.push({ name, payload: { sessionId: 'session-1', executionId: 'exec-1', ...payload } })
    },
  }
}

/** A `next` that does nothing (the end of a chain). */
export const done = async (): Promise<void> => {}
