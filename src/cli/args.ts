import { parseArgs } from 'node:util'
import { MAX_SESSION_ID_BYTES } from '../validate.js'

/** What the command line asked for. */
export interface CliOptions {
  session: string
  maxMessages: number | undefined
  maxTokens: number | undefined
  system: string | undefined
  trace: boolean
  help: boolean
  model: string | undefined
  baseURL: string | undefined
}

/** A command line that cannot be run: printed with a hint, exit code 2. */
export class UsageError extends Error {
  override name = 'UsageError'
}

export const DEFAULT_SESSION = 'default'
/** The model `--max-tokens` counts with, and the OpenAI default. */
export const DEFAULT_MODEL = 'gpt-4o-mini'

export const USAGE = `Usage: npm start -- [options]
       node --import tsx src/cli.ts [options]

Chat with a promptline pipeline in the terminal, or pipe messages in (one per
line; each reply is printed, and the program exits at the end of input).

Offline by default: a MemoryStore and a MockProvider whose replies show what it
can see of the conversation. With OPENAI_API_KEY or OPENAI_BASE_URL set (or
--base-url), it talks to an OpenAI-compatible server and streams the replies.

Options:
  --session <id>       session to talk in (default: "${DEFAULT_SESSION}")
  --max-messages <n>   context window: newest messages sent besides the system prompt (default: 20)
  --max-tokens <n>     token limit of each request (default: none), counted with the tokenizer
                       of --model when gpt-tokenizer knows it, else of ${DEFAULT_MODEL}
  --system <text>      system prompt (pinned, never trimmed, never stored)
  --trace              after each turn, print middleware timings and what trimming kept and dropped
  --model <name>       model to ask for (OpenAI default: ${DEFAULT_MODEL}; with the mock it only sets pricing)
  --base-url <url>     OpenAI-compatible server, e.g. http://localhost:11434/v1 (implies OpenAI)
  -h, --help           show this help

Commands while chatting:
  /history             the session's stored messages
  /sessions            every session in the store
  /session <id>        switch to another session
  /fork <id>           copy this session to <id> and switch to the copy
  /clear               delete this session's history
  /help                list the commands
  /exit                quit (so does end of input, Ctrl-D)

Examples:
  npm start
  printf "Hi, I'm Alice\\nWhat is my name?\\n" | npm start --silent -- --trace
  npm start -- --max-messages 2 --system "Be brief."
  OPENAI_API_KEY=sk-... npm start -- --model gpt-4o-mini`

/** Parses `argv` (without `node` and the script). Throws `UsageError` for anything it cannot run. */
export function parseCliArgs(argv: readonly string[]): CliOptions {
  let values
  try {
    ;({ values } = parseArgs({
      args: [...argv],
      strict: true,
      allowPositionals: false,
      options: {
        session: { type: 'string' },
        'max-messages': { type: 'string' },
        'max-tokens': { type: 'string' },
        system: { type: 'string' },
        trace: { type: 'boolean', default: false },
        model: { type: 'string' },
        'base-url': { type: 'string' },
        help: { type: 'boolean', short: 'h', default: false },
      },
    }))
  } catch (error) {
    throw new UsageError(describeParseError(error))
  }
  const session = values.session ?? DEFAULT_SESSION
  if (session.length === 0 || Buffer.byteLength(session, 'utf8') > MAX_SESSION_ID_BYTES) {
    throw new UsageError(`--session must be a non-empty id of at most ${MAX_SESSION_ID_BYTES} bytes, got ${JSON.stringify(session)}`)
  }
  if (values.model !== undefined && values.model.length === 0) throw new UsageError('--model must not be empty')
  const baseURL = values['base-url']
  if (baseURL !== undefined && !URL.canParse(baseURL)) {
    throw new UsageError(`--base-url must be a URL such as http://localhost:11434/v1, got ${JSON.stringify(baseURL)}`)
  }
  return {
    session,
    maxMessages: positiveInteger(values['max-messages'], '--max-messages'),
    maxTokens: positiveInteger(values['max-tokens'], '--max-tokens'),
    system: values.system,
    trace: values.trace,
    help: values.help,
    model: values.model,
    baseURL,
  }
}

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(text)}`)
  }
  return value
}

function describeParseError(error: unknown): string {
  const { code, message } = error as { code?: string; message?: string }
  const flag = /'([^']+)'/.exec(message ?? '')?.[1]
  switch (code) {
    case 'ERR_PARSE_ARGS_UNKNOWN_OPTION':
      return `unknown option ${flag ?? ''}`.trimEnd()
    case 'ERR_PARSE_ARGS_UNEXPECTED_POSITIONAL':
      return `unexpected argument ${flag === undefined ? '' : JSON.stringify(flag)} (messages are typed or piped in, not passed as arguments)`
    case 'ERR_PARSE_ARGS_INVALID_OPTION_VALUE': {
      const option = flag?.split(' ')[0] ?? 'an option'
      if (message?.includes('does not take an argument') === true) return `${option} does not take a value`
      return `${option} needs a value (for a value that starts with "-", write ${option}=<value>)`
    }
    default:
      return message ?? String(error)
  }
}
