/**
 * Ordering across processes: three `promptline serve` processes on one Redis, each
 * turn holding its session's lease. 300 concurrent requests to one session, spread
 * over the three, must leave exactly 600 messages, each question followed by its
 * own reply, and every turn's view (what the model was sent, recorded by the fake
 * OpenAI server all three talk to) must hold every earlier turn. Then a process is
 * killed with SIGKILL while it holds the lease: the others carry on once it expires,
 * and nothing of the killed turn is stored.
 */
import { afterAll, beforeAll, expect, it } from 'vitest'
import { startFakeOpenAI, type FakeOpenAIServer } from '../helpers/fake-openai-server.js'
import { startServe, type ServeProcess } from '../helpers/serve-process.js'
import { describeRedis, uniquePrefix, useStandaloneRedisClient } from '../helpers/redis-server.js'

const TOKEN = 'lease-test-token'
const TURNS = 300
const LEASE_TTL_MS = 1_500

describeRedis('standalone', 'three serve processes on one Redis, one session', () => {
  const redis = useStandaloneRedisClient()
  const prefix = uniquePrefix('lease-procs')
  let openai: FakeOpenAIServer
  let servers: ServeProcess[] = []

  beforeAll(async () => {
    redis.prefixes.push(prefix)
    openai = await startFakeOpenAI()
    const args = [
      '--token', TOKEN,
      '--redis', redis.url,
      '--prefix', prefix,
      '--lease-ttl', String(LEASE_TTL_MS),
      '--provider', 'openai',
      '--base-url', openai.baseURL,
      // Every turn's view holds the whole conversation, so it shows what the turn saw.
      '--max-messages', '1000',
    ]
    servers = await Promise.all([0, 1, 2].map(() => startServe(args)))
  }, 60_000)
  afterAll(async () => {
    await Promise.all(servers.map((server) => server.stop()))
    await openai?.close()
  })

  const turn = (server: ServeProcess, content: string, session = 'shared') =>
    fetch(`${server.url}/api/sessions/${session}/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${TOKEN}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content }),
    })

  const history = async (server: ServeProcess) => {
    const response = await fetch(`${server.url}/api/sessions/shared/messages`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(response.status).toBe(200)
    return ((await response.json()) as { messages: { role: string; content: string }[] }).messages
  }

  it(`${TURNS} concurrent turns over 3 processes: 600 messages, in pairs, each view holding all earlier turns`, async () => {
    const responses = await Promise.all(
      Array.from({ length: TURNS }, (_, i) => turn(servers[i % 3] as ServeProcess, `q-${i}`).then(async (r) => ({ status: r.status, body: await r.text() }))),
    )
    expect(responses.filter((r) => r.status !== 200)).toEqual([])

    const stored = await history(servers[0] as ServeProcess)
    expect(stored).toHaveLength(2 * TURNS)
    for (let i = 0; i < stored.length; i += 2) {
      expect(stored[i]?.role).toBe('user')
      expect(stored[i + 1]).toEqual({ role: 'assistant', content: `Echo: ${stored[i]?.content}` })
    }
    expect(new Set(stored.filter((m) => m.role === 'user').map((m) => m.content)).size).toBe(TURNS)

    // What each turn sent the model: the stored history up to it, whole, then its question.
    const views = openai.requests.map((request) => (request.body?.messages ?? []).map((m) => ({ role: m.role, content: m.content })))
    expect(views).toHaveLength(TURNS)
    expect(views.map((view) => view.length).sort((a, b) => a - b)).toEqual(Array.from({ length: TURNS }, (_, i) => 2 * i + 1))
    for (const view of views) expect(view).toEqual(stored.slice(0, view.length))
  }, 120_000)

  it('a process killed with SIGKILL while holding the lease: the others continue once it expires, nothing of its turn stored', async () => {
    const [victim, survivor] = servers as [ServeProcess, ServeProcess, ServeProcess]
    const before = (await history(survivor)).length
    const leaseKey = `${prefix}:{${await principalSession()}}:lease`
    openai.enqueue({ kind: 'stall' })
    const requestsBefore = openai.requests.length
    const doomed = turn(victim, 'doomed').catch((error: unknown) => error)
    await openai.waitForRequests(requestsBefore + 1, 10_000)
    // The victim is inside its turn, holding the lease.
    expect(await redis.client.pttl(leaseKey)).toBeGreaterThan(0)
    await victim.kill9()
    expect(await doomed).toBeInstanceOf(Error)

    const response = await turn(survivor, 'after the crash')
    expect(response.status).toBe(200)
    expect(await redis.client.exists(leaseKey)).toBe(0)
    const stored = await history(survivor)
    expect(stored).toHaveLength(before + 2)
    expect(stored.map((m) => m.content)).not.toContain('doomed')
    expect(stored.slice(-2).map((m) => m.content)).toEqual(['after the crash', 'Echo: after the crash'])
  }, 60_000)

  it('DELETE waits for a turn in flight on another process, so that turn cannot bring the session back', async () => {
    const [, first, second] = servers as [ServeProcess, ServeProcess, ServeProcess]
    expect((await turn(second, 'hello', 'to-delete')).status).toBe(200)
    // A model that takes 300 ms to answer the next request.
    openai.enqueue({
      kind: 'handler',
      handle: (_request, res) =>
        setTimeout(() => {
          res.writeHead(200, { 'content-type': 'application/json' })
          res.end(JSON.stringify({
            id: 'chatcmpl-slow', object: 'chat.completion', created: 0, model: 'gpt-4o-mini',
            choices: [{ index: 0, message: { role: 'assistant', content: 'slow answer' }, finish_reason: 'stop' }],
            usage: { prompt_tokens: 1, completion_tokens: 2, total_tokens: 3 },
          }))
        }, 300),
    })
    const requestsBefore = openai.requests.length
    const running = turn(first, 'last words', 'to-delete')
    await openai.waitForRequests(requestsBefore + 1, 10_000)
    const deleted = await fetch(`${second.url}/api/sessions/to-delete`, { method: 'DELETE', headers: { authorization: `Bearer ${TOKEN}` } })
    expect(deleted.status).toBe(204)
    expect((await running).status).toBe(200)
    // The turn finished before the delete ran: nothing of the session is left.
    const after = await fetch(`${second.url}/api/sessions/to-delete/messages`, { headers: { authorization: `Bearer ${TOKEN}` } })
    expect(after.status).toBe(404)
  }, 60_000)

  /** The session id the store sees for TOKEN's `shared` (its principal is named by the token's hash). */
  async function principalSession(): Promise<string> {
    const keys = await redis.client.keys(`${prefix}:{*}:msgs`)
    expect(keys).toHaveLength(1)
    return (keys[0] as string).slice(prefix.length + 2, -'}:msgs'.length)
  }
})
