/**
 * `estimateUsage` on the pipeline and on `providerCall`: what a turn reports when its
 * provider reports no usage. `true` counts with gpt-tokenizer in the answering model's
 * encoding, or in gpt-4o's for a model it does not know and then says so
 * (`usage.estimatedWith`); a `TokenCounter` counts with it; `false` counts nothing and
 * loads no encoding at all (checked in a child process, which records what it imports).
 */
import { describe, expect, it } from 'vitest'
import { MemoryStore, Pipeline, getTokenCounter } from '../src/index.js'
import type { Message, Provider, ProviderResponse, Usage } from '../src/index.js'
import { providerCall, stateLoad, stateSave } from '../middleware/index.js'
import { createTokenCounter, type Tokenizer } from '../src/tokens.js'
import { ROOT, runNode } from './helpers/run-node.js'

/** A provider that answers `content` as `model` and reports no usage (or `usage`). */
function quiet(model: string | undefined, content = 'No usage here.', usage?: Usage): Provider {
  return {
    name: 'quiet',
    complete: async (): Promise<ProviderResponse> => ({
      message: { role: 'assistant', content },
      ...(model === undefined ? {} : { model }),
      ...(usage === undefined ? {} : { usage }),
    }),
  }
}

const question: Message = { role: 'user', content: 'What is the capital of France?' }

describe('estimateUsage', () => {
  it('true (the default): counts in the answering model’s own encoding when gpt-tokenizer knows it, and prices it', async () => {
    for (const pipe of [new Pipeline({ provider: quiet('gpt-4o-mini', 'Paris.') }), new Pipeline({ provider: quiet('gpt-4o-mini', 'Paris.'), estimateUsage: true })]) {
      const result = await pipe.execute('s', 'user', question.content)
      const counter = await getTokenCounter('gpt-4o-mini')
      const expected = { inputTokens: counter.countRequest([question]), outputTokens: counter.countText('Paris.'), estimated: true }
      expect(result.usage).toStrictEqual(expected)
      expect(result.costUsd).toBeCloseTo((expected.inputTokens * 0.15 + expected.outputTokens * 0.6) / 1e6, 15)
      await pipe.shutdown()
    }
  })

  it.each([
    ['a Claude model', 'claude-sonnet-4-5'],
    ['a local model', 'llama3.2'],
    ['no model at all', undefined],
  ])('true, %s: counts in gpt-4o’s encoding and says so in usage.estimatedWith', async (_label, model) => {
    const pipe = new Pipeline({ provider: quiet(model, 'Paris, on the Seine.') })
    const events: Array<Usage | undefined> = []
    pipe.on('provider:response', ({ usage }) => events.push(usage))
    const result = await pipe.execute('s', 'user', question.content)
    const counter = await getTokenCounter('gpt-4o')
    const expected = { inputTokens: counter.countRequest([question]), outputTokens: counter.countText('Paris, on the Seine.'), estimated: true, estimatedWith: 'gpt-4o' }
    expect(result.usage).toStrictEqual(expected)
    expect(events).toStrictEqual([expected])
    await pipe.shutdown()
  })

  it('a TokenCounter: counts with it, and names it when it is not the answering model’s', async () => {
    // A tokenizer of one token per character, standing in for a model's own (say, Llama's).
    const perChar: Tokenizer = {
      encode: (text) => Array.from(text, () => 1),
      encodeChat: (chat) => [1, 1, ...chat.flatMap((m) => [1, 1, ...Array.from(m.content, () => 1)])],
    }
    const llama = createTokenCounter('llama3.2', perChar)
    const pipe = new Pipeline({ provider: quiet('llama3.2', 'Paris.'), estimateUsage: llama })
    const result = await pipe.execute('s', 'user', question.content)
    // 2 priming + (2 framing + 30 characters) in; 6 characters out.
    expect(result.usage).toStrictEqual({ inputTokens: 2 + 2 + question.content.length, outputTokens: 6, estimated: true })

    const other = new Pipeline({ provider: quiet('llama3.3', 'Paris.'), estimateUsage: llama })
    expect((await other.execute('s', 'user', question.content)).usage).toStrictEqual({ inputTokens: 34, outputTokens: 6, estimated: true, estimatedWith: 'llama3.2' })
    await Promise.all([pipe.shutdown(), other.shutdown()])
  })

  it('false: no usage and no cost when the provider reports none; a reported usage still counts', async () => {
    const pipe = new Pipeline({ provider: quiet('gpt-4o-mini'), estimateUsage: false })
    const events: unknown[] = []
    pipe.on('provider:response', (payload) => events.push(payload.usage))
    const result = await pipe.execute('s', 'user', 'Hi')
    expect(result.usage).toBeUndefined()
    expect(result.costUsd).toBeUndefined()
    expect(events).toEqual([undefined])
    expect(result.saved).toBe(true)

    const reported = new Pipeline({ provider: quiet('gpt-4o-mini', 'x', { inputTokens: 10, outputTokens: 2 }), estimateUsage: false })
    expect((await reported.execute('s', 'user', 'Hi')).usage).toStrictEqual({ inputTokens: 10, outputTokens: 2 })
    await Promise.all([pipe.shutdown(), reported.shutdown()])
  })

  it('providerCall takes the same setting', async () => {
    const store = new MemoryStore()
    const off = Pipeline.from([stateLoad(store), providerCall(quiet('claude-haiku-4-5'), { estimateUsage: false }), stateSave(store)])
    expect((await off.execute('a', 'user', 'Hi')).usage).toBeUndefined()
    const on = Pipeline.from([stateLoad(store), providerCall(quiet('claude-haiku-4-5')), stateSave(store)])
    expect((await on.execute('b', 'user', 'Hi')).usage).toMatchObject({ estimated: true, estimatedWith: 'gpt-4o' })
    await Promise.all([off.shutdown(), on.shutdown()])
  })

  it.each([
    ['false', false],
    ['true', true],
  ])('%s: loads a tokenizer encoding only when it counts', { timeout: 60_000 }, async (arg, loads) => {
    const { code, stdout, stderr } = await runNode('test/fixtures/estimate-usage.ts', [arg], { nodeArgs: ['--import', './test/fixtures/consumer/record-imports.mjs'] })
    expect(stderr).toBe('')
    expect(code).toBe(0)
    const lines = stdout.trim().split('\n')
    const { usage } = JSON.parse(lines[0] ?? '') as { usage: Usage | null }
    const loaded = JSON.parse(lines.at(-1) ?? '[]') as string[]
    const encodings = loaded.filter((file) => file.includes('/gpt-tokenizer/') && /\/(model|bpeRanks)\//.test(file))
    expect(loaded.some((file) => file.startsWith(`${ROOT}src/`))).toBe(true)
    if (loads) {
      expect(usage).toMatchObject({ estimated: true })
      expect(encodings.length).toBeGreaterThan(0)
    } else {
      expect(usage).toBeNull()
      expect(encodings).toEqual([])
    }
  })
})
