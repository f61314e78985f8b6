/**
 * The Redis rows of bench/run.ts that are about scale rather than one turn's
 * latency: what Redis spends per turn, turns per second with many sessions in
 * flight (in one process, then in 8), and LangChain's Redis chat history on the
 * same histories. Each figure comes with its raw-ioredis baseline from the same run.
 */
import { spawn } from 'node:child_process'
import { randomUUID } from 'node:crypto'
import { fileURLToPath } from 'node:url'
import { Redis } from 'ioredis'
import { createClient } from 'redis'
import { RedisChatMessageHistory } from '@langchain/redis'
import { AIMessage, HumanMessage } from '@langchain/core/messages'
import { RedisStore } from '../src/stores/redis.js'
import { commandStats, median, percentile, serverCpuSeconds, usecBetween } from './redis-stats.js'
import { history, pipelineOn, RAW_COMMANDS, rawTurn, REPLY, WINDOW } from './turns.js'

export type Row = [what: string, history: string, perTurn: string, ratio: string]

const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`)
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`

/** The commands a RedisStore turn sends at the top level: the load's pipeline and the append's script. */
const LOAD_COMMANDS = ['llen', 'lrange', 'hget', 'expire'] as const
const APPEND_COMMANDS = ['evalsha', 'eval'] as const

/**
 * Redis' own time per turn, from `INFO commandstats`: `count` raw turns (LRANGE
 * -20 -1 + RPUSH of two messages), then `count` RedisStore loads (`last: 20`)
 * and `count` appends of a pair with an idempotency key, as the pipeline makes
 * them. Loads and appends run in separate stretches because an append's script
 * runs an HGET, which `INFO` counts under the same name as the load's own.
 * Interleaved over `rounds`, medians. Also Redis' process CPU per turn
 * (`INFO cpu`), which adds reading, parsing and replying.
 */
export async function serverCostRows(url: string, length: number, count: number, rounds: number, ttlSeconds?: number): Promise<Row[]> {
  const client = new Redis(url)
  const prefix = `cpu${randomUUID().slice(0, 8)}`
  const store = new RedisStore(client, { prefix, ...(ttlSeconds === undefined ? {} : { ttlSeconds }) })
  const rawKey = `${prefix}:raw`
  const base = history(length)
  await store.save('s', base)
  for (let i = 0; i < length; i += 1000) await client.rpush(rawKey, ...base.slice(i, i + 1000).map((m) => JSON.stringify(m)))
  const keys = store.keys('s')
  const pair = [{ role: 'user' as const, content: 'Follow-up question?' }, { role: 'assistant' as const, content: REPLY }]

  // Each stretch puts its list back to `length` every 50 turns; LTRIM is not among the names summed.
  async function stretch(names: readonly string[], turn: (i: number) => Promise<unknown>, reset: () => Promise<unknown>) {
    for (let i = 0; i < 50; i++) await turn(i)
    await reset()
    const before = await commandStats(client)
    const cpuBefore = await serverCpuSeconds(client)
    for (let i = 0; i < count; i++) {
      await turn(i)
      if ((i + 1) % 50 === 0) await reset()
    }
    const cpu = ((await serverCpuSeconds(client)) - cpuBefore) * 1e6
    return { usec: usecBetween(before, await commandStats(client), names) / count, cpu: cpu / count }
  }
  const raw = { usec: [] as number[], cpu: [] as number[] }
  const ours = { usec: [] as number[], cpu: [] as number[] }
  const trimRaw = () => client.ltrim(rawKey, 0, length - 1)
  const trimStore = () => client.ltrim(keys.messages, 0, length - 1)
  for (let round = 0; round < rounds; round++) {
    const a = await stretch(RAW_COMMANDS, (i) => rawTurn(client, rawKey, i), trimRaw)
    const load = await stretch(LOAD_COMMANDS, () => store.load('s', { last: WINDOW }), trimStore)
    const append = await stretch(APPEND_COMMANDS, () => store.append('s', pair, { idempotencyKey: randomUUID() }), trimStore)
    raw.usec.push(a.usec)
    raw.cpu.push(a.cpu)
    ours.usec.push(load.usec + append.usec)
    ours.cpu.push(load.cpu + append.cpu)
  }
  await store.delete('s')
  await client.del(rawKey)
  client.disconnect()
  const ttl = ttlSeconds === undefined ? '' : `, ttlSeconds (raw: no EXPIRE)`
  const [rawUsec, ourUsec, rawCpu, ourCpu] = [median(raw.usec), median(ours.usec), median(raw.cpu), median(ours.cpu)]
  return [
    [`Redis time per turn (commandstats), raw LRANGE + RPUSH`, String(length), fmt(rawUsec), '1.00×'],
    [`Redis time per turn (commandstats), RedisStore load + append${ttl}`, String(length), fmt(ourUsec), `${ratio(ourUsec, rawUsec)} of raw`],
    [`Redis process CPU per turn (INFO cpu, I/O included), raw`, String(length), fmt(rawCpu), '1.00×'],
    [`Redis process CPU per turn (INFO cpu, I/O included), RedisStore${ttl}`, String(length), fmt(ourCpu), `${ratio(ourCpu, rawCpu)} of raw`],
  ]
}

/**
 * `sessions` sessions × `turns` turns, all sessions at once over one ioredis
 * connection: through a Pipeline on RedisStore, and as raw commands, interleaved
 * over `rounds` (medians). Turns/s and p99 latency of a turn.
 */
export async function throughputRows(url: string, sessions: number, turns: number, rounds: number): Promise<Row[]> {
  const client = new Redis(url)
  const prefix = `tput${randomUUID().slice(0, 8)}`
  const store = new RedisStore(client, { prefix })
  const pipe = pipelineOn(store)
  const seed = history(WINDOW)
  await pipe.execute('warm', 'user', 'warm-up')
  async function run(mode: 'store' | 'raw', round: number) {
    for (let s = 0; s < sessions; s++) {
      if (mode === 'store') await store.save(`r${round}s${s}`, seed)
      else await client.rpush(`${prefix}:r${round}:${s}`, ...seed.map((m) => JSON.stringify(m)))
    }
    const latencies: number[] = []
    const started = performance.now()
    await Promise.all(
      Array.from({ length: sessions }, async (_, s) => {
        for (let t = 0; t < turns; t++) {
          const begun = performance.now()
          if (mode === 'store') await pipe.execute(`r${round}s${s}`, 'user', `Question ${t}?`)
          else await rawTurn(client, `${prefix}:r${round}:${s}`, t)
          latencies.push(performance.now() - begun)
        }
      }),
    )
    const elapsed = performance.now() - started
    return { perSecond: (latencies.length * 1000) / elapsed, p99: percentile(latencies, 99) }
  }
  const raw = { perSecond: [] as number[], p99: [] as number[] }
  const ours = { perSecond: [] as number[], p99: [] as number[] }
  await run('raw', -1)
  await run('store', -1)
  for (let round = 0; round < rounds; round++) {
    // Alternate which goes first, so neither always runs on a warmer (or busier) machine.
    for (const mode of round % 2 === 0 ? (['raw', 'store'] as const) : (['store', 'raw'] as const)) {
      const result = await run(mode, round)
      const into = mode === 'raw' ? raw : ours
      into.perSecond.push(result.perSecond)
      into.p99.push(result.p99)
    }
  }
  await pipe.shutdown()
  await deleteKeys(client, `${prefix}:*`)
  client.disconnect()
  const label = `${sessions} sessions × ${turns} turns in flight, one connection`
  const rawRate = median(raw.perSecond)
  const ourRate = median(ours.perSecond)
  return [
    [`${label}: raw ioredis (p99 ${median(raw.p99).toFixed(1)} ms)`, String(WINDOW), `${rawRate.toFixed(0)} turns/s`, '1.00×'],
    [`${label}: RedisStore turns (p99 ${median(ours.p99).toFixed(1)} ms)`, String(WINDOW), `${ourRate.toFixed(0)} turns/s`, `${ratio(ourRate, rawRate)} of raw`],
  ]
}

/**
 * `processes` processes × `sessions` sessions × `turns` turns against one Redis
 * (bench/redis-worker.ts), started together once all have seeded their sessions:
 * turns/s over all of them, and Redis' CPU (per turn, and as a share of one core).
 */
export async function multiProcessRows(url: string, processes: number, sessions: number, turns: number): Promise<Row[]> {
  const admin = new Redis(url)
  const results: Record<'raw' | 'store', { perSecond: number; cpuPerTurn: number; core: number; p99: number }> = {} as never
  for (const mode of ['raw', 'store'] as const) {
    const prefix = `mp${randomUUID().slice(0, 8)}`
    const workers = Array.from({ length: processes }, (_, p) => startWorker([url, mode, String(sessions), String(turns), `${prefix}-${p}`]))
    await Promise.all(workers.map((worker) => worker.ready))
    const cpuBefore = await serverCpuSeconds(admin)
    const started = performance.now()
    for (const worker of workers) worker.go()
    const done = await Promise.all(workers.map((worker) => worker.done))
    const elapsed = (performance.now() - started) / 1000
    const cpu = (await serverCpuSeconds(admin)) - cpuBefore
    const total = done.reduce((sum, result) => sum + result.turns, 0)
    results[mode] = {
      perSecond: total / elapsed,
      cpuPerTurn: (cpu * 1e6) / total,
      core: cpu / elapsed,
      p99: Math.max(...done.map((result) => result.p99)),
    }
    await deleteKeys(admin, `${prefix}-*`)
  }
  admin.disconnect()
  const label = `${processes} processes × ${sessions} sessions × ${turns} turns`
  const { raw, store } = results
  return [
    [`${label}: raw ioredis (Redis CPU ${fmt(raw.cpuPerTurn)}/turn, ${(raw.core * 100).toFixed(0)}% of a core; worst p99 ${raw.p99.toFixed(0)} ms)`, String(WINDOW), `${raw.perSecond.toFixed(0)} turns/s`, '1.00×'],
    [
      `${label}: RedisStore turns (Redis CPU ${fmt(store.cpuPerTurn)}/turn, ${(store.core * 100).toFixed(0)}% of a core; worst p99 ${store.p99.toFixed(0)} ms)`,
      String(WINDOW),
      `${store.perSecond.toFixed(0)} turns/s`,
      `${ratio(store.perSecond, raw.perSecond)} of raw; Redis CPU/turn ${ratio(store.cpuPerTurn, raw.cpuPerTurn)}`,
    ],
  ]
}

function startWorker(args: string[]): { ready: Promise<void>; go: () => void; done: Promise<{ turns: number; p99: number }> } {
  const script = fileURLToPath(new URL('./redis-worker.ts', import.meta.url))
  const child = spawn(process.execPath, ['--import', 'tsx', script, ...args], { stdio: ['pipe', 'pipe', 'inherit'] })
  let output = ''
  let onReady: () => void = () => {}
  const ready = new Promise<void>((resolve) => (onReady = resolve))
  const done = new Promise<{ turns: number; p99: number }>((resolve, reject) => {
    child.stdout.setEncoding('utf8').on('data', (text: string) => {
      output += text
      if (output.includes('ready\n')) onReady()
      const match = /done (\d+) ([\d.]+)/.exec(output)
      if (match !== null) resolve({ turns: Number(match[1]), p99: Number(match[2]) })
    })
    child.once('exit', (code) => reject(new Error(`bench worker exited with ${code} before it finished: ${output}`)))
  })
  return { ready, go: () => child.stdin.end('go\n'), done }
}

/**
 * LangChain's Redis chat history (`@langchain/redis`, on node-redis) per turn:
 * `getMessages()` then `addMessages()` of the pair, at `length` stored messages,
 * against a RedisStore turn's store calls (`load` of the window, `append` of the
 * pair with an idempotency key), interleaved over `rounds` (medians).
 */
export async function langchainRedisRows(url: string, length: number, count: number, rounds: number): Promise<Row[]> {
  const nodeRedis = createClient({ url })
  await nodeRedis.connect()
  const ioredis = new Redis(url)
  const prefix = `lc${randomUUID().slice(0, 8)}`
  const store = new RedisStore(ioredis, { prefix })
  const langchain = new RedisChatMessageHistory({ sessionId: `${prefix}:history`, client: nodeRedis })
  const base = history(length)
  const asLangchain = base.map((m) => (m.role === 'user' ? new HumanMessage(m.content as string) : new AIMessage(m.content as string)))
  for (let i = 0; i < asLangchain.length; i += 1000) await langchain.addMessages(asLangchain.slice(i, i + 1000))
  await store.save('s', base)
  const keys = store.keys('s')
  const pair = [{ role: 'user' as const, content: 'Follow-up question?' }, { role: 'assistant' as const, content: REPLY }]
  const theirs: number[] = []
  const ours: number[] = []
  async function time(turn: () => Promise<unknown>, reset: () => Promise<unknown>): Promise<number> {
    let total = 0
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      await turn()
      total += performance.now() - started
      await reset()
    }
    return (total * 1000) / count
  }
  // LangChain pushes on the left (LPUSH): the oldest messages are at the right end.
  const resetTheirs = () => nodeRedis.lTrim(`${prefix}:history`, -length, -1)
  const resetOurs = () => ioredis.ltrim(keys.messages, 0, length - 1)
  const theirTurn = async () => {
    await langchain.getMessages()
    await langchain.addMessages([new HumanMessage('Follow-up question?'), new AIMessage(REPLY)])
  }
  const ourTurn = async () => {
    await store.load('s', { last: WINDOW })
    await store.append('s', pair, { idempotencyKey: randomUUID() })
  }
  await time(theirTurn, resetTheirs)
  await time(ourTurn, resetOurs)
  for (let round = 0; round < rounds; round++) {
    theirs.push(await time(theirTurn, resetTheirs))
    ours.push(await time(ourTurn, resetOurs))
  }
  await nodeRedis.del(`${prefix}:history`)
  await store.delete('s')
  await nodeRedis.quit()
  ioredis.disconnect()
  const [a, b] = [median(theirs), median(ours)]
  return [
    ['LangChain RedisChatMessageHistory: getMessages + addMessages', String(length), fmt(a), `${ratio(a, b)} of RedisStore`],
    [`RedisStore: load({ last: ${WINDOW} }) + append (same turn)`, String(length), fmt(b), '1.00×'],
  ]
}

async function deleteKeys(client: Redis, pattern: string): Promise<void> {
  let cursor = '0'
  do {
    const [next, keys] = await client.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
    cursor = next
    if (keys.length > 0) await client.del(...keys)
  } while (cursor !== '0')
}
