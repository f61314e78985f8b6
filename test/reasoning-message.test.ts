/** `Message.reasoning`: validated like every other field, copied deeply, kept by stores. */
import { describe, expect, it } from 'vitest'
import { MemoryStore, Pipeline } from '../src/index.js'
import { copyMessage, messageProblem } from '../src/utils.js'
import { MockProvider } from '../src/testing.js'
import type { Message } from '../src/index.js'

const reasoning = { text: 'Think.', format: 'anthropic', data: [{ type: 'thinking', thinking: 'Think.', signature: 'sig' }] }

describe('messageProblem', () => {
  it('accepts reasoning with text only, or with format and data', () => {
    expect(messageProblem({ role: 'assistant', content: '', reasoning: { text: '' } })).toBeUndefined()
    expect(messageProblem({ role: 'assistant', content: '', reasoning })).toBeUndefined()
  })

  it.each([
    ['a string', 'thinking', /`reasoning` must be \{ text, format\?, data\? \}/],
    ['no text', { format: 'anthropic' }, /`reasoning` must be/],
    ['a non-string format', { text: '', format: 1 }, /`reasoning.format` must be a string, got `1`/],
    ['data not an array', { text: '', data: {} }, /`reasoning.data` must be an array of objects/],
    ['data with a non-object', { text: '', data: [{}, 'x'] }, /`reasoning.data\[1\]` must be an object, got `"x"`/],
  ])('names what is wrong: %s', (_label, value, pattern) => {
    expect(messageProblem({ role: 'assistant', content: '', reasoning: value })).toMatch(pattern)
  })

  it('makes the pipeline reject a bad input message with a TypeError', async () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    const bad = [{ role: 'assistant', content: '', reasoning: { text: 1 } }] as unknown as Message[]
    await expect(pipe.execute('s', bad)).rejects.toThrow(TypeError)
    await pipe.shutdown()
  })
})

describe('copyMessage', () => {
  it('copies reasoning deeply: neither side changes the other', () => {
    const message: Message = { role: 'assistant', content: 'x', reasoning: structuredClone(reasoning) }
    const copy = copyMessage(message)
    expect(copy).toEqual(message)
    ;(copy.reasoning?.data?.[0] as Record<string, unknown>).signature = 'changed'
    expect(message.reasoning?.data?.[0]?.signature).toBe('sig')
  })
})

describe('through the pipeline', () => {
  it('stores the reasoning a provider returned and exposes it as result.response.reasoning', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider({ reply: [{ content: 'Answer.', reasoning }] }), store })
    const result = await pipe.execute('s', 'user', 'Q?')
    expect(result.response.reasoning).toEqual(reasoning)
    expect((await store.load('s'))[1]).toEqual({ role: 'assistant', content: 'Answer.', reasoning })
    await pipe.shutdown()
  })
})
