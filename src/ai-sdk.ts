/**
 * `promptline/ai-sdk`: any Vercel AI SDK language model (spec v2, v3, v4). Loads no AI SDK package: the model you pass is the AI SDK code that runs.
 *
 * @module promptline/ai-sdk
 */
export { AISDKProvider, type AISDKProviderOptions, type AISDKLanguageModel } from './providers/ai-sdk.js'
export type { AISDKReasoningItem } from './providers/ai-sdk-prompt.js'
export type { ProviderMetadata } from './providers/ai-sdk-spec.js'
