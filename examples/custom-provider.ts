// Writing your own provider: `complete` and `stream` for a toy JSON-lines HTTP API
// ("Acme"), run through a pipeline like the built-in ones: history, streaming,
// cancellation on `break`, errors and cost all work without further code.
// Run: npx tsx examples/custom-provider.ts
import { EventEmitter, once } from 'node:events'
import { createServer } from 'node:http'
import { inspect } from 'node:util'
import { AbortError, MemoryStore, Pipeline, ProviderError } from 'promptline'
import type { Message, Provider, ProviderChunk, ProviderRequest, ProviderResponse } from 'promptline'

/** One line of Acme's response body: text pieces, then a last line with `done` and the counts. */
interface Line { text?: string; done?: boolean; model?: string; inputTokens?: number; outputTokens?: number }

export class AcmeProvider implements Provider {
  readonly name = 'acme'
  readonly #apiKey: string // private: util.inspect and JSON.stringify never show it

  constructor(apiKey: string, readonly baseURL = 'https://api.acme.example') {
    this.#apiKey = apiKey
  }

  // A non-streamed call is the stream, collected.
  async complete(request: ProviderRequest): Promise<ProviderResponse> {
    for await (const chunk of this.stream(request)) if (chunk.type === 'done') return chunk.response
    throw new ProviderError(this.name, 'the stream ended without a response')
  }

  async *stream(request: ProviderRequest): AsyncGenerator<ProviderChunk, void, undefined> {
    const controller = new AbortController()
    const onAbort = () => controller.abort(request.signal?.reason)
    request.signal?.addEventListener('abort', onAbort, { once: true })
    try {
      if (request.signal?.aborted) throw new AbortError('Provider `acme` request aborted', { cause: request.signal.reason })
      const res = await fetch(`${this.baseURL}/generate`, {
        method: 'POST',
        headers: { authorization: `Bearer ${this.#apiKey}`, 'content-type': 'application/json' },
        // Map the messages to your API's format here (Acme takes them as they are).
        body: JSON.stringify({ model: request.model ?? 'acme-1', messages: request.messages, max_tokens: request.maxTokens }),
        signal: controller.signal,
      })
      if (!res.ok || res.body === null) {
        const { error } = (await res.json().catch(() => ({}))) as { error?: string }
        throw new ProviderError(this.name, error ?? res.statusText, { status: res.status })
      }

      let content = ''
      let last: Line = {}
      let buffer = ''
      const decoder = new TextDecoder()
      for await (const bytes of res.body) {
        buffer += decoder.decode(bytes, { stream: true })
        let newline: number
        while ((newline = buffer.indexOf('\n')) !== -1) {
          request.signal?.throwIfAborted() // one read may hold many lines: stop at an abort
          const line = JSON.parse(buffer.slice(0, newline)) as Line
          buffer = buffer.slice(newline + 1)
          if (line.text) {
            content += line.text
            yield { type: 'delta', text: line.text }
          }
          if (line.done) last = line
        }
      }
      // A stream that stops early is an error, not a shorter reply.
      if (!last.done) throw new ProviderError(this.name, 'the stream ended before the response was complete')
      const response: ProviderResponse = { message: { role: 'assistant', content }, finishReason: 'stop' }
      if (last.model !== undefined) response.model = last.model // pricing matches on it
      if (last.inputTokens !== undefined && last.outputTokens !== undefined) {
        response.usage = { inputTokens: last.inputTokens, outputTokens: last.outputTokens }
      } // else the pipeline counts the tokens itself (usage.estimated)
      yield { type: 'done', response }
    } catch (error) {
      if (request.signal?.aborted) throw new AbortError('Provider `acme` request aborted', { cause: request.signal.reason })
      if (error instanceof ProviderError) throw error
      throw new ProviderError(this.name, error instanceof Error ? error.message : String(error), { cause: error })
    } finally {
      // Done, failed, or the consumer broke out of its loop: never leave the request open.
      request.signal?.removeEventListener('abort', onAbort)
      controller.abort()
    }
  }
}

// The toy Acme server: streams its reply word by word as JSON lines, 20 ms apart, and
// tells how each request ended: 'finished', or 'cancelled' when the client went away.
const KEY = 'acme-secret-key'
const endings = new EventEmitter()
const server = createServer(async (req, res) => {
  let body = ''
  for await (const part of req) body += String(part)
  const { model, messages } = JSON.parse(body) as { model: string; messages: Message[] }
  if (req.headers.authorization !== `Bearer ${KEY}`) return void res.writeHead(401).end('{"error":"invalid key"}')
  const last = messages.at(-1)?.content ?? ''
  if (last.includes('overloaded')) return void res.writeHead(503).end('{"error":"Acme is overloaded, try later"}')
  const turns = messages.filter((m) => m.role === 'user').length
  const words = `Message ${turns} received: ${last}`.split(/(?<= )/)
  res.on('close', () => endings.emit(last, res.writableFinished ? 'finished' : 'cancelled'))
  res.writeHead(200, { 'content-type': 'application/x-ndjson' })
  for (const text of words) {
    if (res.destroyed) return
    res.write(`${JSON.stringify({ text })}\n`)
    await new Promise((resolve) => setTimeout(resolve, 20))
  }
  const inputTokens = messages.reduce((n, m) => n + m.content.split(' ').length, 0)
  res.end(`${JSON.stringify({ done: true, model, inputTokens, outputTokens: words.length })}\n`)
})
server.listen(0, '127.0.0.1')
await once(server, 'listening')
const { port } = server.address() as { port: number }

// The provider in a pipeline, like any other.
const provider = new AcmeProvider(KEY, `http://127.0.0.1:${port}`)
const store = new MemoryStore()
const pipe = new Pipeline({ provider, store, pricing: { 'acme-1': { input: 1, output: 2 } } })

const first = await pipe.execute('alice', 'user', 'Hello, Acme!')
console.log(`${first.response.content} | ${first.model}: ${first.usage?.inputTokens} in / ${first.usage?.outputTokens} out, $${first.costUsd?.toFixed(6)}`)
// Message 1 received: Hello, Acme! | acme-1: 2 in / 5 out, $0.000012

for await (const chunk of pipe.stream('alice', 'user', 'Stream this, please.')) {
  if (chunk.type === 'delta') process.stdout.write(chunk.text)
  else console.log(`\n[done] saved: ${chunk.result.saved}, stored: ${chunk.result.storedLength}`)
}
// Message 2 received: Stream this, please.
// [done] saved: true, stored: 4

const question = 'Tell me all you know about Rome, in as many words as you can.'
const ending = once(endings, question)
for await (const chunk of pipe.stream('alice', 'user', question)) {
  if (chunk.type === 'delta') break // cancels the HTTP request
}
console.log(`after break: the server saw the request ${(await ending)[0]}; stored: ${await store.length('alice')}`)
// after break: the server saw the request cancelled; stored: 4

try {
  await pipe.execute('alice', 'user', 'Are you overloaded?')
} catch (error) {
  if (error instanceof ProviderError) console.log(`${error.name}: ${error.message} (status ${error.status})`)
}
// ProviderError: Provider `acme` failed (HTTP 503): Acme is overloaded, try later (status 503)
console.log(`stored after the failure: ${await store.length('alice')}; key in inspect(provider): ${inspect(provider).includes(KEY)}`)
// stored after the failure: 4; key in inspect(provider): false

await pipe.shutdown()
server.closeAllConnections()
server.close()
