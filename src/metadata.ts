import { show } from './validate.js'

/**
 * The most UTF-8 bytes a message's `metadata` may take as JSON. Metadata is stored
 * with every message and loaded with every turn, so it is meant for ids, flags and
 * small records, not documents: 64 KiB is far above that and far below what would
 * make a turn's load or a Redis value heavy.
 */
export const MAX_METADATA_BYTES = 64 * 1024

/** How deeply metadata may nest (objects and arrays); deeper data is almost surely a mistake (or a cycle in disguise). */
export const MAX_METADATA_DEPTH = 32

/**
 * Checks that `value` is JSON-safe metadata and returns a deep copy of it, so the
 * turn stores what the caller passed at the call, whatever the caller changes
 * later, and every store keeps the same thing.
 *
 * JSON-safe means: a plain object at the top; inside, plain objects (prototype
 * `Object.prototype` or `null`, no symbol keys), arrays, strings, finite numbers,
 * booleans and `null`. An object property set to `undefined` is dropped (as JSON
 * does: it means "absent"); anything else — `undefined` in an array, `NaN`,
 * `Infinity`, a `BigInt`, a function, a symbol, a `Date`, a `Map`, a class
 * instance, a cycle — is a `TypeError` naming its path (`options.metadata.user.id`),
 * and so is metadata above {@link MAX_METADATA_BYTES} or nesting deeper than
 * {@link MAX_METADATA_DEPTH}. Checked before anything is loaded or sent, so bad
 * metadata never fails a turn after the provider was paid.
 */
export function copyMetadata(value: unknown, name: string): Record<string, unknown> {
  if (!isPlainObject(value)) {
    throw new TypeError(`Expected \`${name}\` to be a plain object of JSON values, got \`${show(value)}\`.`)
  }
  const copy = copyValue(value, { name, keys: [], ancestors: [] }) as Record<string, unknown>
  const bytes = Buffer.byteLength(JSON.stringify(copy), 'utf8')
  if (bytes > MAX_METADATA_BYTES) {
    throw new TypeError(`Expected \`${name}\` to be at most ${MAX_METADATA_BYTES} bytes as JSON, got ${bytes} bytes.`)
  }
  return copy
}

/** The walk's position: the metadata's name, then one key or index per level, joined only for an error. */
interface Walk {
  readonly name: string
  readonly keys: Array<string | number>
  readonly ancestors: object[]
}

function pathOf(walk: Walk): string {
  let path = walk.name
  for (const key of walk.keys) path += typeof key === 'number' ? `[${key}]` : keyPath(key)
  return path
}

function copyValue(value: unknown, walk: Walk): unknown {
  switch (typeof value) {
    case 'string':
    case 'boolean':
      return value
    case 'number':
      if (!Number.isFinite(value)) throw notJson(pathOf(walk), value, 'a finite number')
      return value
    case 'object':
      break
    default:
      throw notJson(pathOf(walk), value, 'a JSON value (string, finite number, boolean, null, array or plain object)')
  }
  if (value === null) return null
  const { keys, ancestors } = walk
  if (ancestors.includes(value)) throw new TypeError(`Expected \`${pathOf(walk)}\` to be JSON-safe, got a circular reference.`)
  if (ancestors.length >= MAX_METADATA_DEPTH) {
    throw new TypeError(`Expected \`${pathOf(walk)}\` to nest at most ${MAX_METADATA_DEPTH} levels deep.`)
  }
  ancestors.push(value)
  let copy: unknown
  if (Array.isArray(value)) {
    const items = new Array<unknown>(value.length)
    for (let i = 0; i < value.length; i++) {
      const item: unknown = value[i]
      keys.push(i)
      // JSON would turn it into `null`: not what the caller stored.
      if (item === undefined) throw notJson(pathOf(walk), item, 'a JSON value')
      items[i] = copyValue(item, walk)
      keys.pop()
    }
    copy = items
  } else {
    if (!isPlainObject(value)) {
      throw notJson(pathOf(walk), value, `a plain object, not a ${value.constructor?.name ?? 'class instance'}`)
    }
    if (Object.getOwnPropertySymbols(value).length > 0) {
      throw new TypeError(`Expected \`${pathOf(walk)}\` to have only string keys, got a symbol key.`)
    }
    const entries: Record<string, unknown> = {}
    for (const key in value) {
      if (!Object.hasOwn(value, key)) continue
      const entry = value[key]
      if (entry === undefined) continue
      keys.push(key)
      const copied = copyValue(entry, walk)
      keys.pop()
      // `__proto__` as an own key would set the copy's prototype through plain assignment.
      if (key === '__proto__') Object.defineProperty(entries, key, { value: copied, enumerable: true, writable: true, configurable: true })
      else entries[key] = copied
    }
    copy = entries
  }
  ancestors.pop()
  return copy
}

function isPlainObject(value: unknown): value is Record<string, unknown> {
  if (value === null || typeof value !== 'object' || Array.isArray(value)) return false
  const prototype: unknown = Object.getPrototypeOf(value)
  return prototype === Object.prototype || prototype === null
}

function keyPath(key: string): string {
  return /^[A-Za-z_$][\w$]*$/.test(key) ? `.${key}` : `[${JSON.stringify(key)}]`
}

function notJson(path: string, value: unknown, what: string): TypeError {
  const got = typeof value === 'symbol' ? value.toString() : typeof value === 'object' && value !== null ? Object.prototype.toString.call(value) : show(value)
  return new TypeError(`Expected \`${path}\` to be ${what}, got \`${got}\`.`)
}
