/** Who wrote a message. */
export type Role = 'system' | 'user' | 'assistant' | 'tool'

/** One call of a tool requested by the model. `arguments` is the raw JSON text the model produced. */
export interface ToolCall {
  id: string
  name: string
  arguments: string
}

/**
 * One chat message. An assistant message with `toolCalls` and the `tool` messages
 * answering it (matched by `toolCallId`) form one tool group, which every trimming
 * policy keeps or drops whole.
 */
export interface Message {
  role: Role
  content: string
  /** Set on an assistant message that calls tools. */
  toolCalls?: ToolCall[] | undefined
  /** Set on a tool message: the id of the call it answers. */
  toolCallId?: string | undefined
  name?: string | undefined
  /**
   * Set on an assistant message by providers whose model reasons before it answers
   * (Claude's extended thinking, DeepSeek, Qwen, gpt-oss through OpenAI-compatible
   * servers…). Stored with the message, so a provider can send it back where its API
   * requires it; never part of `content`.
   */
  reasoning?: Reasoning | undefined
  /**
   * Free-form data kept with the message: plain JSON (stores keep its JSON form).
   * `execute`/`stream` check it (no cycles, BigInt, NaN, Date, class instances; at
   * most `MAX_METADATA_BYTES`) and keep a deep copy made at the call.
   */
  metadata?: Record<string, unknown> | undefined
}

/**
 * The model's reasoning behind one assistant message. Providers fill it; you read
 * `text`. `format` and `data` are for the provider that wrote them: each provider
 * sends back only reasoning of its own `format`, and only where its API needs it
 * (Anthropic: thinking blocks before a tool result; OpenAI-compatible servers such as
 * DeepSeek: `reasoning_content` on an assistant message with tool calls).
 */
export interface Reasoning {
  /** The reasoning as readable text (Claude 4 models send a summary); `''` when it was only opaque data. */
  text: string
  /**
   * Which wire format it came in: `'anthropic'` (thinking blocks), `'reasoning_content'`
   * or `'reasoning'` (the field an OpenAI-compatible server used).
   */
  format?: string | undefined
  /**
   * Opaque, JSON-serialisable items the provider must send back verbatim, e.g. Anthropic's
   * `thinking` blocks with their `signature` and `redacted_thinking` blocks. Never edit them:
   * the API rejects a block whose signature no longer matches.
   */
  data?: Array<Record<string, unknown>> | undefined
}

/** Token counts of one provider call. */
export interface Usage {
  inputTokens: number
  outputTokens: number
  /** Of `inputTokens`, how many the provider served from its prompt cache (billed at a discount). */
  cachedInputTokens?: number | undefined
  /**
   * Of `inputTokens`, how many the provider wrote to its prompt cache (Anthropic bills
   * them above the base input price; see `ModelPrice.cacheWriteInput`).
   */
  cacheWriteInputTokens?: number | undefined
  /** `true` when the provider reported no usage and the tokens were counted locally. */
  estimated?: boolean | undefined
  /**
   * Set on an estimate counted in another model's encoding than the answering model's:
   * `'gpt-4o'` when gpt-tokenizer does not know the model (a Claude, Gemini or Llama
   * count in an OpenAI encoding, off by some percent), or the `model` of the
   * `TokenCounter` given as `estimateUsage`.
   */
  estimatedWith?: string | undefined
}

/** How much of a session `StateStore.load` reads, so a turn pays for its window, not the whole history. */
export interface LoadOptions {
  /** Only the newest `last` messages (a positive integer). Omitted: the whole history. */
  last?: number | undefined
  /**
   * Also (or, without `last`, only) the oldest `first` messages (a positive integer): with
   * both, the head and the tail in order, each message once (the whole history when
   * they overlap or touch). Optional for a store: one that implements it says so with
   * `features.loadFirst`; `contextWindow.keepFirst` needs it and is refused otherwise.
   */
  first?: number | undefined
  /**
   * The turn's signal: a store should stop waiting (and reject with the signal's
   * reason) once it aborts. The pipeline never waits past its deadline either way.
   */
  signal?: AbortSignal | undefined
}

/** What makes a retried `StateStore.append` safe: an idempotency key, and the turn's signal. */
export interface AppendOptions {
  /**
   * Makes the append idempotent: a second append with the same key to the same
   * session is a no-op that returns the current length. `state-save` passes the
   * turn's execution id, so a retried save never duplicates a turn.
   */
  idempotencyKey?: string | undefined
  /**
   * The turn's signal. A store may stop waiting once it aborts, but a write it
   * already sent may still land: that is why appends are idempotent.
   */
  signal?: AbortSignal | undefined
  /**
   * A lease's `fence` (see `StateStore.acquireLease`): the store refuses the append
   * with `LeaseLostError` unless that lease still holds the session. Pass it only
   * to the store that issued the lease.
   */
  fence?: string | undefined
}

/**
 * A turn's hold on a session across processes, from `StateStore.acquireLease`.
 * The store renews it while it is held.
 */
export interface SessionLease {
  /** Given to `append` as `fence`: the append is refused once this lease is lost. */
  readonly fence: string
  /** Aborts (with `LeaseLostError`) once the store knows the lease is lost. */
  readonly lost: AbortSignal
  /** Gives the lease up and stops renewing it. Never rejects; a second call does nothing. */
  release(): Promise<void>
}

/** Options of `StateStore.acquireLease`. */
export interface AcquireLeaseOptions {
  /** Stop waiting for the lease when it aborts (rejecting with its reason). */
  signal?: AbortSignal | undefined
}

/** Bounds `StateStore.list`, which otherwise walks every session (and remembers the ids it yielded). */
export interface ListOptions {
  /** Stop after this many session ids (a positive integer). */
  limit?: number | undefined
}

/**
 * Where conversation history lives between turns. Every store passes the shared
 * conformance suite in `test/stores/conformance.ts`, which pins down the details:
 * an empty session is the same as an unknown one (not listed, not forkable);
 * `append(id, [])` stores nothing and returns the length; `list` yields each id
 * once; `close()` may be called again, and any other call after it rejects with
 * `StoreClosedError`. Bad arguments reject with a `TypeError` naming them.
 */
export interface StateStore {
  /** The session's messages, oldest first; `[]` for an unknown session. */
  load(sessionId: string, options?: LoadOptions): Promise<Message[]>
  /** Replaces the whole history atomically. */
  save(sessionId: string, messages: Message[]): Promise<void>
  /** Appends atomically and returns the new length. */
  append(sessionId: string, messages: Message[], options?: AppendOptions): Promise<number>
  /** Copies a session; `SessionNotFoundError` / `SessionExistsError`. */
  fork(sourceId: string, targetId: string): Promise<void>
  /** `true` when the session existed. */
  delete(sessionId: string): Promise<boolean>
  /** The number of stored messages without reading them, so a caller need not load a long history to count it. */
  length(sessionId: string): Promise<number>
  /** The ids of the non-empty sessions, each once, in no particular order; for administration, never on a turn's path. */
  list(options?: ListOptions): AsyncIterable<string>
  /** Releases what the store holds (connections, timers); the pipeline closes only a store it created itself. */
  close(): Promise<void>
  /**
   * Optional: a store that orders turns across processes (`RedisStore` with `lock`)
   * returns a promise of the session's lease, waiting while another holder has it;
   * `undefined` when it does not lease. The pipeline takes the lease before a
   * turn loads, fences the turn's append with it, and releases it after the save.
   */
  acquireLease?(sessionId: string, options?: AcquireLeaseOptions): Promise<SessionLease> | undefined
  /**
   * Optional parts of the contract this store implements. A store without
   * `features` implements only the methods above.
   */
  readonly features?: StoreFeatures | undefined
  /**
   * With `features.summaries`: what `load` returns, the session's length and its
   * rolling summary, in one read (one round trip on Redis).
   */
  loadWithSummary?(sessionId: string, options?: LoadOptions): Promise<LoadedSession>
  /** With `features.summaries`: the stored messages `[start, end)` (positions as `load` counts them). */
  loadRange?(sessionId: string, start: number, end: number, options?: { signal?: AbortSignal | undefined }): Promise<Message[]>
  /** With `features.summaries`: the session's rolling summary, `undefined` when it has none. */
  loadSummary?(sessionId: string): Promise<SessionSummary | undefined>
  /**
   * With `features.summaries`: stores `summary` if it moves forward, a compare-and-set
   * on the position: resolves `false` and changes nothing when the session has a summary
   * at the same or a later position, or does not exist. `save` and `delete` remove the
   * summary with the history, `fork` copies it, TTL expires it with the session.
   */
  saveSummary?(sessionId: string, summary: SessionSummary, options?: { signal?: AbortSignal | undefined }): Promise<boolean>
}

/** Optional parts of the `StateStore` contract (see `StateStore.features`). */
export interface StoreFeatures {
  /** `load` honours `{ first }` (and `{ first, last }` in one read). */
  readonly loadFirst?: boolean | undefined
  /** `loadWithSummary`, `loadRange`, `loadSummary` and `saveSummary` are implemented. */
  readonly summaries?: boolean | undefined
}

/**
 * A rolling summary of a session: `content` covers the stored messages before
 * `position` (a prefix of the history that never ends inside a tool group).
 */
export interface SessionSummary {
  content: string
  /** How many stored messages, from the oldest, the summary covers (a positive integer). */
  position: number
  /** Plain JSON kept with it (the pipeline records the model, usage and time). */
  metadata?: Record<string, unknown> | undefined
}

/** What `loadWithSummary` returns. */
export interface LoadedSession {
  /** As `load` returns them. */
  messages: Message[]
  /** The session's stored length: the tail's last message is at `length - 1`. */
  length: number
  summary: SessionSummary | undefined
}

/** A tool the model may call. */
export interface ToolDefinition {
  /** The function name the model calls it by. */
  name: string
  /** What it does, for the model. */
  description?: string | undefined
  /** JSON Schema of its arguments object. */
  parameters?: Record<string, unknown> | undefined
}

/**
 * What a provider is asked: the provider view of the conversation (already trimmed), and the
 * per-call settings that override the provider's own defaults.
 */
export interface ProviderRequest {
  messages: Message[]
  /** Tools the model may call; its calls come back as `message.toolCalls`. */
  tools?: ToolDefinition[] | undefined
  model?: string | undefined
  signal?: AbortSignal | undefined
  maxTokens?: number | undefined
  temperature?: number | undefined
}

/**
 * What a provider answers. Everything but `message` is optional because backends differ:
 * missing `usage` is counted locally, a missing `model` leaves the turn unpriced.
 */
export interface ProviderResponse {
  message: Message
  usage?: Usage | undefined
  finishReason?: string | undefined
  /** The model that actually answered, as the provider reports it (used for pricing). */
  model?: string | undefined
  /**
   * The name of the provider that actually answered, when it is not the one called:
   * `FallbackProvider` sets it to the name of the provider that took the request.
   * `provider-call` reports it in `result.provider` and the `provider:response` event.
   */
  provider?: string | undefined
}

/** What `Provider.stream` yields: text deltas, then exactly one `done` carrying the full response. */
export type ProviderChunk = { type: 'delta'; text: string } | { type: 'done'; response: ProviderResponse }

/** A model backend. `stream` is optional; without it a streamed turn yields the whole reply as one delta. */
export interface Provider {
  readonly name: string
  /** The whole reply at once. Must honour `request.signal` and fail with `ProviderError` or `AbortError`. */
  complete(request: ProviderRequest): Promise<ProviderResponse>
  /** The reply as it is generated; breaking out of the loop must cancel the request. */
  stream?(request: ProviderRequest): AsyncIterable<ProviderChunk>
}
