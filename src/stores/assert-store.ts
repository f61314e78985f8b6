import type { StateStore } from '../types.js'
import { show } from '../validate.js'

const STORE_METHODS = ['load', 'save', 'append', 'fork', 'delete', 'length', 'list', 'close'] as const

/** Throws a `TypeError` naming `name` unless `value` has every `StateStore` method. */
export function assertStore(value: unknown, name: string): asserts value is StateStore {
  const missing =
    value === null || typeof value !== 'object'
      ? STORE_METHODS
      : STORE_METHODS.filter((method) => typeof (value as Record<string, unknown>)[method] !== 'function')
  if (missing.length > 0) {
    throw new TypeError(`Expected \`${name}\` to be a StateStore (missing ${missing.join(', ')}), got \`${show(value)}\`.`)
  }
}
