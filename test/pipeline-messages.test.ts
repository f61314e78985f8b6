/**
 * `execute(sessionId, messages)` / `stream(sessionId, messages)`: a turn that adds
 * several messages at once (the results of parallel tool calls), stored in one append.
 */
import { describe, expect, it } from 'vitest'
import { Pipeline } from '../src/pipeline.js'
import { MemoryStore } from '../src/stores/memory.js'
import { MockProvider } from '../src/providers/mock.js'
import type { Message } from '../src/types.js'

const CALLS = [
  { id: 'a', name: 'weather', arguments: '{"city":"Paris"}' },
  { id: 'b', name: 'weather', arguments: '{"city":"Rome"}' },
]

async function sessionAwaitingTools(): Promise<{ pipe: Pipeline; store: MemoryStore; provider: MockProvider }> {
  const store = new MemoryStore()
  await store.save('s', [
    { role: 'user', content: 'Paris and Rome?' },
    { role: 'assistant', content: '', toolCalls: CALLS },
  ])
  const provider = new MockProvider({ reply: 'Both sunny.' })
  return { pipe: new Pipeline({ provider, store, systemPrompt: 'sys' }), store, provider }
}

describe('a turn of several messages', () => {
  it('sends history then every new message, and stores them and the reply with one append', async () => {
    const { pipe, store, provider } = await sessionAwaitingTools()
    const appends: number[] = []
    const append = store.append.bind(store)
    store.append = (id, messages, options) => {
      appends.push(messages.length)
      return append(id, messages, options)
    }
    const results: Message[] = [
      { role: 'tool', content: 'sunny', toolCallId: 'a' },
      { role: 'tool', content: 'cloudy', toolCallId: 'b' },
    ]
    const result = await pipe.execute('s', results)

    expect(provider.requests[0]?.messages.map((m) => `${m.role}:${m.toolCallId ?? m.content}`)).toEqual([
      'system:sys',
      'user:Paris and Rome?',
      'assistant:',
      'tool:a',
      'tool:b',
    ])
    expect(appends).toEqual([3])
    expect(result.newMessages.map((m) => m.role)).toEqual(['tool', 'tool', 'assistant'])
    expect((await store.load('s')).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant'])
    // The messages passed in are copied: changing them later changes nothing stored.
    ;(results[0] as Message).content = 'changed'
    expect((await store.load('s'))[2]?.content).toBe('sunny')
  })

  it('keeps the whole group when the window is smaller than it', async () => {
    const store = new MemoryStore()
    await store.save('s', [
      { role: 'user', content: 'old question' },
      { role: 'assistant', content: 'old answer' },
      { role: 'user', content: 'Paris and Rome?' },
      { role: 'assistant', content: '', toolCalls: CALLS },
    ])
    const provider = new MockProvider({ reply: 'ok' })
    const pipe = new Pipeline({ provider, store, contextWindow: { maxMessages: 2 } })
    await pipe.execute('s', [
      { role: 'tool', content: '1', toolCallId: 'a' },
      { role: 'tool', content: '2', toolCallId: 'b' },
    ])
    expect(provider.requests[0]?.messages.map((m) => m.role)).toEqual(['assistant', 'tool', 'tool'])
  })

  it('streams too', async () => {
    const { pipe, store } = await sessionAwaitingTools()
    let text = ''
    for await (const chunk of pipe.stream('s', [
      { role: 'tool', content: 'sunny', toolCallId: 'a' },
      { role: 'tool', content: 'cloudy', toolCallId: 'b' },
    ])) {
      if (chunk.type === 'delta') text += chunk.text
    }
    expect(text).toBe('Both sunny.')
    expect(await store.length('s')).toBe(5)
  })

  it.each([
    ['an empty array', [], undefined, /`messages`.*\[\]/],
    ['a message with a bad role', [{ role: 'robot', content: 'x' }], undefined, /`messages\[0\]`.*role/],
    ['a tool message without toolCallId', [{ role: 'tool', content: 'x' }], undefined, /`messages\[0\]\.toolCallId`/],
    ['a non-string content', [{ role: 'user', content: 42 }], undefined, /`messages\[0\]`.*content/],
    ['an unknown option', [{ role: 'user', content: 'x' }], { toolCallId: 'a' }, /`options\.toolCallId`/],
    ['a bad signal', [{ role: 'user', content: 'x' }], { signal: 'stop' }, /`options\.signal`.*"stop"/],
  ])('rejects %s with a TypeError naming it', async (_label, messages, options, pattern) => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const call = pipe.execute('s', messages as Message[], options as never)
    await expect(call).rejects.toBeInstanceOf(TypeError)
    await expect(call).rejects.toThrow(pattern)
  })

  it('rejects a fourth argument after messages', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const call = (pipe.execute as (...args: unknown[]) => Promise<unknown>)('s', [{ role: 'user', content: 'x' }], {}, {})
    await expect(call).rejects.toThrow(/third argument/)
  })
})
