import { StateCorruptError } from './errors.js'

/**
 * Whether a failed store call is worth trying again. Errors a retry cannot fix
 * (bad input, corrupt stored data) are final; the rest are taken as transient.
 * `state-save` uses it, and so should any retry around a store call.
 */
export function isRetryableStoreError(error: unknown): boolean {
  return !(error instanceof TypeError) && !(error instanceof StateCorruptError)
}
