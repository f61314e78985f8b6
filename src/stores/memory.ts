import type { AppendOptions, ListOptions, LoadedSession, LoadOptions, Message, SessionSummary, StateStore, StoreFeatures } from '../types.js'
import { checkedSummary, copySummary } from './summary.js'
import { SessionExistsError, SessionNotFoundError, StoreClosedError } from '../errors.js'
import { copyMessage } from '../messages.js'
import {
  assertKnownKeys,
  assertMessages,
  assertNonEmptyString,
  assertNonNegativeInteger,
  assertOptionsObject,
  assertPositiveInteger,
  assertSessionId,
  assertSignal,
  signalOnlyOption,
} from '../validate.js'

/** The limits of a `MemoryStore`: a process's memory is finite, so idle or long sessions can be bounded. */
export interface MemoryStoreOptions {
  /**
   * Sliding time-to-live of a session, in milliseconds: a session expires once it
   * has been neither read (`load`, `length`, `fork` source) nor written for this
   * long, and from then on behaves exactly like an unknown session. Expired
   * sessions are dropped lazily (when touched, when a session is created, and
   * during `list`); the store starts no timers. Measured with `Date.now()`.
   * @default undefined (sessions never expire)
   */
  ttlMs?: number | undefined
  /**
   * Most sessions kept at once. Creating one more evicts the least recently used
   * session (reads and writes count as use; `list` does not).
   * @default undefined (unbounded)
   */
  maxSessions?: number | undefined
  /**
   * Most messages kept per session: `save` and `append` drop the oldest beyond it.
   * @default undefined (unbounded)
   */
  maxMessages?: number | undefined
}

const MEMORY_STORE_KEYS: readonly (keyof MemoryStoreOptions)[] = ['ttlMs', 'maxSessions', 'maxMessages']
const LOAD_KEYS: readonly (keyof LoadOptions)[] = ['last', 'first', 'signal']
const APPEND_KEYS: readonly (keyof AppendOptions)[] = ['idempotencyKey', 'signal']
const LIST_KEYS: readonly (keyof ListOptions)[] = ['limit']

/**
 * Idempotency keys `append` remembers per session: the most recent ones. An older
 * key is forgotten, and a retry carrying it appends again; `state-save` retries
 * within seconds, so a turn's key is never this far back. Keys live as long as
 * their session: `delete`, `save(id, [])`, expiry and eviction forget them, a
 * non-empty `save` keeps them, and a fork starts with none.
 */
export const MEMORY_STORE_IDEMPOTENCY_KEYS = 100

class Session {
  /**
   * Stored copies. They are never handed out and never mutated, so `fork` can
   * share them between sessions. The history is `messages[head..]`: capping moves
   * `head` instead of shifting the array on every append.
   */
  messages: Message[]
  head = 0
  expiresAt: number
  /** Insertion-ordered, so the oldest key is the first one. Created on first use. */
  keys: Set<string> | undefined = undefined
  /** The rolling summary (a private copy), if any. */
  summary: SessionSummary | undefined = undefined

  constructor(messages: Message[], expiresAt: number) {
    this.messages = messages
    this.expiresAt = expiresAt
  }

  get length(): number {
    return this.messages.length - this.head
  }
}

/**
 * A `StateStore` that keeps sessions in process memory: for tests, demos, CLIs and
 * single-process servers. It is the pipeline's default store.
 *
 * Every operation is atomic (nothing awaits between reading and writing a session).
 * `load` and `append` honour `{ signal }`: already aborted, they reject with its
 * reason and read or write nothing.
 * `load({ last })` costs O(last) and `append` O(messages appended), however long the
 * history. After `close()` every call rejects with a `StoreClosedError` (bad
 * arguments are still a `TypeError`: they are checked first); `close()` itself may
 * be called again.
 *
 * @example
 * ```ts
 * import { MemoryStore, Pipeline } from 'promptline'
 * import { MockProvider } from 'promptline/testing'
 *
 * const store = new MemoryStore({ ttlMs: 30 * 60_000, maxSessions: 10_000, maxMessages: 200 })
 * const pipe = new Pipeline({ provider: new MockProvider(), store })
 * await pipe.execute('alice', 'user', 'Hi!')
 * await store.load('alice', { last: 2 }) // [{ role: 'user', … }, { role: 'assistant', … }]
 * ```
 */
export class MemoryStore implements StateStore {
  // Map iteration follows insertion order. When recency matters (TTL or LRU), every
  // touch re-inserts the session, so the first entry is always the least recently
  // used one and, as the TTL slides uniformly, the first to expire.
  readonly #sessions = new Map<string, Session>()
  readonly #ttlMs: number | undefined
  readonly #maxSessions: number | undefined
  readonly #maxMessages: number | undefined
  readonly #ordered: boolean
  /** Last id (re-)inserted: touching it again needs no delete + set. */
  #newest: string | undefined
  #closed = false
  /** `load({ first })` and the summary methods are implemented. */
  readonly features: StoreFeatures = Object.freeze({ loadFirst: true, summaries: true })

  constructor(options: MemoryStoreOptions = {}) {
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, MEMORY_STORE_KEYS, 'options')
    const { ttlMs, maxSessions, maxMessages } = options
    if (ttlMs !== undefined) assertPositiveInteger(ttlMs, 'ttlMs')
    if (maxSessions !== undefined) assertPositiveInteger(maxSessions, 'maxSessions')
    if (maxMessages !== undefined) assertPositiveInteger(maxMessages, 'maxMessages')
    this.#ttlMs = ttlMs
    this.#maxSessions = maxSessions
    this.#maxMessages = maxMessages
    this.#ordered = ttlMs !== undefined || maxSessions !== undefined
  }

  async load(sessionId: string, options?: LoadOptions): Promise<Message[]> {
    return this.#read(sessionId, options, undefined)
  }

  /** `load`, the session's length and its summary, read at once. */
  async loadWithSummary(sessionId: string, options?: LoadOptions): Promise<LoadedSession> {
    const found: { session?: Session } = {}
    const messages = await this.#read(sessionId, options, found)
    const { session } = found
    return { messages, length: session?.length ?? 0, summary: session?.summary === undefined ? undefined : copySummary(session.summary) }
  }

  /** The stored messages `[start, end)`, clamped to the history. */
  async loadRange(sessionId: string, start: number, end: number, options?: { signal?: AbortSignal | undefined }): Promise<Message[]> {
    assertSessionId(sessionId)
    assertRange(start, end)
    const signal = signalOnlyOption(options)
    this.#assertOpen()
    signal?.throwIfAborted()
    const session = this.#touch(sessionId)
    if (session === undefined) return []
    const from = session.head + Math.min(start, session.length)
    const to = session.head + Math.min(end, session.length)
    return copyRange(session.messages.slice(from, to), 0)
  }

  async loadSummary(sessionId: string): Promise<SessionSummary | undefined> {
    assertSessionId(sessionId)
    this.#assertOpen()
    const summary = this.#touch(sessionId)?.summary
    return summary === undefined ? undefined : copySummary(summary)
  }

  /** Stores `summary` only if the session exists and it moves the position forward. */
  async saveSummary(sessionId: string, summary: SessionSummary, options?: { signal?: AbortSignal | undefined }): Promise<boolean> {
    assertSessionId(sessionId)
    const copy = checkedSummary(summary)
    const signal = signalOnlyOption(options)
    this.#assertOpen()
    signal?.throwIfAborted()
    const session = this.#touch(sessionId)
    if (session === undefined) return false
    if (copy.position > session.length) {
      throw new TypeError(`Expected \`summary.position\` to be at most the session's length (${session.length}), got \`${copy.position}\`.`)
    }
    if (session.summary !== undefined && session.summary.position >= copy.position) return false
    session.summary = copy
    return true
  }

  async #read(sessionId: string, options: LoadOptions | undefined, found: { session?: Session } | undefined): Promise<Message[]> {
    assertSessionId(sessionId)
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, LOAD_KEYS, 'options')
    const last = options?.last
    if (last !== undefined) assertPositiveInteger(last, 'last')
    const first = options?.first
    if (first !== undefined) assertPositiveInteger(first, 'first')
    assertSignal(options?.signal, 'signal')
    this.#assertOpen()
    // Nothing here waits, so an abort can only come first: then nothing is read.
    options?.signal?.throwIfAborted()
    const session = this.#touch(sessionId)
    if (session === undefined) return []
    if (found !== undefined) found.session = session
    const { messages } = session
    if (first !== undefined) return headAndTail(messages, session.head, first, last)
    const start = last === undefined ? session.head : Math.max(session.head, messages.length - last)
    return copyRange(messages, start)
  }

  async save(sessionId: string, messages: Message[]): Promise<void> {
    assertSessionId(sessionId)
    assertMessages(messages)
    this.#assertOpen()
    if (messages.length === 0) {
      this.#sessions.delete(sessionId)
      return
    }
    const copies = copyRange(messages, this.#keepFrom(messages.length))
    const session = this.#touch(sessionId)
    if (session === undefined) {
      this.#create(sessionId, copies)
    } else {
      session.messages = copies
      session.head = 0
      // The summary described the history that was replaced.
      session.summary = undefined
    }
  }

  async append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
    assertSessionId(sessionId)
    assertMessages(messages)
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, APPEND_KEYS, 'options')
    const key = options?.idempotencyKey
    if (key !== undefined) assertNonEmptyString(key, 'idempotencyKey')
    assertSignal(options?.signal, 'signal')
    this.#assertOpen()
    // The append is atomic and immediate: aborted before, nothing is written; after, it is done.
    options?.signal?.throwIfAborted()
    let session = this.#touch(sessionId)
    if (session !== undefined && key !== undefined && session.keys?.has(key) === true) return session.length
    if (messages.length === 0) {
      // Nothing to store, so an unknown session stays unknown (and keeps no key).
      if (session === undefined) return 0
    } else if (session === undefined) {
      session = this.#create(sessionId, copyRange(messages, this.#keepFrom(messages.length)))
    } else {
      this.#push(session, messages)
    }
    if (key !== undefined) remember(session, key)
    return session.length
  }

  async fork(sourceId: string, targetId: string): Promise<void> {
    assertSessionId(sourceId, 'sourceId')
    assertSessionId(targetId, 'targetId')
    this.#assertOpen()
    const source = this.#touch(sourceId)
    if (source === undefined) throw new SessionNotFoundError(sourceId)
    // Only an existence check: a failed fork does not count as use of the target.
    if (this.#live(targetId) !== undefined) throw new SessionExistsError(targetId)
    // Stored messages (and the summary) are immutable, so the fork shares them; only the array is new.
    const target = this.#create(targetId, source.messages.slice(source.head))
    target.summary = source.summary
  }

  async delete(sessionId: string): Promise<boolean> {
    assertSessionId(sessionId)
    this.#assertOpen()
    return this.#live(sessionId) !== undefined && this.#sessions.delete(sessionId)
  }

  async length(sessionId: string): Promise<number> {
    assertSessionId(sessionId)
    this.#assertOpen()
    return this.#touch(sessionId)?.length ?? 0
  }

  /**
   * Yields the ids of the live sessions, least recently used first when `ttlMs` or
   * `maxSessions` is set, in creation order otherwise. Listing does not count as
   * use. Each id is yielded once; sessions deleted or expired during the iteration
   * are skipped, sessions created during it are not yielded.
   */
  async *list(options?: ListOptions): AsyncIterable<string> {
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, LIST_KEYS, 'options')
    const limit = options?.limit
    if (limit !== undefined) assertPositiveInteger(limit, 'limit')
    this.#assertOpen()
    // A snapshot: touching a session while the caller iterates re-inserts it, and a
    // live Map iterator would then visit it again.
    const ids: string[] = []
    const now = this.#ttlMs === undefined ? 0 : Date.now()
    for (const [id, session] of this.#sessions) {
      if (this.#ttlMs !== undefined && session.expiresAt <= now) this.#sessions.delete(id)
      else ids.push(id)
    }
    let yielded = 0
    for (const id of ids) {
      this.#assertOpen()
      if (this.#live(id) === undefined) continue
      yield id
      if (++yielded === limit) return
    }
  }

  /** Drops every session. Later calls reject with a `StoreClosedError`; closing again is a no-op. */
  async close(): Promise<void> {
    this.#closed = true
    this.#sessions.clear()
    this.#newest = undefined
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('MemoryStore')
  }

  /** The session if it exists and has not expired; an expired one is dropped. Not a use. */
  #live(sessionId: string): Session | undefined {
    const session = this.#sessions.get(sessionId)
    if (session === undefined) return undefined
    if (this.#ttlMs !== undefined && session.expiresAt <= Date.now()) {
      this.#sessions.delete(sessionId)
      return undefined
    }
    return session
  }

  /** Like `#live`, and counts as a use: slides the TTL and makes the session the most recent. */
  #touch(sessionId: string): Session | undefined {
    const session = this.#sessions.get(sessionId)
    if (session === undefined) return undefined
    if (this.#ttlMs !== undefined) {
      const now = Date.now()
      if (session.expiresAt <= now) {
        this.#sessions.delete(sessionId)
        return undefined
      }
      session.expiresAt = now + this.#ttlMs
    }
    if (this.#ordered && this.#newest !== sessionId) {
      this.#sessions.delete(sessionId)
      this.#sessions.set(sessionId, session)
      this.#newest = sessionId
    }
    return session
  }

  /** Inserts a session the caller knows is absent, making room under `maxSessions`. */
  #create(sessionId: string, messages: Message[]): Session {
    let expiresAt = 0
    if (this.#ttlMs !== undefined) {
      const now = Date.now()
      expiresAt = now + this.#ttlMs
      // Expired sessions sit at the front; dropping them here bounds memory without timers.
      for (const [id, session] of this.#sessions) {
        if (session.expiresAt > now) break
        this.#sessions.delete(id)
      }
    }
    if (this.#maxSessions !== undefined && this.#sessions.size >= this.#maxSessions) {
      const oldest = this.#sessions.keys().next()
      if (oldest.done !== true) this.#sessions.delete(oldest.value)
    }
    const session = new Session(messages, expiresAt)
    this.#sessions.set(sessionId, session)
    this.#newest = sessionId
    return session
  }

  /** Index of the first of `count` incoming messages that survives `maxMessages`. */
  #keepFrom(count: number): number {
    return this.#maxMessages !== undefined && count > this.#maxMessages ? count - this.#maxMessages : 0
  }

  #push(session: Session, incoming: readonly Message[]): void {
    const max = this.#maxMessages
    if (max !== undefined && incoming.length >= max) {
      // The old history is dropped whole: copy only the incoming messages that survive.
      session.messages = copyRange(incoming, incoming.length - max)
      session.head = 0
      return
    }
    const { messages } = session
    for (let i = 0; i < incoming.length; i++) messages.push(copyMessage(incoming[i] as Message))
    if (max === undefined) return
    const excess = messages.length - session.head - max
    if (excess <= 0) return
    session.head += excess
    // Compacting once half the array is dead moves each message at most once more:
    // amortised O(1) per append, and at most 2 × maxMessages entries held.
    if (session.head * 2 >= messages.length) {
      messages.copyWithin(0, session.head)
      messages.length -= session.head
      session.head = 0
    }
  }
}

/** Copies of the first `first` of `messages[head..]` and, with `last`, of its newest `last`, each once. */
function headAndTail(messages: readonly Message[], head: number, first: number, last: number | undefined): Message[] {
  const headEnd = Math.min(messages.length, head + first)
  const tailStart = last === undefined ? messages.length : Math.max(headEnd, messages.length - last)
  const copies: Message[] = []
  for (let i = head; i < headEnd; i++) copies.push(copyMessage(messages[i] as Message))
  for (let i = tailStart; i < messages.length; i++) copies.push(copyMessage(messages[i] as Message))
  return copies
}

/** Copies of `messages[start..]`, in one allocation. */
function copyRange(messages: readonly Message[], start: number): Message[] {
  const copies = new Array<Message>(messages.length - start)
  for (let i = start; i < messages.length; i++) copies[i - start] = copyMessage(messages[i] as Message)
  return copies
}

function assertRange(start: unknown, end: unknown): void {
  assertNonNegativeInteger(start, 'start')
  assertNonNegativeInteger(end, 'end')
  if (end < start) throw new TypeError(`Expected \`end\` to be at least \`start\` (${start}), got \`${end}\`.`)
}

function remember(session: Session, key: string): void {
  const keys = (session.keys ??= new Set())
  keys.add(key)
  if (keys.size > MEMORY_STORE_IDEMPOTENCY_KEYS) keys.delete(keys.values().next().value as string)
}
