/**
 * Tool calls through the pipeline over HTTP: the model's `tool_calls` are stored on the
 * assistant message, the tool result is sent as its own turn, and the next request
 * carries both. The fake server checks the pairing as OpenAI does (`strictToolMessages`:
 * a 400 for a tool message without its call, or a call without its result), and every
 * trimming policy keeps or drops a tool group whole.
 */
import { describe, expect, it } from 'vitest'
import { getTokenCounter } from '../src/index.js'
import type { ExecuteResult, Message } from '../src/index.js'
import type { RecordedRequest } from './helpers/fake-openai-server.js'
import { collect } from './helpers/async.js'
import { deltasOf, doneOf, sentMessages, setup, useFakeOpenAI } from './helpers/pipeline-openai.js'

const server = useFakeOpenAI({ strictToolMessages: true })

const SYSTEM = 'You can look up the weather.'
const WEATHER_CALL = { id: 'call_paris', name: 'weather', arguments: '{"city":"Paris"}' }
const SENT_WEATHER_CALL = {
  role: 'assistant',
  content: null,
  tool_calls: [{ id: 'call_paris', type: 'function', function: { name: 'weather', arguments: '{"city":"Paris"}' } }],
}

/** What OpenAI checks, restated over a request body: every tool message answers a call of the assistant message before its run. */
function expectPairedTools(request: RecordedRequest | undefined): void {
  const messages = request?.body?.messages ?? []
  let calls = new Set<string>()
  for (const [i, message] of messages.entries()) {
    if (message.role === 'tool') {
      expect(calls.has(message.tool_call_id ?? ''), `messages[${i}] answers no call before it`).toBe(true)
      calls.delete(message.tool_call_id ?? '')
      continue
    }
    expect(calls.size, `messages[${i}] follows unanswered calls`).toBe(0)
    calls = new Set(Array.isArray(message.tool_calls) ? (message.tool_calls as Array<{ id: string }>).map((c) => c.id) : [])
  }
  expect(calls.size).toBe(0)
}

/** Turn 1 asks for the weather, the model calls the tool, turn 2 answers it, the model replies. */
async function weatherRoundTrip(pipe: ReturnType<typeof setup>['pipe'], session: string): Promise<[ExecuteResult, ExecuteResult]> {
  server.enqueue({ kind: 'reply', toolCalls: [WEATHER_CALL] }, { kind: 'reply', content: 'It is sunny in Paris.' })
  const call = await pipe.execute(session, 'user', 'Weather in Paris?')
  const answer = await pipe.execute(session, 'tool', '{"sky":"sunny","c":24}', { toolCallId: 'call_paris' })
  return [call, answer]
}

describe('a tool-call round trip', () => {
  it('stores the call, sends the call and the result on the next turn, and stores the reply', async () => {
    const { pipe, store } = setup(server, { pipeline: { systemPrompt: SYSTEM } })

    const [call, answer] = await weatherRoundTrip(pipe, 's')

    expect(call.response).toEqual({ role: 'assistant', content: '', toolCalls: [WEATHER_CALL] })
    expect(call.finishReason).toBe('tool_calls')
    expect(server.requests[1]?.body?.messages).toEqual([
      { role: 'system', content: SYSTEM },
      { role: 'user', content: 'Weather in Paris?' },
      SENT_WEATHER_CALL,
      { role: 'tool', content: '{"sky":"sunny","c":24}', tool_call_id: 'call_paris' },
    ])
    expect(answer.response).toEqual({ role: 'assistant', content: 'It is sunny in Paris.' })
    expect(await store.load('s')).toEqual([
      { role: 'user', content: 'Weather in Paris?' },
      { role: 'assistant', content: '', toolCalls: [WEATHER_CALL] },
      { role: 'tool', content: '{"sky":"sunny","c":24}', toolCallId: 'call_paris' },
      { role: 'assistant', content: 'It is sunny in Paris.' },
    ])
  })

  it('works the same when both turns are streamed', async () => {
    const { pipe, store } = setup(server)
    server.enqueue({ kind: 'reply', toolCalls: [WEATHER_CALL] }, { kind: 'reply', content: 'It is sunny in Paris.' })

    const first = await collect(pipe.stream('s', 'user', 'Weather in Paris?'))
    const second = await collect(pipe.stream('s', 'tool', '{"sky":"sunny"}', { toolCallId: 'call_paris' }))

    expect(deltasOf(first)).toEqual([]) // a reply that only calls a tool has no text
    expect(doneOf(first).response).toEqual({ role: 'assistant', content: '', toolCalls: [WEATHER_CALL] })
    expect(deltasOf(second).join('')).toBe('It is sunny in Paris.')
    expect(server.requests[1]?.body?.messages?.slice(-2)).toEqual([
      SENT_WEATHER_CALL,
      { role: 'tool', content: '{"sky":"sunny"}', tool_call_id: 'call_paris' },
    ])
    expect((await store.load('s')).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant'])
  })

  it('parallel calls: every result sent in one turn with execute(id, messages)', async () => {
    const { pipe, store } = setup(server)
    const calls = [
      { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
      { id: 'call_b', name: 'weather', arguments: '{"city":"Rome"}' },
    ]
    server.enqueue({ kind: 'reply', toolCalls: calls }, { kind: 'reply', content: 'Paris 18°C, Rome 24°C.' })

    await pipe.execute('s', 'user', 'Paris and Rome?')
    const reply = await pipe.execute('s', [
      { role: 'tool', content: '18', toolCallId: 'call_a' },
      { role: 'tool', content: '24', toolCallId: 'call_b' },
    ])

    expect(reply.response.content).toBe('Paris 18°C, Rome 24°C.')
    expect(reply.newMessages.map((m) => m.role)).toEqual(['tool', 'tool', 'assistant'])
    expect(server.requests[1]?.body?.messages?.slice(1).map((m) => m.role)).toEqual(['assistant', 'tool', 'tool'])
    expectPairedTools(server.requests[1])
    expect((await store.load('s')).map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'tool', 'assistant'])
  })

  it('parallel calls streamed: stream(id, messages) sends every result and saves the turn once', async () => {
    const { pipe, store } = setup(server)
    server.enqueue(
      {
        kind: 'reply',
        toolCalls: [
          { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
          { id: 'call_b', name: 'weather', arguments: '{"city":"Rome"}' },
        ],
      },
      { kind: 'reply', content: 'Both sunny.' },
    )
    await pipe.execute('s', 'user', 'Paris and Rome?')
    const chunks = []
    for await (const chunk of pipe.stream('s', [
      { role: 'tool', content: 'sunny', toolCallId: 'call_a' },
      { role: 'tool', content: 'sunny', toolCallId: 'call_b' },
    ])) {
      chunks.push(chunk)
    }
    expect(chunks.at(-1)).toMatchObject({ type: 'done', result: { saved: true, storedLength: 5 } })
    expectPairedTools(server.requests[1])
    expect(await store.length('s')).toBe(5)
  })

  it('a tool result sent as a turn before the other parallel call is answered is refused by the server', async () => {
    // Why parallel results go in one turn (execute(id, messages)): OpenAI answers 400 to a partial group.
    const { pipe, store } = setup(server)
    server.enqueue({
      kind: 'reply',
      toolCalls: [
        { id: 'call_a', name: 'weather', arguments: '{"city":"Paris"}' },
        { id: 'call_b', name: 'weather', arguments: '{"city":"Rome"}' },
      ],
    })
    await pipe.execute('s', 'user', 'Paris and Rome?')
    await expect(pipe.execute('s', 'tool', '18', { toolCallId: 'call_a' })).rejects.toMatchObject({
      name: 'ProviderError',
      status: 400,
      message: expect.stringContaining('did not have response messages: call_b'),
    })
    expect(await store.length('s')).toBe(2)
  })
})

describe('trimming keeps or drops a tool group whole in what is sent', () => {
  it('context window: the newest group is kept whole even when larger than the window, later dropped whole', async () => {
    const { pipe, store } = setup(server, { pipeline: { systemPrompt: SYSTEM, contextWindow: { maxMessages: 1 } } })

    await weatherRoundTrip(pipe, 's')
    // The tool result is the newest message: its group (call + result) goes out whole.
    expect(server.requests[1]?.body?.messages).toEqual([
      { role: 'system', content: SYSTEM },
      SENT_WEATHER_CALL,
      { role: 'tool', content: '{"sky":"sunny","c":24}', tool_call_id: 'call_paris' },
    ])

    await pipe.execute('s', 'user', 'Thanks!')
    expect(sentMessages(server, 2)).toEqual([
      { role: 'system', content: SYSTEM },
      { role: 'user', content: 'Thanks!' },
    ])
    for (const request of server.requests) expectPairedTools(request)
    expect(await store.length('s')).toBe(6) // trimming changes only the view
  })

  it('context window: a window that cuts into a group drops the group, never half of it', async () => {
    // History: user, call, result, reply; then 2 more turns. The windows below cut at every position.
    for (const maxMessages of [2, 3, 4, 5, 6]) {
      server.reset()
      const { pipe } = setup(server, { pipeline: { contextWindow: { maxMessages } } })
      await weatherRoundTrip(pipe, 's')
      await pipe.execute('s', 'user', 'And tomorrow?')
      await pipe.execute('s', 'user', 'Thanks!')
      for (const request of server.requests) expectPairedTools(request)
      const last = server.requests.at(-1)?.body?.messages ?? []
      const hasCall = last.some((m) => m.role === 'assistant' && Array.isArray(m.tool_calls))
      const hasResult = last.some((m) => m.role === 'tool')
      expect(hasCall, `maxMessages ${maxMessages}`).toBe(hasResult)
      expect(last.length, `maxMessages ${maxMessages}`).toBeLessThanOrEqual(maxMessages)
      // View of the last turn: user, call, result, reply, user, reply, user → the group fits from 6 on.
      expect(hasCall, `maxMessages ${maxMessages}`).toBe(maxMessages >= 6)
    }
  })

  it('token limit: a group too big for the budget is dropped whole, a small one is kept', async () => {
    const big = 'sunny '.repeat(200)
    const counter = await getTokenCounter('gpt-4o-mini')
    // Room for the big group alone plus "Thanks!": the tool turn fits, the turn after it must drop the group.
    const maxTokens =
      counter.countRequest([
        { role: 'assistant', content: '', toolCalls: [WEATHER_CALL] },
        { role: 'tool', content: big, toolCallId: 'call_paris' },
      ]) + counter.count({ role: 'user', content: 'Thanks!' })
    const run = async (result: string): Promise<Message[]> => {
      server.reset()
      const { pipe, of } = setup(server, { pipeline: { contextWindow: false, tokenLimit: { maxTokens, model: 'gpt-4o-mini' } } })
      server.enqueue({ kind: 'reply', toolCalls: [WEATHER_CALL] }, { kind: 'reply', content: 'Sunny.' })
      await pipe.execute('s', 'user', 'Weather in Paris?')
      await pipe.execute('s', 'tool', result, { toolCallId: 'call_paris' })
      const last = await pipe.execute('s', 'user', 'Thanks!')
      for (const request of server.requests) expectPairedTools(request)
      for (const event of of('tokens:truncated')) expect(event.tokens).toBeLessThanOrEqual(maxTokens)
      return last.messages
    }

    const dropped = await run(big)
    // The tool turn itself sent the whole group (the newest unit), without the older question.
    expect(sentMessages(server, 1).map((m) => (m as { role: string }).role)).toEqual(['assistant', 'tool'])
    expect(dropped.map((m) => m.role)).toEqual(['assistant', 'user']) // "Sunny." and "Thanks!": the group went whole
    const kept = await run('{"sky":"sunny"}')
    expect(kept.map((m) => m.role)).toEqual(['user', 'assistant', 'tool', 'assistant', 'user'])
  })
})
