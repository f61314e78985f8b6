import type { Provider, ProviderChunk, ProviderRequest, ProviderResponse } from '../types.js'
import { AbortError, ProviderError } from '../errors.js'
import { assertFunction, assertKnownKeys, assertNonEmptyString, assertOptionsObject, show } from '../validate.js'
import { assertProvider } from './assert-provider.js'

/** What `onFallback` is told when one provider failed and the next one is tried. */
export interface FallbackInfo {
  /** The name of the provider that failed. */
  from: string
  /** The name of the provider tried next. */
  to: string
  error: unknown
}

/**
 * When a `FallbackProvider` hands a request to the next provider, and who hears about it.
 * The defaults hand over only failures another provider may not have (overload, outages).
 */
export interface FallbackProviderOptions {
  /**
   * Whether a failure of one provider hands the request to the next. Never asked
   * about an abort (the caller's signal or the pipeline's deadline), nor once a
   * stream's first delta has been yielded.
   * @default isRetryableProviderError: a `ProviderError` with status 408, 409, 429 or 5xx (529 included), or without a status (timeout, connection failure, a stream cut off)
   */
  shouldFallback?: ((error: unknown, provider: Provider) => boolean) | undefined
  /** Told about every hand-over, e.g. to log it or count it. Must not throw. */
  onFallback?: ((info: FallbackInfo) => void) | undefined
  /** Names the provider in errors. @default 'fallback' */
  name?: string | undefined
}

const OPTION_KEYS = ['shouldFallback', 'onFallback', 'name'] as const
const RETRYABLE_STATUSES = new Set([408, 409, 429])

/**
 * The default of `shouldFallback`: a `ProviderError` that another provider may well
 * not have: rate limits (429), overload and server errors (5xx, Anthropic's 529),
 * 408/409, and failures without an HTTP status (timeouts, refused or cut connections,
 * a stream that broke off). A 400 or 401 is not: the next provider would reject the
 * same request, or the configuration needs fixing.
 */
export function isRetryableProviderError(error: unknown): boolean {
  if (!(error instanceof ProviderError)) return false
  const status = error.status
  return status === undefined || RETRYABLE_STATUSES.has(status) || status >= 500
}

/**
 * Tries its providers in order: when one fails with an error `shouldFallback` accepts,
 * the same request goes to the next. A stream falls back only until its first delta
 * was yielded (the text cannot be taken back); after that its error stands. An abort
 * never falls back.
 *
 * The answering provider's name is in `response.provider`, so the pipeline reports it
 * as `result.provider` and in the `provider:response` event; its model (and so the
 * price) is the one that provider reported. A failure that does not fall back (or of
 * the only provider) is rejected as it is; once the request fell back, the final error is
 * a `ProviderError` of this provider listing each provider's failure, with the last one's
 * `status` and an `AggregateError` of all of them as `cause`.
 *
 * @example
 * ```ts
 * const provider = new FallbackProvider([
 *   new AnthropicProvider({ model: 'claude-sonnet-4-6', maxTokens: 1024 }),
 *   new OpenAIProvider({ model: 'gpt-4o-mini' }),
 * ], { onFallback: ({ from, to, error }) => console.warn(`${from} failed, trying ${to}`, error) })
 * const pipe = new Pipeline({ provider })
 * ```
 */
export class FallbackProvider implements Provider {
  readonly name: string
  readonly providers: readonly Provider[]
  readonly #shouldFallback: (error: unknown, provider: Provider) => boolean
  readonly #onFallback: ((info: FallbackInfo) => void) | undefined

  constructor(providers: readonly Provider[], options: FallbackProviderOptions = {}) {
    if (!Array.isArray(providers) || providers.length === 0) {
      throw new TypeError(`Expected \`providers\` to be a non-empty array of providers, got \`${show(providers)}\`.`)
    }
    providers.forEach((provider, i) => assertProvider(provider, `providers[${i}]`))
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, OPTION_KEYS, 'options')
    const { shouldFallback = isRetryableProviderError, onFallback, name = 'fallback' } = options
    assertFunction(shouldFallback, 'shouldFallback')
    if (onFallback !== undefined) assertFunction(onFallback, 'onFallback')
    assertNonEmptyString(name, 'name')
    this.providers = Object.freeze([...providers])
    this.#shouldFallback = shouldFallback
    this.#onFallback = onFallback
    this.name = name
  }

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    const errors: unknown[] = []
    for (const [i, provider] of this.providers.entries()) {
      try {
        return answeredBy(await provider.complete(request), provider)
      } catch (error) {
        errors.push(error)
        if (!this.#fallsBack(error, i, request.signal)) throw this.#failure(errors, request.signal)
      }
    }
    throw this.#failure(errors, request.signal)
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk, void, undefined> {
    const errors: unknown[] = []
    for (const [i, provider] of this.providers.entries()) {
      let yielded = false
      try {
        if (provider.stream === undefined) {
          const response = await provider.complete(request)
          if (response.message.content !== '') {
            yielded = true
            yield { type: 'delta', text: response.message.content }
          }
          yield { type: 'done', response: answeredBy(response, provider) }
          return
        }
        for await (const chunk of provider.stream(request)) {
          if (chunk.type === 'done') {
            yield { type: 'done', response: answeredBy(chunk.response, provider) }
            return
          }
          yielded = true
          yield chunk
        }
        throw new ProviderError(provider.name, 'the stream ended without a final response')
      } catch (error) {
        // Text already reached the consumer: another provider's answer cannot replace it.
        if (yielded) throw error
        errors.push(error)
        if (!this.#fallsBack(error, i, request.signal)) throw this.#failure(errors, request.signal)
      }
    }
    throw this.#failure(errors, request.signal)
  }

  /** Whether provider `i + 1` takes over from provider `i`, which failed with `error`. */
  #fallsBack(error: unknown, i: number, signal: AbortSignal | undefined): boolean {
    const next = this.providers[i + 1]
    if (next === undefined || signal?.aborted === true || error instanceof AbortError) return false
    const failed = this.providers[i] as Provider
    if (!this.#shouldFallback(error, failed)) return false
    this.#onFallback?.({ from: failed.name, to: next.name, error })
    return true
  }

  /**
   * What the call rejects with: the only error or an abort as it is; after a fallback,
   * a `ProviderError` that lists every provider's failure.
   */
  #failure(errors: unknown[], signal: AbortSignal | undefined): unknown {
    const last = errors.at(-1)
    if (errors.length === 1 || signal?.aborted === true || last instanceof AbortError) return last
    const list = errors
      .map((error, i) => `\`${this.providers[i]?.name ?? '?'}\`: ${error instanceof Error ? error.message : String(error)}`)
      .join('; ')
    return new ProviderError(this.name, `every provider failed: ${list}`, {
      status: last instanceof ProviderError ? last.status : undefined,
      cause: new AggregateError(errors, `${errors.length} providers failed`),
    })
  }
}

/** The response with the name of the provider that answered (kept when that provider is itself a router). */
function answeredBy(response: ProviderResponse, provider: Provider): ProviderResponse {
  return response.provider === undefined ? { ...response, provider: provider.name } : response
}
