#!/usr/bin/env node
/**
 * The `promptline` command: `promptline chat` (a terminal chat over a pipeline) and
 * `promptline sessions …` (looking after sessions stored in Redis) and `promptline serve`
 * (the HTTP API and a chat page). Exit codes:
 * 0 ok, 1 failure, 2 usage. Errors are one line on stderr; `--debug` adds the stack.
 * See `promptline --help` and docs/cli.md.
 */
import process from 'node:process'
import { runChat } from './cli/chat.js'
import { runSessions } from './cli/sessions.js'
import { runServe } from './cli/serve.js'
import { colorsFor } from './cli/colors.js'
import { CommandError, UsageError } from './cli/usage.js'
import { packageVersion } from './cli/version.js'
import { closestName } from './validate.js'

const COMMANDS: Record<string, (argv: readonly string[]) => Promise<number>> = {
  chat: runChat,
  sessions: runSessions,
  serve: runServe,
}

const USAGE = `Usage: promptline <command> [options]

Chat through a promptline pipeline, and look after stored sessions.

Commands:
  chat                 chat in the terminal, or pipe messages in (offline by default)
  sessions <command>   list, show, export, import, fork or delete sessions in Redis
  serve                serve conversations over HTTP, with a chat page (offline by default)

Options:
  -h, --help           show this help (and "promptline <command> --help" a command's)
  -v, --version        print the version

Examples:
  npx promptline chat
  promptline chat --redis redis://127.0.0.1:6379 --session alice
  promptline sessions list --redis redis://127.0.0.1:6379
  promptline serve --port 8787

Exit codes: 0 done, 1 failed, 2 bad command line. NO_COLOR turns colours off.`

async function main(argv: readonly string[]): Promise<number> {
  const [first, ...rest] = argv
  if (first === undefined) {
    process.stderr.write(`${USAGE}\n`)
    return 2
  }
  if (first === '--help' || first === '-h') {
    process.stdout.write(`${USAGE}\n`)
    return 0
  }
  if (first === 'help') return rest[0] !== undefined && rest[0] in COMMANDS ? main([rest[0], '--help']) : main(['--help'])
  if (first === '--version' || first === '-v') {
    process.stdout.write(`${packageVersion()}\n`)
    return 0
  }
  const command = Object.hasOwn(COMMANDS, first) ? COMMANDS[first] : undefined
  if (command === undefined) {
    if (first.startsWith('-')) throw new UsageError(`unknown option ${first} (options go after the command, e.g. promptline chat ${first})`)
    const suggestion = closestName(first, Object.keys(COMMANDS))
    throw new UsageError(`unknown command ${JSON.stringify(first)}${suggestion === undefined ? '' : ` (did you mean "${suggestion}"?)`}`)
  }
  return command(rest)
}

/** One line for the user; with `--debug`, the stack (and causes) too. */
function report(error: unknown, argv: readonly string[]): number {
  const color = colorsFor(process.stderr)
  const name = argv[0] !== undefined && Object.hasOwn(COMMANDS, argv[0]) ? `promptline ${argv[0]}` : 'promptline'
  const line = (text: string) => process.stderr.write(`${color.red(`${name}:`)} ${text}\n`)
  if (error instanceof UsageError) {
    line(error.message)
    process.stderr.write(`Run with --help for usage.\n`)
    return 2
  }
  // An error the user can act on is told plainly; any other by its class, which says more.
  const message = error instanceof CommandError ? error.message : error instanceof Error ? `${error.name}: ${error.message}` : String(error)
  line(message)
  if (argv.includes('--debug')) {
    for (let cause: unknown = error; cause !== undefined; cause = cause instanceof Error ? cause.cause : undefined) {
      process.stderr.write(`${cause instanceof Error ? (cause.stack ?? String(cause)) : String(cause)}\n`)
      if (!(cause instanceof Error)) break
    }
  } else if (!(error instanceof CommandError)) {
    process.stderr.write(color.dim('Run again with --debug for the stack.\n'))
  }
  return 1
}

const argv = process.argv.slice(2)
let code: number
try {
  code = await main(argv)
} catch (error) {
  code = report(error, argv)
}
process.exitCode = code
