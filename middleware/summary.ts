import type { ExecutionContext, Middleware } from '../src/context.js'
import type { Message, StateStore } from '../src/types.js'
import { named } from '../src/compose.js'
import { deferAfterTurn } from '../src/after-turn.js'
import { PromptlineError } from '../src/errors.js'
import { assertStore } from '../src/stores/assert-store.js'
import {
  assertSummaryStore,
  isSummaryMessage,
  loadOf,
  summarizeStep,
  summaryMessage,
  summaryPlan,
  windowStartOf,
  type SummaryOptions,
  type SummaryOutcome,
  type SummaryPlan,
} from '../src/summarizer.js'
import type { PricingTable } from '../src/pricing.js'

export {
  DEFAULT_SUMMARY_AFTER,
  DEFAULT_SUMMARY_PROMPT,
  DEFAULT_SUMMARY_TIMEOUT_MS,
  SUMMARY_HEADER,
  SUMMARY_MESSAGE_CHARS,
  isSummaryMessage,
  type SummaryOptions,
} from '../src/summarizer.js'

/** `rollingSummary`'s options: the pipeline's `summary` option, where `provider` is required. */
export type RollingSummaryOptions = SummaryOptions & {
  provider: NonNullable<SummaryOptions['provider']>
  /** Prices for the summariser's `costUsd`, merged over `DEFAULT_PRICING`. */
  pricing?: PricingTable | undefined
}

/**
 * The rolling summary for a chain built with `Pipeline.from` (the pipeline's `summary`
 * option does the same in the built-in stack). Put it right after
 * `stateLoad(store, { summary: true })`, which loads the summary with the history in
 * one read and pins it after the system prompt. In `'background'` mode (the default)
 * it leaves one summarising step for after the turn, in the session's queue; in
 * `'inline'` mode it summarises before the rest of the chain runs.
 *
 * @example
 * ```ts
 * Pipeline.from([
 *   stateLoad(store, { last: 20, summary: true }),
 *   rollingSummary(store, { provider: cheap, after: 30 }),
 *   contextWindow({ maxMessages: 20 }),
 *   providerCall(provider),
 *   stateSave(store),
 * ])
 * ```
 */
export function rollingSummary(store: StateStore, options: RollingSummaryOptions): Middleware {
  assertStore(store, 'store')
  assertSummaryStore(store)
  const { pricing, ...rest } = (options ?? {}) as RollingSummaryOptions
  const plan = summaryPlan(rest, undefined, pricing)
  return named('summary', async function rollingSummaryMiddleware(ctx, next) {
    if (loadOf(ctx) === undefined) {
      throw new PromptlineError('`rollingSummary` needs `stateLoad(store, { summary: true })` before it in the chain')
    }
    await summaryStep(ctx, next, store, plan)
  })
}

/** The built-in stack's `state-load` slot with the summary: the load, then `summaryStep`. */
export function withSummary(load: Middleware, store: StateStore, plan: SummaryPlan): Middleware {
  return named('state-load', async (ctx, next) => load(ctx, () => summaryStep(ctx, next, store, plan)))
}

async function summaryStep(ctx: ExecutionContext, next: () => Promise<void>, store: StateStore, plan: SummaryPlan): Promise<void> {
  const loaded = loadOf(ctx)
  if (loaded === undefined) return next()
  if (plan.mode === 'inline') {
    // Before any trimming: what lies before the loaded tail is out of view for sure.
    const windowStart = loaded.length - loaded.tail
    if (windowStart - loaded.position >= plan.after) {
      const outcome = await summarizeStep(store, ctx.sessionId, windowStart, plan, ctx.signal)
      report(ctx, outcome, 'inline')
      if (outcome.type === 'updated') pinSummary(ctx, summaryMessage(outcome.summary))
    }
    return next()
  }
  await next()
  if (!ctx.saved) return
  // The view that was sent decides what fell out of it.
  const inputs = ctx.newMessages.length - (ctx.response === undefined ? 0 : 1)
  const windowStart = windowStartOf(ctx, loaded, inputs)
  if (windowStart - loaded.position < plan.after) return
  deferAfterTurn(ctx, async () => report(ctx, await summarizeStep(store, ctx.sessionId, windowStart, plan), 'background'))
}

/** Replaces the pinned summary, or pins a first one after the system prompt. */
function pinSummary(ctx: ExecutionContext, message: Message): void {
  const at = ctx.messages.findIndex(isSummaryMessage)
  if (at !== -1 && at < ctx.pinned) {
    ctx.messages[at] = message
    return
  }
  let i = 0
  while (i < ctx.pinned && ctx.messages[i]?.role === 'system') i++
  ctx.messages.splice(i, 0, message)
  ctx.pinned++
}

/** Emits what one summarising step did. */
function report(ctx: ExecutionContext, outcome: SummaryOutcome, mode: 'background' | 'inline'): void {
  if (outcome.type === 'updated') {
    ctx.emit('summary:updated', {
      position: outcome.summary.position,
      previousPosition: outcome.previousPosition,
      summarised: outcome.summarised,
      requestChars: outcome.requestChars,
      mode,
      model: outcome.model,
      usage: outcome.usage,
      costUsd: outcome.costUsd,
      durationMs: outcome.durationMs,
    })
  } else if (outcome.type === 'failed') {
    ctx.emit('summary:failed', { error: outcome.error, position: outcome.position, mode })
  }
}
