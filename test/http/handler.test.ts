/**
 * promptline/http over real HTTP: a node:http server (toNodeListener) and fetch.
 */
import { afterAll, afterEach, beforeAll, describe, expect, it } from 'vitest'
import { request as httpRequest } from 'node:http'
import { Pipeline } from '../../src/pipeline.js'
import { MemoryStore } from '../../src/stores/memory.js'
import { MockProvider } from '../../src/providers/mock.js'
import { ProviderError } from '../../src/errors.js'
import type { Provider, ProviderChunk, ProviderRequest } from '../../src/types.js'
import { bearerAuth, createHandler, type HandlerOptions } from '../../src/http.js'
import { parseSse, serveHandler, type RunningServer } from '../helpers/http-server.js'

const JSON_TYPE = { 'content-type': 'application/json' }
const ALICE = 'alice-token-123'
const BOB = 'bob-token-4567'
const MALLORY = 'mallory-token-89'

/** A provider the tests steer: an echo, or a scripted failure, or a stream that hangs after one delta. */
class SteeredProvider implements Provider {
  readonly name = 'steered'
  readonly requests: ProviderRequest[] = []
  next: 'echo' | 'rate-limit' | 'fail' | 'hang' | 'timeout' = 'echo'
  aborted = 0

  async complete(request: ProviderRequest) {
    this.requests.push(request)
    const mode = this.take()
    if (mode === 'rate-limit') throw new ProviderError('steered', 'slow down, key sk-secret-abc', { status: 429 })
    if (mode === 'fail') throw new ProviderError('steered', 'upstream said: internal key sk-secret-abc', { status: 500 })
    if (mode === 'timeout') throw new ProviderError('steered', 'timed out: no data for 10 ms')
    if (mode === 'hang') await this.hang(request.signal)
    const last = request.messages.at(-1)
    return { message: { role: 'assistant' as const, content: `Echo: ${String(last?.content)}` } }
  }

  async *stream(request: ProviderRequest): AsyncIterable<ProviderChunk> {
    this.requests.push(request)
    const mode = this.take()
    if (mode === 'fail') throw new ProviderError('steered', 'upstream said: sk-secret-abc', { status: 500 })
    const text = `Echo: ${String(request.messages.at(-1)?.content)}`
    const words = text.split(' ')
    for (const [i, word] of words.entries()) {
      yield { type: 'delta', text: i === 0 ? word : ` ${word}` }
      if (mode === 'hang') await this.hang(request.signal)
    }
    yield { type: 'done', response: { message: { role: 'assistant', content: text } } }
  }

  private take() {
    const mode = this.next
    this.next = 'echo'
    return mode
  }

  private hang(signal: AbortSignal | undefined): Promise<never> {
    return new Promise((_, reject) => {
      signal?.addEventListener('abort', () => {
        this.aborted++
        reject(signal.reason)
      })
    })
  }
}

let provider: SteeredProvider
let store: MemoryStore
let pipeline: Pipeline
let server: RunningServer
const unexpected: unknown[] = []

function start(options: Partial<HandlerOptions> = {}) {
  return serveHandler(
    createHandler(pipeline, {
      authenticate: bearerAuth({ [ALICE]: 'alice', [BOB]: 'bob', [MALLORY]: 'alice/x' }),
      basePath: '/api',
      maxBodyBytes: 4096,
      onError: (error) => unexpected.push(error),
      ...options,
    }),
  )
}

beforeAll(async () => {
  provider = new SteeredProvider()
  store = new MemoryStore()
  pipeline = new Pipeline({ provider, store, systemPrompt: 'secret system prompt', timeoutMs: 2_000 })
  server = await start()
})
afterAll(async () => {
  await server.close()
  await pipeline.shutdown()
})
afterEach(() => {
  unexpected.length = 0
})

function call(path: string, init: RequestInit & { token?: string | null } = {}) {
  const { token = ALICE, ...rest } = init
  const headers = new Headers(rest.headers)
  if (token !== null) headers.set('authorization', `Bearer ${token}`)
  if (rest.body !== undefined && !headers.has('content-type')) headers.set('content-type', 'application/json')
  return fetch(`${server.url}/api${path}`, { ...rest, headers })
}

const post = (path: string, body: unknown, token: string | null = ALICE) => call(path, { method: 'POST', body: JSON.stringify(body), token })

async function expectProblem(response: Response, status: number, type: string, field?: string) {
  expect(response.status).toBe(status)
  expect(response.headers.get('content-type')).toBe('application/problem+json')
  const problem = (await response.json()) as Record<string, unknown>
  expect(problem).toMatchObject({ status, type: `urn:promptline:problem:${type}` })
  if (field !== undefined) expect(problem.field).toBe(field)
  const text = JSON.stringify(problem)
  expect(text).not.toMatch(/sk-secret|\bat .*\.ts:\d+|secret system prompt|alice-token/)
  return problem
}

describe('turns', () => {
  it('POST messages runs a turn and answers JSON without the provider view', async () => {
    const response = await post('/sessions/chat-1/messages', { content: 'Hi' })
    expect(response.status).toBe(200)
    const body = (await response.json()) as Record<string, unknown>
    expect(body).toMatchObject({ id: 'chat-1', message: { role: 'assistant', content: 'Echo: Hi' }, saved: true, storedLength: 2 })
    expect(JSON.stringify(body)).not.toContain('secret system prompt')
    expect(await store.load('alice/chat-1')).toEqual([
      { role: 'user', content: 'Hi' },
      { role: 'assistant', content: 'Echo: Hi' },
    ])
  })

  it('streams Server-Sent Events: delta events, then done with the turn', async () => {
    const response = await post('/sessions/chat-sse/messages', { content: 'one two three', stream: true })
    expect(response.status).toBe(200)
    expect(response.headers.get('content-type')).toBe('text/event-stream; charset=utf-8')
    const text = await response.text()
    expect(text.startsWith(': accepted\n\n')).toBe(true)
    const events = parseSse(text)
    expect(events.map((e) => e.event)).toEqual(['delta', 'delta', 'delta', 'delta', 'done'])
    expect(events.slice(0, -1).map((e) => (e.data as { text: string }).text).join('')).toBe('Echo: one two three')
    expect(events.at(-1)?.data).toMatchObject({ id: 'chat-sse', message: { content: 'Echo: one two three' }, saved: true })
  })

  it('streams when the client asks with Accept: text/event-stream', async () => {
    const response = await call('/sessions/chat-accept/messages', {
      method: 'POST',
      body: JSON.stringify({ content: 'hello' }),
      headers: { accept: 'text/event-stream' },
    })
    expect(parseSse(await response.text()).map((e) => e.event)).toEqual(['delta', 'delta', 'done'])
  })

  it('a provider failure mid-stream ends the stream with an error event, no secret in it', async () => {
    provider.next = 'fail'
    const response = await post('/sessions/chat-sse-fail/messages', { content: 'x', stream: true })
    const events = parseSse(await response.text())
    expect(events).toEqual([{ event: 'error', data: expect.objectContaining({ status: 502, type: 'urn:promptline:problem:provider-failed' }) }])
    expect(JSON.stringify(events)).not.toContain('sk-secret')
  })

  it('adds several tool messages in one turn', async () => {
    const response = await post('/sessions/chat-tools/messages', {
      messages: [
        { role: 'tool', content: '42', toolCallId: 'call_1' },
        { role: 'tool', content: '43', toolCallId: 'call_2' },
      ],
    })
    expect(response.status).toBe(200)
    expect((await store.load('alice/chat-tools')).map((m) => m.role)).toEqual(['tool', 'tool', 'assistant'])
  })

  it('a client that disconnects mid-stream aborts the turn: nothing is stored', async () => {
    provider.next = 'hang'
    const before = provider.aborted
    const controller = new AbortController()
    // Read the first delta, then hang up.
    const again = await fetch(`${server.url}/api/sessions/chat-gone2/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      body: JSON.stringify({ content: 'wait for it', stream: true }),
      signal: controller.signal,
    })
    const reader = again.body!.getReader()
    let seen = ''
    while (!seen.includes('event: delta')) seen += new TextDecoder().decode((await reader.read()).value)
    controller.abort()
    await expect.poll(() => provider.aborted, { timeout: 2_000 }).toBeGreaterThan(before)
    // The turn is over and nothing of it is stored; the session takes new turns.
    expect(await store.load('alice/chat-gone2')).toEqual([])
    const next = await post('/sessions/chat-gone2/messages', { content: 'again' })
    expect(next.status).toBe(200)
    expect((await store.load('alice/chat-gone2')).map((m) => m.content)).toEqual(['again', 'Echo: again'])
  })

  it('a client that disconnects during a non-streamed turn aborts it', async () => {
    provider.next = 'hang'
    const before = provider.aborted
    await new Promise<void>((resolve) => {
      const body = JSON.stringify({ content: 'hang up' })
      const req = httpRequest(`${server.url}/api/sessions/chat-gone-json/messages`, {
        method: 'POST',
        headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) },
      })
      req.on('error', () => resolve())
      req.end(body)
      // Hang up once the provider has the request.
      const timer = setInterval(() => {
        if (provider.requests.some((r) => r.messages.at(-1)?.content === 'hang up')) {
          clearInterval(timer)
          req.destroy()
          resolve()
        }
      }, 5)
    })
    await expect.poll(() => provider.aborted, { timeout: 2_000 }).toBeGreaterThan(before)
    expect(await store.load('alice/chat-gone-json')).toEqual([])
  })
})

describe('sessions', () => {
  it('GET messages returns the history, ?last=N its tail; an unknown session is 404', async () => {
    await post('/sessions/hist/messages', { content: 'a' })
    await post('/sessions/hist/messages', { content: 'b' })
    const all = (await (await call('/sessions/hist/messages')).json()) as { messages: unknown[] }
    expect(all.messages).toHaveLength(4)
    const tail = (await (await call('/sessions/hist/messages?last=1')).json()) as { id: string; messages: unknown[] }
    expect(tail).toEqual({ id: 'hist', messages: [{ role: 'assistant', content: 'Echo: b' }] })
    await expectProblem(await call('/sessions/never/messages'), 404, 'session-not-found')
  })

  it('fork copies a session (201), refuses an existing target (409) and a missing source (404)', async () => {
    await post('/sessions/src/messages', { content: 'fork me' })
    const response = await post('/sessions/src/fork', { to: 'copy' })
    expect(response.status).toBe(201)
    expect(response.headers.get('location')).toBe('/api/sessions/copy/messages')
    expect(await store.load('alice/copy')).toEqual(await store.load('alice/src'))
    await expectProblem(await post('/sessions/src/fork', { to: 'copy' }), 409, 'session-exists')
    await expectProblem(await post('/sessions/nothing-here/fork', { to: 'copy2' }), 404, 'session-not-found')
  })

  it('DELETE removes a session (204), then 404', async () => {
    await post('/sessions/gone/messages', { content: 'bye' })
    expect((await call('/sessions/gone', { method: 'DELETE' })).status).toBe(204)
    expect(await store.length('alice/gone')).toBe(0)
    await expectProblem(await call('/sessions/gone', { method: 'DELETE' }), 404, 'session-not-found')
  })

  it('GET /sessions lists only the caller\'s sessions, with ?limit', async () => {
    await post('/sessions/bob-1/messages', { content: 'x' }, BOB)
    const alice = (await (await call('/sessions')).json()) as { sessions: string[] }
    expect(alice.sessions).toContain('chat-1')
    expect(alice.sessions).not.toContain('bob-1')
    const bob = (await (await call('/sessions', { token: BOB })).json()) as { sessions: string[] }
    expect(bob.sessions).toEqual(['bob-1'])
    const limited = (await (await call('/sessions?limit=1')).json()) as { sessions: string[] }
    expect(limited.sessions).toHaveLength(1)
  })
})

describe('sessions belong to their principal, whatever id is sent', () => {
  const HOSTILE = ['chat-1', 'alice/chat-1', 'alice%2Fchat-1', '..%2Falice%2Fchat-1', '%2e%2e', 'alice', 'x', '%252F', 'chat-1%00']

  it.each(HOSTILE)('bob cannot read, write into, fork from, fork into or delete alice\'s chat-1 via %s', async (raw) => {
    const aliceBefore = await store.load('alice/chat-1')
    expect(aliceBefore.length).toBeGreaterThan(0)
    const read = await call(`/sessions/${raw}/messages`, { token: BOB })
    if (read.status === 200) {
      // Only ever bob's own session of that name.
      const { messages } = (await read.json()) as { messages: { content: string }[] }
      expect(messages.every((m) => !m.content.includes('Hi'))).toBe(true)
    } else {
      expect([400, 404]).toContain(read.status)
    }
    await post(`/sessions/${raw}/messages`, { content: 'bob was here' }, BOB)
    await post(`/sessions/${raw}/fork`, { to: 'stolen' }, BOB)
    await post(`/sessions/bob-1/fork`, { to: decodeURIComponent(raw.replace(/%25/g, '%')) }, BOB).catch(() => undefined)
    await call(`/sessions/${raw}`, { method: 'DELETE', token: BOB })
    expect(await store.load('alice/chat-1')).toEqual(aliceBefore)
    const stolen = await call('/sessions/stolen/messages', { token: BOB })
    if (stolen.status === 200) expect(JSON.stringify(await stolen.json())).not.toContain('Echo: Hi"')
    await call('/sessions/stolen', { method: 'DELETE', token: BOB })
    const listed = (await (await call('/sessions', { token: BOB })).json()) as { sessions: string[] }
    expect(listed.sessions.some((id) => id.includes('alice/') && !id.startsWith('alice/') )).toBe(false)
  })

  it('a principal whose name looks like a prefix of another never sees the other\'s sessions', async () => {
    // MALLORY's principal is "alice/x": its sessions are stored as "alice%2Fx/<id>".
    await post('/sessions/chat-1/messages', { content: 'mallory' }, MALLORY)
    expect((await store.load('alice%2Fx/chat-1')).map((m) => m.content)).toEqual(['mallory', 'Echo: mallory'])
    const listed = (await (await call('/sessions', { token: MALLORY })).json()) as { sessions: string[] }
    expect(listed.sessions).toEqual(['chat-1'])
    const history = (await (await call('/sessions/chat-1/messages', { token: MALLORY })).json()) as { messages: { content: string }[] }
    expect(history.messages.map((m) => m.content)).toEqual(['mallory', 'Echo: mallory'])
    const aliceList = (await (await call('/sessions')).json()) as { sessions: string[] }
    expect(aliceList.sessions.some((id) => id.startsWith('x/'))).toBe(false)
  })

  it('an id with an encoded slash stays one id of the caller', async () => {
    const response = await post('/sessions/a%2Fb/messages', { content: 'slash' }, BOB)
    expect(response.status).toBe(200)
    expect(await store.length('bob/a/b')).toBe(2)
    const listed = (await (await call('/sessions', { token: BOB })).json()) as { sessions: string[] }
    expect(listed.sessions).toContain('a/b')
  })
})

describe('errors: problem details with the right status', () => {
  it.each([
    ['no token', null, 401, 'unauthenticated'],
    ['a wrong token', 'not-a-real-token', 401, 'unauthenticated'],
  ])('%s → %i', async (_name, token, status, type) => {
    const response = await call('/sessions', { token })
    await expectProblem(response, status, type)
    expect(response.headers.get('www-authenticate')).toBe('Bearer')
  })

  it('authenticate returning false → 403', async () => {
    const forbidding = await start({ authenticate: () => false })
    try {
      const response = await fetch(`${forbidding.url}/api/sessions`)
      await expectProblem(response, 403, 'forbidden')
    } finally {
      await forbidding.close()
    }
  })

  it('authenticate throwing → 500 with a fixed text; the error goes to onError', async () => {
    const broken = await start({
      authenticate: () => {
        throw new Error('database password hunter2 rejected')
      },
    })
    try {
      const problem = await expectProblem(await fetch(`${broken.url}/api/sessions`), 500, 'internal')
      expect(JSON.stringify(problem)).not.toContain('hunter2')
      expect(unexpected).toHaveLength(1)
    } finally {
      await broken.close()
    }
  })

  it.each([
    ['content missing', { role: 'user' }, 'content'],
    ['content not a string', { content: 42 }, 'content'],
    ['an unknown field (with a suggestion)', { contnet: 'hi' }, 'contnet'],
    ['role system', { content: 'x', role: 'system' }, 'role'],
    ['role assistant', { content: 'x', role: 'assistant' }, 'role'],
    ['stream not a boolean', { content: 'x', stream: 'yes' }, 'stream'],
    ['a tool message without toolCallId', { content: 'x', role: 'tool' }, 'toolCallId'],
    ['messages not an array', { messages: 'x' }, 'messages'],
    ['messages and content together', { messages: [], content: 'x' }, 'content'],
    ['a message with a bad role', { messages: [{ role: 'system', content: 'x' }] }, 'messages[0].role'],
    ['a body that is not an object', [1, 2], 'body'],
  ])('400 for %s, naming the field', async (_name, body, field) => {
    const problem = await expectProblem(await post('/sessions/bad/messages', body), 400, 'invalid-request', field)
    expect(problem.detail).toContain(String(field))
  })

  it('400 for a bad fork target, bad JSON, bad ?last and ?limit, an over-long id', async () => {
    await expectProblem(await post('/sessions/src/fork', { to: '' }), 400, 'invalid-request', 'to')
    await expectProblem(await post('/sessions/src/fork', {}), 400, 'invalid-request', 'to')
    await expectProblem(await call('/sessions/x/messages', { method: 'POST', body: '{"content": ' }), 400, 'invalid-json')
    await expectProblem(await call('/sessions/hist/messages?last=0'), 400, 'invalid-request', 'last')
    await expectProblem(await call('/sessions/hist/messages?last=abc'), 400, 'invalid-request', 'last')
    await expectProblem(await call('/sessions?limit=5000'), 400, 'invalid-request', 'limit')
    await expectProblem(await post(`/sessions/${'x'.repeat(600)}/messages`, { content: 'x' }), 400, 'invalid-request', 'id')
    await expectProblem(await call('/sessions/%E0%A4%A/messages'), 400, 'invalid-request', 'id')
  })

  it('413 for a body over the limit, declared or not', async () => {
    await expectProblem(await post('/sessions/big/messages', { content: 'x'.repeat(5000) }), 413, 'body-too-large')
    // No Content-Length: a streamed body is cut off once it passes the limit.
    const chunks = new ReadableStream<Uint8Array>({
      start(controller) {
        controller.enqueue(new TextEncoder().encode(`{"content": "${'y'.repeat(3000)}`))
        controller.enqueue(new TextEncoder().encode(`${'y'.repeat(3000)}"}`))
        controller.close()
      },
    })
    const response = await fetch(`${server.url}/api/sessions/big/messages`, {
      method: 'POST',
      headers: { authorization: `Bearer ${ALICE}`, 'content-type': 'application/json' },
      body: chunks,
      duplex: 'half',
    } as RequestInit)
    await expectProblem(response, 413, 'body-too-large')
    expect(await store.length('alice/big')).toBe(0)
  })

  it('415 for a body that is not JSON', async () => {
    await expectProblem(await call('/sessions/x/messages', { method: 'POST', body: 'content=hi', headers: { 'content-type': 'application/x-www-form-urlencoded' } }), 415, 'unsupported-media-type')
  })

  it('404 for unknown routes and paths outside basePath, 405 with Allow for a wrong method', async () => {
    await expectProblem(await call('/nope'), 404, 'not-found')
    await expectProblem(await call('/sessions/x/other'), 404, 'not-found')
    await expectProblem(await fetch(`${server.url}/sessions`), 404, 'not-found')
    const wrong = await call('/sessions/x/messages', { method: 'PUT', body: '{}' })
    expect(wrong.headers.get('allow')).toBe('GET, POST')
    await expectProblem(wrong, 405, 'method-not-allowed')
  })

  it('429, 502 and 504 for provider failures, without the provider\'s message', async () => {
    provider.next = 'rate-limit'
    const limited = await post('/sessions/p/messages', { content: 'x' })
    expect(limited.headers.get('retry-after')).toBe('5')
    await expectProblem(limited, 429, 'provider-rate-limited')
    provider.next = 'fail'
    await expectProblem(await post('/sessions/p/messages', { content: 'x' }), 502, 'provider-failed')
    provider.next = 'timeout'
    await expectProblem(await post('/sessions/p/messages', { content: 'x' }), 504, 'provider-timeout')
    expect(await store.length('alice/p')).toBe(0)
  })

  it('504 when the turn passes its deadline', async () => {
    const slow = new Pipeline({ provider: new MockProvider({ latencyMs: 500 }), timeoutMs: 50 })
    const slowServer = await serveHandler(createHandler(slow, { authenticate: () => 'u', onError: (e) => unexpected.push(e) }))
    try {
      await expectProblem(await fetch(`${slowServer.url}/sessions/s/messages`, { method: 'POST', body: '{"content":"x"}', headers: JSON_TYPE }), 504, 'turn-timeout')
    } finally {
      await slowServer.close()
      await slow.shutdown()
    }
  })

  it('503 when the store is down, with a fixed text; the error goes to onError', async () => {
    const closed = new MemoryStore()
    const pipe = new Pipeline({ provider: new MockProvider(), store: closed })
    await closed.close()
    const down = await serveHandler(createHandler(pipe, { authenticate: () => 'u', onError: (e) => unexpected.push(e) }))
    try {
      await expectProblem(await fetch(`${down.url}/sessions/s/messages`, { method: 'POST', body: '{"content":"x"}', headers: JSON_TYPE }), 503, 'unavailable')
      expect(unexpected.length).toBeGreaterThan(0)
    } finally {
      await down.close()
    }
  })
})

describe('CORS (corsOrigins)', () => {
  it('answers preflights and marks responses for an allowed origin only', async () => {
    const cors = await start({ corsOrigins: ['https://chat.example.com'] })
    try {
      const preflight = await fetch(`${cors.url}/api/sessions/c/messages`, {
        method: 'OPTIONS',
        headers: { origin: 'https://chat.example.com', 'access-control-request-method': 'POST', 'access-control-request-headers': 'authorization, content-type' },
      })
      expect(preflight.status).toBe(204)
      expect(preflight.headers.get('access-control-allow-origin')).toBe('https://chat.example.com')
      expect(preflight.headers.get('access-control-allow-headers')).toContain('authorization')
      const turn = await fetch(`${cors.url}/api/sessions/c/messages`, {
        method: 'POST',
        headers: { origin: 'https://chat.example.com', authorization: `Bearer ${ALICE}`, ...JSON_TYPE },
        body: '{"content":"hi"}',
      })
      expect(turn.status).toBe(200)
      expect(turn.headers.get('access-control-allow-origin')).toBe('https://chat.example.com')
      expect(turn.headers.get('vary')).toContain('origin')
      const stranger = await fetch(`${cors.url}/api/sessions`, { headers: { origin: 'https://evil.example', authorization: `Bearer ${ALICE}` } })
      expect(stranger.headers.get('access-control-allow-origin')).toBeNull()
      const strangerPreflight = await fetch(`${cors.url}/api/sessions`, {
        method: 'OPTIONS',
        headers: { origin: 'https://evil.example', 'access-control-request-method': 'GET' },
      })
      await expectProblem(strangerPreflight, 405, 'method-not-allowed')
    } finally {
      await cors.close()
    }
  })

  it('without corsOrigins, no CORS header is ever sent', async () => {
    const response = await call('/sessions', { headers: { origin: 'https://chat.example.com' } })
    expect(response.status).toBe(200)
    expect(response.headers.get('access-control-allow-origin')).toBeNull()
  })
})

describe('createHandler validates its arguments', () => {
  const authenticate = () => 'u'
  it.each([
    ['no pipeline', undefined, { authenticate }, /`pipeline` to be a Pipeline/],
    ['no options', 'pipe', undefined, /`options` to be an object/],
    ['no authenticate', 'pipe', {}, /`authenticate` to be a function/],
    ['an unknown option', 'pipe', { authenticate, basepath: '/x' }, /Unknown option `basepath`; did you mean `basePath`/],
    ['a basePath without a slash', 'pipe', { authenticate, basePath: 'api' }, /`basePath`/],
    ['a basePath with a trailing slash', 'pipe', { authenticate, basePath: '/api/' }, /`basePath`/],
    ['a bad maxBodyBytes', 'pipe', { authenticate, maxBodyBytes: 0 }, /`maxBodyBytes` to be a positive integer/],
    ['a bad onError', 'pipe', { authenticate, onError: 'log' }, /`onError` to be a function/],
    ['a CORS origin with a path', 'pipe', { authenticate, corsOrigins: ['https://x.example/app'] }, /`corsOrigins` to be '\*' or an array of origins/],
    ['a CORS origins string', 'pipe', { authenticate, corsOrigins: 'https://x.example' }, /`corsOrigins`/],
  ])('%s', (_name, pipe, options, message) => {
    expect(() => createHandler((pipe === 'pipe' ? pipeline : pipe) as Pipeline, options as HandlerOptions)).toThrow(message)
  })

  it('a Pipeline.from chain needs a store', () => {
    const chain = Pipeline.from([async function noop(_ctx, next) { await next() }])
    expect(() => createHandler(chain, { authenticate })).toThrow(/Expected `store`/)
  })

  it.each([
    ['a non-object', 'token', /`tokens`/],
    ['no tokens', [], /at least one token/],
    ['a short token', ['short'], /`tokens\[0\]` to be a string of at least 8/],
    ['an empty principal', { 'long-enough-token': '' }, /principal/],
  ])('bearerAuth rejects %s', (_name, tokens, message) => {
    expect(() => bearerAuth(tokens as string[])).toThrow(message)
  })

  it('bearerAuth with a list names each token\'s principal by its hash, never the token', () => {
    const auth = bearerAuth(['first-token-1', 'second-token-2'])
    const principal = auth(new Request('http://x/', { headers: { authorization: 'Bearer first-token-1' } }))
    expect(principal).toMatch(/^token-[0-9a-f]{16}$/)
    expect(auth(new Request('http://x/', { headers: { authorization: 'Bearer second-token-2' } }))).not.toBe(principal)
    expect(auth(new Request('http://x/', { headers: { authorization: 'Basic first-token-1' } }))).toBeNull()
  })
})
