/**
 * A master with replicas, for the durability tests: replicas are plain
 * `redis-server --replicaof` processes (started by `startRedisServer`), and a
 * replica can be held back (SIGSTOP) to reproduce a master that acknowledged
 * writes its replica never received.
 */
import { rawCommand, startRedisServer, type RedisServer, type StartRedisServerOptions } from './redis-server.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

/** `INFO <section>` of a server as `field → value`. */
export async function info(port: number, section: string): Promise<Map<string, string>> {
  const reply = await rawCommand(port, ['INFO', section])
  const fields = new Map<string, string>()
  if (typeof reply !== 'string') return fields
  for (const line of reply.split('\r\n')) {
    const at = line.indexOf(':')
    if (at > 0) fields.set(line.slice(0, at), line.slice(at + 1))
  }
  return fields
}

/** The redis-server process id (to SIGSTOP / SIGCONT it). */
export async function pidOf(port: number): Promise<number> {
  return Number((await info(port, 'server')).get('process_id'))
}

/** Resolves once `check()` is true, or rejects after `withinMs` naming `what`. */
export async function until(what: string, check: () => Promise<boolean>, withinMs = 15_000): Promise<void> {
  const deadline = Date.now() + withinMs
  for (;;) {
    if (await check().catch(() => false)) return
    if (Date.now() > deadline) throw new Error(`timed out waiting for ${what}`)
    await sleep(50)
  }
}

/** Starts a replica of `master` and resolves once its link is up and in sync. */
export async function startReplica(master: RedisServer, options: StartRedisServerOptions = {}): Promise<RedisServer> {
  const replica = await startRedisServer({ ...options, args: ['--replicaof', master.host, String(master.port), ...(options.args ?? [])] })
  await until(`replica ${replica.port} to sync with ${master.port}`, async () => {
    return (await info(replica.port, 'replication')).get('master_link_status') === 'up'
  })
  return replica
}

/**
 * Holds a replica back from its master: stops the replica process (SIGSTOP) and
 * has the master drop its replication link (`CLIENT KILL TYPE replica`), so
 * writes the master acknowledges from now on exist on the master alone (a stopped
 * replica would otherwise still find them in its socket buffer when resumed).
 * Writes acknowledged before the call are on the replica first.
 * Returns the function that resumes the replica (SIGCONT).
 */
export async function holdBack(replica: RedisServer, master: RedisServer): Promise<() => void> {
  // First let the replica catch up: what the master acknowledged before this call must be on both.
  const target = Number((await info(master.port, 'replication')).get('master_repl_offset'))
  await until(`replica ${replica.port} to catch up with ${master.port}`, async () => {
    return Number((await info(replica.port, 'replication')).get('slave_repl_offset')) >= target
  })
  const pid = await pidOf(replica.port)
  process.kill(pid, 'SIGSTOP')
  await rawCommand(master.port, ['CLIENT', 'KILL', 'TYPE', 'replica'])
  return () => {
    try {
      process.kill(pid, 'SIGCONT')
    } catch {
      // already gone
    }
  }
}

/** Makes a replica a master, as a failover would. */
export async function promote(replica: RedisServer): Promise<void> {
  await rawCommand(replica.port, ['REPLICAOF', 'NO', 'ONE'])
  await until(`${replica.port} to become a master`, async () => (await info(replica.port, 'replication')).get('role') === 'master')
}
