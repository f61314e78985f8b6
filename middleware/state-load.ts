import type { Middleware } from '../src/context.js'
import type { Message, StateStore } from '../src/types.js'
import { named } from '../src/compose.js'
import { StateLoadError } from '../src/errors.js'
import { assertKnownKeys, assertOneOf, assertOptionsObject, assertPositiveInteger } from '../src/validate.js'
import { assertStore } from '../src/stores/assert-store.js'

export interface StateLoadOptions {
  /**
   * Load only the newest `last` messages: the tail the trimming policies can
   * keep. The pipeline sets it to `contextWindow.maxMessages`, so a turn's load
   * does not grow with the session's length.
   * @default undefined (the whole history)
   */
  last?: number | undefined
  /**
   * `'throw'` rejects the turn with `StateLoadError`; `'start-fresh'` continues
   * with an empty history and emits `state:load-failed`.
   * @default 'throw'
   */
  onError?: 'throw' | 'start-fresh' | undefined
}

const STATE_LOAD_KEYS: readonly (keyof StateLoadOptions)[] = ['last', 'onError']

/**
 * Loads the session's history into `ctx.history` and puts it into the provider
 * view, after the pinned system messages and before the new input.
 *
 * When the tail cut through a tool group (it starts with a tool message), the
 * load is widened until the group is whole, so the newest group can be kept.
 *
 * @example
 * ```ts
 * Pipeline.from([stateLoad(store, { last: 20 }), providerCall(provider), stateSave(store)])
 * ```
 */
export function stateLoad(store: StateStore, options: StateLoadOptions = {}): Middleware {
  assertStore(store, 'store')
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, STATE_LOAD_KEYS, '')
  const { last, onError = 'throw' } = options
  if (last !== undefined) assertPositiveInteger(last, 'last')
  assertOneOf(onError, ['throw', 'start-fresh'], 'onError')

  return named('state-load', async function stateLoadMiddleware(ctx, next) {
    let history: Message[]
    try {
      history = await loadTail(store, ctx.sessionId, last, ctx.signal)
    } catch (error) {
      ctx.emit('state:load-failed', { error, action: onError })
      if (onError === 'throw') throw new StateLoadError(ctx.sessionId, { cause: error })
      history = []
    }
    ctx.history = history
    ctx.emit('state:loaded', { count: history.length, last })
    // Tool results whose call is not in the history (the store's own cap cut the
    // group) cannot be sent: the view starts after them.
    let from = 0
    while (from < history.length && history[from]?.role === 'tool') from++
    if (from < history.length) {
      // Before the turn's first new message (a turn may add several), else after the pinned part.
      const firstNew = ctx.messages.indexOf(ctx.newMessages[0] ?? ctx.input)
      const at = firstNew === -1 ? ctx.pinned : firstNew
      ctx.messages.splice(at, 0, ...(from === 0 ? history : history.slice(from)))
    }
    await next()
  })
}

async function loadTail(store: StateStore, sessionId: string, last: number | undefined, signal: AbortSignal): Promise<Message[]> {
  if (last === undefined) return store.load(sessionId, { signal })
  let want = last
  for (;;) {
    const tail = await store.load(sessionId, { last: want, signal })
    // A full tail that starts inside a tool group: widen until the group is whole.
    if (tail.length < want || tail[0]?.role !== 'tool') return tail
    want *= 2
  }
}
