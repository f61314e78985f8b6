import { createHash } from 'node:crypto'
import { Redis, type Cluster } from 'ioredis'
import type { AppendOptions, ListOptions, LoadOptions, Message, StateStore } from '../types.js'
import { SessionExistsError, SessionNotFoundError, StateCorruptError, StoreClosedError } from '../errors.js'
import {
  assertMessages,
  assertNonEmptyString,
  assertOptionsObject,
  assertPositiveInteger,
  assertSessionId,
  messageProblem,
  show,
} from '../validate.js'

export interface RedisStoreOptions {
  /**
   * Prefix of every key the store writes: a session's keys are
   * `<prefix>:{<encoded session id>}:msgs|meta|idem`. Must not contain `{` or `}`
   * (they would take over the Cluster hash tag).
   * @default 'promptline'
   */
  prefix?: string
  /**
   * Sliding expiry in seconds: every `load`, `length`, `append`, `save` and `fork`
   * sets all the session's keys to expire this long after that call (`list` does
   * not). Omitted: sessions never expire.
   * @default undefined (no expiry)
   */
  ttlSeconds?: number
  /**
   * Keep at most this many messages per session; older ones are dropped atomically
   * by the same script that appends. Omitted: unbounded.
   * @default undefined (no cap)
   */
  maxMessages?: number
}

/** The Redis keys of one session (see `docs/redis.md`). */
export interface RedisSessionKeys {
  /** The list of messages, one JSON entry per message, oldest first. The session exists while it does. */
  messages: string
  /** A hash `{ v: <version> }`, bumped by every write. */
  meta: string
  /** A sorted set of the newest append idempotency keys (at most 100). */
  idempotency: string
}

/**
 * How a client the store creates from a URL is configured: commands fail fast
 * while Redis is unreachable (so `state-save` retries matter), and the client
 * reconnects on its own when Redis is back. Recommended for a client you pass in.
 */
export const REDIS_CLIENT_OPTIONS = {
  /** Connect on the first command, so constructing a store has no side effects. */
  lazyConnect: true,
  /** Commands issued while (re)connecting wait for the connection... */
  enableOfflineQueue: true,
  /** ...but are rejected once one more reconnection attempt fails (within about 2 s). */
  maxRetriesPerRequest: 1,
  /** A connection attempt that takes longer fails (unreachable host). */
  connectTimeout: 2_000,
  /** A command with no reply within 5 s rejects (a network partition sends no RST). */
  commandTimeout: 5_000,
  /** Reconnect forever, backing off to one attempt per second. */
  retryStrategy: reconnectDelay,
} as const

function reconnectDelay(attempt: number): number {
  return Math.min(50 * attempt, 1_000)
}

/** How many recent idempotency keys a session remembers. */
const IDEMPOTENCY_WINDOW = 100

// ---------------------------------------------------------------------------
// Lua scripts. Every script checks the types of the keys it reads before its
// first write, so a corrupt key never leaves a half-done write behind (`save`
// instead replaces whatever is there).
// KEYS are always the session's keys, so on a Cluster they share one slot.
// ---------------------------------------------------------------------------

interface Script {
  readonly lua: string
  readonly sha: string
}

function script(lua: string): Script {
  return { lua, sha: createHash('sha1').update(lua).digest('hex') }
}

/** Lua helpers shared by the scripts (prepended to each). */
const LUA_PRELUDE = `
local function check(key, want, what)
  local t = redis.call('TYPE', key)['ok']
  if t ~= want and t ~= 'none' then
    return redis.error_reply('PLCORRUPT the ' .. what .. ' key \`' .. key .. '\` holds a ' .. t .. ', expected a ' .. want)
  end
end
local function push(key, list, from, to)
  local len = 0
  for i = from, to, 1000 do
    len = redis.call('RPUSH', key, unpack(list, i, math.min(i + 999, to)))
  end
  return len
end
local function touch(ttl, a, b, c)
  if ttl ~= '0' then
    redis.call('EXPIRE', a, ttl)
    redis.call('EXPIRE', b, ttl)
    redis.call('EXPIRE', c, ttl)
  end
end
`

/**
 * KEYS: msgs, meta, idem. ARGV: first index ('0' = all, '-N' = the newest N), ttl
 * ('0' = none). Returns { length, entries }. Numbers stay strings: Lua would print
 * large ones in exponent notation.
 */
const LOAD = script(`${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
local len = redis.call('LLEN', KEYS[1])
local items = redis.call('LRANGE', KEYS[1], ARGV[1], -1)
touch(ARGV[2], KEYS[1], KEYS[2], KEYS[3])
return { len, items }
`)

/**
 * KEYS: msgs, meta, idem. ARGV: ttl, max (0 = none), idempotency key ('' = none),
 * then one JSON entry per message. Returns the new length.
 */
const APPEND = script(`${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta') or check(KEYS[3], 'zset', 'idempotency')
if err then return err end
local ttl = ARGV[1]
local max = tonumber(ARGV[2])
local key = ARGV[3]
local n = #ARGV
if n < 4 or (key ~= '' and redis.call('ZSCORE', KEYS[3], key)) then
  touch(ttl, KEYS[1], KEYS[2], KEYS[3])
  return redis.call('LLEN', KEYS[1])
end
local len = push(KEYS[1], ARGV, 4, n)
if max > 0 and len > max then
  redis.call('LTRIM', KEYS[1], -max, -1)
  len = max
end
local v = redis.call('HINCRBY', KEYS[2], 'v', 1)
if key ~= '' then
  redis.call('ZADD', KEYS[3], v, key)
  redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -${IDEMPOTENCY_WINDOW + 1})
end
touch(ttl, KEYS[1], KEYS[2], KEYS[3])
return len
`)

/**
 * KEYS: msgs, meta, idem. ARGV: ttl, then one JSON entry per message (already
 * capped). Replaces the history; keys of the wrong type are overwritten. No
 * messages: the session is deleted (an empty session does not exist).
 */
const SAVE = script(`${LUA_PRELUDE}
if #ARGV < 2 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 0
end
if redis.call('TYPE', KEYS[2])['ok'] ~= 'hash' then redis.call('DEL', KEYS[2]) end
if redis.call('TYPE', KEYS[3])['ok'] ~= 'zset' then redis.call('DEL', KEYS[3]) end
redis.call('DEL', KEYS[1])
local len = push(KEYS[1], ARGV, 2, #ARGV)
redis.call('HINCRBY', KEYS[2], 'v', 1)
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return len
`)

/** KEYS: msgs, meta, idem. ARGV: ttl. `LLEN` plus the sliding TTL (only used with `ttlSeconds`). */
const LENGTH = script(`${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages')
if err then return err end
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return redis.call('LLEN', KEYS[1])
`)

/**
 * Fork within one slot (always on a standalone server).
 * KEYS: source msgs, meta, idem, target msgs, meta, idem. ARGV: ttl, max.
 * Returns 1, or -1 (no source), or -2 (target exists).
 */
const FORK = script(`${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
err = check(KEYS[4], 'list', 'messages')
if err then return err end
if redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
local ttl = ARGV[1]
local max = tonumber(ARGV[2])
redis.call('DEL', KEYS[5], KEYS[6])
local copied = redis.pcall('COPY', KEYS[1], KEYS[4])
if type(copied) == 'table' and copied['err'] then
  -- Redis < 6.2 has no COPY.
  local items = redis.call('LRANGE', KEYS[1], 0, -1)
  push(KEYS[4], items, 1, #items)
end
if max > 0 and redis.call('LLEN', KEYS[4]) > max then redis.call('LTRIM', KEYS[4], -max, -1) end
redis.call('PERSIST', KEYS[4])
redis.call('HSET', KEYS[5], 'v', 1)
touch(ttl, KEYS[1], KEYS[2], KEYS[3])
touch(ttl, KEYS[4], KEYS[5], KEYS[6])
return 1
`)

/**
 * Cluster fork, step 1, on the source's slot. KEYS: source msgs, meta, idem. ARGV: ttl.
 * Returns the whole list, or -1 when the session does not exist.
 */
const FORK_READ = script(`${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return redis.call('LRANGE', KEYS[1], 0, -1)
`)

/**
 * Cluster fork, step 2, on the target's slot: creates the target whole, or not at all.
 * KEYS: target msgs, meta, idem. ARGV: ttl, then the entries (already capped, at least one).
 * Returns 1, or -2 (target exists).
 */
const FORK_WRITE = script(`${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages')
if err then return err end
if redis.call('EXISTS', KEYS[1]) == 1 then return -2 end
redis.call('DEL', KEYS[2], KEYS[3])
push(KEYS[1], ARGV, 2, #ARGV)
redis.call('HSET', KEYS[2], 'v', 1)
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return 1
`)

// ---------------------------------------------------------------------------
// Session id → key encoding
// ---------------------------------------------------------------------------

const NEEDS_ESCAPE = /[%{}]/
const ESCAPES = /[%{}]/g
const UNESCAPES = /%(25|7B|7D)/g

function escapeChar(char: string): string {
  return char === '%' ? '%25' : char === '{' ? '%7B' : '%7D'
}

function unescapeSequence(_match: string, code: string): string {
  return code === '25' ? '%' : code === '7B' ? '{' : '}'
}

/**
 * The hash-tag part of a session's keys: `%`, `{` and `}` are percent-encoded
 * (`%25`, `%7B`, `%7D`), everything else is kept as it is (session ids are
 * well-formed Unicode, so their UTF-8 form is unique). Injective, and never
 * contains `{` or `}`, so it can leave neither the hash tag nor the prefix.
 */
export function encodeSessionId(sessionId: string): string {
  return NEEDS_ESCAPE.test(sessionId) ? sessionId.replace(ESCAPES, escapeChar) : sessionId
}

/** Inverse of `encodeSessionId`; `undefined` for a string it cannot have produced. */
export function decodeSessionId(encoded: string): string | undefined {
  if (encoded.length === 0) return undefined
  const decoded = encoded.includes('%') ? encoded.replace(UNESCAPES, unescapeSequence) : encoded
  return encodeSessionId(decoded) === encoded ? decoded : undefined
}

// ---------------------------------------------------------------------------
// Cluster slots (CRC16/XMODEM of the hash tag), only needed by `fork`
// ---------------------------------------------------------------------------

const CRC16_TABLE = new Uint16Array(256)
for (let i = 0; i < 256; i++) {
  let crc = i << 8
  for (let bit = 0; bit < 8; bit++) crc = crc & 0x8000 ? ((crc << 1) ^ 0x1021) & 0xffff : (crc << 1) & 0xffff
  CRC16_TABLE[i] = crc
}

function slotOfTag(tag: string): number {
  let crc = 0
  for (const byte of Buffer.from(tag, 'utf8')) crc = ((crc << 8) & 0xffff) ^ (CRC16_TABLE[((crc >> 8) ^ byte) & 0xff] as number)
  return crc % 16384
}

// ---------------------------------------------------------------------------

const MSGS = '}:msgs'
const META = '}:meta'
const IDEM = '}:idem'

type RedisClient = Redis | Cluster

function isClient(value: unknown): value is RedisClient {
  if (value === null || typeof value !== 'object') return false
  const client = value as Record<string, unknown>
  return typeof client.call === 'function' && typeof client.scan === 'function' && typeof client.isCluster === 'boolean'
}

function keyPrefixOf(client: RedisClient): string | undefined {
  const options = (client as { options?: { keyPrefix?: string; redisOptions?: { keyPrefix?: string } } }).options
  return options?.keyPrefix || options?.redisOptions?.keyPrefix || undefined
}

/** `redis://user:secret@host` → `redis://***@host`: never echo a password into an error. */
function redactUrl(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}

function replyMessage(error: unknown): string {
  return error instanceof Error ? error.message : ''
}

/**
 * A `StateStore` on Redis or Redis Cluster (ioredis). One list per session (one
 * JSON entry per message) plus a small meta hash and a bounded set of recent
 * idempotency keys, all under one Cluster hash tag. Every call is one round trip
 * (one `EVALSHA` or one plain command), except `list` and a cross-slot `fork` on
 * a Cluster.
 *
 * - `append` is one atomic script: push, cap at `maxMessages`, bump the version,
 *   remember the idempotency key, refresh the TTL.
 * - `load(id, { last })` reads only the tail (`LRANGE -last -1`).
 * - Corrupt entries and keys of the wrong type reject with `StateCorruptError`.
 *
 * The store closes only a client it created from a URL. That client fails
 * commands fast while Redis is down and reconnects by itself (see
 * `REDIS_CLIENT_OPTIONS`); use the same options for a client you pass in.
 *
 * @example
 * ```ts
 * import { RedisStore } from 'promptline/redis'
 *
 * const store = new RedisStore(process.env.REDIS_URL ?? 'redis://127.0.0.1:6379', {
 *   prefix: 'chat',
 *   ttlSeconds: 7 * 24 * 3600,
 *   maxMessages: 1_000,
 * })
 * await store.append('user-42', [{ role: 'user', content: 'Hi' }])
 * await store.load('user-42', { last: 20 })
 * await store.close()
 * ```
 *
 * @example
 * ```ts
 * import { Cluster } from 'ioredis'
 *
 * const cluster = new Cluster([{ host: '10.0.0.1', port: 6379 }], {
 *   redisOptions: { connectTimeout: 2_000, commandTimeout: 5_000, maxRetriesPerRequest: 1 },
 * })
 * const store = new RedisStore(cluster, { prefix: 'chat' }) // cluster.quit() is yours to call
 * ```
 */
export class RedisStore implements StateStore {
  /** The ioredis client (the one passed in, or the one created from the URL). */
  readonly client: RedisClient
  readonly prefix: string
  readonly ttlSeconds: number | undefined
  readonly maxMessages: number | undefined
  readonly #ownsClient: boolean
  readonly #ttl: string
  readonly #max: string
  readonly #scanPattern: string
  #closed = false

  constructor(clientOrUrl: RedisClient | string, options: RedisStoreOptions = {}) {
    if (typeof clientOrUrl === 'string') {
      if (!/^rediss?:\/\/./.test(clientOrUrl)) {
        throw new TypeError(
          `Expected \`clientOrUrl\` to be an ioredis Redis or Cluster client or a redis:// or rediss:// URL, got \`${show(redactUrl(clientOrUrl))}\`.`,
        )
      }
    } else if (!isClient(clientOrUrl)) {
      throw new TypeError(
        `Expected \`clientOrUrl\` to be an ioredis Redis or Cluster client or a redis:// or rediss:// URL, got \`${show(clientOrUrl)}\`.`,
      )
    } else if (keyPrefixOf(clientOrUrl) !== undefined) {
      // ioredis would prefix the keys of commands but not SCAN's pattern, so `list` would find nothing.
      throw new TypeError(
        `Expected \`clientOrUrl\` to have no ioredis \`keyPrefix\` (got \`${show(keyPrefixOf(clientOrUrl))}\`); use the store's \`prefix\` option instead.`,
      )
    }
    assertOptionsObject(options, 'options')
    const { prefix = 'promptline', ttlSeconds, maxMessages } = options
    assertNonEmptyString(prefix, 'prefix')
    if (prefix.includes('{') || prefix.includes('}')) {
      throw new TypeError(`Expected \`prefix\` to contain no \`{\` or \`}\`, got \`${show(prefix)}\`.`)
    }
    if (ttlSeconds !== undefined) assertPositiveInteger(ttlSeconds, 'ttlSeconds')
    if (maxMessages !== undefined) assertPositiveInteger(maxMessages, 'maxMessages')

    this.prefix = prefix
    this.ttlSeconds = ttlSeconds
    this.maxMessages = maxMessages
    this.#ttl = String(ttlSeconds ?? 0)
    this.#max = String(maxMessages ?? 0)
    this.#scanPattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:{*${MSGS}`
    if (typeof clientOrUrl === 'string') {
      const client = new Redis(clientOrUrl, REDIS_CLIENT_OPTIONS)
      // Connection errors surface as rejected calls; without a listener ioredis
      // would also print each reconnection failure.
      client.on('error', ignore)
      this.client = client
      this.#ownsClient = true
    } else {
      this.client = clientOrUrl
      this.#ownsClient = false
    }
  }

  /** The Redis keys of a session, for inspection and operations tooling. */
  keys(sessionId: string): RedisSessionKeys {
    assertSessionId(sessionId)
    const tag = this.#tag(sessionId)
    return { messages: tag + MSGS, meta: tag + META, idempotency: tag + IDEM }
  }

  async load(sessionId: string, options?: LoadOptions): Promise<Message[]> {
    assertSessionId(sessionId)
    let first = '0'
    if (options !== undefined) {
      assertOptionsObject(options, 'options')
      if (options.last !== undefined) {
        assertPositiveInteger(options.last, 'last')
        first = `-${options.last}`
      }
    }
    const tag = this.#tag(sessionId)
    const reply = (await this.#run(sessionId, LOAD, [LOAD.sha, 3, tag + MSGS, tag + META, tag + IDEM, first, this.#ttl])) as [
      number | string,
      string[],
    ]
    const entries = reply[1]
    const count = entries.length
    const start = Number(reply[0]) - count
    const messages = new Array<Message>(count)
    for (let i = 0; i < count; i++) {
      let value: unknown
      try {
        value = JSON.parse(entries[i] as string)
      } catch (error) {
        throw new StateCorruptError(sessionId, start + i, 'the entry is not valid JSON', { cause: error })
      }
      const problem = messageProblem(value)
      if (problem !== undefined) throw new StateCorruptError(sessionId, start + i, problem)
      messages[i] = value as Message
    }
    return messages
  }

  async append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
    assertSessionId(sessionId)
    assertMessages(messages)
    let key = ''
    if (options !== undefined) {
      assertOptionsObject(options, 'options')
      if (options.idempotencyKey !== undefined) {
        assertNonEmptyString(options.idempotencyKey, 'idempotencyKey')
        key = options.idempotencyKey
      }
    }
    const tag = this.#tag(sessionId)
    // Messages the cap would drop at once are not even sent.
    const from = this.maxMessages !== undefined && messages.length > this.maxMessages ? messages.length - this.maxMessages : 0
    const args: (string | number)[] = [APPEND.sha, 3, tag + MSGS, tag + META, tag + IDEM, this.#ttl, this.#max, key]
    pushEntries(args, messages, from)
    return Number(await this.#run(sessionId, APPEND, args))
  }

  async save(sessionId: string, messages: Message[]): Promise<void> {
    assertSessionId(sessionId)
    assertMessages(messages)
    const tag = this.#tag(sessionId)
    const from = this.maxMessages !== undefined && messages.length > this.maxMessages ? messages.length - this.maxMessages : 0
    const args: (string | number)[] = [SAVE.sha, 3, tag + MSGS, tag + META, tag + IDEM, this.#ttl]
    pushEntries(args, messages, from)
    await this.#run(sessionId, SAVE, args)
  }

  /**
   * Copies `sourceId` to a new session `targetId`, without the source's
   * idempotency keys. On a standalone server (and on a Cluster when both ids hash
   * to the same slot) one script does it atomically. On a Cluster across slots it
   * reads the source in one script, then creates the target in a second script
   * that first checks the target does not exist: the target appears whole or not
   * at all, never merged with another session, and holds the source as it was at
   * the first step.
   */
  async fork(sourceId: string, targetId: string): Promise<void> {
    assertSessionId(sourceId, 'sourceId')
    assertSessionId(targetId, 'targetId')
    const source = this.#tag(sourceId)
    const target = this.#tag(targetId)
    let result: number
    if (!this.client.isCluster || this.#sameSlot(source, target)) {
      result = Number(
        await this.#run(
          sourceId,
          FORK,
          [FORK.sha, 6, source + MSGS, source + META, source + IDEM, target + MSGS, target + META, target + IDEM, this.#ttl, this.#max],
          targetId,
        ),
      )
    } else {
      const read = (await this.#run(sourceId, FORK_READ, [FORK_READ.sha, 3, source + MSGS, source + META, source + IDEM, this.#ttl])) as
        | string[]
        | number
        | string
      if (!Array.isArray(read)) throw new SessionNotFoundError(sourceId)
      const entries = read
      const from = this.maxMessages !== undefined && entries.length > this.maxMessages ? entries.length - this.maxMessages : 0
      const args: (string | number)[] = [FORK_WRITE.sha, 3, target + MSGS, target + META, target + IDEM, this.#ttl]
      for (let i = from; i < entries.length; i++) args.push(entries[i] as string)
      result = Number(await this.#run(targetId, FORK_WRITE, args))
    }
    if (result === -1) throw new SessionNotFoundError(sourceId)
    if (result === -2) throw new SessionExistsError(targetId)
  }

  async delete(sessionId: string): Promise<boolean> {
    assertSessionId(sessionId)
    this.#assertOpen()
    const tag = this.#tag(sessionId)
    const removed = await this.client.del(tag + MSGS, tag + META, tag + IDEM)
    return Number(removed) > 0
  }

  async length(sessionId: string): Promise<number> {
    assertSessionId(sessionId)
    this.#assertOpen()
    const tag = this.#tag(sessionId)
    if (this.ttlSeconds !== undefined) {
      return Number(await this.#run(sessionId, LENGTH, [LENGTH.sha, 3, tag + MSGS, tag + META, tag + IDEM, this.#ttl]))
    }
    try {
      return Number(await this.client.llen(tag + MSGS))
    } catch (error) {
      throw this.#translate(sessionId, error)
    }
  }

  /**
   * Session ids under this store's prefix, found with `SCAN … MATCH` (never
   * `KEYS`), on every master of a Cluster. Like SCAN itself, a session created or
   * deleted during the listing may or may not appear. SCAN can return a key twice
   * (the keyspace being resized mid-scan); the store remembers the ids it yielded
   * during one listing so that each comes once.
   */
  async *list(options?: ListOptions): AsyncIterable<string> {
    // Validated here, inside the generator: a bad argument rejects the first
    // `next()` instead of throwing synchronously, like every other method.
    assertOptionsObject(options, 'options')
    const limit = options?.limit ?? Number.POSITIVE_INFINITY
    if (options?.limit !== undefined) assertPositiveInteger(options.limit, 'limit')
    this.#assertOpen()
    let nodes: Redis[]
    if (this.client.isCluster) {
      const cluster = this.client as Cluster
      // The node list is filled once the cluster client has connected.
      if (cluster.status !== 'ready') await cluster.call('ping')
      nodes = cluster.nodes('master')
    } else {
      nodes = [this.client as Redis]
    }
    const skip = this.prefix.length + 2
    // SCAN may return a key twice while Redis resizes its keyspace; the contract is each id once.
    const seen = new Set<string>()
    for (const node of nodes) {
      let cursor = '0'
      do {
        this.#assertOpen()
        const [next, keys] = await node.scan(cursor, 'MATCH', this.#scanPattern, 'COUNT', 1000)
        cursor = next
        for (const key of keys) {
          const id = decodeSessionId(key.slice(skip, -MSGS.length))
          if (id === undefined || seen.has(id)) continue
          seen.add(id)
          yield id
          if (seen.size >= limit) return
        }
      } while (cursor !== '0')
    }
  }

  /** Closes the connection if the store created it from a URL; a client passed in is left open. */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (!this.#ownsClient) return
    const client = this.client as Redis
    if (client.status === 'end') return
    const ended = new Promise<void>((resolve) => client.once('end', resolve))
    if (client.status === 'ready') {
      try {
        await client.quit()
      } catch {
        client.disconnect()
      }
    } else {
      client.disconnect()
    }
    await ended
  }

  #tag(sessionId: string): string {
    return `${this.prefix}:{${encodeSessionId(sessionId)}`
  }

  #sameSlot(sourceTag: string, targetTag: string): boolean {
    const skip = this.prefix.length + 2
    return slotOfTag(sourceTag.slice(skip)) === slotOfTag(targetTag.slice(skip))
  }

  #assertOpen(): void {
    if (this.#closed) throw new StoreClosedError('RedisStore')
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script. */
  async #run(sessionId: string, lua: Script, args: (string | number)[], otherSessionId?: string): Promise<unknown> {
    this.#assertOpen()
    try {
      return await this.client.call('evalsha', args)
    } catch (error) {
      if (!replyMessage(error).startsWith('NOSCRIPT')) throw this.#translate(sessionId, error, otherSessionId)
    }
    args[0] = lua.lua
    try {
      return await this.client.call('eval', args)
    } catch (error) {
      throw this.#translate(sessionId, error, otherSessionId)
    }
  }

  #translate(sessionId: string, error: unknown, otherSessionId?: string): unknown {
    const message = replyMessage(error)
    if (message.startsWith('PLCORRUPT ')) {
      const reason = message.slice('PLCORRUPT '.length).replace(/ script: .*$/s, '')
      // A fork's script checks both sessions: the reason names the corrupt key.
      const corrupt =
        otherSessionId !== undefined && reason.includes(`\`${this.#tag(otherSessionId)}}:`) ? otherSessionId : sessionId
      return new StateCorruptError(corrupt, undefined, reason, { cause: error })
    }
    if (message.startsWith('WRONGTYPE')) {
      return new StateCorruptError(sessionId, undefined, 'a key of the session holds the wrong type of value', { cause: error })
    }
    return error
  }
}

function pushEntries(args: (string | number)[], messages: readonly Message[], from: number): void {
  for (let i = from; i < messages.length; i++) {
    let json: string
    try {
      json = JSON.stringify(messages[i])
    } catch (error) {
      throw new TypeError(`Invalid \`messages[${i}]\`: it cannot be stored as JSON (${replyMessage(error)}).`, { cause: error })
    }
    args.push(json)
  }
}

function ignore(): void {}
