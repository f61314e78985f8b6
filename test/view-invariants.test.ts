/**
 * The view check after every trimming middleware (`ViewInvariantError`) and
 * `pipe.withSession`, the session queue for maintenance.
 */
import fc from 'fast-check'
import { describe, expect, it } from 'vitest'
import type { Middleware } from '../src/context.js'
import { PipelineClosedError, ViewInvariantError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { trimView } from '../src/trim.js'
import type { Message } from '../src/types.js'
import { viewProblem } from '../src/view-check.js'
import { contextWindow, providerCall, stateLoad, stateSave } from '../middleware/index.js'
import { conversationArb, viewProblems } from './helpers/conversations.js'
import { assistant, user } from './helpers/messages.js'

const calls = (...ids: string[]): Message => ({ role: 'assistant', content: '', toolCalls: ids.map((id) => ({ id, name: 'f', arguments: '{}' })) })
const result = (id: string): Message => ({ role: 'tool', content: `r${id}`, toolCallId: id })
const history: Message[] = [user('u1'), calls('a', 'b'), result('a'), result('b'), assistant('done'), user('u2'), assistant('a2')]

async function runWith(policy: Middleware, name: string) {
  const store = new MemoryStore()
  await store.save('s', history)
  const provider = new MockProvider({ reply: 'ok' })
  const pipe = new Pipeline({ provider, store, systemPrompt: 'Be terse.', contextWindow: false })
  pipe.use(policy, { name, after: 'token-truncation' })
  const outcome = await pipe.execute('s', 'user', 'now').then(
    (result) => ({ result }),
    (error: unknown) => ({ error }),
  )
  return { outcome, provider, stored: await store.load('s') }
}

describe('the view check', () => {
  const broken: Array<[string, Middleware, RegExp]> = [
    ['drops the newest message', async (ctx, next) => ((ctx.messages = ctx.messages.slice(0, -1)), next()), /newest message/],
    ['drops the system prompt', async (ctx, next) => ((ctx.messages = ctx.messages.slice(1)), next()), /pinned message 0/],
    ['unpins everything', async (ctx, next) => ((ctx.messages = ctx.messages.slice(0, -1).concat(ctx.messages.slice(-1))), (ctx.pinned = ctx.messages.length), next()), /`ctx.pinned`/],
    ['keeps results without their call', async (ctx, next) => ((ctx.messages = ctx.messages.filter((m) => m.toolCalls === undefined)), next()), /tool result `a`.*no call/],
    ['keeps a call without one of its results', async (ctx, next) => ((ctx.messages = ctx.messages.filter((m) => m.toolCallId !== 'b')), next()), /call `b`.*without its result/],
    ['splices the view in place', async (ctx, next) => (ctx.messages.splice(2, 1), next()), /tool result `a`.*no call/],
  ]

  it.each(broken)('fails the turn with ViewInvariantError naming a middleware that %s', async (_label, policy, problem) => {
    const { outcome, provider, stored } = await runWith(policy, 'my-trimmer')
    expect('error' in outcome).toBe(true)
    const error = (outcome as { error: unknown }).error
    expect(error).toBeInstanceOf(ViewInvariantError)
    expect((error as ViewInvariantError).middleware).toBe('my-trimmer')
    expect((error as Error).message).toMatch(/`my-trimmer`/)
    expect((error as Error).message).toMatch(problem)
    expect(provider.requests).toHaveLength(0)
    expect(stored).toStrictEqual(history)
  })

  const fine: Array<[string, Middleware]> = [
    ['trims with trimView', async (ctx, next) => ((ctx.messages = trimView(ctx.messages, (start) => ctx.messages.length - start <= 3, ctx.pinned)), next())],
    ['redacts every message (new objects, same length)', async (ctx, next) => ((ctx.messages = ctx.messages.map((m) => ({ ...m, content: m.content.replace('u', '*') }))), next())],
    ['inserts a retrieved document after the system prompt', async (ctx, next) => (ctx.messages.splice(1, 0, { role: 'system', content: 'doc' }), next())],
    ['pins a summary of its own', async (ctx, next) => (ctx.messages.splice(1, 0, { role: 'system', content: 'summary' }), ctx.pinned++, next())],
  ]

  it.each(fine)('lets a middleware that %s through', async (_label, policy) => {
    const { outcome, provider } = await runWith(policy, 'fine')
    expect('result' in outcome).toBe(true)
    expect(provider.requests).toHaveLength(1)
  })

  it('checks a chain built with Pipeline.from too', async () => {
    const store = new MemoryStore()
    const provider = new MockProvider({ reply: 'ok' })
    const dropAll = async function dropAll(ctx: Parameters<Middleware>[0], next: () => Promise<void>) {
      ctx.messages = []
      await next()
    }
    const pipe = Pipeline.from([stateLoad(store), contextWindow({ maxMessages: 2 }), dropAll, providerCall(provider), stateSave(store)])
    await expect(pipe.execute('s', 'user', 'hi')).rejects.toThrow(/`dropAll`.*newest message/)
  })

  it('reports nothing for any view trimView makes (no false alarms)', () => {
    fc.assert(
      fc.property(conversationArb({ cutFront: true }), fc.array(fc.boolean(), { maxLength: 20 }), ({ pinned, history }, answers) => {
        const before = [...pinned, ...history]
        let asked = 0
        const after = trimView(before, () => answers[asked++] ?? true, pinned.length)
        expect(viewProblem(before, pinned.length, after, pinned.length)).toBeUndefined()
      }),
      { numRuns: 300 },
    )
  })

  it('reports every view that loses the newest message, pinned messages or a group half (against the independent oracle)', () => {
    fc.assert(
      fc.property(conversationArb({ cutFront: true }), fc.nat(), ({ pinned, history }, seed) => {
        const before = [...pinned, ...history]
        // Drop one message anywhere: sometimes harmless (an old whole unit of one message), often not.
        const at = seed % before.length
        const after = before.filter((_, i) => i !== at)
        const keptPinned = at < pinned.length ? pinned.length - 1 : pinned.length
        if (after.length === 0) return
        const oracle = viewProblems(pinned, history, after).filter((p) => !p.includes('contiguous') && !p.includes('longer'))
        const problem = viewProblem(before, pinned.length, after, keptPinned)
        if (oracle.length > 0) expect(problem).toBeDefined()
      }),
      { numRuns: 500 },
    )
  })
})

describe('pipe.withSession', () => {
  it('runs in the session queue: after the turns before it, before the turns after it', async () => {
    const store = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'ok', latencyMs: 20 }), store })
    const order: string[] = []
    const first = pipe.execute('s', 'user', 'one').then((): void => void order.push('turn 1'))
    const maintenance = pipe.withSession('s', async () => {
      order.push(`maintenance sees ${await store.length('s')} messages`)
      await store.append('s', [assistant('note')])
      return 'done'
    })
    const second = pipe.execute('s', 'user', 'two').then((r): void => void order.push(`turn 2 sees ${r.messages.length - 1} earlier messages`))
    // Another session is not held up.
    const other = pipe.execute('t', 'user', 'elsewhere').then((): void => void order.push('other session'))
    expect(await maintenance).toBe('done')
    await Promise.all([first, second, other])
    expect(order.indexOf('turn 1')).toBeLessThan(order.indexOf('maintenance sees 2 messages'))
    expect(order).toContain('turn 2 sees 3 earlier messages')
    expect(order.indexOf('maintenance sees 2 messages')).toBeLessThan(order.indexOf('turn 2 sees 3 earlier messages'))
  })

  it('passes on what fn rejects with, and the queue moves on', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'ok' }) })
    const failure = new Error('compaction failed')
    await expect(
      pipe.withSession('s', () => {
        throw failure
      }),
    ).rejects.toBe(failure)
    expect((await pipe.execute('s', 'user', 'hi')).saved).toBe(true)
  })

  it('is awaited by shutdown(), and refused after it', async () => {
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'ok' }) })
    let finished = false
    void pipe.withSession('s', async () => {
      await new Promise((resolve) => setTimeout(resolve, 30))
      finished = true
    })
    await pipe.shutdown()
    expect(finished).toBe(true)
    await expect(pipe.withSession('s', () => 1)).rejects.toBeInstanceOf(PipelineClosedError)
  })

  const one = (): number => 1
  it.each([
    ['an empty session id', '', one, /`sessionId`/],
    ['a numeric session id', 42, one, /`sessionId`/],
    ['a missing fn', 's', undefined, /`fn`/],
    ['a string fn', 's', 'compact', /`fn`/],
  ])('rejects %s with a TypeError', async (_label, id, fn, pattern) => {
    const pipe = new Pipeline({ provider: new MockProvider({ reply: 'ok' }) })
    const error = await pipe.withSession(id as never, fn as never).catch((e: unknown) => e)
    expect(error).toBeInstanceOf(TypeError)
    expect((error as Error).message).toMatch(pattern)
  })
})
