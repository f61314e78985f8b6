// Any Vercel AI SDK model as a promptline provider. With a real one:
//   import { openai } from '@ai-sdk/openai'
//   const provider = new AISDKProvider(openai('gpt-4o-mini'))
// So that it runs without a key or a network, the AI SDK's own mock model (from `ai/test`,
// AI SDK 6) stands in for it here, answering as a real model would.
// Run: npx tsx examples/ai-sdk.ts
import { MockLanguageModelV3, simulateReadableStream } from 'ai/test'
import { MemoryStore, Pipeline } from 'promptline'
import { AISDKProvider } from 'promptline/ai-sdk'

const usage = (input: number, output: number) => ({
  inputTokens: { total: input, noCache: input, cacheRead: undefined, cacheWrite: undefined },
  outputTokens: { total: output, text: output, reasoning: undefined },
})
const model = new MockLanguageModelV3({
  provider: 'openai.chat',
  modelId: 'gpt-4o-mini',
  // Turn 1, streamed: text deltas, then the finish part with usage.
  doStream: {
    stream: simulateReadableStream({
      chunks: [
        { type: 'text-start', id: 't' },
        { type: 'text-delta', id: 't', delta: 'Hello, ' },
        { type: 'text-delta', id: 't', delta: 'Alice!' },
        { type: 'text-end', id: 't' },
        { type: 'finish', finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(25, 4) },
      ],
    }),
  },
  // Turn 2 calls a tool; turn 3 answers with its result.
  doGenerate: [
    {
      content: [{ type: 'tool-call', toolCallId: 'call_1', toolName: 'weather', input: '{"city":"Paris"}' }],
      finishReason: { unified: 'tool-calls', raw: 'tool_calls' },
      usage: usage(60, 15),
      warnings: [],
    },
    { content: [{ type: 'text', text: 'Sunny in Paris, 24 °C.' }], finishReason: { unified: 'stop', raw: 'stop' }, usage: usage(90, 9), warnings: [] },
  ],
})

const provider = new AISDKProvider(model)
const pipe = new Pipeline({
  provider,
  store: new MemoryStore(),
  systemPrompt: 'Be brief.',
  tools: [{ name: 'weather', parameters: { type: 'object', properties: { city: { type: 'string' } } } }],
})

for await (const chunk of pipe.stream('alice', 'user', "Hi, I'm Alice.")) {
  if (chunk.type === 'delta') process.stdout.write(chunk.text)
  else console.log(`\n[${chunk.result.provider} ${chunk.result.model}: ${chunk.result.usage?.inputTokens} in / ${chunk.result.usage?.outputTokens} out]`)
}

const call = await pipe.execute('alice', 'user', 'Weather in Paris?')
const [toolCall] = call.response.toolCalls ?? []
console.log(`${call.finishReason}: ${toolCall?.name}(${toolCall?.arguments})`)

const answer = await pipe.execute('alice', 'tool', '{"sky":"clear","celsius":24}', { toolCallId: toolCall?.id })
console.log(answer.response.content)
// The model saw the whole conversation in the AI SDK's prompt format:
console.log(model.doGenerateCalls[1]?.prompt.map((m) => m.role).join(' → '))
// Hello, Alice!
// [openai.chat gpt-4o-mini: 25 in / 4 out]
// tool_calls: weather({"city":"Paris"})
// Sunny in Paris, 24 °C.
// system → user → assistant → user → assistant → tool

await pipe.shutdown()
