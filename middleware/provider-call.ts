import type { ExecutionContext, Middleware } from '../src/context.js'
import { turnAbortError } from '../src/context.js'
import type { Message, Provider, ProviderRequest, ProviderResponse, ToolDefinition, Usage } from '../src/types.js'
import { named } from '../src/compose.js'
import { PromptlineError, ProviderError } from '../src/errors.js'
import { assertPricingTable, costOf, DEFAULT_PRICING, resolvePrice, type PricingTable } from '../src/pricing.js'
import { getTokenCounter, isKnownChatModel } from '../src/tokens.js'
import {
  assertNonEmptyString,
  assertNonNegativeInteger,
  assertNonNegativeNumber,
  assertOneOf,
  assertOptionsObject,
  assertToolDefinitions,
} from '../src/validate.js'
import { assertProvider } from '../src/providers/assert-provider.js'

export interface ProviderCallOptions {
  /** Sent as `request.model`; the provider's own default applies when omitted. */
  model?: string
  /** Sent as `request.maxTokens`. */
  maxTokens?: number
  /** Sent as `request.temperature`. */
  temperature?: number
  /** Tools the model may call, sent as `request.tools` on every turn. */
  tools?: ToolDefinition[]
  /**
   * Prices in USD per million tokens, by model name, merged over `DEFAULT_PRICING`.
   * A model without a price gets `costUsd: undefined`, never a guess.
   * @default DEFAULT_PRICING
   */
  pricing?: PricingTable
  /**
   * What to keep of a streamed reply that was aborted midway: `'none'` stores
   * nothing of the turn; `'partial'` stores the text received so far with
   * `metadata.aborted = true` (the turn still rejects with `AbortError`).
   * @default 'none'
   */
  saveOnAbort?: 'none' | 'partial'
}

/**
 * Sends `ctx.messages` to the provider and records the reply (`ctx.response`,
 * `usage`, `model`, `costUsd`), adding it to the messages the turn stores. When the
 * turn is streamed (`ctx.onDelta` is set) it uses `provider.stream` and forwards
 * each text delta. Provider failures become `ProviderError`, aborts `AbortError`.
 * When the provider reports no usage, it is counted locally (`usage.estimated`).
 *
 * @example
 * ```ts
 * Pipeline.from([stateLoad(store), providerCall(provider, { pricing: { 'my-model': { input: 1, output: 2 } } }), stateSave(store)])
 * ```
 */
export function providerCall(provider: Provider, options: ProviderCallOptions = {}): Middleware {
  assertProvider(provider, 'provider')
  assertOptionsObject(options, 'options')
  const { model, maxTokens, temperature, pricing, tools, saveOnAbort = 'none' } = options
  if (tools !== undefined) assertToolDefinitions(tools, 'tools')
  // Frozen copies: every turn sends the same definitions, and nobody can change them between turns.
  const toolList = tools === undefined ? undefined : Object.freeze(tools.map((tool) => Object.freeze({ ...tool })))
  if (model !== undefined) assertNonEmptyString(model, 'model')
  if (maxTokens !== undefined) assertNonNegativeInteger(maxTokens, 'maxTokens')
  if (temperature !== undefined) assertNonNegativeNumber(temperature, 'temperature')
  if (pricing !== undefined) assertPricingTable(pricing, 'pricing')
  assertOneOf(saveOnAbort, ['none', 'partial'], 'saveOnAbort')
  const prices: PricingTable = pricing === undefined ? DEFAULT_PRICING : { ...DEFAULT_PRICING, ...pricing }

  return named('provider-call', async function providerCallMiddleware(ctx, next) {
    const request: ProviderRequest = { messages: ctx.messages, signal: ctx.signal }
    if (model !== undefined) request.model = model
    if (maxTokens !== undefined) request.maxTokens = maxTokens
    if (temperature !== undefined) request.temperature = temperature
    if (toolList !== undefined) request.tools = toolList as ToolDefinition[]

    const started = performance.now()
    const partial = { text: '' }
    let response: ProviderResponse
    try {
      response = ctx.onDelta === undefined ? await provider.complete(request) : await streamReply(provider, request, ctx.onDelta, partial)
    } catch (error) {
      if (!ctx.signal.aborted) throw asProviderError(provider, error)
      if (saveOnAbort === 'none' || partial.text.length === 0) throw turnAbortError(ctx, error)
      response = { message: { role: 'assistant', content: partial.text, metadata: { aborted: true } }, finishReason: 'aborted' }
    }
    if (response.message.metadata?.aborted !== true && ctx.signal.aborted) throw turnAbortError(ctx, ctx.signal.reason)

    const message = response.message
    ctx.response = message
    ctx.finishReason = response.finishReason
    ctx.model = response.model ?? model
    // Behind a router such as FallbackProvider, the provider that actually answered.
    ctx.provider = response.provider ?? provider.name
    ctx.usage = response.usage ?? (await estimateUsage(ctx, message))
    ctx.costUsd = costOf(ctx.usage, resolvePrice(ctx.model, prices))
    ctx.newMessages.push(message)
    ctx.emit('provider:response', {
      provider: ctx.provider,
      model: ctx.model,
      usage: ctx.usage,
      costUsd: ctx.costUsd,
      finishReason: ctx.finishReason,
      durationMs: performance.now() - started,
    })
    await next()
    if (message.metadata?.aborted === true) throw turnAbortError(ctx, ctx.signal.reason)
  })
}

async function streamReply(
  provider: Provider,
  request: ProviderRequest,
  onDelta: (text: string) => void | Promise<void>,
  partial: { text: string },
): Promise<ProviderResponse> {
  const signal = request.signal
  if (provider.stream === undefined) {
    const response = await provider.complete(request)
    if (response.message.content.length > 0) await offer(onDelta, response.message.content, signal)
    return response
  }
  for await (const chunk of provider.stream(request)) {
    // A provider may yield once more before it notices an abort: stop here instead.
    signal?.throwIfAborted()
    if (chunk.type === 'delta') {
      partial.text += chunk.text
      await offer(onDelta, chunk.text, signal)
    } else {
      return chunk.response
    }
  }
  throw new ProviderError(provider.name, 'the stream ended without a final response')
}

/**
 * Hands a delta to the consumer and waits until it is taken, or until the turn is
 * aborted (timeout, caller): a consumer that stops reading must not hold the turn,
 * its session's queue and `shutdown()` forever.
 */
function offer(onDelta: (text: string) => void | Promise<void>, text: string, signal: AbortSignal | undefined): Promise<void> {
  const taken = onDelta(text)
  if (taken === undefined || signal === undefined) return Promise.resolve(taken)
  if (signal.aborted) return Promise.reject(signal.reason)
  return new Promise((resolve, reject) => {
    const onAbort = () => reject(signal.reason)
    signal.addEventListener('abort', onAbort, { once: true })
    taken.then(
      () => {
        signal.removeEventListener('abort', onAbort)
        resolve()
      },
      (error: unknown) => {
        signal.removeEventListener('abort', onAbort)
        reject(error)
      },
    )
  })
}

/** Counts usage with the model's tokenizer (gpt-4o's when the model is unknown to gpt-tokenizer). */
async function estimateUsage(ctx: ExecutionContext, reply: Message): Promise<Usage> {
  const counter = await getTokenCounter(isKnownChatModel(ctx.model) ? ctx.model : 'gpt-4o')
  return {
    inputTokens: counter.countRequest(ctx.messages),
    // The reply's content and tool calls, without the chat framing of the message.
    outputTokens: counter.count(reply) - counter.count({ role: reply.role, content: '' }),
    estimated: true,
  }
}

function asProviderError(provider: Provider, error: unknown): Error {
  // Our own errors and bad input (a TypeError names the bad argument) pass through as they are.
  if (error instanceof PromptlineError || error instanceof TypeError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new ProviderError(provider.name, message, { cause: error })
}

