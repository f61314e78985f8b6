/**
 * promptline benchmark: what one turn costs, and whether that cost grows with the
 * session's length. Every figure is compared with a baseline measured in the same
 * run (the tokenizer alone, raw ioredis), as a ratio.
 *
 *   npm run bench            # full run (about a minute)
 *   npm run bench -- --quick # fewer turns, for a smoke check
 *   npm run bench -- --tokens-only # only the token-counting rows (stalls, cache memory)
 *
 * Then the import cost of each entry point (bench/import-cost.ts), in fresh processes.
 *
 * Redis figures use a throwaway `redis-server` on a free loopback port (or
 * `REDIS_URL` when set); they are skipped with a message when neither is available.
 */
import { readFileSync } from 'node:fs'
import { setFlagsFromString } from 'node:v8'
import { runInNewContext } from 'node:vm'
import { Redis } from 'ioredis'
import * as gpt4o from 'gpt-tokenizer/model/gpt-4o'
import { encodeChat, encode } from 'gpt-tokenizer/model/gpt-4o'
import { createTokenCounter, TOKEN_CACHE_BYTES, type Tokenizer } from '../src/tokens.js'
import { PerformanceObserver } from 'node:perf_hooks'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { RedisStore } from '../src/stores/redis.js'
import type { Message } from '../src/types.js'
import { hasRedisServer, startRedisServer, type RedisServer } from '../test/helpers/redis-server.js'
import { measureImportCosts } from './import-cost.js'
import { history, pipelineOn, rawTurn, REPLY, WINDOW } from './turns.js'
import { median } from './redis-stats.js'
import { langchainRedisRows, multiProcessRows, serverCostRows, throughputRows } from './redis-scale.js'
import { langchainTrimRows } from './langchain-trim.js'
import { measureEstimateCosts } from './estimate-usage.js'

const quick = process.argv.includes('--quick')
const tokensOnly = process.argv.includes('--tokens-only')
const HISTORY_LENGTHS = [10, 1_000, 10_000]
const TURNS = quick ? 300 : 1_000
const REDIS_TURNS = quick ? 200 : 500
const WARMUP = quick ? 100 : 500
const ROUNDS = quick ? 1 : 5
/** Rounds of the memory turn's A/B shares, each variant for SHARE_TURNS turns per round. */
const SHARE_ROUNDS = quick ? 3 : 15
const SHARE_TURNS = quick ? 300 : 500
/** A/B rounds of the Redis turn rows: an even number, so each side goes first equally often. */
const ROUNDS_AB = quick ? 2 : 10

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
  await memorySharesBench(store)
}

/**
 * Where a memory turn's CPU time goes, at 1,000 stored messages, by A/B: the default
 * turn against one without a deadline (`timeoutMs: false`: no timer, no deadline
 * AbortController) and one without `tokenLimit` (no counting, no count-cache
 * lookups), interleaved round by round (medians); the share of garbage collection
 * from `PerformanceObserver` gc entries during the default turns; and what one
 * AbortController with a listener added and removed costs on its own.
 */
async function memorySharesBench(store: MemoryStore): Promise<void> {
  const variants = {
    default: pipelineOn(store),
    noDeadline: pipelineOn(store, { timeoutMs: false }),
    noTokenLimit: pipelineOn(store, { tokenLimit: false }),
  }
  const base = history(1_000)
  const times: Record<keyof typeof variants, number[]> = { default: [], noDeadline: [], noTokenLimit: [] }
  let gcMs = 0
  let defaultMs = 0
  const observer = new PerformanceObserver((list) => {
    for (const entry of list.getEntries()) gcMs += entry.duration
  })
  for (const [name, pipe] of Object.entries(variants)) {
    await store.save(`share-${name}`, base)
    for (let i = 0; i < WARMUP; i++) await pipe.execute(`share-${name}`, 'user', `warm-up ${i}`)
  }
  for (let round = 0; round < SHARE_ROUNDS; round++) {
    // Each round in another order, so no variant always runs first or last.
    const order = Object.entries(variants) as [keyof typeof variants, typeof variants.default][]
    for (let r = 0; r < round % 3; r++) order.push(order.shift() as (typeof order)[number])
    for (const [name, pipe] of order) {
      const id = `share-${name}`
      await store.save(id, base)
      if (name === 'default') observer.observe({ entryTypes: ['gc'] })
      // CPU time, not wall time: on a shared machine the wall clock also counts
      // the time spent waiting for a core, which swamps differences this small.
      const cpuBefore = process.cpuUsage()
      const started = performance.now()
      for (let i = 0; i < SHARE_TURNS; i++) {
        await pipe.execute(id, 'user', `Follow-up question number ${i}?`)
        if ((i + 1) % 50 === 0) await store.save(id, base)
      }
      const wall = performance.now() - started
      const used = process.cpuUsage(cpuBefore)
      const elapsed = (used.user + used.system) / 1000
      if (name === 'default') {
        // Entries are delivered asynchronously: let them arrive before stopping.
        await new Promise((resolve) => setTimeout(resolve, 10))
        observer.disconnect()
        defaultMs += wall
      }
      times[name].push((elapsed * 1000) / SHARE_TURNS)
    }
  }
  for (const pipe of Object.values(variants)) await pipe.shutdown()
  const turn = median(times.default)
  const noDeadline = median(times.noDeadline)
  const noTokenLimit = median(times.noTokenLimit)
  const share = (part: number) => `${((part / turn) * 100).toFixed(0)}% of the turn`
  rows.push([`MemoryStore turn, default, CPU time (A/B base for the next rows)`, '1000', fmt(turn), '1.00×'])
  rows.push([`… without a deadline (timeoutMs: false): the deadline's timer and AbortController`, '1000', fmt(noDeadline), share(turn - noDeadline)])
  rows.push([`… without tokenLimit: counting through the token cache`, '1000', fmt(noTokenLimit), share(turn - noTokenLimit)])
  const gcShare = gcMs / defaultMs
  rows.push([`… garbage collection during the default turns (PerformanceObserver gc)`, '1000', fmt(gcShare * turn), share(gcShare * turn)])
  const controllers = quick ? 20_000 : 100_000
  const onAbort = () => {}
  const started = performance.now()
  for (let i = 0; i < controllers; i++) {
    const controller = new AbortController()
    controller.signal.addEventListener('abort', onAbort)
    controller.signal.removeEventListener('abort', onAbort)
  }
  const perController = ((performance.now() - started) * 1000) / controllers
  rows.push([`… one AbortController with a listener added and removed, alone`, '—', fmt(perController), share(perController)])
}

const KB = 1024
const MB = 1024 * KB
const PLAIN = { disallowedSpecial: new Set<string>() }
const tokenRows: string[][] = []

/** Deterministic pseudo-random bytes (a linear congruential generator): the same input every run. */
function pseudoRandomBytes(length: number): Buffer {
  const data = Buffer.alloc(length)
  let state = 7
  for (let i = 0; i < length; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    data[i] = state >> 16
  }
  return data
}

/** About 1 MB of chat-like prose: words, punctuation, newlines, some Unicode. */
function proseText(length: number): string {
  const words = ['the', 'pipeline', 'keeps', 'state', 'between', 'turns,', 'and', 'a', 'message', 'is', 'tokenized', 'once.', 'Über', 'naïve', '2026', 'tokens\n']
  let text = ''
  for (let i = 0; text.length < length; i++) text += `${words[(i * 7 + (i >> 4)) % words.length]} `
  return text.slice(0, length)
}

/** TypeScript's own compiler with comments and optional whitespace stripped: minified JavaScript. */
function minifiedJs(length: number): string {
  const source = readFileSync(new URL('../node_modules/typescript/lib/typescript.js', import.meta.url), 'utf8')
  return source
    .replace(/\/\/[^\n]*\n/g, '\n')
    .replace(/\s*([{}()[\];,=+\-*/<>:?&|!.])\s*/g, '$1')
    .replace(/\s+/g, ' ')
    .slice(0, length)
}

/**
 * The longest the event loop was held while `work` runs, seen by a 1 ms interval
 * timer: the wall-clock gap between two of its ticks, and the CPU time the process
 * spent in that gap. On a loaded machine the wall gap also counts the time spent
 * waiting for a core; the CPU time is what the work itself held the loop for.
 */
async function worstStall(work: () => unknown): Promise<{ wall: number; cpu: number }> {
  let last = performance.now()
  let lastCpu = process.cpuUsage()
  let wall = 0
  let cpu = 0
  const tick = () => {
    const now = performance.now()
    const used = process.cpuUsage(lastCpu)
    wall = Math.max(wall, now - last)
    cpu = Math.max(cpu, (used.user + used.system) / 1000)
    last = now
    lastCpu = process.cpuUsage()
  }
  const probe = setInterval(tick, 1)
  // One tick first, so a synchronous `work` is measured as the stall it is.
  await new Promise((resolve) => setTimeout(resolve, 5))
  last = performance.now()
  lastCpu = process.cpuUsage()
  try {
    await work()
  } finally {
    clearInterval(probe)
  }
  tick()
  return { wall, cpu }
}

async function tokenizerStallBench(): Promise<void> {
  // Baseline: gpt-tokenizer alone encoding 1 MB of ordinary prose in one call (the loop is held throughout).
  const prose = proseText(MB)
  encode(prose, PLAIN)
  const { cpu: baseline, wall: baselineWall } = await worstStall(() => encode(prose, PLAIN))
  const fmtMs = (ms: number) => `${ms.toFixed(1)} ms`
  tokenRows.push([`tokenizer alone: encode 1 MB of prose in one call (wall ${fmtMs(baselineWall)})`, '1 MB', fmtMs(baseline), '1.00×'])

  // Today's unsliced counting of an unbroken run, at a size that finishes (1 MB takes minutes).
  const runKb = quick ? 25 : 100
  const unbroken = await worstStall(() => encode('x'.repeat(runKb * KB), PLAIN))
  tokenRows.push([
    `tokenizer alone: encode ${runKb} kB of \`x\` in one call, as counting did (wall ${fmtMs(unbroken.wall)})`,
    `${runKb} kB`,
    fmtMs(unbroken.cpu),
    ratio(unbroken.cpu, baseline),
  ])

  const inputs: [string, string, number | undefined][] = [
    ['base64', pseudoRandomBytes((3 * MB) / 4).toString('base64'), undefined],
    ['minified JS', minifiedJs(MB), undefined],
    // gpt-4o encodes 8 `x` as one token.
    ['`x` repeated', 'x'.repeat(MB), MB / 8],
  ]
  for (const [label, text, known] of inputs) {
    // A fresh counter each round (nothing cached); the median round's worst stall, as for the turn rows.
    const stalls: { wall: number; cpu: number }[] = []
    let tokens = 0
    let elapsed = 0
    let counter = createTokenCounter('gpt-4o', gpt4o)
    for (let round = 0; round < ROUNDS; round++) {
      counter = createTokenCounter('gpt-4o', gpt4o)
      const started = performance.now()
      stalls.push(
        await worstStall(async () => {
          tokens = await counter.countAsync({ role: 'user', content: text })
        }),
      )
      elapsed = performance.now() - started
    }
    const stall = stalls.sort((a, b) => a.cpu - b.cpu)[Math.floor(ROUNDS / 2)] as { wall: number; cpu: number }
    const content = tokens - counter.count({ role: 'user', content: '' })
    const exact = known ?? gpt4o.encode(text, PLAIN).length
    const error = content === exact ? 'exact' : `${content - exact > 0 ? '+' : ''}${(((content - exact) / exact) * 100).toFixed(2)}% vs exact`
    tokenRows.push([
      `countAsync: worst stall counting 1 MB of ${label} (wall ${fmtMs(stall.wall)}; ${elapsed.toFixed(0)} ms in all; ${content} tokens, ${error})`,
      '1 MB',
      fmtMs(stall.cpu),
      ratio(stall.cpu, baseline),
    ])
  }
}

function collectGarbage(): () => void {
  setFlagsFromString('--expose-gc')
  return runInNewContext('gc') as () => void
}

function heapAfterGc(gc: () => void): number {
  gc()
  gc()
  return process.memoryUsage().heapUsed
}

async function tokenCacheBench(): Promise<void> {
  const gc = collectGarbage()
  // A stand-in tokenizer, so the heap holds the cache and nothing of gpt-tokenizer's own caches.
  const stub: Tokenizer = { encode: (text) => new Array<number>(Math.ceil(text.length / 4)), encodeChat: (chat) => new Array<number>(3 + 4 * chat.length) }
  const messages = quick ? 500 : 2_000
  const body = 'lorem ipsum dolor sit amet '.repeat((100 * KB) / 27)

  // Baseline: the former cache, keyed by whole contents and bounded by 50,000 entries only.
  let before = heapAfterGc(gc)
  const former = new Map<string, number>()
  for (let i = 0; i < messages; i++) {
    const content = `${i} ${body}`
    former.set(Buffer.from(content, 'latin1').toString('latin1'), stub.encode(content).length)
  }
  const formerBytes = heapAfterGc(gc) - before
  former.clear()

  before = heapAfterGc(gc)
  const counter = createTokenCounter('stub', stub)
  for (let i = 0; i < messages; i++) counter.countText(`${i} ${body}`)
  const cacheBytes = heapAfterGc(gc) - before
  const mb = (bytes: number) => `${(bytes / MB).toFixed(2)} MB`
  tokenRows.push([`former cache (content keys): heap kept after ${messages} distinct 100 kB messages`, `${messages} × 100 kB`, mb(formerBytes), '1.00×'])
  tokenRows.push([
    `token cache: heap kept after the same messages (charged ${mb(counter.cacheStats().bytes)})`,
    `${messages} × 100 kB`,
    mb(cacheBytes),
    ratio(cacheBytes, formerBytes),
  ])

  // The bound: filled past TOKEN_CACHE_BYTES with distinct 300-character messages.
  before = heapAfterGc(gc)
  const full = createTokenCounter('stub', stub)
  const line = 'a typical chat message, a few sentences long, about three hundred characters. '.repeat(4).slice(0, 296)
  const fill = quick ? 40_000 : 80_000
  for (let i = 0; i < fill; i++) full.countText(`${String(i).padStart(4, '0')}${line}`)
  const fullBytes = heapAfterGc(gc) - before
  const stats = full.cacheStats()
  tokenRows.push([
    `token cache: heap kept after ${fill} distinct 300-character messages (${stats.entries} kept, charged ${mb(stats.bytes)} of TOKEN_CACHE_BYTES ${mb(TOKEN_CACHE_BYTES)})`,
    `${fill} × 300 B`,
    mb(fullBytes),
    `${ratio(fullBytes, stats.bytes)} of charge`,
  ])
}

async function redisBench(url: string): Promise<void> {
  const client = new Redis(url, { lazyConnect: true })
  await client.connect()
  // Round trips are counted on the client as writes to its socket: ioredis writes
  // a pipeline in one write, and server-side counters would also count the
  // commands of a pipeline or a script one by one.
  let sent = 0
  const stream = (client as unknown as { stream: { write: (...args: unknown[]) => boolean } }).stream
  const write = stream.write
  stream.write = function (this: unknown, ...args: unknown[]) {
    sent++
    return write.apply(this, args)
  }
  const store = new RedisStore(client, { prefix: `bench${Date.now()}` })
  const pipe = pipelineOn(store)
  const summaryPipe = new Pipeline({
    provider: new MockProvider({ reply: REPLY, model: 'gpt-4o-mini' }),
    store,
    systemPrompt: 'You are a helpful assistant.',
    contextWindow: { maxMessages: WINDOW },
    tokenLimit: { maxTokens: 8_000, model: 'gpt-4o' },
    summary: { provider: new MockProvider({ reply: 'The story so far, updated.' }), after: 30 },
  })
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
    const keys = store.keys(id)
    // Untimed after every turn: both lists back to their starting length.
    const trimRaw = () => client.ltrim(rawKey, 0, length - 1)
    const trimSession = () => client.ltrim(keys.messages, 0, length - 1)
    const floorTurn = (i: number) => rawTurn(client, rawKey, i)
    const storeTurn = (i: number) => pipe.execute(id, 'user', `Follow-up question number ${i}?`)

    // A/B: rounds alternate the raw floor and the RedisStore turn (and which goes
    // first), so both see the same machine load; the figure is each one's median round.
    const floors: number[] = []
    const turns: number[] = []
    let roundTrips = 0
    let counted = 0
    for (let i = 0; i < WARMUP / 5; i++) {
      await floorTurn(i)
      await trimRaw()
      await storeTurn(i)
      await trimSession()
    }
    for (let round = 0; round < ROUNDS_AB; round++) {
      for (const which of round % 2 === 0 ? ['floor', 'store'] : ['store', 'floor']) {
        let total = 0
        for (let i = 0; i < REDIS_TURNS; i++) {
          const before = sent
          const started = performance.now()
          await (which === 'floor' ? floorTurn(i) : storeTurn(i))
          total += performance.now() - started
          if (which === 'store') {
            roundTrips += sent - before
            counted++
          }
          await (which === 'floor' ? trimRaw() : trimSession())
        }
        ;(which === 'floor' ? floors : turns).push((total * 1000) / REDIS_TURNS)
      }
    }
    const floor = median(floors)
    const perTurn = median(turns)
    rows.push(['raw ioredis floor: LRANGE -20 -1 + RPUSH (A/B with the next row)', String(length), fmt(floor), '1.00×'])

    // The same turn with a rolling summary, between two summarising steps: the summary
    // comes back with the tail, so a turn stays at two round trips.
    if (length > WINDOW + 10) await store.saveSummary(id, { content: 'The story so far.', position: length - WINDOW - 10 })
    const sentBeforeSummary = sent
    let summaryTurns = 0
    let summaryTrims = 0
    const perSummaryTurn = await measure(
      REDIS_TURNS,
      WARMUP / 5,
      (i) => {
        summaryTurns++
        return summaryPipe.execute(id, 'user', `Follow-up question number ${i}?`)
      },
      () => {
        summaryTrims++
        return client.ltrim(keys.messages, 0, length - 1)
      },
    )
    const summaryCommands = (sent - sentBeforeSummary - summaryTrims) / summaryTurns

    rows.push([
      `RedisStore turn (window ${WINDOW}, token limit), ${(roundTrips / counted).toFixed(2)} round trips/turn`,
      String(length),
      fmt(perTurn),
      `${ratio(perTurn, floor)} of floor`,
    ])
    rows.push([
      `RedisStore turn with summary (between steps), ${summaryCommands.toFixed(2)} round trips/turn`,
      String(length),
      fmt(perSummaryTurn),
      `${ratio(perSummaryTurn, perTurn)} of the plain RedisStore turn`,
    ])
    await client.del(rawKey)
  }
  await leaseBench(client, () => sent)
  await pipe.shutdown()
  await summaryPipe.shutdown()
  await store.close()
  client.disconnect()

  // Redis' own cost per turn, then throughput, then LangChain's Redis history.
  const cpuTurns = quick ? 1_000 : 5_000
  rows.push(...(await serverCostRows(url, 1_000, cpuTurns, quick ? 1 : 3)))
  rows.push(...(await serverCostRows(url, 1_000, cpuTurns, quick ? 1 : 3, 86_400)).filter((row) => row[0].includes('RedisStore')))
  rows.push(...(await throughputRows(url, 200, 20, quick ? 1 : 5)))
  rows.push(...(await multiProcessRows(url, 8, 200, quick ? 5 : 20)))
  for (const length of HISTORY_LENGTHS) {
    const count = length >= 10_000 ? (quick ? 3 : 20) : quick ? 50 : 200
    rows.push(...(await langchainRedisRows(url, length, count, quick ? 1 : 3)))
  }
}

/**
 * What the per-session lease (`RedisStore` option `lock`) adds to a turn: the same
 * turn with and without it, measured alternately in this run on the same client.
 * Uncontended: the lease's own round trips (SET NX PX, the release), not waiting.
 */
async function leaseBench(client: Redis, sentSoFar: () => number): Promise<void> {
  const prefix = `leasebench${Date.now()}`
  const plain = new RedisStore(client, { prefix })
  const locked = new RedisStore(client, { prefix, lock: { ttlMs: 10_000 } })
  const plainPipe = pipelineOn(plain)
  const lockedPipe = pipelineOn(locked)
  const id = 'lease-10'
  await plain.save(id, history(10))
  const reset = () => client.ltrim(plain.keys(id).messages, 0, 9)
  const run = (pipe: Pipeline) => (i: number) => pipe.execute(id, 'user', `Follow-up question number ${i}?`)
  // Alternate the two, so drift on a shared machine hits both alike.
  let without = Number.POSITIVE_INFINITY
  let withLease = Number.POSITIVE_INFINITY
  let leasedSent = 0
  for (let round = 0; round < 3; round++) {
    without = Math.min(without, await measure(REDIS_TURNS, WARMUP / 5, run(plainPipe), reset))
    const before = sentSoFar()
    withLease = Math.min(withLease, await measure(REDIS_TURNS, WARMUP / 5, run(lockedPipe), reset))
    leasedSent += sentSoFar() - before
  }
  // Each measured call (warm-up included) is one turn and one reset (an LTRIM, not the turn's).
  const calls = 3 * (WARMUP / 5 + ROUNDS * REDIS_TURNS)
  const trips = (leasedSent - calls) / calls
  rows.push(['baseline for the lease row: the same RedisStore turn without a lease', '10–110', fmt(without), '1.00×'])
  rows.push([
    `lease (\`lock\`): RedisStore turn holding the session's lease, ${trips.toFixed(2)} round trips/turn`,
    '10–110',
    `${fmt(withLease)} (+${fmt(withLease - without)})`,
    ratio(withLease, without),
  ])
  await Promise.all([plainPipe.shutdown(), lockedPipe.shutdown()])
  await client.del(...Object.values(plain.keys(id)), `${prefix}:{${id}}:lease`)
}

/** `history(length)` with a tool group (a call and a 2 kB result) in every 10 messages. */
function toolHistory(length: number): Message[] {
  const messages = history(length)
  for (let i = 1; i + 2 < length; i += 10) {
    messages[i] = { role: 'assistant', content: '', toolCalls: [{ id: `call-${i}`, name: 'search', arguments: `{"q":"question ${i}"}` }] }
    messages[i + 1] = { role: 'tool', toolCallId: `call-${i}`, content: `Result ${i}: ${'search result text '.repeat(110)}` }
  }
  return messages
}

/**
 * Issue 9's policies against the plain turn, in the same run, on the same history:
 * a background rolling summary (kept at its steady state: the summary trails the
 * window by `after`), and tool-result clearing with a pinned opening. The summariser
 * is a mock; what matters is the pipeline's own work and the summariser's input size.
 */
async function policyBench(): Promise<void> {
  const store = new MemoryStore()
  let requestChars = 0
  const summariser = new MockProvider({ reply: (messages) => `Summary: ${(messages.at(-1)?.content ?? '').slice(0, 400)}` })
  const base = { provider: new MockProvider({ reply: REPLY, model: 'gpt-4o-mini' }), store, systemPrompt: 'You are a helpful assistant.' }
  const variants: Array<[string, Pipeline]> = [
    [`plain turn (window ${WINDOW}, token limit)`, pipelineOn(store)],
    [
      `summary (background, after 30)`,
      new Pipeline({ ...base, contextWindow: { maxMessages: WINDOW }, tokenLimit: { maxTokens: 8_000, model: 'gpt-4o' }, summary: { provider: summariser, after: 30 } }),
    ],
    [
      `toolResults (keepLast 2) + keepFirst 2`,
      new Pipeline({ ...base, contextWindow: { maxMessages: WINDOW, keepFirst: 2 }, tokenLimit: { maxTokens: 8_000, model: 'gpt-4o' }, toolResults: { keepLast: 2 } }),
    ],
  ]
  for (const [, pipe] of variants) pipe.on('summary:updated', (e) => (requestChars = Math.max(requestChars, e.requestChars)))
  for (const length of HISTORY_LENGTHS) {
    const id = `policies-${length}`
    const stored = toolHistory(length)
    // Untimed, every 50 turns: back to the starting length, with the summary where a steady run keeps it.
    const restore = async () => {
      await store.save(id, stored)
      if (length > WINDOW + 30) await store.saveSummary(id, { content: 'Summary: the story so far.', position: length - WINDOW - 30 })
    }
    let plain: number | undefined
    requestChars = 0
    for (const [name, pipe] of variants) {
      await restore()
      await measure(0, WARMUP, (i) => pipe.execute(id, 'user', `warm-up ${i}`), (i) => ((i + 1) % 50 === 0 ? restore() : undefined))
      await restore()
      const perTurn = await measure(TURNS, WARMUP, (i) => pipe.execute(id, 'user', `Follow-up question number ${i}?`), (i) => ((i + 1) % 50 === 0 ? restore() : undefined))
      plain ??= perTurn
      rows.push([`MemoryStore ${name}`, `${length}–${length + 100}`, fmt(perTurn), `${ratio(perTurn, plain)} of plain turn`])
    }
    rows.push([`summariser's largest request (characters)`, `${length}–${length + 100}`, String(requestChars), '—'])
  }
  await Promise.all(variants.map(([, pipe]) => pipe.shutdown()))
}

async function main(): Promise<void> {
  console.log(
    `promptline bench — node ${process.version}, ${quick ? 'quick' : 'full'} run: median of ${ROUNDS} rounds of ${TURNS} memory / ${REDIS_TURNS} Redis turns per row`,
  )
  encode('warm up the tokenizer')
  if (!tokensOnly) {
    await memoryBench()
    await policyBench()
    // LangChain's trim is quadratic in the history: 10,000 messages take seconds a call.
    rows.push(...(await langchainTrimRows(quick ? 1_000 : 10_000, quick ? 1 : 3)))
  }
  await tokenizerStallBench()
  await tokenCacheBench()

  let server: RedisServer | undefined
  let url = process.env.REDIS_URL
  if (url === undefined && hasRedisServer() && !tokensOnly) {
    server = await startRedisServer()
    url = server.url
  }
  if (tokensOnly) url = undefined
  else if (url === undefined) console.log('\nRedis figures skipped: no REDIS_URL and no redis-server on PATH.')
  if (url !== undefined) {
    try {
      await redisBench(url)
    } finally {
      await server?.stop()
    }
  }

  const header = ['what', 'history', 'per turn', 'ratio']
  const table = [header, header.map(() => '---'), ...rows]
  console.log(`\n${table.map((row) => `| ${row.join(' | ')} |`).join('\n')}`)
  const tokenHeader = ['what', 'input', 'figure', 'ratio']
  const tokenTable = [tokenHeader, tokenHeader.map(() => '---'), ...tokenRows]
  console.log(`\n${tokenTable.map((row) => `| ${row.join(' | ')} |`).join('\n')}`)

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

  // On the JavaScript measureImportCosts just built.
  const estimates = measureEstimateCosts(quick ? 1 : 7)
  const uncounted = estimates.find((cost) => cost.setting === 'false')
  const estimateTable = [
    ['first turn without provider usage', 'turn time', 'RSS added', 'time ratio'],
    ['---', '---', '---', '---'],
    ...estimates.map((cost) => [
      `\`estimateUsage: ${cost.setting}\``,
      `${cost.ms.toFixed(1)} ms`,
      `${cost.rssMb.toFixed(1)} MB`,
      uncounted === undefined ? '—' : `${ratio(cost.ms, uncounted.ms)} of false`,
    ]),
  ]
  console.log(`\n${estimateTable.map((row) => `| ${row.join(' | ')} |`).join('\n')}`)
}

await main()
