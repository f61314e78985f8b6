/**
 * `promptline chat`: a terminal chat over a promptline pipeline. On a terminal it
 * prompts, streams each reply with a spinner until the first token, and keeps the
 * keyboard usable while a reply streams (see LineInput). Piped stdin is read one
 * message per line, and the command exits at the end of input: 1 when a turn failed.
 */
import type { Pipeline } from '../pipeline.js'
import { MemoryStore } from '../stores/memory.js'
import { assertSessionId } from '../validate.js'
import type { StateStore } from '../types.js'
import { CHAT_USAGE, DEFAULT_MODEL, parseCliArgs, type CliOptions } from './args.js'
import { createChatPipeline } from './chat-pipeline.js'
import { colorsFor, type Colors } from './colors.js'
import { LineInput } from './line-input.js'
import { createProvider } from './providers.js'
import { openRedis, type RedisTarget } from './redis.js'
import { Spinner } from './spinner.js'
import { outcomeOf, printHistory, TurnTracer } from './trace.js'
import { UsageError } from './usage.js'

const COMMANDS = `Commands: /history, /sessions, /session <id>, /fork <id>, /clear, /help, /exit`
const PROMPT = 'you> '
const REPLY = 'assistant> '

/** The chat's screen: stdout for the conversation, stderr for errors, each with its own colours. */
interface Screen {
  out(line: string): void
  err(line: string): void
  write(text: string): void
  color: Colors
  errColor: Colors
  /** stdout is a terminal: spinner and line clearing are fine. */
  tty: boolean
}

export async function runChat(argv: readonly string[]): Promise<number> {
  const options = parseCliArgs(argv)
  const screen: Screen = {
    out: (line) => process.stdout.write(`${line}\n`),
    err: (line) => process.stderr.write(`${line}\n`),
    write: (text) => process.stdout.write(text),
    color: colorsFor(process.stdout),
    errColor: colorsFor(process.stderr),
    tty: process.stdout.isTTY === true,
  }
  if (options.help) {
    screen.out(CHAT_USAGE)
    return 0
  }
  if (options.prefix !== undefined && options.redisURL === undefined) throw new UsageError('--prefix needs --redis (or REDIS_URL)')

  const { provider, description } = await createProvider(
    { name: options.provider, model: options.model, baseURL: options.baseURL, defaultModel: DEFAULT_MODEL },
    process.env,
  )
  const redis = options.redisURL === undefined ? undefined : openRedis(options.redisURL, options.prefix)
  const store: StateStore = redis?.store ?? new MemoryStore()
  try {
    if (redis !== undefined) {
      // Find out now, in one line, if Redis is out of reach, rather than at the first turn.
      try {
        await redis.store.length(options.session)
      } catch (error) {
        throw redis.explain(error)
      }
    }
    let pipe: Pipeline
    try {
      pipe = createChatPipeline(options, provider, store)
    } catch (error) {
      if (error instanceof TypeError) throw new UsageError(error.message)
      throw error
    }
    return await chat(options, pipe, store, redis, `${description} · ${redis === undefined ? 'in memory' : `Redis ${redis.where}`}`, screen)
  } finally {
    await (redis?.close() ?? store.close())
  }
}

async function chat(options: CliOptions, pipe: Pipeline, store: StateStore, redis: RedisTarget | undefined, via: string, screen: Screen): Promise<number> {
  const tracer = options.trace ? new TurnTracer(pipe, { write: screen.out, maxTokens: options.maxTokens }) : undefined
  if (tracer !== undefined) pipe.use(tracer.middleware, { after: 'state-load' })

  const input = new LineInput(process.stdin, process.stdout, screen.color.bold(screen.color.cyan(PROMPT)))
  let session = options.session
  let turn: AbortController | undefined
  let failures = 0
  let interrupted = false

  input.onInterrupt = () => turn?.abort()
  // Ctrl-C reaches the process as a signal when the terminal is not in raw mode
  // (piped input, or after Ctrl-D closed the prompt mid-reply): stop the reply and quit.
  const onSignal = () => {
    if (interrupted) process.exit(130)
    interrupted = true
    turn?.abort()
    input.close()
  }
  process.on('SIGINT', onSignal)
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })

  if (input.interactive) {
    screen.out(`promptline chat · session "${session}" · ${via}`)
    screen.out(screen.color.dim(`Type a message and press Enter. ${COMMANDS}`))
  }

  try {
    for (let line = await input.next(); line !== undefined; line = await input.next()) {
      const text = line.text.trim()
      if (text.length === 0) continue
      // Typed while a reply streamed: shown now, where it is answered.
      if (!line.echoed && input.interactive) screen.out(`${screen.color.bold(screen.color.cyan(PROMPT))}${text}`)
      if (text.startsWith('/')) {
        const next = await command(text, session, store, redis, screen)
        if (next === undefined) break
        session = next
        continue
      }
      turn = new AbortController()
      input.hold(true)
      const outcome = await runTurn(pipe, session, text, turn.signal, tracer, screen, options.reasoning)
      input.hold(false)
      turn = undefined
      if (outcome === 'failed') failures++
      if (interrupted) break
    }
  } finally {
    process.off('SIGINT', onSignal)
    input.close()
    // Ctrl-D leaves the cursor after the prompt: end the line before the shell's prompt.
    if (input.interactive) screen.write('\n')
    await pipe.shutdown()
  }
  if (interrupted) return 130
  return failures > 0 && !input.interactive ? 1 : 0
}

/** Streams one reply to stdout; a failure is printed to stderr, an interruption noted in the transcript. */
async function runTurn(
  pipe: Pipeline,
  session: string,
  content: string,
  signal: AbortSignal,
  tracer: TurnTracer | undefined,
  screen: Screen,
  showReasoning: boolean,
): Promise<'ok' | 'failed' | 'interrupted'> {
  const { color } = screen
  const label = color.bold(color.green(REPLY))
  // On a terminal the label shows at once, with a spinner until the first token; piped, nothing
  // is written before the first token, so a failed turn leaves stdout clean.
  let started = screen.tty
  let spinner: Spinner | undefined
  if (screen.tty) {
    screen.write(label)
    spinner = new Spinner(screen.write, color.dim)
    spinner.start()
  }
  let text = false
  try {
    for await (const chunk of pipe.stream(session, 'user', content, { signal })) {
      spinner?.stop()
      if (!started) screen.write(label)
      started = true
      if (chunk.type === 'delta') {
        text = true
        screen.write(chunk.text)
      } else {
        screen.write('\n')
        // Streams carry the answer only; the reasoning arrives with the finished reply.
        const reasoning = chunk.result.response.reasoning?.text
        if (showReasoning && reasoning !== undefined && reasoning.length > 0) screen.out(color.dim(`(reasoning) ${reasoning}`))
        tracer?.print(chunk.result)
      }
    }
    return 'ok'
  } catch (error) {
    spinner?.stop()
    const outcome = signal.aborted ? outcomeOf(error) : 'failed'
    if (outcome === 'interrupted') {
      screen.out(text ? `\n${color.dim('(interrupted)')}` : `${started ? '' : label}${color.dim('(interrupted)')}`)
      tracer?.print(undefined)
      return 'interrupted'
    }
    // The label alone, without a reply: take it back.
    if (started) screen.write(text ? '\n' : '\r\x1b[2K')
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) }
    screen.err(`${screen.errColor.red('error:')} ${name}: ${message}`)
    tracer?.print(undefined)
    return 'failed'
  }
}

/** Runs a slash command; returns the session to continue in, or `undefined` to quit. */
async function command(line: string, session: string, store: StateStore, redis: RedisTarget | undefined, screen: Screen): Promise<string | undefined> {
  const [name = '', ...rest] = line.split(/\s+/)
  const arg = rest.join(' ')
  const { out, err } = screen
  const usage = (text: string) => {
    err(`usage: ${text}`)
    return session
  }
  try {
    switch (name) {
      case '/exit':
      case '/quit':
        return undefined
      case '/help':
        out(COMMANDS)
        return session
      case '/history':
        await printHistory(store, session, out)
        return session
      case '/sessions': {
        const ids: string[] = []
        for await (const id of store.list()) ids.push(id === session ? `${id} (current)` : id)
        out(ids.length === 0 ? '(no stored sessions)' : `sessions: ${ids.join(', ')}`)
        return session
      }
      case '/session':
        if (arg === '') return usage('/session <id>')
        assertSessionId(arg, '/session <id>')
        out(`now in session "${arg}" (${await store.length(arg)} stored message(s))`)
        return arg
      case '/fork':
        if (arg === '') return usage('/fork <id>')
        assertSessionId(arg, '/fork <id>')
        await store.fork(session, arg)
        out(`forked "${session}" into "${arg}" (${await store.length(arg)} message(s)); now in "${arg}"`)
        return arg
      case '/clear':
        out((await store.delete(session)) ? `deleted the history of "${session}"` : `session "${session}" had no history`)
        return session
      default:
        err(`unknown command ${name}. ${COMMANDS}`)
        return session
    }
  } catch (error) {
    const explained = redis?.explain(error) ?? error
    err(`${screen.errColor.red('error:')} ${explained instanceof Error ? explained.message : String(explained)}`)
    return session
  }
}
