import type { Middleware } from '../src/context.js'
import type { LoadedSession, LoadOptions, Message, StateStore } from '../src/types.js'
import { assertSummaryStore, rememberLoad, summaryMessage } from '../src/summarizer.js'
import { named } from '../src/compose.js'
import { StateLoadError } from '../src/errors.js'
import { isRetryableStoreError as retryable } from '../src/retryable.js'
import { assertKnownKeys, assertOneOf, assertOptionsObject, assertPositiveInteger, show } from '../src/validate.js'
import { assertStore } from '../src/stores/assert-store.js'
import { assertRetryOptions, retryAfterFirstFailure, retrySchedule, type RetryOptions, type RetrySchedule } from '../src/retry-schedule.js'

/** The `p-retry` options `state-load` accepts: the same shape as `SaveRetryOptions`. */
export type LoadRetryOptions = RetryOptions

/**
 * A load is idempotent, so a dropped connection or a timeout is worth another try;
 * the schedule is short because the turn (and its user) is waiting: about 0.5 s at most
 * besides the attempts themselves, and never past the turn's deadline.
 */
export const DEFAULT_LOAD_RETRY: Readonly<RetrySchedule> = Object.freeze({
  retries: 3,
  minTimeout: 50,
  maxTimeout: 250,
  factor: 2,
  randomize: true,
})

/** How `stateLoad` reads a session: how much of it, and what a failed load does to the turn. */
export interface StateLoadOptions {
  /**
   * Load only the newest `last` messages: the tail the trimming policies can
   * keep. The pipeline sets it to `contextWindow.maxMessages`, so a turn's load
   * does not grow with the session's length.
   * @default undefined (the whole history)
   */
  last?: number | undefined
  /**
   * Also load the oldest `first` stored messages (the opening that states the task)
   * and pin them in the view right after the pinned system messages (`ctx.pinned`
   * grows by their number), so no trimming policy drops them. With `last`, the head
   * and the tail come from one `store.load(id, { first, last })`: the store must
   * implement it (`features.loadFirst`; MemoryStore and RedisStore do). A tool group
   * the head would cut is left out of the head (it stays in the tail if the tail
   * reaches it), and leading tool messages whose call the store's cap removed are skipped.
   * @default undefined (nothing pinned)
   */
  first?: number | undefined
  /**
   * Load the session's rolling summary with the history, in the same read
   * (`store.loadWithSummary`; the store must implement `features.summaries`), and pin
   * it in the view right after the pinned system messages, as a `system` message whose
   * `metadata.summary.position` says how many stored messages it covers.
   * @default false
   */
  summary?: boolean | undefined
  /**
   * `'throw'` rejects the turn with `StateLoadError`; `'start-fresh'` continues
   * with an empty history and emits `state:load-failed`.
   * @default 'throw'
   */
  onError?: 'throw' | 'start-fresh' | undefined
  /**
   * Retries of a load that failed with a transient error (a dropped connection, a
   * timeout), with `p-retry`; corrupt data (`StateCorruptError`) and bad input are
   * never retried, and no retry starts once the turn is aborted or past its deadline.
   * Each retry emits `state:load-retry`. `{ retries: 0 }` turns retries off.
   * @default { retries: 3, minTimeout: 50, maxTimeout: 250, factor: 2, randomize: true }
   */
  retry?: LoadRetryOptions | undefined
}

const STATE_LOAD_KEYS: readonly (keyof StateLoadOptions)[] = ['last', 'first', 'summary', 'onError', 'retry']

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
  const { last, first, summary = false, onError = 'throw', retry } = options
  if (typeof summary !== 'boolean') throw new TypeError(`Expected \`summary\` to be a boolean, got \`${show(summary)}\`.`)
  if (summary) assertSummaryStore(store)
  if (last !== undefined) assertPositiveInteger(last, 'last')
  if (first !== undefined) {
    assertPositiveInteger(first, 'first')
    if (store.features?.loadFirst !== true) {
      throw new TypeError(
        'Expected `store` to implement `load(id, { first, last })` (`store.features.loadFirst`) for `first`: ' +
          'the pinned opening and the tail must come back in one read. MemoryStore and RedisStore do.',
      )
    }
  }
  assertOneOf(onError, ['throw', 'start-fresh'], 'onError')
  assertRetryOptions(retry, 'retry')
  const schedule = retrySchedule(DEFAULT_LOAD_RETRY, retry)

  return named('state-load', async function stateLoadMiddleware(ctx, next) {
    let history: Message[]
    let headLength = 0
    let found: LoadedSession | undefined
    // With `summary`, every read also brings the length and the summary (the last read's count).
    const read: Read = !summary
      ? (options) => store.load(ctx.sessionId, options)
      : async (options) => {
          found = await store.loadWithSummary!(ctx.sessionId, options)
          return found.messages
        }
    const load = async () => {
      if (first === undefined) return loadTail(read, last, ctx.signal)
      const loaded = await loadHeadAndTail(read, first, last, ctx.signal)
      headLength = loaded.headLength
      return loaded.messages
    }
    try {
      try {
        history = await load()
      } catch (error) {
        // The common case (first attempt succeeds) stays free of p-retry's setup.
        if (!retryable(error) || schedule.retries === 0 || ctx.signal.aborted) throw error
        ctx.emit('state:load-retry', { attempt: 1, retriesLeft: schedule.retries, error })
        history = await retryAfterFirstFailure(load, schedule, ctx.signal, (attempt, retriesLeft, error) =>
          ctx.emit('state:load-retry', { attempt, retriesLeft, error }),
        )
      }
    } catch (error) {
      // Past the deadline the turn fails as aborted (the pipeline reports it), not as a load failure.
      if (ctx.signal.aborted && error === ctx.signal.reason) throw error
      ctx.emit('state:load-failed', { error, action: onError })
      if (onError === 'throw') throw new StateLoadError(ctx.sessionId, { cause: error })
      history = []
      headLength = 0
      found = undefined
    }
    ctx.history = history
    ctx.emit('state:loaded', { count: history.length, last })
    let from = headLength
    if (summary) {
      const position = found?.summary?.position ?? 0
      rememberLoad(ctx, { length: found?.length ?? 0, tail: history.length - headLength, position })
      if (found?.summary !== undefined) ctx.messages.splice(ctx.pinned++, 0, summaryMessage(found.summary))
    }
    if (headLength > 0) {
      // The opening is pinned right after the pinned system messages (and the summary).
      ctx.messages.splice(ctx.pinned, 0, ...history.slice(0, headLength))
      ctx.pinned += headLength
    }
    // Tool results whose call is not in the history (the store's own cap cut the
    // group) cannot be sent: the view starts after them.
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

/** One store read (`load`, or `loadWithSummary` keeping what else it returned). */
type Read = (options: LoadOptions) => Promise<Message[]>

async function loadTail(read: Read, last: number | undefined, signal: AbortSignal): Promise<Message[]> {
  if (last === undefined) return read({ signal })
  let want = last
  for (;;) {
    const tail = await read({ last: want, signal })
    // A full tail that starts inside a tool group: widen until the group is whole.
    if (tail.length < want || tail[0]?.role !== 'tool') return tail
    want *= 2
  }
}

/**
 * The head (`first` messages, cut to whole tool groups, leading orphans skipped)
 * and the tail (`last`, widened like `loadTail` when it starts inside a group), from
 * one `load` when nothing needs widening. `messages` is head then tail; the first
 * `headLength` of them are the head.
 */
async function loadHeadAndTail(
  read: Read,
  first: number,
  last: number | undefined,
  signal: AbortSignal,
): Promise<{ messages: Message[]; headLength: number }> {
  let loaded: Message[]
  let contiguous: boolean
  if (last === undefined) {
    loaded = await read({ signal })
    contiguous = true
  } else {
    let want = last
    for (;;) {
      loaded = await read({ first, last: want, signal })
      // Fewer than asked for: the whole history came back, head and tail touching.
      contiguous = loaded.length < first + want
      if (contiguous || loaded[first]?.role !== 'tool') break
      want *= 2
    }
  }
  const headEnd = Math.min(first, loaded.length)
  let headStart = 0
  while (headStart < headEnd && loaded[headStart]?.role === 'tool') headStart++
  const cut = wholeGroupsEnd(loaded, headStart, headEnd)
  if (contiguous || cut === headEnd) {
    // Contiguous: what the head leaves out is the start of the tail.
    return { messages: headStart === 0 ? loaded : loaded.slice(headStart), headLength: cut - headStart }
  }
  // A gap follows the head: the group it cut has its results beyond the gap, so it goes.
  return { messages: [...loaded.slice(headStart, cut), ...loaded.slice(headEnd)], headLength: cut - headStart }
}

/**
 * The end of `messages[start..end)` without its last tool group when that group may
 * go on past `end` (some of its calls are not answered before `end`).
 */
function wholeGroupsEnd(messages: readonly Message[], start: number, end: number): number {
  let groupStart = -1
  let pending = new Set<string>()
  for (let i = start; i < end; i++) {
    const message = messages[i] as Message
    if (message.role === 'tool') {
      if (message.toolCallId !== undefined) pending.delete(message.toolCallId)
      continue
    }
    // A group followed by another message is as whole as it will ever be.
    pending = new Set((message.role === 'assistant' ? (message.toolCalls ?? []) : []).map((call) => call.id))
    groupStart = i
  }
  return pending.size > 0 ? groupStart : end
}
