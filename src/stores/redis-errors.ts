import { PromptlineError } from '../errors.js'

/**
 * What went wrong talking to Redis, in one word an operator can search for:
 * a socket error code (`ECONNREFUSED`, `ECONNRESET`, …), `TIMEOUT` (no reply within
 * the client's `commandTimeout`), `OOM` (used memory above `maxmemory`), `READONLY`
 * (the node is a replica, e.g. during a failover), `WAIT` (fewer replicas than the
 * store's `wait.replicas` acknowledged the write in time), `CLOSED` (the
 * connection was closed), or the first word of any other Redis error reply
 * (`CLUSTERDOWN`, `TRYAGAIN`, `LOADING`, `BUSY`, `ERR`, …).
 */
export type RedisFailureCode = string

/**
 * A Redis command of a `RedisStore` call failed. The message names the call, the
 * Redis it went to (`host:port`, never credentials) and what happened; the
 * original error is `cause`. Retrying may help (the pipeline's `saveRetry` and
 * `loadRetry` do), unlike `StateCorruptError`.
 */
export class RedisStoreError extends PromptlineError {
  override name = 'RedisStoreError'
  /** `host:port` of the node the command went to (for a Cluster, the slot's master as the client knew it). */
  readonly address: string
  /** See `RedisFailureCode`. */
  readonly code: RedisFailureCode
  /** The store method: `load`, `append`, `save`, `fork`, `delete`, `length`. */
  readonly operation: string

  constructor(operation: string, address: string, code: RedisFailureCode, what: string, options?: { cause?: unknown }) {
    super(`Redis at ${address} failed \`${operation}\`: ${what}`, options)
    this.address = address
    this.code = code
    this.operation = operation
  }
}

const SOCKET_CODES: Record<string, string> = {
  ECONNREFUSED: 'connection refused',
  ECONNRESET: 'connection reset',
  ETIMEDOUT: 'connection attempt timed out',
  EHOSTUNREACH: 'host unreachable',
  ENETUNREACH: 'network unreachable',
  ENOTFOUND: 'host not found',
  EPIPE: 'connection broken',
}

/**
 * `error` as a code and a short explanation. `lastConnectionError` is the client's
 * most recent connection error: ioredis reports a command that failed while
 * reconnecting only as "Reached the max retries per request limit", which hides
 * why it could not connect.
 */
export function describeRedisFailure(error: unknown, lastConnectionError: unknown): { code: RedisFailureCode; what: string } {
  const message = error instanceof Error ? error.message : String(error)
  const socketCode = codeOf(error)
  if (socketCode !== undefined && SOCKET_CODES[socketCode] !== undefined) {
    return { code: socketCode, what: `${SOCKET_CODES[socketCode]} (${socketCode})` }
  }
  if (message === 'Command timed out') return { code: 'TIMEOUT', what: 'no reply within the client\'s `commandTimeout` (timeout)' }
  if (message.startsWith('OOM ')) {
    return { code: 'OOM', what: `out of memory: Redis refuses writes while used memory is above \`maxmemory\` (OOM: ${message.slice(4)})` }
  }
  if (message.startsWith('READONLY ')) {
    return { code: 'READONLY', what: `the node is a read-only replica, e.g. during a failover (READONLY: ${message.slice(9)})` }
  }
  const unreachable = /max retries per request|Connection is closed|Stream isn't writeable|connection.*(lost|closed)/i.test(message)
  if (unreachable) {
    const cause = codeOf(lastConnectionError)
    if (cause !== undefined) {
      return { code: cause, what: `${SOCKET_CODES[cause] ?? 'cannot connect'} (${cause}); the client keeps reconnecting` }
    }
    return { code: 'CLOSED', what: `the connection was lost or closed (${message})` }
  }
  const word = /^([A-Z][A-Z_]+)\b/.exec(message)?.[1]
  return { code: word ?? 'ERR', what: message }
}

function codeOf(error: unknown): string | undefined {
  if (error === null || typeof error !== 'object') return undefined
  const code = (error as { code?: unknown }).code
  return typeof code === 'string' && /^E[A-Z]+$/.test(code) ? code : undefined
}
