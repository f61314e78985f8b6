import type { Middleware } from '../src/context.js'
import { named } from '../src/compose.js'
import { trimView } from '../src/trim.js'
import { assertKnownKeys, assertOptionsObject, assertPositiveInteger } from '../src/validate.js'

/** The size of the window `contextWindow` shows the model; the stored history is never trimmed by it. */
export interface ContextWindowOptions {
  /**
   * How many messages the provider sees besides the pinned system messages. A tool
   * group is kept or dropped whole, and the newest message (with its group) is
   * always kept, even when that alone is more than `maxMessages`.
   */
  maxMessages: number
}

/**
 * Keeps the newest `maxMessages` messages of the provider view. Only the view is
 * trimmed; the stored history keeps everything.
 *
 * @example
 * ```ts
 * pipe.use(contextWindow({ maxMessages: 6 }), { name: 'short-window', before: 'provider-call' })
 * ```
 */
export function contextWindow(options: ContextWindowOptions): Middleware {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, ['maxMessages'], '')
  const maxMessages = options?.maxMessages
  assertPositiveInteger(maxMessages, 'maxMessages')

  return named('context-window', async function contextWindowMiddleware(ctx, next) {
    const before = ctx.messages
    const length = before.length
    const view = trimView(before, (start) => length - start <= maxMessages, ctx.pinned)
    const dropped = length - view.length
    ctx.messages = view
    ctx.trimmed['context-window'] = { kept: view.length, dropped }
    if (dropped > 0) ctx.emit('context:trimmed', { kept: view.length, dropped, maxMessages })
    await next()
  })
}
