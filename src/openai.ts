/**
 * `promptline/openai`: the OpenAI-compatible provider. Loads `openai` (an optional peer dependency).
 *
 * @module promptline/openai
 */
export { OpenAIProvider, type OpenAIProviderOptions, type MaxTokensParam, type OpenAIClient, type OpenAIRequestBody, type OpenAIRequestOptions } from './providers/openai.js'
