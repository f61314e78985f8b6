import type { AppendOptions, ListOptions, LoadOptions, Message, StateStore } from '../../src/types.js'
import { MemoryStore } from '../../src/stores/memory.js'

/** A store failure the tests can recognise by identity. */
export class StoreDownError extends Error {
  override name = 'StoreDownError'
}

/**
 * A `StateStore` over a `MemoryStore` that fails on demand and records every
 * `load` and `append` call (arguments as passed, messages copied).
 *
 * - `failAppends`: the next N appends throw before storing anything.
 * - `loseAcks`: the next N appends store their messages and then throw, as a
 *   network store does when the acknowledgement is lost.
 * - `failLoads`: the next N loads throw.
 *
 * Errors are plain `Error`s (p-retry does not retry `TypeError`s).
 */
export class FlakyStore implements StateStore {
  readonly inner: MemoryStore
  failAppends = 0
  loseAcks = 0
  failLoads = 0
  readonly loadCalls: Array<{ sessionId: string; options: LoadOptions | undefined }> = []
  readonly appendCalls: Array<{ sessionId: string; messages: Message[]; options: AppendOptions | undefined }> = []
  /** Every error this store threw, in order. */
  readonly thrown: StoreDownError[] = []

  constructor(inner: MemoryStore = new MemoryStore()) {
    this.inner = inner
  }

  async load(sessionId: string, options?: LoadOptions): Promise<Message[]> {
    this.loadCalls.push({ sessionId, options: options === undefined ? undefined : { ...options } })
    if (this.failLoads > 0) {
      this.failLoads--
      throw this.#fail(`load of ${sessionId} failed`)
    }
    return this.inner.load(sessionId, options)
  }

  async append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
    this.appendCalls.push({
      sessionId,
      messages: structuredClone(messages),
      options: options === undefined ? undefined : { ...options },
    })
    if (this.failAppends > 0) {
      this.failAppends--
      throw this.#fail(`append to ${sessionId} failed`)
    }
    const length = await this.inner.append(sessionId, messages, options)
    if (this.loseAcks > 0) {
      this.loseAcks--
      throw this.#fail(`append to ${sessionId}: connection reset before the reply`)
    }
    return length
  }

  save(sessionId: string, messages: Message[]): Promise<void> {
    return this.inner.save(sessionId, messages)
  }

  fork(sourceId: string, targetId: string): Promise<void> {
    return this.inner.fork(sourceId, targetId)
  }

  delete(sessionId: string): Promise<boolean> {
    return this.inner.delete(sessionId)
  }

  length(sessionId: string): Promise<number> {
    return this.inner.length(sessionId)
  }

  list(options?: ListOptions): AsyncIterable<string> {
    return this.inner.list(options)
  }

  close(): Promise<void> {
    return this.inner.close()
  }

  #fail(message: string): StoreDownError {
    const error = new StoreDownError(message)
    this.thrown.push(error)
    return error
  }
}
