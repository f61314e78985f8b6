// Streaming: the reply arrives as deltas; the turn is saved once the stream completed.
// Run: npx tsx examples/streaming.ts
import { Pipeline, MemoryStore, AbortError } from 'promptline'
import { MockProvider } from 'promptline/testing'

const store = new MemoryStore()
const provider = new MockProvider({ reply: 'Streaming sends the reply word by word.' })
const pipe = new Pipeline({ provider, store })

// 1. Print the deltas as they come; the last chunk carries the same result as `execute`.
for await (const chunk of pipe.stream('s', 'user', 'How does streaming work?')) {
  if (chunk.type === 'delta') process.stdout.write(chunk.text)
  else console.log(`\n[done] saved: ${chunk.result.saved}, stored: ${chunk.result.storedLength}`)
}
// Streaming sends the reply word by word.
// [done] saved: true, stored: 2

// 2. Leaving the loop early cancels the provider request; nothing of the turn is stored.
for await (const chunk of pipe.stream('s', 'user', 'Again?')) {
  if (chunk.type === 'delta') break
}
console.log(`after break: ${await store.length('s')} stored`) // after break: 2 stored

// 3. Aborting through a signal rejects the loop with AbortError. With saveOnAbort: 'partial'
//    the text received so far is stored, marked with metadata.aborted.
const partial = new Pipeline({ provider, store, saveOnAbort: 'partial' })
const controller = new AbortController()
let received = ''
try {
  for await (const chunk of partial.stream('s', 'user', 'And once more?', { signal: controller.signal })) {
    if (chunk.type === 'delta') received += chunk.text
    if (received.endsWith('the ')) controller.abort() // say, the user pressed Stop
  }
} catch (error) {
  if (error instanceof AbortError) console.log(`${error.name}: ${error.message}`) // AbortError: Turn of session `s` was aborted
}
const last = (await store.load('s', { last: 1 }))[0]
console.log(`stored partial reply: "${last?.content}", metadata: ${JSON.stringify(last?.metadata)}`)
// stored partial reply: "Streaming sends the ", metadata: {"aborted":true}

await pipe.shutdown()
await partial.shutdown()
