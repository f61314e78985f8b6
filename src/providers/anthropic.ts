import Anthropic, { APIConnectionError, APIConnectionTimeoutError, APIUserAbortError } from '@anthropic-ai/sdk'
import type { Provider, ProviderChunk, ProviderRequest, ProviderResponse } from '../types.js'
import { AbortError, ProviderError } from '../errors.js'
import { assertDuration, assertKnownKeys, assertNonEmptyString, assertNonNegativeInteger, assertOneOf, assertPositiveInteger, show } from '../validate.js'
import { finishReasonOf, fromAnthropicContent, toAnthropicRequest, toAnthropicTools, toUsage } from './anthropic-messages.js'
import type { WireMessage, WireRequest, WireTool } from './anthropic-messages.js'
import { AnthropicStreamAssembler } from './anthropic-stream.js'
import {
  assertApiKey,
  assertHttpURL,
  Call,
  describeChain,
  isRecord,
  nonEmpty,
  redactingLogger,
  redactedPreview,
  redactText,
  scrub,
  streamThroughSdk,
  typeName,
  type SdkStream,
} from './http-call.js'

/**
 * Extended thinking. `{ type: 'enabled', budgetTokens }` lets the model think for up to
 * `budgetTokens` (at least 1024, less than `maxTokens`) before it answers;
 * `{ type: 'adaptive' }` lets the model decide (the newer models' recommended mode).
 */
export type AnthropicThinking = { type: 'enabled'; budgetTokens: number } | { type: 'adaptive' } | { type: 'disabled' }

/**
 * The part of an `Anthropic` client this provider uses: any object with
 * `messages.create(body, options)`, such as `new Anthropic(…)` or a Bedrock/Vertex
 * client of the same SDK.
 */
export interface AnthropicClientLike {
  messages: {
    /** The one call the provider makes; `never[]` parameters accept the SDK's overloads of any version. */
    create(...args: never[]): unknown
  }
}

/**
 * How an `AnthropicProvider` reaches Claude and what it asks for (thinking, caching).
 * Checked in the constructor, unknown keys included, so a typo fails at start-up.
 */
export interface AnthropicProviderOptions {
  /** The default model, e.g. `'claude-sonnet-4-5'`; `request.model` overrides it per call. */
  model: string
  /**
   * The most tokens the model may generate (the API requires a limit); `request.maxTokens`
   * (the pipeline's `maxTokens`) overrides it per call.
   */
  maxTokens: number
  /**
   * The API key. Kept inside the SDK client only: never in an error, an event,
   * `JSON.stringify(provider)` or `util.inspect(provider)`.
   * @default process.env.ANTHROPIC_API_KEY
   */
  apiKey?: string | undefined
  /**
   * The API root, e.g. a gateway's; the SDK appends `/v1/messages`.
   * @default process.env.ANTHROPIC_BASE_URL, else 'https://api.anthropic.com'
   */
  baseURL?: string | undefined
  /** Your own client (custom headers, `fetch`, Bedrock, Vertex). Not together with `apiKey` or `baseURL`. */
  client?: AnthropicClientLike | undefined
  /**
   * How many times the SDK retries a failed attempt: connection errors, timeouts, 408,
   * 409, 429, 529 (overloaded) and other 5xx, honouring `retry-after`. Separate from the
   * pipeline's `saveRetry`. A stream is never retried once its first byte arrived.
   * @default 2
   */
  maxRetries?: number | undefined
  /**
   * Per attempt, how long to wait for the response headers; for a stream, also the
   * longest silence allowed between two events (Anthropic sends `ping`s meanwhile).
   * @default 600_000
   */
  timeoutMs?: number | undefined
  /** Extended thinking; see {@link AnthropicThinking}. @default off */
  thinking?: AnthropicThinking | undefined
  /**
   * `'auto'`: a prompt-cache breakpoint on the system prompt and on the last message,
   * so each turn reads the previous turns from the cache (reads cost a tenth of the
   * input price, writes 1.25 ×). Usage reports both.
   * @default 'none'
   */
  cacheControl?: 'auto' | 'none' | undefined
  /** Names the provider in errors and events. @default 'anthropic' */
  name?: string | undefined
}

const OPTION_KEYS = ['model', 'maxTokens', 'apiKey', 'baseURL', 'client', 'maxRetries', 'timeoutMs', 'thinking', 'cacheControl', 'name'] as const
/** Sent as the key to a `baseURL` when none is configured (a gateway that adds its own). */
const PLACEHOLDER_KEY = 'promptline-no-key'
const DEFAULT_TIMEOUT_MS = 600_000
const DEFAULT_MAX_RETRIES = 2
/** The API's minimum thinking budget. */
const MIN_THINKING_BUDGET = 1024

interface Body extends WireRequest {
  model: string
  max_tokens: number
  messages: WireMessage[]
  tools?: WireTool[]
  temperature?: number
  thinking?: { type: 'enabled'; budget_tokens: number } | { type: 'adaptive' } | { type: 'disabled' }
  stream?: boolean
}

interface CallOptions {
  maxRetries?: number
  timeout?: number
  signal?: AbortSignal
}

type CreateFn = (body: Body, options: CallOptions) => Promise<unknown>

/**
 * A provider for Claude through Anthropic's Messages API, on the official
 * `@anthropic-ai/sdk` (an optional peer dependency: `npm install @anthropic-ai/sdk`).
 *
 * - `complete` and `stream` (SSE) map system messages, tool calls and tool results,
 *   thinking blocks and usage both ways; see `docs/providers.md#anthropic`.
 * - Thinking blocks are kept in `message.reasoning` and sent back, unchanged, with the
 *   assistant message that called tools; you read `reasoning.text`.
 * - 429, 529 and 5xx are retried by the SDK (`maxRetries`); every other failure is a
 *   `ProviderError` with the HTTP `status`. `request.signal` closes the HTTP request
 *   and rejects with `AbortError`.
 *
 * @example
 * ```ts
 * const claude = new AnthropicProvider({ model: 'claude-sonnet-4-5', maxTokens: 1024 }) // key from ANTHROPIC_API_KEY
 * const pipe = new Pipeline({ provider: claude, systemPrompt: 'Be brief.' })
 * ```
 */
export class AnthropicProvider implements Provider {
  readonly name: string
  /** The default model of every request. */
  readonly model: string
  readonly maxTokens: number
  // Private fields: `util.inspect` and `JSON.stringify` never show them, and the SDK
  // client holds the key in its public `apiKey` field.
  readonly #create: CreateFn
  readonly #secret: string | undefined
  readonly #timeoutMs: number
  readonly #requestOptions: Omit<CallOptions, 'signal'>
  readonly #thinking: Body['thinking'] | undefined
  readonly #cache: boolean

  constructor(options: AnthropicProviderOptions) {
    if (!isRecord(options)) {
      // Only the type: a string here may well be the key passed by mistake.
      throw new TypeError(`Expected \`options\` to be an object, got ${typeName(options)}.`)
    }
    assertKnownKeys(options, OPTION_KEYS, '')
    const { model, maxTokens, apiKey, baseURL, client, maxRetries, timeoutMs, thinking, cacheControl = 'none', name = 'anthropic' } = options
    assertNonEmptyString(model, 'model')
    assertPositiveInteger(maxTokens, 'maxTokens')
    assertNonEmptyString(name, 'name')
    assertApiKey(apiKey)
    if (baseURL !== undefined) assertHttpURL(baseURL, 'baseURL')
    if (maxRetries !== undefined) assertNonNegativeInteger(maxRetries, 'maxRetries')
    if (timeoutMs !== undefined) assertDuration(timeoutMs, 'timeoutMs')
    assertOneOf(cacheControl, ['auto', 'none'], 'cacheControl')
    this.#thinking = thinking === undefined ? undefined : toThinking(thinking, maxTokens)
    this.#timeoutMs = timeoutMs ?? DEFAULT_TIMEOUT_MS

    if (client !== undefined) {
      if (!isRecord(client) || !isRecord(client.messages) || typeof client.messages.create !== 'function') {
        throw new TypeError(
          `Expected \`client\` to be an Anthropic client (with \`messages.create\`), got \`${show(isRecord(client) ? Object.prototype.toString.call(client) : client)}\`.`,
        )
      }
      if (apiKey !== undefined || baseURL !== undefined) {
        throw new TypeError('Pass either `client` or `apiKey`/`baseURL`, not both: a given client keeps its own key and URL.')
      }
      const messages = client.messages
      const create = messages.create as unknown as CreateFn
      this.#create = (body, callOptions) => create.call(messages, body, callOptions)
      const key = (client as { apiKey?: unknown }).apiKey
      this.#secret = typeof key === 'string' && key !== '' && key !== PLACEHOLDER_KEY ? key : undefined
      const perRequest: Omit<CallOptions, 'signal'> = {}
      if (maxRetries !== undefined) perRequest.maxRetries = maxRetries
      if (timeoutMs !== undefined) perRequest.timeout = timeoutMs
      this.#requestOptions = perRequest
    } else {
      const envBaseURL = nonEmpty(process.env.ANTHROPIC_BASE_URL)
      if (baseURL === undefined && envBaseURL !== undefined) assertHttpURL(envBaseURL, 'ANTHROPIC_BASE_URL')
      const base = baseURL ?? envBaseURL
      const key = apiKey ?? nonEmpty(process.env.ANTHROPIC_API_KEY) ?? (base === undefined ? undefined : PLACEHOLDER_KEY)
      if (key === undefined) {
        throw new TypeError('Expected `apiKey` to be a non-empty string, got undefined: pass `apiKey` or set ANTHROPIC_API_KEY.')
      }
      this.#secret = key === PLACEHOLDER_KEY ? undefined : key
      const sdk = new Anthropic({
        apiKey: key,
        // Only the key authenticates: an ANTHROPIC_AUTH_TOKEN in the environment is not sent along.
        authToken: null,
        ...(base === undefined ? {} : { baseURL: base }),
        maxRetries: maxRetries ?? DEFAULT_MAX_RETRIES,
        timeout: this.#timeoutMs,
        // The SDK logs what a server sent when it cannot parse it; keep the key out of that too.
        ...(this.#secret === undefined ? {} : { logger: redactingLogger(this.#secret) }),
      })
      const create = sdk.messages.create as unknown as CreateFn
      this.#create = (body, callOptions) => create.call(sdk.messages, body, callOptions)
      this.#requestOptions = { timeout: this.#timeoutMs }
    }
    this.name = name
    this.model = model
    this.maxTokens = maxTokens
    this.#cache = cacheControl === 'auto'
  }

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    const body = this.#body(request)
    const call = new Call(request.signal, this.#timeoutMs)
    try {
      call.throwIfAborted()
      const reply = await call.race(this.#create(body, this.#options(call)))
      return this.#fromReply(reply, body.model)
    } catch (error) {
      throw this.#error(error, call, 'request')
    } finally {
      call.end()
    }
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk, void, undefined> {
    const body: Body = { ...this.#body(request), stream: true }
    const call = new Call(request.signal, this.#timeoutMs)
    yield* streamThroughSdk(
      call,
      async () => {
        const sdkStream: unknown = await this.#create(body, this.#options(call))
        if (!isRecord(sdkStream) || typeof (sdkStream as Partial<AsyncIterable<unknown>>)[Symbol.asyncIterator] !== 'function') {
          throw new SyntaxError(`expected an event stream, got ${typeName(sdkStream)}`)
        }
        return sdkStream as unknown as SdkStream<unknown>
      },
      new AnthropicStreamAssembler(),
      body.model,
      (error, phase) => this.#error(error, call, phase),
      () => new ProviderError(this.name, 'the stream ended before the response was complete (no message_stop)'),
    )
  }

  #options(call: Call): CallOptions {
    return { ...this.#requestOptions, signal: call.signal }
  }

  #body(request: ProviderRequest): Body {
    const wire = toAnthropicRequest(request.messages, this.#cache)
    const body: Body = { model: request.model ?? this.model, max_tokens: request.maxTokens ?? this.maxTokens, ...wire }
    if (request.temperature !== undefined) body.temperature = request.temperature
    if (request.tools !== undefined && request.tools.length > 0) body.tools = toAnthropicTools(request.tools)
    if (this.#thinking !== undefined) body.thinking = this.#thinking
    return body
  }

  #fromReply(reply: unknown, requestedModel: string): ProviderResponse {
    if (!isRecord(reply) || !Array.isArray(reply.content)) {
      throw new ProviderError(this.name, `malformed response: expected a message, got \`${redactedPreview(reply, this.#secret)}\``)
    }
    const message = fromAnthropicContent(reply.content)
    const response: ProviderResponse = {
      message,
      model: typeof reply.model === 'string' && reply.model !== '' ? reply.model : requestedModel,
    }
    const usage = toUsage(reply.usage)
    if (usage !== undefined) response.usage = usage
    const finishReason = finishReasonOf(reply.stop_reason, message.toolCalls !== undefined)
    if (finishReason !== undefined) response.finishReason = finishReason
    return response
  }

  /** Maps anything thrown during a call to `AbortError` / `ProviderError`, with the key scrubbed. */
  #error(error: unknown, call: Call, phase: 'request' | 'stream'): Error {
    if (call.aborted) {
      return new AbortError(`Provider \`${this.name}\` request aborted`, { cause: call.abortReason })
    }
    if (error instanceof ProviderError) return error
    const cause = scrub(error, this.#secret)
    const redact = (text: string) => redactText(text, this.#secret)
    if (call.timedOut) {
      return new ProviderError(this.name, `timed out: no data for ${this.#timeoutMs} ms while streaming`, { cause })
    }
    if (error instanceof APIConnectionTimeoutError) {
      return new ProviderError(this.name, `timed out: no response within ${this.#timeoutMs} ms`, { cause })
    }
    if (error instanceof APIUserAbortError) return new ProviderError(this.name, 'request aborted', { cause })
    if (error instanceof APIConnectionError) {
      return new ProviderError(this.name, redact(`connection failed: ${describeChain(error)}`), { cause })
    }
    if (error instanceof Error && isRecord(error as unknown) && 'status' in error) {
      // An `APIError` of this SDK or of another copy of it (a client you passed in).
      const { status, type, apiMessage } = error as { status?: unknown; type?: unknown; apiMessage?: unknown }
      // `overloaded_error: Overloaded` reads better than the SDK's JSON dump of the body.
      const detail = typeof type === 'string' && typeof apiMessage === 'string' ? `${type}: ${apiMessage}` : error.message
      const what = typeof status === 'number' ? detail : `error event in the stream: ${detail}`
      return new ProviderError(this.name, redact(what), { status: typeof status === 'number' ? status : undefined, cause })
    }
    if (error instanceof SyntaxError) return new ProviderError(this.name, redact(`malformed response: ${error.message}`), { cause })
    const what = phase === 'stream' ? 'stream interrupted' : 'request failed'
    return new ProviderError(this.name, redact(`${what}: ${describeChain(error)}`), { cause })
  }
}

function toThinking(value: unknown, maxTokens: number): NonNullable<Body['thinking']> {
  if (!isRecord(value)) {
    throw new TypeError(`Expected \`thinking\` to be { type: 'enabled', budgetTokens } or { type: 'adaptive' }, got \`${show(value)}\`.`)
  }
  assertOneOf(value.type, ['enabled', 'adaptive', 'disabled'], 'thinking.type')
  if (value.type !== 'enabled') {
    assertKnownKeys(value, ['type'], 'thinking')
    return { type: value.type }
  }
  assertKnownKeys(value, ['type', 'budgetTokens'], 'thinking')
  const budget = value.budgetTokens
  if (!Number.isSafeInteger(budget) || (budget as number) < MIN_THINKING_BUDGET || (budget as number) >= maxTokens) {
    throw new TypeError(
      `Expected \`thinking.budgetTokens\` to be an integer from ${MIN_THINKING_BUDGET} to \`maxTokens\` - 1 (${maxTokens - 1}), got \`${show(budget)}\`.`,
    )
  }
  return { type: 'enabled', budget_tokens: budget as number }
}
