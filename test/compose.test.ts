/** Koa/Hono-style composition: onion order, next() twice, errors, short-circuit, hooks. */
import { describe, expect, it } from 'vitest'
import { compose, named, type ComposeHooks } from '../src/compose.js'
import type { ExecutionContext, Middleware } from '../src/context.js'
import { fakeContext } from './helpers/fake-context.js'

const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms))

function logging(log: string[], name: string): Middleware {
  return named(name, async (_ctx, next) => {
    log.push(`${name}:in`)
    await next()
    log.push(`${name}:out`)
  })
}

describe.each([
  ['without hooks', undefined],
  ['with hooks', { onStart: () => {}, onEnd: () => {} } satisfies ComposeHooks],
])('compose %s', (_label, hooks) => {
  it('runs middleware as an onion: down in order, back up in reverse', async () => {
    const log: string[] = []
    await compose([logging(log, 'a'), logging(log, 'b'), logging(log, 'c')], hooks)(fakeContext())
    expect(log).toEqual(['a:in', 'b:in', 'c:in', 'c:out', 'b:out', 'a:out'])
  })

  it('waits for asynchronous downstream work before resuming upstream', async () => {
    const log: string[] = []
    const slow: Middleware = async (_ctx, next) => {
      await sleep(5)
      log.push('slow done')
      await next()
    }
    await compose([logging(log, 'outer'), slow, logging(log, 'inner')], hooks)(fakeContext())
    expect(log).toEqual(['outer:in', 'slow done', 'inner:in', 'inner:out', 'outer:out'])
  })

  it('passes the same context to every middleware', async () => {
    const ctx = fakeContext()
    const seen: ExecutionContext[] = []
    const record: Middleware = async (c, next) => {
      seen.push(c)
      c.state.set(`m${seen.length}`, true)
      await next()
    }
    await compose([record, record, record], hooks)(ctx)
    expect(seen).toEqual([ctx, ctx, ctx])
    expect([...ctx.state.keys()]).toEqual(['m1', 'm2', 'm3'])
  })

  it('rejects when a middleware calls next() twice, naming it', async () => {
    const twice = named('call-twice', async (_ctx, next) => {
      await next()
      await next()
    })
    const log: string[] = []
    const run = compose([logging(log, 'a'), twice, logging(log, 'b')], hooks)(fakeContext())
    await expect(run).rejects.toThrow(/next\(\) called multiple times in middleware `call-twice`/)
    // The downstream middleware ran once only.
    expect(log.filter((l) => l === 'b:in')).toHaveLength(1)
  })

  it('names an anonymous middleware that calls next() twice by its position', async () => {
    const anonymous: Middleware[] = [
      async (_ctx, next) => next(),
      async (_ctx, next) => {
        await next()
        await next()
      },
    ]
    Object.defineProperty(anonymous[1], 'name', { value: '' })
    await expect(compose(anonymous, hooks)(fakeContext())).rejects.toThrow(/`#1`/)
  })

  it('rejects with the very error a middleware threw, and lets upstream middleware catch it', async () => {
    const failure = new Error('downstream broke')
    const thrower: Middleware = async () => {
      throw failure
    }
    await expect(compose([logging([], 'a'), thrower], hooks)(fakeContext())).rejects.toBe(failure)

    let caught: unknown
    const catcher: Middleware = async (_ctx, next) => {
      try {
        await next()
      } catch (error) {
        caught = error
      }
    }
    await expect(compose([catcher, thrower], hooks)(fakeContext())).resolves.toBeUndefined()
    expect(caught).toBe(failure)
  })

  it('turns a synchronous throw into a rejection', async () => {
    const failure = new Error('sync')
    const sync = (() => {
      throw failure
    }) as unknown as Middleware
    const run = compose([sync], hooks)
    let result: Promise<void> | undefined
    expect(() => {
      result = run(fakeContext())
    }).not.toThrow()
    await expect(result).rejects.toBe(failure)
  })

  it('short-circuits when a middleware does not call next(): downstream never runs, upstream resumes', async () => {
    const log: string[] = []
    const stop = named('stop', async () => {
      log.push('stop')
    })
    await compose([logging(log, 'a'), stop, logging(log, 'b')], hooks)(fakeContext())
    expect(log).toEqual(['a:in', 'stop', 'a:out'])
  })

  it('resolves an empty chain, and next() at the end of a chain is a no-op', async () => {
    await expect(compose([], hooks)(fakeContext())).resolves.toBeUndefined()
    const log: string[] = []
    await compose([logging(log, 'only')], hooks)(fakeContext())
    expect(log).toEqual(['only:in', 'only:out'])
  })

  it('can run the same composed chain many times, each run independent', async () => {
    let runs = 0
    const chain = compose([async (_ctx, next) => {
      runs++
      await next()
    }], hooks)
    await Promise.all([chain(fakeContext()), chain(fakeContext()), chain(fakeContext())])
    expect(runs).toBe(3)
  })
})

describe('compose arguments', () => {
  it('rejects a non-function with a TypeError naming its position and the value', () => {
    const bad = [async () => {}, 42] as unknown as Middleware[]
    expect(() => compose(bad)).toThrow(TypeError)
    expect(() => compose(bad)).toThrow(/`middleware\[1\]`/)
    expect(() => compose(bad)).toThrow(/42/)
  })

  it('named() sets the name compose and the pipeline report', () => {
    const fn = named('my-name', async (_ctx, next) => next())
    expect(fn.name).toBe('my-name')
  })
})

describe('compose hooks', () => {
  function recorder() {
    const calls: Array<{ hook: 'start' | 'end'; index: number; durationMs?: number; error?: unknown }> = []
    const hooks: ComposeHooks = {
      onStart: (index) => calls.push({ hook: 'start', index }),
      onEnd: (index, _ctx, durationMs, error) => calls.push({ hook: 'end', index, durationMs, error }),
    }
    return { calls, hooks }
  }

  it('calls onStart down the chain and onEnd back up, with durations that nest', async () => {
    const { calls, hooks } = recorder()
    const wait: Middleware = async (_ctx, next) => {
      await sleep(5)
      await next()
    }
    await compose([wait, wait, wait], hooks)(fakeContext())
    expect(calls.map((c) => `${c.hook}${c.index}`)).toEqual(['start0', 'start1', 'start2', 'end2', 'end1', 'end0'])
    const ends = calls.filter((c) => c.hook === 'end')
    for (const end of ends) {
      expect(end.durationMs).toBeGreaterThanOrEqual(0)
      expect(end.error).toBeUndefined()
    }
    // An outer middleware's duration includes its inner ones.
    const [end2, end1, end0] = ends.map((e) => e.durationMs as number)
    expect(end1).toBeGreaterThanOrEqual(end2 as number)
    expect(end0).toBeGreaterThanOrEqual(end1 as number)
  })

  it('passes the error to onEnd of the thrower and of each middleware it propagated through', async () => {
    const { calls, hooks } = recorder()
    const failure = new Error('boom')
    const catcher: Middleware = async (_ctx, next) => {
      await next().catch(() => {})
    }
    const pass: Middleware = async (_ctx, next) => next()
    const thrower: Middleware = async () => {
      throw failure
    }
    await compose([catcher, pass, thrower], hooks)(fakeContext())
    const errors = calls.filter((c) => c.hook === 'end').map((c) => [c.index, c.error])
    expect(errors).toEqual([
      [2, failure],
      [1, failure],
      [0, undefined],
    ])
  })

  it('reports a thrown nullish value to onEnd as an Error, while the chain rejects with the value itself', async () => {
    const { calls, hooks } = recorder()
    const nullish: Middleware = async () => {
      throw undefined
    }
    const outcome = await compose([nullish], hooks)(fakeContext()).then(
      () => 'resolved',
      (error: unknown) => ({ rejectedWith: error }),
    )
    expect(outcome).toEqual({ rejectedWith: undefined })
    expect(calls.at(-1)?.error).toBeInstanceOf(Error)
  })

  it('reports the next()-twice error to onEnd of the offending middleware', async () => {
    const { calls, hooks } = recorder()
    const twice = named('twice', async (_ctx, next) => {
      await next()
      await next()
    })
    await expect(compose([twice, async () => {}], hooks)(fakeContext())).rejects.toThrow(/`twice`/)
    const end0 = calls.find((c) => c.hook === 'end' && c.index === 0)
    expect(end0?.error).toBeInstanceOf(Error)
    expect((end0?.error as Error).message).toMatch(/`twice`/)
  })
})
