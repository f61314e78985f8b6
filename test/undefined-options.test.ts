/**
 * An optional option set to `undefined` means "not given": the default applies,
 * exactly as if the key were absent (consumers under `exactOptionalPropertyTypes`
 * pass `process.env.X` or `maybeSignal` straight through).
 */
import { describe, expect, it } from 'vitest'
import { stateSave } from '../middleware/index.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { FlakyStore } from './helpers/flaky-store.js'

describe('undefined options are absent options', () => {
  it('new Pipeline: every optional option undefined behaves as the defaults', async () => {
    const provider = new MockProvider({ reply: undefined, latencyMs: undefined, name: undefined, model: undefined })
    expect(provider.name).toBe('mock')
    const pipe = new Pipeline({
      provider,
      store: undefined,
      systemPrompt: undefined,
      contextWindow: undefined,
      tokenLimit: undefined,
      toolResults: undefined,
      summary: undefined,
      saveRetry: undefined,
      onLoadError: undefined,
      onSaveError: undefined,
      timeoutMs: undefined,
      pricing: undefined,
      model: undefined,
      tools: undefined,
      saveOnAbort: undefined,
      estimateUsage: undefined,
    })
    const result = await pipe.execute('s', 'user', 'hi', { signal: undefined, name: undefined, metadata: undefined, toolCallId: undefined })
    expect(result.response.content).toBe('Echo: hi')
    expect(result.model).toBe('mock-model')
    expect(result.saved).toBe(true)
    expect(Object.keys(result.newMessages[0] ?? {})).toEqual(['role', 'content'])
    expect(provider.requests[0]?.messages).toEqual([{ role: 'user', content: 'hi' }])
  })

  it('the trimming policies: undefined fields take their defaults', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({
      provider: new MockProvider(),
      store,
      contextWindow: { maxMessages: undefined, keepFirst: undefined, startOn: undefined },
      tokenLimit: { maxTokens: 1_000, model: undefined, reserveForResponse: undefined, oversized: undefined },
      toolResults: { keepLast: undefined, placeholder: undefined },
      summary: { provider: undefined, model: undefined, after: undefined, prompt: undefined, maxTokens: undefined, mode: undefined, timeoutMs: undefined },
    })
    const result = await pipe.execute('s', 'user', 'hi')
    expect(result.saved).toBe(true)
    expect(result.trimmed['tool-results']).toEqual({ kept: 1, dropped: 0, cleared: 0 })
    await pipe.shutdown()
  })

  it('saveRetry: { retries: undefined } keeps the default 3 retries', async () => {
    const store = new FlakyStore()
    store.failAppends = 2
    const pipe = new Pipeline({ provider: new MockProvider(), store, saveRetry: { retries: undefined, minTimeout: 1, maxTimeout: undefined, factor: undefined, randomize: undefined } })
    const result = await pipe.execute('s', 'user', 'hi')
    expect(result.saved).toBe(true)
    expect(store.appendCalls).toHaveLength(3)
  })

  it('stateSave: { retry: { retries: undefined } } keeps the default retries', async () => {
    const store = new FlakyStore()
    store.failAppends = 1
    const pipe = Pipeline.from([async function reply(ctx, next) {
      ctx.response = { role: 'assistant', content: 'ok' }
      ctx.newMessages.push(ctx.response)
      await next()
    }, stateSave(store, { retry: { retries: undefined, minTimeout: 1 }, onError: undefined })], { timeoutMs: undefined, systemPrompt: undefined })
    expect((await pipe.execute('s', 'user', 'hi')).saved).toBe(true)
    expect(store.appendCalls).toHaveLength(2)
  })

  it('use: { name: undefined, before: undefined } names the function and inserts before provider-call', () => {
    const pipe = new Pipeline({ provider: new MockProvider() })
    pipe.use(async function audit(_ctx, next) {
      await next()
    }, { name: undefined, before: undefined, after: undefined })
    expect(pipe.middlewareNames).toEqual(['state-load', 'context-window', 'token-truncation', 'audit', 'provider-call', 'state-save'])
  })

  it('MemoryStore: { ttlMs: undefined } never expires, and method options may be undefined', async () => {
    const store = new MemoryStore({ ttlMs: undefined, maxSessions: undefined, maxMessages: undefined })
    await store.append('s', [{ role: 'user', content: 'a', name: undefined }], { idempotencyKey: undefined, signal: undefined })
    expect(await store.load('s', { last: undefined, signal: undefined })).toEqual([{ role: 'user', content: 'a' }])
    const ids: string[] = []
    for await (const id of store.list({ limit: undefined })) ids.push(id)
    expect(ids).toEqual(['s'])
  })
})
