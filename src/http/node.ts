import type { IncomingMessage, ServerResponse } from 'node:http'
import { Readable } from 'node:stream'
import type { Handler } from './handler.js'

/**
 * Serves a Web-standard handler from `node:http` (or `node:https`):
 * `http.createServer(toNodeListener(handler))`. The request's `signal` aborts when
 * the client disconnects, which ends a running turn; the response body is written
 * as it comes (SSE), honouring back-pressure.
 *
 * @example
 * ```ts
 * import { createServer } from 'node:http'
 * createServer(toNodeListener(createHandler(pipeline, { authenticate }))).listen(3000)
 * ```
 */
export function toNodeListener(handler: Handler): (req: IncomingMessage, res: ServerResponse) => void {
  if (typeof handler !== 'function') throw new TypeError(`Expected \`handler\` to be a function, got \`${typeof handler}\`.`)
  return function nodeListener(req, res) {
    void serve(handler, req, res)
  }
}

async function serve(handler: Handler, req: IncomingMessage, res: ServerResponse): Promise<void> {
  const gone = new AbortController()
  // 'close' on the response: the connection ended; before the response finished, the client left.
  res.once('close', () => {
    if (!res.writableFinished) gone.abort(new Error('The client disconnected'))
  })
  let response: Response
  try {
    response = await handler(toRequest(req, gone.signal))
  } catch (error) {
    // A handler from createHandler never throws; another one might.
    console.error('promptline/http: the handler threw', error)
    response = new Response(null, { status: 500 })
  }
  const headers: Record<string, string | string[]> = {}
  response.headers.forEach((value, name) => {
    if (name !== 'set-cookie') headers[name] = value
  })
  const cookies = response.headers.getSetCookie()
  if (cookies.length > 0) headers['set-cookie'] = cookies
  res.writeHead(response.status, headers)
  if (response.body === null || req.method === 'HEAD') {
    res.end()
    return
  }
  const reader = response.body.getReader()
  const cancel = () => void reader.cancel().catch(() => {})
  gone.signal.addEventListener('abort', cancel, { once: true })
  try {
    for (;;) {
      const { done, value } = await reader.read()
      if (done) break
      if (!res.write(value)) await drained(res, gone.signal)
    }
    res.end()
  } catch {
    res.destroy()
  } finally {
    gone.signal.removeEventListener('abort', cancel)
  }
}

function toRequest(req: IncomingMessage, signal: AbortSignal): Request {
  const host = req.headers.host ?? 'localhost'
  const url = new URL(req.url ?? '/', `http://${host}`)
  const headers = new Headers()
  for (let i = 0; i + 1 < req.rawHeaders.length; i += 2) headers.append(req.rawHeaders[i] as string, req.rawHeaders[i + 1] as string)
  const hasBody = req.method !== 'GET' && req.method !== 'HEAD'
  return new Request(url, {
    method: req.method ?? 'GET',
    headers,
    signal,
    ...(hasBody ? { body: Readable.toWeb(req) as unknown as ReadableStream<Uint8Array>, duplex: 'half' } : {}),
  } as RequestInit)
}

function drained(res: ServerResponse, signal: AbortSignal): Promise<void> {
  return new Promise((resolve) => {
    const done = () => {
      res.off('drain', done)
      signal.removeEventListener('abort', done)
      resolve()
    }
    res.once('drain', done)
    signal.addEventListener('abort', done, { once: true })
  })
}
