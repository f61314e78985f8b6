// Claude first, an OpenAI-compatible server when Claude is overloaded or down: the
// turn is answered either way, and the result says who answered.
// Run: ANTHROPIC_API_KEY=sk-ant-… OPENAI_API_KEY=sk-… \
//        npx tsx examples/fallback.ts
import { Pipeline, FallbackProvider } from 'promptline'
import { OpenAIProvider } from 'promptline/openai'
import { AnthropicProvider } from 'promptline/anthropic'

const provider = new FallbackProvider(
  [
    new AnthropicProvider({ model: process.env.ANTHROPIC_MODEL || 'claude-haiku-4-5', maxTokens: 512, maxRetries: 1 }),
    new OpenAIProvider({ model: process.env.OPENAI_MODEL || 'gpt-4o-mini' }),
  ],
  // Called on every hand-over: log it, count it, alert on it.
  { onFallback: ({ from, to, error }) => console.log(`${from} failed (${error instanceof Error ? error.message : error}); trying ${to}`) },
)
const pipe = new Pipeline({ provider })

const result = await pipe.execute('bob', 'user', 'Say hello in five words.')
console.log(`${result.provider} (${result.model}) answered: ${result.response.content}`)
// When Claude answers:
// anthropic (claude-haiku-4-5) answered: Hello there, how are you?
// When Claude is overloaded (HTTP 529, also after the SDK's retry):
// anthropic failed (Provider `anthropic` failed (HTTP 529): overloaded_error: Overloaded); trying openai
// openai (gpt-4o-mini-2024-07-18) answered: Hello! Nice to meet you.

await pipe.shutdown()
