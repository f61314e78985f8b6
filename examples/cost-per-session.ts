// What each session cost: total `costUsd` per session from `provider:response` events,
// with a price table, over a few conversations with an OpenAI-compatible server.
// Run: OPENAI_BASE_URL=http://localhost:11434/v1 npx tsx examples/cost-per-session.ts
// (OpenAI: OPENAI_API_KEY=sk-… and no OPENAI_BASE_URL.)
import { Pipeline } from 'promptline'
import { OpenAIProvider } from 'promptline/openai'
import type { EventPayload } from 'promptline'

if (!process.env.OPENAI_BASE_URL && !process.env.OPENAI_API_KEY) {
  console.error('Set OPENAI_BASE_URL (e.g. http://localhost:11434/v1 for Ollama) or OPENAI_API_KEY.')
  process.exit(1)
}

const model = process.env.OPENAI_MODEL || 'gpt-4o-mini'
const provider = new OpenAIProvider({
  model,
  baseURL: process.env.OPENAI_BASE_URL || undefined,
  apiKey: process.env.OPENAI_API_KEY || undefined,
})

// USD per million tokens, merged over DEFAULT_PRICING (which has OpenAI's list prices, gpt-4o-mini
// among them). A self-hosted model has no list price: give it what it costs you to run, or
// leave it out and its turns report costUsd: undefined.
const pricing = { 'llama3.2': { input: 0.02, output: 0.04 } }
const pipe = new Pipeline({ provider, pricing })

interface Total { turns: number; inputTokens: number; outputTokens: number; usd: number; unpriced: number; models: Set<string> }
const totals = new Map<string, Total>()
function track({ sessionId, model, usage, costUsd }: EventPayload<'provider:response'>): void {
  let total = totals.get(sessionId)
  if (total === undefined) {
    total = { turns: 0, inputTokens: 0, outputTokens: 0, usd: 0, unpriced: 0, models: new Set() }
    totals.set(sessionId, total)
  }
  total.turns++
  total.inputTokens += usage?.inputTokens ?? 0
  total.outputTokens += usage?.outputTokens ?? 0
  if (costUsd === undefined) total.unpriced++ // no price for this model: never a guess
  else total.usd += costUsd
  if (model !== undefined) total.models.add(model) // as the server reports it, e.g. gpt-4o-mini-2024-07-18
}
pipe.on('provider:response', track)

const conversations: Record<string, string[]> = {
  alice: ['Name three primary colours.', 'Which of them is warmest?'],
  bob: ['What is 12 times 12?'],
  carol: ['Suggest a name for a cat.', 'Another one?', 'And one for a dog?'],
}
// Sessions run concurrently; the events say which session each turn belongs to.
await Promise.all(
  Object.entries(conversations).map(async ([session, questions]) => {
    for (const question of questions) await pipe.execute(session, 'user', question)
  }),
)

// A model without a price: its turns are counted, not priced.
const other = new Pipeline({ provider, model: 'my-fine-tune' })
other.on('provider:response', track)
await other.execute('dave', 'user', 'Hi')

let all = 0
let unpricedTurns = 0
for (const session of [...totals.keys()].sort()) {
  const { turns, inputTokens, outputTokens, usd, unpriced, models } = totals.get(session) as Total
  all += usd
  unpricedTurns += unpriced
  const price = unpriced === turns ? 'no price' : `$${usd.toFixed(6)}${unpriced > 0 ? ` + ${unpriced} unpriced` : ''}`
  console.log(`${session}: ${turns} turn(s), ${inputTokens} in + ${outputTokens} out tokens, ${price} (${[...models].join(', ')})`)
}
console.log(`all sessions: $${all.toFixed(6)} + ${unpricedTurns} unpriced turn(s)`)
// With OPENAI_MODEL=gpt-4o-mini-2024-07-18 and every turn at 1000 in / 500 out tokens ($0.00045 a turn):
// alice: 2 turn(s), 2000 in + 1000 out tokens, $0.000900 (gpt-4o-mini-2024-07-18)
// bob: 1 turn(s), 1000 in + 500 out tokens, $0.000450 (gpt-4o-mini-2024-07-18)
// carol: 3 turn(s), 3000 in + 1500 out tokens, $0.001350 (gpt-4o-mini-2024-07-18)
// dave: 1 turn(s), 1000 in + 500 out tokens, no price (my-fine-tune)
// all sessions: $0.002700 + 1 unpriced turn(s)

await pipe.shutdown()
await other.shutdown()
