/**
 * `promptline/anthropic`: Claude through the Messages API. Loads `@anthropic-ai/sdk` (an optional peer dependency).
 *
 * @module promptline/anthropic
 */
export {
  AnthropicProvider,
  type AnthropicProviderOptions,
  type AnthropicThinking,
  type AnthropicClientLike,
} from './providers/anthropic.js'
