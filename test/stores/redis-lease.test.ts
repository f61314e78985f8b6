/**
 * RedisStore's `lock`: the per-session lease, its renewal, the fenced append, and
 * the pipeline taking it around each turn (two pipelines on one session standing
 * in for two processes; test/http/lease-processes.test.ts runs real processes).
 */
import { afterEach, expect, it } from 'vitest'
import { RedisStore } from '../../src/stores/redis.js'
import { Pipeline } from '../../src/pipeline.js'
import { MockProvider } from '../../src/providers/mock.js'
import { LeaseLostError, SessionBusyError } from '../../src/errors.js'
import type { Message } from '../../src/types.js'
import { describeRedis, uniquePrefix, useStandaloneRedisClient } from '../helpers/redis-server.js'
import { createHandler } from '../../src/http.js'

const hi: Message[] = [{ role: 'user', content: 'hi' }]

describeRedis('standalone', 'RedisStore lock (session lease)', () => {
  const redis = useStandaloneRedisClient()
  const stores: RedisStore[] = []
  const store = (lock: RedisStore['lock'] | null = { ttlMs: 1_000, waitMs: 2_000 }, prefix = uniquePrefix('lease')) => {
    redis.prefixes.push(prefix)
    const created = new RedisStore(redis.url, { prefix, ...(lock === null ? {} : { lock }) })
    stores.push(created)
    return created
  }
  afterEach(async () => {
    await Promise.all(stores.splice(0).map((s) => s.close()))
  })

  it('without `lock`, acquireLease returns undefined and appends are unfenced', () => {
    expect(store(null).acquireLease('s')).toBeUndefined()
  })

  it('one holder at a time: a second acquire waits for the release', async () => {
    const a = store()
    const first = await a.acquireLease('s')!
    let second: Awaited<ReturnType<RedisStore['acquireLease']>> | undefined
    const waiting = a.acquireLease('s')!.then((lease) => (second = lease))
    await new Promise((resolve) => setTimeout(resolve, 100))
    expect(second).toBeUndefined()
    await first.release()
    await waiting
    expect(second?.fence).not.toBe(first.fence)
    await second?.release()
  })

  it('SessionBusyError once waitMs passes, naming the session', async () => {
    const a = store({ ttlMs: 5_000, waitMs: 150 })
    const held = await a.acquireLease('busy')!
    await expect(a.acquireLease('busy')!).rejects.toThrow(SessionBusyError)
    await expect(a.acquireLease('busy')!).rejects.toThrow(/Session `busy` is busy/)
    await held.release()
  })

  it('the signal stops the wait with its reason, and leaves no lease behind', async () => {
    const a = store({ ttlMs: 5_000, waitMs: 5_000 })
    const held = await a.acquireLease('s')!
    const reason = new Error('stop')
    await expect(a.acquireLease('s', { signal: AbortSignal.abort(reason) })!).rejects.toBe(reason)
    await held.release()
    const next = await a.acquireLease('s')!
    await next.release()
  })

  it('is renewed while held, so it outlives its TTL', async () => {
    const a = store({ ttlMs: 150, waitMs: 100 })
    const lease = await a.acquireLease('s')!
    await new Promise((resolve) => setTimeout(resolve, 500))
    expect(lease.lost.aborted).toBe(false)
    expect(await redis.client.get(`${a.prefix}:{s}:lease`)).toBe(lease.fence)
    await a.append('s', hi, { fence: lease.fence })
    await lease.release()
    expect(await redis.client.exists(`${a.prefix}:{s}:lease`)).toBe(0)
  })

  it('expires when its holder stops renewing (a dead process), and another takes it', async () => {
    const a = store({ ttlMs: 200, waitMs: 2_000 })
    // A lease taken by "another process" that died: set directly, never renewed.
    await redis.client.set(`${a.prefix}:{s}:lease`, 'dead-holder', 'PX', 200)
    const started = performance.now()
    const lease = await a.acquireLease('s')!
    expect(performance.now() - started).toBeGreaterThanOrEqual(100)
    await lease.release()
  })

  it('a lost lease aborts `lost` and fences the append: LeaseLostError, nothing stored', async () => {
    const a = store({ ttlMs: 150, waitMs: 1_000 })
    const lease = await a.acquireLease('s')!
    // Another holder takes over (as after an expiry while this process stalled).
    await redis.client.set(`${a.prefix}:{s}:lease`, 'someone-else', 'PX', 5_000)
    await expect.poll(() => lease.lost.aborted, { timeout: 1_000 }).toBe(true)
    expect(lease.lost.reason).toBeInstanceOf(LeaseLostError)
    const refused = a.append('s', hi, { fence: lease.fence, idempotencyKey: 'turn-1' })
    await expect(refused).rejects.toThrow(LeaseLostError)
    await expect(refused).rejects.toThrow(/Lost the lease on session `s`/)
    expect(await a.length('s')).toBe(0)
    await lease.release()
    // The other holder's lease is untouched by this release.
    expect(await redis.client.get(`${a.prefix}:{s}:lease`)).toBe('someone-else')
  })

  it('a repeat of an append that landed succeeds even after the lease is gone (its reply was lost)', async () => {
    const a = store({ ttlMs: 5_000, waitMs: 1_000 })
    const lease = await a.acquireLease('s')!
    expect(await a.append('s', hi, { fence: lease.fence, idempotencyKey: 'turn-1' })).toBe(1)
    await lease.release()
    expect(await a.append('s', hi, { fence: lease.fence, idempotencyKey: 'turn-1' })).toBe(1)
    await expect(a.append('s', hi, { fence: lease.fence, idempotencyKey: 'turn-2' })).rejects.toThrow(LeaseLostError)
    expect(await a.length('s')).toBe(1)
  })

  it.each([
    ['a non-object', 5, /`lock` to be an object/],
    ['an unknown key', { ttl: 5 }, /Unknown option `lock.ttl`; did you mean `ttlMs`/],
    ['a tiny ttlMs', { ttlMs: 10 }, /`lock.ttlMs` to be an integer number of milliseconds from 30/],
    ['a fractional waitMs', { waitMs: 1.5 }, /`lock.waitMs`/],
  ])('rejects %s', (_name, lock, message) => {
    expect(() => new RedisStore(redis.url, { lock: lock as never })).toThrow(message)
  })

  it('rejects bad acquireLease and fence arguments', async () => {
    const a = store()
    await expect(a.acquireLease('')!).rejects.toThrow(/`sessionId`/)
    await expect(a.acquireLease('s', { wait: 1 } as never)!).rejects.toThrow(/Unknown option `options.wait`/)
    await expect(a.append('s', hi, { fence: '' })).rejects.toThrow(/`fence` to be a non-empty string/)
  })

  it('a turn whose lease is taken over mid-turn is aborted and stores nothing', async () => {
    const a = store({ ttlMs: 90, waitMs: 1_000 })
    const pipe = new Pipeline({ provider: new MockProvider({ latencyMs: 400 }), store: a })
    const turn = pipe.execute('stolen', 'user', 'hello')
    // While the provider thinks, another process takes the session (as after an expiry).
    await expect.poll(async () => redis.client.get(`${a.prefix}:{stolen}:lease`)).not.toBeNull()
    await redis.client.set(`${a.prefix}:{stolen}:lease`, 'other-process', 'PX', 5_000)
    const error = await turn.catch((e: unknown) => e)
    expect(error).toBeInstanceOf(Error)
    expect((error as Error).name).toBe('AbortError')
    expect((error as Error).cause).toBeInstanceOf(LeaseLostError)
    expect(await a.length('stolen')).toBe(0)
    await pipe.shutdown()
  })

  it('a stalled turn whose lease expired cannot append: the fence refuses it (StateSaveError caused by LeaseLostError)', async () => {
    const a = store({ ttlMs: 5_000, waitMs: 1_000 })
    // A save that starts only after another process took the session: the renewal
    // has not noticed yet (it runs every ttl / 3), so only the fence stands in the way.
    const pipe = new Pipeline({ provider: new MockProvider(), store: a })
    let retries = 0
    pipe.on('state:save-retry', () => retries++)
    pipe.use(async function stall(_ctx, next) {
      await redis.client.set(`${a.prefix}:{stalled}:lease`, 'other-process', 'PX', 5_000)
      await next()
    })
    const error = await pipe.execute('stalled', 'user', 'hello').catch((e: unknown) => e)
    expect((error as Error).name).toBe('StateSaveError')
    expect((error as Error).cause).toBeInstanceOf(LeaseLostError)
    // Final: retrying a fenced append cannot help.
    expect(retries).toBe(0)
    expect(await a.length('stalled')).toBe(0)
    // The other process's lease is left alone by this turn's release.
    expect(await redis.client.get(`${a.prefix}:{stalled}:lease`)).toBe('other-process')
    await pipe.shutdown()
  })

  it('a turn waiting for the lease stops at its deadline (AbortError, TimeoutError cause), before waitMs', async () => {
    const a = store({ ttlMs: 5_000, waitMs: 10_000 })
    const held = await a.acquireLease('deadline')!
    const pipe = new Pipeline({ provider: new MockProvider(), store: a, timeoutMs: 200 })
    const error = await pipe.execute('deadline', 'user', 'hi').catch((e: unknown) => e)
    expect((error as Error).name).toBe('AbortError')
    expect(((error as Error).cause as Error).name).toBe('TimeoutError')
    await held.release()
    await pipe.shutdown()
  })

  it('over HTTP, a session busy for all of waitMs is a 503 session-busy with Retry-After', async () => {
    const a = store({ ttlMs: 5_000, waitMs: 100 })
    const held = await a.acquireLease('u/busy')!
    const pipe = new Pipeline({ provider: new MockProvider(), store: a })
    const handler = createHandler(pipe, { authenticate: () => 'u' })
    const response = await handler(
      new Request('http://local/sessions/busy/messages', { method: 'POST', body: '{"content":"hi"}', headers: { 'content-type': 'application/json' } }),
    )
    expect(response.status).toBe(503)
    expect(response.headers.get('retry-after')).toBe('1')
    expect(await response.json()).toMatchObject({ type: 'urn:promptline:problem:session-busy' })
    await held.release()
    await pipe.shutdown()
  })

  it('the pipeline orders turns of two pipelines on one session: every view holds every earlier turn', async () => {
    const prefix = uniquePrefix('lease-pipe')
    const providers = [0, 1].map(() => new MockProvider({ reply: (messages) => `reply to ${messages.at(-1)?.content}`, latencyMs: 2 }))
    const pipelines = providers.map(
      (provider) => new Pipeline({ provider, store: store({ ttlMs: 1_000, waitMs: 10_000 }, prefix), contextWindow: false }),
    )
    const leased: number[] = []
    for (const pipe of pipelines) pipe.on('session:leased', ({ waitedMs }) => leased.push(waitedMs))
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => (pipelines[i % 2] as Pipeline).execute('shared', 'user', `q${i}`)),
    )
    const stored = await (stores.at(-1) as RedisStore).load('shared')
    expect(stored).toHaveLength(80)
    for (let i = 0; i < 80; i += 2) expect(stored[i + 1]?.content).toBe(`reply to ${stored[i]?.content}`)
    const views = providers.flatMap((p) => p.requests.map((r) => r.messages))
    expect(views.map((v) => v.length).sort((x, y) => x - y)).toEqual(Array.from({ length: 40 }, (_, i) => 2 * i + 1))
    for (const view of views) expect(view.slice(0, -1)).toEqual(stored.slice(0, view.length - 1))
    // Every turn reported its lease; with two pipelines contending, some waited for it.
    expect(leased).toHaveLength(40)
    expect(leased.every((ms) => ms >= 0)).toBe(true)
    await Promise.all(pipelines.map((p) => p.shutdown()))
  })
})
