/**
 * A fake Anthropic Messages API on plain `node:http`, for tests and the runnable
 * docs examples. `POST /v1/messages` answers with a message, or with `stream: true`
 * with the documented SSE sequence: `event: message_start`, then per content block
 * `content_block_start`, `content_block_delta` (`text_delta`, `input_json_delta`,
 * `thinking_delta`, `signature_delta`), `content_block_stop`, then `message_delta`
 * (stop reason and cumulative usage) and `message_stop`, with a `ping` after the
 * first block starts, as the API does. Bodies are written the way the API's
 * documentation prints them (`{"type": "ping"}`), errors as
 * `{"type": "error", "error": {"type", "message"}}` with a `request-id` header.
 *
 * It enforces the checks of the real API a provider can get wrong: the key (when
 * `apiKey` is set; `x-api-key` or `Authorization: Bearer`), `anthropic-version`, no `system` role in `messages`, no empty
 * text blocks, every `tool_use` answered by `tool_result` blocks at the start of the
 * next user message, and with thinking on, a final assistant turn that calls tools
 * must start with its thinking block (400 `invalid_request_error` otherwise).
 *
 * ```ts
 * const server = await startFakeAnthropic()
 * server.enqueue({ kind: 'error', status: 529 }, { kind: 'reply', content: 'Hi' })
 * new AnthropicProvider({ model: 'claude-sonnet-4-5', maxTokens: 1024, apiKey: 'sk-ant-test', baseURL: server.baseURL })
 * ```
 *
 * Standalone: `node --import tsx test/helpers/fake-anthropic-server.ts [--port N]` prints its base URL.
 */
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'

export interface FakeAnthropicToolCall {
  /** @default `toolu_fake<n>` */
  id?: string
  name: string
  /** The tool input as JSON text; streamed in `input_json_delta` pieces. */
  input: string
}

/** Anthropic's usage object. */
export interface FakeAnthropicUsage {
  input_tokens: number
  output_tokens: number
  cache_creation_input_tokens?: number
  cache_read_input_tokens?: number
}

export interface FakeAnthropicReply {
  kind: 'reply'
  /** @default `Echo: <last user text>`, or '' with `toolCalls` */
  content?: string
  toolCalls?: FakeAnthropicToolCall[]
  /** A thinking block before the text, with its signature. */
  thinking?: { thinking: string; signature: string }
  /** `redacted_thinking` blocks (their opaque `data`), after the thinking block. */
  redactedThinking?: string[]
  /** @default computed from the request and the reply */
  usage?: FakeAnthropicUsage
  /** @default the request's model */
  model?: string
  /** @default 'tool_use' with tool calls, else 'end_turn' */
  stopReason?: string
  /** Streaming: text is sent in pieces of this many characters. @default one word per delta */
  chunkSize?: number
  /** Streaming: wait this long before each event. @default 0 */
  chunkDelayMs?: number
  /** Streaming: after this many events, send an `error` event and end the stream. */
  errorAfterEvents?: number
  /** The `error` event's error. @default overloaded_error */
  streamError?: { type: string; message: string }
  /** Streaming: destroy the socket after this many events. */
  cutAfterEvents?: number
  /** Streaming: stop writing after this many events and never finish. */
  stallAfterEvents?: number
}

export interface FakeAnthropicError {
  kind: 'error'
  status: number
  headers?: Record<string, string>
  /** @default Anthropic's error body for the status (529: overloaded_error…) */
  body?: unknown
}

export interface FakeAnthropicStall {
  kind: 'stall'
}

export interface FakeAnthropicHandler {
  kind: 'handler'
  handle: (request: AnthropicRecordedRequest, res: ServerResponse) => unknown
}

export type AnthropicBehaviour = FakeAnthropicReply | FakeAnthropicError | FakeAnthropicStall | FakeAnthropicHandler

export interface AnthropicRequestBody {
  model?: string
  max_tokens?: number
  system?: unknown
  messages?: Array<{ role: string; content: unknown }>
  tools?: unknown[]
  thinking?: { type: string; budget_tokens?: number }
  stream?: boolean
  temperature?: number
  [key: string]: unknown
}

export interface AnthropicRecordedRequest {
  method: string
  path: string
  headers: IncomingHttpHeaders
  body: AnthropicRequestBody | undefined
  rawBody: string
  /** The connection closed before the response was complete. */
  aborted: boolean
  finished: boolean
  closed: Promise<void>
}

export interface FakeAnthropicServer {
  /** `http://127.0.0.1:<port>`: the SDK appends `/v1/messages`. */
  readonly baseURL: string
  readonly port: number
  readonly requests: AnthropicRecordedRequest[]
  enqueue(...behaviours: AnthropicBehaviour[]): void
  setFallback(behaviour: AnthropicBehaviour): void
  waitForRequests(count: number, timeoutMs?: number): Promise<void>
  reset(): void
  close(): Promise<void>
}

export interface FakeAnthropicOptions {
  port?: number
  host?: string
  fallback?: AnthropicBehaviour
  /** When set, a request that does not send this key gets Anthropic's 401. */
  apiKey?: string
}

const MESSAGES_PATH = '/v1/messages'

/** Anthropic's error type for each documented status. */
const ERROR_TYPES: Record<number, string> = {
  400: 'invalid_request_error',
  401: 'authentication_error',
  403: 'permission_error',
  404: 'not_found_error',
  413: 'request_too_large',
  429: 'rate_limit_error',
  500: 'api_error',
  529: 'overloaded_error',
}

export async function startFakeAnthropic(options: FakeAnthropicOptions = {}): Promise<FakeAnthropicServer> {
  const queue: AnthropicBehaviour[] = []
  const initialFallback: AnthropicBehaviour = options.fallback ?? { kind: 'reply' }
  let fallback = initialFallback
  const requests: AnthropicRecordedRequest[] = []
  const sockets = new Set<Socket>()
  const waiters = new Set<() => void>()
  let counter = 0

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      if (!res.headersSent) {
        res.writeHead(599, { 'content-type': 'text/plain' })
        res.end(`fake server error: ${String(error)}`)
      } else {
        res.destroy()
      }
    })
  })
  server.on('connection', (socket) => {
    sockets.add(socket)
    socket.on('close', () => sockets.delete(socket))
  })

  async function handle(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const chunks: Buffer[] = []
    for await (const chunk of req) chunks.push(chunk as Buffer)
    const rawBody = Buffer.concat(chunks).toString('utf8')
    let body: AnthropicRequestBody | undefined
    try {
      body = rawBody === '' ? undefined : (JSON.parse(rawBody) as AnthropicRequestBody)
    } catch {
      body = undefined
    }
    let resolveClosed!: () => void
    const record: AnthropicRecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      rawBody,
      aborted: false,
      finished: false,
      closed: new Promise<void>((resolve) => (resolveClosed = resolve)),
    }
    res.on('finish', () => (record.finished = true))
    res.on('close', () => {
      if (!record.finished) record.aborted = true
      resolveClosed()
    })
    requests.push(record)
    for (const wake of waiters) wake()
    const requestId = `req_fake${++counter}`

    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== MESSAGES_PATH) {
      sendError(res, 404, 'not_found_error', 'Not found', requestId)
      return
    }
    // The API takes the key as `x-api-key` or, as the current SDK sends it, `Authorization: Bearer`.
    const sentKey = req.headers['x-api-key'] ?? req.headers.authorization?.replace(/^Bearer /, '')
    if (options.apiKey !== undefined && sentKey !== options.apiKey) {
      sendError(res, 401, 'authentication_error', 'invalid x-api-key', requestId)
      return
    }
    if (req.headers['anthropic-version'] === undefined) {
      sendError(res, 400, 'invalid_request_error', 'anthropic-version: header is required', requestId)
      return
    }
    if (body === undefined) {
      sendError(res, 400, 'invalid_request_error', 'There was an issue with the request body: not JSON', requestId)
      return
    }
    const problem = requestProblem(body)
    if (problem !== undefined) {
      sendError(res, 400, 'invalid_request_error', problem, requestId)
      return
    }

    const behaviour = queue.shift() ?? fallback
    switch (behaviour.kind) {
      case 'reply':
        if (body.stream === true) await streamReply(res, body, behaviour, `msg_fake${counter}`, requestId)
        else sendJson(res, 200, messageObject(body, behaviour, `msg_fake${counter}`), { 'request-id': requestId })
        return
      case 'error': {
        const type = ERROR_TYPES[behaviour.status] ?? (behaviour.status >= 500 ? 'api_error' : 'invalid_request_error')
        const message = behaviour.status === 529 ? 'Overloaded' : `Fake error ${behaviour.status}`
        sendJson(res, behaviour.status, behaviour.body ?? errorBody(type, message, requestId), { 'request-id': requestId, ...behaviour.headers })
        return
      }
      case 'stall':
        return
      case 'handler':
        await behaviour.handle(record, res)
        return
    }
  }

  server.listen(options.port ?? 0, options.host ?? '127.0.0.1')
  await once(server, 'listening')
  const address = server.address()
  if (address === null || typeof address === 'string') throw new Error('fake server: no TCP address')
  const host = options.host ?? '127.0.0.1'
  return {
    baseURL: `http://${host}:${address.port}`,
    port: address.port,
    requests,
    enqueue: (...behaviours) => void queue.push(...behaviours),
    setFallback(behaviour) {
      fallback = behaviour
    },
    async waitForRequests(count, timeoutMs = 5_000) {
      if (requests.length >= count) return
      await new Promise<void>((resolve, reject) => {
        const timer = setTimeout(() => {
          waiters.delete(check)
          reject(new Error(`fake server: expected ${count} requests, got ${requests.length} in ${timeoutMs} ms`))
        }, timeoutMs)
        function check(): void {
          if (requests.length < count) return
          clearTimeout(timer)
          waiters.delete(check)
          resolve()
        }
        waiters.add(check)
      })
    },
    reset() {
      queue.length = 0
      requests.length = 0
      fallback = initialFallback
    },
    async close() {
      for (const socket of sockets) socket.destroy()
      await new Promise<void>((resolve) => server.close(() => resolve()))
    },
  }
}

/**
 * JSON as Anthropic's documentation prints it: `", "` between items and `": "` after
 * keys (`{"type": "message_stop"}`). Clients must not care; the fake proves they don't.
 */
export function documentedJson(value: unknown): string {
  if (Array.isArray(value)) return `[${value.map(documentedJson).join(', ')}]`
  if (value !== null && typeof value === 'object') {
    const entries = Object.entries(value).filter(([, v]) => v !== undefined)
    return `{${entries.map(([k, v]) => `${JSON.stringify(k)}: ${documentedJson(v)}`).join(', ')}}`
  }
  return JSON.stringify(value) ?? 'null'
}

function errorBody(type: string, message: string, requestId: string): unknown {
  return { type: 'error', error: { type, message }, request_id: requestId }
}

function sendError(res: ServerResponse, status: number, type: string, message: string, requestId: string): void {
  sendJson(res, status, errorBody(type, message, requestId), { 'request-id': requestId })
}

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = documentedJson(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

type Block = Record<string, unknown> & { type?: unknown }

/** The API's 400 for what a provider may get wrong, or `undefined`. */
function requestProblem(body: AnthropicRequestBody): string | undefined {
  if (typeof body.model !== 'string' || body.model === '') return 'model: Field required'
  if (!Number.isSafeInteger(body.max_tokens)) return 'max_tokens: Field required'
  if (!Array.isArray(body.messages)) return 'messages: Field required'
  const thinking = body.thinking?.type === 'enabled' || body.thinking?.type === 'adaptive'
  for (const [i, message] of body.messages.entries()) {
    if (message.role !== 'user' && message.role !== 'assistant') {
      return `messages.${i}.role: Input should be 'user' or 'assistant'`
    }
    const blocks: Block[] = typeof message.content === 'string' ? [{ type: 'text', text: message.content }] : (message.content as Block[])
    if (!Array.isArray(blocks)) return `messages.${i}.content: Input should be a valid list`
    for (const [j, block] of blocks.entries()) {
      if (block.type === 'text' && block.text === '') return `messages.${i}.content.${j}.text: text content blocks must be non-empty`
    }
    if (message.role !== 'assistant') continue
    const uses = blocks.filter((b) => b.type === 'tool_use').map((b) => String(b.id))
    if (uses.length === 0) continue
    const next = body.messages[i + 1]
    const nextBlocks = next === undefined ? [] : Array.isArray(next.content) ? (next.content as Block[]) : []
    if (next !== undefined) {
      const leading: string[] = []
      for (const block of nextBlocks) {
        if (block.type !== 'tool_result') break
        leading.push(String(block.tool_use_id))
      }
      const missing = uses.filter((id) => !leading.includes(id))
      if (missing.length > 0) {
        return `messages.${i + 1}: \`tool_use\` ids were found without \`tool_result\` blocks immediately after: ${missing.join(', ')}. Each \`tool_use\` block must have a corresponding \`tool_result\` block in the next message.`
      }
    }
    // The last assistant turn of a tool loop must start with its thinking, unchanged.
    const isLastToolTurn = body.messages.slice(i + 1).every((m) => m.role === 'user')
    if (thinking && isLastToolTurn && blocks[0]?.type !== 'thinking' && blocks[0]?.type !== 'redacted_thinking') {
      return `messages.${i}.content.0.type: Expected \`thinking\` or \`redacted_thinking\`, but found \`${String(blocks[0]?.type)}\`. When \`thinking\` is enabled, a final \`assistant\` message must start with a thinking block (preceeding the lastmost set of \`tool_use\` and \`tool_result\` blocks).`
    }
  }
  return undefined
}

interface Plan {
  model: string
  blocks: Block[]
  stopReason: string
  usage: FakeAnthropicUsage
}

function lastUserText(body: AnthropicRequestBody): string {
  const last = body.messages?.at(-1)
  if (last === undefined) return ''
  if (typeof last.content === 'string') return last.content
  const texts = (last.content as Block[]).filter((b) => b.type === 'text').map((b) => String(b.text))
  return texts.at(-1) ?? ''
}

let toolCounter = 0

function plan(body: AnthropicRequestBody, behaviour: FakeAnthropicReply): Plan {
  const blocks: Block[] = []
  if (behaviour.thinking !== undefined) blocks.push({ type: 'thinking', thinking: behaviour.thinking.thinking, signature: behaviour.thinking.signature })
  for (const data of behaviour.redactedThinking ?? []) blocks.push({ type: 'redacted_thinking', data })
  const calls = behaviour.toolCalls ?? []
  const text = behaviour.content ?? (calls.length > 0 ? '' : `Echo: ${lastUserText(body)}`)
  if (text !== '') blocks.push({ type: 'text', text })
  for (const call of calls) {
    blocks.push({ type: 'tool_use', id: call.id ?? `toolu_fake${++toolCounter}`, name: call.name, input: JSON.parse(call.input) as unknown })
  }
  const usage = behaviour.usage ?? {
    input_tokens: Math.max(1, Math.ceil(JSON.stringify(body.messages ?? []).length / 4)),
    output_tokens: Math.max(1, Math.ceil((text.length + calls.reduce((n, c) => n + c.input.length, 0)) / 4)),
  }
  return {
    model: behaviour.model ?? body.model ?? 'claude-fake',
    blocks,
    stopReason: behaviour.stopReason ?? (calls.length > 0 ? 'tool_use' : 'end_turn'),
    usage,
  }
}

function fullUsage(usage: FakeAnthropicUsage): Record<string, unknown> {
  return {
    input_tokens: usage.input_tokens,
    cache_creation_input_tokens: usage.cache_creation_input_tokens ?? 0,
    cache_read_input_tokens: usage.cache_read_input_tokens ?? 0,
    output_tokens: usage.output_tokens,
  }
}

function messageObject(body: AnthropicRequestBody, behaviour: FakeAnthropicReply, id: string): unknown {
  const p = plan(body, behaviour)
  return {
    id,
    type: 'message',
    role: 'assistant',
    model: p.model,
    content: p.blocks,
    stop_reason: p.stopReason,
    stop_sequence: null,
    usage: fullUsage(p.usage),
  }
}

function splitText(text: string, size: number | undefined): string[] {
  if (text === '') return []
  if (size === undefined) return text.split(/(?<=\s)/)
  const pieces: string[] = []
  for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size))
  return pieces
}

async function streamReply(res: ServerResponse, body: AnthropicRequestBody, behaviour: FakeAnthropicReply, id: string, requestId: string): Promise<void> {
  const p = plan(body, behaviour)
  const events: Array<[string, unknown]> = []
  const event = (type: string, data: Record<string, unknown>) => events.push([type, { type, ...data }])
  event('message_start', {
    message: {
      id,
      type: 'message',
      role: 'assistant',
      model: p.model,
      content: [],
      stop_reason: null,
      stop_sequence: null,
      usage: { ...fullUsage(p.usage), output_tokens: 1 },
    },
  })
  p.blocks.forEach((block, index) => {
    const delta = (d: Record<string, unknown>) => event('content_block_delta', { index, delta: d })
    // As in the documented example stream: a `ping` right after the first block starts.
    const start = (contentBlock: unknown) => {
      event('content_block_start', { index, content_block: contentBlock })
      if (index === 0) event('ping', {})
    }
    switch (block.type) {
      case 'thinking':
        start({ type: 'thinking', thinking: '', signature: '' })
        for (const piece of splitText(String(block.thinking), behaviour.chunkSize)) delta({ type: 'thinking_delta', thinking: piece })
        delta({ type: 'signature_delta', signature: block.signature })
        break
      case 'redacted_thinking':
        start(block)
        break
      case 'text':
        start({ type: 'text', text: '' })
        for (const piece of splitText(String(block.text), behaviour.chunkSize)) delta({ type: 'text_delta', text: piece })
        break
      case 'tool_use': {
        start({ type: 'tool_use', id: block.id, name: block.name, input: {} })
        const json = JSON.stringify(block.input)
        for (let i = 0; i < json.length; i += 10) delta({ type: 'input_json_delta', partial_json: json.slice(i, i + 10) })
        break
      }
    }
    event('content_block_stop', { index })
  })
  event('message_delta', { delta: { stop_reason: p.stopReason, stop_sequence: null }, usage: { output_tokens: p.usage.output_tokens } })
  event('message_stop', {})

  res.writeHead(200, { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive', 'request-id': requestId })
  res.flushHeaders()
  const write = (type: string, data: unknown) =>
    new Promise<void>((resolve) => res.write(`event: ${type}\ndata: ${documentedJson(data)}\n\n`, () => resolve()))
  let sent = 0
  for (const [type, data] of events) {
    if (res.destroyed) return
    if (behaviour.cutAfterEvents === sent) {
      res.destroy()
      return
    }
    if (behaviour.stallAfterEvents === sent) return
    if (behaviour.errorAfterEvents === sent) {
      const error = behaviour.streamError ?? { type: 'overloaded_error', message: 'Overloaded' }
      await write('error', { type: 'error', error, request_id: requestId })
      res.end()
      return
    }
    if (behaviour.chunkDelayMs !== undefined && behaviour.chunkDelayMs > 0) await new Promise((r) => setTimeout(r, behaviour.chunkDelayMs))
    if (res.destroyed) return
    await write(type, data)
    sent++
  }
  res.end()
}

// Standalone: prints the base URL, answers with echoes until SIGINT/SIGTERM.
const entry = process.argv[1]
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const portFlag = process.argv.indexOf('--port')
  const port = portFlag === -1 ? Number(process.env.FAKE_ANTHROPIC_PORT ?? 0) : Number(process.argv[portFlag + 1])
  const server = await startFakeAnthropic({ port })
  process.stdout.write(`${server.baseURL}\n`)
  const stop = () => void server.close().then(() => process.exit(0))
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
