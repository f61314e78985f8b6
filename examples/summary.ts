// A rolling summary: what falls out of the window is summarised, incrementally, by a
// (cheaper) summariser, kept in the store beside the session and pinned after the
// system prompt, so a long chat remembers the user's name and the task.
// Run: npx tsx examples/summary.ts
import { Pipeline, MemoryStore, type Message } from 'promptline'
import { MockProvider } from 'promptline/testing'

// A stand-in summariser: keeps the facts ("My name is …", "I need …") it is shown.
const summariser = new MockProvider({
  model: 'gpt-4o-mini',
  reply: (messages: Message[]) => {
    const body = messages.at(-1)?.content ?? ''
    const facts = body.match(/(My name is \w+|I need [^.\n]+)/g) ?? []
    return [...new Set(facts)].join('. ')
  },
})

const store = new MemoryStore()
const pipe = new Pipeline({
  provider: new MockProvider({ reply: 'Noted.' }),
  store,
  systemPrompt: 'You are a travel agent.',
  contextWindow: { maxMessages: 4 },
  summary: { provider: summariser, after: 6 },
})
pipe.on('summary:updated', (e) => console.log(`summary:updated ${e.previousPosition} → ${e.position} (${e.summarised} messages, ${e.requestChars} characters sent)`))

const said = ['My name is Ada.', 'I need a hotel in Rome.', 'Near the station.', 'For three nights.', 'With breakfast.', 'Any pool?', 'And parking?']
for (const text of said) await pipe.execute('ada', 'user', text)
const { messages } = await pipe.execute('ada', 'user', 'What do you know about me?')
console.log(messages.map((m) => `${m.role}: ${m.content}`).join('\n'))
// system: You are a travel agent.
// system: Summary of the earlier conversation:
// My name is Ada. I need a hotel in Rome
// assistant: Noted. | user: And parking? | assistant: Noted. | user: What do you know about me?

const summary = await store.loadSummary('ada')
console.log(`stored summary covers ${summary?.position} of ${await store.length('ada')} messages`) // covers 6 of 16: the history itself is untouched
await pipe.shutdown() // waits for a summary still being written
