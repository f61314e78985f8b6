/**
 * Property tests of the trimming policies (`context-window`, `token-truncation`
 * and the `trimView` walk they share) over random conversations with pinned system
 * messages, user/assistant messages and tool groups.
 *
 * Each property checks the view against the invariants of DESIGN.md stated on
 * their own (`viewProblems`: pinned kept, newest kept, contiguous tail, no orphan
 * tool message first, no split tool group) and against an independent oracle of
 * the maximal tail (`expectedView`), so a policy that keeps too little fails too.
 */
import fc from 'fast-check'
import { beforeAll, describe, expect, it } from 'vitest'
import { contextWindow } from '../middleware/context-window.js'
import { tokenTruncation } from '../middleware/token-truncation.js'
import { ContextOverflowError } from '../src/errors.js'
import { Pipeline } from '../src/pipeline.js'
import { MockProvider } from '../src/providers/mock.js'
import { MemoryStore } from '../src/stores/memory.js'
import { getTokenCounter, type TokenCounter } from '../src/tokens.js'
import { trimView } from '../src/trim.js'
import type { Message } from '../src/types.js'
import { buildUnits, callArb, conversationArb, expectedView, splitUnits, textArb, unitSpecArb, viewProblems } from './helpers/conversations.js'
import { fakeContext } from './helpers/fake-context.js'

const NUM_RUNS = 300
let counter: TokenCounter

beforeAll(async () => {
  counter = await getTokenCounter('gpt-4o')
})

describe('context-window', () => {
  it('keeps the maximal tail of whole units within maxMessages, pinned and newest always kept', async () => {
    await fc.assert(
      fc.asyncProperty(conversationArb({ cutFront: true }), fc.integer({ min: 1, max: 12 }), async ({ pinned, history }, maxMessages) => {
        const before = [...pinned, ...history]
        const ctx = fakeContext(before.slice())
        let nextCalls = 0
        await contextWindow({ maxMessages })(ctx, async () => {
          nextCalls++
        })
        const view = ctx.messages
        const rest = view.slice(pinned.length)
        const newestUnit = splitUnits(history).at(-1) ?? []

        expect(nextCalls).toBe(1)
        expect(viewProblems(pinned, history, view)).toEqual([])
        // Within budget, unless only the newest unit (kept whole) remains.
        expect(rest.length <= maxMessages || rest.length === newestUnit.length).toBe(true)
        expect(view).toEqual(expectedView(pinned, history, (tail) => tail.length <= maxMessages))
        // Only the view changes: the messages themselves are the same objects.
        for (const message of view) expect(before).toContain(message)

        const dropped = before.length - view.length
        expect(ctx.trimmed['context-window']).toEqual({ kept: view.length, dropped })
        const trimmedEvents = ctx.events.filter((e) => e.name === 'context:trimmed')
        expect(trimmedEvents).toEqual(dropped > 0 ? [{ name: 'context:trimmed', payload: expect.objectContaining({ kept: view.length, dropped, maxMessages }) }] : [])
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

describe('token-truncation', () => {
  it('keeps the maximal tail within maxTokens - reserveForResponse, or throws ContextOverflowError when pinned + newest do not fit', async () => {
    const budgetArb = fc.integer({ min: 1, max: 400 }).chain((maxTokens) =>
      fc.record({ maxTokens: fc.constant(maxTokens), reserveForResponse: fc.integer({ min: 0, max: Math.min(maxTokens - 1, 60) }) }),
    )
    await fc.assert(
      fc.asyncProperty(conversationArb({ cutFront: true }), budgetArb, async ({ pinned, history }, { maxTokens, reserveForResponse }) => {
        const budget = maxTokens - reserveForResponse
        const before = [...pinned, ...history]
        const ctx = fakeContext(before.slice())
        let nextCalls = 0
        const middleware = tokenTruncation({ maxTokens, reserveForResponse, model: 'gpt-4o' })
        const run = middleware(ctx, async () => {
          nextCalls++
        })
        const newestUnit = splitUnits(history).at(-1) ?? []
        const required = counter.countRequest([...pinned, ...newestUnit])

        if (required > budget) {
          const error = await run.then(
            () => undefined,
            (e: unknown) => e,
          )
          expect(error).toBeInstanceOf(ContextOverflowError)
          expect(error).toMatchObject({ requiredTokens: required, maxTokens: budget })
          expect((error as Error).message).toContain(String(required))
          expect((error as Error).message).toContain(String(budget))
          expect(nextCalls).toBe(0)
          return
        }
        await run
        const view = ctx.messages
        const tokens = counter.countRequest(view)
        expect(nextCalls).toBe(1)
        expect(tokens).toBeLessThanOrEqual(budget)
        expect(viewProblems(pinned, history, view)).toEqual([])
        expect(view).toEqual(expectedView(pinned, history, (tail) => counter.countRequest([...pinned, ...tail]) <= budget))
        expect(ctx.trimmed['token-truncation']).toEqual({ kept: view.length, dropped: before.length - view.length, tokens })
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

describe('trimView', () => {
  it('offers whole units newest first, stops at the first refusal, and returns pinned + a contiguous tail', async () => {
    await fc.assert(
      fc.property(conversationArb({ cutFront: true }), fc.array(fc.boolean(), { maxLength: 20 }), ({ pinned, history }, answers) => {
        const messages = [...pinned, ...history]
        const calls: Array<{ start: number; end: number; answer: boolean }> = []
        const view = trimView(messages, (start, end) => {
          const answer = answers[calls.length] ?? true
          calls.push({ start, end, answer })
          return answer
        })
        const units = splitUnits(history)
        // Every offer is exactly one unit, walking back from the newest one without gaps.
        let end = messages.length - (units.at(-1)?.length ?? 0)
        for (const [i, call] of calls.entries()) {
          expect(call.end).toBe(end)
          const unit = messages.slice(call.start, call.end)
          expect(units).toContainEqual(unit)
          expect(unit[0]?.role).not.toBe('tool')
          if (!call.answer) expect(i).toBe(calls.length - 1)
          end = call.start
        }
        expect(viewProblems(pinned, history, view)).toEqual([])
        const keptFrom = calls.at(-1)?.answer === false ? (calls.at(-1)?.end as number) : end
        expect(view).toEqual([...pinned, ...messages.slice(keptFrom)])
        if (view.length === messages.length) expect(view).toBe(messages)
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

interface PipelineCase {
  systemPrompt: string | undefined
  stored: Message[]
  input: Message
  window: number | false
  tokens: { maxTokens: number; reserveForResponse: number } | false
}

/**
 * A stored history of whole units, then either a new user message, or (when a tool
 * group is pending) the next tool result answering its calls.
 */
const pipelineCaseArb: fc.Arbitrary<PipelineCase> = fc
  .record({
    systemPrompt: fc.option(textArb.filter((t) => t.length > 0), { nil: undefined }),
    units: fc.array(unitSpecArb, { maxLength: 14 }),
    pending: fc.option(
      fc.record({ content: textArb, calls: fc.array(callArb, { minLength: 1, maxLength: 3 }), answered: fc.nat({ max: 2 }) }),
      { nil: undefined },
    ),
    // A blank user message is rejected at the entry (a TypeError), so the input always says something.
    userInput: textArb.filter((text) => text.trim().length > 0),
    window: fc.oneof(fc.constant(false as const), fc.integer({ min: 1, max: 10 })),
    tokens: fc.oneof(
      fc.constant(false as const),
      fc.record({ maxTokens: fc.integer({ min: 40, max: 500 }), reserveForResponse: fc.integer({ min: 0, max: 30 }) }),
    ),
  })
  .map(({ systemPrompt, units, pending, userInput, window, tokens }) => {
    const stored = buildUnits(units).flat()
    let input: Message = { role: 'user', content: userInput }
    if (pending !== undefined) {
      const [group] = buildUnits([{ kind: 'tools', ...pending }], 'pending') as [Message[]]
      const answered = Math.min(pending.answered, pending.calls.length - 1)
      stored.push(...group.slice(0, 1 + answered))
      input = group[1 + answered] as Message
    }
    return { systemPrompt, stored, input, window, tokens }
  })

describe('the pipeline over a stored history', () => {
  it('sends the pinned system prompt plus the maximal tail of history + input that both policies allow, and stores everything', async () => {
    await fc.assert(
      fc.asyncProperty(pipelineCaseArb, async ({ systemPrompt, stored, input, window, tokens }) => {
        const store = new MemoryStore()
        if (stored.length > 0) await store.save('s', stored)
        const provider = new MockProvider({ reply: 'ok' })
        const pipe = new Pipeline({
          provider,
          store,
          ...(systemPrompt === undefined ? {} : { systemPrompt }),
          contextWindow: window === false ? false : { maxMessages: window },
          tokenLimit: tokens === false ? false : { ...tokens, model: 'gpt-4o' },
        })
        const pinned: Message[] = systemPrompt === undefined ? [] : [{ role: 'system', content: systemPrompt }]
        const full = [...stored, input]

        let expected = window === false ? [...pinned, ...full] : expectedView(pinned, full, (tail) => tail.length <= window)
        let overflow = false
        if (tokens !== false) {
          const budget = tokens.maxTokens - tokens.reserveForResponse
          const afterWindow = expected.slice(pinned.length)
          const required = counter.countRequest([...pinned, ...(splitUnits(afterWindow).at(-1) ?? [])])
          overflow = required > budget
          expected = expectedView(pinned, afterWindow, (tail) => counter.countRequest([...pinned, ...tail]) <= budget)
        }

        const turn = pipe.execute('s', input.role, input.content, input.toolCallId === undefined ? {} : { toolCallId: input.toolCallId })
        if (overflow) {
          await expect(turn).rejects.toBeInstanceOf(ContextOverflowError)
          expect(provider.requests).toHaveLength(0)
          expect(await store.load('s')).toEqual(stored)
          return
        }
        const result = await turn
        const view = provider.requests[0]?.messages ?? []
        expect(view).toEqual(expected)
        expect(result.messages).toEqual(view)
        expect(viewProblems(pinned, full, view)).toEqual([])
        if (window !== false) expect(view.length - pinned.length <= window || view.length - pinned.length === splitUnits(full).at(-1)?.length).toBe(true)
        if (tokens !== false) expect(counter.countRequest(view)).toBeLessThanOrEqual(tokens.maxTokens - tokens.reserveForResponse)
        // Trimming changes only the view: the store keeps every message.
        expect(await store.load('s')).toEqual([...full, { role: 'assistant', content: 'ok' }])
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

interface PolicyCase extends PipelineCase {
  keepFirst: number | undefined
  startOn: 'user' | 'any'
  keepLast: number | undefined
  oversized: 'throw' | 'truncate'
  /** A big tool result or user message as the input (for `oversized`). */
  bigInput: boolean
}

const PLACEHOLDER = '[cleared]'
const MARKER = /\n\[… (more than )?\d+ tokens removed to fit the context …\]\n/

const policyCaseArb: fc.Arbitrary<PolicyCase> = fc
  .record({
    base: pipelineCaseArb,
    keepFirst: fc.option(fc.integer({ min: 1, max: 6 }), { nil: undefined }),
    startOn: fc.constantFrom('user' as const, 'any' as const),
    keepLast: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
    oversized: fc.constantFrom('throw' as const, 'truncate' as const),
    bigInput: fc.boolean(),
  })
  .map(({ base, bigInput, ...policies }) => {
    const input = bigInput ? { ...base.input, content: `${base.input.content} ${'lorem ipsum dolor '.repeat(200)}` } : base.input
    // keepFirst needs a window; the window may still come from the default.
    return { ...base, input, bigInput, ...policies, window: base.window === false && policies.keepFirst !== undefined ? 6 : base.window }
  })

/** The message without its content: what every policy keeps as it is. */
const shape = (m: Message | undefined) => (m === undefined ? undefined : JSON.stringify({ ...m, content: undefined }))

describe('every combination of policies', () => {
  it('keeps the invariants: pinned system prompt, a whole-unit opening, a valid tail with the newest unit, within budget, user first with startOn', async () => {
    await fc.assert(
      fc.asyncProperty(policyCaseArb, async (c) => {
        const store = new MemoryStore()
        if (c.stored.length > 0) await store.save('s', c.stored)
        const provider = new MockProvider({ reply: 'ok' })
        const pipe = new Pipeline({
          provider,
          store,
          ...(c.systemPrompt === undefined ? {} : { systemPrompt: c.systemPrompt }),
          contextWindow:
            c.window === false ? false : { maxMessages: c.window, startOn: c.startOn, ...(c.keepFirst === undefined ? {} : { keepFirst: c.keepFirst }) },
          tokenLimit: c.tokens === false ? false : { ...c.tokens, model: 'gpt-4o', oversized: c.oversized },
          toolResults: c.keepLast === undefined ? false : { keepLast: c.keepLast, placeholder: PLACEHOLDER },
        })
        const pinned: Message[] = c.systemPrompt === undefined ? [] : [{ role: 'system', content: c.systemPrompt }]
        const full = [...c.stored, c.input]
        let result
        try {
          result = await pipe.execute('s', c.input.role, c.input.content, c.input.toolCallId === undefined ? {} : { toolCallId: c.input.toolCallId })
        } catch (error) {
          // Only a budget too small for the pinned part (and, with 'throw', the newest unit) may fail a turn.
          expect(error).toBeInstanceOf(ContextOverflowError)
          expect(c.tokens).not.toBe(false)
          expect(await store.load('s')).toEqual(c.stored)
          return
        }
        const view = provider.requests[0]?.messages ?? []
        expect(result.messages).toEqual(view)
        for (let i = 0; i < pinned.length; i++) expect(view[i]).toEqual(pinned[i])
        const rest = view.slice(pinned.length)

        // The content of a view message is its stored content, a placeholder (cleared tool
        // result) or a cut of it (the newest unit, with oversized: 'truncate').
        const contentOk = (shown: Message, original: Message, newest: boolean) =>
          shown.content === original.content ||
          (c.keepLast !== undefined && shown.role === 'tool' && shown.content === PLACEHOLDER) ||
          (newest && c.oversized === 'truncate' && MARKER.test(shown.content))

        // Some split of the rest into an opening (a whole-unit prefix of the stored history,
        // after leading orphan results) and a tail must satisfy every invariant.
        let skip = 0
        while (c.stored[skip]?.role === 'tool') skip++
        const newestUnit = splitUnits(full).at(-1) ?? []
        const problemsAt = (h: number): string[] => {
          const head = rest.slice(0, h)
          const tail = rest.slice(h)
          const problems: string[] = []
          if (h > (c.keepFirst ?? 0)) problems.push('opening longer than keepFirst')
          for (let i = 0; i < h; i++) {
            const original = c.stored[skip + i]
            if (original === undefined || shape(head[i]) !== shape(original) || !contentOk(head[i] as Message, original, false)) problems.push(`opening ${i} differs`)
          }
          const headCalls = new Set(head.flatMap((m) => (m.toolCalls ?? []).map((call) => call.id)))
          for (const m of c.stored) if (m.role === 'tool' && headCalls.has(m.toolCallId as string) && !head.some((k) => k.toolCallId === m.toolCallId)) problems.push('opening splits a group')
          // The tail, compared by shape (contents checked below, position by position).
          const shapes = (ms: readonly Message[]) => ms.map((m): Message => ({ ...m, content: '' }))
          problems.push(...viewProblems([], shapes(full), shapes(tail)))
          const offset = full.length - tail.length
          for (let i = 0; i < tail.length; i++) {
            const original = full[offset + i] as Message
            if (!contentOk(tail[i] as Message, original, offset + i >= full.length - newestUnit.length)) problems.push(`tail ${i} content differs`)
          }
          if (c.startOn === 'user' && c.window !== false && tail[0]?.role !== 'user' && tail.length !== newestUnit.length) problems.push('does not start on a user message')
          return problems
        }
        const splits = Array.from({ length: Math.min(rest.length, c.keepFirst ?? 0) + 1 }, (_, h) => problemsAt(h))
        if (!splits.some((problems) => problems.length === 0)) expect(splits[0]).toEqual([])

        if (c.tokens !== false) expect(counter.countRequest(view)).toBeLessThanOrEqual(c.tokens.maxTokens - c.tokens.reserveForResponse)
        if (c.keepLast !== undefined) {
          // Tool results of the newest keepLast groups in view are never cleared.
          const groups = rest.filter((m) => m.role === 'assistant' && (m.toolCalls?.length ?? 0) > 0).slice(-c.keepLast)
          const kept = new Set(groups.flatMap((m) => (m.toolCalls ?? []).map((call) => call.id)))
          for (const m of rest) if (m.role === 'tool' && kept.has(m.toolCallId as string)) expect(m.content).not.toBe(PLACEHOLDER)
        }
        // Trimming changes only the view: the store keeps every message whole.
        expect(await store.load('s')).toEqual([...full, { role: 'assistant', content: 'ok' }])
      }),
      { numRuns: NUM_RUNS },
    )
  })
})

describe('the rolling summary over random conversations', () => {
  it('ends only between units, only moves forward, never changes the store, and leaves a valid view', async () => {
    const caseArb = fc.record({
      units: fc.array(unitSpecArb, { minLength: 1, maxLength: 30 }),
      window: fc.integer({ min: 1, max: 8 }),
      after: fc.integer({ min: 1, max: 8 }),
      mode: fc.constantFrom('background' as const, 'inline' as const),
      keepFirst: fc.option(fc.integer({ min: 1, max: 3 }), { nil: undefined }),
      turns: fc.array(textArb.filter((t) => t.trim().length > 0), { minLength: 1, maxLength: 4 }),
    })
    await fc.assert(
      fc.asyncProperty(caseArb, async ({ units, window, after, mode, keepFirst, turns }) => {
        const store = new MemoryStore()
        const stored = buildUnits(units).flat()
        await store.save('s', stored)
        const summariser = new MockProvider({ reply: (messages) => `summary of ${messages.at(-1)?.content.length ?? 0} characters` })
        const provider = new MockProvider({ reply: 'ok' })
        const pipe = new Pipeline({
          provider,
          store,
          systemPrompt: 'Be terse.',
          contextWindow: { maxMessages: window, ...(keepFirst === undefined ? {} : { keepFirst }) },
          summary: { provider: summariser, after, mode },
        })
        const positions: number[] = []
        pipe.on('summary:updated', (e) => {
          expect(e.position).toBeGreaterThan(e.previousPosition)
          positions.push(e.position)
        })
        const failures: unknown[] = []
        pipe.on('summary:failed', (e) => failures.push(e.error))
        const full = [...stored]
        for (const text of turns) {
          await pipe.execute('s', 'user', text)
          full.push({ role: 'user', content: text }, { role: 'assistant', content: 'ok' })
        }
        await pipe.shutdown()
        expect(failures).toEqual([])
        // Forward only, and only between units.
        for (let i = 1; i < positions.length; i++) expect(positions[i]).toBeGreaterThan(positions[i - 1] as number)
        for (const position of positions) {
          expect(position).toBeLessThanOrEqual(full.length)
          expect(full[position]?.role).not.toBe('tool')
        }
        // Summarising never rewrites the history.
        expect(await store.load('s')).toEqual(full)
        // Every view: the system prompt, then at most one summary, then a valid view of the rest.
        for (const request of provider.requests) {
          const view = request.messages
          expect(view[0]).toEqual({ role: 'system', content: 'Be terse.' })
          const summaries = view.filter((m) => m.metadata?.summary !== undefined)
          expect(summaries.length).toBeLessThanOrEqual(1)
          if (summaries.length === 1) expect(view[1]).toBe(summaries[0])
          const rest = view.slice(1 + summaries.length)
          // The newest message is the turn's input; no tool result lacks its call.
          const calls = new Set<string>()
          for (const m of rest) {
            for (const call of m.toolCalls ?? []) calls.add(call.id)
            if (m.role === 'tool' && rest[0]?.role !== 'tool') expect(calls.has(m.toolCallId as string)).toBe(true)
          }
          expect(rest.at(-1)?.role).toBe('user')
        }
      }),
      { numRuns: 150 },
    )
  })
})
