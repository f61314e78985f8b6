/**
 * `promptline serve`: the `promptline/http` handler on node:http, with the chat
 * page at `/` and the API under `/api`. Offline by default (the mock provider,
 * sessions in memory); with --redis, sessions live in Redis and each turn holds
 * its session's lease, so several instances can serve one Redis.
 */
import { createServer } from 'node:http'
import { randomBytes } from 'node:crypto'
import process from 'node:process'
import { MemoryStore } from '../stores/memory.js'
import type { StateStore } from '../types.js'
import { bearerAuth, createHandler, toNodeListener } from '../http.js'
import { createProvider, PROVIDER_NAMES, type ProviderName } from './providers.js'
import { DEFAULT_MODEL, redisURL } from './args.js'
import { redactRedisURL } from './redis.js'
import { COMMON_OPTIONS, parseCommandLine, UsageError } from './usage.js'
import { CHAT_PAGE } from './chat-page.js'
import { createChatPipeline } from './chat-pipeline.js'

export const SERVE_USAGE = `Usage: promptline serve [options]

Serve conversations over HTTP (the promptline/http API under /api) and a chat page
at /. Offline by default: the mock provider, sessions in memory. Every request
needs a bearer token; each token is its own user, who sees only their sessions.

Options:
  --port <n>           port to listen on (default: 8787; 0 picks a free one)
  --host <host>        address to listen on (default: 127.0.0.1)
  --token <token>      a token users sign in with (repeatable); default: PROMPTLINE_TOKEN,
                       else a random one, printed at start
  --redis <url>        keep sessions in Redis; default: REDIS_URL, else in memory. Each turn
                       then holds its session's lease, so many instances can share one Redis
  --prefix <prefix>    key prefix of the Redis sessions (default: "promptline")
  --lease-ttl <ms>     with --redis: how long a dead instance's lease blocks its session (default: 10000)
  --provider <name>    ${PROVIDER_NAMES.join(' | ')} (chosen as for promptline chat)
  --model <name>       model to ask for (default: ${DEFAULT_MODEL})
  --base-url <url>     OpenAI-compatible server (implies openai)
  --system <text>      system prompt
  --max-messages <n>   context window: newest messages sent besides the system prompt (default: 20)
  --debug              print the stack of an unexpected error
  -h, --help           show this help

Examples:
  promptline serve
  PROMPTLINE_TOKEN=change-me promptline serve --redis redis://127.0.0.1:6379 --port 3000`

const DEFAULT_PORT = 8787
const DEFAULT_LEASE_TTL_MS = 10_000

export async function runServe(argv: readonly string[]): Promise<number> {
  const { values, positionals } = parseCommandLine(
    argv,
    {
      ...COMMON_OPTIONS,
      port: { type: 'string' },
      host: { type: 'string' },
      token: { type: 'string', multiple: true },
      redis: { type: 'string' },
      prefix: { type: 'string' },
      'lease-ttl': { type: 'string' },
      provider: { type: 'string' },
      model: { type: 'string' },
      'base-url': { type: 'string' },
      system: { type: 'string' },
      'max-messages': { type: 'string' },
    },
    'serve takes options only',
  )
  if (values.help) {
    process.stdout.write(`${SERVE_USAGE}\n`)
    return 0
  }
  if (positionals.length > 0) throw new UsageError(`unexpected argument ${JSON.stringify(positionals[0])} (serve takes options only)`)
  const port = integer(values.port ?? String(DEFAULT_PORT), '--port', 0, 65_535)
  const leaseTtlMs = integer(values['lease-ttl'] ?? String(DEFAULT_LEASE_TTL_MS), '--lease-ttl', 30, 2_147_483_647)
  const maxMessages = values['max-messages'] === undefined ? undefined : integer(values['max-messages'], '--max-messages', 1, Number.MAX_SAFE_INTEGER)
  const provider = values.provider
  if (provider !== undefined && !(PROVIDER_NAMES as readonly string[]).includes(provider)) {
    throw new UsageError(`--provider must be one of ${PROVIDER_NAMES.join(', ')}, got ${JSON.stringify(provider)}`)
  }
  const envToken = process.env.PROMPTLINE_TOKEN || undefined
  const given = values.token ?? (envToken === undefined ? [] : [envToken])
  for (const token of given) {
    if (!/^\S{8,}$/.test(token)) throw new UsageError('--token (and PROMPTLINE_TOKEN) must be at least 8 characters, without spaces')
  }
  const generated = given.length === 0 ? randomBytes(18).toString('base64url') : undefined
  const tokens = generated === undefined ? given : [generated]

  const url = redisURL(values.redis, process.env)
  if (url === undefined && values.prefix !== undefined) throw new UsageError('--prefix needs --redis (or REDIS_URL)')
  if (url === undefined && values['lease-ttl'] !== undefined) throw new UsageError('--lease-ttl needs --redis (or REDIS_URL)')
  let store: StateStore
  if (url === undefined) {
    store = new MemoryStore()
  } else {
    // Loaded only with --redis: the offline server never loads ioredis.
    const { RedisStore } = await import('../stores/redis.js')
    store = new RedisStore(url, { ...(values.prefix === undefined ? {} : { prefix: values.prefix }), lock: { ttlMs: leaseTtlMs } })
  }
  const chosen = await createProvider(
    { name: provider as ProviderName | undefined, model: values.model, baseURL: values['base-url'], defaultModel: DEFAULT_MODEL },
    process.env,
  )
  const pipeline = createChatPipeline(
    { maxMessages, maxTokens: undefined, system: values.system, model: values.model, summaryAfter: undefined },
    chosen.provider,
    store,
  )
  const api = createHandler(pipeline, { authenticate: bearerAuth(tokens), basePath: '/api', store })
  const server = createServer(
    toNodeListener(async (request) => {
      const { pathname } = new URL(request.url)
      if (request.method === 'GET' && (pathname === '/' || pathname === '/index.html')) {
        return new Response(CHAT_PAGE, {
          headers: {
            'content-type': 'text/html; charset=utf-8',
            'cache-control': 'no-store',
            // The page loads nothing from elsewhere and runs only its own inline script.
            'content-security-policy': "default-src 'none'; script-src 'unsafe-inline'; style-src 'unsafe-inline'; connect-src 'self'",
          },
        })
      }
      if (pathname === '/healthz') return new Response('ok\n', { headers: { 'content-type': 'text/plain' } })
      return api(request)
    }),
  )
  const host = values.host ?? '127.0.0.1'
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject)
    server.listen(port, host, () => resolve())
  })
  const address = server.address()
  const boundPort = typeof address === 'object' && address !== null ? address.port : port
  const where = url === undefined ? 'sessions in memory' : `sessions in Redis at ${redactRedisURL(url)}, ${leaseTtlMs} ms leases`
  process.stdout.write(`promptline serve: listening on http://${host.includes(':') ? `[${host}]` : host}:${boundPort}/ (${chosen.description}; ${where})\n`)
  if (generated !== undefined) process.stdout.write(`token: ${generated}\n`)

  await new Promise<void>((resolve) => {
    const stop = () => resolve()
    process.once('SIGINT', stop)
    process.once('SIGTERM', stop)
  })
  // Stop taking requests, let turns in flight finish (each within its deadline), then close the store.
  server.close()
  server.closeIdleConnections()
  await pipeline.shutdown()
  await store.close()
  server.closeAllConnections()
  return 0
}

function integer(text: string, flag: string, min: number, max: number): number {
  const value = Number(text)
  if (!/^\d+$/.test(text) || !Number.isSafeInteger(value) || value < min || value > max) {
    throw new UsageError(`${flag} must be an integer from ${min} to ${max}, got ${JSON.stringify(text)}`)
  }
  return value
}
