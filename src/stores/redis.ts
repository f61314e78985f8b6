import { createHash, randomBytes } from 'node:crypto'
import { Redis, type Cluster } from 'ioredis'
import type {
  AcquireLeaseOptions,
  AppendOptions,
  ListOptions,
  LoadedSession,
  LoadOptions,
  Message,
  SessionLease,
  SessionSummary,
  StateStore,
  StoreFeatures,
} from '../types.js'
import { checkedSummary } from './summary.js'
import {
  LeaseLostError,
  PromptlineError,
  SessionBusyError,
  SessionExistsError,
  SessionNotFoundError,
  StateCorruptError,
  StoreClosedError,
} from '../errors.js'
import {
  assertDuration,
  assertKnownKeys,
  assertMessages,
  assertNonEmptyString,
  assertNonNegativeInteger,
  assertOptionsObject,
  assertPositiveInteger,
  assertSessionId,
  assertSignal,
  signalOnlyOption,
  messageProblem,
  show,
} from '../validate.js'
import { describeRedisFailure, RedisStoreError } from './redis-errors.js'

export { RedisStoreError, type RedisFailureCode } from './redis-errors.js'

/** See `RedisStoreOptions.wait`. */
export interface RedisWaitOptions {
  /** How many replicas must have a write before the call resolves. A positive integer. */
  replicas: number
  /**
   * How long Redis waits for them (`WAIT`'s timeout), in milliseconds. A client
   * the store creates gets a `commandTimeout` at least a second longer; for a
   * client you pass in, keep this below its `commandTimeout`.
   */
  timeoutMs: number
}

/**
 * How a `RedisStore` lays out and bounds its keys. Checked in the constructor, so a bad
 * prefix or TTL fails at start-up rather than on the first turn.
 */
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
  /**
   * Durability across failover. Redis replicates asynchronously: a write is
   * acknowledged once the master has run it, and a master that dies before a
   * replica received it takes the write with it. With `wait`, every write
   * (`append`, `save`, `fork`) is followed by `WAIT replicas timeoutMs` on the node
   * that owns the session's slot, sent with the write on the same connection; if
   * fewer replicas acknowledge it in time the call rejects with a `RedisStoreError`
   * of code `WAIT`, which the pipeline retries like any transient error (appends are
   * idempotent), so a turn reports `saved: true` only once its messages are on
   * `replicas` replicas. See `docs/redis.md` for what this does and does not promise.
   * @default undefined (no WAIT: acknowledged by the master alone)
   * @example { replicas: 1, timeoutMs: 500 }
   */
  wait?: RedisWaitOptions
  /**
   * Orders turns on one session across processes (several servers on one Redis).
   * Before a turn loads, the pipeline takes the session's lease (`SET NX PX` with a
   * random token), the store renews it every `ttlMs / 3` while the turn runs, and
   * the turn's append is fenced: refused with `LeaseLostError` unless the lease is
   * still this turn's. A turn that cannot get the lease within `waitMs` rejects
   * with `SessionBusyError`. See `docs/serving.md` for what it guarantees and costs.
   * @default undefined (no lease: turns are ordered within each process only)
   * @example { ttlMs: 10_000, waitMs: 30_000 }
   */
  lock?: RedisLockOptions
}

/** See `RedisStoreOptions.lock`. */
export interface RedisLockOptions {
  /**
   * How long a lease lives without renewal: how long the other processes wait for
   * a session whose holder died (kill -9, a lost network). Renewed every third of it.
   * @default 10_000
   */
  ttlMs?: number
  /** How long a turn waits for the lease before `SessionBusyError` (its deadline still applies). @default 30_000 */
  waitMs?: number
}

const OPTION_KEYS = ['prefix', 'ttlSeconds', 'maxMessages', 'wait', 'lock']
const LOCK_KEYS = ['ttlMs', 'waitMs']
/** @see RedisLockOptions */
const DEFAULT_LEASE_TTL_MS = 10_000
const DEFAULT_LEASE_WAIT_MS = 30_000
const WAIT_KEYS = ['replicas', 'timeoutMs']
const LOAD_KEYS = ['last', 'first', 'signal']
const APPEND_KEYS = ['idempotencyKey', 'signal', 'fence']
/** How long `close()` lets pending replies arrive before it drops the connection. */
const CLOSE_GRACE_MS = 1_000

/** The Redis keys of one session (see `docs/redis.md`). */
export interface RedisSessionKeys {
  /** The list of messages, one JSON entry per message, oldest first. The session exists while it does. */
  messages: string
  /** A hash `{ v: <version> }`, bumped by every write. */
  meta: string
  /** A sorted set of the newest append idempotency keys (100, and up to 9 more between trims). */
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
// Lua scripts. None leaves a half-done write behind a corrupt key (Redis does
// not roll a failing script back): each checks the types of its keys and the
// values it will use (the meta version) before its first write, or, in
// `append`, takes its one early write back before it reports the corruption.
// `save` instead replaces whatever is there, which is how a corrupt session is
// repaired. A load is no script at all (see `RedisStore#readTail`).
//
// Every script starts with a `#!lua` shebang (Redis 7): Redis then refuses a
// writing script up front while used memory is above `maxmemory` (without it, a
// script whose first write is a `DEL` may write past the limit). The read
// scripts are flagged `allow-oom`: reading a history must work while Redis is full.
// KEYS are always the session's keys, so on a Cluster they share one slot.
// ---------------------------------------------------------------------------

interface Script {
  readonly lua: string
  readonly sha: string
}

function script(flags: string, lua: string): Script {
  const source = `#!lua${flags === '' ? '' : ` flags=${flags}`}\n${lua}`
  return { lua: source, sha: createHash('sha1').update(source).digest('hex') }
}

/** Lua helpers shared by the scripts (prepended to each). */
const LUA_PRELUDE = `
local function check(key, want, what)
  local t = redis.call('TYPE', key)['ok']
  if t ~= want and t ~= 'none' then
    return redis.error_reply('PLCORRUPT the ' .. what .. ' key \`' .. key .. '\` holds a ' .. t .. ', expected a ' .. want)
  end
end
local function valid_version(v)
  return v == false or (string.match(v, '^%-?%d+$') ~= nil and #v <= 18)
end
local function check_version(key, v)
  if not valid_version(v) then
    return redis.error_reply('PLCORRUPT the meta key \`' .. key .. '\` holds version ' .. string.format('%q', string.sub(v, 1, 40)) .. ', expected an integer')
  end
end
local function failed(reply)
  return type(reply) == 'table' and reply['err'] ~= nil
end
local function wrong(key, want, what)
  return redis.error_reply('PLCORRUPT the ' .. what .. ' key \`' .. key .. '\` holds a ' .. redis.call('TYPE', key)['ok'] .. ', expected a ' .. want)
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

// ---------------------------------------------------------------------------
// Scripts of the optional parts of the contract (`load({ first })` and the rolling
// summary). Kept apart so that the plain load (no script at all: see
// `RedisStore#readTail`) and the append stay as they are. The summary lives in the
// meta hash (fields `sp` position, `sc` content, `sm` metadata JSON), so every
// script that touches, expires or deletes the meta key handles it too; `save`
// clears it and `fork` copies it.
// ---------------------------------------------------------------------------

/**
 * The head, the tail and (optionally) the summary in one round trip, each entry once.
 * KEYS: msgs, meta, idem. ARGV: first (0 = no head), last ('all' = everything after
 * the head, '0' = no tail), ttl ('0' = none), summary ('1' = return it).
 * Returns { length, head entries, tail entries, { sp, sc, sm } or {} }.
 */
const LOAD_VIEW = script('allow-oom', `${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
err = check_version(KEYS[2], redis.call('HGET', KEYS[2], 'v'))
if err then return err end
local len = redis.call('LLEN', KEYS[1])
local first = math.min(tonumber(ARGV[1]), len)
local head = {}
if first > 0 then head = redis.call('LRANGE', KEYS[1], 0, first - 1) end
local tail = {}
local from = first
if ARGV[2] ~= 'all' then from = math.max(first, len - tonumber(ARGV[2])) end
if from < len then tail = redis.call('LRANGE', KEYS[1], from, -1) end
local summary = {}
if ARGV[4] == '1' then summary = redis.call('HMGET', KEYS[2], 'sp', 'sc', 'sm') end
touch(ARGV[3], KEYS[1], KEYS[2], KEYS[3])
return { len, head, tail, summary }
`)

/**
 * KEYS: msgs, meta, idem. ARGV: start, end (exclusive), ttl. Returns the entries
 * \`[start, end)\` (clamped).
 */
const LOAD_RANGE = script('allow-oom', `${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages')
if err then return err end
local items = {}
local start = tonumber(ARGV[1])
local stop = tonumber(ARGV[2])
if stop > start then items = redis.call('LRANGE', KEYS[1], start, stop - 1) end
touch(ARGV[3], KEYS[1], KEYS[2], KEYS[3])
return items
`)

/**
 * The summary's compare-and-set. KEYS: msgs, meta, idem. ARGV: position, content,
 * metadata JSON ('' = none), ttl. Returns 1 (saved), 0 (no session, or a summary at
 * the same or a later position), or -2 (position beyond the length).
 */
const SAVE_SUMMARY = script('', `${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
local len = redis.call('LLEN', KEYS[1])
if len == 0 then return 0 end
local position = tonumber(ARGV[1])
if position > len then return -2 end
local current = redis.call('HGET', KEYS[2], 'sp')
if current and tonumber(current) ~= nil and tonumber(current) >= position then return 0 end
redis.call('HSET', KEYS[2], 'sp', ARGV[1], 'sc', ARGV[2], 'sm', ARGV[3])
touch(ARGV[4], KEYS[1], KEYS[2], KEYS[3])
return 1
`)

/**
/**
 * KEYS: msgs, meta, idem. ARGV: ttl, max (0 = none), idempotency key ('' = none),
 * sync ('1': a repeated append still writes, see below), then one JSON entry per
 * message. Returns the new length. The messages, the version and the idempotency
 * record are written together, or nothing is.
 *
 * Cheap on the server, since it runs on every turn: no `TYPE` calls and no
 * separate duplicate check. The commands it needs anyway find a key of the wrong
 * type (through `pcall`): `HGET` of the version, then `ZADD NX` of the
 * idempotency key, which both records the key and says whether it was already
 * there, then `RPUSH`. If the `RPUSH` fails, the `ZADD` is taken back before the
 * script reports the corruption (the script is atomic: no client saw it). Only
 * then does it ask `TYPE`, to say what the key holds.
 */
const APPEND = script('', `${LUA_PRELUDE}
local ttl = ARGV[1]
local max = tonumber(ARGV[2])
local key = ARGV[3]
local n = #ARGV
local version = redis.pcall('HGET', KEYS[2], 'v')
if failed(version) then return wrong(KEYS[2], 'hash', 'meta') end
local err = check_version(KEYS[2], version)
if err then return err end
local v = (tonumber(version) or 0) + 1
-- Remembering the key is also the duplicate check: ZADD NX adds nothing for a key it has.
local fresh = 1
if key ~= '' then
  fresh = redis.pcall('ZADD', KEYS[3], 'NX', v, key)
  if failed(fresh) then return wrong(KEYS[3], 'zset', 'idempotency') end
end
if n < 5 or fresh == 0 then
  -- An append of nothing remembers nothing.
  if fresh == 1 and key ~= '' then redis.call('ZREM', KEYS[3], key) end
  local len = redis.pcall('LLEN', KEYS[1])
  if failed(len) then return wrong(KEYS[1], 'list', 'messages') end
  -- With \`wait\`, the client WAITs after this call. WAIT covers the writes of
  -- this connection only, so a repeat of an append whose reply was lost (sent
  -- again on a new connection) writes a no-op that replicates after the original.
  if ARGV[4] == '1' and key ~= '' then redis.call('HINCRBY', KEYS[2], 'v', 0) end
  touch(ttl, KEYS[1], KEYS[2], KEYS[3])
  return len
end
local len = redis.pcall('RPUSH', KEYS[1], unpack(ARGV, 5, math.min(n, 1004)))
if failed(len) then
  -- Nothing of this append may stay: take the key back (the script is atomic, no one saw it).
  if key ~= '' then redis.call('ZREM', KEYS[3], key) end
  return wrong(KEYS[1], 'list', 'messages')
end
if n > 1004 then len = push(KEYS[1], ARGV, 1005, n) end
redis.call('HINCRBY', KEYS[2], 'v', 1)
-- Trimmed every 10th version: the newest ${IDEMPOTENCY_WINDOW} keys are always kept, at most 9 more.
if key ~= '' and v % 10 == 0 then redis.call('ZREMRANGEBYRANK', KEYS[3], 0, -${IDEMPOTENCY_WINDOW + 1}) end
if max > 0 and len > max then
  redis.call('LTRIM', KEYS[1], -max, -1)
  len = max
end
touch(ttl, KEYS[1], KEYS[2], KEYS[3])
return len
`)

/**
 * KEYS: msgs, meta, idem. ARGV: ttl, then one JSON entry per message (already
 * capped). Replaces the history; keys of the wrong type, and a meta key whose
 * version is not an integer, are replaced. No messages: the session is deleted
 * (an empty session does not exist).
 */
const SAVE = script('', `${LUA_PRELUDE}
if #ARGV < 2 then
  redis.call('DEL', KEYS[1], KEYS[2], KEYS[3])
  return 0
end
local meta_ok = redis.call('TYPE', KEYS[2])['ok'] == 'hash' and valid_version(redis.call('HGET', KEYS[2], 'v'))
local idem_ok = redis.call('TYPE', KEYS[3])['ok'] == 'zset'
if not meta_ok then redis.call('DEL', KEYS[2]) end
if not idem_ok then redis.call('DEL', KEYS[3]) end
-- The rolling summary described the history being replaced.
if meta_ok then redis.call('HDEL', KEYS[2], 'sp', 'sc', 'sm') end
redis.call('DEL', KEYS[1])
local len = push(KEYS[1], ARGV, 2, #ARGV)
redis.call('HINCRBY', KEYS[2], 'v', 1)
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return len
`)

/** KEYS: msgs, meta, idem. ARGV: ttl. `LLEN` plus the sliding TTL (only used with `ttlSeconds`). */
const LENGTH = script('allow-oom', `${LUA_PRELUDE}
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
const FORK = script('', `${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
err = check(KEYS[4], 'list', 'messages')
if err then return err end
if redis.call('EXISTS', KEYS[4]) == 1 then return -2 end
local ttl = ARGV[1]
local max = tonumber(ARGV[2])
redis.call('DEL', KEYS[5], KEYS[6])
redis.call('COPY', KEYS[1], KEYS[4])
if max > 0 and redis.call('LLEN', KEYS[4]) > max then redis.call('LTRIM', KEYS[4], -max, -1) end
redis.call('PERSIST', KEYS[4])
redis.call('HSET', KEYS[5], 'v', 1)
-- The rolling summary goes with the history.
local summary = redis.call('HMGET', KEYS[2], 'sp', 'sc', 'sm')
if summary[1] then redis.call('HSET', KEYS[5], 'sp', summary[1], 'sc', summary[2] or '', 'sm', summary[3] or '') end
touch(ttl, KEYS[1], KEYS[2], KEYS[3])
touch(ttl, KEYS[4], KEYS[5], KEYS[6])
return 1
`)

/**
 * Cluster fork, step 1, on the source's slot. KEYS: source msgs, meta, idem. ARGV: ttl.
 * Returns { whole list, { sp, sc, sm } }, or -1 when the session does not exist.
 */
const FORK_READ = script('allow-oom', `${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages') or check(KEYS[2], 'hash', 'meta')
if err then return err end
if redis.call('EXISTS', KEYS[1]) == 0 then return -1 end
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return { redis.call('LRANGE', KEYS[1], 0, -1), redis.call('HMGET', KEYS[2], 'sp', 'sc', 'sm') }
`)

/**
 * Cluster fork, step 2, on the target's slot: creates the target whole, or not at all.
 * KEYS: target msgs, meta, idem. ARGV: ttl, summary position ('' = none), content,
 * metadata, then the entries (already capped, at least one).
 * Returns 1, or -2 (target exists).
 */
const FORK_WRITE = script('', `${LUA_PRELUDE}
local err = check(KEYS[1], 'list', 'messages')
if err then return err end
if redis.call('EXISTS', KEYS[1]) == 1 then return -2 end
redis.call('DEL', KEYS[2], KEYS[3])
push(KEYS[1], ARGV, 5, #ARGV)
redis.call('HSET', KEYS[2], 'v', 1)
if ARGV[2] ~= '' then redis.call('HSET', KEYS[2], 'sp', ARGV[2], 'sc', ARGV[3], 'sm', ARGV[4]) end
touch(ARGV[1], KEYS[1], KEYS[2], KEYS[3])
return 1
`)

// ---------------------------------------------------------------------------
// Session leases (the `lock` option). The lease key shares the session's hash
// tag, so the fenced append can read it on a Cluster.
// ---------------------------------------------------------------------------

/** KEYS: lease. ARGV: token, ttl ms. 1 when the lease was still this token's (and is extended), else 0. */
const RENEW_LEASE = script('allow-oom', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('PEXPIRE', KEYS[1], ARGV[2]) end
return 0
`)

/** KEYS: lease. ARGV: token. Deletes the lease only if it is still this token's. */
const RELEASE_LEASE = script('allow-oom', `
if redis.call('GET', KEYS[1]) == ARGV[1] then return redis.call('DEL', KEYS[1]) end
return 0
`)

/**
 * APPEND behind a fence. KEYS: msgs, meta, idem, lease. ARGV: the lease token,
 * then APPEND's own ARGV. Refuses (PLFENCE) unless the lease still holds that
 * token, except for a repeat of an append that already landed (its idempotency key
 * is known), which APPEND answers as the no-op it is. Built from APPEND's source,
 * so the two never drift apart.
 */
// (ARGV[3], once the token is removed, is APPEND's idempotency key; the lease
// tests fail if APPEND's arguments ever move.)
const FENCED_APPEND = script('', `
local fence = table.remove(ARGV, 1)
if redis.call('GET', KEYS[4]) ~= fence then
  local repeat_key = ARGV[3]
  if repeat_key == '' or redis.call('TYPE', KEYS[3])['ok'] ~= 'zset' or not redis.call('ZSCORE', KEYS[3], repeat_key) then
    return redis.error_reply('PLFENCE the lease was lost before the append reached Redis')
  end
end
${APPEND.lua.replace(/^#!lua[^\n]*\n/, '')}`)

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
const LEASE = '}:lease'

/**
 * The ioredis clients a `RedisStore` accepts: one server, or a Cluster, whose masters
 * `list()` scans one by one.
 */
export type RedisClient = Redis | Cluster

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
 * (one `EVALSHA`, one plain command, or for `load` one pipeline of plain
 * commands), except `list` and a cross-slot `fork` on a Cluster.
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
  readonly wait: Readonly<RedisWaitOptions> | undefined
  /** The `lock` option with its defaults filled in; `undefined` without one. */
  readonly lock: Readonly<Required<RedisLockOptions>> | undefined
  readonly #ownsClient: boolean
  /**
   * The calls waiting for Redis: `close()` rejects them with `StoreClosedError`.
   * A set rather than an AbortSignal that every call listens on: adding and
   * removing an EventTarget listener costs more than the rest of a call's
   * bookkeeping, twice per call, on every turn.
   */
  readonly #waiting = new Set<(reason: unknown) => void>()
  #lastConnectionError: unknown
  readonly #ttl: string
  readonly #max: string
  readonly #scanPattern: string
  #closed = false
  /** `load({ first })` and the summary methods are implemented (each one round trip). */
  readonly features: StoreFeatures = Object.freeze({ loadFirst: true, summaries: true })

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
    assertKnownKeys(options, OPTION_KEYS, 'options')
    const { prefix = 'promptline', ttlSeconds, maxMessages, wait, lock } = options
    assertNonEmptyString(prefix, 'prefix')
    if (prefix.includes('{') || prefix.includes('}')) {
      throw new TypeError(`Expected \`prefix\` to contain no \`{\` or \`}\`, got \`${show(prefix)}\`.`)
    }
    if (ttlSeconds !== undefined) assertPositiveInteger(ttlSeconds, 'ttlSeconds')
    if (maxMessages !== undefined) assertPositiveInteger(maxMessages, 'maxMessages')
    if (wait !== undefined) {
      if (wait === null || typeof wait !== 'object' || Array.isArray(wait)) {
        throw new TypeError(`Expected \`wait\` to be an object like { replicas: 1, timeoutMs: 500 }, got \`${show(wait)}\`.`)
      }
      assertKnownKeys(wait, WAIT_KEYS, 'wait')
      assertPositiveInteger(wait.replicas, 'wait.replicas')
      assertDuration(wait.timeoutMs, 'wait.timeoutMs')
    }

    if (lock !== undefined) {
      if (lock === null || typeof lock !== 'object' || Array.isArray(lock)) {
        throw new TypeError(`Expected \`lock\` to be an object like { ttlMs: 10_000 }, got \`${show(lock)}\`.`)
      }
      assertKnownKeys(lock, LOCK_KEYS, 'lock')
      // Renewed every third of the TTL: below 30 ms the timer's own jitter could let it lapse.
      if (lock.ttlMs !== undefined) assertDuration(lock.ttlMs, 'lock.ttlMs', 30)
      if (lock.waitMs !== undefined) assertDuration(lock.waitMs, 'lock.waitMs')
    }

    this.prefix = prefix
    this.ttlSeconds = ttlSeconds
    this.lock =
      lock === undefined
        ? undefined
        : Object.freeze({ ttlMs: lock.ttlMs ?? DEFAULT_LEASE_TTL_MS, waitMs: lock.waitMs ?? DEFAULT_LEASE_WAIT_MS })
    this.maxMessages = maxMessages
    this.wait = wait === undefined ? undefined : Object.freeze({ replicas: wait.replicas, timeoutMs: wait.timeoutMs })
    this.#ttl = String(ttlSeconds ?? 0)
    this.#max = String(maxMessages ?? 0)
    this.#scanPattern = `${prefix.replace(/[*?[\]\\]/g, '\\$&')}:{*${MSGS}`
    if (typeof clientOrUrl === 'string') {
      const commandTimeout = Math.max(REDIS_CLIENT_OPTIONS.commandTimeout, (wait?.timeoutMs ?? 0) + 1_000)
      const client = new Redis(clientOrUrl, { ...REDIS_CLIENT_OPTIONS, commandTimeout })
      // Connection errors surface as rejected calls; without a listener ioredis
      // would also print each reconnection failure. The last one says why a
      // command failed while reconnecting, which ioredis' own error does not.
      client.on('error', (error: unknown) => (this.#lastConnectionError = error))
      client.on('ready', () => (this.#lastConnectionError = undefined))
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
    let signal: AbortSignal | undefined
    if (options !== undefined) {
      assertOptionsObject(options, 'options')
      assertKnownKeys(options, LOAD_KEYS, 'options')
      if (options.last !== undefined) {
        assertPositiveInteger(options.last, 'last')
        first = `-${options.last}`
      }
      if (options.first !== undefined) assertPositiveInteger(options.first, 'first')
      assertSignal(options.signal, 'signal')
      signal = options.signal
      if (options.first !== undefined) return this.#loadHeadAndTail(sessionId, options.first, options.last, signal)
    }
    const tag = this.#tag(sessionId)
    const reply = await this.#command('load', sessionId, () => this.#readTail(tag, first), { signal })
    const { entries, length } = await this.#checkTail(sessionId, tag, reply)
    const count = entries.length
    const start = length - count
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

  /** `load` with `first`: LOAD_VIEW, parsed like `load`'s reply. */
  async #loadHeadAndTail(sessionId: string, first: number, last: number | undefined, signal: AbortSignal | undefined): Promise<Message[]> {
    return (await this.#loadView(sessionId, first, last ?? 0, false, signal)).messages
  }

  /** `load`, the session's length and its rolling summary, in one round trip. */
  async loadWithSummary(sessionId: string, options?: LoadOptions): Promise<LoadedSession> {
    assertSessionId(sessionId)
    let signal: AbortSignal | undefined
    let first = 0
    let last: number | 'all' = 'all'
    if (options !== undefined) {
      assertOptionsObject(options, 'options')
      assertKnownKeys(options, LOAD_KEYS, 'options')
      if (options.last !== undefined) {
        assertPositiveInteger(options.last, 'last')
        last = options.last
      }
      if (options.first !== undefined) {
        assertPositiveInteger(options.first, 'first')
        first = options.first
        if (options.last === undefined) last = 0
      }
      assertSignal(options.signal, 'signal')
      signal = options.signal
    }
    return this.#loadView(sessionId, first, last, true, signal)
  }

  async loadRange(sessionId: string, start: number, end: number, options?: { signal?: AbortSignal | undefined }): Promise<Message[]> {
    assertSessionId(sessionId)
    assertNonNegativeInteger(start, 'start')
    assertNonNegativeInteger(end, 'end')
    if (end < start) throw new TypeError(`Expected \`end\` to be at least \`start\` (${start}), got \`${end}\`.`)
    const signal = signalOnlyOption(options)
    const tag = this.#tag(sessionId)
    const args = [LOAD_RANGE.sha, 3, tag + MSGS, tag + META, tag + IDEM, start, end, this.#ttl]
    const entries = (await this.#run('load', sessionId, LOAD_RANGE, args, { signal })) as string[]
    return entries.map((entry, i) => parseEntry(sessionId, start + i, entry))
  }

  async loadSummary(sessionId: string): Promise<SessionSummary | undefined> {
    assertSessionId(sessionId)
    return (await this.#loadView(sessionId, 0, 0, true, undefined)).summary
  }

  /** The summary's compare-and-set: stored only if the session exists and the position moves forward. */
  async saveSummary(sessionId: string, summary: SessionSummary, options?: { signal?: AbortSignal | undefined }): Promise<boolean> {
    assertSessionId(sessionId)
    const copy = checkedSummary(summary)
    const signal = signalOnlyOption(options)
    const tag = this.#tag(sessionId)
    const metadata = copy.metadata === undefined ? '' : JSON.stringify(copy.metadata)
    const args = [SAVE_SUMMARY.sha, 3, tag + MSGS, tag + META, tag + IDEM, copy.position, copy.content, metadata, this.#ttl]
    const result = Number(await this.#run('saveSummary', sessionId, SAVE_SUMMARY, args, { signal, write: true }))
    if (result === -2) throw new TypeError(`Expected \`summary.position\` to be at most the session's length, got \`${copy.position}\`.`)
    return result === 1
  }

  async #loadView(sessionId: string, first: number, last: number | 'all', withSummary: boolean, signal: AbortSignal | undefined): Promise<LoadedSession> {
    const tag = this.#tag(sessionId)
    const args = [LOAD_VIEW.sha, 3, tag + MSGS, tag + META, tag + IDEM, first, last, this.#ttl, withSummary ? '1' : '0']
    const reply = (await this.#run('load', sessionId, LOAD_VIEW, args, { signal })) as [number | string, string[], string[], (string | null)[]]
    const [length, head, tail, fields] = reply
    const messages = new Array<Message>(head.length + tail.length)
    for (let i = 0; i < head.length; i++) messages[i] = parseEntry(sessionId, i, head[i] as string)
    const tailStart = Number(length) - tail.length
    for (let i = 0; i < tail.length; i++) messages[head.length + i] = parseEntry(sessionId, tailStart + i, tail[i] as string)
    return { messages, length: Number(length), summary: parseSummary(sessionId, fields) }
  }

  async append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number> {
    assertSessionId(sessionId)
    assertMessages(messages)
    let key = ''
    let signal: AbortSignal | undefined
    let fence: string | undefined
    if (options !== undefined) {
      assertOptionsObject(options, 'options')
      assertKnownKeys(options, APPEND_KEYS, 'options')
      if (options.idempotencyKey !== undefined) {
        assertNonEmptyString(options.idempotencyKey, 'idempotencyKey')
        key = options.idempotencyKey
      }
      assertSignal(options.signal, 'signal')
      signal = options.signal
      // promptline/http lease fencing (the `lock` option): a fenced append runs FENCED_APPEND.
      if (options.fence !== undefined) {
        assertNonEmptyString(options.fence, 'fence')
        fence = options.fence
      }
    }
    const tag = this.#tag(sessionId)
    // Messages the cap would drop at once are not even sent.
    const from = this.maxMessages !== undefined && messages.length > this.maxMessages ? messages.length - this.maxMessages : 0
    const sync = this.wait === undefined ? '0' : '1'
    const args: (string | number)[] = [APPEND.sha, 3, tag + MSGS, tag + META, tag + IDEM, this.#ttl, this.#max, key, sync]
    pushEntries(args, messages, from)
    if (fence !== undefined) {
      args.splice(0, 5, FENCED_APPEND.sha, 4, tag + MSGS, tag + META, tag + IDEM, tag + LEASE, fence)
      return Number(await this.#run('append', sessionId, FENCED_APPEND, args, { signal, write: true }))
    }
    return Number(await this.#run('append', sessionId, APPEND, args, { signal, write: true }))
  }

  async save(sessionId: string, messages: Message[]): Promise<void> {
    assertSessionId(sessionId)
    assertMessages(messages)
    const tag = this.#tag(sessionId)
    const from = this.maxMessages !== undefined && messages.length > this.maxMessages ? messages.length - this.maxMessages : 0
    const args: (string | number)[] = [SAVE.sha, 3, tag + MSGS, tag + META, tag + IDEM, this.#ttl]
    pushEntries(args, messages, from)
    await this.#run('save', sessionId, SAVE, args, { write: true })
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
          'fork',
          sourceId,
          FORK,
          [FORK.sha, 6, source + MSGS, source + META, source + IDEM, target + MSGS, target + META, target + IDEM, this.#ttl, this.#max],
          { write: true, other: targetId },
        ),
      )
    } else {
      const read = (await this.#run('fork', sourceId, FORK_READ, [FORK_READ.sha, 3, source + MSGS, source + META, source + IDEM, this.#ttl])) as
        | [string[], (string | null)[]]
        | number
        | string
      if (!Array.isArray(read)) throw new SessionNotFoundError(sourceId)
      const [entries, summary] = read
      const from = this.maxMessages !== undefined && entries.length > this.maxMessages ? entries.length - this.maxMessages : 0
      const args: (string | number)[] = [FORK_WRITE.sha, 3, target + MSGS, target + META, target + IDEM, this.#ttl]
      args.push(summary[0] ?? '', summary[1] ?? '', summary[2] ?? '')
      for (let i = from; i < entries.length; i++) args.push(entries[i] as string)
      result = Number(await this.#run('fork', targetId, FORK_WRITE, args, { write: true }))
    }
    if (result === -1) throw new SessionNotFoundError(sourceId)
    if (result === -2) throw new SessionExistsError(targetId)
  }

  /**
   * With `lock`: takes the session's lease, polling while another holder has it
   * (up to `lock.waitMs`, then `SessionBusyError`), and renews it until `release()`.
   * Without `lock`: `undefined`. The pipeline calls it; call it yourself to hold a
   * session while you `append` to it with `{ fence: lease.fence }`.
   */
  acquireLease(sessionId: string, options?: AcquireLeaseOptions): Promise<SessionLease> | undefined {
    if (this.lock === undefined) return undefined
    return this.#acquireLease(sessionId, this.lock, options)
  }

  async #acquireLease(sessionId: string, lock: Required<RedisLockOptions>, options: AcquireLeaseOptions | undefined): Promise<SessionLease> {
    assertSessionId(sessionId)
    const signal = signalOnlyOption(options)
    const key = this.#tag(sessionId) + LEASE
    const token = randomBytes(12).toString('base64url')
    const started = performance.now()
    for (let attempt = 0; ; attempt++) {
      const reply = await this.#command('lease', sessionId, () => this.client.set(key, token, 'PX', lock.ttlMs, 'NX'), { signal }).catch(
        async (error: unknown) => {
          // The SET may have landed after we stopped waiting: never leave a lease behind.
          if (signal?.aborted) void this.#releaseLease(key, token)
          throw error
        },
      )
      if (reply === 'OK') return this.#holdLease(sessionId, key, token, lock.ttlMs)
      const waited = performance.now() - started
      if (waited >= lock.waitMs) throw new SessionBusyError(sessionId, lock.waitMs)
      // Short, jittered polls: the holder's turn is usually a few ms of store work
      // plus the provider call; a waiter rechecks a few times a provider call.
      const delay = Math.min(lock.waitMs - waited, 2 + Math.random() * Math.min(50, 5 * (attempt + 1)))
      await sleep(delay, signal, this.#waiting)
    }
  }

  #holdLease(sessionId: string, key: string, token: string, ttlMs: number): SessionLease {
    const lost = new AbortController()
    let renewedAt = performance.now()
    let released = false
    const renew = async () => {
      try {
        const held = Number(await this.#script(RENEW_LEASE, [RENEW_LEASE.sha, 1, key, token, ttlMs]))
        if (held === 1) renewedAt = performance.now()
        else lost.abort(new LeaseLostError(sessionId, 'another turn took it over, or it expired before it was renewed'))
      } catch {
        // Redis unreachable: the lease lapses on its own once the TTL has passed.
        if (performance.now() - renewedAt >= ttlMs) lost.abort(new LeaseLostError(sessionId, `it could not be renewed for ${ttlMs} ms`))
      }
      if (lost.signal.aborted) clearInterval(timer)
    }
    const timer = setInterval(() => void renew(), Math.max(10, Math.floor(ttlMs / 3)))
    // A held lease must not keep the process alive on its own.
    timer.unref()
    return {
      fence: token,
      lost: lost.signal,
      release: async () => {
        if (released) return
        released = true
        clearInterval(timer)
        await this.#releaseLease(key, token)
      },
    }
  }

  async #releaseLease(key: string, token: string): Promise<void> {
    if (this.#closed) return
    // A lease that cannot be released lapses at its TTL: the only cost is the others' wait.
    await this.#script(RELEASE_LEASE, [RELEASE_LEASE.sha, 1, key, token]).then(ignore, ignore)
  }

  async delete(sessionId: string): Promise<boolean> {
    assertSessionId(sessionId)
    this.#assertOpen()
    const tag = this.#tag(sessionId)
    const removed = await this.#command('delete', sessionId, () => this.client.del(tag + MSGS, tag + META, tag + IDEM))
    return Number(removed) > 0
  }

  async length(sessionId: string): Promise<number> {
    assertSessionId(sessionId)
    this.#assertOpen()
    const tag = this.#tag(sessionId)
    if (this.ttlSeconds !== undefined) {
      return Number(await this.#run('length', sessionId, LENGTH, [LENGTH.sha, 3, tag + MSGS, tag + META, tag + IDEM, this.#ttl]))
    }
    return Number(await this.#command('length', sessionId, () => this.client.llen(tag + MSGS)))
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

  /**
   * Closes the connection if the store created it from a URL; a client passed in
   * is left open. Settles within about a second whatever state the connection is
   * in (even while Redis is unreachable and the client is reconnecting): replies
   * still pending get that long to arrive, then calls still waiting reject with
   * `StoreClosedError` (a write among them may still have reached Redis).
   */
  async close(): Promise<void> {
    if (this.#closed) return
    this.#closed = true
    if (this.#ownsClient) {
      const client = this.client as Redis
      if (client.status === 'ready') {
        // QUIT lets pending replies arrive; a server that does not answer must not hold close() up.
        await withTimeout(client.quit().then(ignore, ignore), CLOSE_GRACE_MS)
      }
      if (client.status !== 'end') {
        const ended = new Promise<void>((resolve) => client.once('end', resolve))
        // Between reconnection attempts there is no socket: disconnect() only
        // cancels the next attempt, and ioredis never emits 'end'.
        const waitForEnd = client.status !== 'reconnecting' && client.status !== 'wait'
        client.disconnect()
        if (waitForEnd) await withTimeout(ended, CLOSE_GRACE_MS)
      }
    }
    const reason = new StoreClosedError('RedisStore')
    for (const reject of this.#waiting) reject(reason)
    this.#waiting.clear()
  }

  /**
   * A load in one round trip without a script: `LLEN`, `LRANGE` of the tail and
   * `HGET` of the version (plus the TTL refresh) in one pipeline. Plain commands
   * cost Redis a fraction of a script, which copies every entry into Lua and
   * back. Not a `MULTI`: Redis refuses every command queued in a transaction
   * while it is out of memory, and reading a history must work then. The tail
   * is one `LRANGE`, so it is always a consistent snapshot; the length only
   * numbers a corrupt entry (Redis runs one connection's pipelined commands back
   * to back, but does not promise that no other client's write lands between
   * them, so that number can be off by what such a write added or trimmed).
   * A key of the wrong type fails its command (WRONGTYPE), which `#checkTail`
   * reports as corruption.
   */
  #readTail(tag: string, first: string): Promise<LoadReply | null> {
    const batch = this.client.pipeline().llen(tag + MSGS).lrange(tag + MSGS, first, -1).hget(tag + META, 'v')
    if (this.ttlSeconds !== undefined) batch.expire(tag + MSGS, this.#ttl).expire(tag + META, this.#ttl).expire(tag + IDEM, this.#ttl)
    return batch.exec()
  }

  /** The entries of a load's reply, once its keys' types and version are known to be sound. */
  async #checkTail(sessionId: string, tag: string, reply: LoadReply | null): Promise<{ entries: string[]; length: number }> {
    if (reply === null) throw this.#translate('load', sessionId, new Error('Connection is closed.'))
    const [length, range, version] = reply
    // Checked in the order the scripts check them: messages, then meta.
    const listError = length?.[0] ?? range?.[0]
    if (listError) await this.#wrongType(sessionId, listError, tag + MSGS, 'list', 'messages')
    const metaError = version?.[0]
    if (metaError) await this.#wrongType(sessionId, metaError, tag + META, 'hash', 'meta')
    for (let i = 3; i < reply.length; i++) {
      const error = reply[i]?.[0]
      if (error) throw this.#translate('load', sessionId, error)
    }
    const v = version?.[1]
    if (v !== null && v !== undefined && !VERSION.test(String(v))) {
      throw new StateCorruptError(sessionId, undefined, `the meta key \`${tag + META}\` holds version ${JSON.stringify(String(v).slice(0, 40))}, expected an integer`)
    }
    return { entries: range?.[1] as string[], length: Number(length?.[1]) }
  }

  /** Rejects with the failure of a load's command: as corruption for a key of the wrong type. */
  async #wrongType(sessionId: string, error: Error, key: string, want: string, what: string): Promise<never> {
    if (!replyMessage(error).startsWith('WRONGTYPE')) throw this.#translate('load', sessionId, error)
    // Only on corruption: one more round trip, to say what the key holds.
    const held = await this.#command('load', sessionId, () => this.client.type(key)).catch(() => 'value of another type')
    throw new StateCorruptError(sessionId, undefined, `the ${what} key \`${key}\` holds a ${held}, expected a ${want}`, { cause: error })
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

  /**
   * Runs a script for a store call: translates its errors, stops waiting when the
   * call's signal aborts or the store closes, and with `wait` follows a write with WAIT.
   */
  async #run(operation: string, sessionId: string, lua: Script, args: (string | number)[], options: RunOptions = {}): Promise<unknown> {
    const run = () => (options.write === true && this.wait !== undefined ? this.#scriptThenWait(operation, sessionId, lua, args) : this.#script(lua, args))
    return this.#command(operation, sessionId, run, options)
  }

  async #command<T>(operation: string, sessionId: string, send: () => Promise<T>, options: RunOptions = {}): Promise<T> {
    this.#assertOpen()
    const { signal } = options
    if (signal?.aborted) throw signal.reason
    try {
      return await untilAborted(send(), this.#waiting, signal)
    } catch (error) {
      if (signal?.aborted && error === signal.reason) throw error
      throw this.#translate(operation, sessionId, error, options.other)
    }
  }

  /** EVALSHA, falling back to EVAL once when the server does not know the script. */
  async #script(lua: Script, args: (string | number)[]): Promise<unknown> {
    try {
      return await this.client.call('evalsha', args)
    } catch (error) {
      if (!replyMessage(error).startsWith('NOSCRIPT')) throw error
    }
    args[0] = lua.lua
    return this.client.call('eval', args)
  }

  /**
   * The script and `WAIT` in one pipeline: one write to one connection, so WAIT
   * counts the replicas of exactly this write (on a new connection it would count
   * nothing and return at once). On a Cluster both go to the node of the session's
   * slot; a MOVED reply (the script did not run) refreshes the slot map and tries again.
   */
  async #scriptThenWait(operation: string, sessionId: string, lua: Script, args: (string | number)[]): Promise<unknown> {
    const { replicas, timeoutMs } = this.wait as RedisWaitOptions
    for (let attempt = 0; ; attempt++) {
      const results = (await this.client.pipeline().call('evalsha', args).call('wait', replicas, timeoutMs).exec()) ?? []
      let [scriptError, reply] = results[0] ?? [new Error('Connection is closed.')]
      let [waitError, acknowledged] = results[1] ?? [new Error('Connection is closed.')]
      if (scriptError !== null && replyMessage(scriptError).startsWith('NOSCRIPT')) {
        args[0] = lua.lua
        const again = (await this.client.pipeline().call('eval', args).call('wait', replicas, timeoutMs).exec()) ?? []
        ;[scriptError, reply] = again[0] ?? [new Error('Connection is closed.')]
        ;[waitError, acknowledged] = again[1] ?? [new Error('Connection is closed.')]
      }
      if (scriptError !== null) {
        if (this.client.isCluster && replyMessage(scriptError).startsWith('MOVED ') && attempt < 3) {
          // A plain keyed read follows the redirection and updates the client's slot map.
          await this.client.exists(String(args[2]))
          continue
        }
        throw scriptError
      }
      if (waitError !== null) throw waitError
      if (Number(acknowledged) < replicas) {
        throw new RedisStoreError(
          operation,
          this.#address(sessionId),
          'WAIT',
          `the write reached ${Number(acknowledged)} of the ${replicas} replica(s) \`wait\` asks for within ${timeoutMs} ms; ` +
            'it is on the master and may be lost if the master fails before replicating it',
        )
      }
      return reply
    }
  }

  /** `host:port` of the node serving a session (never credentials). */
  #address(sessionId: string): string {
    if (!this.client.isCluster) {
      const { host, port, path } = (this.client as Redis).options
      return path ? path : `${host ?? 'localhost'}:${port ?? 6379}`
    }
    const slots = (this.client as unknown as { slots?: (string[] | undefined)[] }).slots
    return slots?.[slotOfTag(encodeSessionId(sessionId))]?.[0] ?? 'the Redis Cluster (slot not mapped yet)'
  }

  #translate(operation: string, sessionId: string, error: unknown, otherSessionId?: string): unknown {
    if (error instanceof PromptlineError || error instanceof TypeError) return error
    const message = replyMessage(error)
    if (message.startsWith('PLCORRUPT ')) {
      const reason = message.slice('PLCORRUPT '.length).replace(/ script: .*$/s, '')
      // A fork's script checks both sessions: the reason names the corrupt key.
      const corrupt =
        otherSessionId !== undefined && reason.includes(`\`${this.#tag(otherSessionId)}}:`) ? otherSessionId : sessionId
      return new StateCorruptError(corrupt, undefined, reason, { cause: error })
    }
    if (message.startsWith('PLFENCE ')) {
      return new LeaseLostError(sessionId, message.slice('PLFENCE '.length).replace(/ script: .*$/s, ''))
    }
    if (message.startsWith('WRONGTYPE')) {
      return new StateCorruptError(sessionId, undefined, 'a key of the session holds the wrong type of value', { cause: error })
    }
    const { code, what } = describeRedisFailure(error, this.#lastConnectionError)
    return new RedisStoreError(operation, this.#address(sessionId), code, what, { cause: error })
  }
}

/** What ioredis' `exec()` gives for a load's pipeline: `[error, result]` per command. */
type LoadReply = ([Error | null, unknown] | undefined)[]

/** A meta version as the scripts accept it (`valid_version`): an integer of at most 18 characters. */
const VERSION = /^-?\d{1,17}$|^\d{18}$/

interface RunOptions {
  /** A write: followed by WAIT when the store has `wait`. */
  write?: boolean
  signal?: AbortSignal | undefined
  /** A fork's other session, which a corruption report may name. */
  other?: string
}

/**
 * `promise`, or a rejection with the reason of `signal` when it aborts, or of
 * `close()`, which calls the rejecters in `waiting`. The command itself goes on
 * (Redis cannot be told to forget it): a write may still land after the caller
 * stopped waiting.
 */
function untilAborted<T>(promise: Promise<T>, waiting: Set<(reason: unknown) => void>, signal: AbortSignal | undefined): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const onAbort = () => {
      cleanup()
      reject((signal as AbortSignal).reason)
    }
    const onClose = (reason: unknown) => {
      cleanup()
      reject(reason)
    }
    const cleanup = () => {
      waiting.delete(onClose)
      signal?.removeEventListener('abort', onAbort)
    }
    waiting.add(onClose)
    signal?.addEventListener('abort', onAbort)
    promise.then(
      (value) => {
        cleanup()
        resolve(value)
      },
      (error: unknown) => {
        cleanup()
        reject(error)
      },
    )
  })
}

/** Waits `ms`, or rejects with the reason of whichever signal aborts first. */
function sleep(ms: number, signal: AbortSignal | undefined, waiting: Set<(reason: unknown) => void>): Promise<void> {
  return untilAborted(new Promise<void>((resolve) => setTimeout(resolve, ms)), waiting, signal)
}

function withTimeout(promise: Promise<unknown>, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const timeout = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  return Promise.race([promise.then(ignore), timeout]).finally(() => clearTimeout(timer))
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

/** The summary fields of the meta hash (`sp`, `sc`, `sm`), or `StateCorruptError`. */
function parseSummary(sessionId: string, fields: (string | null | false)[] | undefined): SessionSummary | undefined {
  const [position, content, metadata] = fields ?? []
  if (position === undefined || position === null || position === false) return undefined
  const corrupt = (what: string) => new StateCorruptError(sessionId, undefined, `the summary ${what}`)
  if (!/^[1-9]\d{0,15}$/.test(position)) throw corrupt(`position is ${JSON.stringify(position.slice(0, 40))}, expected a positive integer`)
  const summary: SessionSummary = { content: typeof content === 'string' ? content : '', position: Number(position) }
  if (typeof metadata === 'string' && metadata !== '') {
    try {
      summary.metadata = JSON.parse(metadata) as Record<string, unknown>
    } catch (error) {
      throw new StateCorruptError(sessionId, undefined, 'the summary metadata is not valid JSON', { cause: error })
    }
  }
  return summary
}

/** One stored entry as a message, or `StateCorruptError` naming its index. */
function parseEntry(sessionId: string, index: number, entry: string): Message {
  let value: unknown
  try {
    value = JSON.parse(entry)
  } catch (error) {
    throw new StateCorruptError(sessionId, index, 'the entry is not valid JSON', { cause: error })
  }
  const problem = messageProblem(value)
  if (problem !== undefined) throw new StateCorruptError(sessionId, index, problem)
  return value as Message
}

function ignore(): void {}
