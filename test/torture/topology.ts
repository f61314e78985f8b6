/**
 * The Redis set-ups of the torture suite: a standalone server (optionally with
 * AOF), and a 3-master + 3-replica Cluster whose nodes can be killed, restarted,
 * held back and resharded.
 */
import { spawnSync } from 'node:child_process'
import { rawCommand, startRedisServer, type RedisServer } from '../helpers/redis-server.js'
import { info, until } from '../helpers/redis-replication.js'

export interface ClusterNode {
  server: RedisServer
  id: string
}

export interface TortureCluster {
  nodes: ClusterNode[]
  /** Nodes that are masters right now (asked from the nodes that answer). */
  masters(): Promise<ClusterNode[]>
  /** The replica(s) of a master. */
  replicasOf(master: ClusterNode): Promise<ClusterNode[]>
  /** Waits until every live node reports `cluster_state:ok` and every slot has a live master. */
  healthy(withinMs?: number): Promise<void>
  stop(): Promise<void>
}

function redisCli(args: readonly string[]): string {
  const run = spawnSync('redis-cli', args, { encoding: 'utf8', timeout: 60_000 })
  if (run.error !== undefined || run.status !== 0) {
    throw new Error(`redis-cli ${args.join(' ')} failed: ${run.error?.message ?? ''}\n${run.stdout}\n${run.stderr}`)
  }
  return run.stdout
}

export { redisCli }

export async function startTortureCluster(): Promise<TortureCluster> {
  const servers: RedisServer[] = []
  try {
    for (let i = 0; i < 6; i++) {
      // AOF keeps the node's dir (and nodes.conf) across kill + restart.
      servers.push(
        await startRedisServer({
          persistence: 'aof',
          args: ['--cluster-enabled', 'yes', '--cluster-config-file', 'nodes.conf', '--cluster-node-timeout', '1000'],
        }),
      )
    }
    redisCli(['--cluster', 'create', ...servers.map((s) => `${s.host}:${s.port}`), '--cluster-replicas', '1', '--cluster-yes'])
  } catch (error) {
    await Promise.all(servers.map((s) => s.stop()))
    throw error
  }
  const nodes: ClusterNode[] = []
  for (const server of servers) nodes.push({ server, id: String(await rawCommand(server.port, ['CLUSTER', 'MYID'])) })

  const roleOf = async (node: ClusterNode) => (node.server.running ? (await info(node.server.port, 'replication')).get('role') : undefined)
  const cluster: TortureCluster = {
    nodes,
    async masters() {
      const roles = await Promise.all(nodes.map((n) => roleOf(n).catch(() => undefined)))
      return nodes.filter((_n, i) => roles[i] === 'master')
    },
    async replicasOf(master) {
      const replicas: ClusterNode[] = []
      for (const node of nodes) {
        if (!node.server.running) continue
        const fields = await info(node.server.port, 'replication').catch(() => new Map<string, string>())
        if (fields.get('role') === 'slave' && fields.get('master_port') === String(master.server.port)) replicas.push(node)
      }
      return replicas
    },
    async healthy(withinMs = 30_000) {
      await until(
        'the cluster to be healthy',
        async () => {
          const live = nodes.filter((n) => n.server.running)
          const infos = await Promise.all(live.map((n) => rawCommand(n.server.port, ['CLUSTER', 'INFO'])))
          if (!infos.every((i) => typeof i === 'string' && i.includes('cluster_state:ok'))) return false
          // Every master has an in-sync replica again.
          for (const master of await cluster.masters()) {
            const replicas = await cluster.replicasOf(master)
            const linked = await Promise.all(replicas.map(async (r) => (await info(r.server.port, 'replication')).get('master_link_status') === 'up'))
            if (!linked.includes(true)) return false
          }
          return true
        },
        withinMs,
      )
    },
    async stop() {
      await Promise.all(nodes.map((n) => n.server.stop()))
    },
  }
  await cluster.healthy()
  return cluster
}
