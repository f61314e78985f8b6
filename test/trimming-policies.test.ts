/**
 * Example-based tests of the policies of issue 9: `contextWindow.keepFirst` and
 * `startOn`, `toolResults`, `tokenLimit.oversized`. Their general properties are in
 * trimming.property.test.ts.
 */
import { beforeAll, describe, expect, it } from 'vitest'
import { contextWindow } from '../middleware/context-window.js'
import { stateLoad } from '../middleware/state-load.js'
import { tokenTruncation } from '../middleware/token-truncation.js'
import { toolResults, DEFAULT_TOOL_RESULT_PLACEHOLDER } from '../middleware/tool-results.js'
import { ContextOverflowError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { getTokenCounter, type TokenCounter } from '../src/tokens.js'
import { startOnUser } from '../src/trim.js'
import type { Message } from '../src/types.js'
import { done, fakeContext } from './helpers/fake-context.js'
import { assistant, numbered, user } from './helpers/messages.js'

let counter: TokenCounter
beforeAll(async () => {
  counter = await getTokenCounter('gpt-4o')
})

const sys: Message = { role: 'system', content: 'Be terse.' }
const calls = (...ids: string[]): Message => ({
  role: 'assistant',
  content: '',
  toolCalls: ids.map((id) => ({ id, name: 'search', arguments: `{"q":"${id}"}` })),
})
const result = (id: string, content = `result of ${id}`): Message => ({ role: 'tool', content, toolCallId: id })
const contents = (messages: readonly Message[]) => messages.map((m) => `${m.role[0]}:${m.content}`)

async function viewOf(stored: Message[], options: ConstructorParameters<typeof Pipeline>[0] extends infer O ? Partial<O> : never, input = 'now') {
  const store = new MemoryStore()
  if (stored.length > 0) await store.save('s', stored)
  const provider = new MockProvider({ reply: 'ok' })
  const pipe = new Pipeline({ provider, store, ...options })
  const turn = await pipe.execute('s', 'user', input)
  // Trimming never touches the store.
  expect(await store.load('s')).toStrictEqual([...stored, user(input), assistant('ok')])
  return { view: provider.requests[0]?.messages ?? [], turn }
}

describe('contextWindow.keepFirst', () => {
  it.each([
    // [label, stored, maxMessages, keepFirst, expected view after the system prompt]
    ['pins the opening beyond the window', numbered(1, 10), 2, 2, ['u:m1', 'u:m2', 'u:m10', 'u:now']],
    ['loads head and tail once when they overlap', numbered(1, 3), 2, 2, ['u:m1', 'u:m2', 'u:m3', 'u:now']],
    ['is the whole history when short', numbered(1, 2), 5, 3, ['u:m1', 'u:m2', 'u:now']],
    ['pins nothing of an empty session', [], 3, 2, ['u:now']],
    [
      'leaves out a tool group the boundary would cut (gap after the head)',
      [user('task'), calls('a', 'b'), result('a'), result('b'), ...numbered(1, 6)],
      2,
      3,
      ['u:task', 'u:m6', 'u:now'],
    ],
    [
      'keeps a tool group the head holds whole',
      [user('task'), calls('a'), result('a'), ...numbered(1, 6)],
      2,
      3,
      ['u:task', 'a:', 't:result of a', 'u:m6', 'u:now'],
    ],
    [
      'moves a cut group to the tail when head and tail touch',
      [user('task'), calls('a', 'b'), result('a'), result('b'), user('m1')],
      5,
      3,
      ['u:task', 'a:', 't:result of a', 't:result of b', 'u:m1', 'u:now'],
    ],
    ['skips leading orphan tool results in the head', [result('x'), user('task'), ...numbered(1, 5)], 1, 2, ['u:task', 'u:now']],
  ])('%s', async (_label, stored, maxMessages, keepFirst, expected) => {
    const { view, turn } = await viewOf(stored, { systemPrompt: 'Be terse.', contextWindow: { maxMessages, keepFirst } })
    expect(view[0]).toStrictEqual(sys)
    expect(contents(view.slice(1))).toStrictEqual(expected)
    expect(turn.messages).toStrictEqual(view)
  })

  it('counts the opening in the token limit, which never drops it', async () => {
    const stored = [user('The task: plan a trip to Rome.'), ...numbered(1, 30)]
    const { view } = await viewOf(stored, { contextWindow: { maxMessages: 10, keepFirst: 1 }, tokenLimit: { maxTokens: 40 } })
    expect(view[0]).toStrictEqual(user('The task: plan a trip to Rome.'))
    expect(view.at(-1)).toStrictEqual(user('now'))
    expect(counter.countRequest(view)).toBeLessThanOrEqual(40)
    expect(view.length).toBeLessThan(11)
  })

  it('reads the head and the tail in one store call', async () => {
    const store = new MemoryStore()
    await store.save('s', numbered(1, 50))
    const loads: unknown[] = []
    const load = store.load.bind(store)
    store.load = async (id, options) => {
      loads.push(options === undefined ? {} : { first: options.first, last: options.last })
      return load(id, options)
    }
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'ok' }), store, contextWindow: { maxMessages: 4, keepFirst: 2 } })
    await pipe.execute('s', 'user', 'hi')
    expect(loads).toStrictEqual([{ first: 2, last: 4 }])
  })

  it('stateLoad({ first }) refuses a store without features.loadFirst', () => {
    const store = new MemoryStore()
    Object.defineProperty(store, 'features', { value: undefined })
    expect(() => stateLoad(store, { first: 2, last: 4 })).toThrow(/`store`.*features\.loadFirst/)
  })
})

describe("startOn: 'user'", () => {
  it.each([
    ['drops a leading assistant message', [assistant('a1'), user('u1'), assistant('a2'), user('now')], ['u:u1', 'a:a2', 'u:now']],
    ['drops a leading tool group', [calls('x'), result('x'), user('u1'), user('now')], ['u:u1', 'u:now']],
    ['keeps a view already on a user message', [user('u1'), assistant('a1'), user('now')], ['u:u1', 'a:a1', 'u:now']],
    ['never drops the newest unit', [assistant('a1'), assistant('a2'), calls('y'), result('y')], ['a:', 't:result of y']],
  ])('%s', (_label, messages, expected) => {
    const view = startOnUser([sys, ...messages], 1)
    expect(view[0]).toBe(sys)
    expect(contents(view.slice(1))).toStrictEqual(expected)
  })

  it('applies after the window', async () => {
    const stored = [user('u1'), assistant('a1'), user('u2'), assistant('a2')]
    const { view } = await viewOf(stored, { contextWindow: { maxMessages: 2, startOn: 'user' } })
    expect(contents(view)).toStrictEqual(['u:now'])
    const { view: plain } = await viewOf(stored, { contextWindow: { maxMessages: 2 } })
    expect(contents(plain)).toStrictEqual(['a:a2', 'u:now'])
  })

  it('applies after the token limit, with the default window', async () => {
    const stored = [user('question one'), assistant('a long answer '.repeat(5)), user('q2'), assistant('short')]
    const budget = counter.countRequest([assistant('short'), user('now')])
    const { view, turn } = await viewOf(stored, { contextWindow: { startOn: 'user' }, tokenLimit: { maxTokens: budget + 2 } })
    expect(contents(view)).toStrictEqual(['u:now'])
    expect(turn.trimmed['token-truncation']?.tokens).toBe(counter.countRequest(view))
  })

  it('contextWindow({ startOn }) alone needs no maxMessages', async () => {
    const ctx = fakeContext([sys, assistant('hello'), user('hi')])
    await contextWindow({ startOn: 'user' })(ctx, done)
    expect(contents(ctx.messages)).toStrictEqual(['s:Be terse.', 'u:hi'])
  })
})

describe('toolResults', () => {
  const session: Message[] = [
    user('find things'),
    calls('a'),
    result('a', 'A'.repeat(2000)),
    calls('b', 'c'),
    result('b', 'B'.repeat(2000)),
    result('c', 'C'.repeat(2000)),
    assistant('found'),
    calls('d'),
    result('d', 'D'),
  ]

  it.each([
    [1, ['a', 'b', 'c']],
    [2, ['a']],
    [3, []],
  ])('keepLast %i clears the results of older groups: %j', async (keepLast, cleared) => {
    const { view, turn } = await viewOf(session, { contextWindow: false, toolResults: { keepLast } })
    for (const message of view.filter((m) => m.role === 'tool')) {
      const id = message.toolCallId as string
      const original = session.find((m) => m.toolCallId === id) as Message
      expect(message.content).toBe(cleared.includes(id) ? DEFAULT_TOOL_RESULT_PLACEHOLDER : original.content)
    }
    expect(view).toHaveLength(session.length + 1)
    expect(turn.trimmed['tool-results']).toStrictEqual({ kept: view.length, dropped: 0, cleared: cleared.length })
  })

  it('keeps far more conversation within a token budget', async () => {
    const budget = 300
    const { view: withClearing } = await viewOf(session, { toolResults: { keepLast: 1, placeholder: '[cleared]' }, tokenLimit: { maxTokens: budget } })
    const { view: without } = await viewOf(session, { tokenLimit: { maxTokens: budget } })
    expect(withClearing.length).toBe(session.length + 1)
    expect(without.length).toBeLessThan(5)
    expect(withClearing.filter((m) => m.content === '[cleared]')).toHaveLength(3)
  })

  it('works as a middleware of its own and emits tool-results:cleared', async () => {
    const ctx = fakeContext([sys, ...session])
    await toolResults({ keepLast: 2 })(ctx, done)
    expect(ctx.events).toContainEqual({ name: 'tool-results:cleared', payload: expect.objectContaining({ cleared: 1, keepLast: 2 }) })
    expect(ctx.messages[0]).toBe(sys)
  })
})

describe("tokenLimit.oversized: 'truncate'", () => {
  const words = (n: number, tag: string) => Array.from({ length: n }, (_, i) => `${tag}${i}`).join(' ')

  it('cuts a 200 kB tool result to fit, keeping its head and tail, and stores it whole', async () => {
    const big = `HEAD ${words(34_000, 'w')} TAIL`
    expect(big.length).toBeGreaterThan(200_000)
    const store = new MemoryStore()
    await store.save('s', [user('search please'), calls('q')])
    const provider = new MockProvider({ reply: 'done' })
    const pipe = new Pipeline({ provider, store, systemPrompt: 'Be terse.', tokenLimit: { maxTokens: 2_000, reserveForResponse: 200, oversized: 'truncate' } })
    const events: unknown[] = []
    pipe.on('tokens:oversized', (e) => events.push(e))
    const turn = await pipe.execute('s', 'tool', big, { toolCallId: 'q' })
    const sent = provider.requests[0]?.messages ?? []
    const cut = sent.at(-1) as Message
    expect(cut.toolCallId).toBe('q')
    expect(cut.content.startsWith('HEAD w0 w1')).toBe(true)
    expect(cut.content.endsWith('w33999 TAIL')).toBe(true)
    expect(cut.content).toMatch(/\[… (more than )?\d+ tokens removed to fit the context …\]/)
    expect(counter.countRequest(sent)).toBeLessThanOrEqual(1_800)
    // The budget is used, not wasted: most of it is the message.
    expect(counter.count(cut)).toBeGreaterThan(1_500)
    expect(turn.trimmed['token-truncation']).toMatchObject({ truncated: 1, tokens: counter.countRequest(sent) })
    expect(events).toHaveLength(1)
    const stored = await store.load('s')
    expect(stored[2]?.content).toBe(big)
  })

  it('says how many tokens it removed', async () => {
    const text = words(3_000, 'x')
    const ctx = fakeContext([{ role: 'user', content: text }])
    await tokenTruncation({ maxTokens: 500, oversized: 'truncate' })(ctx, done)
    const content = ctx.messages[0]?.content as string
    const removed = Number(/\[… (\d+) tokens removed/.exec(content)?.[1])
    const full = counter.countText(text)
    const [head, tail] = content.split(/\n\[….*…\]\n/) as [string, string]
    // Exact up to the few tokens the cuts can merge or split.
    expect(Math.abs(full - removed - counter.countText(head) - counter.countText(tail))).toBeLessThanOrEqual(4)
  })

  it('shares the budget in a tool group: small results stay whole, big ones are cut', async () => {
    const view: Message[] = [calls('a', 'b', 'c'), result('a', 'small'), result('b', words(5_000, 'b')), result('c', words(5_000, 'c'))]
    const ctx = fakeContext(view)
    await tokenTruncation({ maxTokens: 1_000, oversized: 'truncate' })(ctx, done)
    expect(ctx.messages[1]?.content).toBe('small')
    expect(ctx.messages[2]?.content).toMatch(/tokens removed/)
    expect(ctx.messages[3]?.content).toMatch(/tokens removed/)
    expect(counter.countRequest(ctx.messages)).toBeLessThanOrEqual(1_000)
    expect(ctx.trimmed['token-truncation']?.truncated).toBe(2)
  })

  it('still throws when the pinned part alone is over the budget', async () => {
    const ctx = fakeContext([{ role: 'system', content: words(500, 's') }, user(words(500, 'u'))])
    await expect(tokenTruncation({ maxTokens: 100, oversized: 'truncate' })(ctx, done)).rejects.toBeInstanceOf(ContextOverflowError)
  })

  it("'throw' is the default", async () => {
    const ctx = fakeContext([user(words(500, 'u'))])
    await expect(tokenTruncation({ maxTokens: 100 })(ctx, done)).rejects.toBeInstanceOf(ContextOverflowError)
  })

  it('cuts a megabyte without holding the event loop', async () => {
    const huge = 'x'.repeat(1_000_000)
    const ctx = fakeContext([user(huge)])
    let ticks = 0
    const timer = setInterval(() => ticks++, 1)
    try {
      await tokenTruncation({ maxTokens: 4_000, oversized: 'truncate' })(ctx, done)
    } finally {
      clearInterval(timer)
    }
    expect(ctx.messages[0]?.content.length).toBeLessThan(60_000)
    expect(counter.countRequest(ctx.messages)).toBeLessThanOrEqual(4_000)
    // The timer kept firing while the message was walked and the removed part counted.
    expect(ticks).toBeGreaterThan(0)
  })
})
