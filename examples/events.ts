// Events: what one turn emits, in order. Every payload carries sessionId and executionId.
// Run: npx tsx examples/events.ts
import { Pipeline, type PipelineEventName } from 'promptline'
import { MockProvider } from 'promptline/testing'

const pipe = new Pipeline({
  provider: new MockProvider({ reply: 'Hi!' }),
  systemPrompt: 'Be brief.',
  contextWindow: { maxMessages: 2 },
})
await pipe.execute('s', 'user', 'first')

const names: PipelineEventName[] = [
  'execution:start', 'middleware:start', 'middleware:end', 'state:loaded', 'context:trimmed', 'tokens:truncated',
  'provider:response', 'state:save-retry', 'state:saved', 'state:save-failed', 'execution:end',
]
for (const name of names) {
  pipe.on(name, (payload: { executionId: string }) => {
    const { sessionId, executionId, ...rest } = payload as Record<string, unknown>
    const detail = 'name' in rest ? rest.name : JSON.stringify(rest, (key, value) => (key === 'durationMs' ? undefined : value))
    console.log(`${name} ${detail}`)
  })
}
await pipe.execute('s', 'user', 'second')
// execution:start {"role":"user","streaming":false}
// middleware:start state-load
// state:loaded {"count":2,"last":2}
// middleware:start context-window
// context:trimmed {"kept":3,"dropped":1,"maxMessages":2}
// …
// provider:response {"provider":"mock","model":"mock-model","usage":{"inputTokens":21,"outputTokens":1},"finishReason":"stop"}
// state:saved {"count":2,"storedLength":4,"attempts":1}
// middleware:end state-save
// …
// execution:end {"saved":true}

// A typical production listener: one log line per turn.
pipe.removeAllListeners()
pipe.on('execution:end', (e) =>
  console.log(`turn ${e.executionId.slice(0, 8)} of ${e.sessionId}: ${e.durationMs.toFixed(1)} ms, saved: ${e.saved}${e.error === undefined ? '' : `, error: ${String(e.error)}`}`),
)
await pipe.execute('s', 'user', 'third')
await pipe.shutdown()
