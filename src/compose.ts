import type { ExecutionContext, Middleware } from './context.js'
import { PromptlineError } from './errors.js'
import { assertFunction, show } from './validate.js'

/** Observes each middleware as `compose` runs it; used for `middleware:*` events and tracing. */
export interface ComposeHooks {
  /** Called as the middleware at `index` is entered, before it runs. */
  onStart(index: number, ctx: ExecutionContext): void
  /** Called once the middleware at `index` has settled, with its own time (downstream included) and its error, if any. */
  onEnd(index: number, ctx: ExecutionContext, durationMs: number, error: unknown): void
}

/**
 * Chains middleware Koa/Hono style: each runs until it awaits `next()`, which runs
 * the rest of the chain. Calling `next()` twice rejects with an error naming the
 * middleware; an error thrown anywhere rejects the whole chain as it is.
 */
export function compose(
  middleware: readonly Middleware[],
  hooks?: ComposeHooks,
  names?: readonly string[],
): (ctx: ExecutionContext) => Promise<void> {
  if (!Array.isArray(middleware)) {
    throw new TypeError(`Expected \`middleware\` to be an array of functions, got \`${show(middleware)}\`.`)
  }
  for (const [i, fn] of middleware.entries()) assertFunction(fn, `middleware[${i}]`)
  return function run(ctx) {
    let lastIndex = -1
    function dispatch(i: number): Promise<void> {
      if (i <= lastIndex) {
        const name = names?.[i - 1] ?? nameOf(middleware[i - 1], i - 1)
        return Promise.reject(new PromptlineError(`next() called multiple times in middleware \`${name}\``))
      }
      lastIndex = i
      const fn = middleware[i]
      if (fn === undefined) return Promise.resolve()
      if (hooks === undefined) {
        try {
          return fn(ctx, () => dispatch(i + 1))
        } catch (error) {
          return Promise.reject(error)
        }
      }
      return timed(fn, i)
    }
    async function timed(fn: Middleware, i: number): Promise<void> {
      const started = performance.now()
      hooks!.onStart(i, ctx)
      let failure: unknown
      try {
        await fn(ctx, () => dispatch(i + 1))
      } catch (error) {
        failure = error ?? new Error('middleware threw a nullish value')
        throw error
      } finally {
        hooks!.onEnd(i, ctx, performance.now() - started, failure)
      }
    }
    return dispatch(0)
  }
}

function nameOf(fn: Middleware | undefined, index: number): string {
  return fn?.name || `#${index}`
}

/** Gives a middleware function the name `Pipeline` and `use` refer to it by. */
export function named<T extends Middleware>(name: string, fn: T): T {
  Object.defineProperty(fn, 'name', { value: name, configurable: true })
  return fn
}
