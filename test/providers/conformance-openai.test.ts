/** OpenAIProvider through the shared provider conformance suite, against the fake OpenAI server. */
import { OpenAIProvider } from '../../src/openai.js'
import type { Behaviour } from '../helpers/fake-openai-server.js'
import { KEY, useFakeOpenAI } from '../helpers/pipeline-openai.js'
import { describeProviderConformance } from './conformance.js'
import type { ReceivedRequest, ScriptedReply } from './conformance.js'

// DeepSeek's thinking mode: reasoning must come back with tool calls; OpenAI's pairing of tool results.
const server = useFakeOpenAI({ requireReasoningContent: true, strictToolMessages: true })

function behaviour(reply: ScriptedReply): Behaviour {
  const reasoning = (text: string | undefined) => (text === undefined ? {} : { reasoning: { field: 'reasoning_content' as const, text } })
  switch (reply.kind) {
    case 'text':
      return { kind: 'reply', content: reply.text, ...(reply.usage === undefined ? {} : { usage: { prompt_tokens: reply.usage.input, completion_tokens: reply.usage.output } }), ...reasoning(reply.reasoning) }
    case 'toolCalls':
      return { kind: 'reply', toolCalls: reply.calls, ...reasoning(reply.reasoning) }
    case 'failMidStream':
      // The first event is the role delta; then one word per event. Then the connection is cut.
      return { kind: 'reply', content: reply.text, cutAfterChunks: 1 + reply.afterDeltas }
    case 'slow':
      return { kind: 'reply', content: reply.text, chunkDelayMs: reply.delayMs }
    case 'stall':
      return { kind: 'stall' }
  }
}

describeProviderConformance({
  name: 'OpenAIProvider',
  capabilities: { http: true, timeout: true, reasoning: true },
  create: (options = {}) => new OpenAIProvider({ model: 'deepseek-reasoner', apiKey: KEY, baseURL: server.baseURL, maxRetries: 0, ...options }),
  script: (...replies) => server.enqueue(...replies.map(behaviour)),
  received: () =>
    server.requests.map((request): ReceivedRequest => {
      const messages = request.body?.messages ?? []
      return {
        toolResultIds: messages.filter((m) => m.role === 'tool').map((m) => m.tool_call_id ?? ''),
        reasoningSent: messages.flatMap((m) => {
          const text = (m as Record<string, unknown>).reasoning_content
          return typeof text === 'string' ? [text] : []
        }),
        closed: request.closed,
        get aborted() {
          return request.aborted
        },
      }
    }),
  badOptions: [
    ['baseUrl (a misspelling)', () => new OpenAIProvider({ model: 'm', baseUrl: 'http://x' } as never), /Unknown option `baseUrl`; did you mean `baseURL`\?/],
    ['model', () => new OpenAIProvider({ model: '' }), /`model`/],
    ['timeoutMs', () => new OpenAIProvider({ model: 'm', apiKey: KEY, timeoutMs: 0 }), /`timeoutMs`/],
    ['maxRetries', () => new OpenAIProvider({ model: 'm', apiKey: KEY, maxRetries: -1 }), /`maxRetries`/],
    ['baseURL', () => new OpenAIProvider({ model: 'm', baseURL: 'ftp://x' }), /`baseURL`/],
    ['options', () => new OpenAIProvider('sk-oops' as never), /`options` to be an object, got a string/],
  ],
})
