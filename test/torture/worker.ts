/**
 * One worker process of the torture suite (started with child_process.fork by
 * run.ts): drives a Pipeline on a RedisStore through its own sessions, one turn
 * at a time per session, all sessions concurrently, and reports every turn to the
 * parent over IPC: `start` before the turn, `end` with its outcome after it.
 * Stops starting turns on a `stop` message, finishes the ones in flight, exits.
 *
 * The user message of turn `t` of session `s` is `s|t`; the MockProvider replies
 * `Echo: s|t`, so the checker can tell every stored message's turn.
 */
import { Cluster, Redis } from 'ioredis'
import { Pipeline } from '../../src/pipeline.js'
import { MockProvider } from '../../src/providers/mock.js'
import { RedisStore, REDIS_CLIENT_OPTIONS, type RedisWaitOptions } from '../../src/stores/redis.js'

export interface WorkerConfig {
  worker: number
  /** `{ host, port }` of a standalone Redis (or the proxy), or the Cluster's nodes. */
  nodes: { host: string; port: number }[]
  cluster: boolean
  prefix: string
  /** Session ids and the turn number each starts at (a restarted worker goes on where it was). */
  sessions: { id: string; next: number }[]
  commandTimeout: number
  timeoutMs: number
  wait: RedisWaitOptions | undefined
}

export type WorkerMessage =
  | { type: 'start'; session: string; turn: number; at: number }
  | { type: 'end'; session: string; turn: number; at: number; ok: boolean; saved: boolean; error?: string; ms: number }
  | { type: 'done' }

const config = JSON.parse(process.argv[2] ?? '{}') as WorkerConfig
const send = (message: WorkerMessage) => process.send?.(message)

const clientOptions = { ...REDIS_CLIENT_OPTIONS, lazyConnect: false, commandTimeout: config.commandTimeout }
const client = config.cluster
  ? new Cluster(config.nodes, { redisOptions: clientOptions, clusterRetryStrategy: () => 100 })
  : new Redis({ ...(config.nodes[0] as { host: string; port: number }), ...clientOptions })
client.on('error', () => {})
const store = new RedisStore(client, { prefix: config.prefix, ...(config.wait === undefined ? {} : { wait: config.wait }) })
const pipe = new Pipeline({
  provider: new MockProvider(),
  store,
  contextWindow: { maxMessages: 6 },
  timeoutMs: config.timeoutMs,
  saveRetry: { retries: 10, minTimeout: 50, maxTimeout: 1_000 },
  loadRetry: { retries: 10, minTimeout: 50, maxTimeout: 1_000 },
})

let stopping = false
process.on('message', (message: { type: string }) => {
  if (message.type === 'stop') stopping = true
})

/** `StateSaveError/OOM`: the error's name, and the code of the Redis failure under it. */
function classify(error: unknown): string {
  let name = error instanceof Error ? error.name : typeof error
  let cause = error instanceof Error ? error.cause : undefined
  for (let depth = 0; cause !== undefined && depth < 3; depth++) {
    const code = (cause as { code?: unknown }).code
    if (typeof code === 'string') return `${name}/${code}`
    name = `${name}/${cause instanceof Error ? cause.name : typeof cause}`
    cause = cause instanceof Error ? cause.cause : undefined
  }
  return name
}

async function drive(session: { id: string; next: number }): Promise<void> {
  for (let turn = session.next; !stopping; turn++) {
    const started = performance.now()
    send({ type: 'start', session: session.id, turn, at: Date.now() })
    try {
      const result = await pipe.execute(session.id, 'user', `${session.id}|${turn}`)
      send({ type: 'end', session: session.id, turn, at: Date.now(), ok: true, saved: result.saved, ms: performance.now() - started })
    } catch (error) {
      send({ type: 'end', session: session.id, turn, at: Date.now(), ok: false, saved: false, error: classify(error), ms: performance.now() - started })
      // A failing Redis fails every turn at once; do not spin.
      await new Promise((resolve) => setTimeout(resolve, 20))
    }
  }
}

await Promise.all(config.sessions.map(drive))
await pipe.shutdown()
client.disconnect()
send({ type: 'done' })
process.disconnect()
