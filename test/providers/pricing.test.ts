import { describe, expect, it } from 'vitest'
import { assertPricingTable, costOf, DEFAULT_PRICING, resolvePrice } from '../../src/pricing.js'

describe('default pricing', () => {
  it('charges OpenAI list prices, per million tokens', () => {
    expect(resolvePrice('gpt-4o', DEFAULT_PRICING)).toEqual({ input: 2.5, output: 10, cachedInput: 1.25 })
    expect(resolvePrice('gpt-4o-mini', DEFAULT_PRICING)).toEqual({ input: 0.15, output: 0.6, cachedInput: 0.075 })
    expect(costOf({ inputTokens: 1_000_000, outputTokens: 1_000_000 }, resolvePrice('gpt-4o-mini', DEFAULT_PRICING))).toBeCloseTo(0.75)
  })

  it('prices a dated snapshot like its model, except the snapshots priced differently', () => {
    expect(resolvePrice('gpt-4o-mini-2024-07-18', DEFAULT_PRICING)).toEqual({ input: 0.15, output: 0.6, cachedInput: 0.075 })
    expect(resolvePrice('gpt-4o-2024-11-20', DEFAULT_PRICING)).toEqual({ input: 2.5, output: 10, cachedInput: 1.25 })
    expect(resolvePrice('gpt-4o-2024-05-13', DEFAULT_PRICING)).toEqual({ input: 5, output: 15 })
  })

  it('has no price, rather than a guess, for anything else', () => {
    for (const model of ['gpt-4o-audio-preview', 'llama3.2', 'gpt-3.5-turbo-1106', 'openai/gpt-4o', 'GPT-4O', undefined]) {
      expect(resolvePrice(model, DEFAULT_PRICING)).toBeUndefined()
    }
    expect(costOf({ inputTokens: 10, outputTokens: 10 }, undefined)).toBeUndefined()
  })

  it('is a valid, frozen table', () => {
    expect(() => assertPricingTable(DEFAULT_PRICING, 'DEFAULT_PRICING')).not.toThrow()
    expect(Object.isFrozen(DEFAULT_PRICING)).toBe(true)
  })
})

describe('cached input tokens', () => {
  it('are billed at cachedInput, the rest of the input at input', () => {
    const price = { input: 2.5, output: 10, cachedInput: 1.25 }
    const usage = { inputTokens: 1_000_000, outputTokens: 0, cachedInputTokens: 400_000 }
    expect(costOf(usage, price)).toBeCloseTo(600_000 * 2.5e-6 + 400_000 * 1.25e-6)
  })

  it('are billed at input when the price has no cachedInput, and never beyond inputTokens', () => {
    expect(costOf({ inputTokens: 100, outputTokens: 0, cachedInputTokens: 100 }, { input: 1, output: 1 })).toBeCloseTo(100e-6)
    expect(costOf({ inputTokens: 100, outputTokens: 0, cachedInputTokens: 500 }, { input: 2, output: 1, cachedInput: 1 })).toBeCloseTo(100e-6)
  })

  it('a bad cachedInput price is a TypeError naming it', () => {
    expect(() => assertPricingTable({ m: { input: 1, output: 1, cachedInput: -1 } }, 'pricing')).toThrow(
      /`pricing\['m'\]\.cachedInput`.*-1/,
    )
  })
})

describe('Anthropic prices and cache writes', () => {
  it('prices Claude models, dated ids like their model', () => {
    expect(resolvePrice('claude-sonnet-4-5-20250929', DEFAULT_PRICING)).toEqual({ input: 3, output: 15, cachedInput: 0.3, cacheWriteInput: 3.75 })
    expect(resolvePrice('claude-haiku-4-5-20251001', DEFAULT_PRICING)).toEqual({ input: 1, output: 5, cachedInput: 0.1, cacheWriteInput: 1.25 })
    expect(resolvePrice('claude-opus-4-5', DEFAULT_PRICING)).toEqual({ input: 5, output: 25, cachedInput: 0.5, cacheWriteInput: 6.25 })
    expect(resolvePrice('claude-sonnet-4-20250514', DEFAULT_PRICING)?.input).toBe(3)
    expect(resolvePrice('claude-sonnet-4-5-2025', DEFAULT_PRICING)).toBeUndefined()
  })

  it('bills cache writes at cacheWriteInput, reads at cachedInput, the rest at input', () => {
    const price = { input: 3, output: 15, cachedInput: 0.3, cacheWriteInput: 3.75 }
    const usage = { inputTokens: 1_000_000, outputTokens: 1_000, cachedInputTokens: 500_000, cacheWriteInputTokens: 300_000 }
    expect(costOf(usage, price)).toBeCloseTo((200_000 * 3 + 500_000 * 0.3 + 300_000 * 3.75 + 1_000 * 15) / 1e6)
    // Without a cache write price, writes cost input; never more tokens billed than inputTokens.
    expect(costOf({ inputTokens: 100, outputTokens: 0, cacheWriteInputTokens: 100 }, { input: 1, output: 1 })).toBeCloseTo(100e-6)
    expect(costOf({ inputTokens: 100, outputTokens: 0, cachedInputTokens: 80, cacheWriteInputTokens: 80 }, price)).toBeCloseTo((80 * 0.3 + 20 * 3.75) / 1e6)
  })

  it('a bad cacheWriteInput price is a TypeError naming it', () => {
    expect(() => assertPricingTable({ m: { input: 1, output: 1, cacheWriteInput: 'x' } }, 'pricing')).toThrow(/`pricing\['m'\]\.cacheWriteInput`/)
  })
})
