/**
 * `npm start`: a terminal chat over a promptline pipeline.
 *
 * Offline by default (MemoryStore + MockProvider); with OPENAI_API_KEY or
 * OPENAI_BASE_URL set it streams replies from an OpenAI-compatible server. Piped
 * stdin is read one message per line, and the program exits at the end of input.
 * See `npm start -- --help`.
 */
import { createInterface } from 'node:readline'
import process from 'node:process'
import { Pipeline, type PipelineOptions } from './pipeline.js'
import { MemoryStore } from './stores/memory.js'
import { MockProvider } from './providers/mock.js'
import { isKnownChatModel } from './tokens.js'
import { assertSessionId } from './validate.js'
import type { Provider } from './types.js'
import { DEFAULT_MODEL, parseCliArgs, USAGE, UsageError, type CliOptions } from './cli/args.js'
import { demoReply } from './cli/demo-reply.js'
import { printHistory, TurnTracer } from './cli/trace.js'

const COMMANDS = `Commands: /history, /sessions, /session <id>, /fork <id>, /clear, /help, /exit`

const out = (line: string) => process.stdout.write(`${line}\n`)
const err = (line: string) => process.stderr.write(`${line}\n`)

async function main(argv: readonly string[]): Promise<number> {
  let options: CliOptions
  try {
    options = parseCliArgs(argv)
  } catch (error) {
    if (error instanceof UsageError) return usageError(error.message)
    throw error
  }
  if (options.help) {
    out(USAGE)
    return 0
  }

  const openAI = openAISettings(options)
  const provider: Provider =
    openAI === undefined
      ? new MockProvider({ reply: demoReply, ...(options.model === undefined ? {} : { model: options.model }) })
      : await createOpenAIProvider(openAI)
  const store = new MemoryStore()
  let pipe: Pipeline
  try {
    pipe = new Pipeline(pipelineOptions(options, provider, store))
  } catch (error) {
    if (error instanceof TypeError) return usageError(error.message)
    throw error
  }
  const tracer = options.trace
    ? new TurnTracer(pipe, { write: out, maxTokens: options.maxTokens })
    : undefined
  if (tracer !== undefined) pipe.use(tracer.middleware, { after: 'state-load' })

  const interactive = process.stdin.isTTY === true
  const rl = createInterface({
    input: process.stdin,
    ...(interactive ? { output: process.stdout, terminal: true } : { terminal: false }),
  })
  rl.setPrompt('you> ')
  let session = options.session
  let turn: AbortController | undefined
  let failures = 0

  // Ctrl-C aborts a reply in progress; with none in progress it quits.
  rl.on('SIGINT', () => (turn === undefined ? rl.close() : turn.abort()))
  process.stdout.on('error', (error: NodeJS.ErrnoException) => {
    if (error.code === 'EPIPE') process.exit(0)
    throw error
  })

  if (interactive) {
    const via = openAI === undefined ? 'mock provider, offline' : `${provider.name} ${openAI.model}${openAI.baseURL === undefined ? '' : ` at ${withoutCredentials(openAI.baseURL)}`}`
    out(`promptline chat · session "${session}" · ${via}`)
    out(`Type a message and press Enter. ${COMMANDS}`)
    rl.prompt()
  }

  for await (const raw of rl) {
    const line = raw.trim()
    if (line.length > 0) {
      if (line.startsWith('/')) {
        const next = await command(line, session, store)
        if (next === undefined) break
        session = next
      } else {
        turn = new AbortController()
        const ok = await runTurn(pipe, session, line, turn.signal, tracer)
        turn = undefined
        if (!ok) failures++
      }
    }
    if (interactive) rl.prompt()
  }
  rl.close()
  await pipe.shutdown()
  await store.close()
  return failures > 0 && !interactive ? 1 : 0
}

/** Streams one reply to stdout. Returns `false` when the turn failed (the error is printed). */
async function runTurn(pipe: Pipeline, session: string, content: string, signal: AbortSignal, tracer: TurnTracer | undefined): Promise<boolean> {
  let started = false
  try {
    for await (const chunk of pipe.stream(session, 'user', content, { signal })) {
      if (chunk.type === 'delta') {
        if (!started) process.stdout.write('assistant> ')
        started = true
        process.stdout.write(chunk.text)
      } else {
        if (!started) process.stdout.write('assistant> ')
        process.stdout.write('\n')
        tracer?.print(chunk.result)
      }
    }
    return true
  } catch (error) {
    if (started) process.stdout.write('\n')
    const { name, message } = error instanceof Error ? error : { name: 'Error', message: String(error) }
    err(`error: ${name}: ${message}`)
    tracer?.print(undefined)
    return false
  }
}

/** Runs a slash command; returns the session to continue in, or `undefined` to quit. */
async function command(line: string, session: string, store: MemoryStore): Promise<string | undefined> {
  const [name = '', ...rest] = line.split(/\s+/)
  const arg = rest.join(' ')
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
        assertSessionId(arg, '/session <id>')
        out(`now in session "${arg}" (${await store.length(arg)} stored message(s))`)
        return arg
      case '/fork':
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
    err(`error: ${error instanceof Error ? error.message : String(error)}`)
    return session
  }
}

interface OpenAISettings {
  model: string
  apiKey: string | undefined
  baseURL: string | undefined
}

/** OpenAI settings when the environment or `--base-url` asks for it, else `undefined` (the mock). */
function openAISettings(options: CliOptions): OpenAISettings | undefined {
  const apiKey = process.env.OPENAI_API_KEY || undefined
  const baseURL = options.baseURL ?? (process.env.OPENAI_BASE_URL || undefined)
  if (apiKey === undefined && baseURL === undefined) return undefined
  return { model: options.model ?? DEFAULT_MODEL, apiKey, baseURL }
}

async function createOpenAIProvider({ model, apiKey, baseURL }: OpenAISettings): Promise<Provider> {
  // Loaded only when used: the offline demo never loads the `openai` package.
  // Without a key, the provider sends a placeholder (local servers ignore it).
  const { OpenAIProvider } = await import('./providers/openai.js')
  return new OpenAIProvider({ model, apiKey, baseURL })
}

function pipelineOptions(options: CliOptions, provider: Provider, store: MemoryStore): PipelineOptions {
  const tokenModel = isKnownChatModel(options.model) ? options.model : DEFAULT_MODEL
  return {
    provider,
    store,
    ...(options.system === undefined ? {} : { systemPrompt: options.system }),
    ...(options.maxMessages === undefined ? {} : { contextWindow: { maxMessages: options.maxMessages } }),
    ...(options.maxTokens === undefined ? {} : { tokenLimit: { maxTokens: options.maxTokens, model: tokenModel } }),
    // The pipeline's deadlines fit a person waiting on a real model: a reasoning model
    // may think for minutes (timeoutMs 10 min, idleTimeoutMs 5 min between chunks).
  }
}

/** A URL fit for the screen: any user name or password in it removed. */
function withoutCredentials(url: string): string {
  const parsed = new URL(url)
  parsed.username = ''
  parsed.password = ''
  return parsed.href
}

function usageError(message: string): number {
  err(`promptline: ${message}`)
  err('Run with --help for usage.')
  return 2
}

process.exitCode = await main(process.argv.slice(2))
