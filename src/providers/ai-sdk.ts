import type { Provider, ProviderChunk, ProviderRequest, ProviderResponse } from '../types.js'
import { raceSignal } from '../abort.js'
import { AbortError, ProviderError } from '../errors.js'
import { assertDuration, assertKnownKeys, assertNonEmptyString, show } from '../validate.js'
import { toSpecPrompt, toSpecTools } from './ai-sdk-prompt.js'
import { addContent, finishReasonOf, ReplyBuilder, StreamAssembler, StreamErrorPart, usageOf } from './ai-sdk-result.js'
import { SPEC_VERSIONS } from './ai-sdk-spec.js'
import type { AISDKLanguageModel, ProviderMetadata, SpecCallOptions, SpecGenerateResult, SpecStreamResult } from './ai-sdk-spec.js'
import { Call, describeChain, isRecord, noop, typeName } from './http-call.js'

export type { AISDKLanguageModel } from './ai-sdk-spec.js'

/**
 * What the model object cannot say itself: a name for errors and events, provider-specific
 * settings, and a deadline for a model that stops answering. Keys and URLs belong to the
 * model's provider package, not here.
 */
export interface AISDKProviderOptions {
  /** Names the provider in errors, events and `result.provider`. @default model.provider, e.g. 'openai.chat' */
  name?: string | undefined
  /**
   * Sent as the spec's `providerOptions` on every call: what the AI SDK provider
   * package documents, keyed by provider, e.g.
   * `{ anthropic: { thinking: { type: 'enabled', budgetTokens: 2048 } } }`.
   */
  providerOptions?: Record<string, Record<string, unknown>> | undefined
  /**
   * How long to wait for `doGenerate`, and for a stream's first part and each part
   * after it. Past it the call is aborted and fails with `ProviderError`.
   * @default 600_000
   */
  timeoutMs?: number | undefined
}

const OPTION_KEYS = ['name', 'providerOptions', 'timeoutMs'] as const
const DEFAULT_TIMEOUT_MS = 600_000

type DoGenerate = (options: SpecCallOptions) => PromiseLike<SpecGenerateResult>
type DoStream = (options: SpecCallOptions) => PromiseLike<SpecStreamResult>

/**
 * A provider for any AI SDK language model: `openai('gpt-4o')`, `anthropic(…)`,
 * `google(…)`, `mistral(…)`, Ollama's… of AI SDK 5, 6 or 7 (spec v2, v3, v4). It
 * calls the model's `doGenerate` / `doStream` directly, so the `ai` package itself is
 * not needed; the AI SDK provider package holds the key, promptline never sees it.
 *
 * - System messages keep the system role; tool calls and results go as parts;
 *   reasoning parts come back in `message.reasoning` and go back, with their provider
 *   metadata (signatures), with the tool calls they led to.
 * - Usage of both spec shapes; finish reasons in promptline's words (`'tool_calls'`…).
 * - Failures are `ProviderError` with `status` when the AI SDK error carries one
 *   (`APICallError.statusCode`); `request.signal` is passed through as `abortSignal`.
 *
 * @example
 * ```ts
 * import { openai } from '@ai-sdk/openai'
 * const pipe = new Pipeline({ provider: new AISDKProvider(openai('gpt-4o-mini')) })
 * ```
 */
export class AISDKProvider implements Provider {
  readonly name: string
  /** The model's id, sent to pricing as the model that answered unless the model reports another. */
  readonly model: string
  /** The AI SDK provider behind the model, e.g. `'anthropic.messages'`: reasoning is sent back only to it. */
  readonly sdkProvider: string
  readonly #generate: DoGenerate
  readonly #stream: DoStream
  readonly #providerOptions: ProviderMetadata | undefined
  readonly #timeoutMs: number

  constructor(model: AISDKLanguageModel, options: AISDKProviderOptions = {}) {
    assertModel(model)
    if (!isRecord(options)) throw new TypeError(`Expected \`options\` to be an object, got ${typeName(options)}.`)
    assertKnownKeys(options, OPTION_KEYS, '')
    const { name, providerOptions, timeoutMs } = options
    if (name !== undefined) assertNonEmptyString(name, 'name')
    if (timeoutMs !== undefined) assertDuration(timeoutMs, 'timeoutMs')
    if (providerOptions !== undefined) assertProviderOptions(providerOptions)
    this.sdkProvider = model.provider
    this.name = name ?? (model.provider === '' ? 'ai-sdk' : model.provider)
    this.model = model.modelId
    const generate = model.doGenerate as unknown as DoGenerate
    const stream = model.doStream as unknown as DoStream
    this.#generate = (callOptions) => generate.call(model, callOptions)
    this.#stream = (callOptions) => stream.call(model, callOptions)
    this.#providerOptions = providerOptions
    this.#timeoutMs = timeoutMs ?? DEFAULT_TIMEOUT_MS
  }

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    const call = new Call(request.signal, this.#timeoutMs)
    try {
      call.throwIfAborted()
      call.startIdleTimer()
      const result = await raceSignal(Promise.resolve(this.#generate(this.#options(request, call))), call.signal)
      if (!isRecord(result)) throw new SyntaxError(`expected a result, got ${typeName(result)}`)
      const builder = new ReplyBuilder(this.sdkProvider)
      addContent(builder, result.content)
      const modelId = isRecord(result.response) ? result.response.modelId : undefined
      return this.#response(builder, result.usage, result.finishReason, modelId)
    } catch (error) {
      throw this.#error(error, call, 'request')
    } finally {
      call.end()
    }
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk, void, undefined> {
    const call = new Call(request.signal, this.#timeoutMs)
    let reader: ReadableStreamDefaultReader<unknown> | undefined
    let ended = false
    try {
      try {
        call.throwIfAborted()
        call.startIdleTimer()
        const result = await raceSignal(Promise.resolve(this.#stream(this.#options(request, call))), call.signal)
        // By shape, not `instanceof`: a model may bring its own (polyfilled, other-realm) ReadableStream.
        if (!isRecord(result) || !isRecord(result.stream) || typeof result.stream.getReader !== 'function') {
          throw new SyntaxError(`expected { stream: ReadableStream }, got ${typeName(isRecord(result) ? result.stream : result)}`)
        }
        reader = (result.stream as unknown as ReadableStream<unknown>).getReader()
      } catch (error) {
        throw this.#error(error, call, 'request')
      } finally {
        call.stopIdleTimer()
      }
      const builder = new ReplyBuilder(this.sdkProvider)
      const assembler = new StreamAssembler(builder)
      while (true) {
        let step: { done: boolean; value?: unknown }
        let text: string
        call.startIdleTimer()
        try {
          // Raced: a model that ignores its abortSignal must not hold the turn.
          step = await raceSignal(reader.read(), call.signal)
          if (step.done) {
            ended = true
            break
          }
          text = assembler.add(step.value)
        } catch (error) {
          throw this.#error(error, call, 'stream')
        } finally {
          call.stopIdleTimer()
        }
        if (text !== '') yield { type: 'delta', text }
      }
      if (!assembler.finished) throw new ProviderError(this.name, 'the stream ended before the response was complete (no finish part)')
      assembler.finish()
      let response: ProviderResponse
      try {
        response = this.#response(builder, assembler.usage, assembler.finishReason, assembler.modelId)
      } catch (error) {
        throw this.#error(error, call, 'stream')
      }
      // Release the caller's signal now: a consumer may never resume after `done`.
      call.end()
      yield { type: 'done', response }
    } finally {
      // Normal end, error, or the consumer broke out of its loop: never leave the model's stream open.
      call.end()
      if (reader !== undefined && !ended) void reader.cancel().catch(noop)
    }
  }

  #options(request: ProviderRequest, call: Call): SpecCallOptions {
    const options: SpecCallOptions = { prompt: toSpecPrompt(request.messages, this.sdkProvider), abortSignal: call.signal }
    if (request.maxTokens !== undefined) options.maxOutputTokens = request.maxTokens
    if (request.temperature !== undefined) options.temperature = request.temperature
    if (request.tools !== undefined && request.tools.length > 0) options.tools = toSpecTools(request.tools)
    if (this.#providerOptions !== undefined) options.providerOptions = this.#providerOptions
    return options
  }

  #response(builder: ReplyBuilder, usage: unknown, finishReason: unknown, modelId: unknown): ProviderResponse {
    const message = builder.message()
    const response: ProviderResponse = { message, model: typeof modelId === 'string' && modelId !== '' ? modelId : this.model }
    const counted = usageOf(usage)
    if (counted !== undefined) response.usage = counted
    const reason = finishReasonOf(finishReason, builder.hasToolCalls)
    if (reason !== undefined) response.finishReason = reason
    return response
  }

  /** Anything thrown during a call as `AbortError` / `ProviderError`, with the HTTP status when the AI SDK error has one. */
  #error(error: unknown, call: Call, phase: 'request' | 'stream'): Error {
    if (call.aborted) return new AbortError(`Provider \`${this.name}\` request aborted`, { cause: call.abortReason })
    if (error instanceof ProviderError) return error
    if (call.timedOut) {
      const what = phase === 'stream' ? 'no data for' : 'no response within'
      return new ProviderError(this.name, `timed out: ${what} ${this.#timeoutMs} ms`, { cause: error })
    }
    const inStream = error instanceof StreamErrorPart
    const cause = inStream ? error.error : error
    if (error instanceof SyntaxError) return new ProviderError(this.name, `malformed response: ${error.message}`, { cause })
    const status = statusOf(cause)
    const what = inStream ? 'error in the stream' : phase === 'stream' ? 'stream interrupted' : 'request failed'
    // Only the error's own message: an APICallError also holds the request body and response headers.
    return new ProviderError(this.name, `${what}: ${describeChain(cause)}`, { status, cause })
  }
}

/** `APICallError.statusCode` (AI SDK), or `status` (a fetch-style error); `undefined` otherwise. */
function statusOf(error: unknown): number | undefined {
  if (!isRecord(error)) return undefined
  const status = error.statusCode ?? error.status
  return Number.isSafeInteger(status) && (status as number) >= 100 && (status as number) <= 599 ? (status as number) : undefined
}

function assertModel(value: unknown): asserts value is AISDKLanguageModel {
  if (typeof value === 'string') {
    throw new TypeError(
      `Expected \`model\` to be an AI SDK language model object such as \`openai('gpt-4o')\`, got the string \`${show(value)}\`: a model id alone needs the \`ai\` package's gateway.`,
    )
  }
  if (!isRecord(value) || typeof value.doGenerate !== 'function' || typeof value.doStream !== 'function') {
    throw new TypeError(`Expected \`model\` to be an AI SDK language model ({ specificationVersion, doGenerate(), doStream() }), got \`${show(value)}\`.`)
  }
  if (!(SPEC_VERSIONS as readonly unknown[]).includes(value.specificationVersion)) {
    throw new TypeError(
      `Expected \`model.specificationVersion\` to be one of ${SPEC_VERSIONS.map((v) => `'${v}'`).join(', ')} (AI SDK 5, 6 or 7), got \`${show(value.specificationVersion)}\`.`,
    )
  }
  if (typeof value.provider !== 'string' || typeof value.modelId !== 'string' || value.modelId === '') {
    throw new TypeError(`Expected \`model\` to have string \`provider\` and \`modelId\`, got \`${show(value.provider)}\` and \`${show(value.modelId)}\`.`)
  }
}

function assertProviderOptions(value: unknown): asserts value is ProviderMetadata {
  if (!isRecord(value) || !Object.values(value).every(isRecord)) {
    throw new TypeError(`Expected \`providerOptions\` to be an object of objects keyed by provider, e.g. { openai: { … } }, got \`${show(value)}\`.`)
  }
}
