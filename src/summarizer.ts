import type { ExecutionContext } from './context.js'
import type { Message, Provider, SessionSummary, StateStore, Usage } from './types.js'
import { assertProvider } from './providers/assert-provider.js'
import { assertDuration, assertKnownKeys, assertNonEmptyString, assertOneOf, assertOptionsObject, assertPositiveInteger, show } from './validate.js'
import { costOf, DEFAULT_PRICING, resolvePrice, type PricingTable } from './pricing.js'

/** The `summary` option of a pipeline (and of `rollingSummary`). */
export interface SummaryOptions {
  /**
   * Who writes the summary (a cheaper model is usual).
   * @default the pipeline's provider
   */
  provider?: Provider | undefined
  /** Sent to the summariser as `request.model`. @default the provider's default */
  model?: string | undefined
  /**
   * Summarise once this many stored messages have fallen out of the view unsummarised;
   * each summariser request covers at most this many new messages (plus the tool group
   * the boundary would cut), so its size does not grow with the session.
   * @default 30
   */
  after?: number | undefined
  /** Instructions for the summariser. @default DEFAULT_SUMMARY_PROMPT */
  prompt?: string | undefined
  /** A cap on the summary's length, sent as the request's `maxTokens`. @default undefined */
  maxTokens?: number | undefined
  /**
   * `'background'`: after the turn is saved, in the session's queue, never delaying the
   * reply. `'inline'`: before the provider call, so the turn already sees the new summary.
   * @default 'background'
   */
  mode?: 'background' | 'inline' | undefined
  /** The longest a summariser call may take; past it the summary is not updated this time. @default 60_000 */
  timeoutMs?: number | undefined
}

/** Messages that must have fallen out of the window unsummarised before a new summary is made: fewer calls, each worth its cost. */
export const DEFAULT_SUMMARY_AFTER = 30
/** How long one summariser call may take; a background summary holds the session's next turn at most this long. */
export const DEFAULT_SUMMARY_TIMEOUT_MS = 60_000
/** The summariser's instructions when `summary.prompt` is not given. */
export const DEFAULT_SUMMARY_PROMPT =
  'You maintain a running summary of a conversation between a user and an assistant. ' +
  'Merge the previous summary and the new messages into one updated summary. Keep names, facts, ' +
  'decisions, open tasks and anything the assistant committed to; drop small talk. Write plain prose, ' +
  'no preamble.'
/** How the summary is introduced to the model. */
export const SUMMARY_HEADER = 'Summary of the earlier conversation:\n'
/** A transcript line keeps at most this many characters of one message (its head and tail). */
export const SUMMARY_MESSAGE_CHARS = 4_000

const SUMMARY_KEYS: readonly (keyof SummaryOptions)[] = ['provider', 'model', 'after', 'prompt', 'maxTokens', 'mode', 'timeoutMs']

/** The metadata that marks the pinned summary message in a view. */
export interface SummaryMarker {
  summary: { position: number }
}

/** `true` for the pinned summary message a pipeline puts in the view. */
export function isSummaryMessage(message: Message): boolean {
  const marker = message.metadata?.summary as { position?: unknown } | undefined
  return message.role === 'system' && typeof marker?.position === 'number'
}

/** The message that shows `summary` to the model, right after the system prompt. */
export function summaryMessage(summary: SessionSummary): Message {
  return { role: 'system', content: `${SUMMARY_HEADER}${summary.content}`, metadata: { summary: { position: summary.position } } }
}

/** What the summary-aware load learned about a turn's session. */
export interface LoadedSummary {
  /** The stored length when the turn loaded. */
  length: number
  /** How many of the loaded messages were the tail (after the pinned opening). */
  tail: number
  /** The summary's position then (0: none). */
  position: number
}

const loadedOf = new WeakMap<ExecutionContext, LoadedSummary>()

/** Records what a turn's load saw (for the summariser after the turn). */
export function rememberLoad(ctx: ExecutionContext, loaded: LoadedSummary): void {
  loadedOf.set(ctx, loaded)
}

export function loadOf(ctx: ExecutionContext): LoadedSummary | undefined {
  return loadedOf.get(ctx)
}

/** Validated options with defaults. */
export interface SummaryPlan {
  provider: Provider
  model: string | undefined
  after: number
  prompt: string
  maxTokens: number | undefined
  mode: 'background' | 'inline'
  timeoutMs: number
  pricing: PricingTable
}

export function summaryPlan(options: SummaryOptions, fallback: Provider | undefined, pricing: PricingTable | undefined): SummaryPlan {
  assertOptionsObject(options, 'summary')
  assertKnownKeys(options, SUMMARY_KEYS, 'summary')
  const provider = options.provider ?? fallback
  assertProvider(provider, 'summary.provider')
  if (options.model !== undefined) assertNonEmptyString(options.model, 'summary.model')
  const after = options.after ?? DEFAULT_SUMMARY_AFTER
  assertPositiveInteger(after, 'summary.after')
  const prompt = options.prompt ?? DEFAULT_SUMMARY_PROMPT
  assertNonEmptyString(prompt, 'summary.prompt')
  if (options.maxTokens !== undefined) assertPositiveInteger(options.maxTokens, 'summary.maxTokens')
  const mode = options.mode ?? 'background'
  assertOneOf(mode, ['background', 'inline'], 'summary.mode')
  const timeoutMs = options.timeoutMs ?? DEFAULT_SUMMARY_TIMEOUT_MS
  assertDuration(timeoutMs, 'summary.timeoutMs')
  return {
    provider,
    model: options.model,
    after,
    prompt,
    maxTokens: options.maxTokens,
    mode,
    timeoutMs,
    pricing: pricing === undefined ? DEFAULT_PRICING : { ...DEFAULT_PRICING, ...pricing },
  }
}

/** Throws a `TypeError` unless `store` implements the summary methods. */
export function assertSummaryStore(store: StateStore, name = 'store'): void {
  if (store.features?.summaries !== true) {
    throw new TypeError(
      `Expected \`${name}\` to implement the rolling-summary methods (\`features.summaries\`: loadWithSummary, loadRange, loadSummary, saveSummary) for \`summary\`, got \`${show(store)}\`. MemoryStore and RedisStore do.`,
    )
  }
}

/**
 * Where the summary should end: the stored position of the first message of the view
 * after the pinned part. The non-pinned view is a tail of the loaded history plus the
 * turn's inputs; what a middleware inserted there only moves this earlier (summarising
 * less), never later.
 */
export function windowStartOf(ctx: ExecutionContext, loaded: LoadedSummary, inputs: number): number {
  const unpinned = ctx.messages.length - ctx.pinned
  const historyInView = Math.max(0, unpinned - inputs)
  return Math.max(0, Math.min(loaded.length, loaded.length - Math.min(historyInView, loaded.tail)))
}

/** One summarising step's outcome. */
export type SummaryOutcome =
  | { type: 'updated'; summary: SessionSummary; previousPosition: number; summarised: number; usage: Usage | undefined; costUsd: number | undefined; model: string | undefined; durationMs: number; requestChars: number }
  | { type: 'skipped' }
  | { type: 'failed'; error: unknown; position: number }

/**
 * One incremental step: the current summary (read fresh: another process may have moved
 * it) plus the stored messages from its position, at most `after` of them and never
 * past `windowStart`, become the new summary, saved with a compare-and-set. The
 * summariser sees the previous summary and those messages only, never the history.
 */
export async function summarizeStep(
  store: StateStore,
  sessionId: string,
  windowStart: number,
  plan: SummaryPlan,
  signal?: AbortSignal,
): Promise<SummaryOutcome> {
  const started = performance.now()
  let position = 0
  try {
    const current = await store.loadSummary!(sessionId)
    position = current?.position ?? 0
    if (windowStart - position < plan.after) return { type: 'skipped' }
    const messages = await unitBoundedRange(store, sessionId, position, Math.min(windowStart, position + plan.after), windowStart, signal)
    if (messages.length === 0) return { type: 'skipped' }
    const end = position + messages.length
    const request = summaryRequest(plan, current?.content, messages)
    const timeout = AbortSignal.timeout(plan.timeoutMs)
    const response = await plan.provider.complete({
      messages: request,
      signal: signal === undefined ? timeout : AbortSignal.any([signal, timeout]),
      ...(plan.model === undefined ? {} : { model: plan.model }),
      ...(plan.maxTokens === undefined ? {} : { maxTokens: plan.maxTokens }),
    })
    const content = typeof response?.message?.content === 'string' ? response.message.content.trim() : ''
    if (content === '') throw new Error(`the summariser \`${plan.provider.name}\` returned an empty summary`)
    const model = response.model ?? plan.model
    const costUsd = costOf(response.usage, resolvePrice(model, plan.pricing))
    const summary: SessionSummary = {
      content,
      position: end,
      metadata: {
        ...(model === undefined ? {} : { model }),
        ...(response.usage === undefined ? {} : { usage: { ...response.usage } }),
        ...(costUsd === undefined ? {} : { costUsd }),
        updatedAt: new Date().toISOString(),
      },
    }
    // A compare-and-set: another process that summarised further meanwhile wins.
    if (!(await store.saveSummary!(sessionId, summary, signal === undefined ? {} : { signal }))) return { type: 'skipped' }
    const requestChars = request.reduce((sum, message) => sum + message.content.length, 0)
    return { type: 'updated', summary, previousPosition: position, summarised: messages.length, usage: response.usage, costUsd, model, durationMs: performance.now() - started, requestChars }
  } catch (error) {
    return { type: 'failed', error, position }
  }
}

/**
 * The stored messages `[start, end)`, with `end` moved so that it never cuts a tool
 * group: back to the group's start, or (when the group starts at `start`) forward to
 * its end, never past `limit`.
 */
async function unitBoundedRange(store: StateStore, sessionId: string, start: number, end: number, limit: number, signal: AbortSignal | undefined): Promise<Message[]> {
  const options = signal === undefined ? {} : { signal }
  // One message more: whether the boundary is inside a group.
  let messages = await store.loadRange!(sessionId, start, Math.min(limit, end + 1), options)
  if (messages.length <= end - start) return messages
  if (messages[end - start]?.role !== 'tool') return messages.slice(0, end - start)
  let cut = end - start
  while (cut > 0 && messages[cut]?.role === 'tool') cut--
  if (cut > 0) return messages.slice(0, cut)
  // A group longer than `after` starting at `start`: take it whole.
  let to = end + 1
  while (to < limit) {
    const more = await store.loadRange!(sessionId, to, Math.min(limit, to + 16), options)
    const firstOther = more.findIndex((message) => message.role !== 'tool')
    if (firstOther !== -1) return [...messages, ...more.slice(0, firstOther)]
    messages = [...messages, ...more]
    to += more.length
    if (more.length === 0) break
  }
  return messages
}

/** The summariser's request: the instructions, then the previous summary and the new messages. */
export function summaryRequest(plan: SummaryPlan, previous: string | undefined, messages: readonly Message[]): Message[] {
  const lines = messages.map(transcriptLine)
  const body =
    (previous === undefined ? 'There is no previous summary.\n\n' : `Previous summary:\n${previous}\n\n`) +
    `New messages:\n${lines.join('\n')}\n\nWrite the updated summary.`
  return [
    { role: 'system', content: plan.prompt },
    { role: 'user', content: body },
  ]
}

function transcriptLine(message: Message): string {
  const text = clip(message.content)
  if (message.role === 'tool') return `tool result (${message.toolCallId ?? '?'}): ${text}`
  const calls = (message.toolCalls ?? []).map((call) => `${call.name}(${clip(call.arguments, 500)})`)
  const said = text === '' ? '' : text
  if (calls.length > 0) return `${message.role}: ${said}${said === '' ? '' : ' '}[calls ${calls.join(', ')}]`
  return `${message.role}: ${said}`
}

function clip(text: string, max = SUMMARY_MESSAGE_CHARS): string {
  if (text.length <= max) return text
  const half = Math.floor(max / 2)
  return `${text.slice(0, half)} […${text.length - max} characters left out…] ${text.slice(-half)}`
}
