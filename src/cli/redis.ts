/**
 * The CLI's Redis: a `RedisStore` from `--redis`/`REDIS_URL`, failures told in one
 * line that names the server, and the per-session facts `sessions list` shows
 * (read with the store's own client: RedisStore has no method for them).
 */
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
 * KEYS: meta, msgs of each session in turn. Returns idle seconds (-1: untracked or
 * no meta key), PTTL and LLEN of each. OBJECT IDLETIME and PTTL do not touch a key's
 * access time, and LLEN touches only the list, so listing leaves "last activity" as it was.
 */
const STATS = `
local out = {}
for i = 1, #KEYS, 2 do
  local idle = redis.pcall('OBJECT', 'IDLETIME', KEYS[i])
  if type(idle) ~= 'number' then idle = -1 end
  out[#out + 1] = idle
  out[#out + 1] = redis.call('PTTL', KEYS[i + 1])
  out[#out + 1] = redis.call('LLEN', KEYS[i + 1])
end
return out
`

/** The stats of `ids` in one round trip (one script: three commands a session cost the client more than Redis). */
export async function sessionStats(store: RedisStore, ids: readonly string[]): Promise<SessionStats[]> {
  if (ids.length === 0) return []
  const keys: string[] = []
  for (const id of ids) {
    const { meta, messages } = store.keys(id)
    keys.push(meta, messages)
  }
  const reply = (await store.client.eval(STATS, keys.length, ...keys)) as (number | string)[]
  const numbers = reply.map(Number)
  return ids.map((id, i) => {
    const idle = numbers[i * 3] as number
    const ttlMs = numbers[i * 3 + 1] as number
    return {
      id,
      messages: numbers[i * 3 + 2] as number,
      ttlSeconds: ttlMs >= 0 ? Math.ceil(ttlMs / 1000) : null,
      idleSeconds: idle >= 0 ? idle : null,
    }
  })
}
