/**
 * Every options object rejects keys it does not know, naming the key and, when one
 * is near, the option that was probably meant: a misspelt option must never be
 * silently ignored (`{ baseUrl }` would send a local request to api.openai.com).
 */
import { describe, expect, it } from 'vitest'
import { contextWindow, providerCall, stateLoad, stateSave, tokenTruncation } from '../middleware/index.js'
import type { Middleware } from '../src/context.js'
import { Pipeline, type PipelineOptions } from '../src/pipeline.js'
import { MockProvider, type MockProviderOptions } from '../src/providers/mock.js'
import { OpenAIProvider, type OpenAIProviderOptions } from '../src/providers/openai.js'
import { MemoryStore, type MemoryStoreOptions } from '../src/stores/memory.js'

/** [label, what to call, the key named, the suggestion (or undefined: none expected)] */
type Case = [label: string, run: () => unknown, key: string, suggestion: string | undefined]

async function failure(run: () => unknown): Promise<unknown> {
  try {
    const value = run()
    if (value instanceof Promise) await value
    else if (value !== null && typeof value === 'object' && Symbol.asyncIterator in value) {
      await (value as AsyncIterable<unknown>)[Symbol.asyncIterator]().next()
    }
  } catch (error) {
    return error
  }
  return undefined
}

async function expectUnknown(run: () => unknown, key: string, suggestion: string | undefined): Promise<void> {
  const error = await failure(run)
  expect(error).toBeInstanceOf(TypeError)
  const message = (error as Error).message
  expect(message).toContain(`Unknown option \`${key}\``)
  if (suggestion === undefined) expect(message).not.toMatch(/did you mean/)
  else expect(message).toContain(`did you mean \`${suggestion}\`?`)
  expect(message).toMatch(/Expected one of `/)
}

const provider = new MockProvider()
const store = new MemoryStore()

describe('new Pipeline', () => {
  const make = (options: Record<string, unknown>) => () => new Pipeline({ provider, ...options } as PipelineOptions)
  const cases: Case[] = [
    ['a misspelt systemPrompt', make({ systemPromt: 'hi' }), 'systemPromt', 'systemPrompt'],
    ['a lower-case option', make({ timeoutms: 10 }), 'timeoutms', 'timeoutMs'],
    ['an unrelated key', make({ bogus: 1 }), 'bogus', undefined],
    ['an unknown key set to undefined', make({ sytemPrompt: undefined }), 'sytemPrompt', 'systemPrompt'],
    ['contextWindow.maxMesages', make({ contextWindow: { maxMessages: 4, maxMesages: 4 } }), 'contextWindow.maxMesages', 'maxMessages'],
    ['contextWindow.max', make({ contextWindow: { maxMessages: 4, max: 3 } }), 'contextWindow.max', 'maxMessages'],
    ['contextWindow.keepfirst', make({ contextWindow: { keepfirst: 2 } }), 'contextWindow.keepfirst', 'keepFirst'],
    ['contextWindow.startOnUser', make({ contextWindow: { startOnUser: true } }), 'contextWindow.startOnUser', 'startOn'],
    ['toolResults.keep', make({ toolResults: { keep: 2 } }), 'toolResults.keep', 'keepLast'],
    ['summary.afterMessages', make({ summary: { afterMessages: 3 } }), 'summary.afterMessages', 'after'],
    ['tokenLimit.oversize', make({ tokenLimit: { maxTokens: 100, oversize: 'truncate' } }), 'tokenLimit.oversize', 'oversized'],
    ['tokenLimit.reserve', make({ tokenLimit: { maxTokens: 100, reserve: 10 } }), 'tokenLimit.reserve', 'reserveForResponse'],
    ['tokenLimit.maxToken', make({ tokenLimit: { maxTokens: 100, maxToken: 10 } }), 'tokenLimit.maxToken', 'maxTokens'],
    ['tokenLimit.counter (factory-only)', make({ tokenLimit: { maxTokens: 100, counter: {} } }), 'tokenLimit.counter', undefined],
    ['saveRetry.retires', make({ saveRetry: { retires: 2 } }), 'saveRetry.retires', 'retries'],
    ['saveRetry.maxTimout', make({ saveRetry: { maxTimout: 2 } }), 'saveRetry.maxTimout', 'maxTimeout'],
  ]
  it.each(cases)('rejects %s', (_label, run, key, suggestion) => expectUnknown(run, key, suggestion))
})

describe('Pipeline.from and use', () => {
  const pipe = new Pipeline({ provider })
  const ok: Middleware = async function ok(_ctx, next) {
    await next()
  }
  const cases: Case[] = [
    ['from { timeout }', () => Pipeline.from([], { timeout: 5 } as never), 'timeout', 'timeoutMs'],
    ['from { system }', () => Pipeline.from([], { system: 'x' } as never), 'system', 'systemPrompt'],
    ['from { provider } (a Pipeline option, not a chain option)', () => Pipeline.from([], { provider } as never), 'provider', undefined],
    ['use { befor }', () => pipe.use(ok, { befor: 'provider-call' } as never), 'befor', 'before'],
    ['use { Name }', () => pipe.use(ok, { Name: 'x' } as never), 'Name', 'name'],
  ]
  it.each(cases)('rejects %s', async (_label, run, key, suggestion) => {
    await expectUnknown(run, key, suggestion)
    expect(pipe.middlewareNames).not.toContain('ok')
  })
})

describe('execute and stream options', () => {
  const pipe = new Pipeline({ provider: new MockProvider(), store: new MemoryStore() })
  const role = (options: Record<string, unknown>) => ['s', 'user', 'hi', options]
  const messages = (options: Record<string, unknown>) => ['s', [{ role: 'user', content: 'hi' }], options]
  const cases: Array<[string, unknown[], string, string | undefined]> = [
    ['{ sginal } with role and content', role({ sginal: new AbortController().signal }), 'options.sginal', 'signal'],
    ['{ metaData } with role and content', role({ metaData: {} }), 'options.metaData', 'metadata'],
    ['{ toolCallID } with role and content', role({ toolCallID: 'x' }), 'options.toolCallID', 'toolCallId'],
    ['{ timeoutMs } with role and content', role({ timeoutMs: 5 }), 'options.timeoutMs', undefined],
    ['{ sginal } with messages', messages({ sginal: new AbortController().signal }), 'options.sginal', 'signal'],
    ['{ metadata } with messages (it belongs on each message)', messages({ metadata: {} }), 'options.metadata', undefined],
    ['a misspelt field of a message', ['s', [{ role: 'user', content: 'hi', metaData: { a: 1 } }]], 'messages[0].metaData', 'metadata'],
    ['a snake_case field of a tool message', ['s', [{ role: 'tool', content: 'ok', toolCallId: 'c1', tool_call_id: 'c1' }]], 'messages[0].tool_call_id', 'toolCallId'],
  ]
  it.each(cases)('execute rejects %s', async (_label, args, key, suggestion) => {
    const sent = pipe.execute as (...a: unknown[]) => Promise<unknown>
    await expectUnknown(() => sent.apply(pipe, args), key, suggestion)
  })
  it.each(cases)('stream rejects %s', async (_label, args, key, suggestion) => {
    const sent = pipe.stream as (...a: unknown[]) => AsyncGenerator<unknown>
    await expectUnknown(() => sent.apply(pipe, args), key, suggestion)
  })
  it('stores nothing and calls no provider for such a turn', async () => {
    const mock = new MockProvider()
    const own = new MemoryStore()
    const strict = new Pipeline({ provider: mock, store: own })
    await expect(strict.execute('s', 'user', 'hi', { sginal: undefined } as never)).rejects.toThrow(TypeError)
    expect(mock.requests).toHaveLength(0)
    expect(await own.length('s')).toBe(0)
  })
})

describe('MemoryStore', () => {
  const make = (options: Record<string, unknown>) => () => new MemoryStore(options as MemoryStoreOptions)
  const cases: Case[] = [
    ['{ ttl }', make({ ttl: 1000 }), 'options.ttl', 'ttlMs'],
    ['{ maxMessage }', make({ maxMessage: 10 }), 'options.maxMessage', 'maxMessages'],
    ['{ maxSession }', make({ maxSession: 10 }), 'options.maxSession', 'maxSessions'],
    ['{ ttlSeconds } (the RedisStore option)', make({ ttlSeconds: 10 }), 'options.ttlSeconds', undefined],
    ['load { lats }', () => store.load('s', { lats: 2 } as never), 'options.lats', 'last'],
    ['load { limit }', () => store.load('s', { limit: 2 } as never), 'options.limit', undefined],
    ['append { idempotency }', () => store.append('s', [], { idempotency: 'k' } as never), 'options.idempotency', 'idempotencyKey'],
    ['list { limt }', () => store.list({ limt: 2 } as never), 'options.limt', 'limit'],
  ]
  it.each(cases)('rejects %s', (_label, run, key, suggestion) => expectUnknown(run, key, suggestion))
})

describe('providers', () => {
  const mock = (options: Record<string, unknown>) => () => new MockProvider(options as MockProviderOptions)
  const openai = (options: Record<string, unknown>) => () =>
    new OpenAIProvider({ model: 'llama3.2', apiKey: 'sk-test', ...options } as OpenAIProviderOptions)
  const cases: Case[] = [
    ['MockProvider { repy }', mock({ repy: ['a'] }), 'repy', 'reply'],
    ['MockProvider { latency }', mock({ latency: 5 }), 'latency', 'latencyMs'],
    ['OpenAIProvider { baseUrl }', openai({ baseUrl: 'http://localhost:11434/v1' }), 'baseUrl', 'baseURL'],
    ['OpenAIProvider { api_key }', openai({ api_key: 'x' }), 'api_key', 'apiKey'],
    ['OpenAIProvider { timeout }', openai({ timeout: 1000 }), 'timeout', 'timeoutMs'],
    ['OpenAIProvider { organization }', openai({ organization: 'org' }), 'organization', undefined],
  ]
  it.each(cases)('rejects %s', (_label, run, key, suggestion) => expectUnknown(run, key, suggestion))

  it('never echoes the value of an unknown OpenAIProvider option (it may be a key)', async () => {
    const error = await failure(openai({ apikey: 'sk-secret-value' }))
    expect((error as Error).message).toContain('did you mean `apiKey`?')
    expect((error as Error).message).not.toContain('sk-secret-value')
  })
})

describe('middleware factories', () => {
  const cases: Case[] = [
    ['stateLoad { lst }', () => stateLoad(store, { lst: 5 } as never), 'lst', 'last'],
    ['stateLoad { onerror }', () => stateLoad(store, { onerror: 'throw' } as never), 'onerror', 'onError'],
    ['contextWindow { maxMessage }', () => contextWindow({ maxMessages: 3, maxMessage: 3 } as never), 'maxMessage', 'maxMessages'],
    ['tokenTruncation { reserve }', () => tokenTruncation({ maxTokens: 100, reserve: 10 } as never), 'reserve', 'reserveForResponse'],
    ['tokenTruncation { modle }', () => tokenTruncation({ maxTokens: 100, modle: 'gpt-4o' } as never), 'modle', 'model'],
    ['providerCall { temprature }', () => providerCall(provider, { temprature: 0.5 } as never), 'temprature', 'temperature'],
    ['providerCall { max_tokens }', () => providerCall(provider, { max_tokens: 5 } as never), 'max_tokens', 'maxTokens'],
    ['stateSave { retyr }', () => stateSave(store, { retyr: {} } as never), 'retyr', 'retry'],
    ['stateSave { retry: { retires } }', () => stateSave(store, { retry: { retires: 3 } } as never), 'retry.retires', 'retries'],
    ['stateSave { on_error }', () => stateSave(store, { on_error: 'warn' } as never), 'on_error', 'onError'],
  ]
  it.each(cases)('rejects %s', (_label, run, key, suggestion) => expectUnknown(run, key, suggestion))
})
