/**
 * The fault-injection ("torture") suite: `npm run test:torture`.
 *
 * Each scenario starts its own Redis (standalone or a 3-master + 3-replica
 * Cluster), forks worker processes (worker.ts) that run turns through a Pipeline
 * on a RedisStore and report every turn, lets a nemesis inject one kind of fault,
 * heals it, lets the workers run on a little, stops them, and then reads every
 * session back from Redis and checks it against the log:
 *
 * - lost: a turn acknowledged (`saved: true`) that is not stored;
 * - duplicated: a turn stored more than once;
 * - half / reordered: a question without its reply right after it (or a reply
 *   without its question), or turns of a session stored out of order;
 * - hung: a turn that did not settle by the end (the workers are then killed);
 * - recovered: every turn started a second or more after the fault healed succeeded.
 *
 * Prints one table and the totals, ending with `lost N` and `duplicated N`, and
 * exits non-zero on any violation. Without redis-server it skips with a message,
 * except under CI=true, where that fails.
 *
 * Run: npm run test:torture            (all scenarios)
 *      npm run test:torture -- proxy   (the scenarios whose name contains "proxy")
 */
import { fork, type ChildProcess } from 'node:child_process'
import { fileURLToPath } from 'node:url'
import { Cluster, Redis } from 'ioredis'
import { RedisStore, type RedisWaitOptions } from '../../src/stores/redis.js'
import { rawCommand, redisAvailability, startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { holdBack, info } from '../helpers/redis-replication.js'
import { FaultyProxy } from './proxy.js'
import { redisCli, startTortureCluster, type TortureCluster } from './topology.js'
import type { WorkerConfig, WorkerMessage } from './worker.js'

/** How far a restarted worker skips ahead of the last turn it is known to have started. */
const RESTART_TURN_GAP = 1_000
const WORKERS = 3
const SESSIONS_PER_WORKER = 3
const WARM_UP_MS = 1_000
const AFTER_HEAL_MS = 3_000
/** Turns started this long after the fault healed must all succeed. */
const RECOVERY_GRACE_MS = 1_000
const TURN_TIMEOUT_MS = 15_000
/** Workers that have not finished this long after `stop` hold hung turns. */
const STOP_GRACE_MS = 25_000

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// Scenarios
// ---------------------------------------------------------------------------

interface Env {
  /** The standalone server (standalone scenarios). */
  server: RedisServer | undefined
  proxy: FaultyProxy | undefined
  cluster: TortureCluster | undefined
  /** SIGKILLs a worker mid-turn and starts it again on the same sessions. */
  killWorker(): Promise<void>
  /** Counts what the nemesis did, for the table (a fault that never happened proves nothing). */
  acted(what: string): void
  /** Reports a violation the nemesis itself observed. */
  problem(what: string): void
}

interface Scenario {
  name: string
  topology: 'standalone' | 'cluster'
  persistence?: 'aof'
  proxy?: boolean
  wait?: RedisWaitOptions
  commandTimeout?: number
  /** With loadRetry and idempotent appends, this fault must fail no turn at all. */
  noFailures?: boolean
  /**
   * A control run that shows the fault is real: it passes only if acknowledged
   * turns were lost, and its losses are not counted in the totals.
   */
  control?: boolean
  /** Injects the fault; returns once it is healed. */
  nemesis(env: Env): Promise<void>
}

const SCENARIOS: Scenario[] = [
  {
    name: 'redis kill -9 + restart (AOF always)',
    topology: 'standalone',
    persistence: 'aof',
    async nemesis({ server, acted }) {
      for (let i = 0; i < 4; i++) {
        await sleep(1_000 + Math.random() * 1_000)
        await server?.kill()
        acted('kill')
        await sleep(300)
        await server?.restart()
      }
    },
  },
  {
    name: 'proxy: reply dropped after the command ran',
    topology: 'standalone',
    proxy: true,
    noFailures: true,
    async nemesis({ proxy, acted }) {
      proxy?.dropReplies(0.05)
      await sleep(6_000)
      proxy?.heal()
      acted(`${proxy?.cut.dropped ?? 0} cut`)
    },
  },
  {
    name: 'proxy: connections reset at random',
    topology: 'standalone',
    proxy: true,
    noFailures: true,
    async nemesis({ proxy, acted }) {
      proxy?.resets(0.1)
      await sleep(6_000)
      proxy?.heal()
      acted(`${proxy?.cut.reset ?? 0} reset`)
    },
  },
  {
    name: 'proxy: blackhole 2.5 s > commandTimeout 1 s',
    topology: 'standalone',
    proxy: true,
    commandTimeout: 1_000,
    async nemesis({ proxy, acted }) {
      for (let i = 0; i < 2; i++) {
        await sleep(1_000)
        await proxy?.blackhole(2_500)
        acted('blackhole')
      }
    },
  },
  {
    name: 'CLIENT PAUSE ALL 1.5 s',
    topology: 'standalone',
    async nemesis({ server, acted }) {
      for (let i = 0; i < 3; i++) {
        await sleep(800)
        await rawCommand(server?.port ?? 0, ['CLIENT', 'PAUSE', '1500', 'ALL'])
        acted('pause')
        await sleep(1_500)
      }
    },
  },
  {
    name: 'OOM with noeviction',
    topology: 'standalone',
    async nemesis({ server, acted, problem }) {
      const port = server?.port ?? 0
      await rawCommand(port, ['CONFIG', 'SET', 'maxmemory-policy', 'noeviction'])
      const used = async () => Number((await info(port, 'memory')).get('used_memory'))
      const before = await used()
      // Below what is used: every write is refused, reads go on. Longer than saveRetry
      // rides out, so turns do fail (StateSaveError, code OOM).
      await rawCommand(port, ['CONFIG', 'SET', 'maxmemory', String(Math.max(1, before - 64 * 1024))])
      acted('oom')
      await sleep(9_000)
      const grown = (await used()) - before
      // Reads (and their connections' buffers) use a little; no write may get through.
      if (grown > 512 * 1024) problem(`used memory grew by ${grown} bytes while over maxmemory`)
      await rawCommand(port, ['CONFIG', 'SET', 'maxmemory', '0'])
    },
  },
  {
    name: 'worker kill -9 mid-turn',
    topology: 'standalone',
    async nemesis({ killWorker }) {
      for (let i = 0; i < 4; i++) {
        await sleep(800 + Math.random() * 800)
        await killWorker()
      }
    },
  },
  {
    name: 'cluster: held-back replica, its master killed (wait 1)',
    topology: 'cluster',
    wait: { replicas: 1, timeoutMs: 300 },
    async nemesis(env) {
      await heldBackFailover(env)
    },
  },
  {
    name: 'control, must lose turns: held-back replica, master killed, no wait',
    topology: 'cluster',
    control: true,
    async nemesis(env) {
      await heldBackFailover(env)
    },
  },
  {
    name: 'cluster: master killed, failover (wait 1)',
    topology: 'cluster',
    wait: { replicas: 1, timeoutMs: 300 },
    async nemesis({ cluster, acted }) {
      if (cluster === undefined) return
      const masters = await cluster.masters()
      const master = masters[masters.length - 1]
      if (master === undefined) return
      await sleep(1_000)
      await master.server.kill()
      acted('master killed')
      await cluster.healthy(20_000).catch(() => undefined)
      await master.server.restart()
      await cluster.healthy()
      acted('healed')
    },
  },
  {
    name: 'cluster: slots resharded under traffic (wait 1)',
    topology: 'cluster',
    wait: { replicas: 1, timeoutMs: 300 },
    async nemesis({ cluster, acted }) {
      if (cluster === undefined) return
      const [from, to] = await cluster.masters()
      if (from === undefined || to === undefined) return
      const at = `${from.server.host}:${from.server.port}`
      for (const [source, target] of [[from, to], [to, from]] as const) {
        await sleep(500)
        redisCli(['--cluster', 'reshard', at, '--cluster-from', source.id, '--cluster-to', target.id, '--cluster-slots', '2000', '--cluster-yes'])
        acted('2000 slots moved')
      }
    },
  },
]

/**
 * The issue's reproduction: hold a master's replica back, let the master
 * acknowledge writes for 1.5 s, kill it, let the stale replica be promoted.
 */
async function heldBackFailover({ cluster, acted }: Env): Promise<void> {
  if (cluster === undefined) return
  const [master] = await cluster.masters()
  const [replica] = master === undefined ? [] : await cluster.replicasOf(master)
  if (master === undefined || replica === undefined) throw new Error('no master with a replica')
  // The master now acknowledges writes its replica never gets: with wait, no turn may count them.
  const resume = await holdBack(replica.server, master.server)
  acted('held back')
  await sleep(1_500)
  await master.server.kill()
  acted('master killed')
  resume()
  await until(async () => (await info(replica.server.port, 'replication')).get('role') === 'master', 20_000)
  acted('replica promoted')
  await master.server.restart()
  await cluster.healthy()
}

async function until(check: () => Promise<boolean>, withinMs: number): Promise<void> {
  const deadline = Date.now() + withinMs
  while (!(await check().catch(() => false))) {
    if (Date.now() > deadline) throw new Error('timed out')
    await sleep(100)
  }
}

// ---------------------------------------------------------------------------
// One run
// ---------------------------------------------------------------------------

interface TurnLog {
  session: string
  turn: number
  startedAt: number
  end?: Extract<WorkerMessage, { type: 'end' }>
  /** Its worker was killed while it ran: outcome unknown. */
  killed?: boolean
}

interface Row {
  scenario: string
  attempted: number
  acked: number
  failed: Map<string, number>
  unknown: number
  lost: number
  duplicated: number
  half: number
  reordered: number
  hung: number
  latencies: number[]
  failedAfterHeal: number
  acted: string[]
  problems: string[]
  control?: boolean
}

async function runScenario(scenario: Scenario, index: number): Promise<Row> {
  const row: Row = {
    scenario: scenario.name, attempted: 0, acked: 0, failed: new Map(), unknown: 0, lost: 0, duplicated: 0,
    half: 0, reordered: 0, hung: 0, latencies: [], failedAfterHeal: 0, acted: [], problems: [],
  }
  let server: RedisServer | undefined
  let proxy: FaultyProxy | undefined
  let cluster: TortureCluster | undefined
  const workers = new Map<number, ChildProcess>()
  const turns = new Map<string, TurnLog>()
  const sessionsOf = (w: number) => Array.from({ length: SESSIONS_PER_WORKER }, (_v, s) => `w${w}s${s}`)
  const prefix = `torture${index}`
  try {
    if (scenario.topology === 'cluster') {
      cluster = await startTortureCluster()
    } else {
      server = await startRedisServer(scenario.persistence === undefined ? {} : { persistence: scenario.persistence })
      if (scenario.proxy === true) proxy = await FaultyProxy.start(server.port)
    }
    const nodes = cluster
      ? cluster.nodes.map((n) => ({ host: n.server.host, port: n.server.port }))
      : [{ host: '127.0.0.1', port: proxy?.port ?? server?.port ?? 0 }]

    const exits = new Map<number, Promise<void>>()
    const startWorker = (w: number) => {
      const sessions = sessionsOf(w).map((id) => {
        let next = 0
        for (const log of turns.values()) if (log.session === id) next = Math.max(next, log.turn + 1)
        // A killed worker may have started (and stored) turns whose `start` message the
        // parent never read: IPC messages still in the pipe are lost with the process. A
        // restarted worker must not reuse those numbers, or the checker would see one
        // turn stored twice; it skips ahead instead (the unlogged turns are not counted).
        return { id, next: next === 0 ? 0 : next + RESTART_TURN_GAP }
      })
      const config: WorkerConfig = {
        worker: w, nodes, cluster: cluster !== undefined, prefix, sessions,
        commandTimeout: scenario.commandTimeout ?? 2_000, timeoutMs: TURN_TIMEOUT_MS, wait: scenario.wait,
      }
      const child = fork(fileURLToPath(new URL('./worker.ts', import.meta.url)), [JSON.stringify(config)], {
        execArgv: ['--import', 'tsx'],
        stdio: ['ignore', 'inherit', 'inherit', 'ipc'],
      })
      child.on('message', (message: WorkerMessage) => {
        if (message.type === 'start') {
          turns.set(`${message.session}|${message.turn}`, { session: message.session, turn: message.turn, startedAt: message.at })
        } else if (message.type === 'end') {
          const log = turns.get(`${message.session}|${message.turn}`)
          if (log !== undefined) log.end = message
        }
      })
      exits.set(w, new Promise((resolve) => child.once('exit', () => resolve())))
      workers.set(w, child)
    }
    for (let w = 0; w < WORKERS; w++) startWorker(w)

    const env: Env = {
      server, proxy, cluster,
      acted: (what) => row.acted.push(what),
      problem: (what) => row.problems.push(what),
      async killWorker() {
        const w = Math.floor(Math.random() * WORKERS)
        const child = workers.get(w)
        if (child === undefined) return
        child.kill('SIGKILL')
        await exits.get(w)
        for (const log of turns.values()) if (log.session.startsWith(`w${w}s`) && log.end === undefined) log.killed = true
        row.acted.push(`worker ${w} killed`)
        startWorker(w)
      },
    }
    await sleep(WARM_UP_MS)
    await scenario.nemesis(env)
    const healedAt = Date.now()
    await sleep(AFTER_HEAL_MS)

    for (const child of workers.values()) child.send({ type: 'stop' })
    const stopped = Promise.all(exits.values())
    const inTime = await Promise.race([stopped.then(() => true), sleep(STOP_GRACE_MS).then(() => false)])
    if (!inTime) for (const child of workers.values()) child.kill('SIGKILL')

    // Read every session back, directly (not through the proxy).
    const checkClient = cluster ? new Cluster(nodes) : new Redis({ host: '127.0.0.1', port: server?.port ?? 0 })
    const reader = new RedisStore(checkClient, { prefix })
    for (let w = 0; w < WORKERS; w++) {
      for (const session of sessionsOf(w)) {
        const stored = await reader.load(session)
        const logs = [...turns.values()].filter((l) => l.session === session).sort((a, b) => a.turn - b.turn)
        check(row, session, stored.map((m) => `${m.role}:${m.content}`), logs, healedAt)
      }
    }
    await reader.close()
    checkClient.disconnect()
  } finally {
    for (const child of workers.values()) if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL')
    await proxy?.stop()
    await server?.stop()
    await cluster?.stop()
  }
  if (row.acked < 20) row.problems.push(`only ${row.acked} turns acknowledged: the run proves little`)
  if (row.acted.length === 0) row.problems.push('the nemesis did nothing')
  if (scenario.control === true) {
    row.control = true
    if (row.lost === 0) row.problems.push('the control run lost nothing: the fault did not bite, so the runs with wait prove nothing')
    else row.problems = row.problems.filter((p) => !p.includes('is not stored'))
  }
  if (scenario.noFailures === true && sum(row.failed) > 0) row.problems.push(`${sum(row.failed)} turns failed under a fault that must fail none`)
  return row
}

function check(row: Row, session: string, stored: string[], logs: TurnLog[], healedAt: number): void {
  const positions = new Map<number, number[]>()
  let previous = -1
  for (let i = 0; i < stored.length; i++) {
    const entry = stored[i] as string
    const question = /^user:(.*)\|(\d+)$/.exec(entry)
    if (question === null || question[1] !== session) {
      row.half++
      row.problems.push(`${session}: entry ${i} is not a question of this session: ${entry.slice(0, 60)}`)
      continue
    }
    const turn = Number(question[2])
    if (stored[i + 1] !== `assistant:Echo: ${session}|${turn}`) {
      row.half++
      row.problems.push(`${session}: turn ${turn} stored without its reply right after it`)
    } else {
      i++
    }
    positions.set(turn, [...(positions.get(turn) ?? []), i])
    if (turn <= previous) {
      row.reordered++
      row.problems.push(`${session}: turn ${turn} stored after turn ${previous}`)
    }
    previous = Math.max(previous, turn)
  }
  for (const [turn, at] of positions) {
    if (at.length > 1) {
      row.duplicated += at.length - 1
      row.problems.push(`${session}: turn ${turn} stored ${at.length} times`)
    }
  }
  for (const log of logs) {
    row.attempted++
    if (log.end === undefined) {
      if (log.killed === true) row.unknown++
      else {
        row.hung++
        row.problems.push(`${session}: turn ${log.turn} never settled`)
      }
      continue
    }
    if (log.end.ok && log.end.saved) {
      row.acked++
      row.latencies.push(log.end.ms)
      if (!positions.has(log.turn)) {
        row.lost++
        row.problems.push(`${session}: acknowledged turn ${log.turn} is not stored`)
      }
    } else {
      const kind = log.end.error ?? 'not saved'
      row.failed.set(kind, (row.failed.get(kind) ?? 0) + 1)
      if (log.startedAt >= healedAt + RECOVERY_GRACE_MS) {
        row.failedAfterHeal++
        row.problems.push(`${session}: turn ${log.turn} failed ${log.startedAt - healedAt} ms after the fault healed (${kind})`)
      }
    }
    if (log.end.ms > TURN_TIMEOUT_MS + 5_000) {
      row.hung++
      row.problems.push(`${session}: turn ${log.turn} took ${Math.round(log.end.ms)} ms`)
    }
  }
}

// ---------------------------------------------------------------------------
// Report
// ---------------------------------------------------------------------------

function sum(counts: Map<string, number>): number {
  let total = 0
  for (const n of counts.values()) total += n
  return total
}

function percentile(values: number[], p: number): number {
  if (values.length === 0) return 0
  const sorted = [...values].sort((a, b) => a - b)
  return sorted[Math.min(sorted.length - 1, Math.floor((p / 100) * sorted.length))] as number
}

function table(rows: Row[]): string {
  const header = ['scenario', 'attempted', 'acked', 'failed (by error)', 'unknown', 'lost', 'dup', 'half/reord', 'hung', 'p50/p99/max ms', 'recovered', 'nemesis']
  const lines = rows.map((r) => [
    r.scenario,
    String(r.attempted),
    String(r.acked),
    sum(r.failed) === 0 ? '0' : `${sum(r.failed)}: ${[...r.failed].map(([k, n]) => `${k} ${n}`).join(', ')}`,
    String(r.unknown),
    String(r.lost),
    String(r.duplicated),
    `${r.half}/${r.reordered}`,
    String(r.hung),
    `${percentile(r.latencies, 50).toFixed(0)}/${percentile(r.latencies, 99).toFixed(0)}/${Math.max(0, ...r.latencies).toFixed(0)}`,
    r.failedAfterHeal === 0 ? 'yes' : `no (${r.failedAfterHeal})`,
    summarize(r.acted),
  ])
  const all = [header, header.map(() => '---'), ...lines]
  return all.map((cells) => `| ${cells.join(' | ')} |`).join('\n')
}

function summarize(acted: string[]): string {
  const counts = new Map<string, number>()
  for (const a of acted) counts.set(a, (counts.get(a) ?? 0) + 1)
  return [...counts].map(([a, n]) => (n === 1 ? a : `${a} ×${n}`)).join(', ')
}

// ---------------------------------------------------------------------------

const { canLaunch, reason } = redisAvailability()
if (!canLaunch) {
  console.warn(`[torture] skipped: ${reason ?? 'redis-server cannot be launched'} (under CI=true this fails)`)
  process.exit(0)
}
const filter = process.argv[2]
const chosen = SCENARIOS.filter((s) => filter === undefined || s.name.includes(filter))
const started = Date.now()
const rows: Row[] = []
for (const [index, scenario] of chosen.entries()) {
  const at = Date.now()
  process.stdout.write(`[torture] ${scenario.name} … `)
  try {
    rows.push(await runScenario(scenario, index))
  } catch (error) {
    rows.push({
      scenario: scenario.name, attempted: 0, acked: 0, failed: new Map(), unknown: 0, lost: 0, duplicated: 0, half: 0,
      reordered: 0, hung: 0, latencies: [], failedAfterHeal: 0, acted: [], problems: [`the run itself failed: ${String(error)}`],
    })
  }
  console.log(`${((Date.now() - at) / 1000).toFixed(1)} s`)
}

console.log(`\n${table(rows)}\n`)
const problems = rows.flatMap((r) => r.problems.map((p) => `${r.scenario}: ${p}`))
for (const problem of problems.slice(0, 50)) console.log(`PROBLEM ${problem}`)
const total = (pick: (r: Row) => number) => rows.reduce((n, r) => n + (r.control === true ? 0 : pick(r)), 0)
console.log('(the control row is left out of the totals below)')
console.log(`${chosen.length} scenarios in ${((Date.now() - started) / 1000).toFixed(0)} s; ${total((r) => r.attempted)} turns attempted, ${total((r) => r.acked)} acknowledged`)
console.log(`half/reordered ${total((r) => r.half + r.reordered)}`)
console.log(`hung ${total((r) => r.hung)}`)
console.log(`failed after heal ${total((r) => r.failedAfterHeal)}`)
console.log(`lost ${total((r) => r.lost)}`)
console.log(`duplicated ${total((r) => r.duplicated)}`)
process.exit(problems.length === 0 ? 0 : 1)
