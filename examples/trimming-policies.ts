// Trimming policies that keep meaning: a pinned opening, starting on a user message,
// clearing old tool output, cutting an oversized message, your own policy held to the
// same rules, and maintenance in the session's queue.
// Run: npx tsx examples/trimming-policies.ts
import { Pipeline, MemoryStore, ViewInvariantError, type Message } from 'promptline'
import { MockProvider } from 'promptline/testing'

const show = (messages: Message[]) => messages.map((m) => `${m.role}:${m.content.length > 30 ? `${m.content.slice(0, 30)}…` : m.content}`).join(' | ')
const store = new MemoryStore()

// 1. keepFirst: the task stated in the first message stays in view after the window dropped it.
const agent = new Pipeline({
  provider: new MockProvider({ reply: 'ok' }),
  store,
  systemPrompt: 'Be terse.',
  contextWindow: { maxMessages: 2, keepFirst: 1 },
})
for (const text of ['Task: plan a trip to Rome.', 'Budget?', 'Dates?']) await agent.execute('trip', 'user', text)
const pinned = await agent.execute('trip', 'user', 'Hotels?')
console.log(show(pinned.messages)) // system:Be terse. | user:Task: plan a trip to Rome. | assistant:ok | user:Hotels?

// 2. startOn: 'user': the window never hands Anthropic or Gemini a view that opens with the assistant.
const strict = new Pipeline({ provider: new MockProvider({ reply: 'ok' }), store, contextWindow: { maxMessages: 2, startOn: 'user' } })
console.log(show((await strict.execute('trip', 'user', 'Flights?')).messages)) // user:Flights?

// 3. toolResults: bulky old tool output shows as a placeholder; the newest group keeps its results.
const search = (id: string, q: string): Message => ({ role: 'assistant', content: '', toolCalls: [{ id, name: 'search', arguments: JSON.stringify({ q }) }] })
await store.save('research', [
  { role: 'user', content: 'Compare Rome and Paris.' },
  search('s1', 'Rome'),
  { role: 'tool', toolCallId: 's1', content: 'Rome: '.padEnd(5_000, 'lorem ') },
  search('s2', 'Paris'),
  { role: 'tool', toolCallId: 's2', content: 'Paris: '.padEnd(5_000, 'ipsum ') },
])
const researcher = new Pipeline({
  provider: new MockProvider({ reply: 'Rome is warmer.' }),
  store,
  toolResults: { keepLast: 1 },
  tokenLimit: { maxTokens: 3_000, model: 'gpt-4o-mini' },
})
const compared = await researcher.execute('research', 'user', 'Which is warmer?')
console.log(show(compared.messages))
// user:Compare Rome and Paris. | assistant: | tool:[tool result cleared to save c… | assistant: | tool:Paris: ipsum ipsum ipsum ipsum… | user:Which is warmer?
console.log(JSON.stringify(compared.trimmed['tool-results'])) // {"kept":6,"dropped":0,"cleared":1}

// 4. oversized: 'truncate': a 200 kB tool result is cut in the view (head and tail kept), stored whole.
await store.save('logs', [{ role: 'user', content: 'Why did the build fail?' }, search('l1', 'build log')])
const reader = new Pipeline({
  provider: new MockProvider({ reply: 'A missing semicolon.' }),
  store,
  tokenLimit: { maxTokens: 2_000, reserveForResponse: 500, model: 'gpt-4o-mini', oversized: 'truncate' },
})
reader.on('tokens:oversized', (e) => console.log(`tokens:oversized kept ${e.keptTokens} of at most ${e.maxTokens} tokens`))
const log = `BUILD START\n${'compiling module\n'.repeat(12_000)}ERROR: missing semicolon`
const answered = await reader.execute('logs', 'tool', log, { toolCallId: 'l1' })
const cut = answered.messages.at(-1)?.content ?? ''
console.log(`${cut.slice(0, 11)} … ${cut.slice(-24)}; sent ${cut.length} of ${log.length} characters`)
// BUILD START … ERROR: missing semicolon; sent 6261 of 204036 characters
console.log(`stored whole: ${(await store.load('logs')).at(2)?.content.length === log.length}`) // stored whole: true

// 5. Your own policy is checked like the built-in ones: one that drops the newest message fails the turn.
const careless = new Pipeline({ provider: new MockProvider({ reply: 'ok' }), store })
careless.use(async function dropNewest(ctx, next) {
  ctx.messages = ctx.messages.slice(0, -1)
  await next()
})
try {
  await careless.execute('trip', 'user', 'Museums?')
} catch (error) {
  if (error instanceof ViewInvariantError) console.log(`ViewInvariantError from \`${error.middleware}\``) // ViewInvariantError from `dropNewest`
}

// 6. withSession: maintenance in the session's queue, never racing a turn on it.
const turn = agent.execute('trip', 'user', 'Restaurants?')
const count = await agent.withSession('trip', async () => (await store.load('trip')).length)
await turn
console.log(`maintenance ran after the turn queued before it: it saw ${count} messages`) // … it saw 12 messages

await Promise.all([agent.shutdown(), strict.shutdown(), researcher.shutdown(), reader.shutdown(), careless.shutdown()])
