/**
 * The part of the AI SDK's language model specification (`@ai-sdk/provider`:
 * `LanguageModelV2` of AI SDK 5, `LanguageModelV3` of AI SDK 6, `LanguageModelV4` of
 * AI SDK 7) that `AISDKProvider` uses, written out structurally. Declared here rather
 * than imported so that promptline needs no AI SDK package at all, neither to load nor
 * to type-check: the model object a user passes is the only AI SDK code that runs.
 * test/types/ai-sdk-models.test-d.ts checks that the real models fit.
 */

/** The spec versions `AISDKProvider` speaks. v3 and v4 share the shapes used here. */
export const SPEC_VERSIONS = ['v2', 'v3', 'v4'] as const
export type SpecVersion = (typeof SPEC_VERSIONS)[number]

/** Provider-specific data, keyed by provider (`{ anthropic: { signature } }`). */
export type ProviderMetadata = Record<string, Record<string, unknown>>

export type SpecTextPart = { type: 'text'; text: string; providerOptions?: ProviderMetadata }
export type SpecReasoningPart = { type: 'reasoning'; text: string; providerOptions?: ProviderMetadata }
export type SpecToolCallPart = { type: 'tool-call'; toolCallId: string; toolName: string; input: unknown; providerOptions?: ProviderMetadata }
export type SpecToolResultPart = {
  type: 'tool-result'
  toolCallId: string
  toolName: string
  output: { type: 'text' | 'error-text'; value: string }
  providerOptions?: ProviderMetadata
}

export type SpecMessage =
  | { role: 'system'; content: string }
  | { role: 'user'; content: SpecTextPart[] }
  | { role: 'assistant'; content: Array<SpecTextPart | SpecReasoningPart | SpecToolCallPart> }
  | { role: 'tool'; content: SpecToolResultPart[] }

export interface SpecFunctionTool {
  type: 'function'
  name: string
  description?: string
  inputSchema: Record<string, unknown>
}

export interface SpecCallOptions {
  prompt: SpecMessage[]
  maxOutputTokens?: number
  temperature?: number
  tools?: SpecFunctionTool[]
  abortSignal?: AbortSignal
  providerOptions?: ProviderMetadata
}

/**
 * What a model's `doGenerate` resolves with, loosely: values are checked at run time,
 * since usage and finish reasons differ between spec versions.
 */
export interface SpecGenerateResult {
  content: unknown
  finishReason: unknown
  usage: unknown
  response?: { modelId?: unknown } | undefined
}

export interface SpecStreamResult {
  stream: ReadableStream<unknown>
}

/**
 * An AI SDK language model of spec version v2, v3 or v4: what `openai('gpt-4o')`,
 * `anthropic('claude-sonnet-4-5')`, `google('gemini-2.5-flash')`, `mistral(…)` or an
 * Ollama provider return in AI SDK 5, 6 and 7. Only the members promptline calls are
 * listed; the methods take `never` so that every version's models fit.
 */
export interface AISDKLanguageModel {
  readonly specificationVersion: SpecVersion
  /** The AI SDK provider's name, e.g. `'openai.chat'`, `'anthropic.messages'`. */
  readonly provider: string
  readonly modelId: string
  /** The whole reply at once; `AISDKProvider.complete` calls it and checks what it resolves with. */
  doGenerate(options: never): PromiseLike<unknown>
  /** The reply as a `ReadableStream` of parts; `AISDKProvider.stream` calls it and checks each part. */
  doStream(options: never): PromiseLike<unknown>
}
