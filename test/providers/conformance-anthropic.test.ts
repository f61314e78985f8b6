/** AnthropicProvider through the shared provider conformance suite, against the fake Messages API. */
import { AnthropicProvider } from '../../src/providers/anthropic.js'
import type { AnthropicBehaviour } from '../helpers/fake-anthropic-server.js'
import { ANTHROPIC_KEY, useFakeAnthropic } from '../helpers/use-fake-anthropic.js'
import { describeProviderConformance } from './conformance.js'
import type { ReceivedRequest, ScriptedReply } from './conformance.js'

const server = useFakeAnthropic({ apiKey: ANTHROPIC_KEY })

function behaviour(reply: ScriptedReply): AnthropicBehaviour {
  const thinking = (text: string | undefined) => (text === undefined ? {} : { thinking: { thinking: text, signature: `sig-${text.length}` } })
  switch (reply.kind) {
    case 'text':
      return { kind: 'reply', content: reply.text, ...(reply.usage === undefined ? {} : { usage: { input_tokens: reply.usage.input, output_tokens: reply.usage.output } }), ...thinking(reply.reasoning) }
    case 'toolCalls':
      return { kind: 'reply', toolCalls: reply.calls.map((c) => ({ id: c.id, name: c.name, input: c.arguments })), ...thinking(reply.reasoning) }
    case 'failMidStream':
      // message_start, content_block_start, ping, then one text_delta per word: then an `error` event.
      return { kind: 'reply', content: reply.text, errorAfterEvents: 3 + reply.afterDeltas }
    case 'slow':
      return { kind: 'reply', content: reply.text, chunkDelayMs: reply.delayMs }
    case 'stall':
      return { kind: 'stall' }
  }
}

type Block = { type?: string; tool_use_id?: string; thinking?: string }

describeProviderConformance({
  name: 'AnthropicProvider',
  capabilities: { http: true, timeout: true, reasoning: true },
  create: (options = {}) =>
    new AnthropicProvider({
      model: 'claude-sonnet-4-6',
      maxTokens: 4096,
      // Thinking on: the fake API then insists the thinking blocks come back before tool results.
      thinking: { type: 'enabled', budgetTokens: 1024 },
      apiKey: ANTHROPIC_KEY,
      baseURL: server.baseURL,
      maxRetries: 0,
      ...options,
    }),
  script: (...replies) => server.enqueue(...replies.map(behaviour)),
  received: () =>
    server.requests.map((request): ReceivedRequest => {
      const blocks = (request.body?.messages ?? []).flatMap((m) => (Array.isArray(m.content) ? (m.content as Block[]) : []))
      return {
        toolResultIds: blocks.filter((b) => b.type === 'tool_result').map((b) => b.tool_use_id ?? ''),
        reasoningSent: blocks.filter((b) => b.type === 'thinking').map((b) => b.thinking ?? ''),
        closed: request.closed,
        get aborted() {
          return request.aborted
        },
      }
    }),
  badOptions: [
    ['baseUrl (a misspelling)', () => new AnthropicProvider({ model: 'm', maxTokens: 1, baseUrl: 'http://x' } as never), /Unknown option `baseUrl`; did you mean `baseURL`\?/],
    ['model', () => new AnthropicProvider({ model: '', maxTokens: 1 }), /`model`/],
    ['maxTokens', () => new AnthropicProvider({ model: 'm', maxTokens: 0, apiKey: ANTHROPIC_KEY }), /`maxTokens` to be a positive integer/],
    ['timeoutMs', () => new AnthropicProvider({ model: 'm', maxTokens: 1, apiKey: ANTHROPIC_KEY, timeoutMs: 0 }), /`timeoutMs`/],
    ['maxRetries', () => new AnthropicProvider({ model: 'm', maxTokens: 1, apiKey: ANTHROPIC_KEY, maxRetries: 1.5 }), /`maxRetries`/],
    ['cacheControl', () => new AnthropicProvider({ model: 'm', maxTokens: 1, apiKey: ANTHROPIC_KEY, cacheControl: 'on' as never }), /`cacheControl` to be one of 'auto', 'none'/],
    ['thinking.budgetTokens', () => new AnthropicProvider({ model: 'm', maxTokens: 2000, apiKey: ANTHROPIC_KEY, thinking: { type: 'enabled', budgetTokens: 2000 } }), /`thinking.budgetTokens`/],
    ['thinking.budget (a misspelling)', () => new AnthropicProvider({ model: 'm', maxTokens: 2000, apiKey: ANTHROPIC_KEY, thinking: { type: 'enabled', budget: 1024 } as never }), /Unknown option `thinking.budget`; did you mean `budgetTokens`\?/],
    ['client', () => new AnthropicProvider({ model: 'm', maxTokens: 1, client: {} as never }), /`client` to be an Anthropic client/],
    ['client with apiKey', () => new AnthropicProvider({ model: 'm', maxTokens: 1, client: { messages: { create: () => undefined } }, apiKey: ANTHROPIC_KEY }), /either `client` or `apiKey`/],
    ['options', () => new AnthropicProvider('sk-ant-oops' as never), /`options` to be an object, got a string/],
  ],
})
