/** Example-based tests of the trimming policies; the general properties are in trimming.property.test.ts. */
import { beforeAll, describe, expect, it } from 'vitest'
import { contextWindow } from '../middleware/context-window.js'
import { tokenTruncation } from '../middleware/token-truncation.js'
import { ContextOverflowError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { createTokenCounter, getTokenCounter, type TokenCounter } from '../src/tokens.js'
import { trimView } from '../src/trim.js'
import type { Message } from '../src/types.js'
import { fakeContext, done } from './helpers/fake-context.js'
import { FlakyStore } from './helpers/flaky-store.js'

let counter: TokenCounter
beforeAll(async () => {
  counter = await getTokenCounter('gpt-4o')
})

const SYSTEM = 'You are a weather assistant.'
const sys: Message = { role: 'system', content: SYSTEM }
const call = (id: string) => ({ id, name: 'get_weather', arguments: `{"city":"${id}"}` })
const groupOf3: Message = { role: 'assistant', content: '', toolCalls: [call('c1'), call('c2'), call('c3')] }
const result = (id: string, content = `sunny in ${id}`): Message => ({ role: 'tool', content, toolCallId: id })

describe('ContextOverflowError', () => {
  it('rejects the turn when the system prompt and the newest message alone exceed the budget, naming the numbers', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider()
    const longPrompt = 'Always answer in full sentences. '.repeat(10)
    const pipe = new Pipeline({ provider, store, systemPrompt: longPrompt, tokenLimit: { maxTokens: 60, reserveForResponse: 10 } })
    const input: Message = { role: 'user', content: 'Hello there' }
    const required = counter.countRequest([{ role: 'system', content: longPrompt }, input])
    expect(required).toBeGreaterThan(50)

    const error = await pipe.execute('s', 'user', 'Hello there').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ContextOverflowError)
    const overflow = error as ContextOverflowError
    expect(overflow.requiredTokens).toBe(required)
    expect(overflow.maxTokens).toBe(50)
    expect(overflow.message).toContain(`needs ${required} tokens`)
    expect(overflow.message).toContain('budget is 50')
    expect(overflow.message).toMatch(/`maxTokens` 60/)
    expect(overflow.message).toMatch(/`reserveForResponse` 10/)
    expect(provider.requests).toHaveLength(0)
    expect(await store.length('s')).toBe(0)
  })

  it('counts the newest message too: a huge input overflows even without a system prompt', async () => {
    const middleware = tokenTruncation({ maxTokens: 20 })
    const ctx = fakeContext([{ role: 'user', content: 'word '.repeat(100) }])
    await expect(middleware(ctx, done)).rejects.toThrow(/budget is 20/)
  })

  it('does not fire when the budget is exactly the size of pinned + newest', async () => {
    const view: Message[] = [sys, { role: 'user', content: 'old message that will go' }, { role: 'user', content: 'new' }]
    const exact = counter.countRequest([sys, { role: 'user', content: 'new' }])
    const ctx = fakeContext(view)
    await tokenTruncation({ maxTokens: exact })(ctx, done)
    expect(ctx.messages).toEqual([sys, { role: 'user', content: 'new' }])
    expect(ctx.trimmed['token-truncation']).toEqual({ kept: 2, dropped: 1, tokens: exact })
  })
})

describe('tool groups', () => {
  it('keeps the newest tool group whole even when it is larger than the window', async () => {
    const store = new MemoryStore()
    await store.save('s', [{ role: 'user', content: 'Weather in three cities?' }, groupOf3, result('c1'), result('c2')])
    const provider = new MockProvider({ reply: 'Sunny everywhere.' })
    const pipe = new Pipeline({ provider, store, systemPrompt: SYSTEM, contextWindow: { maxMessages: 2 } })
    const turn = await pipe.execute('s', 'tool', 'sunny in c3', { toolCallId: 'c3' })
    expect(turn.messages).toEqual([sys, groupOf3, result('c1'), result('c2'), result('c3')])
    expect(provider.requests[0]?.messages).toEqual(turn.messages)
  })

  it('drops an older tool group whole when the window cannot hold it', async () => {
    const ctx = fakeContext([sys, { role: 'user', content: 'q' }, groupOf3, result('c1'), result('c2'), result('c3'), { role: 'assistant', content: 'a' }, { role: 'user', content: 'next' }])
    await contextWindow({ maxMessages: 4 })(ctx, done)
    expect(ctx.messages).toEqual([sys, { role: 'assistant', content: 'a' }, { role: 'user', content: 'next' }])
    expect(ctx.events.map((e) => e.name)).toEqual(['context:trimmed'])
    expect(ctx.events[0]?.payload).toMatchObject({ kept: 3, dropped: 5, maxMessages: 4 })
  })

  it('drops a tool group whole under a token budget that would fit part of it', async () => {
    const big = result('c3', 'a very long weather report '.repeat(20))
    const messages: Message[] = [sys, groupOf3, result('c1'), result('c2'), big, { role: 'user', content: 'thanks' }]
    // Room for everything but the first parts of the group: the whole group must go.
    const budget = counter.countRequest([sys, result('c2'), big, { role: 'user', content: 'thanks' }])
    const ctx = fakeContext(messages.slice())
    await tokenTruncation({ maxTokens: budget })(ctx, done)
    expect(ctx.messages).toEqual([sys, { role: 'user', content: 'thanks' }])
    expect(ctx.events.map((e) => e.name)).toEqual(['tokens:truncated'])
    expect(ctx.events[0]?.payload).toMatchObject({ kept: 2, dropped: 4, maxTokens: budget })
  })

  it('state-load widens the tail when it starts inside a tool group, so the newest group stays whole', async () => {
    const store = new FlakyStore()
    const history: Message[] = [
      { role: 'user', content: 'u1' },
      { role: 'assistant', content: 'a1' },
      { role: 'user', content: 'Weather in three cities?' },
      groupOf3,
      result('c1'),
      result('c2'),
    ]
    await store.save('s', history)
    const provider = new MockProvider({ reply: 'done' })
    const pipe = new Pipeline({ provider, store, contextWindow: { maxMessages: 2 } })
    const turn = await pipe.execute('s', 'tool', 'sunny in c3', { toolCallId: 'c3' })
    // last 2 = [c1, c2] starts with a tool message → widened to 4 = [u2, A, c1, c2].
    expect(store.loadCalls.map((c) => c.options?.last)).toEqual([2, 4])
    expect(turn.messages).toEqual([groupOf3, result('c1'), result('c2'), result('c3')])
  })

  it('after widening, a group that does not fit is dropped whole: the view never starts with a tool message', async () => {
    const store = new FlakyStore()
    await store.save('s', [{ role: 'user', content: 'u1' }, groupOf3, result('c1'), result('c2'), result('c3')])
    const pipe = new Pipeline({ provider: new MockProvider(), store, systemPrompt: SYSTEM, contextWindow: { maxMessages: 2 } })
    const turn = await pipe.execute('s', 'user', 'And tomorrow?')
    // last 2 = [c2, c3] → widened to 4 = [A, c1, c2, c3]: whole, but the window cannot hold it next to the input.
    expect(store.loadCalls.map((c) => c.options?.last)).toEqual([2, 4])
    expect(turn.messages).toEqual([sys, { role: 'user', content: 'And tomorrow?' }])
  })

  // A store's own `maxMessages` cap can cut a tool group: keeping the newest 3 of
  // [q, A(c1,c2,c3), c1, c2, c3, 'It is sunny.'] leaves [c2, c3, 'It is sunny.'], and c2, c3 are orphans.
  async function cappedStore(): Promise<MemoryStore> {
    const store = new MemoryStore({ maxMessages: 3 })
    await store.save('s', [{ role: 'user', content: 'q' }, groupOf3, result('c1'), result('c2'), result('c3'), { role: 'assistant', content: 'It is sunny.' }])
    expect((await store.load('s'))[0]?.role).toBe('tool')
    return store
  }

  it.each([
    ['a window', { contextWindow: { maxMessages: 10 } }],
    ['a token limit only', { contextWindow: false as const, tokenLimit: { maxTokens: 1000 } }],
    ['no trimming policy at all', { contextWindow: false as const }],
  ])('never starts the view with orphan tool messages left by a store cap that cut a group (%s)', async (_label, options) => {
    const store = await cappedStore()
    const provider = new MockProvider()
    const pipe = new Pipeline({ provider, store, systemPrompt: SYSTEM, ...options })
    const turn = await pipe.execute('s', 'user', 'Thanks')
    expect(turn.messages).toEqual([sys, { role: 'assistant', content: 'It is sunny.' }, { role: 'user', content: 'Thanks' }])
    expect(provider.requests[0]?.messages[1]?.role).not.toBe('tool')
  })
})

describe('trimView', () => {
  it('returns the very same array when nothing is dropped, and a new one otherwise', () => {
    const messages: Message[] = [sys, { role: 'user', content: 'a' }, { role: 'assistant', content: 'b' }]
    expect(trimView(messages, () => true)).toBe(messages)
    const trimmed = trimView(messages, () => false)
    expect(trimmed).not.toBe(messages)
    expect(trimmed).toEqual([sys, { role: 'assistant', content: 'b' }])
    expect(messages).toHaveLength(3)
  })

  it('never offers the newest unit: it is kept even when the policy refuses everything', () => {
    const offers: Array<[number, number]> = []
    const view = trimView([sys, { role: 'user', content: 'q' }, groupOf3, result('c1'), result('c2'), result('c3')], (start, end) => {
      offers.push([start, end])
      return false
    })
    expect(offers).toEqual([[1, 2]])
    expect(view).toEqual([sys, groupOf3, result('c1'), result('c2'), result('c3')])
  })
})

describe('sliding window through the pipeline', () => {
  it('reports what it kept and dropped in result.trimmed, while the store keeps every message', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, contextWindow: { maxMessages: 3 } })
    for (let i = 0; i < 3; i++) await pipe.execute('s', 'user', `m${i}`)
    const turn = await pipe.execute('s', 'user', 'm3')
    // Loaded the last 3 stored + the input = 4 → 3 kept.
    expect(turn.trimmed['context-window']).toEqual({ kept: 3, dropped: 1 })
    expect(turn.messages.map((m) => m.content)).toEqual(['m2', 'Echo: m2', 'm3'])
    expect(await store.length('s')).toBe(8)
  })

  it('tokenTruncation uses a given counter instead of loading one', async () => {
    let encodes = 0
    const tokenizer = await import('gpt-tokenizer/model/gpt-4o')
    const custom = createTokenCounter('gpt-4o', {
      encode: (text, options) => {
        encodes++
        return tokenizer.encode(text, options)
      },
      encodeChat: (chat) => tokenizer.encodeChat(chat as Parameters<typeof tokenizer.encodeChat>[0]),
    })
    const ctx = fakeContext([{ role: 'user', content: 'count me' }])
    await tokenTruncation({ maxTokens: 100, counter: custom, model: 'label-only' })(ctx, done)
    expect(encodes).toBe(1)
    expect(ctx.trimmed['token-truncation']?.tokens).toBe(counter.countRequest([{ role: 'user', content: 'count me' }]))
  })
})
