/**
 * Compiled by `npm run typecheck`, never run: the AI SDK's own model types (from
 * `@ai-sdk/provider`, and the mocks of AI SDK 5 and 6) fit `AISDKProvider`'s structural
 * `AISDKLanguageModel`, so users pass `openai('gpt-4o')` without a cast.
 */
import type { LanguageModelV2, LanguageModelV3 } from '@ai-sdk/provider'
import { MockLanguageModelV3 } from 'ai/test'
import { MockLanguageModelV2 } from 'ai-v5/test'
import { AISDKProvider, type AISDKLanguageModel } from '../../src/ai-sdk.js'

declare const v2: LanguageModelV2
declare const v3: LanguageModelV3
export const fromSpecTypes = [new AISDKProvider(v2), new AISDKProvider(v3)]
export const fromMocks = [new AISDKProvider(new MockLanguageModelV2()), new AISDKProvider(new MockLanguageModelV3())]
export const asModel: AISDKLanguageModel[] = [v2, v3]

// @ts-expect-error a model id is not a model: the gateway that resolves it lives in `ai`
export const fromString = new AISDKProvider('openai/gpt-4o')
// @ts-expect-error spec v1 models (AI SDK 4) speak another protocol
export const fromV1 = new AISDKProvider({ specificationVersion: 'v1', provider: 'p', modelId: 'm', doGenerate: async () => ({}), doStream: async () => ({}) })
