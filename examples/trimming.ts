// Trimming policies: a context window and a token limit shorten what the provider sees,
// never what is stored.
// Run: npx tsx examples/trimming.ts
import { Pipeline, MemoryStore, ContextOverflowError, getTokenCounter, type Message } from 'promptline'
import { MockProvider } from 'promptline/testing'

const show = (messages: Message[]) => messages.map((m) => `${m.role}:${m.content}`).join(' | ')

// 1. The window: the newest 4 messages besides the pinned system prompt.
const store = new MemoryStore()
const pipe = new Pipeline({
  provider: new MockProvider({ reply: 'ok' }),
  store,
  systemPrompt: 'Be terse.',
  contextWindow: { maxMessages: 4 },
})
pipe.on('context:trimmed', (e) => console.log(`context:trimmed kept ${e.kept}, dropped ${e.dropped}`))
for (const text of ['one', 'two', 'three']) await pipe.execute('s', 'user', text)
const windowed = await pipe.execute('s', 'user', 'four')
console.log(show(windowed.messages)) // system:Be terse. | assistant:ok | user:three | assistant:ok | user:four
console.log(JSON.stringify(windowed.trimmed)) // {"context-window":{"kept":5,"dropped":1}}
console.log(`stored: ${await store.length('s')} messages`) // stored: 8 messages (trimming never touches the store)

// 2. The token limit, counted with gpt-tokenizer for gpt-4o-mini: 4 tokens a message + 3 priming.
const counter = await getTokenCounter('gpt-4o-mini')
console.log(`"Hello there" as a user message: ${counter.count({ role: 'user', content: 'Hello there' })} tokens; priming: ${counter.primingTokens}`)
// "Hello there" as a user message: 6 tokens; priming: 3
const tight = new Pipeline({
  provider: new MockProvider({ reply: 'ok' }),
  store,
  systemPrompt: 'Be terse.',
  tokenLimit: { maxTokens: 40, model: 'gpt-4o-mini' },
})
tight.on('tokens:truncated', (e) => console.log(`tokens:truncated kept ${e.kept}, dropped ${e.dropped}, ${e.tokens} of ${e.maxTokens} tokens`))
const budgeted = await tight.execute('s', 'user', 'five')
console.log(show(budgeted.messages))
// tokens:truncated kept 7, dropped 3, 40 of 40 tokens
// system:Be terse. | assistant:ok | user:three | assistant:ok | user:four | assistant:ok | user:five

// 3. A tool group (an assistant message with toolCalls and the tool messages answering it)
//    is kept or dropped whole: the view never starts with an orphan tool message.
await store.save('tools', [
  { role: 'user', content: 'Weather in Paris and Rome?' },
  {
    role: 'assistant',
    content: '',
    toolCalls: [
      { id: 'c1', name: 'weather', arguments: '{"city":"Paris"}' },
      { id: 'c2', name: 'weather', arguments: '{"city":"Rome"}' },
    ],
  },
  { role: 'tool', toolCallId: 'c1', content: '18°C' },
  { role: 'tool', toolCallId: 'c2', content: '24°C' },
  { role: 'assistant', content: 'Paris 18°C, Rome 24°C.' },
])
const grouped = new Pipeline({ provider: new MockProvider({ reply: 'ok' }), store, contextWindow: { maxMessages: 3 } })
const view = await grouped.execute('tools', 'user', 'Thanks!')
console.log(show(view.messages)) // assistant:Paris 18°C, Rome 24°C. | user:Thanks! (the group did not fit in 3, so all of it went)

// 4. When the system prompt plus the newest message alone exceed the budget, the turn fails.
try {
  await tight.execute('s', 'user', 'a very long question '.repeat(20))
} catch (error) {
  if (error instanceof ContextOverflowError) {
    console.log(`ContextOverflowError: needs ${error.requiredTokens} tokens, budget ${error.maxTokens}`) // needs 95 tokens, budget 40
  }
}

await Promise.all([pipe.shutdown(), tight.shutdown(), grouped.shutdown()])
