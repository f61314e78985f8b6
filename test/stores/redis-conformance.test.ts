/**
 * The shared StateStore conformance suite against RedisStore on a standalone
 * server (a store per test, each creating its own client from the URL) and on a
 * 3-master Redis Cluster (one shared ioredis `Cluster`), with a unique prefix per
 * created store.
 */
import { afterAll, beforeAll } from 'vitest'
import { Redis } from 'ioredis'
import { RedisStore } from '../../src/stores/redis.js'
import type { StateStore } from '../../src/types.js'
import { describeStoreConformance } from './conformance.js'
import {
  deleteByPrefix,
  describeRedis,
  uniquePrefix,
  useRedisCluster,
  useStandaloneRedis,
  type StandaloneRedis,
} from '../helpers/redis-server.js'

/** Expires every key of the session, as its TTL would. */
async function expireNow(store: StateStore, sessionId: string): Promise<void> {
  const redis = store as RedisStore
  const keys = redis.keys(sessionId)
  for (const key of [keys.messages, keys.meta, keys.idempotency]) await redis.client.call('pexpire', key, 1)
  await new Promise((resolve) => setTimeout(resolve, 20))
}

describeRedis('standalone', 'RedisStore conformance (standalone)', () => {
  let redis: StandaloneRedis
  const prefixes: string[] = []

  beforeAll(async () => {
    redis = await useStandaloneRedis()
  })

  afterAll(async () => {
    if (redis === undefined) return
    if (redis.server === undefined) {
      // REDIS_URL: leave the shared server as we found it.
      const client = new Redis(redis.url)
      await deleteByPrefix(client, prefixes)
      await client.quit()
    }
    await redis.stop()
  })

  describeStoreConformance({
    name: 'RedisStore (standalone, URL)',
    honoursSignal: true,
    loadFirst: true,
    summaries: true,
    expire: expireNow,
    create: async (options) => {
      const prefix = uniquePrefix()
      prefixes.push(prefix)
      return new RedisStore(redis.url, { prefix, ...options })
    },
  })
})

describeRedis('cluster', 'RedisStore conformance (Cluster)', () => {
  const cluster = useRedisCluster()

  describeStoreConformance({
    name: 'RedisStore (3-master Cluster)',
    honoursSignal: true,
    loadFirst: true,
    summaries: true,
    expire: expireNow,
    create: async (options) => new RedisStore(cluster.client, { prefix: uniquePrefix(), ...options }),
  })
})
