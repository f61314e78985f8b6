/**
 * Shared set-up of the OpenAI suites: the fake server's lifecycle for a test file
 * (`useFakeOpenAI`), and for the pipeline-level suites (test/pipeline-openai*.test.ts)
 * a real `OpenAIProvider` talking HTTP to the fake server, a `MemoryStore` whose
 * appends are counted, and a recorder of every event the pipeline emits.
 */
import { afterEach, vi } from 'vitest'
import { MemoryStore, Pipeline } from '../../src/index.js'
import type { EventPayload, ExecuteResult, PipelineEventName, PipelineOptions, StreamChunk } from '../../src/index.js'
import { OpenAIProvider, type OpenAIProviderOptions } from '../../src/openai.js'
import { startFakeOpenAI } from './fake-openai-server.js'
import type { FakeOpenAIOptions, FakeOpenAIServer } from './fake-openai-server.js'
import { suiteResource } from './suite.js'

export const KEY = 'sk-test-SECRET-1234'

/**
 * A fake OpenAI server for the enclosing test file or `describe`: started in
 * `beforeAll`, `reset()` after each test, closed in `afterAll`. The object returned
 * stands for that server (read it in tests and hooks, once `beforeAll` has run).
 */
export function useFakeOpenAI(options: FakeOpenAIOptions = {}): FakeOpenAIServer {
  const current = suiteResource('useFakeOpenAI()', () => startFakeOpenAI(options), (server) => server.close())
  afterEach(() => {
    current().reset()
  })
  return {
    get baseURL() {
      return current().baseURL
    },
    get port() {
      return current().port
    },
    get requests() {
      return current().requests
    },
    enqueue: (...behaviours) => current().enqueue(...behaviours),
    setFallback: (behaviour) => current().setFallback(behaviour),
    waitForRequests: (count, timeoutMs) => current().waitForRequests(count, timeoutMs),
    reset: () => current().reset(),
    close: () => current().close(),
  }
}

/** Every event name of `PipelineEvents`. */
export const EVENT_NAMES: readonly PipelineEventName[] = [
  'execution:start',
  'middleware:start',
  'middleware:end',
  'state:loaded',
  'state:load-retry',
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

/** The result of a streamed turn: the `done` chunk that ends `chunks`. */
export function doneOf(chunks: readonly StreamChunk[]): ExecuteResult {
  const last = chunks.at(-1)
  if (last?.type !== 'done') throw new Error('the stream did not end with done')
  return last.result
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
