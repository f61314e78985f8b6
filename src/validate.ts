import type { Message, Role, ToolDefinition } from './types.js'

/** Renders a value for an error message: strings quoted, long values cut. */
export function show(value: unknown): string {
  let text: string
  if (typeof value === 'string') text = JSON.stringify(value)
  else if (typeof value === 'function') text = `function ${value.name || '(anonymous)'}`
  else if (typeof value === 'bigint') text = `${value}n`
  else if (typeof value === 'number') text = String(value)
  else if (value === undefined) text = 'undefined'
  else {
    try {
      text = JSON.stringify(value) ?? String(value)
    } catch {
      text = Object.prototype.toString.call(value)
    }
  }
  return text.length > 80 ? `${text.slice(0, 77)}...` : text
}

function expected(name: string, what: string, value: unknown): TypeError {
  return new TypeError(`Expected \`${name}\` to be ${what}, got \`${show(value)}\`.`)
}

/** Session ids are non-empty strings of at most 512 UTF-8 bytes. */
export const MAX_SESSION_ID_BYTES = 512

/** Throws a `TypeError` naming `name` unless `value` is a valid session id. */
export function assertSessionId(value: unknown, name = 'sessionId'): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) {
    throw expected(name, 'a non-empty string', value)
  }
  // A lone surrogate has no UTF-8 form: two such ids would collide in any byte-keyed store.
  if (!value.isWellFormed()) throw expected(name, 'a well-formed Unicode string (no lone surrogates)', value)
  // A UTF-16 code unit is at most 3 UTF-8 bytes, so short ids skip the byte count.
  if (value.length * 3 > MAX_SESSION_ID_BYTES && Buffer.byteLength(value, 'utf8') > MAX_SESSION_ID_BYTES) {
    throw expected(name, `at most ${MAX_SESSION_ID_BYTES} bytes long`, value)
  }
}

/** Throws a `TypeError` naming `name` and the value ("Expected … to be a positive integer, got `0`.") unless `value` is a safe integer ≥ 1. */
export function assertPositiveInteger(value: unknown, name: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < 1) throw expected(name, 'a positive integer', value)
}

/** Throws a `TypeError` naming `name` unless `value` is a safe integer ≥ 0 (counts, retries). */
export function assertNonNegativeInteger(value: unknown, name: string): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < 0) throw expected(name, 'a non-negative integer', value)
}

/** Throws a `TypeError` naming `name` unless `value` is a finite number ≥ 0 (prices, factors); `NaN` and `Infinity` are refused. */
export function assertNonNegativeNumber(value: unknown, name: string): asserts value is number {
  if (typeof value !== 'number' || !Number.isFinite(value) || value < 0) {
    throw expected(name, 'a non-negative finite number', value)
  }
}

/** Throws a `TypeError` naming `name` unless `value` is a string with at least one character (ids, names). */
export function assertNonEmptyString(value: unknown, name: string): asserts value is string {
  if (typeof value !== 'string' || value.length === 0) throw expected(name, 'a non-empty string', value)
}

/** Throws a `TypeError` naming `name` unless `value` is callable, so a bad callback fails when it is passed, not when it is called. */
export function assertFunction(value: unknown, name: string): asserts value is (...args: never[]) => unknown {
  if (typeof value !== 'function') throw expected(name, 'a function', value)
}

/** Throws a `TypeError` naming `name` and the allowed values unless `value` is one of them. */
export function assertOneOf<T extends string>(value: unknown, allowed: readonly T[], name: string): asserts value is T {
  if (!allowed.includes(value as T)) {
    throw expected(name, `one of ${allowed.map((a) => `'${a}'`).join(', ')}`, value)
  }
}

/** Throws a `TypeError` naming `name` unless `value` is an `AbortSignal` (or undefined). */
export function assertSignal(value: unknown, name: string): asserts value is AbortSignal | undefined {
  if (value !== undefined && !(value instanceof AbortSignal)) throw expected(name, 'an AbortSignal', value)
}

/**
 * Checks the options of a call whose only option is `signal` (`{ signal }` or nothing)
 * and returns the signal.
 */
export function signalOnlyOption(options: unknown): AbortSignal | undefined {
  assertOptionsObject(options, 'options')
  assertKnownKeys(options, ['signal'], 'options')
  const signal = (options as { signal?: unknown } | undefined)?.signal
  assertSignal(signal, 'signal')
  return signal
}

/** Throws unless `value` is a plain object (or undefined when `optional`). */
export function assertOptionsObject(value: unknown, name: string): asserts value is object | undefined {
  if (value === undefined) return
  if (value === null || typeof value !== 'object' || Array.isArray(value)) throw expected(name, 'an object', value)
}

/**
 * The longest delay Node's timers honour (2^31 - 1 ms, about 24.8 days); a longer
 * one fires after ~1 ms. Every duration option is checked against it.
 */
export const MAX_TIMER_MS = 2_147_483_647

/** Throws unless `value` is a whole number of milliseconds in `[min, MAX_TIMER_MS]`. */
export function assertDuration(value: unknown, name: string, min = 1): asserts value is number {
  if (!Number.isSafeInteger(value) || (value as number) < min || (value as number) > MAX_TIMER_MS) {
    throw expected(name, `an integer number of milliseconds from ${min} to ${MAX_TIMER_MS}`, value)
  }
}

/** Edit distance, for "did you mean" suggestions; only ever run on short option names. */
function editDistance(a: string, b: string): number {
  let previous = Array.from({ length: b.length + 1 }, (_, j) => j)
  for (let i = 1; i <= a.length; i++) {
    const current = [i]
    for (let j = 1; j <= b.length; j++) {
      const cost = a[i - 1]?.toLowerCase() === b[j - 1]?.toLowerCase() ? 0 : 1
      current[j] = Math.min((previous[j] ?? 0) + 1, (current[j - 1] ?? 0) + 1, (previous[j - 1] ?? 0) + cost)
    }
    previous = current
  }
  return previous[b.length] ?? 0
}

function sharedPrefix(a: string, b: string): number {
  let i = 0
  while (i < a.length && i < b.length && a[i] === b[i]) i++
  return i
}

/** The allowed name closest to `key`, when it is close enough to be a likely typo. */
export function closestName(key: string, allowed: readonly string[]): string | undefined {
  const lower = key.toLowerCase()
  // A shortened or lengthened name (`reserve` for `reserveForResponse`) is the likeliest mistake.
  const related = allowed.find((name) => name.toLowerCase().startsWith(lower) || lower.startsWith(name.toLowerCase()))
  if (related !== undefined && lower.length >= 3) return related
  // Singular for plural and the like (`retry` for `retries`): a long shared stem.
  const stem = allowed.find((name) => sharedPrefix(lower, name.toLowerCase()) >= Math.max(4, Math.ceil(Math.min(lower.length, name.length) * 0.6)))
  if (stem !== undefined) return stem
  let best: string | undefined
  let bestDistance = Infinity
  for (const name of allowed) {
    const distance = editDistance(key, name)
    if (distance < bestDistance) {
      best = name
      bestDistance = distance
    }
  }
  return bestDistance <= Math.max(2, Math.floor(key.length / 3)) ? best : undefined
}

/**
 * Throws a `TypeError` naming the first key of `value` that is not in `allowed`,
 * with the closest allowed name when one is near: a misspelled option must never
 * be silently ignored. `name` prefixes the key (`contextWindow.maxMesages`).
 * Keys whose value is `undefined` are checked too: they are still typos.
 */
export function assertKnownKeys(value: object | undefined, allowed: readonly string[], name: string): void {
  if (value === undefined) return
  for (const key of Object.keys(value)) {
    if (allowed.includes(key)) continue
    const suggestion = closestName(key, allowed)
    const where = name === '' ? `\`${key}\`` : `\`${name}.${key}\``
    throw new TypeError(
      `Unknown option ${where}${suggestion === undefined ? '.' : `; did you mean \`${suggestion}\`?`} ` +
        `Expected one of ${allowed.map((a) => `\`${a}\``).join(', ')}.`,
    )
  }
}

/** `value`'s properties without `undefined` ones. */
export type DefinedOnly<T> = { [K in keyof T]?: Exclude<T[K], undefined> }

/**
 * A shallow copy of `value` without its `undefined` properties, for spreading over
 * defaults: an optional option set to `undefined` means "not given", so it must
 * not replace the default (`{ ...DEFAULTS, ...options }` alone would).
 */
export function definedOnly<T extends object>(value: T | undefined): DefinedOnly<T> {
  const result: Record<string, unknown> = {}
  if (value === undefined) return result as DefinedOnly<T>
  for (const [key, entry] of Object.entries(value)) if (entry !== undefined) result[key] = entry
  return result as DefinedOnly<T>
}

/** Every message role, in the order a conversation usually has them; for validators and exhaustive checks. */
export const ROLES: readonly Role[] = ['system', 'user', 'assistant', 'tool']

function isPlainObject(value: unknown): value is Record<string, unknown> {
  return value !== null && typeof value === 'object' && !Array.isArray(value)
}

/**
 * Explains why `value` is not a valid `Message`, or returns `undefined` when it is.
 * Stores use it to detect corrupt entries; the pipeline to reject bad input.
 */
export function messageProblem(value: unknown): string | undefined {
  if (!isPlainObject(value)) return `expected a message object, got \`${show(value)}\``
  if (!ROLES.includes(value.role as Role)) return `\`role\` must be one of ${ROLES.join(', ')}, got \`${show(value.role)}\``
  if (typeof value.content !== 'string') return `\`content\` must be a string, got \`${show(value.content)}\``
  if (value.toolCalls !== undefined) {
    if (!Array.isArray(value.toolCalls)) return `\`toolCalls\` must be an array, got \`${show(value.toolCalls)}\``
    for (const [i, call] of value.toolCalls.entries()) {
      if (!isPlainObject(call) || typeof call.id !== 'string' || typeof call.name !== 'string' || typeof call.arguments !== 'string') {
        return `\`toolCalls[${i}]\` must be { id, name, arguments } strings, got \`${show(call)}\``
      }
    }
  }
  if (value.toolCallId !== undefined && typeof value.toolCallId !== 'string') {
    return `\`toolCallId\` must be a string, got \`${show(value.toolCallId)}\``
  }
  if (value.name !== undefined && typeof value.name !== 'string') return `\`name\` must be a string, got \`${show(value.name)}\``
  if (value.metadata !== undefined && !isPlainObject(value.metadata)) {
    return `\`metadata\` must be an object, got \`${show(value.metadata)}\``
  }
  if (value.reasoning !== undefined) return reasoningProblem(value.reasoning)
  return undefined
}

/** Why `value` is not a valid `Message.reasoning`, or `undefined`. */
function reasoningProblem(value: unknown): string | undefined {
  if (!isPlainObject(value) || typeof value.text !== 'string') {
    return `\`reasoning\` must be { text, format?, data? } with a string \`text\`, got \`${show(value)}\``
  }
  if (value.format !== undefined && typeof value.format !== 'string') {
    return `\`reasoning.format\` must be a string, got \`${show(value.format)}\``
  }
  if (value.data !== undefined) {
    if (!Array.isArray(value.data)) return `\`reasoning.data\` must be an array of objects, got \`${show(value.data)}\``
    for (const [i, item] of value.data.entries()) {
      if (!isPlainObject(item)) return `\`reasoning.data[${i}]\` must be an object, got \`${show(item)}\``
    }
  }
  return undefined
}

/** Throws a `TypeError` naming the bad entry unless `value` is an array of tool definitions with unique names. */
export function assertToolDefinitions(value: unknown, name: string): asserts value is ToolDefinition[] {
  if (!Array.isArray(value)) throw expected(name, 'an array of { name, description?, parameters? }', value)
  const seen = new Set<string>()
  for (const [i, tool] of value.entries()) {
    if (!isPlainObject(tool)) throw expected(`${name}[${i}]`, 'an object { name, description?, parameters? }', tool)
    assertNonEmptyString(tool.name, `${name}[${i}].name`)
    if (seen.has(tool.name)) throw expected(`${name}[${i}].name`, 'unique among the tools', tool.name)
    seen.add(tool.name)
    if (tool.description !== undefined && typeof tool.description !== 'string') {
      throw expected(`${name}[${i}].description`, 'a string', tool.description)
    }
    if (tool.parameters !== undefined && !isPlainObject(tool.parameters)) {
      throw expected(`${name}[${i}].parameters`, 'a JSON Schema object', tool.parameters)
    }
  }
}

/** Throws a `TypeError` naming `name[i]` unless `value` is an array of valid messages. */
export function assertMessages(value: unknown, name = 'messages'): asserts value is Message[] {
  if (!Array.isArray(value)) throw expected(name, 'an array of messages', value)
  for (const [i, message] of value.entries()) {
    const problem = messageProblem(message)
    if (problem !== undefined) throw new TypeError(`Invalid \`${name}[${i}]\`: ${problem}.`)
  }
}
