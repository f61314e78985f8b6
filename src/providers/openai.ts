import OpenAI, { APIConnectionError, APIConnectionTimeoutError, APIError, APIUserAbortError } from 'openai'
import type {
  ChatCompletionChunk,
  ChatCompletionCreateParamsNonStreaming,
  ChatCompletionCreateParamsStreaming,
} from 'openai/resources/chat/completions'
import type { Provider, ProviderChunk, ProviderRequest, ProviderResponse } from '../types.js'
import { AbortError, ProviderError } from '../errors.js'
import { assertDuration, assertKnownKeys, assertNonEmptyString, assertNonNegativeInteger, assertOneOf, MAX_TIMER_MS, show } from '../validate.js'
import { finishReasonOf, fromOpenAIMessage, toOpenAIMessages, toUsage } from './openai-messages.js'
import { ChunkAssembler } from './openai-stream.js'
import { assertHttpURL, Call, describeChain, isRecord, nonEmpty, redactedPreview, redactingLogger, redactText, scrub, streamThroughSdk, typeName } from './http-call.js'

/** Which request field carries `ProviderRequest.maxTokens`. */
export type MaxTokensParam = 'max_tokens' | 'max_completion_tokens'

/**
 * How an `OpenAIProvider` reaches its server. Every option is checked in the constructor
 * (unknown keys included) so a typo fails at start-up, and the key is never quoted.
 */
export interface OpenAIProviderOptions {
  /** The default model, e.g. `'gpt-4o-mini'` or `'llama3.2'`; `request.model` overrides it per call. */
  model: string
  /**
   * The API key. Kept inside the SDK client only: never in an error, in
   * `JSON.stringify(provider)` or in `util.inspect(provider)`.
   * @default process.env.OPENAI_API_KEY; with a `baseURL` (or `OPENAI_BASE_URL`) and no key,
   * a placeholder, since local servers ignore it
   */
  apiKey?: string | undefined
  /**
   * The API root of any OpenAI-compatible server, e.g. `'http://localhost:11434/v1'` (Ollama).
   * @default process.env.OPENAI_BASE_URL, else `'https://api.openai.com/v1'`
   */
  baseURL?: string | undefined
  /**
   * Your own `OpenAI` (or `AzureOpenAI`) client, e.g. with custom headers or `fetch`,
   * from the `openai` package you installed (any major the peer range allows).
   * Mutually exclusive with `apiKey` and `baseURL`. `maxRetries` and `timeoutMs`, when
   * given, are applied per request; otherwise the client's own settings hold.
   */
  client?: OpenAIClient | undefined
  /**
   * How many times the SDK retries a failed attempt: connection errors, timeouts,
   * 408, 409, 429 and 5xx, with exponential back-off (0.5 s doubling to 8 s, with
   * jitter), or exactly the server's `Retry-After` / `retry-after-ms`. These retries
   * are the provider's own and separate from the pipeline's `saveRetry`. A stream is
   * never retried once its first byte arrived.
   * @default 2
   */
  maxRetries?: number | undefined
  /**
   * Per attempt, how long to wait for the response headers (the SDK's `timeout`); for a
   * stream, also the longest silence allowed between two chunks. To bound a whole turn,
   * retries included, use the pipeline's `timeoutMs` or an `AbortSignal`.
   * @default 600_000 (the SDK's 10 minutes)
   */
  timeoutMs?: number | undefined
  /**
   * Which field carries `maxTokens`. OpenAI's current models reject the deprecated
   * `max_tokens` and want `max_completion_tokens`; many compatible servers only know
   * `max_tokens`.
   * @default 'max_completion_tokens' for api.openai.com, 'max_tokens' for any other server
   */
  maxTokensParam?: MaxTokensParam | undefined
  /** Names the provider in errors and events. @default 'openai' */
  name?: string | undefined
}

/**
 * The part of an `openai` client the provider calls. Typed by shape rather than as the
 * SDK's class, so a client from the `openai` version you installed fits even where its
 * class differs (private members make two copies of one class incompatible types).
 */
export interface OpenAIClient {
  readonly chat: {
    readonly completions: {
      /** The one call the provider makes; typed loosely so a client of any supported `openai` major fits. */
      create(body: OpenAIRequestBody, options?: OpenAIRequestOptions): PromiseLike<unknown>
    }
  }
  readonly apiKey?: unknown
  readonly baseURL?: unknown
  readonly timeout?: unknown
}

/** What the provider sends to `chat.completions.create` (the fields every major shares). */
export interface OpenAIRequestBody {
  model: string
  messages: readonly object[]
}

/**
 * The per-request options the provider passes to `chat.completions.create`. No
 * `| undefined` on purpose: the SDK's `RequestOptions` has none, and under
 * `exactOptionalPropertyTypes` a client would no longer fit.
 */
export interface OpenAIRequestOptions {
  maxRetries?: number
  timeout?: number
  signal?: AbortSignal
}

/** Sent as the key to servers that need none (Ollama, vLLM, llama.cpp, LM Studio ignore it). */
const PLACEHOLDER_KEY = 'promptline-no-key'
const DEFAULT_TIMEOUT_MS = 600_000
const DEFAULT_MAX_RETRIES = 2
const OPENAI_HOST = 'api.openai.com'
const MAX_TOKENS_PARAMS: readonly MaxTokensParam[] = ['max_tokens', 'max_completion_tokens']
const OPENAI_PROVIDER_KEYS: readonly (keyof OpenAIProviderOptions)[] = [
  'model', 'apiKey', 'baseURL', 'client', 'maxRetries', 'timeoutMs', 'maxTokensParam', 'name',
]

type RequestBody = ChatCompletionCreateParamsNonStreaming
/** The per-request options of the SDK this provider sets (a subset of its `RequestOptions`). */
interface CallOptions {
  maxRetries?: number
  timeout?: number
  signal?: AbortSignal
}

/**
 * A provider for OpenAI's chat-completions API and every server that speaks it
 * (Ollama, vLLM, llama.cpp, LM Studio…), on the official `openai` package.
 *
 * - `complete` and `stream` map roles, `name`, tool calls and tool results both ways,
 *   report usage, the finish reason and the model the server says answered.
 * - `request.signal` cancels the HTTP request (also while the SDK waits to retry);
 *   the call rejects with promptline's `AbortError`. Breaking out of `stream()`'s
 *   `for await` aborts the request too.
 * - Rate limits (429), 408/409 and 5xx are retried by the SDK (`maxRetries`).
 * - Every other failure is a `ProviderError` with `status` (the HTTP status, if any),
 *   `provider` (`name`) and the SDK's error as `cause`. A stream that ends before its
 *   finish reason is a `ProviderError`, never a silent partial reply.
 *
 * @example
 * ```ts
 * // OpenAI (key from OPENAI_API_KEY)
 * const openai = new OpenAIProvider({ model: 'gpt-4o-mini' })
 * // Ollama, vLLM, llama.cpp, LM Studio: point baseURL at the server's /v1
 * const ollama = new OpenAIProvider({ model: 'llama3.2', baseURL: 'http://localhost:11434/v1' })
 * const vllm = new OpenAIProvider({ model: 'Qwen/Qwen2.5-7B-Instruct', baseURL: 'http://localhost:8000/v1' })
 * const pipe = new Pipeline({ provider: ollama })
 * ```
 */
export class OpenAIProvider implements Provider {
  readonly name: string
  /** The default model of every request. */
  readonly model: string
  // Private fields: `util.inspect` and `JSON.stringify` never show them, and the SDK
  // client holds the key in its public `apiKey` field.
  readonly #client: OpenAI
  readonly #secret: string | undefined
  readonly #maxTokensParam: MaxTokensParam
  /** Reasoning goes back to compatible servers (DeepSeek needs it), never to api.openai.com. */
  readonly #sendReasoning: boolean
  readonly #timeoutMs: number
  readonly #requestOptions: Omit<CallOptions, 'signal'>

  constructor(options: OpenAIProviderOptions) {
    if (options === null || typeof options !== 'object' || Array.isArray(options)) {
      // Only the type: a string here may well be the key passed by mistake.
      throw new TypeError(`Expected \`options\` to be an object, got ${typeName(options)}.`)
    }
    assertKnownKeys(options, OPENAI_PROVIDER_KEYS, '')
    const { model, apiKey, baseURL, client, maxRetries, timeoutMs, maxTokensParam, name = 'openai' } = options
    assertNonEmptyString(model, 'model')
    assertNonEmptyString(name, 'name')
    if (apiKey !== undefined && (typeof apiKey !== 'string' || apiKey.length === 0)) {
      // Never echo a key, not even a malformed one: name its type only.
      const got = typeof apiKey === 'string' ? '""' : apiKey === null ? 'null' : `a ${typeof apiKey}`
      throw new TypeError(`Expected \`apiKey\` to be a non-empty string, got ${got}.`)
    }
    if (baseURL !== undefined) assertHttpURL(baseURL, 'baseURL')
    if (maxRetries !== undefined) assertNonNegativeInteger(maxRetries, 'maxRetries')
    if (timeoutMs !== undefined) assertDuration(timeoutMs, 'timeoutMs')
    if (maxTokensParam !== undefined) assertOneOf(maxTokensParam, MAX_TOKENS_PARAMS, 'maxTokensParam')

    let resolvedBaseURL: string
    if (client !== undefined) {
      if (!isClientLike(client)) {
        throw new TypeError(
          `Expected \`client\` to be an OpenAI client (with \`chat.completions.create\`), got \`${show(typeof client === 'object' ? Object.prototype.toString.call(client) : client)}\`.`,
        )
      }
      if (apiKey !== undefined || baseURL !== undefined) {
        throw new TypeError('Pass either `client` or `apiKey`/`baseURL`, not both: a given client keeps its own key and URL.')
      }
      this.#client = client
      this.#secret = typeof client.apiKey === 'string' && client.apiKey !== PLACEHOLDER_KEY ? client.apiKey : undefined
      resolvedBaseURL = typeof client.baseURL === 'string' ? client.baseURL : ''
      this.#timeoutMs = timeoutMs ?? (isTimeout(client.timeout) ? client.timeout : DEFAULT_TIMEOUT_MS)
      const perRequest: Omit<CallOptions, 'signal'> = {}
      if (maxRetries !== undefined) perRequest.maxRetries = maxRetries
      if (timeoutMs !== undefined) perRequest.timeout = timeoutMs
      this.#requestOptions = perRequest
    } else {
      const envBaseURL = nonEmpty(process.env.OPENAI_BASE_URL)
      if (baseURL === undefined && envBaseURL !== undefined) assertHttpURL(envBaseURL, 'OPENAI_BASE_URL')
      const base = baseURL ?? envBaseURL
      const key = apiKey ?? nonEmpty(process.env.OPENAI_API_KEY) ?? (base === undefined ? undefined : PLACEHOLDER_KEY)
      if (key === undefined) {
        throw new TypeError(
          'Expected `apiKey` to be a non-empty string, got undefined: pass `apiKey`, set OPENAI_API_KEY, or pass a `baseURL` for a server that needs no key.',
        )
      }
      this.#secret = key === PLACEHOLDER_KEY ? undefined : key
      this.#timeoutMs = timeoutMs ?? DEFAULT_TIMEOUT_MS
      this.#client = new OpenAI({
        apiKey: key,
        ...(base === undefined ? {} : { baseURL: base }),
        maxRetries: maxRetries ?? DEFAULT_MAX_RETRIES,
        timeout: this.#timeoutMs,
        // The SDK logs what a server sent when it cannot parse it; keep the key out of that too.
        ...(this.#secret === undefined ? {} : { logger: redactingLogger(this.#secret) }),
      })
      resolvedBaseURL = this.#client.baseURL
      this.#requestOptions = {}
    }
    this.name = name
    this.model = model
    this.#maxTokensParam = maxTokensParam ?? (isOpenAIHost(resolvedBaseURL) ? 'max_completion_tokens' : 'max_tokens')
    this.#sendReasoning = !isOpenAIHost(resolvedBaseURL)
  }

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    const body = this.#body(request)
    const call = new Call(request.signal, this.#timeoutMs)
    try {
      call.throwIfAborted()
      const completion = await call.race(this.#client.chat.completions.create(body, this.#options(call)))
      return this.#fromCompletion(completion, body.model)
    } catch (error) {
      throw this.#error(error, call, 'request')
    } finally {
      call.end()
    }
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk, void, undefined> {
    const body: ChatCompletionCreateParamsStreaming = {
      ...this.#body(request),
      stream: true,
      stream_options: { include_usage: true },
    }
    const call = new Call(request.signal, this.#timeoutMs)
    yield* streamThroughSdk<ChatCompletionChunk>(
      call,
      () => this.#client.chat.completions.create(body, this.#options(call)),
      new ChunkAssembler(),
      body.model,
      (error, phase) => this.#error(error, call, phase),
      () => new ProviderError(this.name, 'the stream ended before the response was complete (no finish reason)'),
    )
  }

  #options(call: Call): CallOptions {
    return { ...this.#requestOptions, signal: call.signal }
  }

  #body(request: ProviderRequest): RequestBody {
    const body: RequestBody = {
      model: request.model ?? this.model,
      messages: toOpenAIMessages(request.messages, { sendReasoning: this.#sendReasoning }),
    }
    if (request.maxTokens !== undefined) body[this.#maxTokensParam] = request.maxTokens
    if (request.temperature !== undefined) body.temperature = request.temperature
    if (request.tools !== undefined && request.tools.length > 0) {
      body.tools = request.tools.map((tool) => ({
        type: 'function' as const,
        function: {
          name: tool.name,
          ...(tool.description === undefined ? {} : { description: tool.description }),
          ...(tool.parameters === undefined ? {} : { parameters: tool.parameters }),
        },
      }))
    }
    return body
  }

  #fromCompletion(completion: unknown, requestedModel: string): ProviderResponse {
    if (!isRecord(completion) || !Array.isArray(completion.choices)) {
      throw new ProviderError(this.name, `malformed response: expected a chat completion, got \`${redactedPreview(completion, this.#secret)}\``)
    }
    const choice: unknown = completion.choices[0]
    if (!isRecord(choice) || !isRecord(choice.message)) {
      throw new ProviderError(this.name, `malformed response: no choice with a message in \`${redactedPreview(completion, this.#secret)}\``)
    }
    const message = fromOpenAIMessage(choice.message)
    const response: ProviderResponse = { message, model: modelOf(completion.model, requestedModel) }
    const usage = toUsage(completion.usage)
    if (usage !== undefined) response.usage = usage
    const finishReason = finishReasonOf(choice.finish_reason, message.toolCalls !== undefined)
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
    if (error instanceof APIUserAbortError) {
      return new ProviderError(this.name, 'request aborted', { cause })
    }
    if (error instanceof APIConnectionError) {
      return new ProviderError(this.name, redact(`connection failed: ${describeChain(error)}`), { cause })
    }
    if (error instanceof APIError) {
      return new ProviderError(this.name, redact(error.message), { status: error.status, cause })
    }
    if (error instanceof SyntaxError) {
      return new ProviderError(this.name, redact(`malformed response: ${error.message}`), { cause })
    }
    const what = phase === 'stream' ? 'stream interrupted' : 'request failed'
    return new ProviderError(this.name, redact(`${what}: ${describeChain(error)}`), { cause })
  }
}

function modelOf(reported: unknown, requested: string): string {
  return typeof reported === 'string' && reported !== '' ? reported : requested
}

function isClientLike(value: unknown): value is OpenAI {
  if (!isRecord(value)) return false
  const chat = value.chat
  if (!isRecord(chat)) return false
  const completions = chat.completions
  return isRecord(completions) && typeof completions.create === 'function'
}

/** A timeout the SDK can honour: it uses `setTimeout`, which fires at once beyond `MAX_TIMER_MS`. */
function isTimeout(value: unknown): value is number {
  return Number.isSafeInteger(value) && (value as number) > 0 && (value as number) <= MAX_TIMER_MS
}

function isOpenAIHost(baseURL: string): boolean {
  try {
    return new URL(baseURL).hostname === OPENAI_HOST
  } catch {
    return false
  }
}
