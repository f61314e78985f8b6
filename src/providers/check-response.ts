import { messageProblem, show } from '../validate.js'

/** The shape `Provider.complete` must resolve with (and a stream's `done` chunk must carry), for error messages. */
export const PROVIDER_RESPONSE_SHAPE =
  "{ message: { role: 'assistant', content: string, toolCalls? }, usage?: { inputTokens, outputTokens, cachedInputTokens?, estimated? }, finishReason?: string, model?: string }"

/** The shape of each chunk `Provider.stream` yields, for error messages. */
export const PROVIDER_CHUNK_SHAPE = `{ type: 'delta', text: string } or, last and once, { type: 'done', response: ${PROVIDER_RESPONSE_SHAPE} }`

function isRecord(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

function isCount(value: unknown): boolean {
  return Number.isSafeInteger(value) && (value as number) >= 0
}

/**
 * Explains why `value` is not a valid `ProviderResponse`, or returns `undefined`.
 * A custom provider is user code the types cannot hold to its contract at run time:
 * checked here, its mistake reads as what it returned and what was expected,
 * instead of a `Cannot read properties of undefined` deep in the pipeline, and
 * nothing malformed reaches the store.
 */
export function responseProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not an object'
  const { message, usage, finishReason, model } = value
  if (message === undefined) return '`message` is missing'
  const problem = messageProblem(message)
  if (problem !== undefined) return `\`message\`: ${problem.replace(/^`/, '`message.')}`
  if ((message as { role: string }).role !== 'assistant') {
    return `\`message.role\` must be 'assistant', got \`${show((message as { role: string }).role)}\``
  }
  if (usage !== undefined) {
    if (!isRecord(usage)) return `\`usage\` must be an object, got \`${show(usage)}\``
    for (const key of ['inputTokens', 'outputTokens'] as const) {
      if (!isCount(usage[key])) return `\`usage.${key}\` must be a non-negative integer, got \`${show(usage[key])}\``
    }
    if (usage.cachedInputTokens !== undefined && !isCount(usage.cachedInputTokens)) {
      return `\`usage.cachedInputTokens\` must be a non-negative integer, got \`${show(usage.cachedInputTokens)}\``
    }
    if (usage.estimated !== undefined && typeof usage.estimated !== 'boolean') {
      return `\`usage.estimated\` must be a boolean, got \`${show(usage.estimated)}\``
    }
    if (usage.estimatedWith !== undefined && typeof usage.estimatedWith !== 'string') {
      return `\`usage.estimatedWith\` must be a string, got \`${show(usage.estimatedWith)}\``
    }
  }
  if (finishReason !== undefined && typeof finishReason !== 'string') {
    return `\`finishReason\` must be a string, got \`${show(finishReason)}\``
  }
  if (model !== undefined && (typeof model !== 'string' || model.length === 0)) {
    return `\`model\` must be a non-empty string, got \`${show(model)}\``
  }
  return undefined
}

/** Explains why `value` is not a valid `ProviderChunk`, or returns `undefined`. */
export function chunkProblem(value: unknown): string | undefined {
  if (!isRecord(value)) return 'not an object'
  if (value.type === 'delta') {
    return typeof value.text === 'string' ? undefined : `\`text\` of a delta must be a string, got \`${show(value.text)}\``
  }
  if (value.type === 'done') {
    const problem = responseProblem(value.response)
    return problem === undefined ? undefined : `\`response\` of the done chunk: ${problem}`
  }
  return `\`type\` must be 'delta' or 'done', got \`${show(value.type)}\``
}
