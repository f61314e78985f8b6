// Writing middleware: a redact step inserted with `use`, and a fully custom chain with `Pipeline.from`.
// Run: npx tsx examples/custom-middleware.ts
import { Pipeline, MemoryStore, named, type Middleware, type TurnEvent } from 'promptline'
import { stateLoad, contextWindow, providerCall, stateSave } from 'promptline/middleware'
import { MockProvider } from 'promptline/testing'

// Custom events: declare them once, then `ctx.emit` and `pipe.on` are typed for them too.
declare module 'promptline' {
  interface PipelineEvents {
    'redact:applied': TurnEvent & { count: number }
  }
}

const EMAIL = /[\w.+-]+@[\w-]+(?:\.[\w-]+)+/g

// Replaces e-mail addresses in what the provider sees. The view's messages are
// replaced, not mutated, so the stored history keeps the original text.
const redact: Middleware = async function redact(ctx, next) {
  let count = 0
  ctx.messages = ctx.messages.map((message) => {
    const content = message.content.replace(EMAIL, () => (count++, '[email]'))
    return content === message.content ? message : { ...message, content }
  })
  if (count > 0) ctx.emit('redact:applied', { count })
  await next()
}

// Runs around everything after it. `named` gives an arrow function the name `use` and events refer to.
const timing = named('timing', async (ctx, next) => {
  const started = performance.now()
  await next()
  console.log(`timing: the provider call and the save took ${(performance.now() - started).toFixed(1)} ms`)
})

const provider = new MockProvider()
const store = new MemoryStore()
const pipe = new Pipeline({ provider, store })
pipe.use(redact) // default: just before 'provider-call'
pipe.use(timing, { after: 'redact' })
console.log(pipe.middlewareNames.join(' → '))
// state-load → context-window → token-truncation → redact → timing → provider-call → state-save

pipe.on('redact:applied', (e) => console.log(`redacted ${e.count} address(es) in session ${e.sessionId}`))
const result = await pipe.execute('carol', 'user', 'Mail me at carol@example.com')
console.log(`provider saw: ${provider.requests[0]?.messages.at(-1)?.content}`) // Mail me at [email]
console.log(`stored: ${(await store.load('carol'))[0]?.content}`) // Mail me at carol@example.com
console.log(`reply: ${result.response.content}`) // Echo: Mail me at [email]

// A custom chain: exactly these middleware, in this order.
const chainStore = new MemoryStore()
const chain = Pipeline.from(
  [stateLoad(chainStore, { last: 10 }), contextWindow({ maxMessages: 10 }), redact, providerCall(provider), stateSave(chainStore)],
  { systemPrompt: 'Be brief.' },
)
console.log(chain.middlewareNames.join(' → ')) // state-load → context-window → redact → provider-call → state-save
const reply = await chain.execute('dave', 'user', 'I am dave@example.org')
console.log(`chain reply: ${reply.response.content}, saved: ${reply.saved}`) // chain reply: Echo: I am [email], saved: true

await pipe.shutdown()
await chain.shutdown()
