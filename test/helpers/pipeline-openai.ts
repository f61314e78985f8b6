/**
 * Shared set-up of the pipeline-level OpenAI suites (test/pipeline-openai*.test.ts):
 * a real `OpenAIProvider` talking HTTP to the fake server, a `MemoryStore` whose
 * appends are counted, and a recorder of every event the pipeline emits.
 */
import { vi } from 'vitest'
import { MemoryStore, OpenAIProvider, Pipeline } from '../../src/index.js'
import type { EventPayload, OpenAIProviderOptions, PipelineEventName, PipelineOptions, StreamChunk } from '../../src/index.js'
import type { FakeOpenAIServer } from './fake-openai-server.js'

export const KEY = 'sk-test-SECRET-1234'

/** Every event name of `PipelineEvents`. */
export const EVENT_NAMES: readonly PipelineEventName[] = [
  'execution:start',
  'middleware:start',
  'middleware:end',
  'state:loaded',
  'state:load-failed',
  'context:trimmed',
  'tokens:truncated',
  'provider:response',
  'state:save-retry',
  'state:saved',
  'state:save-failed',
  'execution:end',
]

export interface RecordedEvent {
  name: PipelineEventName
  payload: unknown
}

export interface Setup {
  pipe: Pipeline
  store: MemoryStore
  provider: OpenAIProvider
  /** Every event emitted, in order. */
  events: RecordedEvent[]
  /** The payloads of one event kind. */
  of<K extends PipelineEventName>(name: K): Array<EventPayload<K>>
  /** How many times `store.append` was called. */
  appends(): number
}

export interface SetupOptions {
  pipeline?: Omit<PipelineOptions, 'provider'>
  provider?: Partial<OpenAIProviderOptions>
  /** A store of your own (default: a fresh `MemoryStore`). */
  store?: MemoryStore
}

export function setup(server: FakeOpenAIServer, options: SetupOptions = {}): Setup {
  const store = options.store ?? new MemoryStore()
  const append = vi.spyOn(store, 'append')
  const provider = new OpenAIProvider({ model: 'gpt-4o-mini', apiKey: KEY, baseURL: server.baseURL, ...options.provider })
  const pipe = new Pipeline({ store, ...options.pipeline, provider })
  const events: RecordedEvent[] = []
  for (const name of EVENT_NAMES) {
    pipe.on(name as 'execution:start', (payload) => events.push({ name, payload }))
  }
  return {
    pipe,
    store,
    provider,
    events,
    of: <K extends PipelineEventName>(name: K) =>
      events.filter((event) => event.name === name).map((event) => event.payload as EventPayload<K>),
    appends: () => append.mock.calls.length,
  }
}

export async function rejection(promise: Promise<unknown>): Promise<unknown> {
  try {
    await promise
  } catch (error) {
    return error
  }
  throw new Error('expected a rejection')
}

/** Reads a whole `pipe.stream`; resolves with the chunks, or rejects with the chunks so far attached as `chunks`. */
export async function collect(stream: AsyncIterable<StreamChunk>): Promise<StreamChunk[]> {
  const chunks: StreamChunk[] = []
  try {
    for await (const chunk of stream) chunks.push(chunk)
  } catch (error) {
    Object.defineProperty(error, 'chunks', { value: chunks, enumerable: false })
    throw error
  }
  return chunks
}

export function deltasOf(chunks: readonly StreamChunk[]): string[] {
  return chunks.flatMap((chunk) => (chunk.type === 'delta' ? [chunk.text] : []))
}

/** The `messages` of the n-th request the fake server received. */
export function sentMessages(server: FakeOpenAIServer, n: number): unknown[] {
  const request = server.requests[n]
  if (request === undefined) throw new Error(`the server received no request #${n}`)
  return request.body?.messages ?? []
}
