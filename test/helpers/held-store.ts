import type { AppendOptions, ListOptions, LoadOptions, Message, StateStore } from '../../src/types.js'
import { MemoryStore } from '../../src/stores/memory.js'

/** A call the test holds until it calls `release()`; `started` resolves once the call was made. */
export interface Hold {
  started: Promise<void>
  release(): void
}

/**
 * A `StateStore` over a `MemoryStore` whose next `load`s or `append`s can be held:
 * they wait, ignoring any signal, until the test releases them, as a stalled
 * network store does. A held append is applied only once released (a late write).
 * Every `load` and `append` is recorded in `calls`, in order.
 */
export class HeldStore implements StateStore {
  readonly inner = new MemoryStore()
  readonly calls: string[] = []
  readonly #loads: Array<{ started: () => void; released: Promise<void> }> = []
  readonly #appends: Array<{ started: () => void; released: Promise<void> }> = []

  /** Holds the next `load` call. */
  holdLoad(): Hold {
    return hold(this.#loads)
  }

  /** Holds the next `append` call. */
  holdAppend(): Hold {
    return hold(this.#appends)
  }

  async load(sessionId: string, options?: LoadOptions): Promise<Message[]> {
    this.calls.push(`load ${sessionId}`)
    const held = this.#loads.shift()
    if (held !== undefined) {
      held.started()
      await held.released
    }
    const { signal: _ignored, ...rest } = options ?? {}
    return this.inner.load(sessionId, rest)
  }

  async append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
    this.calls.push(`append ${sessionId} ${messages.map((m) => m.content).join('|')}`)
    const held = this.#appends.shift()
    if (held !== undefined) {
      held.started()
      await held.released
      this.calls.push(`appended ${sessionId} ${messages.map((m) => m.content).join('|')}`)
    }
    const { signal: _ignored, ...rest } = options ?? {}
    return this.inner.append(sessionId, messages, rest)
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
}

function hold(queue: Array<{ started: () => void; released: Promise<void> }>): Hold {
  let started!: () => void
  let release!: () => void
  const startedPromise = new Promise<void>((resolve) => (started = resolve))
  const released = new Promise<void>((resolve) => (release = resolve))
  queue.push({ started, released })
  return { started: startedPromise, release }
}
