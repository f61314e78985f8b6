import { HttpProblem } from './problem.js'

/** 1 MiB: a long message with room to spare, far below what would strain a server. */
export const DEFAULT_MAX_BODY_BYTES = 1_048_576

const JSON_TYPE = /^application\/(?:[\w.+-]+\+)?json\s*(?:;|$)/i

/**
 * The request's JSON body, read up to `maxBytes`: a declared `Content-Length`
 * above it is refused before reading, and a body that turns out longer is cut off
 * as soon as it passes the limit (413), so a client cannot make the server buffer
 * more than `maxBytes` whatever it declares.
 */
export async function readJsonBody(request: Request, maxBytes: number): Promise<unknown> {
  const type = request.headers.get('content-type')
  if (type !== null && !JSON_TYPE.test(type)) {
    throw new HttpProblem(415, 'unsupported-media-type', `Expected a JSON body (Content-Type: application/json), got \`${type.slice(0, 100)}\`.`)
  }
  const declared = request.headers.get('content-length')
  if (declared !== null && Number(declared) > maxBytes) throw tooLarge(maxBytes)
  if (request.body === null) throw new HttpProblem(400, 'invalid-request', 'Expected a JSON body, got none.')
  const reader = request.body.getReader()
  const chunks: Uint8Array[] = []
  let size = 0
  for (;;) {
    const { done, value } = await reader.read()
    if (done) break
    size += value.byteLength
    if (size > maxBytes) {
      await reader.cancel().catch(() => {})
      throw tooLarge(maxBytes)
    }
    chunks.push(value)
  }
  let text: string
  try {
    text = new TextDecoder('utf-8', { fatal: true }).decode(Buffer.concat(chunks))
  } catch {
    throw new HttpProblem(400, 'invalid-json', 'Expected the body to be UTF-8 JSON, got bytes that are not UTF-8.')
  }
  try {
    return JSON.parse(text) as unknown
  } catch (error) {
    throw new HttpProblem(400, 'invalid-json', `Expected the body to be JSON: ${(error as Error).message}.`)
  }
}

function tooLarge(maxBytes: number): HttpProblem {
  return new HttpProblem(413, 'body-too-large', `Expected a body of at most ${maxBytes} bytes.`)
}
