import { LeaseLostError, StateCorruptError } from './errors.js'

/**
 * The messages `fetch` implementations give the `TypeError` they throw when the
 * network failed (as opposed to a bad argument). The list is the one p-retry's
 * `is-network-error` recognises: Node's undici, browsers, Bun, Deno, Workers.
 */
const NETWORK_MESSAGES = new Set([
  'fetch failed', // undici (Node.js)
  'terminated', // undici: the connection closed mid-body
  'network error', // Chrome
  'Failed to fetch', // Chrome
  'NetworkError when attempting to fetch resource.', // Firefox
  'The Internet connection appears to be offline.', // Safari
  'Network request failed', // cross-fetch
  'A network error occurred.', // Bun
  'Network connection lost', // Cloudflare Workers
])

/**
 * Whether `error` is a `TypeError` that a `fetch` threw because the network
 * failed: those are transient, unlike the `TypeError`s of bad input.
 */
export function isNetworkTypeError(error: unknown): boolean {
  if (!(error instanceof TypeError)) return false
  const message = error.message.trim()
  if (NETWORK_MESSAGES.has(message)) return true
  // Chrome may add the host: "Failed to fetch (example.com)".
  if (/^Failed to fetch \(.+\)$/.test(message)) return true
  // Safari 17+ says "Load failed" for anything; only its network errors come without a stack.
  if (/^Load failed(?: \(.+\))?$/.test(message)) return error.stack === undefined
  // Deno: "error sending request for url (https://…): …".
  return message.startsWith('error sending request for url')
}

/**
 * Whether a failed store call is worth trying again. Errors a retry cannot fix
 * (bad input, corrupt stored data) are final; the rest are taken as transient.
 * A `TypeError` is bad input unless it is a network failure of `fetch` (a store
 * over HTTP), which is retried like any other transient error.
 * `state-save` uses it, and so should any retry around a store call.
 */
export function isRetryableStoreError(error: unknown): boolean {
  if (error instanceof StateCorruptError || error instanceof LeaseLostError) return false
  if (error instanceof TypeError) return isNetworkTypeError(error)
  return true
}
