/**
 * RedisStore beyond the shared conformance suite: argument validation, the key
 * layout and id encoding, round trips per call (counted with MONITOR), the sliding
 * TTL, corrupt data, Cluster specifics (slots, cross-slot fork) and connection loss
 * with a real kill and restart. Real Redis servers only, started by the tests.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import fc from 'fast-check'
import { Cluster, Redis } from 'ioredis'
import { RedisStore, decodeSessionId, encodeSessionId } from '../../src/stores/redis.js'
import { PromptlineError, SessionExistsError, StateCorruptError } from '../../src/errors.js'
import type { Message } from '../../src/types.js'
import {
  describeRedis,
  globEscape,
  redisAvailability,
  scanKeys,
  startRedisServer,
  uniquePrefix,
  useRedisCluster,
  useRedisServer,
  useStandaloneRedisClient,
} from '../helpers/redis-server.js'
import { collect, rejection } from '../helpers/async.js'
import { assistant, numbered, user } from '../helpers/messages.js'

const HOSTILE = ['a', 'a:b', '{a}', 'a}', '{', '}', '{}', 'x}:{y', '*', 'a*', '?', '[ab]', '%', '%7B', '%7Ba%7D', 'a%25',
  'a b', 'line\nbreak', 'nul\u0000', '\\', '会话', '😀', '\ufffd', 'e\u0301']

describe('RedisStore arguments', () => {
  const url = 'redis://127.0.0.1:1'

  it.each([
    ['a number', 42],
    ['null', null],
    ['a plain object', { host: 'localhost' }],
    ['an http URL', 'http://localhost:6379'],
    ['an empty string', ''],
    ['a bare host', 'localhost:6379'],
  ])('rejects clientOrUrl that is %s with a TypeError naming it', (_label, value) => {
    expect(() => new RedisStore(value as never)).toThrow(TypeError)
    expect(() => new RedisStore(value as never)).toThrow(/`clientOrUrl`/)
  })

  it('never echoes a password from a bad URL', () => {
    for (const bad of ['http://user:hunter2@host:6379', 'redis//user:hunter2@host']) {
      expect(() => new RedisStore(bad)).toThrow(TypeError)
      expect(() => new RedisStore(bad)).not.toThrow(/hunter2/)
      expect(() => new RedisStore(bad)).toThrow(/\*\*\*@host/)
    }
  })

  it.each([
    ['options', null, /`options`/],
    ['options', 'x', /`options`/],
    ['prefix', { prefix: '' }, /`prefix`/],
    ['prefix', { prefix: 7 }, /`prefix`/],
    ['prefix', { prefix: 'a{b' }, /`prefix`/],
    ['prefix', { prefix: 'a}b' }, /`prefix`/],
    ['ttlSeconds', { ttlSeconds: 0 }, /`ttlSeconds`/],
    ['ttlSeconds', { ttlSeconds: 1.5 }, /`ttlSeconds`/],
    ['ttlSeconds', { ttlSeconds: '60' }, /`ttlSeconds`/],
    ['maxMessages', { maxMessages: 0 }, /`maxMessages`/],
    ['maxMessages', { maxMessages: -1 }, /`maxMessages`/],
    ['maxMessages', { maxMessages: Number.NaN }, /`maxMessages`/],
  ])('rejects a bad %s: %o', (_name, options, pattern) => {
    expect(() => new RedisStore(url, options as never)).toThrow(TypeError)
    expect(() => new RedisStore(url, options as never)).toThrow(pattern)
  })

  it("rejects a client with ioredis' keyPrefix (SCAN patterns would not get it)", async () => {
    const prefixed = new Redis(url, { keyPrefix: 'app:', lazyConnect: true })
    expect(() => new RedisStore(prefixed)).toThrow(/`keyPrefix`.*`prefix` option/)
    prefixed.disconnect()
    const cluster = new Cluster([{ host: '127.0.0.1', port: 1 }], { lazyConnect: true, keyPrefix: 'app:' })
    expect(() => new RedisStore(cluster)).toThrow(TypeError)
    cluster.disconnect()
  })

  it('merges options with defaults and connects lazily', async () => {
    const store = new RedisStore(url)
    expect(store.prefix).toBe('promptline')
    expect(store.ttlSeconds).toBeUndefined()
    expect(store.maxMessages).toBeUndefined()
    expect((store.client as Redis).status).toBe('wait')
    await store.close()
    const custom = new RedisStore(url, { prefix: 'chat', ttlSeconds: 60, maxMessages: 10 })
    expect([custom.prefix, custom.ttlSeconds, custom.maxMessages]).toStrictEqual(['chat', 60, 10])
    await custom.close()
  })

  it('rejects a bad session id without throwing synchronously', async () => {
    const store = new RedisStore(url)
    const pending = store.load('')
    await expect(pending).rejects.toThrow(TypeError)
    await store.close()
  })
})

describe('session id encoding', () => {
  const piece = fc.oneof(
    fc.constantFrom('%', '{', '}', ':', '*', '?', '[', ']', '\\', ' ', '\n', '%7B', '%7D', '%25', '%7b', '%', 'a', '😀'),
    fc.string({ unit: 'binary', maxLength: 3 }),
  )
  const id = fc.array(piece, { minLength: 1, maxLength: 12 }).map((parts) => parts.join('')).filter((s) => s.length > 0)
  // Every piece is well-formed Unicode, like every valid session id (assertSessionId).

  it('round-trips every id and never produces a brace', () => {
    fc.assert(
      fc.property(id, (sessionId) => {
        const encoded = encodeSessionId(sessionId)
        expect(encoded).not.toMatch(/[{}]/)
        expect(decodeSessionId(encoded)).toBe(sessionId)
      }),
      { numRuns: 2_000 },
    )
  })

  it('is injective, also after UTF-8 encoding', () => {
    fc.assert(
      fc.property(id, id, (a, b) => {
        fc.pre(a !== b)
        expect(Buffer.from(encodeSessionId(a))).not.toStrictEqual(Buffer.from(encodeSessionId(b)))
      }),
      { numRuns: 2_000 },
    )
  })

  it('keeps plain ids as they are and rejects strings it cannot have produced', () => {
    expect(encodeSessionId('user-42:chat')).toBe('user-42:chat')
    expect(encodeSessionId('{a}%')).toBe('%7Ba%7D%25')
    for (const bad of ['', '{a}', 'a}', '%', '%7b', '%41', '%%']) expect(decodeSessionId(bad)).toBeUndefined()
  })
})

/** Redis Cluster key slot of a string without hash tag: CRC16/XMODEM of its UTF-8 bytes, mod 16384. */
function crc16Slot(text: string): number {
  let crc = 0
  for (const byte of Buffer.from(text, 'utf8')) {
    crc ^= byte << 8
    for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  }
  return crc % 16384
}

/** Counts what the server receives, with MONITOR on a second connection. */
class CommandLog {
  readonly fromClient: string[][] = []
  readonly fromLua: string[][] = []
  #monitor: Redis | undefined
  #address = ''
  #marker = ''
  #seenMarker: (() => void) | undefined

  static async start(url: string, client: Redis): Promise<CommandLog> {
    const log = new CommandLog()
    const info = String(await client.call('client', 'info'))
    log.#address = /addr=(\S+)/.exec(info)?.[1] ?? ''
    const admin = new Redis(url, { lazyConnect: true })
    log.#monitor = await admin.monitor()
    admin.disconnect()
    log.#monitor.on('monitor', (_time: string, args: string[], source: string) => {
      if (source === log.#address) log.fromClient.push(args)
      else if (source === 'lua' || source.endsWith(' lua')) log.fromLua.push(args)
      else if (args[0]?.toLowerCase() === 'echo' && args[1] === log.#marker) log.#seenMarker?.()
    })
    return log
  }

  /** Resolves once every command sent before it has been seen; returns and clears the log. */
  async drain(url: string): Promise<{ client: string[][]; lua: string[][] }> {
    this.#marker = `marker-${Math.random()}`
    const seen = new Promise<void>((resolve) => (this.#seenMarker = resolve))
    const other = new Redis(url)
    await other.echo(this.#marker)
    await seen
    other.disconnect()
    const result = { client: this.fromClient.splice(0), lua: this.fromLua.splice(0) }
    return result
  }

  stop(): void {
    this.#monitor?.disconnect()
  }
}

describeRedis('standalone', 'RedisStore on a standalone server', () => {
  const redis = useStandaloneRedisClient()
  const stores: RedisStore[] = []

  function open(options: { ttlSeconds?: number; maxMessages?: number; prefix?: string } = {}): RedisStore {
    const prefix = options.prefix ?? uniquePrefix('std')
    redis.prefixes.push(prefix)
    const store = new RedisStore(redis.client, { ...options, prefix })
    stores.push(store)
    return store
  }

  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()))
  })

  describe('key layout', () => {
    it('keeps every key of a session under prefix:{encoded id}: and lists the ids back', async () => {
      const store = open()
      for (const id of HOSTILE) await store.append(id, [user(id)], { idempotencyKey: 'k' })
      const keys = await scanKeys(redis.client, `${globEscape(store.prefix)}:*`)
      expect(keys).toHaveLength(HOSTILE.length * 3)
      const tags = new Map<string, Set<string>>()
      for (const key of keys) {
        const match = /^(.*?):\{([^{}]+)\}:(msgs|meta|idem)$/s.exec(key)
        expect(match, key).not.toBeNull()
        expect(match?.[1]).toBe(store.prefix)
        const tag = match?.[2] as string
        tags.set(tag, (tags.get(tag) ?? new Set()).add(match?.[3] as string))
      }
      expect([...tags.keys()].map((tag) => decodeSessionId(tag)).sort()).toStrictEqual([...HOSTILE].sort())
      for (const suffixes of tags.values()) expect([...suffixes].sort()).toStrictEqual(['idem', 'meta', 'msgs'])
      expect(store.keys('a{b}')).toStrictEqual({
        messages: `${store.prefix}:{a%7Bb%7D}:msgs`,
        meta: `${store.prefix}:{a%7Bb%7D}:meta`,
        idempotency: `${store.prefix}:{a%7Bb%7D}:idem`,
      })
    })

    it('stores one JSON entry per message and a version bumped by every write', async () => {
      const store = open()
      await store.append('s', [user('a'), assistant('b')])
      await store.append('s', [user('c')])
      const { messages, meta } = store.keys('s')
      expect(await redis.client.lrange(messages, 0, -1)).toStrictEqual([
        '{"role":"user","content":"a"}',
        '{"role":"assistant","content":"b"}',
        '{"role":"user","content":"c"}',
      ])
      expect(await redis.client.hget(meta, 'v')).toBe('2')
      await store.save('s', [user('d')])
      expect(await redis.client.hget(meta, 'v')).toBe('3')
    })

    it('does not list sessions of a prefix that its glob pattern would match', async () => {
      const globby = open({ prefix: `${uniquePrefix('glob')}-p*?[x]` })
      const lookalike = open({ prefix: globby.prefix.replace('p*?[x]', 'pAAx]') })
      const other = open({ prefix: globby.prefix.replace('p*?[x]', 'p*?[x]extra') })
      await globby.append('mine', [user('a')])
      await lookalike.append('theirs', [user('b')])
      await other.append('also-theirs', [user('c')])
      expect(await collect(globby.list())).toStrictEqual(['mine'])
    })

    it('ignores foreign keys under the prefix when listing', async () => {
      const store = open()
      await store.append('real', [user('a')])
      await redis.client.set(`${store.prefix}:{bad{tag}:msgs`, 'x')
      await redis.client.set(`${store.prefix}:{%zz}:msgs`, 'x')
      await redis.client.set(`${store.prefix}:other`, 'x')
      expect(await collect(store.list())).toStrictEqual(['real'])
    })
  })

  describe('round trips (counted with MONITOR)', () => {
    let log: CommandLog
    let store: RedisStore
    let ownClient: Redis

    beforeAll(async () => {
      ownClient = new Redis(redis.url)
      const prefix = uniquePrefix('rt')
      redis.prefixes.push(prefix)
      store = new RedisStore(ownClient, { prefix, ttlSeconds: 3600, maxMessages: 5_000 })
      // Every script runs once first, so the server has them all cached.
      await store.save('long', numbered(1, 1000))
      await store.load('long', { last: 1 })
      await store.append('warm-up', [user('a')])
      await store.length('warm-up')
      await store.fork('warm-up', 'warm-up-copy')
      log = await CommandLog.start(redis.url, ownClient)
    })

    afterAll(async () => {
      log?.stop()
      await ownClient?.quit()
    })

    it('load({ last }) is one round trip of plain commands (no script) and reads only the tail', async () => {
      // A round trip is one write to the socket: ioredis writes a whole pipeline at once.
      const stream = (ownClient as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream
      const write = stream.write
      let writes = 0
      stream.write = function (this: unknown, ...args: unknown[]) {
        writes++
        return write.apply(this, args)
      }
      try {
        expect(await store.load('long', { last: 2 })).toStrictEqual(numbered(999, 1000))
      } finally {
        stream.write = write
      }
      expect(writes).toBe(1)
      const { client: sent, lua } = await log.drain(redis.url)
      const { messages, meta, idempotency } = store.keys('long')
      expect(sent).toStrictEqual([
        ['llen', messages],
        ['lrange', messages, '-2', '-1'],
        ['hget', meta, 'v'],
        ['expire', messages, '3600'],
        ['expire', meta, '3600'],
        ['expire', idempotency, '3600'],
      ])
      expect(lua).toStrictEqual([])
    })

    it('append is one command, with or without an idempotency key', async () => {
      expect(await store.append('long', [user('x'), assistant('y')])).toBe(1002)
      expect(await store.append('long', [user('z')], { idempotencyKey: 'turn-1' })).toBe(1003)
      expect(await store.append('long', [user('z')], { idempotencyKey: 'turn-1' })).toBe(1003)
      const { client: sent, lua } = await log.drain(redis.url)
      expect(sent.map((args) => args[0]?.toLowerCase())).toStrictEqual(['evalsha', 'evalsha', 'evalsha'])
      // Pushing never reads the history.
      expect(lua.filter((args) => args[0]?.toLowerCase() === 'lrange')).toStrictEqual([])
    })

    it('length, save, fork and delete are one command each', async () => {
      await store.length('long')
      await store.save('short', [user('a')])
      await store.fork('short', 'copy')
      await store.delete('copy')
      const { client: sent } = await log.drain(redis.url)
      expect(sent.map((args) => args[0]?.toLowerCase())).toStrictEqual(['evalsha', 'evalsha', 'evalsha', 'del'])
    })

    // SCRIPT FLUSH would hit every user of a shared REDIS_URL server.
    it.skipIf(redisAvailability().externalUrl !== undefined)('falls back to EVAL once when the server lost its scripts', async () => {
      await redis.client.script('FLUSH')
      await log.drain(redis.url)
      expect(await store.length('long')).toBe(1003)
      expect(await store.length('long')).toBe(1003)
      const { client: sent } = await log.drain(redis.url)
      expect(sent.map((args) => args[0]?.toLowerCase())).toStrictEqual(['evalsha', 'eval', 'evalsha'])
    })
  })

  describe('sliding TTL', () => {
    const ttlOf = async (store: RedisStore, id: string) => {
      const { messages, meta, idempotency } = store.keys(id)
      return Promise.all([redis.client.pttl(messages), redis.client.pttl(meta), redis.client.pttl(idempotency)])
    }
    const shorten = async (store: RedisStore, id: string, ms: number) => {
      const { messages, meta, idempotency } = store.keys(id)
      await Promise.all([redis.client.pexpire(messages, ms), redis.client.pexpire(meta, ms), redis.client.pexpire(idempotency, ms)])
    }

    it('sets the TTL on every key of the session on write', async () => {
      const store = open({ ttlSeconds: 100 })
      await store.append('s', [user('a')], { idempotencyKey: 'k' })
      for (const ttl of await ttlOf(store, 's')) expect(ttl).toBeGreaterThan(99_000)
    })

    it.each([
      ['load', (s: RedisStore) => s.load('s')],
      ['load({ last })', (s: RedisStore) => s.load('s', { last: 1 })],
      ['length', (s: RedisStore) => s.length('s')],
      ['append', (s: RedisStore) => s.append('s', [user('b')])],
      ['a repeated idempotent append', (s: RedisStore) => s.append('s', [user('b')], { idempotencyKey: 'k' })],
      ['save', (s: RedisStore) => s.save('s', [user('b')])],
      ['fork (source)', (s: RedisStore) => s.fork('s', 'fork-target')],
    ])('%s slides it back to ttlSeconds', async (_label, call) => {
      const store = open({ ttlSeconds: 100 })
      await store.append('s', [user('a')], { idempotencyKey: 'k' })
      await shorten(store, 's', 5_000)
      for (const ttl of await ttlOf(store, 's')) expect(ttl).toBeLessThanOrEqual(5_000)
      await call(store)
      for (const ttl of await ttlOf(store, 's')) expect(ttl).toBeGreaterThan(99_000)
    })

    it('gives a forked session the full TTL', async () => {
      const store = open({ ttlSeconds: 100 })
      await store.append('s', [user('a')])
      await shorten(store, 's', 5_000)
      await store.fork('s', 't')
      const [messages, meta] = await ttlOf(store, 't')
      expect(messages).toBeGreaterThan(99_000)
      expect(meta).toBeGreaterThan(99_000)
    })

    it('lets an idle session expire into an unknown one', async () => {
      const store = open({ ttlSeconds: 100 })
      await store.append('s', [user('a')], { idempotencyKey: 'k' })
      await shorten(store, 's', 30)
      await new Promise((resolve) => setTimeout(resolve, 80))
      expect(await store.load('s')).toStrictEqual([])
      expect(await collect(store.list())).toStrictEqual([])
      expect(await store.append('s', [user('b')], { idempotencyKey: 'k' })).toBe(1)
    })

    it('sets no TTL without ttlSeconds, and a forked session has none either', async () => {
      const store = open()
      await store.append('s', [user('a')], { idempotencyKey: 'k' })
      expect(await ttlOf(store, 's')).toStrictEqual([-1, -1, -1])
      await redis.client.pexpire(store.keys('s').messages, 100_000)
      await store.fork('s', 't')
      expect(await redis.client.pttl(store.keys('t').messages)).toBe(-1)
    })
  })

  describe('maxMessages', () => {
    it('caps atomically under concurrent appends from separate connections', async () => {
      const prefix = uniquePrefix('cap')
      redis.prefixes.push(prefix)
      const clients = [new Redis(redis.url), new Redis(redis.url), new Redis(redis.url)]
      const capped = clients.map((c) => new RedisStore(c, { prefix, maxMessages: 7 }))
      const observed: number[] = []
      await Promise.all(
        capped.flatMap((store, s) =>
          Array.from({ length: 30 }, async (_, i) => {
            observed.push(await store.append('s', [user(`q${s}.${i}`), assistant(`a${s}.${i}`)]))
            observed.push(await redis.client.llen(store.keys('s').messages))
          }),
        ),
      )
      await Promise.all(clients.map((c) => c.quit()))
      expect(Math.max(...observed)).toBeLessThanOrEqual(7)
      const history = await redis.client.lrange(`${prefix}:{s}:msgs`, 0, -1)
      expect(history).toHaveLength(7)
      // Pairs stay adjacent: every user entry after the first is followed by its reply.
      const parsed = history.map((entry) => JSON.parse(entry) as Message)
      for (let i = 1; i < parsed.length; i += 2) {
        expect(parsed[i]?.role).toBe('user')
        expect(parsed[i + 1]?.content).toBe(parsed[i]?.content.replace('q', 'a'))
      }
    })

    it('keeps only the newest messages of an oversized append without sending the rest', async () => {
      const store = open({ maxMessages: 3 })
      expect(await store.append('s', numbered(1, 10))).toBe(3)
      expect(await store.load('s')).toStrictEqual(numbered(8, 10))
    })
  })

  describe('large numbers', () => {
    it('accepts the largest last, maxMessages and a long TTL (no Lua exponent notation)', async () => {
      const store = open({ maxMessages: Number.MAX_SAFE_INTEGER, ttlSeconds: 10 * 365 * 24 * 3600 })
      await store.append('s', numbered(1, 3))
      expect(await store.load('s', { last: Number.MAX_SAFE_INTEGER })).toStrictEqual(numbered(1, 3))
      expect(await store.load('s', { last: 1e15 })).toStrictEqual(numbered(1, 3))
      await store.fork('s', 't')
      await store.save('u', numbered(1, 2))
      expect(await store.length('t')).toBe(3)
      expect(await redis.client.ttl(store.keys('t').messages)).toBeGreaterThan(300_000_000)
    })
  })

  describe('large histories', () => {
    it('appends, saves, loads and forks 20,000 messages in one call each', async () => {
      const store = open()
      const many = numbered(1, 20_000)
      expect(await store.append('big', many)).toBe(20_000)
      expect(await store.load('big', { last: 3 })).toStrictEqual(numbered(19_998, 20_000))
      await store.save('big2', many)
      await store.fork('big2', 'big3')
      expect(await store.length('big3')).toBe(20_000)
      expect(await store.load('big3')).toStrictEqual(many)
    })
  })

  describe('corrupt data', () => {
    async function expectCorrupt(promise: Promise<unknown>, sessionId: string, position: number | undefined, reason: RegExp) {
      const error = await rejection(promise)
      expect(error).toBeInstanceOf(StateCorruptError)
      expect(error).toBeInstanceOf(PromptlineError)
      const corrupt = error as StateCorruptError
      expect(corrupt.sessionId).toBe(sessionId)
      expect(corrupt.position).toBe(position)
      expect(corrupt.message).toContain(`\`${sessionId}\``)
      expect(corrupt.message).toMatch(reason)
    }

    it('names the session and the position of an entry that is not JSON', async () => {
      const store = open()
      await store.append('bad id {x}', numbered(1, 5))
      await redis.client.lset(store.keys('bad id {x}').messages, 3, '{"role":"user","content":')
      await expectCorrupt(store.load('bad id {x}'), 'bad id {x}', 3, /at position 3: the entry is not valid JSON/)
      // The position is the index in the stored list, also when only the tail is read.
      await expectCorrupt(store.load('bad id {x}', { last: 2 }), 'bad id {x}', 3, /position 3/)
      expect(await store.load('bad id {x}', { last: 1 })).toStrictEqual(numbered(5, 5))
    })

    it.each([
      ['a message with a bad role', '{"role":"robot","content":"hi"}', /`role`/],
      ['a message without content', '{"role":"user"}', /`content`/],
      ['a number', '42', /message object/],
      ['an array', '[1,2]', /message object/],
      ['null', 'null', /message object/],
      ['bad tool calls', '{"role":"assistant","content":"","toolCalls":[{"id":1}]}', /toolCalls/],
    ])('rejects JSON that is %s', async (_label, entry, reason) => {
      const store = open()
      await store.append('s', numbered(1, 3))
      await redis.client.lset(store.keys('s').messages, 0, entry)
      await expectCorrupt(store.load('s'), 's', 0, reason)
    })

    it('rejects a meta key of the wrong type on load and append, and writes nothing', async () => {
      const store = open()
      await store.append('s', numbered(1, 2))
      await redis.client.del(store.keys('s').meta)
      await redis.client.set(store.keys('s').meta, 'not a hash')
      await expectCorrupt(store.load('s'), 's', undefined, /meta key .* holds a string, expected a hash/)
      await expectCorrupt(store.append('s', [user('x')]), 's', undefined, /meta key/)
      await expectCorrupt(store.fork('s', 't'), 's', undefined, /meta key/)
      expect(await redis.client.llen(store.keys('s').messages)).toBe(2)
      expect(await store.length('t')).toBe(0)
    })

    it('rejects a messages key that is not a list on every call that reads it', async () => {
      const store = open()
      await redis.client.set(store.keys('s').messages, 'a string')
      await expectCorrupt(store.load('s'), 's', undefined, /messages key .* holds a string, expected a list/)
      await expectCorrupt(store.load('s', { last: 1 }), 's', undefined, /messages key/)
      await expectCorrupt(store.append('s', [user('x')]), 's', undefined, /messages key/)
      await expectCorrupt(store.length('s'), 's', undefined, /wrong type/)
      await expectCorrupt(store.fork('s', 't'), 's', undefined, /messages key/)
      await store.append('t', [user('t')])
      // A corrupt target is named as such.
      await expectCorrupt(store.fork('t', 's'), 's', undefined, /messages key/)
      expect(await redis.client.get(store.keys('s').messages)).toBe('a string')
      const ttl = open({ ttlSeconds: 100, prefix: store.prefix })
      await expectCorrupt(ttl.length('s'), 's', undefined, /messages key/)
    })

    it('rejects an idempotency key of the wrong type on append', async () => {
      const store = open()
      await store.append('s', [user('a')])
      await redis.client.set(store.keys('s').idempotency, 'x')
      await expectCorrupt(store.append('s', [user('b')], { idempotencyKey: 'k' }), 's', undefined, /idempotency key/)
      expect(await redis.client.llen(store.keys('s').messages)).toBe(1)
    })

    it('takes back the idempotency key of an append that found a corrupt messages key', async () => {
      const store = open()
      await store.append('s', [user('a')], { idempotencyKey: 'earlier' })
      await redis.client.del(store.keys('s').messages)
      await redis.client.set(store.keys('s').messages, 'a string')
      await expectCorrupt(store.append('s', [user('b')], { idempotencyKey: 'k' }), 's', undefined, /messages key .* holds a string, expected a list/)
      expect(await redis.client.zrange(store.keys('s').idempotency, 0, -1)).toStrictEqual(['earlier'])
      expect(await redis.client.hget(store.keys('s').meta, 'v')).toBe('1')
      // Once repaired, the same append is new, not a duplicate of the failed one.
      await store.save('s', [user('a')])
      expect(await store.append('s', [user('b')], { idempotencyKey: 'k' })).toBe(2)
      expect(await store.append('s', [user('b')], { idempotencyKey: 'k' })).toBe(2)
    })

    it('remembers the newest 100 idempotency keys, and never more than 109', async () => {
      const store = open()
      const sizes: number[] = []
      for (let i = 1; i <= 250; i++) {
        await store.append('s', [user(`m${i}`)], { idempotencyKey: `k${i}` })
        sizes.push(await redis.client.zcard(store.keys('s').idempotency))
      }
      expect(Math.max(...sizes)).toBeLessThanOrEqual(109)
      expect(Math.min(...sizes.slice(100))).toBe(100)
      // Each of the newest 100 is still recognised as a repeat.
      for (let i = 151; i <= 250; i++) expect(await store.append('s', [user(`m${i}`)], { idempotencyKey: `k${i}` })).toBe(250)
    })

    it('keeps serving other sessions, and save() replaces a corrupt session', async () => {
      const store = open()
      await store.append('good', [user('fine')])
      await redis.client.set(store.keys('broken').messages, 'garbage')
      await redis.client.set(store.keys('broken').meta, 'garbage')
      await expect(store.load('broken')).rejects.toThrow(StateCorruptError)
      expect(await store.load('good')).toStrictEqual([user('fine')])
      expect(await store.append('good', [assistant('still')])).toBe(2)
      await store.save('broken', [user('repaired')])
      expect(await store.load('broken')).toStrictEqual([user('repaired')])
      expect(await store.append('broken', [assistant('ok')])).toBe(2)
    })
  })

  describe('clients', () => {
    it('leaves a client it was given open, and closes one it created', async () => {
      const given = open()
      await given.append('s', [user('a')])
      await given.close()
      expect(redis.client.status).toBe('ready')
      await expect(given.load('s')).rejects.toThrow('RedisStore is closed')

      const owned = new RedisStore(redis.url, { prefix: given.prefix })
      expect(await owned.load('s')).toStrictEqual([user('a')])
      await owned.close()
      expect((owned.client as Redis).status).toBe('end')
      await owned.close()
    })

    it('returns numbers from a client with stringNumbers', async () => {
      const strings = new Redis(redis.url, { stringNumbers: true })
      const prefix = uniquePrefix('strnum')
      redis.prefixes.push(prefix)
      const store = new RedisStore(strings, { prefix, ttlSeconds: 60 })
      expect(await store.append('s', [user('a')])).toBe(1)
      expect(await store.length('s')).toBe(1)
      await store.fork('s', 't')
      expect(await store.delete('t')).toBe(true)
      await redis.client.lset(store.keys('s').messages, 0, 'oops')
      await expect(store.load('s')).rejects.toMatchObject({ position: 0 })
      await strings.quit()
    })

    it('closes a created client that never connected', async () => {
      const owned = new RedisStore(redis.url)
      await owned.close()
      expect((owned.client as Redis).status).toBe('end')
    })
  })
})

describeRedis('cluster', 'RedisStore on a 3-master Cluster', () => {
  const cluster = useRedisCluster()

  beforeAll(async () => {
    await cluster.client.ping()
  })

  const slotOf = async (key: string) => Number(await cluster.client.call('cluster', 'keyslot', key))

  /** `count` ids (`<label>-<n>`) whose keys hash to the slot of `id`'s keys (CRC16 here, checked against the server). */
  async function idsInSlotOf(id: string, label: string, count: number): Promise<string[]> {
    for (const key of ['anchor', 'same-1', 'a:b %7B', '会话', '😀']) expect(crc16Slot(key)).toBe(await slotOf(key))
    const target = crc16Slot(id)
    const ids: string[] = []
    for (let i = 0; ids.length < count; i++) if (crc16Slot(`${label}-${i}`) === target) ids.push(`${label}-${i}`)
    return ids
  }

  it('puts every key of a session in one slot, spreads sessions over all masters', async () => {
    const store = new RedisStore(cluster.client, { prefix: uniquePrefix('slots') })
    const ids = [...HOSTILE, ...Array.from({ length: 40 }, (_, i) => `user-${i}`)]
    for (const id of ids) await store.append(id, [user(id)], { idempotencyKey: 'k' })
    for (const id of ids) {
      const { messages, meta, idempotency } = store.keys(id)
      const slots = new Set([await slotOf(messages), await slotOf(meta), await slotOf(idempotency)])
      expect(slots.size).toBe(1)
    }
    const perNode = await Promise.all(
      cluster.client.nodes('master').map(async (node) => (await scanKeys(node, `${globEscape(store.prefix)}:*`)).length),
    )
    expect(perNode.every((count) => count > 0)).toBe(true)
    expect(perNode.reduce((a, b) => a + b, 0)).toBe(ids.length * 3)
    expect(new Set(await collect(store.list()))).toStrictEqual(new Set(ids))
  })

  it('forks across slots and within one slot', async () => {
    const store = new RedisStore(cluster.client, { prefix: uniquePrefix('fork'), maxMessages: 4 })
    const anchor = 'anchor'
    const [twin, warmTwin] = (await idsInSlotOf(anchor, 'same', 2)) as [string, string]
    const [farTarget, warmFar] = (await idsInSlotOf('far-away-2', 'far', 2)) as [string, string]
    expect(await slotOf(store.keys(anchor).messages)).toBe(await slotOf(store.keys(twin).messages))
    expect(await slotOf(store.keys(farTarget).messages)).not.toBe(await slotOf(store.keys(anchor).messages))
    await store.save(anchor, numbered(1, 4))
    // Load the scripts on the nodes involved, so that EVALSHA finds them.
    await store.fork(anchor, warmTwin)
    await store.fork(anchor, warmFar)
    const sent: string[] = []
    const original = cluster.client.call.bind(cluster.client) as (command: string, args: (string | number)[]) => Promise<unknown>
    const counting = async (command: string, args: (string | number)[]) => {
      sent.push(command)
      return original(command, args)
    }
    ;(cluster.client as unknown as { call: typeof counting }).call = counting
    try {
      await store.fork(anchor, twin) // one atomic script: the store's CRC16 agrees with the server
      await store.fork(anchor, farTarget) // read, then write
    } finally {
      delete (cluster.client as unknown as { call?: unknown }).call
    }
    expect(sent).toStrictEqual(['evalsha', 'evalsha', 'evalsha'])
    expect(await store.load(twin)).toStrictEqual(numbered(1, 4))
    expect(await store.load(farTarget)).toStrictEqual(numbered(1, 4))

    const far = 'far-away'
    expect(await slotOf(store.keys(far).messages)).not.toBe(await slotOf(store.keys(anchor).messages))
    await store.fork(anchor, far)
    expect(await store.load(far)).toStrictEqual(numbered(1, 4))
    expect(await store.append(far, numbered(5, 5))).toBe(4)
    expect(await store.load(anchor)).toStrictEqual(numbered(1, 4))
    await expect(store.fork(anchor, far)).rejects.toThrow(SessionExistsError)
  })

  it('never merges into a target created between the two steps of a cross-slot fork', async () => {
    const prefix = uniquePrefix('race')
    const other = new RedisStore(cluster.client, { prefix })
    const hooked = new Cluster(cluster.nodes)
    const store = new RedisStore(hooked, { prefix })
    await store.save('source', numbered(1, 3))
    const original = hooked.call.bind(hooked) as (command: string, args: (string | number)[]) => Promise<unknown>
    let calls = 0
    ;(hooked as unknown as { call: typeof original }).call = async (command, args) => {
      const result = await original(command, args)
      // After the first step (reading the source), someone else creates the target.
      if (++calls === 1) await other.append('target', [user('someone else')])
      return result
    }
    const error = await rejection(store.fork('source', 'target'))
    expect(error).toBeInstanceOf(SessionExistsError)
    expect(await other.load('target')).toStrictEqual([user('someone else')])
    expect(calls).toBe(2)
    await hooked.quit()
  })

  it('forks 20,000 messages across slots', async () => {
    const store = new RedisStore(cluster.client, { prefix: uniquePrefix('bigfork') })
    await store.append('big', numbered(1, 20_000))
    await store.fork('big', 'far-away')
    expect(await store.length('far-away')).toBe(20_000)
    expect(await store.load('far-away', { last: 2 })).toStrictEqual(numbered(19_999, 20_000))
  })
})

describeRedis('controlled', 'RedisStore when the connection is lost', () => {
  const server = useRedisServer()

  async function eventually<T>(call: () => Promise<T>, withinMs: number): Promise<T> {
    const deadline = Date.now() + withinMs
    for (;;) {
      try {
        return await call()
      } catch (error) {
        if (Date.now() > deadline) throw error
        await new Promise((resolve) => setTimeout(resolve, 50))
      }
    }
  }

  it('rejects calls within a bounded time while Redis is down, and recovers after a restart', async () => {
    const store = new RedisStore(server.url, { prefix: uniquePrefix('loss') })
    try {
      expect(await store.append('s', [user('before')])).toBe(1)
      await server.kill()

      for (const call of [() => store.load('s', { last: 5 }), () => store.append('s', [user('during')]), () => store.length('s')]) {
        const started = Date.now()
        await expect(call()).rejects.toThrow()
        expect(Date.now() - started).toBeLessThan(5_000)
      }
      const started = Date.now()
      await expect(collect(store.list())).rejects.toThrow()
      expect(Date.now() - started).toBeLessThan(5_000)

      await server.restart() // same port, fresh and empty
      expect(await eventually(() => store.load('s'), 10_000)).toStrictEqual([])
      expect(await store.append('s', [user('after')], { idempotencyKey: 'k' })).toBe(1)
      expect(await store.load('s')).toStrictEqual([user('after')])
    } finally {
      await store.close()
    }
  })

  it('keeps acknowledged appends across a kill when Redis persists them (AOF)', async () => {
    const aof = await startRedisServer({ persistence: 'aof' })
    const store = new RedisStore(aof.url, { prefix: uniquePrefix('aof') })
    try {
      for (let i = 0; i < 20; i++) await store.append('s', [user(`q${i}`), assistant(`a${i}`)], { idempotencyKey: `turn-${i}` })
      await aof.kill()
      await expect(store.load('s')).rejects.toThrow()
      await aof.restart()
      const history = await eventually(() => store.load('s'), 10_000)
      expect(history).toHaveLength(40)
      // Scripts are gone after the restart (EVALSHA → EVAL fallback), idempotency keys are not.
      expect(await store.append('s', [user('q19'), assistant('a19')], { idempotencyKey: 'turn-19' })).toBe(40)
    } finally {
      await store.close()
      await aof.stop()
    }
  })
})
