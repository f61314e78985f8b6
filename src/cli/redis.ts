/**
 * The CLI's Redis: a `RedisStore` from `--redis`/`REDIS_URL`, failures told in one
 * line that names the server, and the per-session facts `sessions list` shows
 * (read with the store's own client: RedisStore has no method for them).
 */
import type { Redis } from 'ioredis'
import { PromptlineError } from '../errors.js'
import { RedisStore } from '../stores/redis.js'
import { CommandError, UsageError } from './usage.js'

export interface RedisTarget {
  readonly store: RedisStore
  /** The URL without its password, fit for messages. */
  readonly where: string
  /** `error` as one line that says which Redis and what went wrong (library errors are kept as they are). */
  explain(error: unknown): unknown
  close(): Promise<void>
}

/** `redis://user:secret@host` → `redis://***@host`. */
export function redactRedisURL(url: string): string {
  return url.replace(/\/\/[^@/]*@/, '//***@')
}

export function openRedis(url: string, prefix: string | undefined): RedisTarget {
  let store: RedisStore
  try {
    store = new RedisStore(url, prefix === undefined ? {} : { prefix })
  } catch (error) {
    // The store's own check of the URL or prefix, in the command line's words.
    if (error instanceof TypeError) throw new UsageError(`${prefix === undefined ? '--redis' : '--prefix'}: ${error.message}`)
    throw error
  }
  const where = redactRedisURL(url)
  // ioredis reports why it cannot connect only on its `error` event; a command then
  // fails with "Reached the max retries per request limit", which says nothing of why.
  let lastConnectionError: Error | undefined
  store.client.on('error', (error: Error) => (lastConnectionError = error))
  return {
    store,
    where,
    explain(error) {
      if (error instanceof PromptlineError || error instanceof CommandError || error instanceof UsageError) return error
      const message = error instanceof Error ? error.message : String(error)
      const reason = lastConnectionError?.message ?? message
      if (lastConnectionError !== undefined || /max retries per request|connection is closed|ECONNREFUSED|ETIMEDOUT|ENOTFOUND/i.test(message)) {
        return new CommandError(`cannot reach Redis at ${where}: ${reason || 'connection failed'}`, { cause: error })
      }
      return new CommandError(`Redis at ${where} failed: ${message}`, { cause: error })
    },
    close: () => closeWithin(store, CLOSE_TIMEOUT_MS),
  }
}

const CLOSE_TIMEOUT_MS = 1_000

/**
 * `store.close()`, but never longer than `ms`: today it can wait forever for a client
 * stuck reconnecting to a Redis that is down, and a command must exit. Whatever is
 * left of the connection is then dropped.
 */
async function closeWithin(store: RedisStore, ms: number): Promise<void> {
  let timer: NodeJS.Timeout | undefined
  const late = new Promise<void>((resolve) => (timer = setTimeout(resolve, ms)))
  try {
    await Promise.race([store.close().catch(() => {}), late])
  } finally {
    clearTimeout(timer)
    store.client.disconnect()
  }
}

/** What `sessions list` and `sessions show` tell about one stored session. */
export interface SessionStats {
  id: string
  /** Stored messages; 0 when the session vanished since it was listed. */
  messages: number
  /** Seconds until Redis expires it; `null` when it never expires. */
  ttlSeconds: number | null
  /**
   * Seconds since the session was last written (append, save, fork) or had its
   * expiry refreshed: the idle time of its meta key, which reads leave alone.
   * `null` when Redis does not track idle time (an LFU `maxmemory-policy`).
   */
  idleSeconds: number | null
}

/**
 * The stats of `ids` in one round trip. Commands that do not touch a key's access
 * time (OBJECT IDLETIME, PTTL) go first, so listing leaves "last activity" as it was.
 */
export async function sessionStats(store: RedisStore, ids: readonly string[]): Promise<SessionStats[]> {
  if (ids.length === 0) return []
  const pipeline = (store.client as Redis).pipeline()
  for (const id of ids) {
    const keys = store.keys(id)
    pipeline.call('OBJECT', 'IDLETIME', keys.meta)
    pipeline.pttl(keys.messages)
    pipeline.llen(keys.messages)
  }
  const replies = (await pipeline.exec()) ?? []
  return ids.map((id, i) => {
    const [idleError, idle] = replies[i * 3] ?? [null, null]
    const [ttlError, ttl] = replies[i * 3 + 1] ?? [null, null]
    const [lengthError, length] = replies[i * 3 + 2] ?? [null, null]
    if (ttlError) throw ttlError
    if (lengthError) throw lengthError
    const ttlMs = Number(ttl)
    return {
      id,
      messages: Number(length),
      ttlSeconds: ttlMs >= 0 ? Math.ceil(ttlMs / 1000) : null,
      idleSeconds: idleError || idle === null ? null : Number(idle),
    }
  })
}
