/**
 * What `execute`/`stream` accept as a turn's messages: metadata that is JSON-safe,
 * size-limited and copied at the call; no blank user or system content. Everything
 * here is rejected before the store or the provider is touched.
 */
import { describe, expect, it } from 'vitest'
import { MAX_METADATA_BYTES, MAX_METADATA_DEPTH } from '../src/metadata.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import type { Message } from '../src/types.js'

function setup() {
  const provider = new MockProvider()
  const store = new MemoryStore()
  const pipe = new Pipeline({ provider, store })
  return { provider, store, pipe }
}

const circular: Record<string, unknown> = { a: 1 }
circular.self = circular
const deepCycle: Record<string, unknown> = { user: { tags: [] as unknown[] } }
;((deepCycle.user as Record<string, unknown>).tags as unknown[]).push(deepCycle)
let deep: Record<string, unknown> = {}
for (let i = 0; i < MAX_METADATA_DEPTH + 1; i++) deep = { d: deep }

/** [label, metadata, patterns the message must match] */
const badMetadata: Array<[string, unknown, RegExp[]]> = [
  ['a cycle', circular, [/`options\.metadata\.self`/, /circular/]],
  ['a cycle through an array', deepCycle, [/`options\.metadata\.user\.tags\[0\]`/, /circular/]],
  ['a BigInt', { user: { id: 10n } }, [/`options\.metadata\.user\.id`/, /`10n`/]],
  ['a function', { onDone: () => 1 }, [/`options\.metadata\.onDone`/, /function/]],
  ['a symbol', { kind: Symbol('x') }, [/`options\.metadata\.kind`/, /Symbol\(x\)/]],
  ['NaN', { score: Number.NaN }, [/`options\.metadata\.score`/, /finite number/, /`NaN`/]],
  ['Infinity', { score: Number.POSITIVE_INFINITY }, [/`options\.metadata\.score`/, /`Infinity`/]],
  ['a Date', { at: new Date(0) }, [/`options\.metadata\.at`/, /not a Date/]],
  ['a Map', { tags: new Map() }, [/`options\.metadata\.tags`/, /not a Map/]],
  ['a class instance', { err: new Error('x') }, [/`options\.metadata\.err`/, /not a Error/]],
  ['undefined in an array', { list: [1, undefined] }, [/`options\.metadata\.list\[1\]`/, /`undefined`/]],
  ['a symbol key', { [Symbol('k')]: 1 }, [/`options\.metadata`/, /symbol key/]],
  ['an odd key path', { 'user id': { n: 10n } }, [/`options\.metadata\["user id"\]\.n`/]],
  ['a Date at the top', new Date(0), [/`options\.metadata`/, /plain object/]],
  ['an array at the top', [], [/`options\.metadata`/, /plain object/, /`\[\]`/]],
  ['null', null, [/`options\.metadata`/, /`null`/]],
  [`more than ${MAX_METADATA_BYTES} bytes`, { blob: 'x'.repeat(MAX_METADATA_BYTES) }, [/`options\.metadata`/, new RegExp(`at most ${MAX_METADATA_BYTES} bytes`), /got \d+ bytes/]],
  [`more than ${MAX_METADATA_BYTES} bytes of multibyte text`, { blob: '€'.repeat(22_000) }, [/`options\.metadata`/, /bytes/]],
  [`deeper than ${MAX_METADATA_DEPTH} levels`, deep, [/`options\.metadata(\.d)+`/, new RegExp(`${MAX_METADATA_DEPTH} levels`)]],
]

describe('metadata at the entry', () => {
  it.each(badMetadata)('execute rejects %s before calling the provider', async (_label, metadata, patterns) => {
    const { provider, store, pipe } = setup()
    const error = await pipe.execute('s', 'user', 'hi', { metadata: metadata as Record<string, unknown> }).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    for (const pattern of patterns) expect((error as Error).message).toMatch(pattern)
    expect(provider.requests).toHaveLength(0)
    expect(await store.length('s')).toBe(0)
  })

  // Metadata that is not an object at all is caught by the message check ("Invalid `messages[0]`").
  const nested = badMetadata.filter(([, metadata]) => metadata !== null && !Array.isArray(metadata))
  it.each(nested)('stream rejects %s, naming messages[i].metadata in the messages form', async (_label, metadata, patterns) => {
    const { provider, pipe } = setup()
    const messages = [{ role: 'user', content: 'hi', metadata }] as Message[]
    const error = await pipe.stream('s', messages).next().catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    for (const pattern of patterns) expect((error as Error).message).toMatch(new RegExp(pattern.source.replaceAll('options\\.metadata', 'messages\\[0\\]\\.metadata')))
    expect(provider.requests).toHaveLength(0)
  })

  it('accepts exactly the limit, and JSON values of every kind', async () => {
    const { store, pipe } = setup()
    const metadata = { s: 'x', n: -0.5, b: false, z: null, list: [1, 'a', [true], { k: null }], nested: { a: { b: {} } } }
    const overhead = Buffer.byteLength(JSON.stringify({ blob: '' }))
    await pipe.execute('s', 'user', 'hi', { metadata: { blob: 'x'.repeat(MAX_METADATA_BYTES - overhead) } })
    await pipe.execute('s', 'user', 'hi', { metadata })
    const stored = await store.load('s')
    expect(Buffer.byteLength(JSON.stringify(stored[0]?.metadata))).toBe(MAX_METADATA_BYTES)
    expect(stored[2]?.metadata).toEqual(metadata)
  })

  it('accepts null-prototype objects and drops properties set to undefined', async () => {
    const { store, pipe } = setup()
    const bare = Object.assign(Object.create(null) as Record<string, unknown>, { a: 1 })
    await pipe.execute('s', 'user', 'hi', { metadata: { bare, gone: undefined, kept: 1 } })
    const [input] = await store.load('s')
    expect(input?.metadata).toEqual({ bare: { a: 1 }, kept: 1 })
    expect(Object.keys(input?.metadata ?? {})).toEqual(['bare', 'kept'])
  })

  it('keeps an own __proto__ key as data, never as the prototype', async () => {
    const { store, pipe } = setup()
    const metadata = JSON.parse('{"__proto__": {"polluted": true}}') as Record<string, unknown>
    await pipe.execute('s', 'user', 'hi', { metadata })
    const [input] = await store.load('s')
    expect(Object.getPrototypeOf(input?.metadata)).toBe(Object.prototype)
    expect(({} as Record<string, unknown>).polluted).toBeUndefined()
  })

  it('stores the metadata as it was at the call, whatever the caller changes while the turn is in flight', async () => {
    const provider = new MockProvider({ latencyMs: 20 })
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider, store })
    const metadata = { user: { id: 'u1', tags: ['a'] } }
    const turn = pipe.execute('s', 'user', 'hi', { metadata })
    metadata.user.id = 'changed'
    metadata.user.tags.push('b')
    const messages: Message[] = [{ role: 'user', content: 'again', metadata: { step: 1 } }]
    const second = pipe.execute('s', messages)
    ;(messages[0]?.metadata as Record<string, unknown>).step = 2
    const result = await turn
    await second
    expect(result.newMessages[0]?.metadata).toEqual({ user: { id: 'u1', tags: ['a'] } })
    const stored = await store.load('s')
    expect(stored[0]?.metadata).toEqual({ user: { id: 'u1', tags: ['a'] } })
    expect(stored[2]?.metadata).toEqual({ step: 1 })
  })
})

describe('blank content', () => {
  const blank: Array<[string, unknown[], RegExp[]]> = [
    ['an empty user message', ['s', 'user', ''], [/`content` of a user message/, /""/]],
    ['a whitespace-only user message', ['s', 'user', ' \n\t'], [/`content` of a user message/]],
    ['an empty system message', ['s', 'system', ''], [/`content` of a system message/]],
    ['an empty user message in the messages form', ['s', [{ role: 'tool', toolCallId: 'a', content: 'ok' }, { role: 'user', content: '' }]], [/`messages\[1\]\.content` of a user message/]],
  ]
  it.each(blank)('rejects %s with a TypeError', async (_label, args, patterns) => {
    const { provider, store, pipe } = setup()
    const error = await (pipe.execute as (...a: unknown[]) => Promise<unknown>).apply(pipe, args).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    for (const pattern of patterns) expect((error as Error).message).toMatch(pattern)
    expect(provider.requests).toHaveLength(0)
    expect(await store.length('s')).toBe(0)
  })

  it('accepts an empty tool result and an empty assistant message that only calls tools', async () => {
    const { store, pipe } = setup()
    const call = { id: 'c1', name: 'noop', arguments: '{}' }
    await pipe.execute('s', [
      { role: 'user', content: 'run noop' },
      { role: 'assistant', content: '', toolCalls: [call] },
      { role: 'tool', toolCallId: 'c1', content: '' },
    ])
    await pipe.execute('s', 'tool', '', { toolCallId: 'c1' })
    expect((await store.load('s')).map((m) => m.content)).toEqual(['run noop', '', '', 'Echo: ', '', 'Echo: '])
  })
})
