import {
  AbortError,
  ContextOverflowError,
  PipelineClosedError,
  PromptlineError,
  ProviderError,
  SessionExistsError,
  SessionNotFoundError,
  StateLoadError,
  StateSaveError,
  StoreClosedError,
} from '../errors.js'
import { SessionBusyError } from '../errors.js'

/**
 * An RFC 9457 problem details object, as every error response carries it
 * (`Content-Type: application/problem+json`). `type` is a stable URN clients can
 * switch on; `detail` never holds a stack, a provider's raw reply or a secret.
 */
export interface Problem {
  type: string
  title: string
  status: number
  detail: string
  /** The request field that was wrong, on a 400. */
  field?: string
}

/** An error the handler answers with a given status and message, as it is. */
export class HttpProblem extends PromptlineError {
  override name = 'HttpProblem'
  readonly status: number
  readonly slug: string
  readonly field: string | undefined
  readonly headers: Record<string, string>

  constructor(status: number, slug: string, detail: string, options: { field?: string; headers?: Record<string, string> } = {}) {
    super(detail)
    this.status = status
    this.slug = slug
    this.field = options.field
    this.headers = options.headers ?? {}
  }
}

const TITLES: Record<number, string> = {
  400: 'Bad Request',
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  405: 'Method Not Allowed',
  409: 'Conflict',
  413: 'Content Too Large',
  415: 'Unsupported Media Type',
  429: 'Too Many Requests',
  500: 'Internal Server Error',
  502: 'Bad Gateway',
  503: 'Service Unavailable',
  504: 'Gateway Timeout',
}

export interface ProblemResponse {
  problem: Problem
  headers: Record<string, string>
  /** Whether the operator should hear of it (`onError`): every 5xx but contention and aborted turns. */
  unexpected: boolean
}

/**
 * What a client is told about an error. Validation errors (a `TypeError` from the
 * library's validators) are the client's input and are echoed; any other message
 * may hold internals (a Redis address, a provider's reply), so 5xx answers carry a
 * fixed text only.
 */
export function problemOf(error: unknown): ProblemResponse {
  if (error instanceof HttpProblem) {
    return respond(error.status, error.slug, error.message, error.headers, error.field)
  }
  if (error instanceof TypeError) return respond(400, 'invalid-request', error.message, {}, fieldOf(error.message))
  if (error instanceof SessionNotFoundError) return respond(404, 'session-not-found', 'No such session.')
  if (error instanceof SessionExistsError) return respond(409, 'session-exists', 'A session with that id already exists.')
  if (error instanceof ContextOverflowError) {
    return respond(400, 'context-overflow', 'The message does not fit in the model\'s token budget.', {}, 'content')
  }
  if (error instanceof SessionBusyError) {
    // Contention, not a fault: nothing for the operator's error log.
    const busy = respond(503, 'session-busy', 'Another turn of this session is still running; try again shortly.', { 'retry-after': '1' })
    return { ...busy, unexpected: false }
  }
  if (error instanceof ProviderError) {
    if (error.status === 429) {
      return respond(429, 'provider-rate-limited', 'The model provider is rate limiting requests; try again later.', { 'retry-after': '5' })
    }
    if (/timed out/.test(error.message)) return respond(504, 'provider-timeout', 'The model provider did not answer in time.')
    return respond(502, 'provider-failed', 'The model provider failed to answer.')
  }
  if (error instanceof AbortError) {
    if (isTimeout(error)) return respond(504, 'turn-timeout', 'The turn did not finish before its deadline; nothing was stored.')
    // Aborted by its client (or a lost lease, already reported as such): not a server fault.
    return { ...respond(503, 'turn-aborted', 'The turn was aborted; nothing was stored.'), unexpected: false }
  }
  if (error instanceof StateSaveError) {
    return respond(503, 'save-failed', 'The reply could not be stored; try again.')
  }
  if (error instanceof StateLoadError || error instanceof StoreClosedError || error instanceof PipelineClosedError) {
    return respond(503, 'unavailable', 'The conversation store is unavailable; try again shortly.', { 'retry-after': '1' })
  }
  if (error instanceof PromptlineError && error.name === 'RedisStoreError') {
    return respond(503, 'unavailable', 'The conversation store is unavailable; try again shortly.', { 'retry-after': '1' })
  }
  return respond(500, 'internal', 'The server failed to handle the request.')
}

function isTimeout(error: Error): boolean {
  for (let cause: unknown = error; cause instanceof Error; cause = cause.cause) {
    if (cause.name === 'TimeoutError' || /timed out/.test(cause.message)) return true
  }
  return false
}

/** The first backquoted name of a validation message: "Expected `content` to be …" → `content`. */
function fieldOf(message: string): string | undefined {
  // `options.toolCallId` is the body's `toolCallId`.
  return /`([A-Za-z_][\w.[\]]*)`/.exec(message)?.[1]?.replace(/^options\./, '')
}

function respond(status: number, slug: string, detail: string, headers: Record<string, string> = {}, field?: string): ProblemResponse {
  const problem: Problem = { type: `urn:promptline:problem:${slug}`, title: TITLES[status] ?? 'Error', status, detail }
  if (field !== undefined) problem.field = field
  return { problem, headers, unexpected: status >= 500 }
}

/** The problem as a `Response`. */
export function problemResponse({ problem, headers }: ProblemResponse): Response {
  return new Response(JSON.stringify(problem), {
    status: problem.status,
    headers: { 'content-type': 'application/problem+json', 'cache-control': 'no-store', ...headers },
  })
}
