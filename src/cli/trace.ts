import type { ExecuteResult, Middleware } from '../context.js'
import type { Pipeline } from '../pipeline.js'
import type { Message, StateStore } from '../types.js'
import { named } from '../compose.js'
import { pinnedCount } from '../messages.js'
import { isSummaryMessage, SUMMARY_HEADER } from '../summarizer.js'
import { AbortError } from '../errors.js'

type Outcome = 'ok' | 'failed' | 'interrupted' | 'timed out'

interface Timing {
  name: string
  durationMs: number | undefined
  /** How the middleware ended: an abort (Ctrl-C, the deadline) is no failure of its own. */
  outcome: Outcome
}

/** What `--trace` prints after each turn, gathered from the pipeline's events and one middleware. */
export class TurnTracer {
  readonly #write: (line: string) => void
  readonly #maxTokens: number | undefined
  #timings: Timing[] = []
  #loaded: { count: number; last: number | undefined } | undefined
  #saved: { count: number; storedLength: number; attempts: number } | undefined
  /** The provider view before trimming, captured by {@link TurnTracer.middleware}. */
  #untrimmed: Message[] = []

  constructor(
    pipe: Pipeline,
    options: { write: (line: string) => void; maxTokens: number | undefined },
  ) {
    this.#write = options.write
    this.#maxTokens = options.maxTokens
    pipe.on('execution:start', () => {
      this.#timings = []
      this.#loaded = undefined
      this.#saved = undefined
      this.#untrimmed = []
    })
    pipe.on('middleware:start', ({ name }) => this.#timings.push({ name, durationMs: undefined, outcome: 'ok' }))
    pipe.on('middleware:end', ({ name, durationMs, error }) => {
      const timing = this.#timings.find((t) => t.name === name)
      if (timing === undefined) return
      timing.durationMs = durationMs
      timing.outcome = outcomeOf(error)
    })
    pipe.on('state:loaded', ({ count, last }) => (this.#loaded = { count, last }))
    pipe.on('state:saved', ({ count, storedLength, attempts }) => (this.#saved = { count, storedLength, attempts }))
    // A background summary is written after the turn, before the next one: printed as it happens.
    pipe.on('summary:updated', ({ previousPosition, position, summarised, requestChars, mode }) =>
      this.#write(`[trace] summary (${mode}): now covers ${position} stored message(s) (was ${previousPosition}; ${summarised} summarised from a ${requestChars}-character request)`),
    )
    pipe.on('summary:failed', ({ error, position }) =>
      this.#write(`[trace] summary: not updated, still covers ${position} (${error instanceof Error ? error.message : String(error)})`),
    )
  }

  /** Records the view as `state-load` left it, before any trimming policy ran. Insert it after `state-load`. */
  readonly middleware: Middleware = named('cli-trace', async (ctx, next) => {
    this.#untrimmed = ctx.messages.slice()
    await next()
  })

  /** Prints the trace of the turn that just ended (`result` is undefined when it failed). */
  print(result: ExecuteResult | undefined): void {
    const line = (text: string) => this.#write(`[trace] ${text}`)
    line(`middleware, ms own / incl. later: ${this.#formatTimings()}`)

    if (this.#loaded !== undefined) {
      const { count, last } = this.#loaded
      line(`state-load: loaded ${count} stored message(s)${last === undefined ? ' (whole history)' : ` (asked for the newest ${last})`}`)
    }
    if (result === undefined) return

    const untrimmed = this.#untrimmed
    let from = pinnedCount(untrimmed)
    // The pipeline loads exactly as many messages as its window keeps.
    for (const [name, limit] of [
      ['context-window', `max ${this.#loaded?.last} messages`],
      ['token-truncation', `max ${this.#maxTokens} tokens`],
    ] as const) {
      const report = result.trimmed[name]
      if (report === undefined) continue
      const tokens = report.tokens === undefined ? '' : `, ${report.tokens} tokens`
      line(`${name} (${limit}): kept ${report.kept}, dropped ${report.dropped}${tokens}`)
      if (report.dropped > 0) {
        const dropped = untrimmed.slice(from, from + report.dropped)
        line(`  dropped: ${dropped.map((m) => preview(m)).join(' | ')}`)
        from += report.dropped
      }
    }
    const summary = result.messages.find(isSummaryMessage)
    if (summary !== undefined) {
      line(`summary: pinned, covers ${(summary.metadata?.summary as { position: number }).position} stored message(s): ${JSON.stringify(summary.content.slice(SUMMARY_HEADER.length))}`)
    }
    line(`sent ${result.messages.length} message(s): ${result.messages.map((m) => preview(m)).join(' | ')}`)

    const usage = result.usage
    if (usage !== undefined) {
      const cost =
        result.costUsd === undefined
          ? `cost unknown (no price for ${result.model ?? 'an unnamed model'})`
          : `cost $${result.costUsd.toFixed(8)} (${result.model})`
      line(`usage: ${usage.inputTokens} input + ${usage.outputTokens} output tokens${usage.estimated === true ? ' (estimated)' : ''}, ${cost}`)
    }
    if (this.#saved !== undefined) {
      const { count, storedLength, attempts } = this.#saved
      line(`state-save: appended ${count} message(s) in ${attempts} attempt(s); the session now has ${storedLength}`)
    } else {
      line('state-save: nothing stored')
    }
  }

  #formatTimings(): string {
    const timings = this.#timings
    return timings
      .map((timing, i) => {
        if (timing.durationMs === undefined) return `${timing.name} (running)`
        const inner = timings[i + 1]?.durationMs ?? 0
        const own = Math.max(0, timing.durationMs - inner)
        return `${timing.name} ${own.toFixed(2)}/${timing.durationMs.toFixed(2)}${timing.outcome === 'ok' ? '' : ` (${timing.outcome})`}`
      })
      .join(', ')
  }
}

/** `role "content…"`, cut to one short line. */
export function preview(message: Message, width = 40): string {
  const flat = message.content.replace(/\s+/g, ' ').trim()
  const text = flat.length > width ? `${flat.slice(0, width - 1)}…` : flat
  const tools = message.toolCalls === undefined ? '' : ` [${message.toolCalls.map((c) => c.name).join(', ')}]`
  return `${message.role} ${JSON.stringify(text)}${tools}`
}

/** Prints a session's stored history, one numbered line a message. */
export async function printHistory(store: StateStore, sessionId: string, write: (line: string) => void): Promise<void> {
  const messages = await store.load(sessionId)
  if (messages.length === 0) {
    write(`(session "${sessionId}" has no stored messages)`)
    return
  }
  write(`session "${sessionId}", ${messages.length} stored message(s):`)
  const summary = await store.loadSummary?.(sessionId)
  if (summary !== undefined) write(`  summary of messages 1–${summary.position}: ${JSON.stringify(summary.content)}`)
  for (const [i, message] of messages.entries()) write(`  ${i + 1}. ${preview(message, 72)}`)
}

/** An abort of the turn (the user's Ctrl-C or the deadline) is no failure of the middleware it stopped. */
export function outcomeOf(error: unknown): Outcome {
  if (error === undefined) return 'ok'
  if (!(error instanceof AbortError || (error instanceof Error && error.name === 'AbortError'))) return 'failed'
  const cause = (error as Error).cause
  return cause instanceof Error && cause.name === 'TimeoutError' ? 'timed out' : 'interrupted'
}
