/**
 * Bad input at every public entry. Each case asserts the error class and that the
 * message names the argument and the value (DESIGN.md: "Bad arguments are
 * `TypeError`s whose message names the argument and the value").
 */
import { describe, expect, it } from 'vitest'
import { contextWindow, providerCall, stateLoad, stateSave, tokenTruncation } from '../middleware/index.js'
import type { Middleware } from '../src/context.js'
import { ContextOverflowError } from '../src/errors.js'
import { Pipeline, type PipelineOptions } from '../src/pipeline.js'
import { MockProvider, type MockProviderOptions } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { getTokenCounter } from '../src/tokens.js'
import type { StateStore } from '../src/types.js'

type Case = [label: string, run: () => unknown, patterns: RegExp[]]

function caught(run: () => unknown): unknown {
  try {
    run()
  } catch (error) {
    return error
  }
  return undefined
}

function expectTypeError(error: unknown, patterns: RegExp[]): void {
  expect(error).toBeInstanceOf(TypeError)
  for (const pattern of patterns) expect((error as Error).message).toMatch(pattern)
}

const provider = new MockProvider()
const store = new MemoryStore()

/** A store that implements only the base contract (no `features`), by delegation. */
function firstlessStore(): StateStore {
  const inner = new MemoryStore()
  return {
    load: (id, options) => inner.load(id, options),
    save: (id, messages) => inner.save(id, messages),
    append: (id, messages, options) => inner.append(id, messages, options),
    fork: (from, to) => inner.fork(from, to),
    delete: (id) => inner.delete(id),
    length: (id) => inner.length(id),
    list: (options) => inner.list(options),
    close: () => inner.close(),
  }
}

describe('execute', () => {
  const pipe = new Pipeline({ provider, store })
  const cases: Array<[string, unknown[], RegExp[]]> = [
    ['an empty session id', ['', 'user', 'hi'], [/`sessionId`/, /""/]],
    ['a numeric session id', [42, 'user', 'hi'], [/`sessionId`/, /`42`/]],
    ['an undefined session id', [undefined, 'user', 'hi'], [/`sessionId`/, /`undefined`/]],
    ['a null session id', [null, 'user', 'hi'], [/`sessionId`/, /`null`/]],
    ['a 513-byte ASCII session id', ['a'.repeat(513), 'user', 'hi'], [/`sessionId`/, /512 bytes/, /"aaaaaaaa/]],
    ['a 513-byte multibyte session id', ['€'.repeat(171), 'user', 'hi'], [/`sessionId`/, /512 bytes/, /€€€/]],
    ['an unknown role', ['s', 'robot', 'hi'], [/`role`/, /"robot"/]],
    ['a missing role', ['s', undefined, 'hi'], [/`role`/, /`undefined`/]],
    ['numeric content', ['s', 'user', 42], [/`content`/, /`42`/]],
    ['object content', ['s', 'user', { text: 'hi' }], [/`content`/, /\{"text":"hi"\}/]],
    ['missing content', ['s', 'user'], [/`content`/, /`undefined`/]],
    ['a tool message without toolCallId', ['s', 'tool', '{}'], [/`options\.toolCallId`/, /`undefined`/]],
    ['a tool message with an empty toolCallId', ['s', 'tool', '{}', { toolCallId: '' }], [/`options\.toolCallId`/, /""/]],
    ['a toolCallId on a user message', ['s', 'user', 'hi', { toolCallId: 'call_1' }], [/`options\.toolCallId`/, /'user'/]],
    ['a signal that is not an AbortSignal', ['s', 'user', 'hi', { signal: {} }], [/`options\.signal`/, /`\{\}`/]],
    ['a string signal', ['s', 'user', 'hi', { signal: 'abort' }], [/`options\.signal`/, /"abort"/]],
    ['options that are not an object', ['s', 'user', 'hi', 'fast'], [/`options`/, /"fast"/]],
    ['a numeric name', ['s', 'user', 'hi', { name: 42 }], [/`options\.name`/, /`42`/]],
    ['array metadata', ['s', 'user', 'hi', { metadata: [] }], [/`options\.metadata`/, /`\[\]`/]],
  ]

  it.each(cases)('rejects %s with a TypeError naming it', async (_label, args, patterns) => {
    const before = provider.requests.length
    const turn = (pipe.execute as (...a: unknown[]) => Promise<unknown>)(...args)
    const error = await turn.then(
      () => undefined,
      (e: unknown) => e,
    )
    expectTypeError(error, patterns)
    expect(provider.requests.length).toBe(before)
  })

  it.each(cases)('stream() rejects %s the same way', async (_label, args, patterns) => {
    const stream = (pipe.stream as (...a: unknown[]) => AsyncGenerator<unknown>)(...args)
    const error = await stream.next().then(
      () => undefined,
      (e: unknown) => e,
    )
    expectTypeError(error, patterns)
  })

  it.each([
    ['512 ASCII bytes', 'a'.repeat(512)],
    ['512 bytes of 2-byte characters', 'é'.repeat(256)],
    ['512 bytes of 3-byte characters', '€'.repeat(170) + 'ab'],
    ['512 bytes of emoji (surrogate pairs)', '😀'.repeat(128)],
  ])('accepts a session id of %s', async (_label, sessionId) => {
    expect(Buffer.byteLength(sessionId)).toBe(512)
    const result = await pipe.execute(sessionId, 'user', 'hi')
    expect(result.sessionId).toBe(sessionId)
    expect(await store.length(sessionId)).toBe(2)
  })

  it('rejects 129 emoji (516 bytes)', async () => {
    await expect(pipe.execute('😀'.repeat(129), 'user', 'hi')).rejects.toThrow(/`sessionId`.*512 bytes/)
  })

  it('rejects a token budget smaller than the pinned part with ContextOverflowError naming the numbers', async () => {
    const systemPrompt = 'You are a meticulous assistant who explains every step in detail. '.repeat(3)
    const tight = new Pipeline({ provider, store, systemPrompt, tokenLimit: { maxTokens: 20 } })
    const counter = await getTokenCounter('gpt-4o')
    const required = counter.countRequest([{ role: 'system', content: systemPrompt }, { role: 'user', content: 'hi' }])
    const error = await tight.execute('overflow', 'user', 'hi').catch((e: unknown) => e)
    expect(error).toBeInstanceOf(ContextOverflowError)
    expect((error as Error).message).toMatch(new RegExp(`needs ${required} tokens but the budget is 20`))
    expect((error as Error).message).toMatch(/`maxTokens` 20/)
    expect(await store.length('overflow')).toBe(0)
  })
})

describe('new Pipeline', () => {
  const make = (options: unknown) => () => new Pipeline(options as PipelineOptions)
  const cases: Case[] = [
    ['no options', make(undefined), [/`options`/, /`undefined`/]],
    ['a missing provider', make({}), [/`provider`/, /`undefined`/]],
    ['a provider without complete()', make({ provider: { name: 'x' } }), [/`provider`/, /\{"name":"x"\}/]],
    ['an unknown option', make({ provider, bogus: 1 }), [/`bogus`/]],
    ['a misspelt option', make({ provider, systemPromt: 'hi' }), [/`systemPromt`/]],
    ['a non-object store', make({ provider, store: 'redis://' }), [/`store`/, /"redis:\/\/"/]],
    ['a store missing methods', make({ provider, store: { load() {} } }), [/`store`/, /missing save/]],
    ['a numeric systemPrompt', make({ provider, systemPrompt: 42 }), [/`systemPrompt`/, /`42`/]],
    ['contextWindow.maxMessages 0', make({ provider, contextWindow: { maxMessages: 0 } }), [/`contextWindow\.maxMessages`/, /`0`/]],
    ['contextWindow.maxMessages -1', make({ provider, contextWindow: { maxMessages: -1 } }), [/`contextWindow\.maxMessages`/, /`-1`/]],
    ['contextWindow.maxMessages 1.5', make({ provider, contextWindow: { maxMessages: 1.5 } }), [/`contextWindow\.maxMessages`/, /`1\.5`/]],
    ['contextWindow.maxMessages "3"', make({ provider, contextWindow: { maxMessages: '3' } }), [/`contextWindow\.maxMessages`/, /"3"/]],
    ['contextWindow.keepFirst 0', make({ provider, contextWindow: { keepFirst: 0 } }), [/`contextWindow\.keepFirst`/, /`0`/]],
    ['contextWindow.keepFirst 1.5', make({ provider, contextWindow: { maxMessages: 4, keepFirst: 1.5 } }), [/`contextWindow\.keepFirst`/, /`1\.5`/]],
    ['contextWindow.startOn "assistant"', make({ provider, contextWindow: { startOn: 'assistant' } }), [/`contextWindow\.startOn`/, /"assistant"/]],
    ['contextWindow.keepFirst on a store without load({ first })', make({ provider, store: firstlessStore(), contextWindow: { keepFirst: 2 } }), [/`store`/, /`contextWindow\.keepFirst`/, /features\.loadFirst/]],
    ['toolResults true', make({ provider, toolResults: true }), [/`toolResults`/, /`true`/]],
    ['toolResults.keepLast 0', make({ provider, toolResults: { keepLast: 0 } }), [/`toolResults\.keepLast`/, /`0`/]],
    ['toolResults.placeholder 5', make({ provider, toolResults: { placeholder: 5 } }), [/`toolResults\.placeholder`/, /`5`/]],
    ['toolResults.keeplast', make({ provider, toolResults: { keeplast: 2 } }), [/`toolResults\.keeplast`/, /`keepLast`/]],
    ['tokenLimit.oversized "cut"', make({ provider, tokenLimit: { maxTokens: 100, oversized: 'cut' } }), [/`tokenLimit\.oversized`/, /"cut"/]],
    ['contextWindow true', make({ provider, contextWindow: true }), [/`contextWindow`/, /`true`/]],
    ['tokenLimit.maxTokens 0', make({ provider, tokenLimit: { maxTokens: 0 } }), [/`tokenLimit\.maxTokens`/, /`0`/]],
    ['tokenLimit without maxTokens', make({ provider, tokenLimit: { model: 'gpt-4o' } }), [/`tokenLimit\.maxTokens`/, /`undefined`/]],
    ['tokenLimit.model "not-a-model"', make({ provider, tokenLimit: { maxTokens: 100, model: 'not-a-model' } }), [/`tokenLimit\.model`/, /"not-a-model"/]],
    ['reserveForResponse = maxTokens', make({ provider, tokenLimit: { maxTokens: 100, reserveForResponse: 100 } }), [/`tokenLimit\.reserveForResponse`/, /`maxTokens` \(100\)/, /`100`/]],
    ['reserveForResponse > maxTokens', make({ provider, tokenLimit: { maxTokens: 100, reserveForResponse: 250 } }), [/`tokenLimit\.reserveForResponse`/, /`250`/]],
    ['reserveForResponse -1', make({ provider, tokenLimit: { maxTokens: 100, reserveForResponse: -1 } }), [/`tokenLimit\.reserveForResponse`/, /`-1`/]],
    ['saveRetry.retries -1', make({ provider, saveRetry: { retries: -1 } }), [/`saveRetry\.retries`/, /`-1`/]],
    ['saveRetry.minTimeout -5', make({ provider, saveRetry: { minTimeout: -5 } }), [/`saveRetry\.minTimeout`/, /`-5`/]],
    ['saveRetry.factor 0.5', make({ provider, saveRetry: { factor: 0.5 } }), [/`saveRetry\.factor`/, /`0\.5`/]],
    ['saveRetry.bogus', make({ provider, saveRetry: { bogus: 1 } }), [/`saveRetry\.bogus`/]],
    ['saveRetry.randomize "yes"', make({ provider, saveRetry: { randomize: 'yes' } }), [/`saveRetry\.randomize`/, /"yes"/]],
    ['saveRetry.minTimeout above maxTimeout', make({ provider, saveRetry: { minTimeout: 50, maxTimeout: 10 } }), [/`saveRetry\.minTimeout` \(50\)/, /`saveRetry\.maxTimeout` \(10\)/]],
    ['saveRetry 3', make({ provider, saveRetry: 3 }), [/`saveRetry`/, /`3`/]],
    ['timeoutMs 0', make({ provider, timeoutMs: 0 }), [/`timeoutMs`/, /`0`/]],
    ['timeoutMs -100', make({ provider, timeoutMs: -100 }), [/`timeoutMs`/, /`-100`/]],
    ['timeoutMs "1000"', make({ provider, timeoutMs: '1000' }), [/`timeoutMs`/, /"1000"/]],
    ['onSaveError "sometimes"', make({ provider, onSaveError: 'sometimes' }), [/`onSaveError`/, /"sometimes"/]],
    ['onLoadError "ignore"', make({ provider, onLoadError: 'ignore' }), [/`onLoadError`/, /"ignore"/]],
    ['pricing "cheap"', make({ provider, pricing: 'cheap' }), [/`pricing`/, /"cheap"/]],
    ['a negative input price', make({ provider, pricing: { 'my-model': { input: -1, output: 1 } } }), [/`pricing\['my-model'\]\.input`/, /`-1`/]],
    ['a price that is not an object', make({ provider, pricing: { 'my-model': 5 } }), [/`pricing\['my-model'\]`/, /`5`/]],
    ['an empty model', make({ provider, model: '' }), [/`model`/, /""/]],
    ['saveOnAbort "maybe"', make({ provider, saveOnAbort: 'maybe' }), [/`saveOnAbort`/, /"maybe"/]],
    ['estimateUsage "yes"', make({ provider, estimateUsage: 'yes' }), [/`estimateUsage` to be true, false or a TokenCounter/, /"yes"/]],
  ]
  it.each(cases)('throws a TypeError for %s', (_label, run, patterns) => {
    expectTypeError(caught(run), patterns)
  })
})

describe('Pipeline.from', () => {
  const from = (middleware: unknown, options?: unknown) => () => Pipeline.from(middleware as Middleware[], options as never)
  const cases: Case[] = [
    ['a non-array chain', from('state-load'), [/`middleware`/, /"state-load"/]],
    ['a non-function in the chain', from([stateLoad(store), 42]), [/`middleware\[1\]`/, /`42`/]],
    ['options that are not an object', from([], 'x'), [/`options`/, /"x"/]],
    ['an unknown option', from([], { bogus: 1 }), [/`bogus`/]],
    ['timeoutMs 0', from([], { timeoutMs: 0 }), [/`timeoutMs`/, /`0`/]],
    ['a numeric systemPrompt', from([], { systemPrompt: 1 }), [/`systemPrompt`/, /`1`/]],
  ]
  it.each(cases)('throws a TypeError for %s', (_label, run, patterns) => {
    expectTypeError(caught(run), patterns)
  })
})

describe('use', () => {
  const pipe = new Pipeline({ provider })
  const ok: Middleware = async (_ctx, next) => next()
  const use = (fn: unknown, options?: unknown) => () => pipe.use(fn as Middleware, options as never)
  const cases: Case[] = [
    ['a number', use(42), [/`fn`/, /`42`/]],
    ['undefined', use(undefined), [/`fn`/, /`undefined`/]],
    ['string options', use(ok, 'first'), [/`options`/, /"first"/]],
    ['an empty name', use(ok, { name: '' }), [/`name`/, /""/]],
    ['a numeric name', use(ok, { name: 7 }), [/`name`/, /`7`/]],
    ['an unknown before', use(ok, { before: 'nope' }), [/`nope`/, /`before`/]],
    ['an unknown after', use(ok, { after: 'rate-limit' }), [/`rate-limit`/, /`after`/]],
    ['a built-in name', use(ok, { name: 'state-save' }), [/`state-save`/]],
    ['both before and after', use(ok, { before: 'state-load', after: 'state-save' }), [/`before`/, /`after`/]],
  ]
  it.each(cases)('throws a TypeError for %s', (_label, run, patterns) => {
    expectTypeError(caught(run), patterns)
    expect(pipe.middlewareNames).toEqual(['state-load', 'context-window', 'token-truncation', 'provider-call', 'state-save'])
  })
})

describe('middleware factories', () => {
  const cases: Case[] = [
    ['stateLoad without a store', () => stateLoad(undefined as unknown as StateStore), [/`store`/, /`undefined`/]],
    ['stateLoad with a partial store', () => stateLoad({ load() {} } as unknown as StateStore), [/`store`/, /missing save/]],
    ['stateLoad with string options', () => stateLoad(store, 'x' as never), [/`options`/, /"x"/]],
    ['stateLoad last 0', () => stateLoad(store, { last: 0 }), [/`last`/, /`0`/]],
    ['stateLoad last 2.5', () => stateLoad(store, { last: 2.5 }), [/`last`/, /`2\.5`/]],
    ['stateLoad onError "skip"', () => stateLoad(store, { onError: 'skip' as never }), [/`onError`/, /"skip"/]],
    ['contextWindow without options', () => contextWindow(undefined as never), [/`maxMessages`/, /`undefined`/]],
    ['contextWindow with string options', () => contextWindow('10' as never), [/`options`/, /"10"/]],
    ['contextWindow maxMessages 0', () => contextWindow({ maxMessages: 0 }), [/`maxMessages`/, /`0`/]],
    ['contextWindow maxMessages -3', () => contextWindow({ maxMessages: -3 }), [/`maxMessages`/, /`-3`/]],
    ['contextWindow maxMessages 2.5', () => contextWindow({ maxMessages: 2.5 }), [/`maxMessages`/, /`2\.5`/]],
    ['contextWindow maxMessages NaN', () => contextWindow({ maxMessages: Number.NaN }), [/`maxMessages`/, /`NaN`/]],
    ['contextWindow maxMessages Infinity', () => contextWindow({ maxMessages: Number.POSITIVE_INFINITY }), [/`maxMessages`/, /`Infinity`/]],
    ['tokenTruncation without options', () => tokenTruncation(undefined as never), [/`maxTokens`/, /`undefined`/]],
    ['tokenTruncation maxTokens 0', () => tokenTruncation({ maxTokens: 0 }), [/`maxTokens`/, /`0`/]],
    ['tokenTruncation unknown model', () => tokenTruncation({ maxTokens: 10, model: 'nope' }), [/`model`/, /"nope"/]],
    ['tokenTruncation reserve = max', () => tokenTruncation({ maxTokens: 10, reserveForResponse: 10 }), [/`reserveForResponse`/, /`10`/]],
    ['tokenTruncation reserve 1.5', () => tokenTruncation({ maxTokens: 10, reserveForResponse: 1.5 }), [/`reserveForResponse`/, /`1\.5`/]],
    ['providerCall without a provider', () => providerCall(undefined as never), [/`provider`/, /`undefined`/]],
    ['providerCall with a nameless provider', () => providerCall({ complete: async () => ({}) } as never), [/`provider`/]],
    ['providerCall maxTokens -1', () => providerCall(provider, { maxTokens: -1 }), [/`maxTokens`/, /`-1`/]],
    ['providerCall temperature "hot"', () => providerCall(provider, { temperature: 'hot' as never }), [/`temperature`/, /"hot"/]],
    ['providerCall pricing 5', () => providerCall(provider, { pricing: 5 as never }), [/`pricing`/, /`5`/]],
    ['providerCall saveOnAbort "all"', () => providerCall(provider, { saveOnAbort: 'all' as never }), [/`saveOnAbort`/, /"all"/]],
    ['providerCall model ""', () => providerCall(provider, { model: '' }), [/`model`/, /""/]],
    ['providerCall estimateUsage 1', () => providerCall(provider, { estimateUsage: 1 as never }), [/`estimateUsage`/, /`1`/]],
    ['providerCall estimateUsage without count()', () => providerCall(provider, { estimateUsage: { model: 'x' } as never }), [/`estimateUsage` to be true, false or a TokenCounter/]],
    ['providerCall estimatUsage (a misspelling)', () => providerCall(provider, { estimatUsage: true } as never), [/Unknown option `estimatUsage`; did you mean `estimateUsage`\?/]],
    ['stateSave without a store', () => stateSave(undefined as never), [/`store`/, /`undefined`/]],
    ['stateSave retry.retries 1.5', () => stateSave(store, { retry: { retries: 1.5 } }), [/`retry\.retries`/, /`1\.5`/]],
    ['stateSave retry.maxRetryTime -1', () => stateSave(store, { retry: { maxRetryTime: -1 } }), [/`retry\.maxRetryTime`/, /`-1`/]],
    ['stateSave retry.unknown', () => stateSave(store, { retry: { onFailedAttempt: 1 } as never }), [/`retry\.onFailedAttempt`/]],
    ['stateSave onError "ignore"', () => stateSave(store, { onError: 'ignore' as never }), [/`onError`/, /"ignore"/]],
  ]
  it.each(cases)('%s throws a TypeError naming it', (_label, run, patterns) => {
    expectTypeError(caught(run), patterns)
  })
})

describe('MockProvider', () => {
  const mock = (options: unknown) => () => new MockProvider(options as MockProviderOptions)
  const cases: Case[] = [
    ['string options', mock('hi'), [/`options`/, /"hi"/]],
    ['a numeric reply', mock({ reply: 42 }), [/`reply`/, /`42`/]],
    ['an empty reply script', mock({ reply: [] }), [/`reply`/, /`\[\]`/]],
    ['a script with a non-string', mock({ reply: ['ok', 1] }), [/`reply`/, /\["ok",1\]/]],
    ['latencyMs -1', mock({ latencyMs: -1 }), [/`latencyMs`/, /`-1`/]],
    ['latencyMs "slow"', mock({ latencyMs: 'slow' }), [/`latencyMs`/, /"slow"/]],
    ['a numeric name', mock({ name: 42 }), [/`name`/, /`42`/]],
    ['a numeric model', mock({ model: 42 }), [/`model`/, /`42`/]],
  ]
  it.each(cases)('throws a TypeError for %s', (_label, run, patterns) => {
    expectTypeError(caught(run), patterns)
  })
})
