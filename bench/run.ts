/**
 * promptline benchmark: what one turn costs, and whether that cost grows with the
 * session's length. Every figure is compared with a baseline measured in the same
 * run (the tokenizer alone, raw ioredis), as a ratio.
 *
 *   npm run bench            # full run (about a minute)
 *   npm run bench -- --quick # fewer turns, for a smoke check
 *
 * Then the import cost of each entry point (bench/import-cost.ts), in fresh processes.
 *
 * Redis figures use a throwaway `redis-server` on a free loopback port (or
 * `REDIS_URL` when set); they are skipped with a message when neither is available.
 */
import { Redis } from 'ioredis'
import { encodeChat, encode } from 'gpt-tokenizer/model/gpt-4o'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { RedisStore } from '../src/stores/redis.js'
import type { Message, StateStore } from '../src/types.js'
import { hasRedisServer, startRedisServer, type RedisServer } from '../test/helpers/redis-server.js'
import { measureImportCosts } from './import-cost.js'

const quick = process.argv.includes('--quick')
const HISTORY_LENGTHS = [10, 1_000, 10_000]
const WINDOW = 20
const TURNS = quick ? 300 : 1_000
const REDIS_TURNS = quick ? 200 : 500
const WARMUP = quick ? 100 : 500
const ROUNDS = quick ? 1 : 5

const REPLY = 'Sure. Here is a short, friendly answer that is about as long as a typical chat reply.'

function history(length: number): Message[] {
  const messages: Message[] = []
  for (let i = 0; i < length; i++) {
    messages.push(
      i % 2 === 0
        ? { role: 'user', content: `Question ${i}: could you explain how the pipeline keeps state between turns?` }
        : { role: 'assistant', content: `Answer ${i}: ${REPLY}` },
    )
  }
  return messages
}

/**
 * Mean microseconds per call of `fn` over `count` sequential calls, after `warmup`
 * calls. `reset`, when given, runs untimed after every call: it puts the history
 * back to its starting length, so a row's figure is for exactly that length.
 */
async function measure(
  count: number,
  warmup: number,
  fn: (i: number) => Promise<unknown> | unknown,
  reset?: (i: number) => Promise<unknown> | undefined,
): Promise<number> {
  for (let i = 0; i < warmup; i++) {
    await fn(-1 - i)
    await reset?.(i)
  }
  // The median of ROUNDS rounds: a VM's noisy neighbours move single rounds a lot.
  const rounds: number[] = []
  for (let round = 0; round < ROUNDS; round++) {
    let total = 0
    for (let i = 0; i < count; i++) {
      const started = performance.now()
      await fn(i)
      total += performance.now() - started
      await reset?.(i)
    }
    rounds.push((total * 1000) / Math.max(count, 1))
  }
  return rounds.sort((a, b) => a - b)[Math.floor(ROUNDS / 2)] as number
}

function pipelineOn(store: StateStore): Pipeline {
  return new Pipeline({
    provider: new MockProvider({ reply: REPLY, model: 'gpt-4o-mini' }),
    store,
    systemPrompt: 'You are a helpful assistant.',
    contextWindow: { maxMessages: WINDOW },
    tokenLimit: { maxTokens: 8_000, model: 'gpt-4o' },
  })
}

const rows: string[][] = []
const fmt = (us: number) => (us >= 1000 ? `${(us / 1000).toFixed(2)} ms` : `${us.toFixed(1)} µs`)
const ratio = (a: number, b: number) => `${(a / b).toFixed(2)}×`

async function memoryBench(): Promise<void> {
  const store = new MemoryStore()
  const pipe = pipelineOn(store)
  // Loads the tokenizer and lets the JIT settle before any row is measured.
  await store.save('warm', history(100))
  await measure(0, WARMUP * 4, (i) => pipe.execute('warm', 'user', `warm-up ${i}`))

  // Baseline: what tokenizing the view from scratch costs (a policy without a cache pays this per turn).
  const view = [{ role: 'system' as const, content: 'You are a helpful assistant.' }, ...history(WINDOW).map(({ role, content }) => ({ role, content }))]
  const tokenizerAlone = await measure(TURNS, WARMUP, () => encodeChat(view, 'gpt-4o').length)
  rows.push(['tokenizer alone: encodeChat of a 21-message view', '—', fmt(tokenizerAlone), '1.00×'])

  let first: number | undefined
  for (const length of HISTORY_LENGTHS) {
    const id = `memory-${length}`
    const base = history(length)
    // Untimed, every 50 turns: put the session back to its length (it grows by 2 a turn).
    const reset = (i: number) => ((i + 1) % 50 === 0 ? store.save(id, base) : undefined)
    await store.save(id, base)
    const perTurn = await measure(TURNS, WARMUP, (i) => pipe.execute(id, 'user', `Follow-up question number ${i}?`), reset)
    first ??= perTurn
    rows.push([
      `MemoryStore turn (window ${WINDOW}, token limit)`,
      `${length}–${length + 100}`,
      fmt(perTurn),
      `${ratio(perTurn, tokenizerAlone)} of tokenizer; ${ratio(perTurn, first)} of 10-message turn`,
    ])
  }
  await pipe.shutdown()
}

async function redisBench(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true })
  await client.connect()
  // Round trips are counted on the client: server-side counters also count the
  // commands a Lua script runs inside its one round trip.
  let sent = 0
  const send = client.sendCommand.bind(client)
  client.sendCommand = ((...args: Parameters<typeof send>) => {
    sent++
    return send(...args)
  }) as typeof client.sendCommand
  const store = new RedisStore(client, { prefix: `bench${Date.now()}` })
  const pipe = pipelineOn(store)
  await measure(0, WARMUP, (i) => pipe.execute('warm', 'user', `warm-up ${i}`))
  const raw = `rawbench${Date.now()}`

  for (const length of HISTORY_LENGTHS) {
    const id = `redis-${length}`
    await store.save(id, history(length))
    const rawKey = `${raw}:${length}`
    await client.del(rawKey)
    for (let i = 0; i < length; i += 1000) {
      await client.rpush(rawKey, ...history(Math.min(1000, length - i)).map((m) => JSON.stringify(m)))
    }

    // Floor: the two round trips any Redis-backed turn needs (read the tail, push the new pair).
    const trimRaw = () => client.ltrim(rawKey, 0, length - 1)
    const floor = await measure(REDIS_TURNS, WARMUP / 5, async (i) => {
      const tail = await client.lrange(rawKey, -WINDOW, -1)
      for (const entry of tail) JSON.parse(entry)
      await client.rpush(rawKey, JSON.stringify({ role: 'user', content: `q${i}` }), JSON.stringify({ role: 'assistant', content: REPLY }))
    }, trimRaw)
    // What a store that reads the whole list each turn pays (LangChain.js's Redis history does).
    const fullLoad = await measure(Math.max(20, REDIS_TURNS / 10), 5, async (i) => {
      const all = await client.lrange(rawKey, 0, -1)
      for (const entry of all) JSON.parse(entry)
      await client.rpush(rawKey, JSON.stringify({ role: 'user', content: `q${i}` }))
      await client.rpush(rawKey, JSON.stringify({ role: 'assistant', content: REPLY }))
    }, trimRaw)

    const keys = store.keys(id)
    let trims = 0
    const trimSession = () => {
      trims++
      return client.ltrim(keys.messages, 0, length - 1)
    }
    const sentBefore = sent
    let turns = 0
    const perTurn = await measure(
      REDIS_TURNS,
      WARMUP / 5,
      (i) => {
        turns++
        return pipe.execute(id, 'user', `Follow-up question number ${i}?`)
      },
      trimSession,
    )
    const commands = (sent - sentBefore - trims) / turns

    rows.push(['raw ioredis floor: LRANGE -20 -1 + RPUSH', String(length), fmt(floor), '1.00×'])
    rows.push(['raw ioredis whole-list load (LangChain-style)', String(length), fmt(fullLoad), ratio(fullLoad, floor)])
    rows.push([
      `RedisStore turn (window ${WINDOW}, token limit), ${commands.toFixed(2)} round trips/turn`,
      String(length),
      fmt(perTurn),
      `${ratio(perTurn, floor)} of floor`,
    ])
    await client.del(rawKey)
  }
  await pipe.shutdown()
  await store.close()
  client.disconnect()
}

async function main(): Promise<void> {
  console.log(
    `promptline bench — node ${process.version}, ${quick ? 'quick' : 'full'} run: median of ${ROUNDS} rounds of ${TURNS} memory / ${REDIS_TURNS} Redis turns per row`,
  )
  encode('warm up the tokenizer')
  await memoryBench()

  let server: RedisServer | undefined
  let url = process.env.REDIS_URL
  if (url === undefined && hasRedisServer()) {
    server = await startRedisServer()
    url = server.url
  }
  if (url === undefined) console.log('\nRedis figures skipped: no REDIS_URL and no redis-server on PATH.')
  else {
    try {
      await redisBench(url)
    } finally {
      await server?.stop()
    }
  }

  const header = ['what', 'history', 'per turn', 'ratio']
  const table = [header, header.map(() => '---'), ...rows]
  console.log(`\n${table.map((row) => `| ${row.join(' | ')} |`).join('\n')}`)

  // Import cost: fresh processes, so it runs after (and apart from) the turn figures.
  const costs = measureImportCosts(quick ? 1 : 7)
  const root = costs.find((cost) => cost.entry === 'promptline')
  const importTable = [
    ['import', 'modules loaded', 'import time', 'RSS after', 'ratio (time, RSS)'],
    ['---', '---', '---', '---', '---'],
    ...costs.map((cost) => [
      cost.entry.startsWith('promptline') ? `\`${cost.entry}\`` : cost.entry,
      String(cost.modules),
      `${cost.ms.toFixed(1)} ms`,
      `${cost.rssMb.toFixed(1)} MB`,
      root === undefined || cost.entry === 'node, no import' ? '—' : `${ratio(cost.ms, root.ms)}, ${ratio(cost.rssMb, root.rssMb)} of promptline`,
    ]),
  ]
  console.log(`\n${importTable.map((row) => `| ${row.join(' | ')} |`).join('\n')}`)
}

await main()
