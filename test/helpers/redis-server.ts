/**
 * Throwaway Redis servers for tests: a standalone `redis-server` and a 3-master
 * Redis Cluster, each on free loopback ports with its own temp dir, always cleaned
 * up (also when the test process exits or is interrupted).
 *
 * `redisAvailability()` and `describeRedis()` decide, in one place, whether a Redis
 * suite runs, uses `REDIS_URL`, is skipped with a visible reason, or fails (`CI=true`).
 * `useRedisServer()`, `useStandaloneRedisClient()` and `useRedisCluster()` give a
 * suite its server, started in `beforeAll` and stopped in `afterAll`.
 */
import { spawn, spawnSync, type ChildProcess } from 'node:child_process'
import { mkdirSync, mkdtempSync, rmSync } from 'node:fs'
import { createConnection, createServer } from 'node:net'
import { tmpdir } from 'node:os'
import { join } from 'node:path'
import { Cluster, Redis } from 'ioredis'
import { describe } from 'vitest'
import { suiteResource } from './suite.js'

const HOST = '127.0.0.1'
const START_TIMEOUT_MS = 15_000

// ---------------------------------------------------------------------------
// Cleanup of everything this process started
// ---------------------------------------------------------------------------

const liveChildren = new Set<ChildProcess>()
const liveDirs = new Set<string>()
let cleanupInstalled = false

function cleanupNow(): void {
  for (const child of liveChildren) {
    try {
      child.kill('SIGKILL')
    } catch {
      // already gone
    }
  }
  liveChildren.clear()
  for (const dir of liveDirs) rmSync(dir, { recursive: true, force: true })
  liveDirs.clear()
}

function installCleanup(): void {
  if (cleanupInstalled) return
  cleanupInstalled = true
  process.once('exit', cleanupNow)
  for (const signal of ['SIGINT', 'SIGTERM', 'SIGHUP'] as const) {
    process.once(signal, () => {
      cleanupNow()
      // Re-raise with the default behaviour unless someone else handles it.
      if (process.listenerCount(signal) === 0) process.kill(process.pid, signal)
    })
  }
}

function makeTempDir(label: string): string {
  installCleanup()
  const dir = mkdtempSync(join(tmpdir(), `promptline-${label}-`))
  liveDirs.add(dir)
  return dir
}

function removeTempDir(dir: string): void {
  rmSync(dir, { recursive: true, force: true })
  liveDirs.delete(dir)
}

// ---------------------------------------------------------------------------
// Ports and a minimal RESP client (no handles left behind, no ioredis retries)
// ---------------------------------------------------------------------------

/** A port that was free a moment ago (bind port 0 on loopback, read it, close). */
export function freePort(host = HOST): Promise<number> {
  return new Promise((resolve, reject) => {
    const server = createServer()
    server.unref()
    server.once('error', reject)
    server.listen(0, host, () => {
      const address = server.address()
      const port = typeof address === 'object' && address !== null ? address.port : 0
      server.close(() => (port > 0 ? resolve(port) : reject(new Error('could not find a free port'))))
    })
  })
}

type RespValue = string | number | null | RespValue[] | Error

/** Parses one RESP reply from `buffer` at `offset`; `undefined` when incomplete. */
function parseResp(buffer: Buffer, offset: number): { value: RespValue; end: number } | undefined {
  const lineEnd = buffer.indexOf('\r\n', offset)
  if (lineEnd === -1) return undefined
  const type = String.fromCharCode(buffer[offset] ?? 0)
  const line = buffer.toString('utf8', offset + 1, lineEnd)
  const next = lineEnd + 2
  switch (type) {
    case '+':
      return { value: line, end: next }
    case '-':
      return { value: new Error(line), end: next }
    case ':':
      return { value: Number(line), end: next }
    case '$': {
      const length = Number(line)
      if (length < 0) return { value: null, end: next }
      if (buffer.length < next + length + 2) return undefined
      return { value: buffer.toString('utf8', next, next + length), end: next + length + 2 }
    }
    case '*': {
      const count = Number(line)
      if (count < 0) return { value: null, end: next }
      const items: RespValue[] = []
      let at = next
      for (let i = 0; i < count; i++) {
        const item = parseResp(buffer, at)
        if (item === undefined) return undefined
        items.push(item.value)
        at = item.end
      }
      return { value: items, end: at }
    }
    default:
      throw new Error(`unexpected RESP type ${JSON.stringify(type)}`)
  }
}

/**
 * Sends one command on a fresh connection and resolves with the reply (a Redis
 * error reply resolves as an `Error` value; connection problems reject).
 */
export function rawCommand(port: number, args: readonly string[], host = HOST, timeoutMs = 2_000): Promise<RespValue> {
  return new Promise((resolve, reject) => {
    const socket = createConnection({ host, port })
    let data = Buffer.alloc(0)
    const timer = setTimeout(() => {
      socket.destroy()
      reject(new Error(`no reply from ${host}:${port} within ${timeoutMs} ms`))
    }, timeoutMs)
    const finish = (error: Error | undefined, value?: RespValue) => {
      clearTimeout(timer)
      socket.destroy()
      if (error) reject(error)
      else resolve(value ?? null)
    }
    socket.once('error', (error) => finish(error))
    socket.on('data', (chunk) => {
      data = Buffer.concat([data, chunk])
      try {
        const parsed = parseResp(data, 0)
        if (parsed !== undefined) finish(undefined, parsed.value)
      } catch (error) {
        finish(error as Error)
      }
    })
    socket.once('connect', () => {
      let command = `*${args.length}\r\n`
      for (const arg of args) command += `$${Buffer.byteLength(arg)}\r\n${arg}\r\n`
      socket.write(command)
    })
  })
}

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

// ---------------------------------------------------------------------------
// redis-server processes
// ---------------------------------------------------------------------------

/** `true` when a `redis-server` binary can be run. */
export function hasRedisServer(): boolean {
  const probe = spawnSync('redis-server', ['--version'], { stdio: 'ignore' })
  return probe.error === undefined && probe.status === 0
}

class AddressInUseError extends Error {}

interface Spawned {
  child: ChildProcess
  output: () => string
  exited: Promise<void>
}

/** Spawns `redis-server` and resolves once it answers PING with PONG. */
async function spawnRedis(port: number, dir: string, extraArgs: readonly string[]): Promise<Spawned> {
  installCleanup()
  const args = [
    '--port', String(port),
    '--bind', HOST,
    '--dir', dir,
    '--save', '',
    '--appendonly', 'no',
    '--daemonize', 'no',
    '--logfile', '',
    '--protected-mode', 'no',
    ...extraArgs,
  ]
  const child = spawn('redis-server', args, { stdio: ['ignore', 'pipe', 'pipe'] })
  liveChildren.add(child)
  let output = ''
  child.stdout?.on('data', (chunk: Buffer) => {
    if (output.length < 64_000) output += chunk.toString()
  })
  child.stderr?.on('data', (chunk: Buffer) => {
    if (output.length < 64_000) output += chunk.toString()
  })
  let hasExited = false
  const exited = new Promise<void>((resolve) => {
    child.once('exit', () => {
      hasExited = true
      liveChildren.delete(child)
      resolve()
    })
    child.once('error', () => {
      hasExited = true
      liveChildren.delete(child)
      resolve()
    })
  })
  const deadline = Date.now() + START_TIMEOUT_MS
  for (;;) {
    if (hasExited) {
      if (/address already in use/i.test(output)) throw new AddressInUseError(output)
      throw new Error(`redis-server on port ${port} exited during startup:\n${output}`)
    }
    try {
      const reply = await rawCommand(port, ['PING'], HOST, 500)
      if (reply === 'PONG') break
      // -LOADING while an AOF is replayed: keep waiting.
    } catch {
      // not listening yet
    }
    if (Date.now() > deadline) {
      child.kill('SIGKILL')
      throw new Error(`redis-server on port ${port} did not answer PING within ${START_TIMEOUT_MS} ms:\n${output}`)
    }
    await sleep(20)
  }
  return { child, output: () => output, exited }
}

async function terminate(spawned: Spawned | undefined, signal: NodeJS.Signals): Promise<void> {
  if (spawned === undefined || spawned.child.exitCode !== null || spawned.child.signalCode !== null) return
  spawned.child.kill(signal)
  const timer = setTimeout(() => spawned.child.kill('SIGKILL'), 5_000)
  await spawned.exited
  clearTimeout(timer)
}

export interface StartRedisServerOptions {
  /**
   * `'none'` (default): `--save '' --appendonly no`, so `restart()` comes back empty.
   * `'aof'`: `--appendonly yes --appendfsync always`, so every acknowledged write
   * survives `kill()` + `restart()`.
   */
  persistence?: 'none' | 'aof'
  /** Extra `redis-server` arguments, appended last. */
  args?: readonly string[]
}

export interface RedisServer {
  readonly host: string
  readonly port: number
  /** `redis://127.0.0.1:<port>` */
  readonly url: string
  /** The server's own temp dir (`--dir`). */
  readonly dir: string
  /** `true` while the process is running. */
  readonly running: boolean
  /** Graceful stop (SIGTERM) and removal of the temp dir. Idempotent. */
  stop(): Promise<void>
  /** SIGKILL: the server dies at once, clients see a dropped connection. The dir is kept. */
  kill(): Promise<void>
  /**
   * Starts the server again on the same port (killing it first if it still runs).
   * Data is fresh and empty with `persistence: 'none'`, kept with `'aof'`.
   */
  restart(): Promise<void>
}

/** Starts a throwaway `redis-server` on a free loopback port. */
export async function startRedisServer(options: StartRedisServerOptions = {}): Promise<RedisServer> {
  const persistence = options.persistence ?? 'none'
  const extra = [
    ...(persistence === 'aof' ? ['--appendonly', 'yes', '--appendfsync', 'always'] : []),
    ...(options.args ?? []),
  ]
  const dir = makeTempDir('redis')
  let spawned: Spawned | undefined
  let port = 0
  for (let attempt = 0; ; attempt++) {
    port = await freePort()
    try {
      spawned = await spawnRedis(port, dir, extra)
      break
    } catch (error) {
      if (!(error instanceof AddressInUseError) || attempt >= 5) {
        removeTempDir(dir)
        throw error
      }
    }
  }
  let stopped = false
  const server: RedisServer = {
    host: HOST,
    port,
    url: `redis://${HOST}:${port}`,
    dir,
    get running() {
      return spawned !== undefined && spawned.child.exitCode === null && spawned.child.signalCode === null
    },
    async stop() {
      if (stopped) return
      stopped = true
      await terminate(spawned, 'SIGTERM')
      removeTempDir(dir)
    },
    async kill() {
      await terminate(spawned, 'SIGKILL')
    },
    async restart() {
      if (stopped) throw new Error('restart() after stop()')
      await terminate(spawned, 'SIGKILL')
      if (persistence === 'none') {
        // Nothing should be on disk, but make "fresh and empty" certain.
        rmSync(dir, { recursive: true, force: true })
        mkdirSync(dir, { recursive: true })
      }
      // The port was ours a moment ago; another process may grab it in between.
      for (let attempt = 0; ; attempt++) {
        try {
          spawned = await spawnRedis(port, dir, extra)
          return
        } catch (error) {
          if (!(error instanceof AddressInUseError) || attempt >= 20) throw error
          await sleep(100)
        }
      }
    },
  }
  return server
}

// ---------------------------------------------------------------------------
// Redis Cluster
// ---------------------------------------------------------------------------

export interface RedisClusterServer {
  /** The masters, for `new Cluster(nodes)`. */
  readonly nodes: { host: string; port: number }[]
  /** Stops every node and removes their temp dirs. Idempotent. */
  stop(): Promise<void>
}

/** Starts a 3-master Redis Cluster (no replicas) on free loopback ports. */
export async function startRedisCluster(): Promise<RedisClusterServer> {
  const nodes: { host: string; port: number; dir: string; spawned: Spawned }[] = []
  const stop = async () => {
    const all = nodes.splice(0)
    await Promise.all(all.map((node) => terminate(node.spawned, 'SIGKILL')))
    for (const node of all) removeTempDir(node.dir)
  }
  try {
    for (let i = 0; i < 3; i++) {
      const dir = makeTempDir(`cluster${i}`)
      for (let attempt = 0; ; attempt++) {
        const port = await freePort()
        const busPort = await freePort()
        if (busPort === port) continue
        try {
          const spawned = await spawnRedis(port, dir, [
            '--cluster-enabled', 'yes',
            '--cluster-config-file', join(dir, 'nodes.conf'),
            '--cluster-port', String(busPort),
            '--cluster-node-timeout', '5000',
          ])
          nodes.push({ host: HOST, port, dir, spawned })
          break
        } catch (error) {
          if (!(error instanceof AddressInUseError) || attempt >= 5) {
            removeTempDir(dir)
            throw error
          }
        }
      }
    }
    const create = spawnSync(
      'redis-cli',
      ['--cluster', 'create', ...nodes.map((n) => `${n.host}:${n.port}`), '--cluster-replicas', '0', '--cluster-yes'],
      { encoding: 'utf8', timeout: 30_000 },
    )
    if (create.error !== undefined || create.status !== 0) {
      throw new Error(`redis-cli --cluster create failed: ${create.error?.message ?? ''}\n${create.stdout}\n${create.stderr}`)
    }
    const deadline = Date.now() + START_TIMEOUT_MS
    for (;;) {
      const infos = await Promise.all(nodes.map((n) => rawCommand(n.port, ['CLUSTER', 'INFO']).catch(() => '')))
      if (infos.every((info) => typeof info === 'string' && info.includes('cluster_state:ok'))) break
      if (Date.now() > deadline) throw new Error(`cluster did not reach cluster_state:ok:\n${infos.join('\n')}`)
      await sleep(50)
    }
  } catch (error) {
    await stop()
    throw error
  }
  return { nodes: nodes.map((n) => ({ host: n.host, port: n.port })), stop }
}

// ---------------------------------------------------------------------------
// Which suites can run
// ---------------------------------------------------------------------------

export interface RedisAvailability {
  /** `redis-server` is on PATH, so suites can launch their own servers and clusters. */
  canLaunch: boolean
  /** `REDIS_URL`, when set: standalone suites use it instead of launching. */
  externalUrl: string | undefined
  /** Why launching is impossible, when it is. */
  reason: string | undefined
}

let cachedAvailability: RedisAvailability | undefined

/**
 * Whether Redis suites can run here. Throws under `CI=true` when `redis-server`
 * is missing, so a CI run can never pass by skipping every Redis test.
 */
export function redisAvailability(): RedisAvailability {
  if (cachedAvailability !== undefined) return cachedAvailability
  const externalUrl = process.env.REDIS_URL || undefined
  const canLaunch = hasRedisServer()
  const reason = canLaunch ? undefined : '`redis-server` is not on PATH'
  if (!canLaunch && process.env.CI === 'true') {
    throw new Error(`Redis tests cannot run under CI=true: ${reason}. Install redis-server (Redis >= 7).`)
  }
  cachedAvailability = { canLaunch, externalUrl, reason }
  return cachedAvailability
}

/**
 * What a Redis suite needs:
 * - `'standalone'`: any standalone server (`REDIS_URL` or a launched one);
 * - `'controlled'`: a launched server the suite may kill and restart (skipped when
 *   `REDIS_URL` is set: the run is meant to use that server, which it cannot control);
 * - `'cluster'`: a launched 3-master cluster;
 * - `'launch'`: just the `redis-server` binary (the launchers' own tests).
 */
export type RedisNeed = 'standalone' | 'controlled' | 'cluster' | 'launch'

/** `undefined` when a suite with this need can run, else the visible reason it is skipped. */
export function redisSkipReason(need: RedisNeed): string | undefined {
  const { canLaunch, externalUrl, reason } = redisAvailability()
  if (need === 'standalone') return externalUrl !== undefined || canLaunch ? undefined : reason
  if (need === 'controlled' && externalUrl !== undefined) {
    return 'REDIS_URL is set, and these tests kill and restart the server, which they cannot do to an external one'
  }
  return canLaunch ? undefined : reason
}

/** `describe`, or `describe.skip` plus a `console.warn` saying why. */
export function describeRedis(need: RedisNeed, name: string, fn: () => void): void {
  const skip = redisSkipReason(need)
  if (skip === undefined) {
    describe(name, fn)
  } else {
    console.warn(`[redis] skipping "${name}": ${skip}`)
    describe.skip(`${name} (skipped: ${skip})`, fn)
  }
}

/** A standalone server for a suite: `REDIS_URL` when set, else a launched one. */
export interface StandaloneRedis {
  readonly url: string
  /** `undefined` for `REDIS_URL`. */
  readonly server: RedisServer | undefined
  stop(): Promise<void>
}

export async function useStandaloneRedis(options: StartRedisServerOptions = {}): Promise<StandaloneRedis> {
  const { externalUrl } = redisAvailability()
  if (externalUrl !== undefined) return { url: externalUrl, server: undefined, stop: async () => {} }
  const server = await startRedisServer(options)
  return { url: server.url, server, stop: () => server.stop() }
}

// ---------------------------------------------------------------------------
// A suite's server: started in beforeAll, stopped in afterAll
// ---------------------------------------------------------------------------

/**
 * `startRedisServer(options)` for the enclosing `describe`: started in `beforeAll`,
 * stopped in `afterAll`. The object returned stands for that server (read it in
 * tests and hooks, once `beforeAll` has run); `kill()` and `restart()` act on it.
 */
export function useRedisServer(options: StartRedisServerOptions = {}): RedisServer {
  const current = suiteResource('useRedisServer()', () => startRedisServer(options), (server) => server.stop())
  return {
    get host() {
      return current().host
    },
    get port() {
      return current().port
    },
    get url() {
      return current().url
    },
    get dir() {
      return current().dir
    },
    get running() {
      return current().running
    },
    stop: () => current().stop(),
    kill: () => current().kill(),
    restart: () => current().restart(),
  }
}

/** What `useStandaloneRedisClient()` gives a suite (read it in tests and hooks, once `beforeAll` has run). */
export interface StandaloneRedisSuite {
  /** `REDIS_URL`, or the URL of the launched server. */
  readonly url: string
  /** An ioredis client on it, quit in `afterAll`. */
  readonly client: Redis
  /** Push every key prefix the suite's stores use: their keys are deleted in `afterAll`, so a shared `REDIS_URL` server is left clean. */
  readonly prefixes: string[]
}

/**
 * `useStandaloneRedis()` for the enclosing `describe`, with one ioredis client on it:
 * both made in `beforeAll`; in `afterAll` the keys under `prefixes` are deleted, the
 * client quits and a launched server stops.
 */
export function useStandaloneRedisClient(): StandaloneRedisSuite {
  const prefixes: string[] = []
  const current = suiteResource(
    'useStandaloneRedisClient()',
    async () => {
      const redis = await useStandaloneRedis()
      return { redis, client: new Redis(redis.url) }
    },
    async ({ redis, client }) => {
      await deleteByPrefix(client, prefixes)
      await client.quit()
      await redis.stop()
    },
  )
  return {
    get url() {
      return current().redis.url
    },
    get client() {
      return current().client
    },
    prefixes,
  }
}

/** What `useRedisCluster()` gives a suite (read it in tests and hooks, once `beforeAll` has run). */
export interface RedisClusterSuite {
  /** The masters, for another `new Cluster(nodes)`. */
  readonly nodes: { host: string; port: number }[]
  /** An ioredis `Cluster` client on them, quit in `afterAll`. */
  readonly client: Cluster
}

/** `startRedisCluster()` for the enclosing `describe`, with a `Cluster` client on it: made in `beforeAll`, stopped in `afterAll`. */
export function useRedisCluster(): RedisClusterSuite {
  const current = suiteResource(
    'useRedisCluster()',
    async () => {
      const cluster = await startRedisCluster()
      return { cluster, client: new Cluster(cluster.nodes) }
    },
    async ({ cluster, client }) => {
      await client.quit()
      await cluster.stop()
    },
  )
  return {
    get nodes() {
      return current().cluster.nodes
    },
    get client() {
      return current().client
    },
  }
}

// ---------------------------------------------------------------------------
// Small helpers for Redis suites
// ---------------------------------------------------------------------------

let prefixCounter = 0

/** A key prefix no other store in this run (or an earlier run on a shared server) uses. */
export function uniquePrefix(label = 'test'): string {
  return `pl-${label}-${process.pid}-${Date.now().toString(36)}-${++prefixCounter}`
}

/** Escapes Redis glob metacharacters, for `SCAN … MATCH`. */
export function globEscape(text: string): string {
  return text.replace(/[*?[\]\\]/g, '\\$&')
}

/** Every key of `client` (all masters of a Cluster) matching `pattern`, via SCAN. */
export async function scanKeys(client: Redis | Cluster, pattern: string): Promise<string[]> {
  const nodes = client.isCluster ? (client as Cluster).nodes('master') : [client as Redis]
  const keys: string[] = []
  for (const node of nodes) {
    let cursor = '0'
    do {
      const [next, batch] = await node.scan(cursor, 'MATCH', pattern, 'COUNT', 1000)
      cursor = next
      keys.push(...batch)
    } while (cursor !== '0')
  }
  return keys
}

/** Deletes every key under the given prefixes, so a shared `REDIS_URL` server is left clean. */
export async function deleteByPrefix(client: Redis | Cluster, prefixes: readonly string[]): Promise<void> {
  for (const prefix of prefixes) {
    for (const key of await scanKeys(client, `${globEscape(prefix)}:*`)) await client.unlink(key)
  }
}
