import { MAX_SESSION_ID_BYTES } from '../validate.js'
import { HttpProblem } from './problem.js'

/**
 * Session ids as the store sees them: `<principal, URI-encoded>/<id as the client
 * sent it>`. The encoded principal never contains `/`, so the first `/` ends it:
 * two different (principal, id) pairs never give the same stored id, whatever
 * either contains (`/`, `%2F`, `..`, another user's whole scoped id).
 */
export function principalPrefix(principal: string): string {
  return `${encodeURIComponent(principal)}/`
}

/** The store's id of `id` for `principal`; a 400 naming `field` if it is not a usable id. */
export function scopedId(principal: string, id: unknown, field: string): string {
  if (typeof id !== 'string' || id.length === 0) {
    throw new HttpProblem(400, 'invalid-request', `Expected \`${field}\` to be a non-empty string.`, { field })
  }
  if (!id.isWellFormed()) {
    throw new HttpProblem(400, 'invalid-request', `Expected \`${field}\` to be well-formed Unicode (no lone surrogates).`, { field })
  }
  const scoped = principalPrefix(principal) + id
  if (Buffer.byteLength(scoped, 'utf8') > MAX_SESSION_ID_BYTES) {
    const room = MAX_SESSION_ID_BYTES - Buffer.byteLength(principalPrefix(principal), 'utf8')
    throw new HttpProblem(400, 'invalid-request', `Expected \`${field}\` to be at most ${room} bytes of UTF-8.`, { field })
  }
  return scoped
}
