/**
 * A fake OpenAI chat-completions server on plain `node:http`, for tests and for the
 * runnable docs examples. It implements `POST /v1/chat/completions` with and without
 * `stream: true` (real SSE framing, `chat.completion.chunk` objects, a usage chunk
 * when `stream_options.include_usage` is set, a final `data: [DONE]`), and answers
 * each request with the next scripted {@link Behaviour} (or the fallback: an echo).
 *
 * Every request is recorded (method, path, headers, parsed body) together with how
 * its connection ended, so tests can assert what was sent and that an abort closed it.
 *
 * In a test:
 * ```ts
 * const server = await startFakeOpenAI()
 * server.enqueue({ kind: 'error', status: 429, headers: { 'retry-after': '0' } }, { kind: 'reply', content: 'Hi' })
 * const provider = new OpenAIProvider({ model: 'gpt-4o-mini', apiKey: 'sk-test', baseURL: server.baseURL })
 * …
 * await server.close()
 * ```
 *
 * Standalone (prints its base URL, then serves echo replies until SIGINT/SIGTERM):
 * ```sh
 * node --import tsx test/helpers/fake-openai-server.ts [--port 8787]
 * ```
 */
import { createServer } from 'node:http'
import type { IncomingHttpHeaders, IncomingMessage, Server, ServerResponse } from 'node:http'
import type { Socket } from 'node:net'
import { once } from 'node:events'
import { pathToFileURL } from 'node:url'

/** A tool call the fake model makes. `id` defaults to `call_<n>`; `null` leaves the field out, `''` sends it empty (Gemini, some local servers). */
export interface FakeToolCall {
  id?: string | null
  name: string
  arguments: string
}

/** OpenAI's usage object. */
export interface FakeUsage {
  prompt_tokens: number
  completion_tokens: number
  total_tokens?: number
  prompt_tokens_details?: { cached_tokens?: number }
}

/** Answer with a chat completion (or a stream of chunks when the request asked for one). */
export interface ReplyBehaviour {
  kind: 'reply'
  /** The assistant's text. @default '' when `toolCalls` is set, else `Echo: <last message content>` */
  content?: string
  toolCalls?: FakeToolCall[]
  /** `false`: no usage at all. @default computed from the request and the reply */
  usage?: FakeUsage | false
  /** The model reported back. @default the request's `model` */
  model?: string
  /** @default 'tool_calls' when `toolCalls` is set, else 'stop' */
  finishReason?: string
  /** Streaming only: the content is sent in pieces of this many characters. @default one word per chunk */
  chunkSize?: number
  /** Streaming only: wait this long before each chunk (slow token-by-token streaming). @default 0 */
  chunkDelayMs?: number
  /**
   * Streaming: destroy the socket after this many SSE events (a stream cut off midway).
   * Non-streaming: send the headers and half the body, then destroy the socket.
   */
  cutAfterChunks?: number
  /** Streaming only: after this many SSE events, stop writing and never finish (until the client goes away). */
  stallAfterChunks?: number
  /** Streaming only: end the response cleanly after this many events, without a finish reason or `[DONE]`. */
  endAfterChunks?: number
  /**
   * The model's reasoning, in the field the server uses: `reasoning_content` (DeepSeek,
   * llama.cpp, vLLM) or `reasoning` (Ollama, OpenRouter, xAI). Streamed before the content.
   */
  reasoning?: { field: 'reasoning_content' | 'reasoning'; text: string }
  /**
   * Streaming only: `'indexless'` sends each tool call whole in its own chunk without
   * `index`, as Gemini's OpenAI-compatible endpoint does (its finish reason then defaults
   * to `'stop'`, as Gemini's does). @default 'openai'
   */
  toolCallStyle?: 'openai' | 'indexless'
}

/** Answer with an HTTP error status (e.g. 429 with `retry-after`, 500). */
export interface ErrorBehaviour {
  kind: 'error'
  status: number
  headers?: Record<string, string>
  /** JSON-serialised. @default an OpenAI-shaped `{ error: { message, type, code } }` */
  body?: unknown
}

/** Never answer: the request hangs until the client aborts or times out. */
export interface StallBehaviour {
  kind: 'stall'
}

/** Answer 200 with a body that is not a chat completion. */
export interface MalformedBehaviour {
  kind: 'malformed'
  /** The raw body. @default a truncated JSON document */
  body?: string
  /** @default 'application/json' */
  contentType?: string
  /** Send it as an SSE stream (`data: <body>`) when the request asked for one. @default true */
  asStream?: boolean
}

/** Anything else: full control over the response. */
export interface HandlerBehaviour {
  kind: 'handler'
  handle: (request: RecordedRequest, res: ServerResponse) => unknown
}

export type Behaviour = ReplyBehaviour | ErrorBehaviour | StallBehaviour | MalformedBehaviour | HandlerBehaviour

export interface RecordedRequest {
  method: string
  /** Path including the query string, e.g. `/v1/chat/completions`. */
  path: string
  headers: IncomingHttpHeaders
  /** The parsed JSON body (`undefined` when there was none or it was not JSON). */
  body: ChatRequestBody | undefined
  rawBody: string
  /**
   * `true` once the connection closed before the response was complete: the client
   * aborted, timed out, or the behaviour cut it off.
   */
  aborted: boolean
  /** `true` once the response was completely sent. */
  finished: boolean
  /** Resolves when the request's response ends, one way or the other. */
  closed: Promise<void>
}

/** The parts of a chat-completions request body the fake server reads. */
export interface ChatRequestBody {
  model?: string
  messages?: Array<{ role: string; content?: unknown; name?: string; tool_calls?: unknown; tool_call_id?: string }>
  stream?: boolean
  stream_options?: { include_usage?: boolean }
  max_tokens?: number
  max_completion_tokens?: number
  temperature?: number
  [key: string]: unknown
}

export interface FakeOpenAIServer {
  /** `http://127.0.0.1:<port>/v1`: pass it as `baseURL`. */
  readonly baseURL: string
  readonly port: number
  /** Every request received, oldest first. */
  readonly requests: RecordedRequest[]
  /** Scripts the next responses, one behaviour per request, in order. */
  enqueue(...behaviours: Behaviour[]): void
  /** What to do when the queue is empty. @default `{ kind: 'reply' }` (an echo) */
  setFallback(behaviour: Behaviour): void
  /** Resolves once at least `count` requests were received. */
  waitForRequests(count: number, timeoutMs?: number): Promise<void>
  /** Forgets recorded requests and scripted behaviours, and restores the initial fallback. */
  reset(): void
  /** Stops listening and destroys every open connection. */
  close(): Promise<void>
}

export interface FakeOpenAIOptions {
  /** @default 0 (a free port) */
  port?: number
  /** @default '127.0.0.1' */
  host?: string
  fallback?: Behaviour
  /**
   * When set, a request whose `Authorization` is not `Bearer <apiKey>` gets OpenAI's
   * 401 (`invalid_api_key`, the key masked as OpenAI masks it).
   */
  apiKey?: string
  /**
   * Reject, as OpenAI does with a 400, a request whose messages break the tool-call
   * pairing: a `tool` message that does not answer a `tool_calls` entry of the
   * assistant message right before its run of tool messages, or an assistant
   * message whose `tool_calls` are not all answered by the tool messages after it.
   * @default false
   */
  strictToolMessages?: boolean
  /**
   * DeepSeek's thinking mode: a 400 for an assistant message with `tool_calls` that
   * lacks its `reasoning_content`. @default false
   */
  requireReasoningContent?: boolean
  /**
   * Like api.openai.com: a 400 for a message field the API does not know
   * (`reasoning_content`, `reasoning`). @default false
   */
  rejectUnknownMessageFields?: boolean
}

const CHAT_PATH = '/v1/chat/completions'

export async function startFakeOpenAI(options: FakeOpenAIOptions = {}): Promise<FakeOpenAIServer> {
  const queue: Behaviour[] = []
  const initialFallback: Behaviour = options.fallback ?? { kind: 'reply' }
  let fallback = initialFallback
  const requests: RecordedRequest[] = []
  const sockets = new Set<Socket>()
  const waiters = new Set<() => void>()
  let completionCounter = 0

  const server: Server = createServer((req, res) => {
    void handle(req, res).catch((error: unknown) => {
      // A bug in a behaviour: make it visible to the test instead of hanging.
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
    let body: ChatRequestBody | undefined
    try {
      body = rawBody === '' ? undefined : (JSON.parse(rawBody) as ChatRequestBody)
    } catch {
      body = undefined
    }

    let resolveClosed!: () => void
    const record: RecordedRequest = {
      method: req.method ?? '',
      path: req.url ?? '',
      headers: req.headers,
      body,
      rawBody,
      aborted: false,
      finished: false,
      closed: new Promise<void>((resolve) => (resolveClosed = resolve)),
    }
    res.on('finish', () => {
      record.finished = true
    })
    res.on('close', () => {
      if (!record.finished) record.aborted = true
      resolveClosed()
    })
    requests.push(record)
    for (const wake of waiters) wake()

    if (req.method !== 'POST' || (req.url ?? '').split('?')[0] !== CHAT_PATH) {
      sendJson(res, 404, { error: { message: `Unknown route ${req.method} ${req.url}`, type: 'invalid_request_error', code: null } })
      return
    }
    if (options.apiKey !== undefined && req.headers.authorization !== `Bearer ${options.apiKey}`) {
      const sent = (req.headers.authorization ?? '').replace(/^Bearer /, '')
      const masked = sent.length > 8 ? `${sent.slice(0, 3)}*****${sent.slice(-4)}` : '*****'
      sendJson(res, 401, {
        error: { message: `Incorrect API key provided: ${masked}.`, type: 'invalid_request_error', param: null, code: 'invalid_api_key' },
      })
      return
    }
    if (body === undefined) {
      sendJson(res, 400, { error: { message: 'Request body is not JSON', type: 'invalid_request_error', code: null } })
      return
    }

    const fieldProblem = messageFieldProblem(body.messages ?? [], options)
    if (fieldProblem !== undefined) {
      sendJson(res, 400, { error: { message: fieldProblem, type: 'invalid_request_error', param: null, code: null } })
      return
    }
    const toolProblem = options.strictToolMessages === true ? toolPairingProblem(body.messages ?? []) : undefined
    if (toolProblem !== undefined) {
      sendJson(res, 400, { error: { message: toolProblem.message, type: 'invalid_request_error', param: toolProblem.param, code: null } })
      return
    }

    const behaviour = queue.shift() ?? fallback
    const id = `chatcmpl-fake${++completionCounter}`
    switch (behaviour.kind) {
      case 'reply':
        if (body.stream === true) await streamReply(res, body, behaviour, id)
        else sendReply(res, body, behaviour, id)
        return
      case 'error':
        sendJson(
          res,
          behaviour.status,
          behaviour.body ?? {
            error: { message: `Fake error ${behaviour.status}`, type: behaviour.status === 429 ? 'rate_limit_exceeded' : 'server_error', code: null },
          },
          behaviour.headers,
        )
        return
      case 'stall':
        // Keep the connection open without a byte; `close()` or the client ends it.
        return
      case 'malformed': {
        const raw = behaviour.body ?? '{"id":"chatcmpl-broken","choices":[{"index":0,"message":{"role":"assis'
        if (body.stream === true && behaviour.asStream !== false) {
          res.writeHead(200, sseHeaders())
          res.end(`data: ${raw}\n\n`)
        } else {
          res.writeHead(200, { 'content-type': behaviour.contentType ?? 'application/json' })
          res.end(raw)
        }
        return
      }
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
  const baseURL = `http://${host}:${address.port}/v1`

  return {
    baseURL,
    port: address.port,
    requests,
    enqueue(...behaviours) {
      queue.push(...behaviours)
    },
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

function sendJson(res: ServerResponse, status: number, value: unknown, headers: Record<string, string> = {}): void {
  const text = JSON.stringify(value)
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text), ...headers })
  res.end(text)
}

/** OpenAI's 400 for a request whose tool messages and tool calls do not pair up, or `undefined`. */
function toolPairingProblem(messages: NonNullable<ChatRequestBody['messages']>): { message: string; param: string } | undefined {
  let open: { index: number; ids: Set<string> } | undefined
  const unanswered = (group: { index: number; ids: Set<string> }) => ({
    message: `An assistant message with 'tool_calls' must be followed by tool messages responding to each 'tool_call_id'. The following tool_call_ids did not have response messages: ${[...group.ids].join(', ')}`,
    param: `messages.[${group.index}].role`,
  })
  for (const [index, message] of messages.entries()) {
    if (message.role === 'tool') {
      if (open === undefined || typeof message.tool_call_id !== 'string' || !open.ids.delete(message.tool_call_id)) {
        return {
          message: "Invalid parameter: messages with role 'tool' must be a response to a preceeding message with 'tool_calls'.",
          param: `messages.[${index}].role`,
        }
      }
      continue
    }
    if (open !== undefined && open.ids.size > 0) return unanswered(open)
    open = undefined
    if (message.role === 'assistant' && Array.isArray(message.tool_calls) && message.tool_calls.length > 0) {
      const ids = (message.tool_calls as Array<{ id?: unknown }>).map((call) => String(call.id))
      open = { index, ids: new Set(ids) }
    }
  }
  if (open !== undefined && open.ids.size > 0) return unanswered(open)
  return undefined
}

/** The 400 of DeepSeek's thinking mode or of api.openai.com for a message's fields, or `undefined`. */
function messageFieldProblem(messages: NonNullable<ChatRequestBody['messages']>, options: FakeOpenAIOptions): string | undefined {
  for (const [index, message] of messages.entries()) {
    const record = message as Record<string, unknown>
    if (options.rejectUnknownMessageFields === true) {
      const unknown = Object.keys(record).find((key) => !['role', 'content', 'name', 'tool_calls', 'tool_call_id', 'refusal'].includes(key))
      if (unknown !== undefined) return `Unrecognized request argument supplied: messages[${index}].${unknown}`
    }
    if (options.requireReasoningContent === true && message.role === 'assistant' && Array.isArray(message.tool_calls) && typeof record.reasoning_content !== 'string') {
      return `Missing \`reasoning_content\` field in the assistant message at message index ${index}.`
    }
  }
  return undefined
}

function sseHeaders(): Record<string, string> {
  return { 'content-type': 'text/event-stream; charset=utf-8', 'cache-control': 'no-cache', connection: 'keep-alive' }
}

interface Plan {
  model: string
  content: string
  toolCalls: Array<{ id: string | null; name: string; arguments: string }>
  finishReason: string
  usage: FakeUsage | undefined
}

function plan(body: ChatRequestBody, behaviour: ReplyBehaviour): Plan {
  const toolCalls = (behaviour.toolCalls ?? []).map((call, i) => ({ id: call.id === undefined ? `call_${i + 1}` : call.id, name: call.name, arguments: call.arguments }))
  const last = body.messages?.at(-1)
  const content =
    behaviour.content ?? (toolCalls.length > 0 ? '' : `Echo: ${typeof last?.content === 'string' ? last.content : ''}`)
  let usage: FakeUsage | undefined
  if (behaviour.usage === undefined) {
    const prompt = roughTokens(JSON.stringify(body.messages ?? []))
    const completion = roughTokens(content) + toolCalls.reduce((n, c) => n + roughTokens(c.name + c.arguments), 0)
    usage = { prompt_tokens: prompt, completion_tokens: completion, total_tokens: prompt + completion }
  } else if (behaviour.usage !== false) {
    usage = { total_tokens: behaviour.usage.prompt_tokens + behaviour.usage.completion_tokens, ...behaviour.usage }
  }
  return {
    model: behaviour.model ?? body.model ?? 'fake-model',
    content,
    toolCalls,
    finishReason: behaviour.finishReason ?? (toolCalls.length > 0 && behaviour.toolCallStyle !== 'indexless' ? 'tool_calls' : 'stop'),
    usage,
  }
}

function roughTokens(text: string): number {
  return Math.max(1, Math.ceil(text.length / 4))
}

function sendReply(res: ServerResponse, body: ChatRequestBody, behaviour: ReplyBehaviour, id: string): void {
  const p = plan(body, behaviour)
  const completion: Record<string, unknown> = {
    id,
    object: 'chat.completion',
    created: Math.floor(Date.now() / 1000),
    model: p.model,
    choices: [
      {
        index: 0,
        message: {
          role: 'assistant',
          content: p.toolCalls.length > 0 && p.content === '' ? null : p.content,
          refusal: null,
          ...(behaviour.reasoning === undefined ? {} : { [behaviour.reasoning.field]: behaviour.reasoning.text }),
          ...(p.toolCalls.length > 0
            ? { tool_calls: p.toolCalls.map((c) => ({ ...idField(c.id), type: 'function', function: { name: c.name, arguments: c.arguments } })) }
            : {}),
        },
        logprobs: null,
        finish_reason: p.finishReason,
      },
    ],
    ...(p.usage === undefined ? {} : { usage: p.usage }),
    system_fingerprint: 'fp_fake',
  }
  const text = JSON.stringify(completion)
  if (behaviour.cutAfterChunks !== undefined) {
    // Promise the whole body, send half of it, then drop the connection.
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    res.write(text.slice(0, Math.floor(text.length / 2)), () => res.destroy())
    return
  }
  sendJson(res, 200, completion)
}

async function streamReply(res: ServerResponse, body: ChatRequestBody, behaviour: ReplyBehaviour, id: string): Promise<void> {
  const p = plan(body, behaviour)
  const created = Math.floor(Date.now() / 1000)
  const chunk = (choices: unknown[], extra: Record<string, unknown> = {}) => ({
    id,
    object: 'chat.completion.chunk',
    created,
    model: p.model,
    system_fingerprint: 'fp_fake',
    choices,
    ...extra,
  })
  const includeUsage = body.stream_options?.include_usage === true
  const delta = (d: Record<string, unknown>, finish: string | null = null) =>
    chunk([{ index: 0, delta: d, logprobs: null, finish_reason: finish }], includeUsage ? { usage: null } : {})

  const events: unknown[] = [delta({ role: 'assistant', content: '', refusal: null })]
  if (behaviour.reasoning !== undefined) {
    for (const piece of splitContent(behaviour.reasoning.text, behaviour.chunkSize)) events.push(delta({ [behaviour.reasoning.field]: piece }))
  }
  for (const piece of splitContent(p.content, behaviour.chunkSize)) events.push(delta({ content: piece }))
  p.toolCalls.forEach((call, index) => {
    if (behaviour.toolCallStyle === 'indexless') {
      // Gemini: the whole call in one chunk, no `index`.
      events.push(delta({ tool_calls: [{ ...idField(call.id), type: 'function', function: { name: call.name, arguments: call.arguments } }] }))
      return
    }
    events.push(delta({ tool_calls: [{ index, ...idField(call.id), type: 'function', function: { name: call.name, arguments: '' } }] }))
    for (const piece of splitContent(call.arguments, 8)) {
      events.push(delta({ tool_calls: [{ index, function: { arguments: piece } }] }))
    }
  })
  events.push(delta({}, p.finishReason))
  if (includeUsage && p.usage !== undefined) events.push(chunk([], { usage: p.usage }))

  res.writeHead(200, sseHeaders())
  res.flushHeaders()
  let sent = 0
  for (const event of events) {
    if (res.destroyed) return
    if (behaviour.cutAfterChunks === sent) {
      res.destroy()
      return
    }
    if (behaviour.stallAfterChunks === sent) return
    if (behaviour.endAfterChunks === sent) {
      res.end()
      return
    }
    if (behaviour.chunkDelayMs !== undefined && behaviour.chunkDelayMs > 0) await sleep(behaviour.chunkDelayMs)
    if (res.destroyed) return
    // Wait until each event is handed to the socket, so a cut or a stall comes after it.
    await new Promise<void>((resolve) => res.write(`data: ${JSON.stringify(event)}\n\n`, () => resolve()))
    sent++
  }
  if (behaviour.cutAfterChunks !== undefined && behaviour.cutAfterChunks >= sent) {
    res.destroy()
    return
  }
  res.end('data: [DONE]\n\n')
}

/** `{ id }`, or nothing for a call whose id the server leaves out. */
function idField(id: string | null): { id?: string } {
  return id === null ? {} : { id }
}

function splitContent(text: string, size: number | undefined): string[] {
  if (text === '') return []
  if (size !== undefined) {
    const pieces: string[] = []
    for (let i = 0; i < text.length; i += size) pieces.push(text.slice(i, i + size))
    return pieces
  }
  return text.split(/(?<=\s)/)
}

function sleep(ms: number): Promise<void> {
  return new Promise((resolve) => setTimeout(resolve, ms))
}

// Standalone: `node --import tsx test/helpers/fake-openai-server.ts [--port N]` prints the base URL.
const entry = process.argv[1]
if (entry !== undefined && import.meta.url === pathToFileURL(entry).href) {
  const portFlag = process.argv.indexOf('--port')
  const port = portFlag === -1 ? Number(process.env.FAKE_OPENAI_PORT ?? 0) : Number(process.argv[portFlag + 1])
  const server = await startFakeOpenAI({ port })
  process.stdout.write(`${server.baseURL}\n`)
  const stop = () => {
    void server.close().then(() => process.exit(0))
  }
  process.once('SIGINT', stop)
  process.once('SIGTERM', stop)
}
