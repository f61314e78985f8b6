import type { Provider } from '../types.js'
import { show } from '../validate.js'

/** Throws a `TypeError` naming `name` unless `value` looks like a `Provider`. */
export function assertProvider(value: unknown, name: string): asserts value is Provider {
  const candidate = value as Partial<Provider> | null
  if (
    candidate === null ||
    typeof candidate !== 'object' ||
    typeof candidate.complete !== 'function' ||
    typeof candidate.name !== 'string' ||
    (candidate.stream !== undefined && typeof candidate.stream !== 'function')
  ) {
    throw new TypeError(`Expected \`${name}\` to be a Provider ({ name, complete(), stream?() }), got \`${show(value)}\`.`)
  }
}
