// Serving a pipeline from an Express app, through the node:http adapter.
// Run: npx tsx examples/serve-express.ts
import express from 'express'
import type { AddressInfo } from 'node:net'
import { Pipeline } from 'promptline'
import { bearerAuth, createHandler, toNodeListener } from 'promptline/http'
import { MockProvider } from 'promptline/testing'

const pipeline = new Pipeline({ provider: new MockProvider({ reply: 'Hello from Express!' }) })
const chat = toNodeListener(createHandler(pipeline, { authenticate: bearerAuth({ 'alice-secret-token': 'alice' }), basePath: '/api' }))

const app = express()
// Mounted with app.all, not app.use('/api'): Express would strip /api from req.url.
// No express.json() in front of it: the handler reads (and size-limits) the body itself.
app.all('/api/{*rest}', (req, res) => chat(req, res))
app.get('/health', (_req, res) => {
  res.send('ok')
})

const server = app.listen(0, '127.0.0.1')
await new Promise((resolve) => server.once('listening', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`

const response = await fetch(`${base}/sessions/s1/messages`, {
  method: 'POST',
  headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' },
  body: JSON.stringify({ content: 'Hi' }),
})
console.log(response.status, ((await response.json()) as { message: { content: string } }).message.content)
const tooBig = await fetch(`${base}/sessions/s1/messages`, {
  method: 'POST',
  headers: { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' },
  body: JSON.stringify({ content: 'x'.repeat(2_000_000) }),
})
console.log(tooBig.status, ((await tooBig.json()) as { type: string }).type)

server.close()
await pipeline.shutdown()
