/**
 * Counting stays bounded (issue 14, items 7 and 10): a long message without
 * whitespace never reaches the tokenizer in one piece, never holds the event loop,
 * ends a too-small budget in ContextOverflowError instead of a RangeError, and the
 * count cache is bounded by bytes, not by entries of any size.
 */
import fc from 'fast-check'
import * as gpt35turbo from 'gpt-tokenizer/model/gpt-3.5-turbo'
import * as gpt4 from 'gpt-tokenizer/model/gpt-4'
import * as gpt41 from 'gpt-tokenizer/model/gpt-4.1'
import * as gpt4o from 'gpt-tokenizer/model/gpt-4o'
import * as gpt4oMini from 'gpt-tokenizer/model/gpt-4o-mini'
import { afterEach, describe, expect, it, vi } from 'vitest'
import { tokenTruncation } from '../middleware/index.js'
import { ContextOverflowError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { fakeContext } from './helpers/fake-context.js'
import { TOKEN_CACHE_ENTRY_BYTES, TOKEN_CACHE_KEY_CHARS, TokenCountCache } from '../src/token-cache.js'
import { FORCED_CUT_MARGIN_TOKENS, SLICE_CHARS, sliceEnd } from '../src/token-slices.js'
import { createTokenCounter, getTokenCounter, tokenUpperBound, type Tokenizer } from '../src/tokens.js'
import type { Message, Provider } from '../src/types.js'

const TOKENIZERS: Record<string, Tokenizer> = {
  'gpt-4o': gpt4o,
  'gpt-4o-mini': gpt4oMini,
  'gpt-4.1': gpt41,
  'gpt-3.5-turbo': gpt35turbo,
  'gpt-4': gpt4,
}
const PLAIN = { disallowedSpecial: new Set<string>() }
const KB = 1024

/** gpt-4o's tokenizer, refusing (instead of stalling on) any text longer than 4 kB. */
function guardedTokenizer() {
  const lengths: number[] = []
  const tokenizer: Tokenizer = {
    encode(text, options) {
      lengths.push(text.length)
      if (text.length > 4 * KB) throw new Error(`encode was handed ${text.length} characters at once`)
      return gpt4o.encode(text, options)
    },
    encodeChat: (chat) => gpt4o.encodeChat(chat),
  }
  return { tokenizer, lengths }
}

/**
 * The longest the event loop was held while `work` runs: the most CPU time the
 * process spent between two ticks of a 1 ms interval timer (CPU time rather than
 * wall time, so a loaded machine that deschedules the process does not count).
 */
async function worstStall(work: () => Promise<unknown>): Promise<number> {
  let lastCpu = process.cpuUsage()
  let worst = 0
  const tick = () => {
    const used = process.cpuUsage(lastCpu)
    worst = Math.max(worst, (used.user + used.system) / 1000)
    lastCpu = process.cpuUsage()
  }
  const probe = setInterval(tick, 1)
  try {
    await work()
  } finally {
    clearInterval(probe)
  }
  tick()
  return worst
}

function pseudoRandomBase64(bytes: number, seed = 7): string {
  const data = Buffer.alloc(bytes)
  let state = seed
  for (let i = 0; i < bytes; i++) {
    state = (state * 1103515245 + 12345) & 0x7fffffff
    data[i] = state >> 16
  }
  return data.toString('base64')
}

describe('slicing a long text for the tokenizer', () => {
  const parts = ['a', 'x', 'Z', 'Hello', ' ', '  ', '\t', '\n', '\r\n', '1', '23', '4567', '.', ',', "'s", "'", '’', '!', '(', '{', '"',
    'é', 'e\u0301', 'ß', '日本', '🙂', '👍🏽', '\u00a0', '/', '-', '_', '٣', 'ǅ', 'ʰ', 'ab12cd', '+', '=']
  const textArb = fc.array(fc.constantFrom(...parts), { maxLength: 60 }).map((p) => p.join(''))

  it.each(Object.keys(TOKENIZERS))('adds up to the exact %s count at natural cuts, and never below it at forced ones', (model) => {
    const tokenizer = TOKENIZERS[model] as Tokenizer
    fc.assert(
      fc.property(textArb, fc.integer({ min: 1, max: 12 }), (text, sliceChars) => {
        let sum = 0
        let forced = 0
        for (let start = 0; start < text.length; ) {
          const slice = sliceEnd(text, start, sliceChars)
          expect(slice.end).toBeGreaterThan(start)
          sum += tokenizer.encode(text.slice(start, slice.end), PLAIN).length
          if (slice.forced) forced++
          start = slice.end
        }
        const exact = tokenizer.encode(text, PLAIN).length
        if (forced === 0) expect(sum).toBe(exact)
        else expect(sum + forced * FORCED_CUT_MARGIN_TOKENS).toBeGreaterThanOrEqual(exact)
      }),
      { numRuns: 400 },
    )
  })

  it('counts ordinary long text exactly, in slices of at most SLICE_CHARS', () => {
    const words = ['The', ' pipeline', ' keeps', ' state', ',', ' über', ' 日本語', ' 12345', '.\n', '\n\n', '  indented', ' {"a":1}', ' it\'s', ' 🙂']
    let text = ''
    for (let i = 0; text.length < 200 * KB; i++) text += words[(i * 7 + (i >> 3)) % words.length]
    const { tokenizer, lengths } = guardedTokenizer()
    const counter = createTokenCounter('gpt-4o', tokenizer)
    expect(counter.countText(text)).toBe(gpt4o.encode(text, PLAIN).length)
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SLICE_CHARS)
  })
})

describe('a long message without whitespace', () => {
  it('never reaches the tokenizer in one piece, and its count is a small over-estimate', async () => {
    const { tokenizer, lengths } = guardedTokenizer()
    const counter = createTokenCounter('gpt-4o', tokenizer)
    const text = 'x'.repeat(64 * KB)
    const tokens = await counter.countAsync({ role: 'user', content: text })
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SLICE_CHARS)
    // gpt-4o encodes 8 `x` as one token: the exact count is 8192.
    const exact = (64 * KB) / 8
    expect(tokens - 4).toBeGreaterThanOrEqual(exact) // 4: the user message's framing
    const forcedCuts = (64 * KB) / SLICE_CHARS - 1
    expect(tokens - 4).toBeLessThanOrEqual(exact + forcedCuts * 6) // at most 6 tokens a forced cut
    expect(counter.count({ role: 'user', content: text })).toBe(tokens)
  })

  it('does not hold the event loop while 200 kB of `x` are counted', async () => {
    const counter = createTokenCounter('gpt-4o', gpt4o)
    const stall = await worstStall(() => counter.countAsync({ role: 'user', content: 'x'.repeat(200 * KB) }))
    // Paced work yields every 2 ms; the bound is loose (GC threads count too). The unpaced count holds the loop for ~14 s.
    expect(stall).toBeLessThan(500)
  })

  it('stops counting with the reason when its signal aborts', async () => {
    const counter = createTokenCounter('gpt-4o', gpt4o)
    const controller = new AbortController()
    setTimeout(() => controller.abort(new Error('enough')), 5)
    const counting = counter.countAsync({ role: 'user', content: 'x'.repeat(4 * 1024 * KB) }, { signal: controller.signal })
    await expect(counting).rejects.toThrow('enough')
    expect(counter.cacheStats().entries).toBe(0)
  })

  it('ends a turn in ContextOverflowError (not a RangeError) after tokenizing about the budget, for 1 MB', async () => {
    const { tokenizer, lengths } = guardedTokenizer()
    const counter = createTokenCounter('gpt-4o', tokenizer)
    const truncate = tokenTruncation({ maxTokens: 8000, counter })
    const ctx = fakeContext([{ role: 'system', content: 'Be terse.' }, { role: 'user', content: 'x'.repeat(1024 * KB) }])
    const error = await truncate(ctx, async () => {}).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ContextOverflowError)
    expect((error as Error).message).toMatch(/newest message \(at least \d+ tokens\)/)
    // Counting stopped once the message passed the budget: about 8192 tokens of `x`, not 1 MB.
    const encoded = lengths.reduce((a, b) => a + b, 0)
    expect(encoded).toBeLessThan(128 * KB)
  })

  it('ends in ContextOverflowError with the real gpt-4o counter too', async () => {
    const pipe = new Pipeline({ provider: { name: 'never', complete: () => Promise.reject(new Error('not called')) }, store: new MemoryStore(), tokenLimit: { maxTokens: 8000 } })
    await expect(pipe.execute('s', 'user', 'x'.repeat(1024 * KB))).rejects.toBeInstanceOf(ContextOverflowError)
    await pipe.shutdown()
  })
})

describe('paced counting under fake timers', () => {
  afterEach(() => vi.useRealTimers())

  it('still finishes turns when the test suite fakes setImmediate', async () => {
    vi.useFakeTimers({ toFake: ['setTimeout', 'setImmediate', 'setInterval', 'Date'] })
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'ok' }), store: new MemoryStore(), tokenLimit: { maxTokens: 100_000 } })
    // Each turn counts 20 kB, long enough to yield; a faked setImmediate would never resume it.
    for (let i = 0; i < 20; i++) {
      const result = await pipe.execute('s', 'user', `${'x'.repeat(20 * KB)} ${i}`)
      expect(result.response.content).toBe('ok')
    }
    await pipe.shutdown()
  })
})

describe('the local usage estimate', () => {
  it('counts a 100 kB reply without whitespace without holding the event loop, and keeps the turn', async () => {
    const reply = 'x'.repeat(100 * KB)
    const provider: Provider = { name: 'no-usage', complete: async () => ({ message: { role: 'assistant', content: reply }, finishReason: 'stop' }) }
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider, store })
    let result: Awaited<ReturnType<Pipeline['execute']>> | undefined
    const stall = await worstStall(async () => {
      result = await pipe.execute('s', 'user', 'Send me the file.')
    })
    // The unpaced estimate holds the loop for ~4 s here (and throws a RangeError at 1 MB).
    expect(stall).toBeLessThan(500)
    const exact = reply.length / 8 // gpt-4o encodes 8 `x` as one token
    expect(result?.usage?.estimated).toBe(true)
    expect(result?.usage?.outputTokens).toBeGreaterThanOrEqual(exact)
    expect(result?.usage?.outputTokens).toBeLessThanOrEqual(exact + (reply.length / SLICE_CHARS) * 6)
    expect(await store.length('s')).toBe(2)
    await pipe.shutdown()
  })

  it('counts 512 kB of base64 exactly: it has natural cuts everywhere', async () => {
    const text = pseudoRandomBase64(384 * KB)
    const { tokenizer, lengths } = guardedTokenizer()
    const counter = createTokenCounter('gpt-4o', tokenizer)
    expect(await counter.countAsync({ role: 'assistant', content: text })).toBe(counter.count({ role: 'assistant', content: '' }) + gpt4o.encode(text, PLAIN).length)
    expect(Math.max(...lengths)).toBeLessThanOrEqual(SLICE_CHARS)
  })

  it('falls back to a UTF-8 bound that is never below the count', async () => {
    const counter = await getTokenCounter('gpt-4o')
    const messages: Message[] = [
      { role: 'system', content: 'Be terse.' },
      { role: 'user', content: 'ünïcödé 🙂 and <|endoftext|>', name: 'alice' },
      { role: 'assistant', content: '', toolCalls: [{ id: 'c', name: 'lookup', arguments: '{"q":"x"}' }] },
      { role: 'user', content: pseudoRandomBase64(3 * KB) },
    ]
    expect(tokenUpperBound(messages, true)).toBeGreaterThanOrEqual(counter.countRequest(messages))
    const reply = messages[1] as Message
    expect(tokenUpperBound([reply], false)).toBeGreaterThanOrEqual(counter.count(reply) - counter.count({ role: 'user', content: '' }))
  })
})

describe('the count cache', () => {
  it('is bounded by bytes: 2,000 distinct 100 kB messages keep a few hundred kB, not 200 MB', () => {
    // A stand-in tokenizer: this test is about what the cache keeps, not about encoding.
    const stub: Tokenizer = { encode: (text) => new Array<number>(Math.ceil(text.length / 4)), encodeChat: (chat) => new Array<number>(3 + 4 * chat.length) }
    const counter = createTokenCounter('stub', stub)
    const body = 'lorem ipsum '.repeat((100 * KB) / 12)
    for (let i = 0; i < 2000; i++) counter.countText(`${i} ${body}`)
    const stats = counter.cacheStats()
    expect(stats.entries).toBe(2000)
    // Each long content is remembered by a 45-character hash, not by its 100 kB.
    expect(stats.bytes).toBe(2000 * (2 * 45 + TOKEN_CACHE_ENTRY_BYTES))
    // Still cached: counting again does not tokenize.
    let calls = 0
    const again = createTokenCounter('stub', { ...stub, encode: (text) => (calls++, stub.encode(text)) })
    again.countText(`0 ${body}`)
    const first = calls
    again.countText(`0 ${body}`)
    expect(calls).toBe(first)
  })

  it('keys a long content by its hash, never by a text another content could be', () => {
    const cache = new TokenCountCache(1024)
    const long = 'y'.repeat(TOKEN_CACHE_KEY_CHARS + 1)
    const key = cache.keyOf(long)
    expect(key).toHaveLength(45)
    expect(cache.keyOf(long.slice(1) + 'z')).not.toBe(key)
    // A short content that looks like a hashed key is hashed too, so the two cannot collide.
    expect(cache.keyOf(key)).not.toBe(key)
    expect(cache.keyOf('short')).toBe('short')
    // Lone surrogates stay distinct (UTF-8 would turn both into U+FFFD).
    expect(cache.keyOf(`${long}\uD800`)).not.toBe(cache.keyOf(`${long}\uD801`))
  })

  it('evicts the oldest entries to stay within cacheBytes', () => {
    const counter = createTokenCounter('gpt-4o', gpt4o, { cacheBytes: 10 * KB })
    for (let i = 0; i < 500; i++) counter.countText(`message number ${i} `.repeat(1 + (i % 40)))
    const stats = counter.cacheStats()
    expect(stats.maxBytes).toBe(10 * KB)
    expect(stats.bytes).toBeLessThanOrEqual(10 * KB)
    expect(stats.entries).toBeGreaterThan(10)
  })

  it.each([
    [{ limit: -1 }, /`limit`.*-1/],
    [{ limit: 1.5 }, /`limit`.*1\.5/],
    [{ limit: '10' }, /`limit`/],
    [{ signal: {} }, /`signal`.*AbortSignal/],
    [{ limt: 10 }, /did you mean `limit`/],
    ['fast', /`options`/],
  ])('countAsync rejects the options %j', async (options, message) => {
    const counter = await getTokenCounter('gpt-4o')
    await expect(counter.countAsync({ role: 'user', content: 'hi' }, options as never)).rejects.toThrow(TypeError)
    await expect(counter.countRequestAsync([], options as never)).rejects.toThrow(message)
  })

  it('rejects a bad cacheBytes and unknown options', () => {
    expect(() => createTokenCounter('gpt-4o', gpt4o, { cacheBytes: 0 })).toThrow(/`cacheBytes`.*0/)
    expect(() => createTokenCounter('gpt-4o', gpt4o, { cacheByte: 5 } as never)).toThrow(/did you mean `cacheBytes`/)
  })
})
