import type { Middleware } from '../src/context.js'
import { named } from '../src/compose.js'
import { startOnUser, trimView } from '../src/trim.js'
import { assertKnownKeys, assertOneOf, assertOptionsObject, assertPositiveInteger } from '../src/validate.js'

/** The size of the window `contextWindow` shows the model; the stored history is never trimmed by it. */
export interface ContextWindowOptions {
  /**
   * How many messages the provider sees besides the pinned messages. A tool
   * group is kept or dropped whole, and the newest message (with its group) is
   * always kept, even when that alone is more than `maxMessages`. Omitted: no
   * count limit (only `startOn` applies).
   */
  maxMessages?: number | undefined
  /**
   * `'user'`: after trimming, drop leading units until the first message after the
   * pinned part is a user message (Anthropic and Gemini reject a conversation that
   * opens with an assistant turn or a tool result); the newest unit is never dropped.
   * @default 'any'
   */
  startOn?: 'user' | 'any' | undefined
}

const CONTEXT_WINDOW_KEYS: readonly (keyof ContextWindowOptions)[] = ['maxMessages', 'startOn']

/**
 * Keeps the newest `maxMessages` messages of the provider view. Only the view is
 * trimmed; the stored history keeps everything.
 *
 * @example
 * ```ts
 * pipe.use(contextWindow({ maxMessages: 6, startOn: 'user' }), { name: 'short-window', before: 'provider-call' })
 * ```
 */
export function contextWindow(options: ContextWindowOptions): Middleware {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, CONTEXT_WINDOW_KEYS, '')
  // Only a `startOn` window may go without a count.
  if (options?.maxMessages !== undefined || options?.startOn === undefined) assertPositiveInteger(options?.maxMessages, 'maxMessages')
  const maxMessages = options.maxMessages ?? Number.POSITIVE_INFINITY
  const startOn = options.startOn ?? 'any'
  assertOneOf(startOn, ['user', 'any'], 'startOn')

  return named('context-window', async function contextWindowMiddleware(ctx, next) {
    const before = ctx.messages
    const length = before.length
    let view = trimView(before, (start) => length - start <= maxMessages, ctx.pinned)
    if (startOn === 'user') view = startOnUser(view, ctx.pinned)
    const dropped = length - view.length
    ctx.messages = view
    ctx.trimmed['context-window'] = { kept: view.length, dropped }
    if (dropped > 0) ctx.emit('context:trimmed', { kept: view.length, dropped, maxMessages: options.maxMessages ?? view.length - ctx.pinned })
    await next()
  })
}
