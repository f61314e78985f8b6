import type { Usage } from './types.js'
import { assertNonNegativeNumber, show } from './validate.js'

/** USD per million tokens. */
export interface ModelPrice {
  input: number
  output: number
  /** Input tokens served from the provider's prompt cache; billed at `input` when absent. */
  cachedInput?: number | undefined
  /** Input tokens written to the prompt cache (Anthropic: 1.25 × `input` for the default 5-minute cache); billed at `input` when absent. */
  cacheWriteInput?: number | undefined
}

/** Prices by model name, as the provider reports the model. */
export type PricingTable = Readonly<Record<string, ModelPrice>>

/**
 * OpenAI's and Anthropic's published list prices (USD per million tokens, standard tier;
 * OpenAI's checked 2025, Anthropic's November 2026) for the models most used through this library, with the discounted price of
 * cached input tokens. Deliberately short: a model that is not here has no price
 * (`costUsd: undefined`) rather than a guess. Pass `pricing` to the pipeline to add
 * or override entries.
 *
 * Not modelled: the Batch and Flex tiers, and the self-hosted models of compatible
 * servers (Ollama, vLLM…), which report their own model names and therefore cost
 * `undefined` unless priced through `pricing`.
 */
export const DEFAULT_PRICING: PricingTable = Object.freeze({
  'gpt-4o': { input: 2.5, output: 10, cachedInput: 1.25 },
  // The first gpt-4o snapshot kept its launch price (and predates prompt caching).
  'gpt-4o-2024-05-13': { input: 5, output: 15 },
  'gpt-4o-mini': { input: 0.15, output: 0.6, cachedInput: 0.075 },
  'gpt-4.1': { input: 2, output: 8, cachedInput: 0.5 },
  'gpt-4.1-mini': { input: 0.4, output: 1.6, cachedInput: 0.1 },
  'gpt-4.1-nano': { input: 0.1, output: 0.4, cachedInput: 0.025 },
  'gpt-5': { input: 1.25, output: 10, cachedInput: 0.125 },
  'gpt-5-mini': { input: 0.25, output: 2, cachedInput: 0.025 },
  'gpt-5-nano': { input: 0.05, output: 0.4, cachedInput: 0.005 },
  'o1': { input: 15, output: 60, cachedInput: 7.5 },
  'o3': { input: 2, output: 8, cachedInput: 0.5 },
  'o3-mini': { input: 1.1, output: 4.4, cachedInput: 0.55 },
  'o4-mini': { input: 1.1, output: 4.4, cachedInput: 0.275 },
  'gpt-3.5-turbo': { input: 0.5, output: 1.5 },
  // Anthropic's published list prices (checked November 2026 on platform.claude.com's
  // pricing page and, for Sonnet 5, its model page): `cacheWriteInput` is the 5-minute cache
  // write, the one `cacheControl: 'auto'` uses; `cachedInput` is a cache hit. Dated ids
  // (`claude-sonnet-4-5-20250929`) resolve to these.
  'claude-opus-5': { input: 5, output: 25, cachedInput: 0.5, cacheWriteInput: 6.25 },
  'claude-opus-4-8': { input: 5, output: 25, cachedInput: 0.5, cacheWriteInput: 6.25 },
  'claude-opus-4-7': { input: 5, output: 25, cachedInput: 0.5, cacheWriteInput: 6.25 },
  'claude-opus-4-6': { input: 5, output: 25, cachedInput: 0.5, cacheWriteInput: 6.25 },
  'claude-opus-4-5': { input: 5, output: 25, cachedInput: 0.5, cacheWriteInput: 6.25 },
  'claude-opus-4-1': { input: 15, output: 75, cachedInput: 1.5, cacheWriteInput: 18.75 },
  'claude-opus-4': { input: 15, output: 75, cachedInput: 1.5, cacheWriteInput: 18.75 },
  'claude-opus-4-0': { input: 15, output: 75, cachedInput: 1.5, cacheWriteInput: 18.75 },
  'claude-sonnet-5': { input: 2, output: 10, cachedInput: 0.2, cacheWriteInput: 2.5 },
  'claude-sonnet-4-6': { input: 3, output: 15, cachedInput: 0.3, cacheWriteInput: 3.75 },
  'claude-sonnet-4-5': { input: 3, output: 15, cachedInput: 0.3, cacheWriteInput: 3.75 },
  'claude-sonnet-4': { input: 3, output: 15, cachedInput: 0.3, cacheWriteInput: 3.75 },
  'claude-sonnet-4-0': { input: 3, output: 15, cachedInput: 0.3, cacheWriteInput: 3.75 },
  'claude-haiku-4-5': { input: 1, output: 5, cachedInput: 0.1, cacheWriteInput: 1.25 },
  'claude-3-5-haiku': { input: 0.8, output: 4, cachedInput: 0.08, cacheWriteInput: 1 },
  'claude-3-haiku': { input: 0.25, output: 1.25, cachedInput: 0.03, cacheWriteInput: 0.3 },
})

/** OpenAI dates its snapshots `-2024-07-18`, Anthropic `-20250929`. */
const DATED_SNAPSHOT = /-(?:\d{4}-\d{2}-\d{2}|\d{8})$/

/**
 * The price of `model`: an exact entry, else the entry of its undated name
 * (`gpt-4o-mini-2024-07-18` → `gpt-4o-mini`, `claude-haiku-4-5-20251001` → `claude-haiku-4-5`). Never a prefix match: `gpt-4o`'s
 * price must not be charged for `gpt-4o-audio-preview`.
 */
export function resolvePrice(model: string | undefined, table: PricingTable): ModelPrice | undefined {
  if (model === undefined) return undefined
  if (Object.hasOwn(table, model)) return table[model]
  const undated = model.replace(DATED_SNAPSHOT, '')
  return undated !== model && Object.hasOwn(table, undated) ? table[undated] : undefined
}

/**
 * Cost in USD of `usage` at `price`; `undefined` when either is unknown. Cached
 * input tokens are billed at `price.cachedInput`, cache writes at
 * `price.cacheWriteInput` (each at `price.input` without one).
 */
export function costOf(usage: Usage | undefined, price: ModelPrice | undefined): number | undefined {
  if (usage === undefined || price === undefined) return undefined
  const cached = Math.min(usage.cachedInputTokens ?? 0, usage.inputTokens)
  const written = Math.min(usage.cacheWriteInputTokens ?? 0, usage.inputTokens - cached)
  const input =
    (usage.inputTokens - cached - written) * price.input +
    cached * (price.cachedInput ?? price.input) +
    written * (price.cacheWriteInput ?? price.input)
  return (input + usage.outputTokens * price.output) / 1_000_000
}

/**
 * Throws a `TypeError` naming the model and field unless `value` is a pricing table, so a
 * wrong price is caught when the pipeline is built, not as a silently wrong `costUsd`.
 */
export function assertPricingTable(value: unknown, name: string): asserts value is PricingTable {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new TypeError(`Expected \`${name}\` to be an object of { input, output } prices, got \`${show(value)}\`.`)
  }
  for (const [model, price] of Object.entries(value)) {
    if (price === null || typeof price !== 'object') {
      throw new TypeError(`Expected \`${name}['${model}']\` to be { input, output }, got \`${show(price)}\`.`)
    }
    const { input, output, cachedInput, cacheWriteInput } = price as Record<string, unknown>
    assertNonNegativeNumber(input, `${name}['${model}'].input`)
    assertNonNegativeNumber(output, `${name}['${model}'].output`)
    if (cachedInput !== undefined) assertNonNegativeNumber(cachedInput, `${name}['${model}'].cachedInput`)
    if (cacheWriteInput !== undefined) assertNonNegativeNumber(cacheWriteInput, `${name}['${model}'].cacheWriteInput`)
  }
}
