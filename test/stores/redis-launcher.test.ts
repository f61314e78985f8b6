import { afterAll, describe, expect, it } from 'vitest'
import { spawnSync } from 'node:child_process'
import { Cluster, Redis } from 'ioredis'
import { existsSync } from 'node:fs'
import { describeRedis, rawCommand, startRedisCluster, startRedisServer, type RedisServer } from '../helpers/redis-server.js'

describeRedis('launch', 'startRedisServer (launcher smoke test)', () => {
  let server: RedisServer | undefined
  afterAll(() => server?.stop())

  it('starts on a free loopback port, kills, restarts empty on the same port, stops and cleans up', async () => {
    server = await startRedisServer()
    expect(server.url).toBe(`redis://127.0.0.1:${server.port}`)
    expect(await rawCommand(server.port, ['SET', 'k', 'v'])).toBe('OK')
    const config = await rawCommand(server.port, ['CONFIG', 'GET', 'appendonly'])
    expect(config).toEqual(['appendonly', 'no'])

    await server.kill()
    expect(server.running).toBe(false)
    await expect(rawCommand(server.port, ['PING'])).rejects.toThrow()

    await server.restart()
    expect(server.running).toBe(true)
    expect(await rawCommand(server.port, ['GET', 'k'])).toBe(null)

    await server.stop()
    expect(server.running).toBe(false)
    expect(existsSync(server.dir)).toBe(false)
  })

  it("with persistence: 'aof', acknowledged writes survive kill + restart", async () => {
    const aof = await startRedisServer({ persistence: 'aof' })
    try {
      const client = new Redis(aof.url, { lazyConnect: true })
      await client.connect()
      await client.rpush('list', 'a', 'b')
      client.disconnect()
      await aof.kill()
      await aof.restart()
      expect(await rawCommand(aof.port, ['LRANGE', 'list', '0', '-1'])).toEqual(['a', 'b'])
    } finally {
      await aof.stop()
    }
  })
})

describeRedis('launch', 'startRedisCluster (launcher smoke test)', () => {
  it('starts 3 masters that serve every slot', async () => {
    const cluster = await startRedisCluster()
    try {
      expect(cluster.nodes).toHaveLength(3)
      const client = new Cluster(cluster.nodes)
      try {
        for (let i = 0; i < 20; i++) await client.set(`key${i}`, String(i))
        const masters = client.nodes('master')
        expect(masters).toHaveLength(3)
        const counts = await Promise.all(masters.map((m) => m.dbsize()))
        expect(counts.reduce((a, b) => a + b, 0)).toBe(20)
        expect(counts.filter((c) => c > 0).length).toBeGreaterThan(1)
      } finally {
        await client.quit()
      }
    } finally {
      await cluster.stop()
    }
  })
})

describe('redisAvailability: which Redis suites run', () => {
  // A fresh process per case, since the answer is computed once per process.
  function probe(env: Record<string, string | undefined>): { status: number | null; stdout: string; stderr: string } {
    const script = `
      const m = await import('./test/helpers/redis-server.ts')
      const needs = ['standalone', 'controlled', 'cluster', 'launch']
      console.log(JSON.stringify(Object.fromEntries(needs.map((n) => [n, m.redisSkipReason(n) ?? null]))))`
    const childEnv: NodeJS.ProcessEnv = { ...process.env }
    for (const [key, value] of Object.entries(env)) {
      if (value === undefined) delete childEnv[key]
      else childEnv[key] = value
    }
    const run = spawnSync(process.execPath, ['--import', 'tsx', '--input-type=module', '-e', script], {
      cwd: new URL('../..', import.meta.url),
      env: childEnv,
      encoding: 'utf8',
      timeout: 20_000,
    })
    return { status: run.status, stdout: run.stdout, stderr: run.stderr }
  }
  const noRedisPath = '/nonexistent-promptline-path'

  it('fails the run under CI=true when redis-server is missing', () => {
    const run = probe({ PATH: noRedisPath, CI: 'true', REDIS_URL: undefined })
    expect(run.status).not.toBe(0)
    expect(run.stderr).toContain('Redis tests cannot run under CI=true')
  })

  it('skips every suite with a reason when redis-server is missing outside CI', () => {
    const run = probe({ PATH: noRedisPath, CI: undefined, REDIS_URL: undefined })
    expect(run.stderr).toBe('')
    const reasons = JSON.parse(run.stdout) as Record<string, string | null>
    for (const reason of Object.values(reasons)) expect(reason).toContain('redis-server')
  })

  it('uses REDIS_URL for standalone suites and skips the ones that kill the server', () => {
    const run = probe({ PATH: noRedisPath, CI: 'true', REDIS_URL: 'redis://127.0.0.1:6379' })
    // Under CI a missing binary still fails: the Cluster suites need it.
    expect(run.status).not.toBe(0)
    const outsideCi = probe({ PATH: noRedisPath, CI: undefined, REDIS_URL: 'redis://127.0.0.1:6379' })
    const reasons = JSON.parse(outsideCi.stdout) as Record<string, string | null>
    expect(reasons.standalone).toBeNull()
    expect(reasons.controlled).toContain('REDIS_URL')
    expect(reasons.cluster).toContain('redis-server')
  })

  it('runs everything when redis-server is on PATH', () => {
    const run = probe({ CI: 'true', REDIS_URL: undefined })
    expect(JSON.parse(run.stdout)).toStrictEqual({ standalone: null, controlled: null, cluster: null, launch: null })
  })
})
