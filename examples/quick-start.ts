// Quick start: a pipeline remembers what was said in a session between turns.
// Run: npx tsx examples/quick-start.ts
import { Pipeline, MemoryStore, type Message } from 'promptline'
import { MockProvider } from 'promptline/testing'

// A stand-in for a real model: like one, it only knows what the pipeline sends it.
function reply(messages: Message[]): string {
  const name = messages.map((m) => /I'm (\w+)/.exec(m.content)?.[1]).findLast((n) => n !== undefined)
  if (messages.at(-1)?.content.includes('my name') === true) {
    return name === undefined ? "I don't know your name." : `Your name is ${name}.`
  }
  return name === undefined ? 'Hello!' : `Hello, ${name}!`
}

const store = new MemoryStore()
const pipe = new Pipeline({
  provider: new MockProvider({ reply }),
  store,
  systemPrompt: 'You are a helpful assistant.',
})

const first = await pipe.execute('alice', 'user', "Hi, I'm Alice")
console.log(first.response.content) // Hello, Alice!

const second = await pipe.execute('alice', 'user', 'What is my name?')
console.log(second.response.content) // Your name is Alice.
console.log(second.messages.map((m) => `${m.role}: ${m.content}`).join(' | '))
// system: You are a helpful assistant. | user: Hi, I'm Alice | assistant: Hello, Alice! | user: What is my name?

// Another session id is another conversation: Bob never sees Alice's messages.
const bob = await pipe.execute('bob', 'user', 'What is my name?')
console.log(bob.response.content) // I don't know your name.

console.log(`alice has ${await store.length('alice')} stored messages`) // 4: two turns, user + assistant each
await pipe.shutdown()
