import { createHash, timingSafeEqual } from 'node:crypto'
import { show } from '../validate.js'
import type { Authenticate } from './handler.js'

/**
 * An `authenticate` for `Authorization: Bearer <token>`: given `{ token: principal }`,
 * a request with one of the tokens is that principal; given a list of tokens, each
 * token is its own principal (named by a hash of it, never the token itself).
 * Tokens are compared in constant time.
 *
 * @example
 * ```ts
 * createHandler(pipeline, { authenticate: bearerAuth({ [process.env.ALICE_TOKEN!]: 'alice' }) })
 * ```
 */
export function bearerAuth(tokens: Readonly<Record<string, string>> | readonly string[]): Authenticate {
  const entries: [Buffer, string][] = []
  if (Array.isArray(tokens)) {
    for (const [i, token] of tokens.entries()) {
      checkToken(token, `tokens[${i}]`)
      entries.push([digest(token), `token-${digest(token).toString('hex').slice(0, 16)}`])
    }
  } else if (tokens !== null && typeof tokens === 'object') {
    for (const [token, principal] of Object.entries(tokens)) {
      checkToken(token, 'token')
      if (typeof principal !== 'string' || principal.length === 0) {
        throw new TypeError(`Expected the principal of each token to be a non-empty string, got \`${show(principal)}\`.`)
      }
      entries.push([digest(token), principal])
    }
  } else {
    throw new TypeError(`Expected \`tokens\` to be an object of token → principal or an array of tokens, got \`${show(tokens)}\`.`)
  }
  if (entries.length === 0) throw new TypeError('Expected `tokens` to hold at least one token, got none.')
  return function bearer(request: Request): string | null {
    const header = request.headers.get('authorization')
    const match = header === null ? null : /^Bearer +(\S+) *$/i.exec(header)
    if (match === null) return null
    // Hashing first gives equal lengths, as timingSafeEqual needs, and hides the token's length.
    const given = digest(match[1] as string)
    let principal: string | null = null
    for (const [expected, name] of entries) if (timingSafeEqual(given, expected)) principal = name
    return principal
  }
}

function checkToken(token: unknown, name: string): void {
  if (typeof token !== 'string' || !/^\S{8,}$/.test(token)) {
    // Never echo the token: it is a secret even when it is a bad one.
    throw new TypeError(`Expected \`${name}\` to be a string of at least 8 non-space characters.`)
  }
}

function digest(token: string): Buffer {
  return createHash('sha256').update(token).digest()
}
