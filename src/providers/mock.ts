import type { Message, Provider, ProviderChunk, ProviderRequest, ProviderResponse, Reasoning, ToolCall } from '../types.js'
import { AbortError, ProviderError } from '../errors.js'
import { assertDuration, assertKnownKeys, assertNonEmptyString, assertOptionsObject, show } from '../validate.js'
import { copyMessages } from '../messages.js'

/**
 * A whole scripted answer: text, tool calls, reasoning, and optionally a failure
 * (`failAfterDeltas`: the stream yields that many words, then fails with a
 * `ProviderError`; `complete` fails at once).
 */
export interface MockAnswer {
  content?: string
  toolCalls?: ToolCall[]
  reasoning?: Reasoning
  failAfterDeltas?: number
}

/** What a `MockProvider` answers: one reply for every turn, a script used in order, or a function of the request. */
export type MockReply = string | Array<string | MockAnswer> | ((messages: Message[]) => string | MockAnswer | Promise<string | MockAnswer>)

/** How a `MockProvider` behaves; every option has a default, so `new MockProvider()` echoes. */
export interface MockProviderOptions {
  /**
   * What to answer: a fixed string, a script used in order (the last entry repeats),
   * or a function of the view. An answer is a string or a {@link MockAnswer} (tool
   * calls, reasoning, a scripted failure).
   * @default echoes the last message: `Echo: <content>`
   */
  reply?: MockReply | undefined
  /**
   * Delay before answering, in whole milliseconds (at most 2^31 - 1); an abort during it rejects at once.
   * @default 0
   */
  latencyMs?: number | undefined
  /** @default 'mock' */
  name?: string | undefined
  /** Reported as the answering model (for pricing). @default 'mock-model' */
  model?: string | undefined
}

const MOCK_PROVIDER_KEYS: readonly (keyof MockProviderOptions)[] = ['reply', 'latencyMs', 'name', 'model']

/**
 * An offline provider for tests, demos and `npm start`. It records every request it
 * received in `requests` (views are copied, so later changes do not show), honours
 * `AbortSignal`, and streams its reply word by word.
 *
 * @example
 * ```ts
 * const provider = new MockProvider({ reply: ['Hello!', 'Bye!'] })
 * const pipe = new Pipeline({ provider })
 * await pipe.execute('s1', 'user', 'Hi')
 * provider.requests[0]?.messages // [{ role: 'user', content: 'Hi' }]
 * ```
 */
export class MockProvider implements Provider {
  readonly name: string
  readonly requests: ProviderRequest[] = []
  readonly #reply: MockReply | undefined
  readonly #latencyMs: number
  readonly #model: string
  #turn = 0

  constructor(options: MockProviderOptions = {}) {
    assertOptionsObject(options, 'options')
    assertKnownKeys(options, MOCK_PROVIDER_KEYS, '')
    const { reply, latencyMs = 0, name = 'mock', model = 'mock-model' } = options
    if (reply !== undefined && typeof reply !== 'string' && typeof reply !== 'function') {
      if (!Array.isArray(reply) || reply.length === 0 || reply.some((r) => typeof r !== 'string' && (r === null || typeof r !== 'object'))) {
        throw new TypeError(
          `Expected \`reply\` to be a string, a non-empty array of strings or answers, or a function, got \`${show(reply)}\`.`,
        )
      }
    }
    assertDuration(latencyMs, 'latencyMs', 0)
    assertNonEmptyString(name, 'name')
    assertNonEmptyString(model, 'model')
    this.#reply = Array.isArray(reply) ? [...reply] : reply
    this.#latencyMs = latencyMs
    this.name = name
    this.#model = model
  }

  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    const { response, failAfterDeltas } = await this.#answer(request)
    if (failAfterDeltas !== undefined) throw this.#failure()
    return response
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderChunk> {
    const { response, failAfterDeltas } = await this.#answer(request)
    const words = response.message.content === '' ? [] : response.message.content.split(/(?<=\s)/)
    for (const [i, word] of words.entries()) {
      if (i === failAfterDeltas) throw this.#failure()
      throwIfAborted(request.signal)
      yield { type: 'delta', text: word }
      // Give consumers (and aborts) a chance to run between deltas.
      await new Promise((resolve) => setImmediate(resolve))
    }
    if (failAfterDeltas !== undefined) throw this.#failure()
    throwIfAborted(request.signal)
    yield { type: 'done', response }
  }

  async #answer(request: ProviderRequest): Promise<{ response: ProviderResponse; failAfterDeltas: number | undefined }> {
    this.requests.push({ ...request, messages: copyMessages(request.messages) })
    await this.#wait(request.signal)
    const answer = await this.#replyFor(request.messages)
    throwIfAborted(request.signal)
    const { content = '', toolCalls, reasoning, failAfterDeltas } = typeof answer === 'string' ? { content: answer } : answer
    const message: Message = { role: 'assistant', content }
    if (toolCalls !== undefined && toolCalls.length > 0) message.toolCalls = toolCalls.map((call) => ({ ...call }))
    if (reasoning !== undefined) message.reasoning = { ...reasoning }
    const response: ProviderResponse = {
      message,
      usage: { inputTokens: roughTokens(request.messages), outputTokens: roughCount(content) },
      finishReason: message.toolCalls === undefined ? 'stop' : 'tool_calls',
      model: request.model ?? this.#model,
    }
    return { response, failAfterDeltas }
  }

  #failure(): ProviderError {
    return new ProviderError(this.name, 'scripted failure')
  }

  async #replyFor(messages: Message[]): Promise<string | MockAnswer> {
    const reply = this.#reply
    const turn = this.#turn++
    if (reply === undefined) return `Echo: ${messages.at(-1)?.content ?? ''}`
    if (typeof reply === 'string') return reply
    if (typeof reply === 'function') return reply(messages)
    return reply[Math.min(turn, reply.length - 1)] as string | MockAnswer
  }

  #wait(signal: AbortSignal | undefined): Promise<void> {
    throwIfAborted(signal)
    if (this.#latencyMs === 0) return Promise.resolve()
    return new Promise((resolve, reject) => {
      const onAbort = () => {
        clearTimeout(timer)
        reject(abortError(signal))
      }
      const timer = setTimeout(() => {
        signal?.removeEventListener('abort', onAbort)
        resolve()
      }, this.#latencyMs)
      signal?.addEventListener('abort', onAbort, { once: true })
    })
  }
}

function throwIfAborted(signal: AbortSignal | undefined): void {
  if (signal?.aborted) throw abortError(signal)
}

function abortError(signal: AbortSignal | undefined): AbortError {
  return new AbortError('Provider `mock` request aborted', { cause: signal?.reason })
}

function roughCount(text: string): number {
  return text.length === 0 ? 0 : Math.ceil(text.length / 4)
}

function roughTokens(messages: Message[]): number {
  let total = 3
  for (const message of messages) total += 4 + roughCount(message.content)
  return total
}
