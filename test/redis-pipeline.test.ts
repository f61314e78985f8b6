/**
 * The Pipeline end to end on Redis: the conversation scenarios on a standalone
 * server and on a Cluster, 4 processes × 50 turns on one session, and Redis being
 * killed and restarted in the middle of a run of turns.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { RedisStore } from '../src/stores/redis.js'
import { StateLoadError, StateSaveError } from '../src/errors.js'
import type { Message } from '../src/types.js'
import { assistant, user } from './helpers/messages.js'
import { runNode } from './helpers/run-node.js'
import { describeRedis, uniquePrefix, useRedisCluster, useRedisServer, useStandaloneRedisClient } from './helpers/redis-server.js'

/** Remembers a name said earlier in the view: "I'm Alice" → "Your name is Alice." */
function nameReply(messages: Message[]): string {
  const name = messages.map((m) => /I'm (\w+)/.exec(m.content)?.[1]).findLast((n) => n !== undefined)
  if (messages.at(-1)?.content.includes('my name') === true) {
    return name === undefined ? "I don't know your name." : `Your name is ${name}.`
  }
  return name === undefined ? 'Hello!' : `Hello, ${name}!`
}

/** The scenarios of the core issue, on whatever Redis `store()` talks to. */
function conversationScenarios(store: () => RedisStore): void {
  it("remembers Alice's name in the next turn, across pipelines", async () => {
    const first = new Pipeline({ provider: new MockProvider({ reply: nameReply }), store: store(), systemPrompt: 'Be brief.' })
    expect((await first.execute('alice', 'user', "Hi, I'm Alice")).response.content).toBe('Hello, Alice!')
    await first.shutdown()
    // A new pipeline (as in another process) on the same Redis.
    const provider = new MockProvider({ reply: nameReply })
    const second = new Pipeline({ provider, store: store(), systemPrompt: 'Be brief.' })
    const result = await second.execute('alice', 'user', 'What is my name?')
    expect(result.response.content).toBe('Your name is Alice.')
    expect(result.saved).toBe(true)
    expect(result.storedLength).toBe(4)
    expect(provider.requests[0]?.messages).toStrictEqual([
      { role: 'system', content: 'Be brief.' },
      user("Hi, I'm Alice"),
      assistant('Hello, Alice!'),
      user('What is my name?'),
    ])
    expect(await store().load('alice')).toStrictEqual([
      user("Hi, I'm Alice"),
      assistant('Hello, Alice!'),
      user('What is my name?'),
      assistant('Your name is Alice.'),
    ])
    await second.shutdown()
  })

  it('keeps sessions apart, even when their turns interleave', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ reply: nameReply, latencyMs: 2 }), store: store() })
    await Promise.all([pipe.execute('alice', 'user', "I'm Alice"), pipe.execute('bob', 'user', "I'm Bob")])
    const [alice, bob, carol] = await Promise.all([
      pipe.execute('alice', 'user', 'What is my name?'),
      pipe.execute('bob', 'user', 'What is my name?'),
      pipe.execute('carol', 'user', 'What is my name?'),
    ])
    expect(alice.response.content).toBe('Your name is Alice.')
    expect(bob.response.content).toBe('Your name is Bob.')
    expect(carol.response.content).toBe("I don't know your name.")
    expect(await store().load('bob')).toStrictEqual([
      user("I'm Bob"),
      assistant('Hello, Bob!'),
      user('What is my name?'),
      assistant('Your name is Bob.'),
    ])
    await pipe.shutdown()
  })

  it('forks a session, and the two then diverge through the pipeline', async () => {
    const s = store()
    const pipe = new Pipeline({ provider: new MockProvider(), store: s })
    await pipe.execute('main', 'user', 'We are planning a trip')
    await pipe.execute('main', 'user', 'Somewhere warm')
    await s.fork('main', 'branch')
    const common = await s.load('main')
    expect(common).toHaveLength(4)
    expect(await s.load('branch')).toStrictEqual(common)

    const onMain = await pipe.execute('main', 'user', 'Let us pick Lisbon')
    const onBranch = await pipe.execute('branch', 'user', 'Let us pick Athens')
    expect(onMain.messages).toStrictEqual([...common, user('Let us pick Lisbon')])
    expect(onBranch.messages).toStrictEqual([...common, user('Let us pick Athens')])
    expect(await s.load('main')).toStrictEqual([...common, user('Let us pick Lisbon'), assistant('Echo: Let us pick Lisbon')])
    expect(await s.load('branch')).toStrictEqual([...common, user('Let us pick Athens'), assistant('Echo: Let us pick Athens')])
    await pipe.shutdown()
  })

  it('loads only the context window from a long history', async () => {
    const s = store()
    await s.save('long', Array.from({ length: 500 }, (_, i) => (i % 2 === 0 ? user(`q${i}`) : assistant(`a${i}`))))
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store: s, contextWindow: { maxMessages: 4 } })
    const result = await pipe.execute('long', 'user', 'next')
    // The window counts the new input too.
    expect(result.messages).toStrictEqual([assistant('a497'), user('q498'), assistant('a499'), user('next')])
    expect(result.storedLength).toBe(502)
    await pipe.shutdown()
  })
}

describeRedis('standalone', 'Pipeline on RedisStore (standalone)', () => {
  const redis = useStandaloneRedisClient()
  let current: RedisStore

  describe('conversation scenarios', () => {
    beforeAll(() => {
      const prefix = uniquePrefix('scenario')
      redis.prefixes.push(prefix)
      current = new RedisStore(redis.client, { prefix })
    })
    conversationScenarios(() => current)
  })

  it('4 processes × 50 turns on one session store exactly 400 messages, each reply right after its question', { timeout: 60_000 }, async () => {
    const prefix = uniquePrefix('procs')
    redis.prefixes.push(prefix)
    const workers = 4
    const turns = 50
    const runs = await Promise.all(
      Array.from({ length: workers }, (_, worker) =>
        runNode('test/helpers/redis-pipeline-worker.ts', [redis.url, prefix, 'shared', String(worker), String(workers), String(turns)], {
          timeoutMs: 50_000,
        }),
      ),
    )
    for (const run of runs) {
      expect(run.stderr).toBe('')
      expect(run.code).toBe(0)
      const report = JSON.parse(run.stdout.trim()) as { saved: number; failed: string[] }
      expect(report.failed).toStrictEqual([])
      expect(report.saved).toBe(turns)
    }

    const store = new RedisStore(redis.client, { prefix })
    const history = await store.load('shared')
    expect(history).toHaveLength(workers * turns * 2)
    expect(await store.length('shared')).toBe(400)
    const questions = new Set<string>()
    let switches = 0
    for (let i = 0; i < history.length; i += 2) {
      const question = history[i] as Message
      expect(question.role).toBe('user')
      expect(history[i + 1]).toStrictEqual(assistant(`Echo: ${question.content}`))
      expect(questions.has(question.content)).toBe(false)
      questions.add(question.content)
      if (i > 0 && (history[i - 2] as Message).content.split('-')[0] !== question.content.split('-')[0]) switches++
    }
    expect(questions.size).toBe(workers * turns)
    // Each worker's own turns are stored in its order.
    for (let worker = 0; worker < workers; worker++) {
      const own = [...questions].filter((q) => q.startsWith(`w${worker}-`))
      expect(own).toStrictEqual(Array.from({ length: turns }, (_, t) => `w${worker}-t${t}`))
    }
    // The processes really did interleave on the session (not one after another).
    expect(switches).toBeGreaterThan(workers - 1)
  })
})

describeRedis('cluster', 'Pipeline on RedisStore (Cluster)', () => {
  const cluster = useRedisCluster()
  let current: RedisStore

  beforeAll(() => {
    current = new RedisStore(cluster.client, { prefix: uniquePrefix('cluster-scenario') })
  })

  conversationScenarios(() => current)

  it('the session lease on a Cluster: its key shares the session\'s slot, so the fenced append runs there', async () => {
    const prefix = uniquePrefix('cluster-lease')
    const providers = [0, 1].map(() => new MockProvider({ reply: (messages) => `seen ${messages.length - 1}` }))
    const stores = providers.map(() => new RedisStore(cluster.client, { prefix, lock: { ttlMs: 2_000 } }))
    const pipelines = providers.map((provider, i) => new Pipeline({ provider, store: stores[i] as RedisStore, contextWindow: false }))
    // Sessions spread over the slots of all three masters, two "processes" each.
    const sessions = ['a', 'b', 'c', 'd', 'e', 'f']
    await Promise.all(
      sessions.flatMap((id) => Array.from({ length: 6 }, (_, i) => (pipelines[i % 2] as Pipeline).execute(id, 'user', `q${i}`))),
    )
    for (const id of sessions) {
      const replies = (await (stores[0] as RedisStore).load(id)).filter((m) => m.role === 'assistant').map((m) => m.content)
      expect(replies).toEqual(['seen 0', 'seen 2', 'seen 4', 'seen 6', 'seen 8', 'seen 10'])
      expect(await cluster.client.exists(`${prefix}:{${id}}:lease`)).toBe(0)
      await (stores[0] as RedisStore).delete(id)
    }
    await Promise.all(pipelines.map((pipe) => pipe.shutdown()))
  })
})

describeRedis('controlled', 'Pipeline on RedisStore while Redis is killed and restarted', () => {
  // AOF with appendfsync always: every acknowledged write survives SIGKILL, so
  // "saved: true" can be checked against what Redis holds after the restart.
  const server = useRedisServer({ persistence: 'aof' })

  type Outcome = 'saved' | 'save-error' | 'load-error'

  /**
   * Runs turns on `sessions` sessions side by side. Turn 10 of session 0 kills
   * Redis while the provider answers (so its save runs into the outage) and
   * restarts it after `outageMs`; every session goes on until 5 turns after the restart.
   */
  async function runThroughOutage(outageMs: number, saveRetry: { retries: number; minTimeout: number; maxTimeout: number }) {
    const store = new RedisStore(server.url, { prefix: uniquePrefix('outage') })
    let outage: Promise<void> | undefined
    let restarted = false
    const provider = new MockProvider({
      latencyMs: 2,
      reply: async (messages) => {
        const content = messages.at(-1)?.content ?? ''
        if (content === 's0-t10' && outage === undefined) {
          await server.kill()
          outage = (async () => {
            await new Promise((resolve) => setTimeout(resolve, outageMs))
            await server.restart()
            restarted = true
          })()
        }
        return `Echo: ${content}`
      },
    })
    const pipe = new Pipeline({ provider, store, saveRetry, contextWindow: { maxMessages: 6 } })
    let retries = 0
    pipe.on('state:save-retry', () => retries++)

    const outcomes = new Map<string, Outcome>()
    await Promise.all(
      Array.from({ length: 6 }, async (_, s) => {
        let afterRestart = 0
        for (let t = 0; afterRestart < 5 && t < 300; t++) {
          if (restarted) afterRestart++
          const content = `s${s}-t${t}`
          try {
            const result = await pipe.execute(`session-${s}`, 'user', content)
            expect(result.saved).toBe(true)
            outcomes.set(content, 'saved')
          } catch (error) {
            if (error instanceof StateSaveError) outcomes.set(content, 'save-error')
            else if (error instanceof StateLoadError) outcomes.set(content, 'load-error')
            else throw error
          }
          if (!restarted && outage !== undefined) await new Promise((resolve) => setTimeout(resolve, 20))
        }
      }),
    )
    await outage
    await pipe.shutdown()

    // What Redis holds afterwards: every saved turn exactly once, each reply right
    // after its question, nothing duplicated, nothing from a turn that failed to load.
    for (let s = 0; s < 6; s++) {
      const history = await store.load(`session-${s}`)
      expect(history.length % 2).toBe(0)
      const stored = new Set<string>()
      for (let i = 0; i < history.length; i += 2) {
        const question = history[i] as Message
        expect(history[i + 1]).toStrictEqual(assistant(`Echo: ${question.content}`))
        expect(stored.has(question.content)).toBe(false)
        stored.add(question.content)
        expect(outcomes.get(question.content)).not.toBe('load-error')
      }
      for (const [content, outcome] of outcomes) {
        if (content.startsWith(`s${s}-`) && outcome === 'saved') expect(stored.has(content)).toBe(true)
      }
    }
    await store.close()
    const count = (outcome: Outcome) => [...outcomes.values()].filter((o) => o === outcome).length
    return { outcomes, retries, saved: count('saved'), saveErrors: count('save-error'), loadErrors: count('load-error') }
  }

  it('keeps every turn that reported saved: true, retrying saves through a short outage', { timeout: 30_000 }, async () => {
    const run = await runThroughOutage(500, { retries: 10, minTimeout: 100, maxTimeout: 500 })
    // The turn whose provider call saw Redis die was retried until Redis was back.
    expect(run.outcomes.get('s0-t10')).toBe('saved')
    expect(run.retries).toBeGreaterThan(0)
    expect(run.saved).toBeGreaterThan(6 * 10)
  })

  it('rejects with StateSaveError when the outage outlasts the retries, and stores nothing twice', { timeout: 30_000 }, async () => {
    const run = await runThroughOutage(2_500, { retries: 2, minTimeout: 50, maxTimeout: 100 })
    expect(run.outcomes.get('s0-t10')).toBe('save-error')
    expect(run.saveErrors).toBeGreaterThan(0)
    expect(run.saved).toBeGreaterThan(6 * 10)
  })
})
