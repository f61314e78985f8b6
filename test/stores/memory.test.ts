import { afterEach, beforeEach, describe, expect, it, vi } from 'vitest'
import type { Message, StateStore } from '../../src/types.js'
import { MEMORY_STORE_IDEMPOTENCY_KEYS, MemoryStore, type MemoryStoreOptions } from '../../src/stores/memory.js'
import { PromptlineError, SessionNotFoundError } from '../../src/errors.js'
import { collect } from '../helpers/async.js'
import { user } from '../helpers/messages.js'
import { describeStoreConformance } from './conformance.js'

describeStoreConformance({
  name: 'MemoryStore',
  create: async (options) => new MemoryStore(options),
  honoursSignal: true,
  loadFirst: true,
  summaries: true,
})

// TTL and LRU bookkeeping reorder sessions on every use: a separate code path.
describeStoreConformance({
  name: 'MemoryStore with ttlMs and maxSessions',
  create: async (options) => new MemoryStore({ ttlMs: 3_600_000, maxSessions: 1_000, ...options }),
  honoursSignal: true,
  loadFirst: true,
  summaries: true,
  // The store reads the clock with Date.now(): move it past the TTL (restored after each test).
  expire: async () => {
    const later = Date.now() + 3_600_001
    vi.spyOn(Date, 'now').mockReturnValue(later)
  },
})

afterEach(() => {
  vi.restoreAllMocks()
})

const ids = (store: StateStore): Promise<string[]> => collect(store.list())

describe('MemoryStore options', () => {
  it('accepts no options, an empty object and every option', () => {
    expect(() => new MemoryStore()).not.toThrow()
    expect(() => new MemoryStore({})).not.toThrow()
    expect(() => new MemoryStore({ ttlMs: 1, maxSessions: 1, maxMessages: 1 })).not.toThrow()
  })

  it('names the option and the value', () => {
    expect(() => new MemoryStore({ maxMessages: 0 })).toThrow(
      new TypeError('Expected `maxMessages` to be a positive integer, got `0`.'),
    )
  })

  const bad = [0, -1, 1.5, '1000', Number.NaN, Number.POSITIVE_INFINITY, null, 2 ** 53]
  it.each((['ttlMs', 'maxSessions', 'maxMessages'] as const).flatMap((option) => bad.map((value) => [option, value] as const)))(
    'rejects %s: %s',
    (option, value) => {
      expect(() => new MemoryStore({ [option]: value } as MemoryStoreOptions)).toThrow(TypeError)
      expect(() => new MemoryStore({ [option]: value } as MemoryStoreOptions)).toThrow(`\`${option}\``)
    },
  )

  it.each([null, 'fast', 5, [{ ttlMs: 1 }]])('rejects options %s', (options) => {
    expect(() => new MemoryStore(options as never)).toThrow(/`options`/)
  })
})

describe('MemoryStore sliding ttlMs', () => {
  const TTL = 1_000
  let store: MemoryStore

  beforeEach(() => {
    vi.useFakeTimers()
    vi.setSystemTime(new Date('2026-01-01T00:00:00Z'))
    store = new MemoryStore({ ttlMs: TTL })
  })

  afterEach(async () => {
    await store.close()
    vi.useRealTimers()
  })

  it('expires a session ttlMs after its last use', async () => {
    await store.save('s', [user('a')])
    vi.advanceTimersByTime(TTL - 1)
    expect(await ids(store)).toStrictEqual(['s'])
    vi.advanceTimersByTime(1)
    expect(await ids(store)).toStrictEqual([])
    expect(await store.load('s')).toStrictEqual([])
  })

  it.each<[string, (s: MemoryStore) => Promise<unknown>]>([
    ['load', (s) => s.load('s')],
    ['load({ last })', (s) => s.load('s', { last: 1 })],
    ['length', (s) => s.length('s')],
    ['save', (s) => s.save('s', [user('b')])],
    ['append', (s) => s.append('s', [user('b')])],
    ['append([])', (s) => s.append('s', [])],
    ['a retried append', (s) => s.append('s', [user('a')], { idempotencyKey: 'k' })],
    ['fork (source)', (s) => s.fork('s', 'copy')],
  ])('%s slides the expiry', async (_label, use) => {
    await store.append('s', [user('a')], { idempotencyKey: 'k' })
    vi.advanceTimersByTime(600)
    await use(store)
    vi.advanceTimersByTime(600) // 1200 ms after creation, 600 ms after the use
    expect(await ids(store)).toContain('s')
    vi.advanceTimersByTime(400)
    expect(await ids(store)).not.toContain('s')
    expect(await store.length('s')).toBe(0)
  })

  it.each<[string, (s: MemoryStore) => Promise<unknown>]>([
    ['list', (s) => ids(s)],
    ['a rejected fork onto it', (s) => s.fork('other', 's').catch(() => undefined)],
  ])('%s does not slide the expiry', async (_label, use) => {
    await store.save('other', [user('o')])
    await store.save('s', [user('a')])
    vi.advanceTimersByTime(600)
    await use(store)
    vi.advanceTimersByTime(400)
    expect(await store.length('s')).toBe(0)
  })

  it('treats an expired session exactly like an unknown one', async () => {
    await store.append('s', [user('a'), user('b')], { idempotencyKey: 'k' })
    vi.advanceTimersByTime(TTL)
    expect(await store.load('s')).toStrictEqual([])
    expect(await store.load('s', { last: 1 })).toStrictEqual([])
    expect(await store.length('s')).toBe(0)
    expect(await store.delete('s')).toBe(false)
    await expect(store.fork('s', 't')).rejects.toBeInstanceOf(SessionNotFoundError)
    // The key went with the session: this append is not a retry.
    expect(await store.append('s', [user('c')], { idempotencyKey: 'k' })).toBe(1)
    expect(await store.load('s')).toStrictEqual([user('c')])
  })

  it('lets a fork target an expired session', async () => {
    await store.save('old', [user('old')])
    vi.advanceTimersByTime(TTL)
    await store.save('src', [user('new')])
    await store.fork('src', 'old')
    expect(await store.load('old')).toStrictEqual([user('new')])
  })

  it('gives each session its own expiry', async () => {
    await store.save('a', [user('a')])
    vi.advanceTimersByTime(500)
    await store.save('b', [user('b')])
    vi.advanceTimersByTime(500)
    expect(await ids(store)).toStrictEqual(['b'])
    vi.advanceTimersByTime(499)
    expect(await store.length('b')).toBe(1)
  })

  it('starts no timers', async () => {
    await store.save('a', [user('a')])
    await store.append('b', [user('b')])
    await store.load('a')
    expect(vi.getTimerCount()).toBe(0)
  })
})

describe('MemoryStore maxSessions', () => {
  it('evicts the least recently used session', async () => {
    const store = new MemoryStore({ maxSessions: 2 })
    await store.save('a', [user('a')])
    await store.save('b', [user('b')])
    await store.save('c', [user('c')])
    expect(await ids(store)).toStrictEqual(['b', 'c'])
    expect(await store.load('a')).toStrictEqual([])
  })

  it.each<[string, (s: MemoryStore) => Promise<unknown>]>([
    ['load', (s) => s.load('a')],
    ['load({ last })', (s) => s.load('a', { last: 1 })],
    ['length', (s) => s.length('a')],
    ['save', (s) => s.save('a', [user('a2')])],
    ['append', (s) => s.append('a', [user('a2')])],
    ['a retried append', (s) => s.append('a', [user('a')], { idempotencyKey: 'k' })],
  ])('%s makes a session the most recently used', async (_label, use) => {
    const store = new MemoryStore({ maxSessions: 2 })
    await store.append('a', [user('a')], { idempotencyKey: 'k' })
    await store.save('b', [user('b')])
    await use(store)
    await store.save('c', [user('c')])
    expect(await ids(store)).toStrictEqual(['a', 'c'])
  })

  it('keeps recency exact when uses alternate between sessions', async () => {
    const store = new MemoryStore({ maxSessions: 2 })
    await store.save('a', [user('a')])
    await store.load('a')
    await store.save('b', [user('b')])
    await store.load('a')
    await store.save('c', [user('c')])
    expect(await ids(store)).toStrictEqual(['a', 'c'])
  })

  it('counts a fork source as used and the fork as a new session', async () => {
    const store = new MemoryStore({ maxSessions: 3 })
    await store.save('a', [user('a')])
    await store.save('b', [user('b')])
    await store.fork('a', 'copy')
    await store.save('d', [user('d')])
    expect(await ids(store)).toStrictEqual(['a', 'copy', 'd'])
  })

  it('does not count list as use', async () => {
    const store = new MemoryStore({ maxSessions: 2 })
    await store.save('a', [user('a')])
    await store.save('b', [user('b')])
    await ids(store)
    await store.save('c', [user('c')])
    expect(await ids(store)).toStrictEqual(['b', 'c'])
  })

  it('evicts nothing when a session at the cap is updated', async () => {
    const store = new MemoryStore({ maxSessions: 2 })
    await store.save('a', [user('a')])
    await store.save('b', [user('b')])
    await store.save('a', [user('a2')])
    await store.append('b', [user('b2')])
    expect(await ids(store)).toStrictEqual(['a', 'b'])
    expect(await store.load('a')).toStrictEqual([user('a2')])
  })

  it.each<[string, (s: MemoryStore) => Promise<unknown>]>([
    ['delete', (s) => s.delete('a')],
    ['save([])', (s) => s.save('a', [])],
  ])('frees a slot on %s', async (_label, free) => {
    const store = new MemoryStore({ maxSessions: 2 })
    await store.save('a', [user('a')])
    await store.save('b', [user('b')])
    await free(store)
    await store.save('c', [user('c')])
    expect(await ids(store)).toStrictEqual(['b', 'c'])
  })

  it('with maxSessions: 1, a fork replaces its source', async () => {
    const store = new MemoryStore({ maxSessions: 1 })
    await store.save('a', [user('a')])
    await store.fork('a', 'b')
    expect(await ids(store)).toStrictEqual(['b'])
    expect(await store.load('b')).toStrictEqual([user('a')])
  })

  it('evicts expired sessions before live ones', async () => {
    vi.useFakeTimers()
    try {
      const store = new MemoryStore({ maxSessions: 2, ttlMs: 1_000 })
      await store.save('a', [user('a')])
      vi.advanceTimersByTime(1_000)
      await store.save('b', [user('b')])
      await store.save('c', [user('c')])
      expect(await ids(store)).toStrictEqual(['b', 'c'])
    } finally {
      vi.useRealTimers()
    }
  })
})

describe('MemoryStore idempotency keys', () => {
  it(`remembers the last ${MEMORY_STORE_IDEMPOTENCY_KEYS} keys per session`, async () => {
    const store = new MemoryStore()
    for (let i = 0; i <= MEMORY_STORE_IDEMPOTENCY_KEYS; i++) {
      expect(await store.append('s', [user(`m${i}`)], { idempotencyKey: `k${i}` })).toBe(i + 1)
    }
    const length = MEMORY_STORE_IDEMPOTENCY_KEYS + 1
    for (let i = 1; i <= MEMORY_STORE_IDEMPOTENCY_KEYS; i++) {
      expect(await store.append('s', [user('dup')], { idempotencyKey: `k${i}` })).toBe(length)
    }
    // k0 is the oldest and was forgotten when the 101st key arrived.
    expect(await store.append('s', [user('again')], { idempotencyKey: 'k0' })).toBe(length + 1)
  })

  it('keeps keys across a save that leaves messages', async () => {
    const store = new MemoryStore()
    await store.append('s', [user('a')], { idempotencyKey: 'k' })
    await store.save('s', [user('edited')])
    expect(await store.append('s', [user('a')], { idempotencyKey: 'k' })).toBe(1)
  })

  it('does not copy keys to a fork', async () => {
    const store = new MemoryStore()
    await store.append('s', [user('a')], { idempotencyKey: 'k' })
    await store.fork('s', 'f')
    expect(await store.append('f', [user('b')], { idempotencyKey: 'k' })).toBe(2)
  })

  it('records a key given with an empty append to an existing session', async () => {
    const store = new MemoryStore()
    await store.save('s', [user('a')])
    expect(await store.append('s', [], { idempotencyKey: 'k' })).toBe(1)
    expect(await store.append('s', [user('b')], { idempotencyKey: 'k' })).toBe(1)
  })
})

describe('MemoryStore copying cost', () => {
  // `copyMessage` deep-copies `metadata` through `JSON.stringify`, so its calls count the
  // stored messages a call copied: the cost must follow what is returned or kept, not
  // the length of the history.
  const withMetadata = (from: number, to: number): Message[] => {
    const messages: Message[] = []
    for (let i = from; i <= to; i++) messages.push(user(`m${i}`, { metadata: { i } }))
    return messages
  }

  afterEach(() => {
    vi.restoreAllMocks()
  })

  it('copies only the messages load({ last }) returns, and none for length or fork', async () => {
    const store = new MemoryStore()
    await store.save('s', withMetadata(1, 1_000))
    await store.append('s', withMetadata(1_001, 1_010))
    const clone = vi.spyOn(JSON, 'stringify')

    expect(await store.load('s', { last: 2 })).toStrictEqual(withMetadata(1_009, 1_010))
    expect(clone).toHaveBeenCalledTimes(2)

    clone.mockClear()
    expect(await store.length('s')).toBe(1_010)
    await store.fork('s', 'f')
    expect(clone).not.toHaveBeenCalled()

    expect(await store.append('s', withMetadata(1_011, 1_011))).toBe(1_011)
    expect(clone).toHaveBeenCalledTimes(1)
  })

  it('copies only the messages maxMessages keeps', async () => {
    const store = new MemoryStore({ maxMessages: 3 })
    const clone = vi.spyOn(JSON, 'stringify')
    await store.save('s', withMetadata(1, 1_000))
    expect(clone).toHaveBeenCalledTimes(3)
    clone.mockClear()
    expect(await store.append('s', withMetadata(1_001, 1_100))).toBe(3)
    expect(clone).toHaveBeenCalledTimes(3)
    expect(await store.load('s')).toStrictEqual(withMetadata(1_098, 1_100))
  })

  it('keeps the newest maxMessages exactly across many appends of every size', async () => {
    for (const max of [1, 2, 5, 8]) {
      const store = new MemoryStore({ maxMessages: max })
      const all: Message[] = []
      let next = 0
      for (let step = 0; step < 200; step++) {
        const batch: Message[] = []
        for (let n = step % 11; n > 0; n--) batch.push(user(`m${next++}`))
        all.push(...batch)
        const kept = all.slice(-max)
        expect(await store.append('s', batch)).toBe(kept.length)
        expect(await store.length('s')).toBe(kept.length)
        expect(await store.load('s')).toStrictEqual(kept)
        expect(await store.load('s', { last: 1 })).toStrictEqual(kept.slice(-1))
      }
    }
  })
})

describe('MemoryStore list order', () => {
  it('lists in creation order without ttlMs or maxSessions', async () => {
    const store = new MemoryStore()
    for (const id of ['c', 'a', 'b']) await store.save(id, [user(id)])
    await store.load('c')
    expect(await ids(store)).toStrictEqual(['c', 'a', 'b'])
  })

  it('lists least recently used first with ttlMs or maxSessions', async () => {
    const store = new MemoryStore({ maxSessions: 10 })
    for (const id of ['c', 'a', 'b']) await store.save(id, [user(id)])
    await store.load('c')
    expect(await ids(store)).toStrictEqual(['a', 'b', 'c'])
  })

  it('does not yield sessions created during the iteration', async () => {
    const store = new MemoryStore()
    await store.save('a', [user('a')])
    const seen: string[] = []
    for await (const id of store.list()) {
      seen.push(id)
      await store.save(`${id}+`, [user('new')])
    }
    expect(seen).toStrictEqual(['a'])
  })
})

describe('MemoryStore close', () => {
  it('rejects later calls with a PromptlineError saying the store is closed', async () => {
    const store = new MemoryStore()
    await store.save('s', [user('a')])
    await store.close()
    await expect(store.load('s')).rejects.toThrow(PromptlineError)
    await expect(store.length('s')).rejects.toThrow('MemoryStore is closed')
    await expect(ids(store)).rejects.toThrow('MemoryStore is closed')
  })

  it('rejects bad arguments with a TypeError even when closed', async () => {
    const store = new MemoryStore()
    await store.close()
    await expect(store.load('')).rejects.toThrow(TypeError)
  })

  it('stops a list in progress', async () => {
    const store = new MemoryStore()
    await store.save('a', [user('a')])
    await store.save('b', [user('b')])
    const iterator = store.list()[Symbol.asyncIterator]()
    expect(await iterator.next()).toStrictEqual({ done: false, value: 'a' })
    await store.close()
    await expect(iterator.next()).rejects.toThrow('MemoryStore is closed')
  })
})

describe('MemoryStore signal', () => {
  it('rejects a signal that is not an AbortSignal, naming it', async () => {
    const store = new MemoryStore()
    await expect(store.load('s', { signal: 'stop' as never })).rejects.toThrow(/`signal`.*AbortSignal.*"stop"/)
    await expect(store.append('s', [user('a')], { signal: {} as never })).rejects.toThrow(TypeError)
    expect(await store.length('s')).toBe(0)
  })
})
