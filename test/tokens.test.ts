/**
 * Token counting (src/tokens.ts): exact agreement with gpt-tokenizer's encodeChat,
 * robustness, and the cost bound — each message is tokenized once per process,
 * however many turns it stays in view.
 */
import fc from 'fast-check'
import * as gpt35turbo from 'gpt-tokenizer/model/gpt-3.5-turbo'
import * as gpt4 from 'gpt-tokenizer/model/gpt-4'
import * as gpt41 from 'gpt-tokenizer/model/gpt-4.1'
import * as gpt4o from 'gpt-tokenizer/model/gpt-4o'
import * as gpt4oMini from 'gpt-tokenizer/model/gpt-4o-mini'
import { describe, expect, it } from 'vitest'
import { contextWindow, providerCall, stateLoad, stateSave, tokenTruncation } from '../middleware/index.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import {
  createTokenCounter,
  getTokenCounter,
  isKnownChatModel,
  TOOL_CALL_OVERHEAD_TOKENS,
  type Tokenizer,
} from '../src/tokens.js'
import { TOKEN_CACHE_ENTRY_BYTES } from '../src/token-cache.js'
import type { Message, Role } from '../src/types.js'
import { FlakyStore } from './helpers/flaky-store.js'

const TOKENIZERS: Record<string, Tokenizer> = {
  'gpt-4o': gpt4o,
  'gpt-4o-mini': gpt4oMini,
  'gpt-4.1': gpt41,
  'gpt-3.5-turbo': gpt35turbo,
  'gpt-4': gpt4,
}

/** Text without special-token markup (encodeChat throws on it; the counter does not, see below). */
const contentArb = fc
  .oneof(
    fc.string({ maxLength: 60 }),
    fc.string({ unit: 'grapheme', maxLength: 30 }),
    fc.string({ unit: 'binary', maxLength: 20 }),
    fc.array(fc.constantFrom('Hello', ' world', '\n\n', '  ', 'ünïcödé', '🙂', '{"a":1}', '1234567'), { maxLength: 12 }).map((p) => p.join('')),
  )
  .filter((text) => !text.includes('<|'))

const plainMessageArb: fc.Arbitrary<Message & { name?: string }> = fc
  .record({
    role: fc.constantFrom<Role>('system', 'user', 'assistant', 'tool'),
    content: contentArb,
    name: fc.option(fc.stringMatching(/^[a-zA-Z0-9_-]{1,16}$/), { nil: undefined }),
  })
  .map(({ role, content, name }) => (name === undefined ? { role, content } : { role, content, name }))

/** A tokenizer that counts the calls reaching it. */
function countingTokenizer(base: Tokenizer) {
  const calls = { encode: [] as string[], encodeChat: 0 }
  const tokenizer: Tokenizer = {
    encode(text, options) {
      calls.encode.push(text)
      return base.encode(text, options)
    },
    encodeChat(chat) {
      calls.encodeChat++
      return base.encodeChat(chat)
    },
  }
  return { tokenizer, calls }
}

describe.each(Object.keys(TOKENIZERS))('the %s counter', (model) => {
  const tokenizer = TOKENIZERS[model] as Tokenizer

  it('counts a request exactly as encodeChat does, for random conversations with roles and names', async () => {
    const counter = await getTokenCounter(model)
    expect(counter.model).toBe(model)
    expect(counter.primingTokens).toBe(tokenizer.encodeChat([]).length)
    fc.assert(
      fc.property(fc.array(plainMessageArb, { maxLength: 8 }), (messages) => {
        expect(counter.countRequest(messages)).toBe(tokenizer.encodeChat(messages).length)
        // …and a message's count is its share of the request.
        for (const message of messages) {
          expect(counter.count(message)).toBe(tokenizer.encodeChat([message]).length - counter.primingTokens)
        }
      }),
      { numRuns: 150 },
    )
  })

  it('counts text with special-token markup as plain text instead of throwing', async () => {
    const counter = await getTokenCounter(model)
    const text = 'ignore this: <|endoftext|><|im_start|>system<|im_sep|>'
    expect(() => tokenizer.encodeChat([{ role: 'user', content: text }])).toThrow()
    const plain = tokenizer.encode(text, { disallowedSpecial: new Set() }).length
    expect(counter.countText(text)).toBe(plain)
    expect(counter.count({ role: 'user', content: text })).toBe(counter.count({ role: 'user', content: '' }) + plain)
  })
})

describe('token counters', () => {
  it('are process-wide: one counter per model', async () => {
    const [a, b] = await Promise.all([getTokenCounter('gpt-4o'), getTokenCounter('gpt-4o')])
    expect(a).toBe(b)
    expect(await getTokenCounter('gpt-4')).not.toBe(a)
  })

  it('reject an unknown model with a TypeError naming it', async () => {
    expect(isKnownChatModel('not-a-model')).toBe(false)
    expect(isKnownChatModel('gpt-4o')).toBe(true)
    await expect(async () => getTokenCounter('not-a-model')).rejects.toThrow(TypeError)
    await expect(async () => getTokenCounter('not-a-model')).rejects.toThrow(/`model`.*"not-a-model"/)
  })

  it('do not throw on special-token markup in a message name', async () => {
    const counter = await getTokenCounter('gpt-4o')
    expect(() => counter.count({ role: 'user', content: 'hi', name: '<|endoftext|>' })).not.toThrow()
  })

  it('count tool calls: their name, arguments and a fixed framing', async () => {
    const counter = await getTokenCounter('gpt-4o')
    const call = { id: 'call_1', name: 'get_weather', arguments: '{"city":"Paris","unit":"celsius"}' }
    const bare: Message = { role: 'assistant', content: 'Let me check.' }
    const withCall: Message = { ...bare, toolCalls: [call, { ...call, id: 'call_2' }] }
    const perCall = counter.countText(call.name) + counter.countText(call.arguments) + TOOL_CALL_OVERHEAD_TOKENS
    expect(counter.count(withCall)).toBe(counter.count(bare) + 2 * perCall)
    expect(perCall).toBeGreaterThan(10)
  })

  it('tokenize a content once, recount a changed content, and evict the oldest beyond cacheBytes', () => {
    const { tokenizer, calls } = countingTokenizer(gpt4o)
    // Room for exactly the first two contents below (an entry costs 2 bytes a character plus its overhead).
    const cacheBytes = 2 * TOKEN_CACHE_ENTRY_BYTES + 2 * ('first version'.length + 'a changed, longer second version'.length)
    const counter = createTokenCounter('gpt-4o', tokenizer, { cacheBytes })
    const message: Message = { role: 'user', content: 'first version' }
    const first = counter.count(message)
    expect(counter.count(message)).toBe(first)
    expect(counter.count({ role: 'assistant', content: 'first version' })).toBe(first)
    expect(calls.encode).toEqual(['first version'])

    message.content = 'a changed, longer second version'
    const second = counter.count(message)
    expect(calls.encode).toEqual(['first version', 'a changed, longer second version'])
    expect(second).toBe(first - gpt4o.encode('first version').length + gpt4o.encode(message.content).length)

    counter.countText('third') // evicts 'first version', the oldest
    counter.countText('a changed, longer second version')
    counter.countText('first version')
    expect(calls.encode).toEqual(['first version', 'a changed, longer second version', 'third', 'first version'])
    // The empty string costs no tokenizer call.
    expect(counter.countText('')).toBe(0)
    expect(calls.encode).toHaveLength(4)
  })
})

describe('cost does not grow with history', () => {
  it('over 50 turns tokenizes each message once and loads only the window tail', async () => {
    const { tokenizer, calls } = countingTokenizer(gpt4o)
    const counter = createTokenCounter('gpt-4o', tokenizer)
    const store = new FlakyStore()
    const provider = new MockProvider()
    const entered = new Set<string>()
    let enteredTotal = 0
    const pipe = Pipeline.from(
      [
        stateLoad(store, { last: 10 }),
        contextWindow({ maxMessages: 10 }),
        async function recordContents(ctx, next) {
          for (const message of ctx.messages) entered.add(message.content)
          enteredTotal += ctx.messages.length
          await next()
        },
        tokenTruncation({ maxTokens: 120, counter }),
        providerCall(provider),
        stateSave(store),
      ],
      { systemPrompt: 'You are terse and precise.' },
    )

    let truncatedTurns = 0
    for (let i = 0; i < 50; i++) {
      const result = await pipe.execute('s', 'user', `Question ${i}: tell me about topic number ${i}`)
      if ((result.trimmed['token-truncation']?.dropped ?? 0) > 0) truncatedTurns++
    }

    // What entered token-truncation: 50 inputs, 49 replies (the last one is never
    // in a view) and the system prompt, each distinct.
    expect(entered.size).toBe(100)
    // Each of them was tokenized exactly once across all turns, not once per turn it
    // stayed in the window: token-truncation was handed 525 messages in total
    // (turn i: system + min(2i + 1, 10)), which an uncached counter would re-encode.
    expect(calls.encode).toHaveLength(entered.size)
    expect(new Set(calls.encode).size).toBe(calls.encode.length)
    expect(enteredTotal).toBe(525)
    // encodeChat only primes the counter and probes each role's overhead once.
    expect(calls.encodeChat).toBe(1 + 3)
    // The budget did trim views, so counting happened on the refusing path too.
    expect(truncatedTurns).toBeGreaterThan(0)

    // Loading is bounded too: every load asked for the window tail only.
    expect(store.loadCalls).toHaveLength(50)
    expect(store.loadCalls.every((c) => c.options?.last === 10)).toBe(true)
    expect(await store.inner.length('s')).toBe(100)
  })
})
