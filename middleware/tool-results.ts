import type { Middleware } from '../src/context.js'
import { named } from '../src/compose.js'
import { clearOldToolResults, DEFAULT_TOOL_RESULT_PLACEHOLDER } from '../src/tool-results.js'
import { assertKnownKeys, assertOptionsObject, assertPositiveInteger, show } from '../src/validate.js'

export { DEFAULT_TOOL_RESULT_PLACEHOLDER } from '../src/tool-results.js'

/**
 * Options of the `toolResults` policy: old tool output is the bulkiest part of an
 * agent's history and rarely needed again verbatim, so it gives way first.
 */
export interface ToolResultsOptions {
  /**
   * How many of the newest tool groups keep their results; older tool messages
   * show `placeholder` instead (in the view only).
   * @default 3
   */
  keepLast?: number | undefined
  /**
   * What a cleared tool result says.
   * @default '[tool result cleared to save context]'
   */
  placeholder?: string | undefined
}

const TOOL_RESULTS_KEYS: readonly (keyof ToolResultsOptions)[] = ['keepLast', 'placeholder']

/** The newest tool groups that keep their results when `keepLast` is not given. */
export const DEFAULT_TOOL_RESULTS_KEEP_LAST = 3

/**
 * Clears bulky old tool output from the provider view: the tool messages older than
 * the newest `keepLast` tool groups have their content replaced by `placeholder`,
 * so each call still has its result (the pairing providers require) and a session
 * full of big search results keeps far more conversation within a token budget.
 * Runs before `token-truncation` in the built-in stack; the stored history keeps
 * every result whole. Reports `trimmed['tool-results']` and emits `tool-results:cleared`.
 *
 * @example
 * ```ts
 * new Pipeline({ provider, toolResults: { keepLast: 2 } })
 * pipe.use(toolResults({ keepLast: 1, placeholder: '[see the search log]' }), { after: 'context-window' })
 * ```
 */
export function toolResults(options: ToolResultsOptions = {}): Middleware {
  const apply = toolResultsStep(options)
  return named('tool-results', async function toolResultsMiddleware(ctx, next) {
    apply(ctx)
    await next()
  })
}

/** The clearing itself, validated once: also run inside the built-in `context-window` slot. */
export function toolResultsStep(options: ToolResultsOptions): (ctx: Parameters<Middleware>[0]) => void {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, TOOL_RESULTS_KEYS, '')
  const { keepLast = DEFAULT_TOOL_RESULTS_KEEP_LAST, placeholder = DEFAULT_TOOL_RESULT_PLACEHOLDER } = options ?? {}
  assertPositiveInteger(keepLast, 'keepLast')
  if (typeof placeholder !== 'string') throw new TypeError(`Expected \`placeholder\` to be a string, got \`${show(placeholder)}\`.`)
  return (ctx) => {
    const { view, cleared } = clearOldToolResults(ctx.messages, ctx.pinned, keepLast, placeholder)
    ctx.messages = view
    ctx.trimmed['tool-results'] = { kept: view.length, dropped: 0, cleared }
    if (cleared > 0) ctx.emit('tool-results:cleared', { cleared, keepLast })
  }
}
