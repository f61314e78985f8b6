import type { ExecutionContext, Middleware } from '../src/context.js'
import { turnAbortError } from '../src/context.js'
import type { Message, Provider, ProviderChunk, ProviderRequest, ProviderResponse, ToolDefinition, Usage } from '../src/types.js'
import { raceSignal } from '../src/abort.js'
import { named } from '../src/compose.js'
import { PromptlineError, ProviderError } from '../src/errors.js'
import { assertPricingTable, costOf, DEFAULT_PRICING, resolvePrice, type PricingTable } from '../src/pricing.js'
import { getTokenCounter, isKnownChatModel, tokenUpperBound, type TokenCounter } from '../src/tokens.js'
import {
  assertDuration,
  assertKnownKeys,
  assertNonEmptyString,
  assertNonNegativeInteger,
  assertNonNegativeNumber,
  assertOneOf,
  assertOptionsObject,
  assertToolDefinitions,
  show,
} from '../src/validate.js'
import { assertProvider } from '../src/providers/assert-provider.js'
import { chunkProblem, PROVIDER_CHUNK_SHAPE, PROVIDER_RESPONSE_SHAPE, responseProblem } from '../src/providers/check-response.js'
import { copyMetadata } from '../src/metadata.js'

/** The per-call settings `providerCall` sends with every request, and how it prices and streams a turn. */
export interface ProviderCallOptions {
  /** Sent as `request.model`; the provider's own default applies when omitted. */
  model?: string | undefined
  /** Sent as `request.maxTokens`. */
  maxTokens?: number | undefined
  /** Sent as `request.temperature`. */
  temperature?: number | undefined
  /** Tools the model may call, sent as `request.tools` on every turn. */
  tools?: ToolDefinition[] | undefined
  /**
   * Prices in USD per million tokens, by model name, merged over `DEFAULT_PRICING`.
   * A model without a price gets `costUsd: undefined`, never a guess.
   * @default DEFAULT_PRICING
   */
  pricing?: PricingTable | undefined
  /**
   * What to keep of a streamed reply that was aborted midway: `'none'` stores
   * nothing of the turn; `'partial'` stores the text received so far with
   * `metadata.aborted = true` (the turn still rejects with `AbortError`).
   * @default 'none'
   */
  saveOnAbort?: 'none' | 'partial' | undefined
  /**
   * The longest a streamed reply may stay silent: the wait for its first chunk and
   * between two chunks (the consumer's time on a delta does not count). Past it the
   * request is aborted and the turn fails with `ProviderError`. Only for providers
   * that stream; `false`: no limit. An integer up to 2^31 - 1.
   * @default false (the `Pipeline` sets 300_000)
   */
  idleTimeoutMs?: number | false | undefined
  /**
   * What to do when the provider reports no usage. `true`: count the request and the
   * reply locally with gpt-tokenizer (its encoding loads on first use: about 125 ms and
   * 55 MB), in the answering model's own encoding when gpt-tokenizer knows the model,
   * else in gpt-4o's, and then `usage.estimatedWith` says `'gpt-4o'`. A `TokenCounter`
   * (from `createTokenCounter` over your model's tokenizer, or `getTokenCounter`):
   * count with it. `false`: count nothing; `usage` and `costUsd` stay `undefined`.
   * Either way `usage.estimated` is `true` on a count made here.
   * @default true
   */
  estimateUsage?: boolean | TokenCounter | undefined
}

const PROVIDER_CALL_KEYS: readonly (keyof ProviderCallOptions)[] = [
  'model', 'maxTokens', 'temperature', 'tools', 'pricing', 'saveOnAbort', 'idleTimeoutMs', 'estimateUsage',
]

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
  assertKnownKeys(options, PROVIDER_CALL_KEYS, '')
  const { model, maxTokens, temperature, pricing, tools, saveOnAbort = 'none', idleTimeoutMs = false, estimateUsage: estimate = true } = options
  assertEstimateUsage(estimate)
  if (idleTimeoutMs !== false) assertDuration(idleTimeoutMs, 'idleTimeoutMs')
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
      response =
        ctx.onDelta === undefined
          ? checkedResponse(provider, await provider.complete(request))
          : await streamReply(provider, request, ctx.onDelta, partial, idleTimeoutMs)
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
    ctx.usage = response.usage ?? (estimate === false ? undefined : await estimateUsage(ctx, message, estimate))
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
  idleTimeoutMs: number | false,
): Promise<ProviderResponse> {
  const signal = request.signal
  if (provider.stream === undefined) {
    const response = checkedResponse(provider, await provider.complete(request))
    if (response.message.content.length > 0) await offer(onDelta, response.message.content, signal)
    return response
  }
  const stream = idleTimeoutMs === false ? openStream(provider, request) : withIdleLimit(provider, request, idleTimeoutMs)
  let final: ProviderResponse | undefined
  // Read to the end, past `done`: a chunk after it would be a reply the pipeline silently cut.
  for await (const chunk of stream as AsyncIterable<unknown>) {
    // A provider may yield once more before it notices an abort: stop here instead.
    signal?.throwIfAborted()
    if (final !== undefined) throw invalidResult(provider, 'its stream yielded a chunk after `done`', chunk, PROVIDER_CHUNK_SHAPE)
    const problem = chunkProblem(chunk)
    if (problem !== undefined) throw invalidResult(provider, `its stream yielded an invalid chunk (${problem})`, chunk, PROVIDER_CHUNK_SHAPE)
    const valid = chunk as ProviderChunk
    if (valid.type === 'delta') {
      partial.text += valid.text
      await offer(onDelta, valid.text, signal)
    } else {
      final = checkedResponse(provider, valid.response)
    }
  }
  if (final === undefined) throw new ProviderError(provider.name, 'the stream ended without a final response')
  return final
}

/**
 * `value` as a `ProviderResponse`, its message's metadata copied (it is stored), or
 * a `ProviderError` that shows what the provider returned and what was expected.
 * A `ProviderError` rather than a `TypeError`: the caller's arguments were fine;
 * the provider broke its contract, and it is named, as for any other failure of it.
 */
function checkedResponse(provider: Provider, value: unknown): ProviderResponse {
  const problem = responseProblem(value)
  if (problem !== undefined) throw invalidResult(provider, `returned an invalid response (${problem})`, value, PROVIDER_RESPONSE_SHAPE)
  const response = value as ProviderResponse
  const metadata = response.message.metadata
  if (metadata === undefined) return response
  try {
    return { ...response, message: { ...response.message, metadata: copyMetadata(metadata, 'message.metadata') } }
  } catch (error) {
    throw invalidResult(provider, `returned an invalid response (${(error as Error).message})`, value, PROVIDER_RESPONSE_SHAPE)
  }
}

/** Calls `provider.stream`, checking that it returned something to iterate. */
function openStream(provider: Provider, request: ProviderRequest): AsyncIterable<ProviderChunk> {
  const stream: unknown = (provider.stream as NonNullable<Provider['stream']>)(request)
  if (stream === null || typeof stream !== 'object' || !(Symbol.asyncIterator in stream)) {
    throw invalidResult(provider, 'stream() returned something that is not an async iterable', stream, PROVIDER_CHUNK_SHAPE)
  }
  return stream as AsyncIterable<ProviderChunk>
}

function invalidResult(provider: Provider, what: string, value: unknown, expected: string): ProviderError {
  return new ProviderError(provider.name, `${what}: got \`${show(value)}\`, expected ${expected}`)
}

/**
 * `provider.stream(request)`, failing with `ProviderError` when the provider sends
 * nothing for `idleMs` (the request is aborted then). The clock runs only while
 * waiting for the provider, not while the consumer holds a delta.
 */
async function* withIdleLimit(provider: Provider, request: ProviderRequest, idleMs: number): AsyncGenerator<ProviderChunk> {
  // Aborted by the turn or by silence; linked by hand (AbortSignal.any needs Node 20.3).
  const idle = new AbortController()
  const signal = idle.signal
  const onTurnAbort = () => idle.abort(request.signal?.reason)
  if (request.signal?.aborted === true) onTurnAbort()
  else request.signal?.addEventListener('abort', onTurnAbort, { once: true })
  const iterator = openStream(provider, { ...request, signal })[Symbol.asyncIterator]()
  const silence = new ProviderError(provider.name, `timed out: no data for ${idleMs} ms while streaming`)
  let finished = false
  try {
    for (;;) {
      const timer = setTimeout(() => idle.abort(silence), idleMs)
      let step: IteratorResult<ProviderChunk>
      try {
        // Raced, so a provider that ignores its signal holds the turn past neither the
        // limit nor an abort (a partial reply is then saved at once).
        step = await raceSignal(iterator.next(), signal)
      } finally {
        clearTimeout(timer)
      }
      if (step.done === true) {
        finished = true
        return
      }
      yield step.value
    }
  } finally {
    request.signal?.removeEventListener('abort', onTurnAbort)
    if (!finished) void iterator.return?.()?.catch(() => {})
  }
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

/** Throws a `TypeError` unless `value` is `true`, `false` or a `TokenCounter`. */
function assertEstimateUsage(value: unknown): asserts value is boolean | TokenCounter {
  if (typeof value === 'boolean') return
  const counter = value as Partial<TokenCounter> | null
  if (
    counter === null ||
    typeof counter !== 'object' ||
    typeof counter.model !== 'string' ||
    typeof counter.count !== 'function' ||
    typeof counter.countAsync !== 'function' ||
    typeof counter.countRequestAsync !== 'function'
  ) {
    throw new TypeError(
      `Expected \`estimateUsage\` to be true, false or a TokenCounter (from createTokenCounter or getTokenCounter), got \`${show(value)}\`.`,
    )
  }
}

/**
 * Counts usage with `counter`, or with the model's tokenizer (gpt-4o's when the model is
 * unknown to gpt-tokenizer, said in `estimatedWith`), paced so that a long reply never
 * holds the event loop. The provider has answered by now: when counting fails (or the
 * turn is aborted meanwhile), usage falls back to an upper bound from the UTF-8 lengths
 * instead of losing the turn.
 */
async function estimateUsage(ctx: ExecutionContext, reply: Message, estimate: true | TokenCounter): Promise<Usage> {
  try {
    const counter = estimate === true ? await getTokenCounter(isKnownChatModel(ctx.model) ? ctx.model : 'gpt-4o') : estimate
    const signal = ctx.signal
    const usage: Usage = {
      inputTokens: await counter.countRequestAsync(ctx.messages, { signal }),
      // The reply's content and tool calls, without the chat framing of the message.
      outputTokens: (await counter.countAsync(reply, { signal })) - counter.count({ role: reply.role, content: '' }),
      estimated: true,
    }
    // Another model's encoding standing in for the answering model's: say which.
    if (counter.model !== ctx.model) usage.estimatedWith = counter.model
    return usage
  } catch {
    return { inputTokens: tokenUpperBound(ctx.messages, true), outputTokens: tokenUpperBound([reply], false), estimated: true }
  }
}

function asProviderError(provider: Provider, error: unknown): Error {
  // Our own errors and bad input (a TypeError names the bad argument) pass through as they are.
  if (error instanceof PromptlineError || error instanceof TypeError) return error
  const message = error instanceof Error ? error.message : String(error)
  return new ProviderError(provider.name, message, { cause: error })
}

