/**
 * The one conformance suite every `StateStore` passes (after unstorage's
 * `test/drivers/utils.ts`). A store's test file calls it once per configuration:
 *
 * ```ts
 * describeStoreConformance({
 *   name: 'RedisStore (standalone)',
 *   create: async (options) => new RedisStore(client, { prefix: uniquePrefix(), ...options }),
 * })
 * ```
 *
 * It assumes nothing about the store beyond `StateStore`, DESIGN.md and `create`'s
 * contract below.
 */
import { afterEach, beforeEach, describe, expect, it } from 'vitest'
import type { Message, StateStore } from '../../src/types.js'
import { PromptlineError, SessionExistsError, SessionNotFoundError } from '../../src/errors.js'
import { collect } from '../helpers/async.js'
import { assistant, numbered, user } from '../helpers/messages.js'

export interface ConformanceOptions {
  /** Passed to the store's own `maxMessages` option. */
  maxMessages?: number
}

export interface ConformanceTarget {
  /** Shown in the suite's title, e.g. `'MemoryStore'` or `'RedisStore (cluster)'`. */
  name: string
  /**
   * Returns a new store that sees no sessions at all (for Redis: a fresh unique
   * prefix on every call). It is called at least once per test; the suite closes
   * every store it created after each test, sometimes a second time, so `close()`
   * must be idempotent. Data left behind is the target's to clean up.
   */
  create(options?: ConformanceOptions): Promise<StateStore>
  /**
   * Run the tests of `{ signal }` in `load` and `append`: an already-aborted signal
   * rejects with its reason and reads or writes nothing. Off until the store honours
   * the signal (every store must accept it, and those tests always run).
   * @default false
   */
  honoursSignal?: boolean
  /**
   * The store implements the optional `load({ first })` (`features.loadFirst`): run
   * its tests. The suite checks that the store's `features` say the same.
   * @default false
   */
  loadFirst?: boolean
  /**
   * The store implements the optional rolling-summary methods (`features.summaries`):
   * run their tests. The suite checks that `features` says the same.
   * @default false
   */
  summaries?: boolean
  /**
   * Makes a session expire now (for stores with a TTL); the summary tests then check
   * that the summary went with it. Omitted: that test is skipped.
   */
  expire?(store: StateStore, sessionId: string): Promise<void>
}

/** Every field a message can carry, with nested metadata, empty content and unicode. */
function richHistory(): Message[] {
  return [
    { role: 'system', content: 'You are terse.' },
    user('Weather in Zürich? 🌦️ — «quoted» 会话 مرحبا e\u0301', { name: 'alice', metadata: { source: 'web' } }),
    {
      role: 'assistant',
      content: '',
      toolCalls: [
        { id: 'call_1', name: 'get_weather', arguments: '{"city":"Zürich","units":["C"]}' },
        { id: 'call_2', name: 'get_time', arguments: '' },
      ],
      // Opaque provider data (Anthropic's signed thinking blocks) must come back byte for byte.
      reasoning: {
        text: 'Two lookups, in parallel.',
        format: 'anthropic',
        data: [
          { type: 'thinking', thinking: 'Two lookups, in parallel.', signature: 'EqQBCgIYAh+/=' },
          { type: 'redacted_thinking', data: 'EmwKAhgBEgy3va3pzix/LafPsn4aDFIT2Xlxh0L5L8rLVyIwxtE3rAFBa8cr3qpP' },
        ],
      },
    },
    { role: 'tool', content: '18°C', toolCallId: 'call_1', name: 'get_weather' },
    { role: 'tool', content: '', toolCallId: 'call_2' },
    {
      role: 'assistant',
      content: 'It is 18°C.\nLine two\twith\u2028separators\u0000and a lone \ud800 surrogate.',
      metadata: {
        model: 'gpt-4o',
        usage: { inputTokens: 12, outputTokens: 3 },
        nested: { deep: { list: [1, 'two', { three: 3 }], flag: true, nothing: null, ratio: 0.25 } },
        '': 'empty key',
        '🔑': 'emoji key',
      },
    },
  ]
}

/** Runs `call`, failing the test if it throws synchronously, and resolves to what it rejected with. */
async function rejectionOf(call: () => unknown): Promise<unknown> {
  let result: unknown
  try {
    result = call()
  } catch (error) {
    throw new Error(`expected a rejected promise, but the call threw synchronously: ${String(error)}`)
  }
  try {
    await result
  } catch (error) {
    return error
  }
  throw new Error('expected the call to reject, but it resolved')
}

async function expectTypeError(call: () => unknown, names: RegExp): Promise<void> {
  const error = await rejectionOf(call)
  expect(error).toBeInstanceOf(TypeError)
  expect((error as TypeError).message).toMatch(names)
}

// Session ids must round-trip exactly and never collide, whatever a store does to
// turn them into keys: separators, Redis hash-tag braces, glob metacharacters for
// SCAN MATCH, escape characters, whitespace, and ids that are prefixes of others.
const HOSTILE_IDS: readonly string[] = [
  'a',
  'a:b',
  'a:',
  ':a',
  'a::b',
  'a}',
  '{a}',
  '{a',
  '{',
  '}',
  '{}',
  'a}:b',
  'x}:{y',
  '}{',
  '*',
  'a*',
  '?',
  'a?',
  '[',
  '[ab]',
  'a]',
  '^$.|+()',
  'a b',
  ' a',
  'a ',
  'line\nbreak',
  'crlf\r\n',
  'tab\t',
  'nul\u0000byte',
  '%',
  'a%3Ab',
  'a%3ab',
  '%7Ba%7D',
  '\\',
  'a\\:b',
  '"quoted"',
  "'single'",
  '/slash/',
  'ünïcödé',
  'e\u0301',
  '\u00e9',
  '会话',
  'مرحبا',
  '😀',
  '👩‍👩‍👧',
  'x'.repeat(512),
  'é'.repeat(256), // 512 UTF-8 bytes
  '😀'.repeat(128), // 512 UTF-8 bytes
]

export function describeStoreConformance(target: ConformanceTarget): void {
  describe(`StateStore conformance: ${target.name}`, () => {
    let opened: StateStore[] = []
    let store: StateStore

    async function open(options?: ConformanceOptions): Promise<StateStore> {
      const created = await target.create(options)
      opened.push(created)
      return created
    }

    beforeEach(async () => {
      store = await open()
    })

    afterEach(async () => {
      const stores = opened
      opened = []
      await Promise.all(stores.map((s) => s.close()))
    })

    describe('load, save, length', () => {
      it('starts with no sessions', async () => {
        expect(await collect(store.list())).toStrictEqual([])
      })

      it('treats an unknown session as empty', async () => {
        expect(await store.load('unknown')).toStrictEqual([])
        expect(await store.load('unknown', { last: 3 })).toStrictEqual([])
        expect(await store.length('unknown')).toBe(0)
        expect(await store.delete('unknown')).toBe(false)
        expect(await collect(store.list())).toStrictEqual([])
      })

      it('round-trips every message field exactly', async () => {
        await store.save('s', richHistory())
        expect(await store.load('s')).toStrictEqual(richHistory())
        expect(await store.length('s')).toBe(richHistory().length)
      })

      it('adds no fields that were not set', async () => {
        await store.save('s', [user('hi')])
        const [loaded] = await store.load('s')
        expect(Object.keys(loaded ?? {}).sort()).toStrictEqual(['content', 'role'])
      })

      it('replaces the whole history on save', async () => {
        await store.save('s', numbered(1, 5))
        await store.save('s', numbered(6, 7))
        expect(await store.load('s')).toStrictEqual(numbered(6, 7))
        expect(await store.length('s')).toBe(2)
      })

      it('leaves a session saved with [] empty, like an unknown one', async () => {
        await store.save('s', numbered(1, 3))
        await store.save('s', [])
        expect(await store.load('s')).toStrictEqual([])
        expect(await store.length('s')).toBe(0)
        expect(await collect(store.list())).toStrictEqual([])
        expect(await rejectionOf(() => store.fork('s', 't'))).toBeInstanceOf(SessionNotFoundError)
        expect(await store.append('s', [user('again')])).toBe(1)
      })

      it('keeps sessions apart', async () => {
        await store.save('s1', [user('one')])
        await store.save('s2', [user('two')])
        expect(await store.load('s1')).toStrictEqual([user('one')])
        expect(await store.load('s2')).toStrictEqual([user('two')])
      })
    })

    describe('copies', () => {
      it('is not changed by mutating what was saved', async () => {
        const input = richHistory()
        await store.save('s', input)
        mutate(input)
        expect(await store.load('s')).toStrictEqual(richHistory())
      })

      it('is not changed by mutating what was appended', async () => {
        const input = richHistory()
        await store.append('s', input)
        mutate(input)
        expect(await store.load('s')).toStrictEqual(richHistory())
      })

      it('is not changed by mutating what was loaded', async () => {
        await store.save('s', richHistory())
        mutate(await store.load('s'))
        mutate(await store.load('s', { last: 2 }))
        expect(await store.load('s')).toStrictEqual(richHistory())
      })

      it('returns new objects from every load', async () => {
        await store.save('s', richHistory())
        const [first, second] = await Promise.all([store.load('s'), store.load('s')])
        expect(first).not.toBe(second)
        expect(first[5]).not.toBe(second[5])
        expect(first[5]?.metadata).not.toBe(second[5]?.metadata)
        expect(first[2]?.toolCalls).not.toBe(second[2]?.toolCalls)
      })
    })

    describe('append', () => {
      it('creates the session and returns the new length', async () => {
        expect(await store.append('s', [user('a')])).toBe(1)
        expect(await store.append('s', [user('b'), assistant('c')])).toBe(3)
        expect(await store.append('s', numbered(1, 4))).toBe(7)
        expect(await store.length('s')).toBe(7)
        expect(await store.load('s')).toStrictEqual([user('a'), user('b'), assistant('c'), ...numbered(1, 4)])
        expect(await collect(store.list())).toStrictEqual(['s'])
      })

      it('appends after a save', async () => {
        await store.save('s', numbered(1, 2))
        expect(await store.append('s', numbered(3, 3))).toBe(3)
        expect(await store.load('s')).toStrictEqual(numbered(1, 3))
      })

      it('accepts an empty list and returns the current length', async () => {
        expect(await store.append('unknown', [])).toBe(0)
        expect(await store.load('unknown')).toStrictEqual([])
        expect(await collect(store.list())).toStrictEqual([])
        expect(await rejectionOf(() => store.fork('unknown', 'copy'))).toBeInstanceOf(SessionNotFoundError)
        await store.save('s', numbered(1, 2))
        expect(await store.append('s', [])).toBe(2)
        expect(await store.load('s')).toStrictEqual(numbered(1, 2))
      })

      it('is atomic under 50 concurrent appends', async () => {
        const lengths = await Promise.all(
          Array.from({ length: 50 }, (_, i) => store.append('s', [user(`q${i}`), assistant(`a${i}`)])),
        )
        expect([...lengths].sort((a, b) => a - b)).toStrictEqual(Array.from({ length: 50 }, (_, i) => 2 * (i + 1)))
        const history = await store.load('s')
        expect(history).toHaveLength(100)
        expect(await store.length('s')).toBe(100)
        // Each append's pair is adjacent, in order, and ends where its returned length says.
        for (const [i, length] of lengths.entries()) {
          expect(history[length - 2]).toStrictEqual(user(`q${i}`))
          expect(history[length - 1]).toStrictEqual(assistant(`a${i}`))
        }
      })

      it('keeps concurrent appends to different sessions apart', async () => {
        const ids = Array.from({ length: 10 }, (_, i) => `session-${i}`)
        await Promise.all(ids.flatMap((id) => Array.from({ length: 10 }, (_, n) => store.append(id, [user(`${id}/${n}`)]))))
        for (const id of ids) {
          const contents = (await store.load(id)).map((m) => m.content).sort()
          expect(contents).toStrictEqual(Array.from({ length: 10 }, (_, n) => `${id}/${n}`).sort())
        }
      })

      it('stores an append retried with the same idempotencyKey once', async () => {
        const turn = () => [user('hi'), assistant('hello')]
        expect(await store.append('s', turn(), { idempotencyKey: 'turn-1' })).toBe(2)
        expect(await store.append('s', turn(), { idempotencyKey: 'turn-1' })).toBe(2)
        expect(await store.append('s', turn(), { idempotencyKey: 'turn-2' })).toBe(4)
        // A late retry is a no-op that reports the current length.
        expect(await store.append('s', turn(), { idempotencyKey: 'turn-1' })).toBe(4)
        expect(await store.append('s', turn())).toBe(6)
        expect(await store.length('s')).toBe(6)
        expect(await store.load('s')).toStrictEqual([...turn(), ...turn(), ...turn()])
      })

      it('stores concurrent retries with the same idempotencyKey once', async () => {
        const lengths = await Promise.all(
          Array.from({ length: 5 }, () => store.append('s', [user('hi'), assistant('hello')], { idempotencyKey: 'k' })),
        )
        expect(lengths).toStrictEqual([2, 2, 2, 2, 2])
        expect(await store.load('s')).toStrictEqual([user('hi'), assistant('hello')])
      })

      it('scopes idempotency keys to their session', async () => {
        expect(await store.append('s1', [user('a')], { idempotencyKey: 'k' })).toBe(1)
        expect(await store.append('s2', [user('a')], { idempotencyKey: 'k' })).toBe(1)
        expect(await store.load('s2')).toStrictEqual([user('a')])
      })

      it('forgets idempotency keys with the deleted session', async () => {
        await store.append('s', [user('a')], { idempotencyKey: 'k' })
        await store.delete('s')
        expect(await store.append('s', [user('b')], { idempotencyKey: 'k' })).toBe(1)
        expect(await store.load('s')).toStrictEqual([user('b')])
      })
    })

    describe('load { first } (optional: features.loadFirst)', () => {
      it('declares loadFirst exactly when the target says it implements it', () => {
        expect(store.features?.loadFirst === true).toBe(target.loadFirst === true)
      })

      describe.skipIf(target.loadFirst !== true)('head and tail', () => {
        it.each([
          // [stored, first, last, expected numbers]
          [10, 2, undefined, [1, 2]],
          [10, 2, 3, [1, 2, 8, 9, 10]],
          [5, 2, 3, [1, 2, 3, 4, 5]],
          [4, 2, 3, [1, 2, 3, 4]],
          [3, 5, 2, [1, 2, 3]],
          [1, 1, 1, [1]],
          [10, 1, 20, [1, 2, 3, 4, 5, 6, 7, 8, 9, 10]],
        ] as const)('%i stored, first %i, last %s', async (stored, first, last, expected) => {
          await store.save('s', numbered(1, stored))
          const loaded = await store.load('s', { first, ...(last === undefined ? {} : { last }) })
          expect(loaded).toStrictEqual(expected.map((n) => user(`m${n}`)))
        })

        it('treats an unknown session as empty', async () => {
          expect(await store.load('unknown', { first: 2, last: 2 })).toStrictEqual([])
          expect(await store.length('unknown')).toBe(0)
        })

        it('round-trips every field and returns copies', async () => {
          await store.save('s', richHistory())
          const loaded = await store.load('s', { first: 2, last: 1 })
          expect(loaded).toStrictEqual([...richHistory().slice(0, 2), ...richHistory().slice(-1)])
          mutate(loaded)
          expect(await store.load('s')).toStrictEqual(richHistory())
        })

        it('reads the head of a capped session from what is kept', async () => {
          const capped = await open({ maxMessages: 3 })
          await capped.append('s', numbered(1, 6))
          expect(await capped.load('s', { first: 1, last: 1 })).toStrictEqual([user('m4'), user('m6')])
        })

        it.each([0, -1, 1.5, '2', Number.NaN, null])('rejects first: %s', async (first) => {
          await store.save('s', [user('ok')])
          await expectTypeError(() => store.load('s', { first: first as never, last: 1 }), /`first`/)
        })

        it('rejects with StoreClosedError-like rejection after close()', async () => {
          await store.close()
          await expect(rejectionOf(() => store.load('s', { first: 1 }))).resolves.toBeDefined()
        })
      })
    })

    describe('rolling summary (optional: features.summaries)', () => {
      const summary = (position: number, content = `up to ${position}`) => ({ content, position, metadata: { model: 'm', usage: { inputTokens: 1 } } })

      it('declares summaries exactly when the target says it implements them', () => {
        expect(store.features?.summaries === true).toBe(target.summaries === true)
        if (target.summaries === true) {
          for (const method of ['loadWithSummary', 'loadRange', 'loadSummary', 'saveSummary'] as const) expect(typeof store[method]).toBe('function')
        }
      })

      describe.skipIf(target.summaries !== true)('the summary methods', () => {
        it('has no summary until one is saved, and round-trips it', async () => {
          await store.append('s', numbered(1, 6))
          expect(await store.loadSummary!('s')).toBeUndefined()
          expect(await store.saveSummary!('s', summary(4))).toBe(true)
          expect(await store.loadSummary!('s')).toStrictEqual(summary(4))
          expect(await store.loadSummary!('unknown')).toBeUndefined()
        })

        it('loads the tail, the length and the summary together', async () => {
          await store.append('s', numbered(1, 6))
          await store.saveSummary!('s', summary(2))
          expect(await store.loadWithSummary!('s', { last: 2 })).toStrictEqual({ messages: numbered(5, 6), length: 6, summary: summary(2) })
          expect(await store.loadWithSummary!('s')).toStrictEqual({ messages: numbered(1, 6), length: 6, summary: summary(2) })
          expect(await store.loadWithSummary!('unknown', { last: 2 })).toStrictEqual({ messages: [], length: 0, summary: undefined })
          if (target.loadFirst === true) {
            expect(await store.loadWithSummary!('s', { first: 1, last: 2 })).toStrictEqual({ messages: [user('m1'), ...numbered(5, 6)], length: 6, summary: summary(2) })
          }
        })

        it('is a compare-and-set on the position: it only moves forward', async () => {
          await store.append('s', numbered(1, 10))
          expect(await store.saveSummary!('s', summary(4))).toBe(true)
          expect(await store.saveSummary!('s', summary(4, 'same position'))).toBe(false)
          expect(await store.saveSummary!('s', summary(2, 'older'))).toBe(false)
          expect((await store.loadSummary!('s'))?.content).toBe('up to 4')
          expect(await store.saveSummary!('s', summary(8))).toBe(true)
          expect(await store.loadSummary!('s')).toStrictEqual(summary(8))
        })

        it('lets exactly one of concurrent saves at the same position win, and never goes back', async () => {
          await store.append('s', numbered(1, 20))
          const results = await Promise.all(Array.from({ length: 10 }, (_, i) => store.saveSummary!('s', summary(5 + (i % 2) * 5, `writer ${i}`))))
          expect(results.filter(Boolean).length).toBeGreaterThanOrEqual(1)
          expect((await store.loadSummary!('s'))?.position).toBe(10)
        })

        it('never creates a session, and refuses a position beyond the history', async () => {
          expect(await store.saveSummary!('unknown', summary(1))).toBe(false)
          expect(await store.length('unknown')).toBe(0)
          expect(await collect(store.list())).toStrictEqual([])
          await store.append('s', numbered(1, 3))
          await expectTypeError(() => store.saveSummary!('s', summary(4)), /`summary.position`/)
        })

        it('goes with the session: delete and save remove it, fork copies it', async () => {
          await store.append('s', numbered(1, 4))
          await store.saveSummary!('s', summary(2))
          await store.fork('s', 'copy')
          expect(await store.loadSummary!('copy')).toStrictEqual(summary(2))
          await store.append('copy', numbered(5, 5))
          expect(await store.saveSummary!('copy', summary(5))).toBe(true)
          expect((await store.loadSummary!('s'))?.position).toBe(2)
          await store.save('s', numbered(1, 4))
          expect(await store.loadSummary!('s')).toBeUndefined()
          await store.saveSummary!('s', summary(3))
          await store.delete('s')
          await store.append('s', numbered(1, 4))
          expect(await store.loadSummary!('s')).toBeUndefined()
        })

        // Only for a store whose sessions can expire: a test for it elsewhere would only be skipped.
        const expire = target.expire
        if (expire !== undefined) it('expires with the session', async () => {
          await store.append('s', numbered(1, 4))
          await store.saveSummary!('s', summary(2))
          await expire(store, 's')
          expect(await store.loadSummary!('s')).toBeUndefined()
          await store.append('s', numbered(1, 4))
          expect(await store.loadSummary!('s')).toBeUndefined()
        })

        it.each([
          [0, 3, numbered(1, 3)],
          [2, 5, numbered(3, 5)],
          [4, 4, []],
          [5, 99, numbered(6, 6)],
          [10, 12, []],
        ] as const)('loadRange(%i, %i)', async (start, end, expected) => {
          await store.append('s', numbered(1, 6))
          expect(await store.loadRange!('s', start, end)).toStrictEqual(expected)
        })

        it('copies the summary both ways', async () => {
          await store.append('s', numbered(1, 4))
          const saved = summary(2)
          await store.saveSummary!('s', saved)
          ;(saved.metadata as Record<string, unknown>).model = 'changed'
          const loaded = await store.loadSummary!('s')
          ;(loaded?.metadata as Record<string, unknown>).model = 'changed again'
          expect(await store.loadSummary!('s')).toStrictEqual(summary(2))
        })

        it.each([
          ['null', null, /`summary`/],
          ['no content', { position: 1 }, /`summary.content`/],
          ['position 0', { content: 'x', position: 0 }, /`summary.position`/],
          ['position 1.5', { content: 'x', position: 1.5 }, /`summary.position`/],
          ['an unknown key', { content: 'x', position: 1, positon: 2 }, /`summary.positon`/],
          ['bad metadata', { content: 'x', position: 1, metadata: { when: new Date() } }, /`summary.metadata/],
        ])('saveSummary rejects a summary that is %s', async (_label, bad, pattern) => {
          await store.append('s', numbered(1, 2))
          await expectTypeError(() => store.saveSummary!('s', bad as never), pattern)
          expect(await store.loadSummary!('s')).toBeUndefined()
        })

        it.each([
          [-1, 2, /`start`/],
          [1.5, 2, /`start`/],
          [3, 2, /`end`/],
        ])('loadRange rejects start %s, end %s', async (start, end, pattern) => {
          await expectTypeError(() => store.loadRange!('s', start, end), pattern)
        })
      })
    })

    describe('{ signal }', () => {
      it('load and append accept a signal that does not abort', async () => {
        const { signal } = new AbortController()
        expect(await store.append('s', [user('a')], { signal, idempotencyKey: 'k' })).toBe(1)
        expect(await store.load('s', { signal })).toStrictEqual([user('a')])
        expect(await store.load('s', { last: 1, signal })).toStrictEqual([user('a')])
      })

      describe.skipIf(target.honoursSignal !== true)('an aborted signal', () => {
        const aborted = (reason: unknown) => {
          const controller = new AbortController()
          controller.abort(reason)
          return controller.signal
        }

        it('load rejects with the signal’s reason', async () => {
          await store.append('s', [user('a')])
          const reason = new Error('turn timed out')
          expect(await rejectionOf(() => store.load('s', { signal: aborted(reason) }))).toBe(reason)
          expect(await rejectionOf(() => store.load('s', { last: 1, signal: aborted(reason) }))).toBe(reason)
        })

        it('append rejects with the signal’s reason and writes nothing, not even its idempotency key', async () => {
          await store.append('s', [user('a')])
          const reason = new Error('turn timed out')
          const rejected = await rejectionOf(() => store.append('s', [user('b')], { idempotencyKey: 'k', signal: aborted(reason) }))
          expect(rejected).toBe(reason)
          expect(await rejectionOf(() => store.append('new', [user('b')], { signal: aborted(reason) }))).toBe(reason)
          expect(await store.load('s')).toStrictEqual([user('a')])
          expect(await store.length('new')).toBe(0)
          // The key was not remembered: a retry with it stores the messages.
          expect(await store.append('s', [user('b')], { idempotencyKey: 'k' })).toBe(2)
        })
      })
    })

    describe('load({ last })', () => {
      const history = numbered(1, 5)

      it.each([
        [1, numbered(5, 5)],
        [3, numbered(3, 5)],
        [4, numbered(2, 5)],
        [5, history],
        [6, history],
        [1000, history],
      ])('last: %i returns the newest messages in order', async (last, expected) => {
        await store.save('s', history)
        expect(await store.load('s', { last })).toStrictEqual(expected)
        expect(await store.length('s')).toBe(5)
      })

      it('accepts an options object without last', async () => {
        await store.save('s', history)
        expect(await store.load('s', {})).toStrictEqual(history)
      })

      it('follows appends', async () => {
        await store.save('s', numbered(1, 2))
        await store.append('s', numbered(3, 4))
        expect(await store.load('s', { last: 3 })).toStrictEqual(numbered(2, 4))
      })
    })

    describe('fork', () => {
      it('copies the history, then the two diverge', async () => {
        await store.save('src', richHistory())
        await store.fork('src', 'dst')
        expect(await store.load('dst')).toStrictEqual(richHistory())
        expect(await store.length('dst')).toBe(richHistory().length)

        expect(await store.append('src', [user('only in src')])).toBe(7)
        expect(await store.append('dst', [user('only in dst')])).toBe(7)
        expect(await store.load('src', { last: 1 })).toStrictEqual([user('only in src')])
        expect(await store.load('dst', { last: 1 })).toStrictEqual([user('only in dst')])

        await store.save('dst', [user('rewritten')])
        expect(await store.load('src')).toStrictEqual([...richHistory(), user('only in src')])
        await store.delete('src')
        expect(await store.load('dst')).toStrictEqual([user('rewritten')])
        expect((await collect(store.list())).sort()).toStrictEqual(['dst'])
      })

      it('lists the new session', async () => {
        await store.save('src', [user('a')])
        await store.fork('src', 'dst')
        expect((await collect(store.list())).sort()).toStrictEqual(['dst', 'src'])
      })

      it('rejects an unknown source with SessionNotFoundError', async () => {
        const error = await rejectionOf(() => store.fork('missing', 'dst'))
        expect(error).toBeInstanceOf(SessionNotFoundError)
        expect(error).toBeInstanceOf(PromptlineError)
        expect((error as SessionNotFoundError).sessionId).toBe('missing')
        expect(await store.length('dst')).toBe(0)
        expect(await collect(store.list())).toStrictEqual([])
      })

      it('rejects an existing target with SessionExistsError and leaves it alone', async () => {
        await store.save('src', [user('src')])
        await store.save('dst', [user('dst')])
        const error = await rejectionOf(() => store.fork('src', 'dst'))
        expect(error).toBeInstanceOf(SessionExistsError)
        expect(error).toBeInstanceOf(PromptlineError)
        expect((error as SessionExistsError).sessionId).toBe('dst')
        expect(await store.load('dst')).toStrictEqual([user('dst')])
        expect(await store.load('src')).toStrictEqual([user('src')])
      })

      it('rejects forking a session onto itself', async () => {
        await store.save('s', [user('a')])
        expect(await rejectionOf(() => store.fork('s', 's'))).toBeInstanceOf(SessionExistsError)
        expect(await store.load('s')).toStrictEqual([user('a')])
      })

      it('accepts a target that was emptied or deleted', async () => {
        await store.save('src', [user('src')])
        await store.save('emptied', [user('old')])
        await store.save('emptied', [])
        await store.save('deleted', [user('old')])
        await store.delete('deleted')
        await store.fork('src', 'emptied')
        await store.fork('src', 'deleted')
        expect(await store.load('emptied')).toStrictEqual([user('src')])
        expect(await store.load('deleted')).toStrictEqual([user('src')])
      })
    })

    describe('delete', () => {
      it('returns whether the session existed', async () => {
        await store.save('s', [user('a')])
        await store.save('other', [user('b')])
        expect(await store.delete('s')).toBe(true)
        expect(await store.delete('s')).toBe(false)
        expect(await store.load('s')).toStrictEqual([])
        expect(await store.length('s')).toBe(0)
        expect(await store.load('other')).toStrictEqual([user('b')])
        expect(await collect(store.list())).toStrictEqual(['other'])
      })
    })

    describe('list', () => {
      it('yields exactly the sessions of this store, each once', async () => {
        const ids = ['s1', 's2', 's3']
        for (const id of ids) await store.save(id, [user(id)])
        const listed = await collect(store.list())
        expect(listed).toHaveLength(3)
        expect(new Set(listed)).toStrictEqual(new Set(ids))
      })

      it('pages through many sessions', async () => {
        const ids = Array.from({ length: 250 }, (_, i) => `session:${i}`)
        await Promise.all(ids.map((id) => store.append(id, [user(id)])))
        const listed = await collect(store.list())
        expect(listed).toHaveLength(250)
        expect(new Set(listed)).toStrictEqual(new Set(ids))
      })

      it.each([1, 2, 5, 6, 100])('stops after limit: %i', async (limit) => {
        const ids = ['s1', 's2', 's3', 's4', 's5']
        for (const id of ids) await store.save(id, [user(id)])
        const listed = await collect(store.list({ limit }))
        expect(listed).toHaveLength(Math.min(limit, ids.length))
        expect(new Set(listed).size).toBe(listed.length)
        for (const id of listed) expect(ids).toContain(id)
      })

      it('yields each id once while sessions are read and written during iteration', async () => {
        const ids = ['s1', 's2', 's3', 's4']
        for (const id of ids) await store.save(id, [user(id)])
        const seen: string[] = []
        for await (const id of store.list()) {
          seen.push(id)
          // A store that re-yields touched sessions would loop forever on microtasks alone,
          // which no test timeout can interrupt.
          if (seen.length > 20) break
          await store.load(id)
          await store.append(id, [assistant('touched')])
        }
        expect(seen).toHaveLength(4)
        expect(new Set(seen)).toStrictEqual(new Set(ids))
      })

      it('omits deleted sessions', async () => {
        await store.save('keep', [user('a')])
        await store.save('drop', [user('b')])
        await store.delete('drop')
        expect(await collect(store.list())).toStrictEqual(['keep'])
      })
    })

    describe('hostile session ids', () => {
      it('round-trips every id exactly, without collisions', async () => {
        expect(new Set(HOSTILE_IDS).size).toBe(HOSTILE_IDS.length)
        for (const id of HOSTILE_IDS) await store.save(id, [user(id)])
        for (const id of HOSTILE_IDS) {
          expect(await store.load(id)).toStrictEqual([user(id)])
          expect(await store.length(id)).toBe(1)
        }
        const listed = await collect(store.list())
        expect(listed).toHaveLength(HOSTILE_IDS.length)
        expect(new Set(listed)).toStrictEqual(new Set(HOSTILE_IDS))
      })

      it('keeps an id apart from the ids it is a prefix or escape of', async () => {
        for (const id of ['a', 'a:b', 'a}', '{a}', 'a*', 'a%3Ab']) await store.append(id, [user(id)])
        expect(await store.delete('a')).toBe(true)
        for (const id of ['a:b', 'a}', '{a}', 'a*', 'a%3Ab']) expect(await store.load(id)).toStrictEqual([user(id)])
        expect(await store.append('a:b', [user('more')])).toBe(2)
        expect(await store.length('a%3Ab')).toBe(1)
        expect(await store.length('a')).toBe(0)
        expect(new Set(await collect(store.list()))).toStrictEqual(new Set(['a:b', 'a}', '{a}', 'a*', 'a%3Ab']))
      })

      it('forks between hostile ids', async () => {
        await store.save('{src}:*', [user('x')])
        await store.fork('{src}:*', 'dst}\n{ 😀')
        expect(await store.load('dst}\n{ 😀')).toStrictEqual([user('x')])
        expect(await rejectionOf(() => store.fork('{src}', 'other'))).toBeInstanceOf(SessionNotFoundError)
        expect(await rejectionOf(() => store.fork('{src}:*', 'dst}\n{ 😀'))).toBeInstanceOf(SessionExistsError)
      })
    })

    describe('maxMessages', () => {
      it('keeps the newest messages on append', async () => {
        const capped = await open({ maxMessages: 3 })
        for (let i = 1; i <= 5; i++) expect(await capped.append('s', [user(`m${i}`)])).toBe(Math.min(i, 3))
        expect(await capped.load('s')).toStrictEqual(numbered(3, 5))
        expect(await capped.append('s', numbered(6, 9))).toBe(3)
        expect(await capped.load('s')).toStrictEqual(numbered(7, 9))
        expect(await capped.append('s', numbered(10, 11))).toBe(3)
        expect(await capped.load('s')).toStrictEqual(numbered(9, 11))
        expect(await capped.load('s', { last: 2 })).toStrictEqual(numbered(10, 11))
        expect(await capped.length('s')).toBe(3)
      })

      it('keeps the newest messages on save', async () => {
        const capped = await open({ maxMessages: 3 })
        await capped.save('s', numbered(1, 5))
        expect(await capped.load('s')).toStrictEqual(numbered(3, 5))
        expect(await capped.length('s')).toBe(3)
        await capped.save('s', numbered(1, 2))
        expect(await capped.load('s')).toStrictEqual(numbered(1, 2))
      })

      it('caps a forked session too', async () => {
        const capped = await open({ maxMessages: 3 })
        await capped.save('src', numbered(1, 3))
        await capped.fork('src', 'dst')
        expect(await capped.append('dst', numbered(4, 4))).toBe(3)
        expect(await capped.load('dst')).toStrictEqual(numbered(2, 4))
        expect(await capped.load('src')).toStrictEqual(numbered(1, 3))
      })

      it('caps under concurrent appends', async () => {
        const capped = await open({ maxMessages: 3 })
        const lengths = await Promise.all(Array.from({ length: 20 }, (_, i) => capped.append('s', [user(`m${i}`)])))
        expect(lengths.filter((length) => length === 3)).toHaveLength(18)
        expect(await capped.length('s')).toBe(3)
      })
    })

    describe('bad input', () => {
      // Valid values, so that only the argument under test is wrong.
      const ok = [user('ok')]

      const badSessionIds: [string, unknown][] = [
        ['empty string', ''],
        ['number', 42],
        ['undefined', undefined],
        ['null', null],
        ['object', { id: 's' }],
        ['513 ASCII bytes', 'x'.repeat(513)],
        ['513 UTF-8 bytes in 257 chars', `${'é'.repeat(256)}x`],
        ['516 UTF-8 bytes of emoji', '😀'.repeat(129)],
      ]
      const sessionIdCalls: [string, (s: StateStore, id: never) => unknown, RegExp][] = [
        ['load', (s, id) => s.load(id), /`sessionId`/],
        ['save', (s, id) => s.save(id, ok), /`sessionId`/],
        ['append', (s, id) => s.append(id, ok), /`sessionId`/],
        ['delete', (s, id) => s.delete(id), /`sessionId`/],
        ['length', (s, id) => s.length(id), /`sessionId`/],
        ['fork source', (s, id) => s.fork(id, 'target'), /`sourceId`/],
        ['fork target', (s, id) => s.fork('source', id), /`targetId`/],
      ]
      const sessionIdCases = sessionIdCalls.flatMap(([method, call, names]) =>
        badSessionIds.map(([label, id]) => [method, label, call, id, names] as const),
      )

      it.each(sessionIdCases)('%s rejects a session id that is %s', async (_method, _label, call, id, names) => {
        await expectTypeError(() => call(store, id as never), names)
      })

      it.each([
        ['512 ASCII bytes', 'x'.repeat(512)],
        ['512 UTF-8 bytes of é', 'é'.repeat(256)],
        ['512 UTF-8 bytes of emoji', '😀'.repeat(128)],
        ['one character', 'x'],
      ])('accepts a session id of %s', async (_label, id) => {
        expect(await store.append(id, ok)).toBe(1)
        await store.fork(id, 'fork-target')
        expect(await store.load(id)).toStrictEqual(ok)
        expect(await store.delete(id)).toBe(true)
      })

      const badMessages: [string, unknown, RegExp][] = [
        ['undefined', undefined, /`messages`/],
        ['null', null, /`messages`/],
        ['a single message', user('hi'), /`messages`/],
        ['a string', 'hi', /`messages`/],
        ['[null]', [null], /`messages\[0\]`/],
        ['[a string]', ['hi'], /`messages\[0\]`/],
        ['a bad role', [{ role: 'robot', content: 'hi' }], /`messages\[0\]`/],
        ['no role', [{ content: 'hi' }], /`messages\[0\]`/],
        ['no content', [{ role: 'user' }], /`messages\[0\]`/],
        ['number content', [{ role: 'user', content: 42 }], /`messages\[0\]`/],
        ['null content', [{ role: 'user', content: null }], /`messages\[0\]`/],
        ['toolCalls not an array', [{ role: 'assistant', content: '', toolCalls: 'call' }], /`messages\[0\]`/],
        ['a tool call without arguments', [{ role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'f' }] }], /`messages\[0\]`/],
        ['a tool call with a numeric id', [{ role: 'assistant', content: '', toolCalls: [{ id: 1, name: 'f', arguments: '' }] }], /`messages\[0\]`/],
        ['a numeric toolCallId', [{ role: 'tool', content: '', toolCallId: 7 }], /`messages\[0\]`/],
        ['a numeric name', [{ role: 'user', content: '', name: 7 }], /`messages\[0\]`/],
        ['metadata not an object', [{ role: 'user', content: '', metadata: 'x' }], /`messages\[0\]`/],
        ['a bad second message', [user('fine'), { role: 'user', content: 1 }], /`messages\[1\]`/],
      ]
      const messageCases = badMessages.flatMap(([label, messages, names]) => [
        ['save', label, (s: StateStore) => s.save('s', messages as never), names] as const,
        ['append', label, (s: StateStore) => s.append('s', messages as never), names] as const,
      ])

      it.each(messageCases)('%s rejects messages that are %s', async (_method, _label, call, names) => {
        await expectTypeError(() => call(store), names)
      })

      it('writes nothing when any message is invalid', async () => {
        await store.save('s', numbered(1, 2))
        const bad = [user('valid'), { role: 'user', content: 3 }] as never
        await expectTypeError(() => store.save('s', bad), /`messages\[1\]`/)
        await expectTypeError(() => store.append('s', bad), /`messages\[1\]`/)
        await expectTypeError(() => store.append('new', bad), /`messages\[1\]`/)
        expect(await store.load('s')).toStrictEqual(numbered(1, 2))
        expect(await store.length('new')).toBe(0)
      })

      it.each([0, -1, 1.5, '2', Number.NaN, Number.POSITIVE_INFINITY, null])('load rejects last: %s', async (last) => {
        await store.save('s', ok)
        await expectTypeError(() => store.load('s', { last: last as never }), /`last`/)
      })

      it.each([null, 'last', 3])('load rejects options %s', async (options) => {
        await expectTypeError(() => store.load('s', options as never), /`options`/)
      })

      it.each([0, -1, 1.5, '2', Number.NaN, null])('list rejects limit: %s, without throwing synchronously', async (limit) => {
        await expectTypeError(() => collect(store.list({ limit: limit as never })), /`limit`/)
      })

      it.each(['', 42, null, ['k']])('append rejects idempotencyKey: %s', async (key) => {
        await expectTypeError(() => store.append('s', ok, { idempotencyKey: key as never }), /`idempotencyKey`/)
        expect(await store.length('s')).toBe(0)
      })
    })

    describe('close', () => {
      it('rejects every call after close()', async () => {
        await store.save('s', [user('a')])
        await store.close()
        const calls: (() => unknown)[] = [
          () => store.load('s'),
          () => store.load('s', { last: 1 }),
          () => store.save('s', [user('b')]),
          () => store.append('s', [user('b')]),
          () => store.append('s', [user('b')], { idempotencyKey: 'k' }),
          () => store.fork('s', 't'),
          () => store.delete('s'),
          () => store.length('s'),
          () => collect(store.list()),
        ]
        for (const call of calls) await expect(rejectionOf(call)).resolves.toBeDefined()
      })

      it('can be called twice', async () => {
        await store.close()
        await expect(store.close()).resolves.toBeUndefined()
      })
    })
  })
}

/** Changes every part of a rich history in place: the array, messages, tool calls, nested metadata. */
function mutate(messages: Message[]): void {
  for (const message of messages) {
    message.content += ' (mutated)'
    message.role = 'system'
    if (message.toolCalls !== undefined) {
      const [call] = message.toolCalls
      if (call !== undefined) call.arguments = '{}'
      message.toolCalls.push({ id: 'extra', name: 'extra', arguments: '' })
    }
    if (message.metadata !== undefined) {
      message.metadata.added = true
      const nested = message.metadata.nested as { deep?: { list?: unknown[] } } | undefined
      nested?.deep?.list?.push('mutated')
    }
    delete message.name
  }
  messages.push(user('extra'))
  messages.reverse()
}
