/** MockProvider through the shared provider conformance suite, scripted through its `reply` function. */
import { MockProvider } from '../../src/testing.js'
import type { MockAnswer } from '../../src/testing.js'
import type { ProviderRequest } from '../../src/index.js'
import { describeProviderConformance } from './conformance.js'
import type { ScriptedReply } from './conformance.js'

const queue: ScriptedReply[] = []
let requests: ProviderRequest[] = []

function answer(): MockAnswer {
  const reply = queue.shift() ?? { kind: 'text', text: 'Echo' }
  switch (reply.kind) {
    case 'text':
      return { content: reply.text, ...(reply.reasoning === undefined ? {} : { reasoning: { text: reply.reasoning } }) }
    case 'toolCalls':
      return { toolCalls: reply.calls, ...(reply.reasoning === undefined ? {} : { reasoning: { text: reply.reasoning } }) }
    case 'failMidStream':
      return { content: reply.text, failAfterDeltas: reply.afterDeltas }
    case 'slow':
      return { content: reply.text }
    case 'stall':
      throw new Error('MockProvider has no timeout to test')
  }
}

describeProviderConformance({
  name: 'MockProvider',
  capabilities: { http: false, timeout: false, reasoning: false },
  create: () => {
    const provider = new MockProvider({ reply: answer })
    requests = provider.requests
    return provider
  },
  script: (...replies) => void queue.push(...replies),
  received: () =>
    requests.map((request) => ({
      toolResultIds: request.messages.filter((m) => m.role === 'tool').map((m) => m.toolCallId ?? ''),
      reasoningSent: [],
    })),
  badOptions: [
    ['reply', () => new MockProvider({ reply: 42 as never }), /`reply`/],
    ['latencyMs', () => new MockProvider({ latencyMs: -1 }), /`latencyMs`/],
    ['name', () => new MockProvider({ name: '' }), /`name`/],
    ['options', () => new MockProvider('x' as never), /`options` to be an object/],
  ],
})
