/**
 * Compiled by `npm run typecheck`, never run: what a consumer on the strictest
 * settings (`exactOptionalPropertyTypes` included) may write against the public
 * API. Optional fields accept `undefined` ("not given"), as in ky and Hono, so a
 * value that may be missing can be passed straight through; `@ts-expect-error`
 * lines pin down what must still not compile.
 */
import {
  MemoryStore,
  Pipeline,
  type ExecuteOptions,
  type Message,
  type Provider,
  type ProviderResponse,
  type ToolDefinition,
  type Usage,
} from '../../src/index.js'
import { MockProvider } from '../../src/testing.js'
import { OpenAIProvider } from '../../src/openai.js'
import { contextWindow, providerCall, stateLoad, stateSave, tokenTruncation } from '../../middleware/index.js'

declare const maybeSignal: AbortSignal | undefined
declare const maybeString: string | undefined
declare const maybeNumber: number | undefined
declare const cond: boolean

export async function strictConsumer(): Promise<void> {
  // 1. A system prompt straight from the environment.
  const pipe = new Pipeline({
    provider: new MockProvider({ reply: maybeString, latencyMs: maybeNumber, name: maybeString, model: maybeString }),
    systemPrompt: process.env.SYSTEM_PROMPT,
    store: cond ? new MemoryStore({ ttlMs: maybeNumber, maxSessions: maybeNumber, maxMessages: maybeNumber }) : undefined,
    contextWindow: cond ? { maxMessages: 10 } : undefined,
    tokenLimit: { maxTokens: 8000, model: maybeString, reserveForResponse: maybeNumber },
    saveRetry: { retries: maybeNumber, minTimeout: maybeNumber, randomize: undefined },
    timeoutMs: maybeNumber,
    model: process.env.MODEL,
    tools: cond ? [] : undefined,
    onLoadError: undefined,
    onSaveError: undefined,
    saveOnAbort: undefined,
    pricing: undefined,
  })

  // 2. A signal that may be missing, in both forms of execute and stream.
  await pipe.execute('s', 'user', 'hi', { signal: maybeSignal, name: maybeString, metadata: undefined, toolCallId: undefined })
  await pipe.execute('s', [{ role: 'user', content: 'hi', name: maybeString, metadata: undefined }], { signal: maybeSignal })
  for await (const chunk of pipe.stream('s', 'user', 'hi', { signal: maybeSignal })) void chunk
  const options: ExecuteOptions = { signal: maybeSignal }
  await pipe.execute('s', 'user', 'hi', options)

  // 3. A provider whose usage may be missing.
  const provider: Provider = {
    name: 'custom',
    async complete(request): Promise<ProviderResponse> {
      const usage: Usage | undefined = cond ? { inputTokens: 1, outputTokens: 2, cachedInputTokens: maybeNumber } : undefined
      return {
        message: { role: 'assistant', content: request.messages.at(-1)?.content ?? '', toolCalls: undefined },
        usage,
        finishReason: maybeString,
        model: request.model,
      }
    },
  }
  const tool: ToolDefinition = { name: 'lookup', description: maybeString, parameters: undefined }
  const message: Message = { role: 'tool', content: '', toolCallId: maybeString, name: undefined, metadata: undefined }
  void message

  // Middleware factories and chain options.
  const store = new MemoryStore()
  const chain = Pipeline.from(
    [
      stateLoad(store, { last: maybeNumber, onError: undefined }),
      contextWindow({ maxMessages: 4 }),
      tokenTruncation({ maxTokens: 1000, model: maybeString, reserveForResponse: maybeNumber, counter: undefined }),
      providerCall(provider, { model: maybeString, maxTokens: maybeNumber, temperature: maybeNumber, tools: [tool], pricing: undefined, saveOnAbort: undefined }),
      stateSave(store, { retry: undefined, onError: undefined }),
    ],
    { systemPrompt: maybeString, timeoutMs: maybeNumber },
  )
  chain.use(async (_ctx, next) => next(), { name: maybeString, before: maybeString, after: undefined })
  await store.load('s', { last: maybeNumber, signal: maybeSignal })
  await store.append('s', [], { idempotencyKey: maybeString, signal: maybeSignal })
  for await (const id of store.list({ limit: maybeNumber })) void id
  void new OpenAIProvider({ model: 'gpt-4o-mini', baseURL: maybeString, apiKey: process.env.OPENAI_API_KEY })

  // What must still not compile.
  // @ts-expect-error a provider is required
  void new Pipeline({ systemPrompt: 'x' })
  // @ts-expect-error the provider itself may not be undefined
  void new Pipeline({ provider: undefined })
  // @ts-expect-error a required field of a message may not be undefined
  void ({ role: 'user', content: undefined } satisfies Message)
  // @ts-expect-error usage needs both counts
  void ({ inputTokens: 1 } satisfies Usage)
  // @ts-expect-error unknown options are type errors too (and TypeErrors at run time)
  void new Pipeline({ provider, systemPromt: 'x' })
  // @ts-expect-error `baseUrl` is not `baseURL`
  void new OpenAIProvider({ model: 'gpt-4o-mini', baseUrl: 'http://localhost:11434/v1' })
  // @ts-expect-error a window starts on a user message or on any
  void new Pipeline({ provider, contextWindow: { startOn: 'assistant' } })
  // @ts-expect-error a provider's reply is an assistant message with string content
  const bad: ProviderResponse = { message: { role: 'assistant' } }
  void bad
}
