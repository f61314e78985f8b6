// Serving a pipeline over HTTP with node:http: createHandler + toNodeListener.
// Run: npx tsx examples/serve-node.ts
import { createServer } from 'node:http'
import type { AddressInfo } from 'node:net'
import { Pipeline } from 'promptline'
import { bearerAuth, createHandler, toNodeListener } from 'promptline/http'
import { MockProvider } from 'promptline/testing'

const pipeline = new Pipeline({ provider: new MockProvider({ reply: 'Hello from the server!' }) })

// Each token is a user; a user sees only their own sessions.
const handler = createHandler(pipeline, {
  authenticate: bearerAuth({ 'alice-secret-token': 'alice', 'bob-secret-token': 'bob' }),
  basePath: '/api',
})
const server = createServer(toNodeListener(handler))
server.listen(0, '127.0.0.1') // a real server listens on a fixed port: server.listen(3000)
await new Promise((resolve) => server.once('listening', resolve))
const base = `http://127.0.0.1:${(server.address() as AddressInfo).port}/api`

// A turn, answered as JSON.
const headers = { authorization: 'Bearer alice-secret-token', 'content-type': 'application/json' }
const turn = await fetch(`${base}/sessions/support-1/messages`, { method: 'POST', headers, body: JSON.stringify({ content: 'Hi!' }) })
const { message, storedLength } = (await turn.json()) as { message: { content: string }; storedLength: number }
console.log(`${turn.status} ${message.content} (${storedLength} stored)`)

// The same with stream: true: Server-Sent Events, `delta` events then `done`.
const streamed = await fetch(`${base}/sessions/support-1/messages`, { method: 'POST', headers, body: JSON.stringify({ content: 'Again', stream: true }) })
const events = (await streamed.text()).split('\n').filter((line) => line.startsWith('event: '))
console.log(events.join(', '))

// Bob cannot see Alice's session: for him it does not exist.
const bob = await fetch(`${base}/sessions/support-1/messages`, { headers: { authorization: 'Bearer bob-secret-token' } })
const problem = (await bob.json()) as { status: number; type: string }
console.log(`bob: ${problem.status} ${problem.type}`)

server.close()
await pipeline.shutdown()
