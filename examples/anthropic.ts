// A streamed two-turn conversation with Claude, with prompt caching: the second turn
// reads the first from Anthropic's cache, and usage says how many tokens that was.
// Run: ANTHROPIC_API_KEY=sk-ant-… npx tsx examples/anthropic.ts
// (ANTHROPIC_MODEL picks the model; ANTHROPIC_BASE_URL a gateway.)
import { Pipeline, MemoryStore } from 'promptline'
import { AnthropicProvider } from 'promptline/anthropic'

if (!process.env.ANTHROPIC_API_KEY) {
  console.error('Set ANTHROPIC_API_KEY.')
  process.exit(1)
}

const provider = new AnthropicProvider({
  model: process.env.ANTHROPIC_MODEL || 'claude-haiku-4-5',
  maxTokens: 1024,
  cacheControl: 'auto', // breakpoints on the system prompt and the last message
})
const pipe = new Pipeline({ provider, store: new MemoryStore(), systemPrompt: 'You are a helpful assistant. Answer in one short sentence.' })

for (const question of ["Hi, I'm Alice.", 'What is my name?']) {
  console.log(`> ${question}`)
  for await (const chunk of pipe.stream('alice', 'user', question)) {
    if (chunk.type === 'delta') process.stdout.write(chunk.text)
    else {
      const { model, usage, costUsd } = chunk.result
      const cache = `${usage?.cachedInputTokens ?? 0} read from cache, ${usage?.cacheWriteInputTokens ?? 0} written`
      console.log(`\n[${model}: ${usage?.inputTokens} in (${cache}) / ${usage?.outputTokens} out, $${costUsd?.toFixed(6)}]`)
    }
  }
}
// > Hi, I'm Alice.
// Hello, Alice!
// [claude-haiku-4-5: 1220 in (0 read from cache, 1200 written) / 6 out, $0.001550]
// > What is my name?
// Your name is Alice.
// [claude-haiku-4-5: 1250 in (1200 read from cache, 40 written) / 7 out, $0.000215]

await pipe.shutdown()
