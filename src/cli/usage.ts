import { parseArgs, type ParseArgsConfig } from 'node:util'
import { closestName } from '../validate.js'

/** A command line that cannot be run: printed with a hint to `--help`, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

/**
 * A command that ran and failed for a reason the user can act on (no such session,
 * Redis unreachable, a bad import file): one line on stderr, exit code 1.
 */
export class CommandError extends Error {
  override name = 'CommandError'
}

type Options = NonNullable<ParseArgsConfig['options']>
type Parsed<T extends Options> = ReturnType<typeof parseArgs<{ args: string[]; strict: true; allowPositionals: true; options: T }>>

/** `--help` and `--debug`, which every command takes. */
export const COMMON_OPTIONS = {
  help: { type: 'boolean', short: 'h', default: false },
  debug: { type: 'boolean', default: false },
} as const satisfies Options

/**
 * `node:util.parseArgs` in strict mode, with its errors turned into `UsageError`s
 * that say what to type instead.
 */
export function parseCommandLine<T extends Options>(argv: readonly string[], options: T, positionalsHint: string): Parsed<T> {
  try {
    return parseArgs({ args: [...argv], strict: true, allowPositionals: true, options })
  } catch (error) {
    throw new UsageError(describeParseError(error, Object.keys(options), positionalsHint))
  }
}

function describeParseError(error: unknown, known: readonly string[], positionalsHint: string): string {
  const { code, message } = error as { code?: string; message?: string }
  const flag = /'([^']+)'/.exec(message ?? '')?.[1]
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION': {
      const suggestion = flag === undefined ? undefined : closestName(flag.replace(/^-+/, ''), known)
      return `unknown option ${flag ?? ''}${suggestion === undefined ? '' : ` (did you mean --${suggestion}?)`}`
    }
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${flag === undefined ? '' : JSON.stringify(flag)} (${positionalsHint})`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = flag?.split(' ')[0] ?? 'an option'
      if (message?.includes('does not take an argument') === true) return `${option} does not take a value`
      return `${option} needs a value (for a value that starts with "-", write ${option}=<value>)`
    }
    default:
      return message ?? String(error)
  }
}

/** Exactly `names.length` positionals, else a `UsageError` naming the one missing or extra. */
export function takePositionals(positionals: readonly string[], names: readonly string[]): string[] {
  if (positionals.length < names.length) {
    throw new UsageError(`missing ${names.slice(positionals.length).map((n) => `<${n}>`).join(' ')}`)
  }
  if (positionals.length > names.length) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[names.length])}`)
  }
  return [...positionals]
}
