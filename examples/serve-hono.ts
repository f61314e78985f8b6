// Serving a pipeline from a Hono app: the handler takes the request Hono received.
// Run: npx tsx examples/serve-hono.ts
import { Hono } from 'hono'
import { serve } from '@hono/node-server'
import type { AddressInfo } from 'node:net'
import { Pipeline } from 'promptline'
import { bearerAuth, createHandler } from 'promptline/http'
import { MockProvider } from 'promptline/testing'

const pipeline = new Pipeline({ provider: new MockProvider({ reply: 'Hello from Hono!' }) })
const chat = createHandler(pipeline, { authenticate: bearerAuth({ 'alice-secret-token': 'alice' }), basePath: '/api' })

const app = new Hono()
app.get('/', (c) => c.text('ok'))
app.all('/api/*', (c) => chat(c.req.raw))

// On Bun, Deno or Workers: `export default app`. On Node, @hono/node-server:
const server = serve({ fetch: app.fetch, port: 0, hostname: '127.0.0.1' })
await new Promise((resolve) => server.once('listening', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`

const response = await fetch(`${base}/sessions/s1/messages`, {
  method: 'POST',
  headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' },
  body: JSON.stringify({ content: 'Hi' }),
})
console.log(response.status, ((await response.json()) as { message: { content: string } }).message.content)
const list = await fetch(`${base}/sessions`, { headers: { authorization: 'Bearer alice-secret-token' } })
console.log(JSON.stringify(await list.json()))

server.close()
await pipeline.shutdown()
