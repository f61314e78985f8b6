import type { Pipeline } from '../pipeline.js'
import type { Message, Role, StateStore } from '../types.js'
import { AbortError } from '../errors.js'
import { readTurn } from '../turn-input.js'
import { assertFunction, assertKnownKeys, assertOptionsObject, assertPositiveInteger, show } from '../validate.js'
import { readJsonBody, DEFAULT_MAX_BODY_BYTES } from './body.js'
import { HttpProblem, problemOf, problemResponse } from './problem.js'
import { principalPrefix, scopedId } from './scope.js'
import { sseBody, turnBody } from './sse.js'

/**
 * Who sent a request: a principal id (every session the request touches belongs to
 * it), `null` when the request carries no valid credentials (401), or `false`
 * when it does but may not use this API (403).
 */
export type Authenticate = (request: Request) => string | null | false | Promise<string | null | false>

/** Options of `createHandler`. Unknown keys are rejected, with the closest name suggested. */
export interface HandlerOptions {
  /** Required. Names the principal of a request; see `Authenticate` and `bearerAuth`. */
  authenticate: Authenticate
  /**
   * Where the routes live: `'/api'` serves `/api/sessions/…`. Requests outside it get 404.
   * @default ''
   */
  basePath?: string | undefined
  /** Largest request body accepted; larger ones get 413 without being read. @default 1_048_576 (1 MiB) */
  maxBodyBytes?: number | undefined
  /** Where sessions are read, listed, forked and deleted. @default pipeline.store */
  store?: StateStore | undefined
  /**
   * Called with each unexpected error (every 5xx answer): the client gets a fixed
   * text, never the error, so log it here.
   * @default logs to console.error
   */
  onError?: ((error: unknown, request: Request) => void) | undefined
  /**
   * Origins of browser apps allowed to call the API from another origin (CORS):
   * their requests get `Access-Control-Allow-Origin`, and preflight `OPTIONS`
   * requests are answered. `'*'` allows any origin (safe with bearer tokens, which a
   * browser never sends on its own, unlike cookies).
   * @default [] (same-origin only)
   * @example ['https://chat.example.com']
   */
  corsOrigins?: readonly string[] | '*' | undefined
}

/** A Web-standard request handler: `Request` in, `Response` out. */
export type Handler = (request: Request) => Promise<Response>

const HANDLER_KEYS: readonly (keyof HandlerOptions)[] = ['authenticate', 'basePath', 'maxBodyBytes', 'store', 'onError', 'corsOrigins']
const TURN_KEYS = ['content', 'role', 'stream', 'toolCallId', 'name', 'messages']
const TOOL_MESSAGE_KEYS = ['role', 'content', 'toolCallId', 'name']
const FORK_KEYS = ['to']
/** Roles a client may add. `assistant` and `system` messages come from the model and the server, never a request. */
const CLIENT_ROLES: readonly Role[] = ['user', 'tool']
const DEFAULT_LIST_LIMIT = 100
const MAX_LIST_LIMIT = 1_000

/**
 * Serves a pipeline's conversations over HTTP, with sessions that belong to the
 * principal `authenticate` names. Runs wherever `Request`/`Response` do: Hono,
 * Bun, Deno, edge runtimes, and Node's `node:http` through `toNodeListener`.
 *
 * Routes (JSON; errors are `application/problem+json`):
 * - `POST {base}/sessions/{id}/messages` `{ content, role?, stream? }` or `{ messages }`: one turn;
 *   with `stream: true` or `Accept: text/event-stream`, Server-Sent Events
 * - `GET {base}/sessions/{id}/messages?last=N`
 * - `DELETE {base}/sessions/{id}`
 * - `POST {base}/sessions/{id}/fork` `{ to }`
 * - `GET {base}/sessions?limit=N`: the caller's own sessions
 *
 * @example
 * ```ts
 * const handler = createHandler(pipeline, { authenticate: bearerAuth({ [process.env.TOKEN!]: 'alice' }) })
 * export default { fetch: handler } // Bun, Deno, Workers
 * ```
 */
export function createHandler(pipeline: Pipeline, options: HandlerOptions): Handler {
  if (pipeline === null || typeof pipeline !== 'object' || typeof (pipeline as Partial<Pipeline>).stream !== 'function') {
    throw new TypeError(`Expected \`pipeline\` to be a Pipeline, got \`${show(pipeline)}\`.`)
  }
  if (options === null || typeof options !== 'object' || Array.isArray(options)) {
    throw new TypeError(`Expected \`options\` to be an object with an \`authenticate\` function, got \`${show(options)}\`.`)
  }
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, HANDLER_KEYS, '')
  const { authenticate, basePath = '', maxBodyBytes = DEFAULT_MAX_BODY_BYTES, onError = logError } = options
  assertFunction(authenticate, 'authenticate')
  assertFunction(onError, 'onError')
  if (typeof basePath !== 'string' || (basePath !== '' && (!basePath.startsWith('/') || basePath.endsWith('/')))) {
    throw new TypeError(`Expected \`basePath\` to be '' or a path like '/api' (no trailing slash), got \`${show(basePath)}\`.`)
  }
  assertPositiveInteger(maxBodyBytes, 'maxBodyBytes')
  const store = options.store ?? pipeline.store
  if (store === undefined) {
    throw new TypeError('Expected `store` for a pipeline built with `Pipeline.from` (it has no store of its own).')
  }

  const allowOrigin = corsPolicy(options.corsOrigins)
  const api = new Api(pipeline, store, maxBodyBytes, basePath, onError)
  return async function promptlineHandler(request: Request): Promise<Response> {
    const origin = allowOrigin(request.headers.get('origin'))
    if (origin === undefined) return answer(request)
    if (request.method === 'OPTIONS' && request.headers.has('access-control-request-method')) {
      return new Response(null, {
        status: 204,
        headers: {
          'access-control-allow-origin': origin,
          'access-control-allow-methods': 'GET, POST, DELETE',
          'access-control-allow-headers': 'authorization, content-type, accept',
          'access-control-max-age': '600',
          vary: 'origin',
        },
      })
    }
    const response = await answer(request)
    response.headers.set('access-control-allow-origin', origin)
    response.headers.set('access-control-expose-headers', 'location, retry-after, www-authenticate')
    response.headers.append('vary', 'origin')
    return response
  }

  async function answer(request: Request): Promise<Response> {
    try {
      const url = new URL(request.url)
      if (!url.pathname.startsWith(`${basePath}/`)) throw notFound()
      const route = routeOf(url.pathname.slice(basePath.length), request.method)
      const principal = await authenticate(request)
      if (principal === null) {
        throw new HttpProblem(401, 'unauthenticated', 'Expected valid credentials (Authorization: Bearer <token>).', {
          headers: { 'www-authenticate': 'Bearer' },
        })
      }
      if (principal === false) throw new HttpProblem(403, 'forbidden', 'These credentials may not use this API.')
      if (typeof principal !== 'string' || principal.length === 0) {
        throw new Error(`authenticate returned ${show(principal)}; expected a non-empty string, null or false`)
      }
      return await api.handle(route, principal, request, url)
    } catch (error) {
      const answer = problemOf(error)
      if (answer.unexpected) onError(error, request)
      return problemResponse(answer)
    }
  }
}

type Route =
  | { kind: 'list' }
  | { kind: 'delete'; id: string }
  | { kind: 'history'; id: string }
  | { kind: 'turn'; id: string }
  | { kind: 'fork'; id: string }

/** The route of a path below the base (`/sessions/…`); 404 or 405 (with `Allow`) otherwise. */
function routeOf(path: string, method: string): Route {
  // Split before decoding: an id may contain an encoded `/` (`%2F`), which stays part of it.
  const parts = path.slice(1).split('/')
  const [collection, rawId, action] = parts
  if (collection !== 'sessions' || parts.length > 3) throw notFound()
  const allow = (methods: string): never => {
    throw new HttpProblem(405, 'method-not-allowed', `Expected one of ${methods} on this path, got ${method}.`, { headers: { allow: methods } })
  }
  if (rawId === undefined) return method === 'GET' ? { kind: 'list' } : allow('GET')
  const id = decodeSegment(rawId)
  if (action === undefined) return method === 'DELETE' ? { kind: 'delete', id } : allow('DELETE')
  if (action === 'messages') return method === 'GET' ? { kind: 'history', id } : method === 'POST' ? { kind: 'turn', id } : allow('GET, POST')
  if (action === 'fork') return method === 'POST' ? { kind: 'fork', id } : allow('POST')
  throw notFound()
}

/** The `Access-Control-Allow-Origin` value for a request's `Origin`, or `undefined` (no CORS headers). */
function corsPolicy(origins: unknown): (origin: string | null) => string | undefined {
  if (origins === undefined) return () => undefined
  if (origins === '*') return (origin) => (origin === null ? undefined : '*')
  if (!Array.isArray(origins) || origins.some((origin) => typeof origin !== 'string' || !/^https?:\/\/[^/]+$/.test(origin))) {
    throw new TypeError(`Expected \`corsOrigins\` to be '*' or an array of origins like 'https://chat.example.com' (no path), got \`${show(origins)}\`.`)
  }
  const allowed = new Set(origins as string[])
  return (origin) => (origin !== null && allowed.has(origin) ? origin : undefined)
}

function decodeSegment(segment: string): string {
  try {
    return decodeURIComponent(segment)
  } catch {
    throw new HttpProblem(400, 'invalid-request', 'Expected the session id in the path to be valid percent-encoded UTF-8.', { field: 'id' })
  }
}

class Api {
  constructor(
    readonly pipeline: Pipeline,
    readonly store: StateStore,
    readonly maxBodyBytes: number,
    readonly basePath: string,
    readonly onError: (error: unknown, request: Request) => void,
  ) {}

  async handle(route: Route, principal: string, request: Request, url: URL): Promise<Response> {
    switch (route.kind) {
      case 'list':
        return this.list(principal, url)
      case 'delete':
        return this.delete(principal, route.id)
      case 'history':
        return this.history(principal, route.id, url)
      case 'turn':
        return this.turn(principal, route.id, request)
      case 'fork':
        return this.fork(principal, route.id, request)
    }
  }

  async list(principal: string, url: URL): Promise<Response> {
    const limit = integerParam(url, 'limit', DEFAULT_LIST_LIMIT)
    if (limit > MAX_LIST_LIMIT) throw new HttpProblem(400, 'invalid-request', `Expected \`limit\` to be at most ${MAX_LIST_LIMIT}, got \`${limit}\`.`, { field: 'limit' })
    const prefix = principalPrefix(principal)
    const sessions: string[] = []
    for await (const stored of this.store.list()) {
      if (!stored.startsWith(prefix)) continue
      sessions.push(stored.slice(prefix.length))
      if (sessions.length >= limit) break
    }
    return json(200, { sessions })
  }

  async delete(principal: string, id: string): Promise<Response> {
    const sessionId = scopedId(principal, id, 'id')
    // On a leasing store, a delete waits for a turn in flight on any instance: that
    // turn's append would otherwise bring the session back holding only its own messages.
    const lease = await this.store.acquireLease?.(sessionId)
    let existed: boolean
    try {
      existed = await this.store.delete(sessionId)
    } finally {
      await lease?.release()
    }
    if (!existed) throw new HttpProblem(404, 'session-not-found', 'No such session.')
    return new Response(null, { status: 204 })
  }

  async history(principal: string, id: string, url: URL): Promise<Response> {
    const last = url.searchParams.has('last') ? integerParam(url, 'last', 0) : undefined
    const messages = await this.store.load(scopedId(principal, id, 'id'), last === undefined ? undefined : { last })
    if (messages.length === 0) throw new HttpProblem(404, 'session-not-found', 'No such session.')
    return json(200, { id, messages })
  }

  async fork(principal: string, id: string, request: Request): Promise<Response> {
    const body = objectBody(await readJsonBody(request, this.maxBodyBytes))
    assertKnownKeys(body, FORK_KEYS, '')
    const source = scopedId(principal, id, 'id')
    const target = scopedId(principal, body.to, 'to')
    await this.store.fork(source, target)
    return json(201, { id: body.to }, { location: `${this.basePath}/sessions/${encodeURIComponent(body.to as string)}/messages` })
  }

  async turn(principal: string, id: string, request: Request): Promise<Response> {
    const body = objectBody(await readJsonBody(request, this.maxBodyBytes))
    assertKnownKeys(body, TURN_KEYS, '')
    const sessionId = scopedId(principal, id, 'id')
    const stream = body.stream ?? /\btext\/event-stream\b/.test(request.headers.get('accept') ?? '')
    if (typeof stream !== 'boolean') throw new HttpProblem(400, 'invalid-request', `Expected \`stream\` to be a boolean, got \`${show(stream)}\`.`, { field: 'stream' })
    // The turn stops when the client goes away: its request's signal aborts, or (SSE) it stops reading.
    const abort = new AbortController()
    const onClientGone = () => abort.abort(new AbortError('The client disconnected'))
    if (request.signal.aborted) onClientGone()
    request.signal.addEventListener('abort', onClientGone, { once: true })
    const turn = turnArguments(body, abort.signal)
    // Validated here with the pipeline's own rules, so a bad turn is a 400, not an SSE error event.
    if (turn.messages === undefined) readTurn(sessionId, turn.role, turn.content, turn.options)
    else readTurn(sessionId, turn.messages, turn.options, undefined)
    if (!stream) {
      try {
        const result =
          turn.messages === undefined
            ? await this.pipeline.execute(sessionId, turn.role, turn.content, turn.options)
            : await this.pipeline.execute(sessionId, turn.messages, turn.options)
        return json(200, turnBody(result, id))
      } finally {
        request.signal.removeEventListener('abort', onClientGone)
      }
    }
    const chunks =
      turn.messages === undefined
        ? this.pipeline.stream(sessionId, turn.role, turn.content, turn.options)
        : this.pipeline.stream(sessionId, turn.messages, turn.options)
    const events = sseBody(chunks, id, (error) => this.onError(error, request), onClientGone)
    return new Response(events, {
      status: 200,
      headers: {
        'content-type': 'text/event-stream; charset=utf-8',
        'cache-control': 'no-cache, no-transform',
        // nginx and similar proxies buffer responses unless told not to.
        'x-accel-buffering': 'no',
      },
    })
  }
}

interface TurnArguments {
  role: Role
  content: string
  messages: Message[] | undefined
  options: { signal: AbortSignal; toolCallId?: string; name?: string }
}

function turnArguments(body: Record<string, unknown>, signal: AbortSignal): TurnArguments {
  if (body.messages !== undefined) {
    for (const key of ['content', 'role', 'toolCallId', 'name']) {
      if (body[key] !== undefined) throw new HttpProblem(400, 'invalid-request', `Expected either \`messages\` or \`${key}\`, got both.`, { field: key })
    }
    if (!Array.isArray(body.messages)) throw new HttpProblem(400, 'invalid-request', `Expected \`messages\` to be an array, got \`${show(body.messages)}\`.`, { field: 'messages' })
    for (const [i, message] of (body.messages as unknown[]).entries()) {
      const field = `messages[${i}]`
      const value = objectBody(message, field)
      assertKnownKeys(value, TOOL_MESSAGE_KEYS, field)
      checkRole(value.role, `${field}.role`)
    }
    return { role: 'user', content: '', messages: body.messages as Message[], options: { signal } }
  }
  const role = body.role ?? 'user'
  checkRole(role, 'role')
  const options: TurnArguments['options'] = { signal }
  if (body.toolCallId !== undefined) options.toolCallId = body.toolCallId as string
  if (body.name !== undefined) options.name = body.name as string
  return { role: role as Role, content: body.content as string, messages: undefined, options }
}

function checkRole(role: unknown, field: string): void {
  if (typeof role === 'string' && (CLIENT_ROLES as readonly string[]).includes(role)) return
  throw new HttpProblem(400, 'invalid-request', `Expected \`${field}\` to be 'user' or 'tool', got \`${show(role)}\`.`, { field })
}

function objectBody(value: unknown, field = 'body'): Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) {
    throw new HttpProblem(400, 'invalid-request', `Expected \`${field}\` to be a JSON object, got \`${show(value)}\`.`, { field })
  }
  return value as Record<string, unknown>
}

function integerParam(url: URL, name: string, fallback: number): number {
  const raw = url.searchParams.get(name)
  if (raw === null) return fallback
  const value = /^\d{1,15}$/.test(raw) ? Number(raw) : Number.NaN
  if (!Number.isSafeInteger(value) || value < 1) {
    throw new HttpProblem(400, 'invalid-request', `Expected \`${name}\` to be a positive integer, got \`${raw.slice(0, 40)}\`.`, { field: name })
  }
  return value
}

function json(status: number, body: unknown, headers: Record<string, string> = {}): Response {
  return new Response(JSON.stringify(body), {
    status,
    headers: { 'content-type': 'application/json; charset=utf-8', 'cache-control': 'no-store', ...headers },
  })
}

function notFound(): HttpProblem {
  return new HttpProblem(404, 'not-found', 'No such route.')
}

function logError(error: unknown): void {
  console.error('promptline/http: unexpected error', error)
}
