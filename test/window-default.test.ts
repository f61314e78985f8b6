/**
 * With only a `tokenLimit`, the default 20-message window no longer caps the view:
 * the budget decides what the model sees, and a turn still loads a bounded tail.
 */
import { describe, expect, it } from 'vitest'
import { getTokenCounter } from '../src/tokens.js'
import { MIN_TOKENS_PER_MESSAGE, Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { FlakyStore } from './helpers/flaky-store.js'
import type { Message, Role } from '../src/types.js'

async function chat(pipe: Pipeline, exchanges: number): Promise<void> {
  for (let i = 0; i < exchanges; i++) await pipe.execute('s', 'user', `message ${i}`)
}

describe('the window default under a token limit', () => {
  it('keeps the first of 100 short exchanges in view while the budget allows', async () => {
    const provider = new MockProvider({ reply: 'ok' })
    const store = new FlakyStore()
    const pipe = new Pipeline({ provider, store, tokenLimit: { maxTokens: 100_000 } })
    await chat(pipe, 100)
    const last = provider.requests.at(-1)?.messages ?? []
    expect(last).toHaveLength(199) // 99 stored exchanges and the new message
    expect(last[0]).toEqual({ role: 'user', content: 'message 0' })
    expect(pipe.middlewareNames).toContain('context-window')
    // The load is still a bounded tail, sized by the budget, not the whole history.
    expect(store.loadCalls.at(-1)?.options?.last).toBe(Math.ceil(100_000 / MIN_TOKENS_PER_MESSAGE))
  })

  it('derives the tail from the budget left after reserveForResponse', async () => {
    const store = new FlakyStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store, tokenLimit: { maxTokens: 1000, reserveForResponse: 400 } })
    await pipe.execute('s', 'user', 'hi')
    expect(store.loadCalls[0]?.options?.last).toBe(200)
  })

  it('gives the same view as loading the whole history, once the budget trims', async () => {
    const inner = new MemoryStore()
    const history: Message[] = []
    for (let i = 0; i < 600; i++) history.push({ role: (i % 2 === 0 ? 'user' : 'assistant') as Role, content: i % 2 === 0 ? `q${i}` : '' })
    await inner.save('s', history)
    await inner.save('t', history)
    const bounded = new MockProvider({ reply: 'ok' })
    const whole = new MockProvider({ reply: 'ok' })
    const tokenLimit = { maxTokens: 900 }
    await new Pipeline({ provider: bounded, store: inner, tokenLimit }).execute('s', 'user', 'next')
    await new Pipeline({ provider: whole, store: inner, tokenLimit, contextWindow: false }).execute('t', 'user', 'next')
    const view = bounded.requests[0]?.messages ?? []
    expect(view).toEqual(whole.requests[0]?.messages)
    // The budget, not a message count, trimmed it: more than 20 messages, fewer than stored.
    expect(view.length).toBeGreaterThan(20)
    expect(view.length).toBeLessThan(history.length)
  })

  it('keeps an explicit window, and the 20-message default without a token limit', async () => {
    const explicit = new FlakyStore()
    const windowed = new MockProvider()
    const pipe = new Pipeline({ provider: windowed, store: explicit, tokenLimit: { maxTokens: 100_000 }, contextWindow: { maxMessages: 6 } })
    await chat(pipe, 10)
    expect(windowed.requests.at(-1)?.messages).toHaveLength(6)
    expect(explicit.loadCalls.at(-1)?.options?.last).toBe(6)

    const plain = new FlakyStore()
    const defaulted = new MockProvider()
    await chat(new Pipeline({ provider: defaulted, store: plain }), 15)
    expect(defaulted.requests.at(-1)?.messages).toHaveLength(20)
    expect(plain.loadCalls.at(-1)?.options?.last).toBe(20)

    const all = new FlakyStore()
    await new Pipeline({ provider: new MockProvider(), store: all, tokenLimit: { maxTokens: 1000 }, contextWindow: false }).execute('s', 'user', 'hi')
    expect(all.loadCalls[0]?.options?.last).toBeUndefined() // the whole history, as asked
  })

  it.each(['gpt-4o', 'gpt-4', 'gpt-3.5-turbo', 'gpt-4.1', 'o1'])(
    'MIN_TOKENS_PER_MESSAGE is a true lower bound for %s',
    async (model) => {
      const counter = await getTokenCounter(model)
      for (const role of ['system', 'user', 'assistant', 'tool'] as const) {
        expect(counter.count({ role, content: '' })).toBeGreaterThanOrEqual(MIN_TOKENS_PER_MESSAGE)
        expect(counter.count({ role, content: '', name: 'a' })).toBeGreaterThanOrEqual(MIN_TOKENS_PER_MESSAGE)
      }
    },
  )
})
