/**
 * RedisStore regressions from "Reliability on Redis" (issue 10), each against
 * real redis-server processes: durability with `wait` on a master + replica
 * (including a held-back replica and a failover), writes refused up front when
 * Redis is out of memory, corrupt meta values reported before any write,
 * signals and `close()` that settle, and errors that say which Redis and what happened.
 */
import { afterAll, beforeAll, describe, expect, it } from 'vitest'
import { Redis } from 'ioredis'
import { RedisStore, RedisStoreError } from '../../src/stores/redis.js'
import { Pipeline } from '../../src/pipeline.js'
import { MockProvider } from '../../src/providers/mock.js'
import { StateCorruptError, StateSaveError, StoreClosedError } from '../../src/errors.js'
import { describeRedis, freePort, startRedisServer, uniquePrefix, type RedisServer } from '../helpers/redis-server.js'
import { holdBack, promote, startReplica } from '../helpers/redis-replication.js'
import { rejection } from '../helpers/async.js'
import { assistant, user } from '../helpers/messages.js'

describe('RedisStore options (no server needed)', () => {
  const url = 'redis://127.0.0.1:1'
  it.each([
    [{ wiat: { replicas: 1, timeoutMs: 100 } }, /Unknown option `options.wiat`; did you mean `wait`\?/],
    [{ wait: { replicas: 1 } }, /`wait.timeoutMs`/],
    [{ wait: { replicas: 0, timeoutMs: 100 } }, /`wait.replicas` to be a positive integer/],
    [{ wait: { replicas: 1, timeoutMs: 0 } }, /`wait.timeoutMs`/],
    [{ wait: { replicas: 1, timeoutMs: 100, timeout: 5 } }, /Unknown option `wait.timeout`/],
    [{ wait: 1 }, /Expected `wait` to be an object/],
    [{ wait: null }, /Expected `wait` to be an object/],
  ])('rejects %j', (options, message) => {
    expect(() => new RedisStore(url, options as never)).toThrow(TypeError)
    expect(() => new RedisStore(url, options as never)).toThrow(message)
  })

  it.each([
    ['load', (store: RedisStore) => store.load('s', { lats: 2 } as never), /`options.lats`; did you mean `last`/],
    ['load', (store: RedisStore) => store.load('s', { signal: 'x' } as never), /Expected `signal` to be an AbortSignal/],
    ['append', (store: RedisStore) => store.append('s', [user('a')], { idempotencykey: 'k' } as never), /did you mean `idempotencyKey`/],
    ['append', (store: RedisStore) => store.append('s', [user('a')], { signal: {} } as never), /`signal`/],
  ])('%s rejects bad options with a TypeError', async (_name, call, message) => {
    const store = new RedisStore(url)
    const error = await rejection(call(store))
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toMatch(message)
    await store.close()
  })
})

describeRedis('launch', 'RedisStore when Redis is unreachable', () => {
  it('close() settles promptly after a failed command, and so does pipe.shutdown()', async () => {
    const port = await freePort()
    const store = new RedisStore(`redis://127.0.0.1:${port}`)
    const pipe = new Pipeline({ provider: new MockProvider(), store, timeoutMs: 3_000 })
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toThrow(/ECONNREFUSED/)
    const started = Date.now()
    await pipe.shutdown()
    await store.close()
    expect(Date.now() - started).toBeLessThan(2_000)
    await expect(store.load('s')).rejects.toThrow(StoreClosedError)
  })

  it('close() rejects calls still waiting for a connection with StoreClosedError', async () => {
    const port = await freePort()
    const store = new RedisStore(`redis://127.0.0.1:${port}`)
    await store.load('s').catch(() => undefined)
    const pending = rejection(store.load('s'))
    await store.close()
    const error = await pending
    // Either the reconnection attempt failed first, or close() ended the wait.
    expect(error instanceof StoreClosedError || error instanceof RedisStoreError).toBe(true)
  })

  it('names the Redis (host:port, never the password) and the cause of a refused connection', async () => {
    const port = await freePort()
    const store = new RedisStore(`redis://app:s3cret@127.0.0.1:${port}`)
    try {
      const error = await rejection(store.append('s', [user('a')]))
      expect(error).toBeInstanceOf(RedisStoreError)
      const failure = error as RedisStoreError
      expect(failure.message).toBe(
        `Redis at 127.0.0.1:${port} failed \`append\`: connection refused (ECONNREFUSED); the client keeps reconnecting`,
      )
      expect(failure.code).toBe('ECONNREFUSED')
      expect(failure.address).toBe(`127.0.0.1:${port}`)
      expect(failure.operation).toBe('append')
      expect(failure.message).not.toContain('s3cret')
      expect(failure.cause).toBeInstanceOf(Error)
    } finally {
      await store.close()
    }
  })
})

describeRedis('controlled', 'RedisStore on a server the tests control', () => {
  let server: RedisServer
  let admin: Redis
  beforeAll(async () => {
    server = await startRedisServer()
    admin = new Redis(server.url)
  })
  afterAll(async () => {
    await admin?.quit()
    await server?.stop()
  })

  describe('corrupt meta values', () => {
    it('rejects append, load and fork of a session whose version is not an integer, writing nothing', async () => {
      const store = new RedisStore(server.url, { prefix: uniquePrefix('meta') })
      try {
        await store.append('s', [user('q'), assistant('a')], { idempotencyKey: 'first' })
        const keys = store.keys('s')
        await admin.hset(keys.meta, 'v', 'x')
        for (const call of [
          () => store.append('s', [user('again')], { idempotencyKey: 'second' }),
          () => store.append('s', [user('again')]),
          () => store.load('s', { last: 5 }),
        ]) {
          const error = await rejection(call())
          expect(error).toBeInstanceOf(StateCorruptError)
          expect((error as Error).message).toMatch(/meta key .* holds version "x", expected an integer/)
        }
        expect(await admin.llen(keys.messages)).toBe(2)
        expect(await admin.zrange(keys.idempotency, 0, -1)).toStrictEqual(['first'])
        expect(await admin.hget(keys.meta, 'v')).toBe('x')
        // save() repairs it, with a fresh version.
        await store.save('s', [user('repaired')])
        expect(await admin.hget(keys.meta, 'v')).toBe('1')
        expect(await store.append('s', [assistant('ok')])).toBe(2)
      } finally {
        await store.close()
      }
    })

    it.each(['1.5', '', ' 1', '99999999999999999999', '1e3'])('treats version %j as corrupt', async (version) => {
      const store = new RedisStore(server.url, { prefix: uniquePrefix('meta') })
      try {
        await store.append('s', [user('q')])
        await admin.hset(store.keys('s').meta, 'v', version)
        await expect(store.append('s', [user('x')])).rejects.toThrow(StateCorruptError)
        expect(await admin.llen(store.keys('s').messages)).toBe(1)
      } finally {
        await store.close()
      }
    })

    it('fails the turn once, without retrying, and stores it zero times (not four)', async () => {
      const store = new RedisStore(server.url, { prefix: uniquePrefix('meta') })
      const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: { retries: 3, minTimeout: 1 } })
      const retries: unknown[] = []
      pipe.on('state:save-retry', (event) => retries.push(event))
      try {
        await pipe.execute('s', 'user', 'first')
        // The load has run; now the meta key goes bad before the save.
        pipe.use(
          async function corruptMeta(_ctx, next) {
            await admin.hset(store.keys('s').meta, 'v', 'x')
            await next()
          },
          { before: 'provider-call' },
        )
        const error = await rejection(pipe.execute('s', 'user', 'second'))
        expect(error).toBeInstanceOf(StateSaveError)
        expect((error as StateSaveError).cause).toBeInstanceOf(StateCorruptError)
        expect(retries).toStrictEqual([])
        expect(await admin.llen(store.keys('s').messages)).toBe(2)
      } finally {
        await pipe.shutdown()
        await store.close()
      }
    })
  })

  describe('signals', () => {
    it('stops waiting when the signal aborts (writes paused), and the append may still land', async () => {
      const store = new RedisStore(server.url, { prefix: uniquePrefix('signal') })
      try {
        await store.load('warm-up')
        await admin.call('client', 'pause', '1500', 'ALL')
        const reason = new Error('deadline')
        const controller = new AbortController()
        const started = Date.now()
        const load = rejection(store.load('s', { signal: controller.signal }))
        const append = rejection(store.append('s', [user('late')], { idempotencyKey: 'k', signal: controller.signal }))
        setTimeout(() => controller.abort(reason), 100)
        expect(await load).toBe(reason)
        expect(await append).toBe(reason)
        expect(Date.now() - started).toBeLessThan(1_000)
        // Once the pause ends, the append sent before the abort runs (documented: appends are idempotent).
        expect(await store.append('s', [user('late')], { idempotencyKey: 'k' })).toBe(1)
        expect(await store.load('s')).toStrictEqual([user('late')])
      } finally {
        await admin.call('client', 'unpause')
        await store.close()
      }
    })

    it('rejects at once with an already aborted signal, sending nothing', async () => {
      const store = new RedisStore(server.url, { prefix: uniquePrefix('signal') })
      try {
        const signal = AbortSignal.abort(new Error('gone'))
        await expect(store.append('s', [user('a')], { signal })).rejects.toThrow('gone')
        await expect(store.load('s', { signal })).rejects.toThrow('gone')
        expect(await store.length('s')).toBe(0)
      } finally {
        await store.close()
      }
    })
  })

  describe('errors that say where and what', () => {
    it('reports a timeout with the address', async () => {
      const client = new Redis(server.url, { commandTimeout: 200, maxRetriesPerRequest: 1 })
      const store = new RedisStore(client, { prefix: uniquePrefix('timeout') })
      try {
        await store.load('warm-up')
        await admin.call('client', 'pause', '800', 'ALL')
        const error = (await rejection(store.load('s'))) as RedisStoreError
        expect(error).toBeInstanceOf(RedisStoreError)
        expect(error.code).toBe('TIMEOUT')
        expect(error.message).toBe(`Redis at 127.0.0.1:${server.port} failed \`load\`: no reply within the client's \`commandTimeout\` (timeout)`)
      } finally {
        await admin.call('client', 'unpause')
        await store.close()
        client.disconnect()
      }
    })
  })
})

describeRedis('controlled', 'RedisStore when Redis is out of memory (noeviction)', () => {
  let server: RedisServer
  let admin: Redis
  beforeAll(async () => {
    server = await startRedisServer({ args: ['--maxmemory-policy', 'noeviction'] })
    admin = new Redis(server.url)
  })
  afterAll(async () => {
    await admin?.quit()
    await server?.stop()
  })

  it('refuses save, fork and append up front with an error naming out-of-memory; loads still work', async () => {
    const store = new RedisStore(server.url, { prefix: uniquePrefix('oom') })
    try {
      await store.append('small', [user('q'), assistant('a')])
      const used = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
      await admin.config('SET', 'maxmemory', String(used + 256 * 1024))
      const big = [user('x'.repeat(1024 * 1024))]
      for (const call of [
        () => store.save('big', big),
        () => store.save('big', big),
        () => store.fork('small', 'copy'),
        () => store.append('small', big),
      ]) {
        // The first 1 MB write brings Redis over the limit (a write is admitted while below
        // it); from then on every write is refused before it runs.
        await call().catch(() => undefined)
      }
      const over = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
      for (const [name, call] of [
        ['save', () => store.save('big2', big)],
        ['fork', () => store.fork('small', 'copy2')],
        ['append', () => store.append('small', [user('more')])],
      ] as const) {
        const error = (await rejection(call())) as RedisStoreError
        expect(error, name).toBeInstanceOf(RedisStoreError)
        expect(error.code).toBe('OOM')
        expect(error.message).toMatch(new RegExp(`^Redis at 127.0.0.1:${server.port} failed \`${name}\`: out of memory`))
      }
      const after = Number(/used_memory:(\d+)/.exec(await admin.info('memory'))?.[1])
      // Nothing written past the limit by the refused calls (slack for Redis' own buffers).
      expect(after - over).toBeLessThan(64 * 1024)
      expect(await admin.exists(store.keys('big2').messages, store.keys('copy2').messages)).toBe(0)
      expect(await store.load('small')).toStrictEqual([user('q'), assistant('a')])
    } finally {
      await admin.config('SET', 'maxmemory', '0')
      await store.close()
    }
  })
})

describeRedis('controlled', 'RedisStore with wait on a master and a replica', () => {
  let master: RedisServer
  let replica: RedisServer
  beforeAll(async () => {
    master = await startRedisServer()
    replica = await startReplica(master)
  })
  afterAll(async () => {
    await replica?.stop()
    await master?.stop()
  })

  it('resolves once the write is on the replica', async () => {
    const store = new RedisStore(master.url, { prefix: uniquePrefix('wait'), wait: { replicas: 1, timeoutMs: 1_000 } })
    const onReplica = new Redis(replica.url)
    try {
      expect(await store.append('s', [user('q'), assistant('a')], { idempotencyKey: 't1' })).toBe(2)
      // WAIT returned: the replica has it, read it there without waiting.
      expect(await onReplica.llen(store.keys('s').messages)).toBe(2)
      await store.save('t', [user('saved')])
      expect(await onReplica.llen(store.keys('t').messages)).toBe(1)
      await store.fork('s', 'f')
      expect(await onReplica.llen(store.keys('f').messages)).toBe(2)
    } finally {
      onReplica.disconnect()
      await store.close()
    }
  })

  it('rejects writes as retryable WAIT failures while the replica is held back, even a repeat on a new connection', async () => {
    const prefix = uniquePrefix('held')
    const store = new RedisStore(master.url, { prefix, wait: { replicas: 1, timeoutMs: 300 } })
    const resume = await holdBack(replica, master)
    try {
      const error = (await rejection(store.append('s', [user('q')], { idempotencyKey: 't1' }))) as RedisStoreError
      expect(error).toBeInstanceOf(RedisStoreError)
      expect(error.code).toBe('WAIT')
      expect(error.message).toMatch(/reached 0 of the 1 replica\(s\) `wait` asks for within 300 ms/)
      // The write is on the master: a repeat (as state-save sends after a lost reply) on a
      // fresh connection finds the idempotency key, and must still not be acknowledged.
      const other = new RedisStore(master.url, { prefix, wait: { replicas: 1, timeoutMs: 300 } })
      await expect(other.append('s', [user('q')], { idempotencyKey: 't1' })).rejects.toMatchObject({ code: 'WAIT' })
      await other.close()
      await expect(store.save('t', [user('x')])).rejects.toMatchObject({ code: 'WAIT' })
      await expect(store.fork('s', 'f')).rejects.toMatchObject({ code: 'WAIT' })
      resume()
      expect(await store.append('s', [user('q')], { idempotencyKey: 't1' })).toBe(1)
    } finally {
      resume()
      await store.close()
    }
  })
})

describeRedis('controlled', 'Failover of a master whose replica was held back', () => {
  it('loses acknowledged turns without wait, and none with wait', { timeout: 60_000 }, async () => {
    for (const wait of [undefined, { replicas: 1, timeoutMs: 1_000 }]) {
      const master = await startRedisServer()
      const replica = await startReplica(master)
      const store = new RedisStore(master.url, { prefix: 'failover', ...(wait === undefined ? {} : { wait }) })
      const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: { retries: 0 }, onSaveError: 'warn' })
      try {
        expect((await pipe.execute('s', 'user', 'before')).saved).toBe(true)
        const resume = await holdBack(replica, master)
        const acknowledged: string[] = ['before']
        for (let i = 0; i < 10; i++) {
          const result = await pipe.execute('s', 'user', `turn ${i}`)
          if (result.saved) acknowledged.push(`turn ${i}`)
        }
        await master.kill()
        resume()
        await promote(replica)
        const survivor = new RedisStore(replica.url, { prefix: 'failover' })
        const stored = (await survivor.load('s')).filter((m) => m.role === 'user').map((m) => m.content)
        await survivor.close()
        const lost = acknowledged.filter((content) => !stored.includes(content))
        if (wait === undefined) {
          // The defect, reproduced: all ten turns reported saved, and are gone.
          expect(acknowledged).toHaveLength(11)
          expect(lost).toHaveLength(10)
        } else {
          expect(acknowledged).toStrictEqual(['before'])
          expect(lost).toStrictEqual([])
        }
      } finally {
        await pipe.shutdown()
        await store.close()
        await replica.stop()
        await master.stop()
      }
    }
  })
})

