import { MAX_SESSION_ID_BYTES } from '../validate.js'
import { COMMON_OPTIONS, parseCommandLine, UsageError } from './usage.js'
import { PROVIDER_NAMES, type ProviderName } from './providers.js'

/** What `promptline chat` was asked for. */
export interface CliOptions {
  session: string
  maxMessages: number | undefined
  maxTokens: number | undefined
  system: string | undefined
  trace: boolean
  /** `--summary-after <n>`: keep a rolling summary, updated once n messages fell out of the window unsummarised. */
  summaryAfter: number | undefined
  /** `--reasoning`: print the model's reasoning, dimmed, after each reply that has some. */
  reasoning: boolean
  help: boolean
  debug: boolean
  model: string | undefined
  baseURL: string | undefined
  /** `undefined`: chosen from the environment (OpenAI when it is configured, else the mock). */
  provider: ProviderName | undefined
  /** `--redis`, else `REDIS_URL`; `undefined`: an in-memory store. */
  redisURL: string | undefined
  prefix: string | undefined
}

export const DEFAULT_SESSION = 'default'
/** The model `--max-tokens` counts with, and the OpenAI default. */
export const DEFAULT_MODEL = 'gpt-4o-mini'

export const CHAT_USAGE = `Usage: promptline chat [options]

Chat with a promptline pipeline in the terminal, or pipe messages in (one per
line; each reply is printed, and the command exits at the end of input).

Offline by default: a MockProvider whose replies show what it can see of the
conversation. With OPENAI_API_KEY or OPENAI_BASE_URL set (or --base-url), it talks
to an OpenAI-compatible server and streams the replies. History lives in memory,
or in Redis with --redis (or REDIS_URL).

Options:
  --session <id>       session to talk in (default: "${DEFAULT_SESSION}")
  --provider <name>    ${PROVIDER_NAMES.join(' | ')} (default: anthropic when ANTHROPIC_API_KEY is set,
                       else openai when OPENAI_API_KEY, OPENAI_BASE_URL or --base-url is, else mock)
  --model <name>       model to ask for (OpenAI default: ${DEFAULT_MODEL}, Anthropic: claude-haiku-4-5;
                       with the mock it only sets pricing)
  --base-url <url>     OpenAI-compatible server, e.g. http://localhost:11434/v1 (implies openai),
                       or a gateway with --provider anthropic
  --redis <url>        keep sessions in Redis (redis:// or rediss://); default: REDIS_URL, else in memory
  --prefix <prefix>    key prefix of the Redis sessions (default: "promptline")
  --max-messages <n>   context window: newest messages sent besides the system prompt (default: 20)
  --max-tokens <n>     token limit of each request (default: none), counted with the tokenizer
                       of --model when gpt-tokenizer knows it, else of ${DEFAULT_MODEL}
  --system <text>      system prompt (pinned, never trimmed, never stored)
  --summary-after <n>  keep a rolling summary of what left the window, updated once n messages
                       fell out of it unsummarised (shown in /history and --trace)
  --trace              after each turn, print middleware timings and what trimming kept and dropped
  --reasoning          after each reply, print the model's reasoning (dimmed) when it sent some
  --debug              print the stack of an unexpected error
  -h, --help           show this help

Commands while chatting:
  /history             the session's stored messages
  /sessions            every session in the store
  /session <id>        switch to another session
  /fork <id>           copy this session to <id> and switch to the copy
  /clear               delete this session's history
  /help                list the commands
  /exit                quit (so do Ctrl-D and Ctrl-C at an empty prompt)

Keys while a reply streams: Ctrl-C stops the reply; Ctrl-D quits once it ends;
what you type is held back and sent when the reply is done.

Examples:
  promptline chat
  printf "Hi, I'm Alice\\nWhat is my name?\\n" | promptline chat --trace
  promptline chat --max-messages 2 --system "Be brief."
  promptline chat --redis redis://127.0.0.1:6379 --session alice
  OPENAI_API_KEY=sk-... promptline chat --model gpt-4o-mini`

/** Parses `argv` (what follows `chat`). Throws `UsageError` for anything it cannot run. */
export function parseCliArgs(argv: readonly string[], env: NodeJS.ProcessEnv = process.env): CliOptions {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      ...COMMON_OPTIONS,
      session: { type: 'string' },
      'max-messages': { type: 'string' },
      'max-tokens': { type: 'string' },
      system: { type: 'string' },
      trace: { type: 'boolean', default: false },
      reasoning: { type: 'boolean', default: false },
      'summary-after': { type: 'string' },
      model: { type: 'string' },
      'base-url': { type: 'string' },
      provider: { type: 'string' },
      redis: { type: 'string' },
      prefix: { type: 'string' },
    },
    'messages are typed or piped in, not passed as arguments',
  )
  if (positionals.length > 0) {
    throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (messages are typed or piped in, not passed as arguments)`)
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
  const provider = values.provider
  if (provider !== undefined && !(PROVIDER_NAMES as readonly string[]).includes(provider)) {
    throw new UsageError(`--provider must be one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(provider)}`)
  }
  if (provider === 'mock' && baseURL !== undefined) throw new UsageError('--base-url is for --provider openai or anthropic, not mock')
  return {
    session,
    maxMessages: positiveInteger(values['max-messages'], '--max-messages'),
    maxTokens: positiveInteger(values['max-tokens'], '--max-tokens'),
    system: values.system,
    trace: values.trace,
    reasoning: values.reasoning,
    summaryAfter: positiveInteger(values['summary-after'], '--summary-after'),
    help: values.help,
    debug: values.debug,
    model: values.model,
    baseURL,
    provider: provider as ProviderName | undefined,
    redisURL: redisURL(values.redis, env),
    prefix: values.prefix,
  }
}

/** `--redis`, else a non-empty `REDIS_URL`; a value that is no redis:// URL is a usage error. */
export function redisURL(flag: string | undefined, env: NodeJS.ProcessEnv): string | undefined {
  const url = flag ?? (env.REDIS_URL || undefined)
  if (url !== undefined && !/^rediss?:\/\/./.test(url)) {
    const from = flag === undefined ? 'REDIS_URL' : '--redis'
    throw new UsageError(`${from} must be a redis:// or rediss:// URL, got ${JSON.stringify(url.replace(/\/\/[^@/]*@/, '//***@'))}`)
  }
  return url
}

function positiveInteger(text: string | undefined, flag: string): number | undefined {
  if (text === undefined) return undefined
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < 1) {
    throw new UsageError(`${flag} must be a positive integer, got ${JSON.stringify(text)}`)
  }
  return value
}
