// Costs: every turn reports usage and costUsd; provider:response events let you total them per session.
// Run: npx tsx examples/cost.ts
import { Pipeline, DEFAULT_PRICING, type Provider } from 'promptline'
import { MockProvider } from 'promptline/testing'

// USD per million tokens, merged over DEFAULT_PRICING (which knows gpt-4o-mini, not your fine-tune).
const pricing = { 'ft:gpt-4o-mini:acme': { input: 0.3, output: 1.2 } }

// The mock reports `model` as the answering model, so pricing applies to it like to a real one.
const pipe = new Pipeline({ provider: new MockProvider({ model: 'gpt-4o-mini' }), pricing })

const totals = new Map<string, { turns: number; usd: number }>()
pipe.on('provider:response', ({ sessionId, costUsd }) => {
  const total = totals.get(sessionId) ?? { turns: 0, usd: 0 }
  total.turns++
  total.usd += costUsd ?? 0
  totals.set(sessionId, total)
})

const first = await pipe.execute('alice', 'user', 'Summarise the plot of Hamlet in one line.')
console.log(`${first.model}: ${first.usage?.inputTokens} in + ${first.usage?.outputTokens} out = $${first.costUsd?.toFixed(8)}`)
// gpt-4o-mini: 18 in + 12 out = $0.00000990   (18 × $0.15 + 12 × $0.60 per million)
await pipe.execute('alice', 'user', 'And Macbeth?')
await pipe.execute('bob', 'user', 'Hi')
for (const [session, { turns, usd }] of totals) console.log(`${session}: ${turns} turn(s), $${usd.toFixed(8)}`)
// alice: 2 turn(s), $0.00001905
// bob: 1 turn(s), $0.00000240

// `model` asks the provider for another model; the price follows the model it reports.
const tuned = new Pipeline({ provider: new MockProvider(), pricing, model: 'ft:gpt-4o-mini:acme' })
console.log(`fine-tune: $${(await tuned.execute('s', 'user', 'Hi')).costUsd?.toFixed(8)}`) // fine-tune: $0.00000480

// A model with no price gets costUsd: undefined, never a guess.
const unknown = new Pipeline({ provider: new MockProvider({ model: 'my-local-llama' }) })
console.log(`unknown model: ${(await unknown.execute('s', 'user', 'Hi')).costUsd}`) // unknown model: undefined
console.log(`DEFAULT_PRICING['gpt-4o-mini']: ${JSON.stringify(DEFAULT_PRICING['gpt-4o-mini'])}`) // {"input":0.15,"output":0.6,"cachedInput":0.075}

// A provider that reports no usage: the pipeline counts tokens itself and marks them estimated.
const quiet: Provider = {
  name: 'quiet',
  async complete() {
    return { message: { role: 'assistant', content: 'No usage here.' }, model: 'gpt-4o' }
  },
}
const estimated = await new Pipeline({ provider: quiet }).execute('s', 'user', 'Hi')
console.log(`estimated usage: ${JSON.stringify(estimated.usage)}, $${estimated.costUsd?.toFixed(8)}`)
// estimated usage: {"inputTokens":8,"outputTokens":4,"estimated":true}, $0.00006000

// A model gpt-tokenizer does not know (a Claude here) is counted in gpt-4o's encoding, and the usage says so.
const quietClaude: Provider = {
  name: 'quiet',
  async complete() {
    return { message: { role: 'assistant', content: 'No usage here.' }, model: 'claude-haiku-4-5' }
  },
}
const standIn = await new Pipeline({ provider: quietClaude }).execute('s', 'user', 'Hi')
console.log(`claude, estimated: ${JSON.stringify(standIn.usage)}`)
// claude, estimated: {"inputTokens":8,"outputTokens":4,"estimated":true,"estimatedWith":"gpt-4o"}

// Or count nothing (and load no tokenizer): usage and cost stay undefined.
const uncounted = await new Pipeline({ provider: quietClaude, estimateUsage: false }).execute('s', 'user', 'Hi')
console.log(`not estimated: ${uncounted.usage}, $${uncounted.costUsd}`) // not estimated: undefined, $undefined
