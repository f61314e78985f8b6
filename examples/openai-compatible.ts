// A streamed two-turn conversation with any OpenAI-compatible server: Ollama, vLLM,
// llama.cpp, LM Studio, or OpenAI itself.
// Run: OPENAI_BASE_URL=http://localhost:11434/v1 OPENAI_MODEL=llama3.2 \
//        npx tsx examples/openai-compatible.ts
// (OpenAI: OPENAI_API_KEY=sk-… OPENAI_MODEL=gpt-4o-mini, no OPENAI_BASE_URL.)
import { Pipeline, MemoryStore } from 'promptline'
import { OpenAIProvider } from 'promptline/openai'

if (!process.env.OPENAI_BASE_URL && !process.env.OPENAI_API_KEY) {
  console.error('Set OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama) or OPENAI_API_KEY.')
  process.exit(1)
}

const provider = new OpenAIProvider({
  model: process.env.OPENAI_MODEL || 'llama3.2',
  baseURL: process.env.OPENAI_BASE_URL || undefined, // the server's /v1 root; unset: api.openai.com
  apiKey: process.env.OPENAI_API_KEY || undefined, // local servers need none
})
const store = new MemoryStore()
const pipe = new Pipeline({ provider, store, systemPrompt: 'You are a helpful assistant. Answer in one short sentence.' })

for (const question of ["Hi, I'm Alice.", 'What is my name?']) {
  console.log(`> ${question}`)
  for await (const chunk of pipe.stream('alice', 'user', question)) {
    if (chunk.type === 'delta') process.stdout.write(chunk.text)
    else {
      const { model, usage, saved, storedLength } = chunk.result
      const counted = usage?.estimated ? ' (estimated)' : ''
      console.log(`\n[${model}: ${usage?.inputTokens} in / ${usage?.outputTokens} out${counted}, saved: ${saved}, stored: ${storedLength}]`)
    }
  }
}
// > Hi, I'm Alice.
// Hello Alice! How can I help you today?
// [llama3.2: 38 in / 11 out, saved: true, stored: 2]
// > What is my name?
// Your name is Alice.
// [llama3.2: 62 in / 6 out, saved: true, stored: 4]

await pipe.shutdown()
