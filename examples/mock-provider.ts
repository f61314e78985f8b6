// MockProvider: a provider without a network, for tests and demos. It answers from a
// script, records every request it got, and streams word by word.
// Run: npx tsx examples/mock-provider.ts
import { Pipeline } from 'promptline'
import { MockProvider } from 'promptline/testing'

const provider = new MockProvider({
  reply: ['Hello, Alice!', 'Your name is Alice.'], // used in order, the last one repeats
  latencyMs: 10,                                   // optional: an abort during it rejects at once
})
const pipe = new Pipeline({ provider })
await pipe.execute('s1', 'user', "Hi, I'm Alice")
await pipe.execute('s1', 'user', 'What is my name?')

console.log(JSON.stringify(provider.requests[1]?.messages.map((m) => m.content)))
// ["Hi, I'm Alice","Hello, Alice!","What is my name?"]

// A scripted tool call, to test a tool flow without a model.
const tools = new MockProvider({ reply: [{ content: '', toolCalls: [{ id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' }] }] })
const { response } = await new Pipeline({ provider: tools }).execute('s2', 'user', 'Weather in Paris?')
console.log(response.toolCalls?.map((call) => `${call.name}(${call.arguments})`).join(', '))
// weather({"city":"Paris"})
