/**
 * `promptline sessions list|show|export|import|fork|delete`: looking after the
 * sessions a RedisStore keeps, with the store's own methods (plus, for `list` and
 * `show`, TTL and idle time read with its client: see redis.ts).
 */
import { randomUUID } from 'node:crypto'
import { rename, rm, writeFile } from 'node:fs/promises'
import { createInterface } from 'node:readline/promises'
import { text } from 'node:stream/consumers'
import { SessionExistsError, SessionNotFoundError } from '../errors.js'
import type { Message } from '../types.js'
import { assertSessionId, closestName, messageProblem } from '../validate.js'
import { redisURL } from './args.js'
import { colorsFor } from './colors.js'
import { openRedis, sessionStats, type RedisTarget, type SessionStats } from './redis.js'
import { formatDuration, formatTranscript } from './transcript.js'
import { COMMON_OPTIONS, CommandError, parseCommandLine, takePositionals, UsageError } from './usage.js'

const REDIS_OPTIONS = `  --redis <url>        the Redis the sessions live in (default: REDIS_URL)
  --prefix <prefix>    the key prefix of the store (default: "promptline")
  --debug              print the stack of an unexpected error
  -h, --help           show this help`

export const SESSIONS_USAGE = `Usage: promptline sessions <command> [options]

Look after the sessions a RedisStore keeps in Redis.

Commands:
  list                 every session, with its message count, TTL and last activity
  show <id>            a conversation, readably (--json for machines)
  export <id>          a session's messages as JSON Lines, to stdout or --out <file>
  import <id>          create a session from JSON Lines on stdin (--replace to overwrite one)
  fork <from> <to>     copy a session to a new id
  delete <id>          delete a session (asks first on a terminal, unless --yes)

Options of every command:
${REDIS_OPTIONS}

Run "promptline sessions <command> --help" for a command's own options.`

interface Subcommand {
  /** Positional arguments, by name. */
  args: readonly string[]
  summary: string
  options: Record<string, { type: 'string' | 'boolean'; short?: string; default?: boolean }>
  optionsHelp: string
  examples: string
  run(target: RedisTarget, args: string[], values: Record<string, string | boolean | undefined>): Promise<number>
}

const SUBCOMMANDS: Record<string, Subcommand> = {
  list: {
    args: [],
    summary: `Lists the sessions under the prefix, paging through Redis with SCAN (never KEYS), in
SCAN's order. For each: its message count, the time until Redis expires it, and
its last activity (the last write, or refresh of its expiry; reads do not count).`,
    options: { json: { type: 'boolean', default: false }, limit: { type: 'string' } },
    optionsHelp: `  --json               one JSON object a line: {"id","messages","ttlSeconds","idleSeconds"}
  --limit <n>          stop after n sessions`,
    examples: `  promptline sessions list --redis redis://127.0.0.1:6379
  REDIS_URL=redis://127.0.0.1:6379 promptline sessions list --prefix chat --limit 20`,
    run: list,
  },
  show: {
    args: ['id'],
    summary: `Prints a stored conversation: roles coloured, each tool call followed by its result,
summaries and reasoning marked where the messages carry them.`,
    options: { json: { type: 'boolean', default: false } },
    optionsHelp: `  --json               {"id","ttlSeconds","idleSeconds","messages":[…]} as one JSON document`,
    examples: `  promptline sessions show user-42 --redis redis://127.0.0.1:6379`,
    run: show,
  },
  export: {
    args: ['id'],
    summary: `Writes a session's messages as JSON Lines (one message a line, oldest first), the
format "import" reads.`,
    options: { out: { type: 'string', short: 'o' } },
    optionsHelp: `  -o, --out <file>     write to this file (replaced whole, never left half-written) instead of stdout`,
    examples: `  promptline sessions export user-42 > user-42.jsonl
  promptline sessions export user-42 --out user-42.jsonl`,
    run: exportSession,
  },
  import: {
    args: ['id'],
    summary: `Creates a session from JSON Lines on stdin, atomically: every line is checked first
(a bad line is reported with its number, and nothing is written), and the
session appears whole or not at all. An existing session is refused unless
--replace.`,
    options: { replace: { type: 'boolean', default: false } },
    optionsHelp: `  --replace            replace the history of an existing session (atomically)`,
    examples: `  promptline sessions import user-42 < user-42.jsonl
  promptline sessions export a | promptline sessions import b --redis redis://other:6379`,
    run: importSession,
  },
  fork: {
    args: ['from', 'to'],
    summary: 'Copies session <from> to a new session <to> (refused if <to> exists).',
    options: {},
    optionsHelp: '',
    examples: `  promptline sessions fork user-42 user-42-experiment`,
    run: fork,
  },
  delete: {
    args: ['id'],
    summary: 'Deletes a session. On a terminal it asks first.',
    options: { yes: { type: 'boolean', short: 'y', default: false } },
    optionsHelp: `  -y, --yes            do not ask`,
    examples: `  promptline sessions delete user-42 --yes`,
    run: deleteSession,
  },
}

function usageOf(name: string, sub: Subcommand): string {
  const args = sub.args.map((a) => ` <${a}>`).join('')
  return `Usage: promptline sessions ${name}${args} [options]

${sub.summary}

Options:
${sub.optionsHelp === '' ? '' : `${sub.optionsHelp}\n`}${REDIS_OPTIONS}

Examples:
${sub.examples}`
}

export async function runSessions(argv: readonly string[]): Promise<number> {
  const [name, ...rest] = argv
  if (name === undefined || name === '--help' || name === '-h' || name === 'help') {
    process.stdout.write(`${SESSIONS_USAGE}\n`)
    return name === undefined ? 2 : 0
  }
  const sub = SUBCOMMANDS[name]
  if (sub === undefined) {
    const suggestion = closestName(name, Object.keys(SUBCOMMANDS))
    throw new UsageError(`unknown command "sessions ${name}"${suggestion === undefined ? '' : ` (did you mean "sessions ${suggestion}"?)`}`)
  }
  const { values, positionals } = parseCommandLine(
    rest,
    { ...COMMON_OPTIONS, redis: { type: 'string' }, prefix: { type: 'string' }, ...sub.options },
    `sessions ${name} takes ${sub.args.length === 0 ? 'no arguments' : sub.args.map((a) => `<${a}>`).join(' ')}`,
  )
  if (values.help === true) {
    process.stdout.write(`${usageOf(name, sub)}\n`)
    return 0
  }
  const args = takePositionals(positionals, sub.args)
  for (const [i, arg] of args.entries()) {
    try {
      assertSessionId(arg, `<${sub.args[i]}>`)
    } catch (error) {
      throw new UsageError(error instanceof Error ? error.message : String(error))
    }
  }
  const url = redisURL(values.redis as string | undefined, process.env)
  if (url === undefined) throw new UsageError('which Redis? Pass --redis <url> or set REDIS_URL')
  const target = openRedis(url, values.prefix as string | undefined)
  try {
    return await sub.run(target, args, values as Record<string, string | boolean | undefined>)
  } catch (error) {
    throw target.explain(error)
  } finally {
    await target.close()
  }
}

const out = (line: string) => process.stdout.write(`${line}\n`)
const note = (line: string) => process.stderr.write(`${line}\n`)

/** "session "x" does not exist (prefix "promptline" at redis://…)": which store was asked, too. */
function missing(target: RedisTarget, id: string): CommandError {
  return new CommandError(`session ${JSON.stringify(id)} does not exist (prefix ${JSON.stringify(target.store.prefix)} at ${target.where})`)
}

/** Sessions whose stats are fetched in one pipelined round trip, and printed at once. */
const PAGE_SIZE = 1_000

async function list(target: RedisTarget, _args: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const limit = values.limit === undefined ? undefined : Number(values.limit)
  if (limit !== undefined && (!/^\d+$/.test(String(values.limit)) || !Number.isSafeInteger(limit) || limit < 1)) {
    throw new UsageError(`--limit must be a positive integer, got ${JSON.stringify(values.limit)}`)
  }
  const json = values.json === true
  const color = colorsFor(process.stdout)
  let count = 0
  let page: string[] = []
  const flush = async () => {
    const stats = await sessionStats(target.store, page)
    page = []
    let text = ''
    for (const stat of stats) {
      // Deleted or expired since SCAN found it.
      if (stat.messages === 0) continue
      if (count++ === 0 && !json) text += `${color.dim('MESSAGES  TTL        LAST ACTIVITY  SESSION')}\n`
      text += `${json ? JSON.stringify(stat) : listRow(stat)}\n`
    }
    // One write a page: a line at a time costs more than the Redis round trip.
    if (text !== '') process.stdout.write(text)
  }
  for await (const id of target.store.list(limit === undefined ? undefined : { limit })) {
    page.push(id)
    if (page.length === PAGE_SIZE) await flush()
  }
  await flush()
  if (!json) note(count === 0 ? `no sessions under prefix ${JSON.stringify(target.store.prefix)} at ${target.where}` : `${count} session(s)`)
  return 0
}

function listRow(stat: SessionStats): string {
  const ttl = stat.ttlSeconds === null ? 'none' : formatDuration(stat.ttlSeconds)
  const idle = stat.idleSeconds === null ? '?' : stat.idleSeconds < 2 ? 'just now' : `${formatDuration(stat.idleSeconds)} ago`
  return `${String(stat.messages).padStart(8)}  ${ttl.padEnd(9)}  ${idle.padEnd(13)}  ${stat.id}`
}

async function show(target: RedisTarget, [id]: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const sessionId = id as string
  // Stats first: loading touches the key, and the stats tell how it was before.
  const [stat] = await sessionStats(target.store, [sessionId])
  const messages = await target.store.load(sessionId)
  if (messages.length === 0) throw missing(target, sessionId)
  const summary = await target.store.loadSummary(sessionId)
  if (values.json === true) {
    const { ttlSeconds = null, idleSeconds = null } = stat ?? {}
    out(JSON.stringify({ id: sessionId, ttlSeconds, idleSeconds, summary: summary ?? null, messages }, null, 2))
    return 0
  }
  const color = colorsFor(process.stdout)
  const ttl = stat?.ttlSeconds == null ? 'no expiry' : `expires in ${formatDuration(stat.ttlSeconds)}`
  const idle = stat?.idleSeconds == null ? '' : ` · last activity ${formatDuration(stat.idleSeconds)} ago`
  out(color.bold(`session ${JSON.stringify(sessionId)}`) + color.dim(` · ${messages.length} message(s) · ${ttl}${idle}`))
  // The rolling summary (`summary` option) lives beside the messages, which stay whole.
  if (summary !== undefined) out(`${color.cyan('summary')}${color.dim(` of messages 1–${summary.position}:`)} ${summary.content}`)
  for (const line of formatTranscript(messages, color)) out(line)
  return 0
}

async function exportSession(target: RedisTarget, [id]: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const sessionId = id as string
  const messages = await target.store.load(sessionId)
  if (messages.length === 0) throw missing(target, sessionId)
  const jsonl = messages.map((m) => `${JSON.stringify(m)}\n`).join('')
  const file = values.out as string | undefined
  if (file === undefined) {
    process.stdout.write(jsonl)
    return 0
  }
  // A temporary file renamed into place: the file is the whole export or the old one, never half.
  const temporary = `${file}.${process.pid}.tmp`
  try {
    await writeFile(temporary, jsonl)
    await rename(temporary, file)
  } catch (error) {
    await rm(temporary, { force: true })
    throw new CommandError(`cannot write ${file}: ${error instanceof Error ? error.message : String(error)}`, { cause: error })
  }
  note(`exported ${messages.length} message(s) of ${JSON.stringify(sessionId)} to ${file}`)
  return 0
}

/** Every line of `input` checked with the library's own message validator; every problem, with its line number. */
export function parseMessageLines(input: string): { messages: Message[]; problems: string[] } {
  const messages: Message[] = []
  const problems: string[] = []
  for (const [i, line] of input.split('\n').entries()) {
    if (line.trim() === '') continue
    let value: unknown
    try {
      value = JSON.parse(line)
    } catch (error) {
      problems.push(`line ${i + 1}: not valid JSON (${error instanceof Error ? error.message : String(error)})`)
      continue
    }
    const problem = messageProblem(value)
    if (problem === undefined) messages.push(value as Message)
    else problems.push(`line ${i + 1}: ${problem}`)
  }
  return { messages, problems }
}

const MAX_PROBLEMS_SHOWN = 10

async function importSession(target: RedisTarget, [id]: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const sessionId = id as string
  if (process.stdin.isTTY === true) throw new UsageError(`pipe the JSON Lines in: promptline sessions import ${sessionId} < ${sessionId}.jsonl`)
  const { messages, problems } = parseMessageLines(await text(process.stdin))
  if (problems.length === 1) throw new CommandError(`nothing imported: ${problems[0]}`)
  if (problems.length > 1) {
    for (const problem of problems.slice(0, MAX_PROBLEMS_SHOWN)) note(problem)
    const shown = problems.length > MAX_PROBLEMS_SHOWN ? `the first ${MAX_PROBLEMS_SHOWN} above` : 'above'
    throw new CommandError(`nothing imported: ${problems.length} bad lines (${shown})`)
  }
  if (messages.length === 0) throw new CommandError('nothing imported: the input holds no messages')
  const { store } = target
  if (values.replace === true) {
    await store.save(sessionId, messages)
  } else {
    // save() would overwrite, so the session is built under a private id and forked into
    // place: fork refuses an existing target atomically, and the target appears whole.
    const staging = `promptline-import-${randomUUID()}`
    try {
      await store.save(staging, messages)
      await store.fork(staging, sessionId)
    } catch (error) {
      if (error instanceof SessionExistsError) {
        throw new CommandError(`session ${JSON.stringify(sessionId)} already exists (pass --replace to overwrite it); nothing imported`)
      }
      throw error
    } finally {
      await store.delete(staging).catch(() => {})
    }
  }
  out(`imported ${messages.length} message(s) into ${JSON.stringify(sessionId)}`)
  return 0
}

async function fork(target: RedisTarget, [from, to]: string[]): Promise<number> {
  try {
    await target.store.fork(from as string, to as string)
  } catch (error) {
    if (error instanceof SessionNotFoundError) throw missing(target, from as string)
    if (error instanceof SessionExistsError) throw new CommandError(`session ${JSON.stringify(to)} already exists; nothing copied`)
    throw error
  }
  out(`forked ${JSON.stringify(from)} into ${JSON.stringify(to)} (${await target.store.length(to as string)} message(s))`)
  return 0
}

async function deleteSession(target: RedisTarget, [id]: string[], values: Record<string, string | boolean | undefined>): Promise<number> {
  const sessionId = id as string
  const length = await target.store.length(sessionId)
  if (length === 0) throw missing(target, sessionId)
  if (values.yes !== true && process.stdin.isTTY === true && process.stderr.isTTY === true) {
    const question = createInterface({ input: process.stdin, output: process.stderr })
    const answer = await question.question(`Delete session ${JSON.stringify(sessionId)} (${length} message(s)) at ${target.where}? [y/N] `)
    question.close()
    if (!/^y(es)?$/i.test(answer.trim())) throw new CommandError('not deleted')
  }
  await target.store.delete(sessionId)
  out(`deleted ${JSON.stringify(sessionId)} (${length} message(s))`)
  return 0
}
